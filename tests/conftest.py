"""Shared test settings: quiet TF, deterministic ops, and the ../shared reference material."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On a GPU machine: allocate GPU memory as needed, so that tests' child processes get some too.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSEMBLED_CNN_SHARED", REPO.parent / "shared"))
TF1_FIXTURES = SHARED / "fixtures" / "tf1_reference"


def _shared_required() -> bool:
    return os.environ.get("ASSEMBLED_CNN_REQUIRE_SHARED", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def tf1_fixtures() -> Path:
    """The original TF1 checkpoints; skipped locally when absent, a failure in CI."""
    if not TF1_FIXTURES.is_dir():
        if _shared_required():
            pytest.fail(f"{TF1_FIXTURES} is missing but CI requires ../shared")
        pytest.skip(f"{TF1_FIXTURES} not available")
    return TF1_FIXTURES


GPU_TESTS_ON_CPU = "ASSEMBLED_CNN_GPU_TESTS_ON_CPU"


def gpu_tests_forced_on_cpu() -> bool:
    return os.environ.get(GPU_TESTS_ON_CPU, "").lower() in ("1", "true", "yes")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"gpu: needs a GPU (skipped without one; {GPU_TESTS_ON_CPU}=1 runs them on the CPU at tiny sizes)")


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items or gpu_tests_forced_on_cpu():
        return
    import tensorflow as tf  # physical devices only: the runtime stays unconfigured

    if tf.config.list_physical_devices("GPU"):
        return
    skip = pytest.mark.skip(reason=f"no GPU visible (set {GPU_TESTS_ON_CPU}=1 to run on the CPU)")
    for item in gpu_items:
        item.add_marker(skip)
