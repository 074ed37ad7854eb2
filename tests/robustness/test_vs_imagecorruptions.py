"""Fast corruptions against imagecorruptions-imaug 1.1.5 on real photos."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.robustness.corruptions import corrupt
from assembled_cnn.robustness.corruptions import _spatter_ops, _tf_ops, weather

ic = pytest.importorskip("imagecorruptions")
ic_impl = pytest.importorskip("imagecorruptions.corruptions")
SEVERITIES = range(1, 6)
DETERMINISTIC = ["defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate",
                 "jpeg_compression", "gaussian_blur", "saturate"]


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def reference(images, name, severity, seed=0):
    np.random.seed(seed)
    return np.stack([ic.corrupt(im, corruption_name=name, severity=severity) for im in images])


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_match_psnr30(name, photos96):
    for severity in SEVERITIES:
        ours = corrupt(photos96[:4], name, severity).numpy()
        assert psnr(ours, reference(photos96[:4], name, severity)) >= 30, (name, severity)


@pytest.mark.parametrize("name", ["defocus_blur", "pixelate", "saturate"])
def test_deterministic_match_at_224(name, photos224):
    for severity in (1, 5):
        ours = corrupt(photos224, name, severity).numpy()
        assert psnr(ours, reference(photos224, name, severity)) >= 30


def test_motion_blur_kernel_matches_at_fixed_angle(photos96):
    for (radius, sigma), angle in zip([(10, 3), (15, 8), (20, 15)], [-40.0, 7.0, 33.0]):
        ours = _tf_ops.motion_blur(tf.constant(photos96[:2], tf.float32), radius, sigma,
                                   tf.constant([angle, angle])).numpy()
        ref = np.stack([ic_impl._motion_blur(im, radius, sigma, angle) for im in photos96[:2]])
        assert psnr(np.clip(ours, 0, 255), np.clip(ref, 0, 255)) >= 30


def stats(out, clean):
    out, diff = out.astype(float), out.astype(float) - clean.astype(float)
    return {"mean": out.mean(), "std": out.std(), "mean_abs_change": np.abs(diff).mean(),
            "change_std": diff.std(), "changed_fraction": (diff != 0).mean()}


def assert_stats_close(ours, ref, clean, tolerance=0.05, keys=None):
    a, b = stats(ours, clean), stats(ref, clean)
    for key in keys or a:
        assert abs(a[key] - b[key]) <= tolerance * abs(b[key]) + 1e-9, (key, a[key], b[key])


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
                                  "glass_blur", "elastic_transform"])
def test_random_statistics_within_5_percent(name, photos96):
    for severity in SEVERITIES:
        ours = corrupt(photos96, name, severity, seed=3).numpy()
        assert_stats_close(ours, reference(photos96, name, severity, seed=severity), photos96)


def test_snow_statistics(photos96):
    images = np.concatenate([photos96, photos96])
    for severity in SEVERITIES:
        ours = corrupt(images, "snow", severity, seed=5).numpy()
        assert_stats_close(ours, reference(images, "snow", severity, seed=severity), images,
                           keys=["mean", "std", "mean_abs_change", "changed_fraction"])


def test_spatter_mud_statistics(photos96):
    images = np.concatenate([photos96, photos96])
    for severity in (4, 5):
        ours = corrupt(images, "spatter", severity, seed=7).numpy()
        assert_stats_close(ours, reference(images, "spatter", severity, seed=severity), images,
                           tolerance=0.08, keys=["mean", "std", "mean_abs_change"])


def test_spatter_water_mask_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    from skimage.filters import gaussian

    rng = np.random.default_rng(0)
    for sigma, threshold in [(3, 0.68), (2, 0.68)]:
        liquid = gaussian(rng.normal(0.65, 0.3, (96, 96)), sigma=sigma)
        liquid[liquid < threshold] = 0
        u8 = (liquid * 255).astype(np.uint8)
        edges = _spatter_ops.canny(tf.constant(u8[None, ..., None], tf.float32)).numpy()[0, ..., 0]
        np.testing.assert_array_equal(edges > 0, cv2.Canny(u8, 50, 150) > 0)


def test_fog_fractal_statistics():
    """Each map is min-max normalised and dominated by its coarsest level, so a map's mean
    varies a lot between draws: many draws, and the per-map spread and roughness."""
    draws = 512  # standard error of the roughness ~1 % at this count
    seeds = tf.stack([tf.fill([draws], tf.constant(7, tf.int64)), tf.range(draws, dtype=tf.int64)], axis=1)
    ours = weather.plasma_fractal(seeds, 64, 2.0).numpy()
    np.random.seed(1)
    ref = np.stack([ic_impl.plasma_fractal(64, 2.0) for _ in range(draws)])
    for fn in (lambda a: a.std(axis=(1, 2)).mean(), lambda a: np.abs(np.diff(a, axis=-1)).mean(),
               np.mean):
        assert abs(fn(ours) - fn(ref)) <= 0.05 * abs(fn(ref))


def test_frost_textures_and_blend(photos96):
    cv2 = pytest.importorskip("cv2")
    texture = weather.frost_textures()[3]
    scaled = weather._scaled_frost_textures(96, 96)[3]
    size = (int(np.ceil(texture.shape[1] * 1.1)), int(np.ceil(texture.shape[0] * 1.1)))
    assert psnr(scaled, cv2.resize(texture, size, interpolation=cv2.INTER_CUBIC)) >= 30
    images = np.concatenate([photos96] * 3)
    ours = corrupt(images, "frost", 3, seed=1).numpy()
    ref = reference(images, "frost", 3, seed=1)
    assert abs(ours.mean() - ref.mean()) <= 0.1 * ref.mean()
