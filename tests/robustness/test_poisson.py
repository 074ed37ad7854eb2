"""The table Poisson sampler of shot noise: exact inverse CDF, Poisson moments, fallback."""

import numpy as np
import tensorflow as tf
from scipy import stats

from assembled_cnn.robustness.corruptions import _poisson
from assembled_cnn.robustness.corruptions.noise import SHOT_NOISE_PHOTONS, shot_noise_draws


def inverse_cdf_reference(levels, bits, photons):
    """Smallest k with CDF(k) > bits / 2^32, straight from scipy (no guide table, no loop)."""
    rates = levels.astype(np.float64) / 255.0 * photons
    out = np.empty(levels.shape, np.int64)
    for i, (rate, r) in enumerate(zip(rates.ravel(), bits.ravel().astype(np.float64))):
        k = 0
        while np.ceil(stats.poisson.cdf(k, rate) * 2.0 ** 32) <= r:
            k += 1
        out.ravel()[i] = k
    return out


def test_equals_the_inverse_cdf_including_slice_edges():
    photons = 12.0
    thresholds, _, top = _poisson._tables(photons)
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, 3000)
    bits = rng.integers(0, 2 ** 32, 3000, dtype=np.uint64)
    # values at and next to CDF thresholds and to guide-slice starts, where off-by-ones would show
    edge_levels = rng.integers(0, 256, 600)
    picks = thresholds[edge_levels, rng.integers(0, 12, 600)]
    edge_bits = np.clip(picks + rng.integers(-1, 1, 600), 0, 2 ** 32 - 1)
    slice_bits = (rng.integers(0, 1024, 400) << 22) + rng.integers(-1, 1, 400)
    levels = np.concatenate([levels, edge_levels, rng.integers(0, 256, 400), [0, 255, 255]])
    bits = np.concatenate([bits, edge_bits, np.clip(slice_bits, 0, 2 ** 32 - 1), [2 ** 32 - 1, 0, 2 ** 32 - 1]])
    got = _poisson.poisson_from_levels(tf.constant(levels, tf.int32), tf.constant(bits.astype(np.uint32)),
                                       photons).numpy()
    np.testing.assert_array_equal(got, inverse_cdf_reference(levels, bits, photons))
    assert top > got.max()


def test_counts_have_poisson_moments_and_frequencies():
    photons = float(SHOT_NOISE_PHOTONS[0])  # 60: the largest rate, the longest tables
    bits = tf.random.stateless_uniform([200_000], [1, 2], minval=None, maxval=None, dtype=tf.uint32)
    for level in (0, 3, 128, 255):
        counts = _poisson.poisson_from_levels(tf.fill([200_000], level), bits, photons).numpy()
        rate = level / 255.0 * photons
        if rate == 0:
            assert counts.max() == 0
            continue
        assert abs(counts.mean() - rate) < 4 * np.sqrt(rate / counts.size)
        assert abs(counts.var() / rate - 1) < 0.03
        ks = np.arange(int(rate) - 2, int(rate) + 3).clip(0)
        frequencies = np.array([(counts == k).mean() for k in ks])
        np.testing.assert_allclose(frequencies, stats.poisson.pmf(ks, rate), rtol=0.1)


def test_shot_noise_uses_the_table_on_the_8bit_grid_and_tf_otherwise():
    rng = np.random.default_rng(3)
    on_grid = tf.constant(rng.integers(0, 256, (2, 40, 40, 3)) / 255.0, tf.float32)
    off_grid = on_grid + 0.4 / 255.0
    seeds = tf.constant([[5, 0], [5, 1]], tf.int64)
    for images in (on_grid, off_grid):
        counts = shot_noise_draws(images, seeds, severity=2)[0].numpy()
        rates = images.numpy() * SHOT_NOISE_PHOTONS[1]
        assert np.all(counts == np.round(counts)) and counts.min() >= 0
        assert abs(counts.mean() - rates.mean()) < 0.05 * rates.mean()
        assert abs((counts - rates).var() / rates.mean() - 1) < 0.05
    again = shot_noise_draws(on_grid, seeds, severity=2)[0].numpy()
    np.testing.assert_array_equal(again, shot_noise_draws(on_grid, seeds, severity=2)[0].numpy())
