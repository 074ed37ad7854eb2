"""Fixtures for the dataset tests (helpers live in datasets_testlib.py)."""

import pytest


@pytest.fixture(scope="session")
def tf():
    import tensorflow

    return tensorflow
