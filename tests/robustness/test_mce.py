import importlib.util

import pytest

from assembled_cnn.robustness import ALEXNET_ERRORS, COMMON_CORRUPTIONS, compute_mce
from assembled_cnn.robustness.reporting import markdown_table, write_all


def test_alexnet_gives_100():
    result = compute_mce(ALEXNET_ERRORS, clean_error=0.4348)
    assert result["mce"] == pytest.approx(100.0)
    assert result["mce_all"] == pytest.approx(100.0)
    assert result["relative_mce"] == pytest.approx(100.0)


def test_hand_computed_values():
    errors = {name: [0.5] * 5 for name in COMMON_CORRUPTIONS}
    result = compute_mce(errors, clean_error=0.25)
    # CE_fog = 5*0.5 / sum(AlexNet fog) = 2.5 / 4.09662
    assert result["ce"]["fog"] == pytest.approx(100 * 2.5 / 4.09662, rel=1e-6)
    assert result["mce"] == pytest.approx(sum(100 * 0.5 / (sum(ALEXNET_ERRORS[n]) / 5)
                                              for n in COMMON_CORRUPTIONS) / 15)
    assert result["relative_ce"]["fog"] == pytest.approx(100 * 5 * 0.25 / (4.09662 - 5 * 0.4348))
    partial = compute_mce({"fog": [0.5] * 5, "saturate": [0.3] * 5})
    assert "mce" not in partial
    assert partial["mce_all"] == pytest.approx((100 * 2.5 / 4.09662 + 100 * 1.5 / 3.29124) / 2)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="no AlexNet reference"):
        compute_mce({"rain": [0.1] * 5})
    with pytest.raises(ValueError, match="5 top-1 errors"):
        compute_mce({"fog": [0.1] * 4})
    with pytest.raises(ValueError, match="fractions"):
        compute_mce({"fog": [50.0] * 5})


def test_reports(tmp_path):
    result = compute_mce(ALEXNET_ERRORS)
    assert "| fog | 100.00 |" in markdown_table(result)
    write_all(result, str(tmp_path), dict(ALEXNET_ERRORS))
    for name in ("mce.json", "mce.md", "ce.png"):
        assert (tmp_path / name).stat().st_size > 0
    if importlib.util.find_spec("tensorboard"):
        assert list((tmp_path / "tensorboard").iterdir())
