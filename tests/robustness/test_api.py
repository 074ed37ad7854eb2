"""Shape/dtype/range, determinism, small and grayscale images, argument errors."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.robustness import (COMMON_CORRUPTIONS, CORRUPTIONS, EXTRA_CORRUPTIONS, corrupt,
                                      get_corruption_names)

RNG = np.random.default_rng(0)
SMALL = RNG.integers(0, 256, (2, 32, 40, 3), dtype=np.uint8)


def test_names():
    assert len(CORRUPTIONS) == 19 and len(COMMON_CORRUPTIONS) == 15
    assert get_corruption_names("common") == list(COMMON_CORRUPTIONS)
    assert get_corruption_names("extra") == ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
    assert get_corruption_names("all") == list(CORRUPTIONS)
    assert list(EXTRA_CORRUPTIONS) == get_corruption_names("extra")
    with pytest.raises(ValueError, match="subset"):
        get_corruption_names("nope")


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_dtype_range_determinism_32px(name):
    out = corrupt(SMALL, name, 3, seed=1, index=5).numpy()
    assert out.shape == SMALL.shape and out.dtype == np.uint8
    again = corrupt(SMALL, name, 3, seed=1, index=5).numpy()
    np.testing.assert_array_equal(out, again)
    single = corrupt(SMALL[1], name, 3, seed=1, index=6).numpy()  # same (seed, index) alone
    # same random draws; float summation order may differ by batch size -> at most 1 LSB
    assert np.abs(out[1].astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_grayscale_and_float(name):
    gray = SMALL[..., :1]
    out = corrupt(gray, name, 2).numpy()
    assert out.shape == gray.shape and out.dtype == np.uint8
    floats = corrupt(SMALL.astype(np.float32), name, 2).numpy()
    assert floats.dtype == np.float32 and floats.min() >= 0 and floats.max() <= 255


def test_seed_and_index_change_random_output():
    a = corrupt(SMALL, "gaussian_noise", 1, seed=0).numpy()
    assert not np.array_equal(a, corrupt(SMALL, "gaussian_noise", 1, seed=1).numpy())
    assert not np.array_equal(a, corrupt(SMALL, "gaussian_noise", 1, index=1).numpy())


def test_inside_tf_data():
    data = tf.data.Dataset.from_tensor_slices(SMALL).enumerate()
    data = data.map(lambda i, x: corrupt(x, "fog", 2, seed=1, index=i))
    first = next(iter(data)).numpy()
    np.testing.assert_array_equal(first, corrupt(SMALL[0], "fog", 2, seed=1, index=0).numpy())


def test_errors():
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(SMALL, "rain", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(SMALL, "fog", 6)
    with pytest.raises(ValueError, match="at least 32"):
        corrupt(SMALL[:, :16], "fog", 1)
    with pytest.raises(ValueError, match="mode"):
        corrupt(SMALL, "fog", 1, mode="slow")


def test_reference_mode_runs_and_matches_fast_where_protocols_agree():
    pytest.importorskip("skimage")
    pytest.importorskip("cv2")
    for name in ("contrast", "pixelate", "gaussian_noise"):
        out = corrupt(SMALL, name, 2, mode="reference").numpy()
        assert out.shape == SMALL.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(corrupt(SMALL, "pixelate", 3, mode="reference").numpy(),
                                  corrupt(SMALL, "pixelate", 3).numpy())


@pytest.mark.parametrize("name", ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "snow",
                                  "fog", "elastic_transform"])
def test_xla_and_graph_paths_agree(name, monkeypatch):
    """Images of >= XLA_MIN_PIXELS run XLA-compiled kernels, smaller ones plain TF graphs
    (tests mostly use small images): both must give the same result within 1 LSB."""
    from assembled_cnn.robustness.corruptions import _tf_ops

    image = np.repeat(np.repeat(RNG.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8), 4, 1), 4, 2)
    assert _tf_ops.use_xla(128, 128)
    fast = corrupt(image, name, 5, seed=2, index=9).numpy()
    monkeypatch.setattr(_tf_ops, "XLA_MIN_PIXELS", 10 ** 9)
    graph = tf.function(lambda x: corrupt(x, name, 5, seed=2, index=9))(image).numpy()
    assert np.abs(fast.astype(int) - graph.astype(int)).max() <= 1
