"""Shared test settings: quiet TF, deterministic ops, and the ../shared reference material."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
