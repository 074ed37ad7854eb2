"""Decoding and cropping, the preset table, normalisation and preprocess_image."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.preprocessing import crop, normalize, presets
from assembled_cnn.preprocessing.presets import get_preset, preprocess_image

WINDOWS = [(0, 0, 48, 64), (5, 7, 20, 30), (16, 16, 16, 16), (3, 1, 40, 50)]


@pytest.mark.parametrize("window", WINDOWS)
def test_decode_and_crop_jpeg_equals_decode_then_crop_444(window, smooth_rgb, encoder):
    jpeg = encoder(smooth_rgb, "JPEG", quality=90, subsampling="4:4:4")
    full = tf.io.decode_jpeg(jpeg, dct_method=crop.DEFAULT_DCT_METHOD)
    np.testing.assert_array_equal(crop.decode_and_crop(tf.constant(jpeg), window),
                                  crop.crop_window(full, window))


@pytest.mark.parametrize("window", WINDOWS)
def test_decode_and_crop_jpeg_420_differs_only_in_edge_columns(window, random_rgb, encoder):
    jpeg = encoder(np.pad(random_rgb, [(4, 4), (8, 8), (0, 0)]), "JPEG", quality=90)
    full = crop.crop_window(tf.io.decode_jpeg(jpeg, dct_method=crop.DEFAULT_DCT_METHOD), window)
    fused = crop.decode_and_crop(tf.constant(jpeg), window).numpy()
    assert fused.shape == tuple(full.shape)
    np.testing.assert_array_equal(fused[:, 1:-1], full.numpy()[:, 1:-1])


def test_png_falls_back_to_decode_then_crop(random_rgb, encoder):
    png = encoder(random_rgb, "PNG")
    window = (3, 4, 20, 30)
    np.testing.assert_array_equal(crop.decode_and_crop(tf.constant(png), window),
                                  random_rgb[3:23, 4:34])
    np.testing.assert_array_equal(crop.encoded_image_shape(tf.constant(png)), [40, 48, 3])


def test_inception_window_respects_area_and_aspect_ranges():
    areas, aspects = [], []
    for seed in range(40):
        y, x, h, w = crop.sample_crop_window([300, 400, 3], seed=[seed, 0]).numpy()
        assert 0 <= y and 0 <= x and y + h <= 300 and x + w <= 400
        areas.append(h * w / (300 * 400))
        aspects.append(w / h)
    assert min(areas) >= 0.05 - 0.01 and max(areas) <= 1.0
    assert min(aspects) >= 0.75 - 0.02 and max(aspects) <= 1.33 + 0.02
    assert np.std(areas) > 0.05  # actually random


def test_inception_window_uses_record_boxes_when_given():
    box = [[0.5, 0.5, 1.0, 1.0]]  # the bottom-right quarter
    config = crop.InceptionCropConfig(min_object_covered=1.0)
    for seed in range(10):
        y, x, h, w = crop.sample_crop_window([200, 200, 3], config, [seed, 1], box).numpy()
        assert y <= 100 and x <= 100 and y + h >= 199 and x + w >= 199


def test_aspect_preserving_resize_truncates_and_centre_crop_is_centred():
    image = tf.zeros([300, 400, 3], tf.uint8)
    assert crop.aspect_preserving_resize(image, 292).shape == (292, 389, 3)  # int(389.33)
    grid = tf.reshape(tf.range(10 * 12), [10, 12, 1])
    cropped = crop.central_crop(grid, 4, 6).numpy()[..., 0]
    np.testing.assert_array_equal(cropped, np.arange(120).reshape(10, 12)[3:7, 3:9])


@pytest.mark.parametrize("name, train, eval_size, eval_resize", [
    ("imagenet", 224, 224, 256), ("imagenet_224_256", 224, 256, 292),
    ("imagenet_224_256a", 224, 256, 257), ("imagenet_128", 128, 128, 146),
    ("imagenet_128a", 128, 128, 129), ("imagenet_320", 320, 320, 365),
    ("cub", 224, 224, 256), ("reid_224", 224, 224, 224), ("cifar", 32, 32, 36),
    ("mnist", 28, 28, 32)])
def test_preset_table(name, train, eval_size, eval_resize):
    preset = get_preset(name)
    assert (preset.train_size, preset.eval_size, preset.resolved_eval_resize) == (
        train, eval_size, eval_resize)


def test_unknown_preset_names_the_flag():
    with pytest.raises(ValueError, match="--preprocessing_type='imagenet_x'"):
        get_preset("imagenet_x")
    with pytest.raises(ValueError, match="either autoaugment or randaugment"):
        get_preset("imagenet", autoaugment="imagenet", randaugment="rand-m9")


def test_fixres_test_size_changes_only_eval():
    preset = get_preset("imagenet_64").with_test_size(80)
    assert preset.train_size == 64 and preset.eval_size == 80 and preset.resolved_eval_resize == 91
    assert preset.output_shape(True) == (64, 64, 3) and preset.output_shape(False) == (80, 80, 3)


def test_normalisation_values():
    gray = tf.fill([2, 2, 3], 128.0)
    np.testing.assert_allclose(normalize.normalize_image(gray)[0, 0],
                               [128 - 123.68, 128 - 116.78, 128 - 103.94], rtol=1e-6)
    np.testing.assert_allclose(normalize.normalize_image(gray, "mean_std")[0, 0],
                               [(128 - 123.68) / 58.395, (128 - 116.78) / 57.12,
                                (128 - 103.94) / 57.375], rtol=1e-5)
    np.testing.assert_allclose(normalize.normalize_image(gray, "unit"), gray / 255.0)
    np.testing.assert_allclose(normalize.normalize_image(gray, "none"), gray)
    with pytest.raises(ValueError, match="normalization='std'"):
        normalize.normalize_image(gray, "std")


@pytest.mark.parametrize("name", ["imagenet_32_40", "imagenet_32a", "cub", "cifar", "mnist"])
def test_preprocess_image_output_shapes(name, smooth_rgb, encoder):
    preset = get_preset(name) if name != "cub" else get_preset(name, train_size=32, eval_size=32)
    for encoded in (encoder(smooth_rgb, "JPEG"), encoder(smooth_rgb, "PNG")):
        for training in (True, False):
            image = preprocess_image(tf.constant(encoded), training, preset, seed=[1, 2])
            assert image.dtype == tf.float32
            assert tuple(image.shape) == preset.output_shape(training)


def test_eval_path_is_resize_then_centre_crop_minus_means(smooth_rgb, encoder):
    preset = get_preset("imagenet_32")  # resize shorter side 48 -> 36, crop 32
    png = encoder(smooth_rgb, "PNG")
    expected = crop.central_crop(crop.aspect_preserving_resize(smooth_rgb, 36), 32, 32)
    expected = expected - tf.constant(normalize.CHANNEL_MEANS)
    np.testing.assert_allclose(preprocess_image(tf.constant(png), False, preset), expected,
                               atol=1e-4)


def test_training_is_reproducible_with_a_seed(smooth_rgb, encoder):
    preset = get_preset("imagenet_32", autoaugment="imagenet")
    jpeg = tf.constant(encoder(smooth_rgb, "JPEG"))
    first = preprocess_image(jpeg, True, preset, seed=[5, 6])
    np.testing.assert_array_equal(first, preprocess_image(jpeg, True, preset, seed=[5, 6]))
    others = [preprocess_image(jpeg, True, preset, seed=[s, 6]).numpy() for s in range(4)]
    assert not all(np.array_equal(first, other) for other in others)


def test_mnist_grayscale_can_output_one_or_three_channels(encoder):
    digit = np.zeros((28, 28), np.uint8)
    digit[8:20, 12:16] = 255
    png = tf.constant(encoder(digit, "PNG"))
    three = preprocess_image(png, False, get_preset("mnist", normalization="none"))
    assert three.shape == (28, 28, 3)
    np.testing.assert_array_equal(three[..., 0], three[..., 2])
    one = preprocess_image(png, False, get_preset("mnist", output_channels=1, eval_size=56,
                                                  normalization="none"))
    assert one.shape == (56, 56, 1) and float(one[28, 28, 0]) == 255.0


def test_cifar_training_pads_and_crops(encoder):
    white = np.full((32, 32, 3), 255, np.uint8)
    preset = get_preset("cifar", normalization="none", flip=False)
    shifts = set()
    for seed in range(12):
        out = preprocess_image(tf.constant(encoder(white, "PNG")), True, preset, [seed, 0]).numpy()
        black_rows = int((out[:, :, 0] == 0).all(axis=1).sum())
        black_cols = int((out[:, :, 0] == 0).all(axis=0).sum())
        assert black_rows <= 4 and black_cols <= 4
        shifts.add((black_rows, black_cols))
    assert len(shifts) > 2


def test_random_crop_false_takes_the_whole_image(smooth_rgb, encoder):
    preset = dataclasses.replace(get_preset("imagenet_48", normalization="none", flip=False),
                                 random_crop=False)
    png = tf.constant(encoder(smooth_rgb, "PNG"))
    out = preprocess_image(png, True, preset, seed=[1, 1])
    np.testing.assert_allclose(out, crop.resize(smooth_rgb, 48, 48), atol=1e-4)
    assert presets.FAMILIES == ("imagenet", "reid", "cifar", "mnist")


@pytest.mark.parametrize("dx,dy", [(2, 0), (-2, 0), (0, 3), (0, -1), (1, -2)])
def test_shift_image_moves_the_pixels_and_fills_the_border_with_the_given_colour(dx, dy):
    images = np.random.RandomState(0).rand(2, 6, 7, 3).astype(np.float32)
    fill = np.array([-1.0, -2.0, -3.0], np.float32)
    shifted = crop.shift_image(tf.constant(images), dx, dy, tf.constant(fill)).numpy()
    expected = np.broadcast_to(fill, images.shape).copy()
    rows_to, rows_from = slice(max(dy, 0), 6 + min(dy, 0)), slice(max(-dy, 0), 6 - max(dy, 0))
    cols_to, cols_from = slice(max(dx, 0), 7 + min(dx, 0)), slice(max(-dx, 0), 7 - max(dx, 0))
    expected[:, rows_to, cols_to] = images[:, rows_from, cols_from]
    np.testing.assert_allclose(shifted, expected, atol=1e-6)


def test_black_pixel_is_what_normalisation_makes_of_zero():
    preset = get_preset("cifar")
    black = normalize.black_pixel(preset, 3).numpy()
    np.testing.assert_allclose(black, normalize.normalize_image(np.zeros([1, 1, 3]), preset.normalization,
                                                                 preset.means, preset.stds).numpy()[0, 0])
    assert black.shape == (3,) and np.all(black < 0)  # black lies below every mean
