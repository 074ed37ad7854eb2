"""AutoAugment policies and RandAugment specs: tables, probabilities, seeds, tf.data use."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.preprocessing import autoaugment, magnitudes, randaugment
from assembled_cnn.preprocessing.randaugment import RandAugmentConfig, parse_randaugment_spec


# --------------------------------------------------------------------------- AutoAugment

def test_policy_tables_have_the_published_sizes_and_valid_ops():
    sizes = {name: len(policy) for name, policy in autoaugment.POLICIES.items()}
    assert sizes == {"imagenet": 25, "cifar10": 95, "good": 95, "svhn": 25, "v0": 25, "test": 1}
    assert autoaugment.POLICIES["good"] is autoaugment.POLICIES["cifar10"]
    for policy in autoaugment.POLICIES.values():
        for sub_policy in policy:
            assert len(sub_policy) == 2
            for name, probability, level in sub_policy:
                magnitudes.op_index(name)
                assert 0.0 <= probability <= 1.0 and 0 <= level <= 10


def test_imagenet_policy_matches_the_paper_samples():
    policy = autoaugment.POLICIES["imagenet"]
    assert policy[0] == (("Posterize", 0.4, 8), ("Rotate", 0.6, 9))
    assert policy[18] == (("ShearX", 0.6, 5), ("Equalize", 1.0, 9))
    assert policy[24] == (("Equalize", 0.8, 8), ("Equalize", 0.6, 3))
    assert "SolarizeAdd" in {op for sub in autoaugment.POLICIES["v0"] for op, _, _ in sub}
    assert ("Contrast", 0.3, 3) in {op for sub in autoaugment.POLICIES["svhn"] for op in sub}


def test_unknown_policy_names_the_flag():
    with pytest.raises(ValueError, match="--autoaugment_type='cifar'"):
        autoaugment.get_policy("cifar")


def test_sub_policy_probabilities_are_respected(random_rgb):
    always = ((("Invert", 1.0, 0), ("Invert", 1.0, 0)),)
    np.testing.assert_array_equal(autoaugment.apply_policy(random_rgb, always, [1, 2]), random_rgb)
    first_only = ((("Invert", 1.0, 0), ("Solarize", 0.0, 0)),)
    np.testing.assert_array_equal(autoaugment.apply_policy(random_rgb, first_only, [1, 2]),
                                  255 - random_rgb)
    half = ((("Invert", 0.5, 0), ("Invert", 0.0, 0)),)
    inverted = [np.array_equal(autoaugment.apply_policy(random_rgb, half, [s, 9]), 255 - random_rgb)
                for s in range(40)]
    assert 8 < sum(inverted) < 32


def test_autoaugment_is_seeded_and_varies_between_seeds(random_rgb):
    first = autoaugment.distort_image_with_autoaugment(random_rgb, "imagenet", seed=[4, 2])
    again = autoaugment.distort_image_with_autoaugment(random_rgb, "imagenet", seed=[4, 2])
    np.testing.assert_array_equal(first, again)
    outputs = {autoaugment.distort_image_with_autoaugment(random_rgb, "imagenet", [s, 0])
               .numpy().tobytes() for s in range(10)}
    assert len(outputs) > 3


def test_autoaugment_rejects_float_images():
    with pytest.raises(TypeError, match="uint8"):
        autoaugment.distort_image_with_autoaugment(np.zeros((8, 8, 3), np.float32), "imagenet")


@pytest.mark.parametrize("policy", ["imagenet", "cifar10", "svhn", "v0"])
def test_autoaugment_runs_as_graph_op_inside_tf_data(policy, random_rgb):
    images = tf.data.Dataset.from_tensors(random_rgb).repeat(3)
    augmented = images.map(lambda im: autoaugment.distort_image_with_autoaugment(im, policy))
    for image in augmented:
        assert image.shape == random_rgb.shape and image.dtype == tf.uint8


# --------------------------------------------------------------------------- RandAugment

def test_parse_timm_spec():
    config = parse_randaugment_spec("rand-m9-mstd0.5-inc1")
    assert config == RandAugmentConfig(num_layers=2, magnitude=9.0, magnitude_std=0.5,
                                       increasing=True)
    config = parse_randaugment_spec("rand-n3-m7-mmax8-p1.0")
    assert (config.num_layers, config.magnitude, config.magnitude_max, config.probability,
            config.increasing) == (3, 7.0, 8.0, 1.0, False)
    assert "PosterizeIncreasing" in parse_randaugment_spec("rand-inc1").op_names
    assert len(RandAugmentConfig().op_names) == 15 and "Cutout" not in RandAugmentConfig().op_names


@pytest.mark.parametrize("spec", ["auto-m9", "rand-x9", "rand-m"])
def test_bad_spec_is_reported(spec):
    with pytest.raises(ValueError, match="RandAugment spec"):
        parse_randaugment_spec(spec)


def test_magnitude_noise_and_clipping():
    exact = RandAugmentConfig(magnitude=9.0)
    assert float(randaugment.sample_magnitude(exact, [1, 1])) == 9.0
    noisy = RandAugmentConfig(magnitude=9.0, magnitude_std=0.5)
    samples = np.array([randaugment.sample_magnitude(noisy, [s, 3]) for s in range(60)])
    assert samples.std() > 0.2 and samples.max() <= 10.0 and abs(samples.mean() - 9.0) < 0.3
    uniform = RandAugmentConfig(magnitude=6.0, magnitude_std=float("inf"))
    samples = np.array([randaugment.sample_magnitude(uniform, [s, 5]) for s in range(60)])
    assert samples.min() >= 0.0 and samples.max() <= 6.0 and samples.std() > 1.0


def test_randaugment_probability_zero_is_identity_and_one_changes(random_rgb):
    unchanged = randaugment.distort_image_with_randaugment(random_rgb, "rand-m9-p0", seed=[1, 2])
    np.testing.assert_array_equal(unchanged, random_rgb)
    changed = [not np.array_equal(randaugment.distort_image_with_randaugment(
        random_rgb, "rand-m9-n2-p1", seed=[s, 2]), random_rgb) for s in range(5)]
    assert sum(changed) >= 4


def test_randaugment_in_tf_data_keeps_shape_and_dtype(random_rgb):
    config = parse_randaugment_spec("rand-m9-mstd0.5-inc1")
    images = tf.data.Dataset.from_tensors(random_rgb).repeat(4)
    for image in images.map(lambda im: randaugment.distort_image_with_randaugment(im, config)):
        assert image.shape == random_rgb.shape and image.dtype == tf.uint8
