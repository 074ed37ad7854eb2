"""mCE (Hendrycks & Dietterich 2019): corruption errors normalised by AlexNet's.

The AlexNet table is keyed by name (never by position: a reordered list silently
mis-normalises), per severity, from the hendrycks/robustness README (PR #20).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from assembled_cnn.robustness.corruptions.registry import COMMON_CORRUPTIONS

ALEXNET_ERRORS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.69528, 0.82542, 0.93554, 0.98138, 0.99452),
    "shot_noise": (0.71224, 0.85108, 0.93574, 0.98182, 0.99146),
    "impulse_noise": (0.78374, 0.89808, 0.94870, 0.98720, 0.99548),
    "defocus_blur": (0.65624, 0.73202, 0.85036, 0.91364, 0.94714),
    "glass_blur": (0.64308, 0.75054, 0.88806, 0.91622, 0.93344),
    "motion_blur": (0.58430, 0.70048, 0.82108, 0.89750, 0.92638),
    "zoom_blur": (0.70008, 0.76992, 0.80784, 0.84198, 0.87198),
    "snow": (0.71726, 0.88392, 0.86468, 0.91870, 0.94952),
    "frost": (0.61390, 0.79734, 0.88790, 0.89942, 0.93430),
    "fog": (0.67474, 0.76050, 0.84378, 0.87260, 0.94500),
    "brightness": (0.45140, 0.48502, 0.54048, 0.62166, 0.72440),
    "contrast": (0.64548, 0.76150, 0.88874, 0.97760, 0.99270),
    "elastic_transform": (0.52596, 0.70116, 0.55686, 0.64076, 0.80554),
    "pixelate": (0.52218, 0.54620, 0.73728, 0.87092, 0.91262),
    "jpeg_compression": (0.51002, 0.54718, 0.57294, 0.65458, 0.74778),
    "speckle_noise": (0.66192, 0.74440, 0.90246, 0.94548, 0.97268),
    "gaussian_blur": (0.54732, 0.70444, 0.82574, 0.89864, 0.95940),
    "spatter": (0.47196, 0.62194, 0.75052, 0.84132, 0.90182),
    "saturate": (0.59342, 0.65514, 0.51174, 0.70834, 0.82260),
}
# torchvision AlexNet (the weights ImageNet-C/test.py loads): 56.522 % top-1. The anchor doc
# marks this [from memory]; a downstream file uses 0.4345. Pass another value if you trust it.
ALEXNET_CLEAN_ERROR = 0.4348


def _checked_errors(name: str, values: Sequence[float], severities: Sequence[int]) -> list[float]:
    if name not in ALEXNET_ERRORS:
        raise ValueError(f"errors has corruption {name!r} with no AlexNet reference; known: "
                         f"{sorted(ALEXNET_ERRORS)}")
    values = [float(v) for v in values]
    if len(values) != len(severities):
        raise ValueError(f"errors[{name!r}] must hold the {len(severities)} top-1 errors of severities "
                         f"{', '.join(map(str, severities))}, got {len(values)}")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"errors[{name!r}] must be fractions in [0, 1] (not %), got {values}")
    return values


def compute_mce(errors: Mapping[str, Sequence[float]], clean_error: float | None = None,
                alexnet_clean_error: float = ALEXNET_CLEAN_ERROR,
                severities: Sequence[int] = (1, 2, 3, 4, 5)) -> dict:
    """CE per corruption and mCE, in %.

    ``mce``: mean over the 15 common corruptions (only when all 15 are given);
    ``mce_all``: mean over every given corruption (the original project's 19-mean);
    ``relative_ce`` / ``relative_mce`` when ``clean_error`` is given. With a subset of
    ``severities`` each CE is normalised by AlexNet's errors at the same severities
    (the published mCE uses all five).
    """
    if not errors:
        raise ValueError("errors is empty; give {corruption: [e1..e5]}")
    severities = tuple(int(s) for s in severities)
    if not severities or any(s not in (1, 2, 3, 4, 5) for s in severities):
        raise ValueError(f"severities must be a non-empty subset of 1..5, got {severities}")
    alexnet = {n: [v[s - 1] for s in severities] for n, v in ALEXNET_ERRORS.items()}
    checked = {name: _checked_errors(name, values, severities) for name, values in errors.items()}
    ce = {n: 100.0 * sum(v) / sum(alexnet[n]) for n, v in checked.items()}
    result: dict = {"ce": ce, "mce_all": sum(ce.values()) / len(ce), "severities": list(severities),
                    "unnormalized_mean_error": {n: sum(v) / len(v) for n, v in checked.items()}}
    if all(name in ce for name in COMMON_CORRUPTIONS):
        result["mce"] = sum(ce[n] for n in COMMON_CORRUPTIONS) / len(COMMON_CORRUPTIONS)
    if clean_error is not None:
        relative = {}
        for name, values in checked.items():
            reference = sum(e - alexnet_clean_error for e in alexnet[name])
            relative[name] = 100.0 * sum(e - clean_error for e in values) / reference
        result["relative_ce"] = relative
        if all(name in relative for name in COMMON_CORRUPTIONS):
            result["relative_mce"] = sum(relative[n] for n in COMMON_CORRUPTIONS) / 15
    return result
