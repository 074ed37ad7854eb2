"""Bad and unusual image files: every one becomes a decodable RGB JPEG or is rejected."""

import io

import numpy as np
import pytest
from PIL import Image

from assembled_cnn.datasets.image_codec import (BadImageError, encode_source, pixels_to_png,
                                                to_lossless_png, to_rgb_jpeg)
from datasets_testlib import image_bytes


def _decoded_jpeg(tf, data: bytes) -> np.ndarray:
    assert data[:2] == b"\xff\xd8", "not JPEG bytes"
    return tf.io.decode_jpeg(data).numpy()


@pytest.mark.parametrize("fmt,mode", [("JPEG", "CMYK"), ("JPEG", "L"), ("PNG", "RGBA"),
                                      ("PNG", "RGB"), ("GIF", "P"), ("PNG", "P"), ("PNG", "LA"),
                                      ("BMP", "RGB")])
def test_unusual_images_become_rgb_jpeg(tf, fmt, mode):
    encoded = to_rgb_jpeg(image_bytes(fmt, mode))
    assert encoded.reencoded and encoded.image_format == "JPEG" and encoded.channels == 3
    pixels = _decoded_jpeg(tf, encoded.data)
    assert pixels.shape == (8, 10, 3)
    assert Image.open(io.BytesIO(encoded.data)).mode == "RGB"


def test_rgb_jpeg_bytes_are_kept_untouched():
    original = image_bytes("JPEG", "RGB")
    encoded = to_rgb_jpeg(original)
    assert encoded.data is original or encoded.data == original
    assert not encoded.reencoded and (encoded.height, encoded.width) == (8, 10)


def test_transparent_pixels_become_white(tf):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    pixels = _decoded_jpeg(tf, to_rgb_jpeg(buffer.getvalue()).data)
    assert pixels.min() > 240


@pytest.mark.parametrize("payload,reason", [
    (b"this is a text file", "not an image"),
    (image_bytes("JPEG")[:120], "truncated"),
    (image_bytes("PNG")[:60], "truncated"),
])
def test_corrupt_or_non_image_data_is_rejected(payload, reason):
    with pytest.raises(BadImageError, match=reason):
        to_rgb_jpeg(payload)


def test_empty_and_missing_files_are_rejected(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(BadImageError, match="empty"):
        encode_source(str(empty), "jpeg")
    with pytest.raises(BadImageError, match="cannot read"):
        encode_source(str(tmp_path / "absent.jpg"), "jpeg")


def test_pixels_to_png_is_lossless_and_keeps_channels(tf):
    gray = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    encoded = pixels_to_png(gray)
    assert (encoded.image_format, encoded.channels, encoded.colorspace) == ("PNG", 1, "Grayscale")
    np.testing.assert_array_equal(tf.io.decode_png(encoded.data).numpy()[:, :, 0], gray)
    rgb = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(tf.io.decode_png(pixels_to_png(rgb).data).numpy(), rgb)
    with pytest.raises(BadImageError):
        pixels_to_png(np.zeros((4, 4), np.float32))


def test_lossless_png_policy_keeps_grayscale_png_bytes():
    data = image_bytes("PNG", "L")
    encoded = to_lossless_png(data)
    assert encoded.data == data and encoded.channels == 1 and not encoded.reencoded
    converted = to_lossless_png(image_bytes("JPEG", "CMYK"))
    assert converted.image_format == "PNG" and converted.channels == 3
