"""Turn whatever a raw dataset holds into bytes the input pipeline can always decode.

The original ImageNet builder special-cased a PNG-disguised file and 22 CMYK files;
here every image goes through the same check, so a CMYK, grayscale, RGBA, palette,
PNG or GIF file (whatever its extension) becomes an RGB JPEG, and a truncated or
non-image file is rejected with a reason instead of crashing training later.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

ImageFile.LOAD_TRUNCATED_IMAGES = False
JPEG_QUALITY = 100  # what the original png_to_jpeg / cmyk_to_rgb used


class BadImageError(ValueError):
    """The file is not a decodable image; the message is the reason written to dataset_info.json."""


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    image_format: str  # 'JPEG' or 'PNG'
    height: int
    width: int
    channels: int
    colorspace: str  # 'RGB' or 'Grayscale'
    reencoded: bool


def _open_fully(data: bytes) -> Image.Image:
    """Decode every pixel: Image.open alone would accept a truncated file."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise BadImageError("not an image file (unrecognised format)") from error
    except Exception as error:  # Pillow raises many types (OSError, SyntaxError, ...)
        raise BadImageError(
            f"corrupt or truncated image: {type(error).__name__}: {error}") from error
    try:
        image.load()
    except Exception as error:
        reason = f"corrupt or truncated {image.format} image: {type(error).__name__}: {error}"
        raise BadImageError(reason) from error
    if image.width < 1 or image.height < 1:
        raise BadImageError(f"image has an empty size {image.size}")
    return image


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """RGB without alpha; transparent pixels become white rather than black."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.int64)
        scale = 257 if pixels.max(initial=0) > 255 else 1
        return Image.fromarray(np.clip(pixels // scale, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def to_rgb_jpeg(data: bytes) -> EncodedImage:
    """Keep an RGB JPEG byte-for-byte; re-encode anything else as an RGB JPEG."""
    image = _open_fully(data)
    if image.format == "JPEG" and image.mode == "RGB":
        return EncodedImage(data, "JPEG", image.height, image.width, 3, "RGB", reencoded=False)
    rgb = _flatten_to_rgb(image)
    return EncodedImage(_jpeg_bytes(rgb), "JPEG", rgb.height, rgb.width, 3, "RGB", reencoded=True)


def to_lossless_png(data: bytes) -> EncodedImage:
    """Grayscale stays one channel, everything else becomes RGB; PNG bytes are kept if possible."""
    image = _open_fully(data)
    if image.mode in ("L", "1", "I;16", "I"):
        target = image.convert("L") if image.mode != "L" else image
        channels, colorspace = 1, "Grayscale"
    else:
        target = _flatten_to_rgb(image) if image.mode != "RGB" else image
        channels, colorspace = 3, "RGB"
    if image.format == "PNG" and target is image:
        return EncodedImage(data, "PNG", image.height, image.width, channels, colorspace, False)
    return EncodedImage(_png_bytes(target), "PNG", target.height, target.width, channels,
                        colorspace, reencoded=True)


def pixels_to_png(pixels: np.ndarray) -> EncodedImage:
    """Raw uint8 pixels (HxW or HxWx3, e.g. from IDX or CIFAR binaries) as a lossless PNG."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise BadImageError(f"expected HxW or HxWxC uint8 pixels, got {array.dtype} {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] != 3:
        raise BadImageError(f"expected 1 or 3 channels, got shape {array.shape}")
    image = Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")
    channels, colorspace = (1, "Grayscale") if array.ndim == 2 else (3, "RGB")
    return EncodedImage(_png_bytes(image), "PNG", image.height, image.width, channels,
                        colorspace, reencoded=True)


def crop_encoded(image: EncodedImage, box: tuple[float, ...]) -> EncodedImage:
    """The (xmin, ymin, xmax, ymax) pixel crop of an encoded image, clamped to it and re-encoded
    in the same format (JPEG at quality 100, as the original's bbox crops)."""
    decoded = _open_fully(image.data)
    xmin, ymin, xmax, ymax = (int(round(v)) for v in box)
    xmin, ymin = min(max(xmin, 0), image.width - 1), min(max(ymin, 0), image.height - 1)
    xmax, ymax = min(max(xmax, xmin + 1), image.width), min(max(ymax, ymin + 1), image.height)
    cropped = decoded.crop((xmin, ymin, xmax, ymax))
    data = _jpeg_bytes(cropped) if image.image_format == "JPEG" else _png_bytes(cropped)
    return EncodedImage(data, image.image_format, cropped.height, cropped.width, image.channels,
                        image.colorspace, reencoded=True)


def encode_source(source, storage: str) -> EncodedImage:
    """Dispatch on what a reader produced (path, file bytes or pixels) and the storage policy."""
    if isinstance(source, np.ndarray):
        if storage == "png":
            return pixels_to_png(source)
        return to_rgb_jpeg(pixels_to_png(source).data)
    if isinstance(source, str):
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise BadImageError(f"cannot read file: {error}") from error
    else:
        data = bytes(source)
    if not data:
        raise BadImageError("file is empty (0 bytes)")
    return to_lossless_png(data) if storage == "png" else to_rgb_jpeg(data)
