"""Random erasing: rectangle, area/aspect ranges, modes, probability."""

import numpy as np
import pytest

from assembled_cnn.preprocessing.random_erasing import RandomErasingConfig, random_erasing


def erased_box(out: np.ndarray, original_value: float = 5.0):
    rows, cols = np.nonzero((out != original_value).any(axis=-1))
    return rows, cols


@pytest.mark.parametrize("seed", range(6))
def test_const_mode_erases_one_rectangle_within_area_and_aspect_ranges(seed):
    config = RandomErasingConfig(probability=1.0, mode="const", min_area=0.05, max_area=0.3,
                                 min_aspect=0.5)
    image = np.full((48, 64, 3), 5.0, np.float32)
    out = random_erasing(image, config, seed=[seed, 1]).numpy()
    rows, cols = erased_box(out)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert rows.size == height * width  # one filled rectangle
    assert (out[rows, cols] == 0.0).all()
    area = height * width / (48 * 64)
    assert 0.05 * 0.8 <= area <= 0.3 * 1.2  # rounding of the sides
    assert 0.5 * 0.7 <= height / width <= 2.0 * 1.4


def test_probability_zero_is_identity():
    image = np.random.default_rng(0).normal(size=(32, 32, 3)).astype(np.float32)
    out = random_erasing(image, RandomErasingConfig(probability=0.0), seed=[1, 2])
    np.testing.assert_array_equal(out, image)


def test_probability_is_respected_over_many_seeds():
    config = RandomErasingConfig(probability=0.5, mode="const")
    image = np.full((32, 32, 3), 5.0, np.float32)
    erased = [(random_erasing(image, config, seed=[s, 7]).numpy() == 0).any() for s in range(40)]
    assert 10 < sum(erased) < 30


def test_rand_and_pixel_modes_fill_noise():
    image = np.full((48, 48, 3), 5.0, np.float32)
    per_channel = random_erasing(image, RandomErasingConfig(probability=1.0, mode="rand"),
                                 seed=[2, 2]).numpy()
    rows, cols = erased_box(per_channel)
    region = per_channel[rows, cols]
    assert (region == region[0]).all()  # one value per channel
    per_pixel = random_erasing(image, RandomErasingConfig(probability=1.0, mode="pixel"),
                               seed=[2, 2]).numpy()
    rows, cols = erased_box(per_pixel)
    assert per_pixel[rows, cols].std() > 0.5


def test_invalid_settings_name_the_field():
    with pytest.raises(ValueError, match="mode='zero'"):
        RandomErasingConfig(mode="zero")
    with pytest.raises(ValueError, match="min_area"):
        RandomErasingConfig(min_area=0.5, max_area=0.1)
