"""Each uint8 op does what it claims (geometry by marked pixels, colour ops against PIL)."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from assembled_cnn.preprocessing import augment_ops as ops
from assembled_cnn.preprocessing import magnitudes
from assembled_cnn.preprocessing.magnitudes import AugmentHParams

SIZE = 33


def marked(row: int, col: int, size: int = SIZE) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[row, col] = 255
    return image


def white_positions(image) -> list[tuple[int, int]]:
    return [tuple(p) for p in np.argwhere(np.asarray(image)[..., 0] == 255)]


# ------------------------------------------------------------------------------ geometry

def test_rotate_90_moves_marked_pixel_counter_clockwise():
    # counter-clockwise as displayed: (r, c) -> (n-1-c, r); top-right corner -> top-left
    rotated = ops.rotate(marked(5, 20), 90.0, fill=0)
    assert white_positions(rotated) == [(SIZE - 1 - 20, 5)]


def test_rotate_fills_uncovered_corners_with_128_and_keeps_centre():
    image = np.full((SIZE, SIZE, 3), 7, np.uint8)
    rotated = ops.rotate(image, 45.0).numpy()
    np.testing.assert_array_equal(rotated[0, 0], [128, 128, 128])
    np.testing.assert_array_equal(rotated[SIZE // 2, SIZE // 2], [7, 7, 7])


def test_translate_moves_content_left_and_up_and_fills_128():
    moved = ops.translate_x(marked(10, 20), 5.0)
    assert white_positions(moved) == [(10, 15)]
    assert (moved.numpy()[:, -5:] == 128).all()
    assert white_positions(ops.translate_y(marked(10, 20), 3.0)) == [(7, 20)]
    assert white_positions(ops.translate_x(marked(10, 20), -4.0)) == [(10, 24)]


def test_shear_moves_marked_pixel_by_level_times_other_coordinate():
    # shear_x: output(x, y) = input(x + level*y, y)  => x = c - level*r
    assert white_positions(ops.shear_x(marked(5, 20), 0.4)) == [(5, 18)]
    assert white_positions(ops.shear_y(marked(5, 20), 0.1)) == [(3, 20)]


def test_cutout_fills_one_square_with_128():
    image = np.zeros((40, 40, 3), np.uint8)
    out = ops.cutout(image, 5, seed=[3, 4]).numpy()
    rows, cols = np.nonzero(out[..., 0] == 128)
    assert 0 < rows.size <= 100
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert rows.size == height * width  # a full rectangle
    assert height <= 10 and width <= 10
    assert set(np.unique(out)) <= {0, 128}


# ------------------------------------------------------------------------------- colour

def test_solarize_inverts_only_values_at_or_above_threshold():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    out = ops.solarize(values, 128).numpy()[..., 0].ravel()
    expected = np.where(np.arange(256) < 128, np.arange(256), 255 - np.arange(256))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ops.solarize(values, 256), values)  # threshold 256: identity


def test_solarize_add_adds_below_threshold_with_clipping():
    values = np.array([[[10, 120, 200]]], np.uint8)
    np.testing.assert_array_equal(ops.solarize_add(values, 100), [[[110, 220, 200]]])
    np.testing.assert_array_equal(ops.solarize_add(values, 200), [[[210, 255, 200]]])


@pytest.mark.parametrize("bits", [0, 1, 3, 4, 8])
def test_posterize_keeps_the_top_bits(bits):
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    mask = (0xFF << (8 - bits)) & 0xFF
    np.testing.assert_array_equal(ops.posterize(values, bits), values & mask)


def test_invert_posterize_solarize_equalize_autocontrast_match_pil(random_rgb):
    pil = Image.fromarray(random_rgb)
    np.testing.assert_array_equal(ops.invert(random_rgb), np.array(ImageOps.invert(pil)))
    np.testing.assert_array_equal(ops.posterize(random_rgb, 3), np.array(ImageOps.posterize(pil, 3)))
    np.testing.assert_array_equal(ops.solarize(random_rgb, 100), np.array(ImageOps.solarize(pil, 100)))
    np.testing.assert_array_equal(ops.equalize(random_rgb), np.array(ImageOps.equalize(pil)))
    np.testing.assert_array_equal(ops.autocontrast(random_rgb), np.array(ImageOps.autocontrast(pil)))


def test_equalize_flattens_a_narrow_histogram():
    rng = np.random.default_rng(1)
    narrow = rng.integers(100, 132, (64, 64, 3)).astype(np.uint8)
    out = ops.equalize(narrow).numpy()
    np.testing.assert_array_equal(out, np.array(ImageOps.equalize(Image.fromarray(narrow))))
    assert out.min() <= 8 and out.max() >= 240  # stretched over the full range
    counts = np.bincount(out[..., 0].ravel(), minlength=256)
    cumulative = np.cumsum(counts) / counts.sum()
    # a flat histogram has a cumulative distribution close to the identity line
    assert np.abs(cumulative - np.arange(1, 257) / 256).max() < 0.06


def test_autocontrast_stretches_each_channel_to_full_range():
    image = np.stack([np.full((4, 4), 50), np.tile(np.arange(60, 64), (4, 1)),
                      np.tile(np.arange(10, 14), (4, 1))], -1).astype(np.uint8)
    out = ops.autocontrast(image).numpy()
    np.testing.assert_array_equal(out[..., 0], image[..., 0])  # flat channel unchanged
    assert out[..., 1].min() == 0 and out[..., 1].max() == 255
    assert out[..., 2].min() == 0 and out[..., 2].max() == 255


@pytest.mark.parametrize("op", [ops.color, ops.contrast, ops.brightness, ops.sharpness])
def test_enhance_ops_are_identity_at_factor_one(op, random_rgb):
    np.testing.assert_array_equal(op(random_rgb, 1.0), random_rgb)


@pytest.mark.parametrize("op, enhancer", [
    (ops.color, ImageEnhance.Color), (ops.contrast, ImageEnhance.Contrast),
    (ops.brightness, ImageEnhance.Brightness), (ops.sharpness, ImageEnhance.Sharpness)])
@pytest.mark.parametrize("factor", [0.3, 1.7])
def test_enhance_ops_match_pil_within_one_level(op, enhancer, factor, random_rgb):
    expected = np.array(enhancer(Image.fromarray(random_rgb)).enhance(factor)).astype(int)
    assert np.abs(op(random_rgb, factor).numpy().astype(int) - expected).max() <= 1


def test_enhance_ops_at_factor_zero_give_their_degenerate_image(random_rgb):
    assert (ops.brightness(random_rgb, 0.0).numpy() == 0).all()
    gray = ops.color(random_rgb, 0.0).numpy()
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    flat = ops.contrast(random_rgb, 0.0).numpy()
    assert len(np.unique(flat)) == 1


def test_contrast_mean_quirk_uses_pixel_count_over_256():
    image = np.full((32, 32, 3), 200, np.uint8)  # 1024 pixels -> quirk "mean" 4
    assert (ops.contrast(image, 0.0, mean_quirk=True).numpy() == 4).all()
    assert (ops.contrast(image, 0.0, mean_quirk=False).numpy() == 199).all()  # luma 199.99 floored


# ----------------------------------------------------------------------- level mapping

@pytest.mark.parametrize("name", magnitudes.OP_NAMES)
@pytest.mark.parametrize("level", [0.0, 5.0, 10.0])
def test_every_named_op_keeps_shape_dtype_and_range(name, level, random_rgb):
    out = magnitudes.apply_named_op(random_rgb, name, level, seed=[1, 2])
    assert out.shape == random_rgb.shape and out.dtype == tf.uint8


def test_level_mapping_of_posterize_solarize_and_enhance():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    # Posterize level 8 -> int(0.8 * 4) = 3 bits
    np.testing.assert_array_equal(magnitudes.apply_named_op(values, "Posterize", 8.0), values & 0xE0)
    # Solarize level 5 -> threshold int(0.5 * 256) = 128
    np.testing.assert_array_equal(magnitudes.apply_named_op(values, "Solarize", 5.0),
                                  ops.solarize(values, 128))
    # enhance level 5 -> factor 5/10 * 1.8 + 0.1 = 1.0 -> identity
    np.testing.assert_array_equal(magnitudes.apply_named_op(values, "Color", 5.0), values)


def test_translate_level_is_relative_by_default_and_250px_in_original_mode():
    image = marked(20, 20, size=40)
    # default: level 10 -> 0.45 * 40 = 18 px, random sign
    moved = white_positions(magnitudes.apply_named_op(image, "TranslateX", 10.0, seed=[0, 1]))
    assert moved in ([(20, 2)], [(20, 38)])
    # the original's 250 px constant pushes a 40 px image entirely out of frame
    gone = magnitudes.apply_named_op(image, "TranslateX", 10.0, seed=[0, 1],
                                     hparams=AugmentHParams.original()).numpy()
    assert (gone == 128).all()


def test_rotate_level_maps_to_30_degrees_with_random_sign():
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[4:7, 15:18] = 255  # a 3x3 block centred at (5, 16); one pixel may be skipped
    centre = SIZE // 2
    expected = []
    for degrees in (30.0, -30.0):  # counter-clockwise for positive degrees
        radians = np.deg2rad(degrees)
        dy, dx = 5 - centre, 16 - centre
        expected.append((centre - np.sin(radians) * dx + np.cos(radians) * dy,
                         centre + np.cos(radians) * dx + np.sin(radians) * dy))
    seen = set()
    for seed in range(8):
        out = magnitudes.apply_named_op(image, "Rotate", 10.0, seed=[seed, 0]).numpy()
        centroid = np.argwhere(out[..., 0] == 255).mean(axis=0)
        distances = [np.hypot(*(centroid - np.array(e))) for e in expected]
        assert min(distances) < 1.0, (centroid, expected)
        seen.add(int(np.argmin(distances)))
    assert seen == {0, 1}  # both signs occur


def test_unknown_op_name_is_reported():
    with pytest.raises(ValueError, match="unknown augmentation op 'Blur'"):
        magnitudes.op_index("Blur")
