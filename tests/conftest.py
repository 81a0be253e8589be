"""Shared test fixtures.

Guards against global random state: a test that draws from ``np.random``'s global generator fails,
because every random draw in this project must come from a seeded ``np.random.default_rng``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return REPO_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _no_global_numpy_rng():
    before = np.random.get_state(legacy=False)  # noqa: NPY002 - reading it to guard against use
    yield
    after = np.random.get_state(legacy=False)  # noqa: NPY002
    if before["state"]["pos"] != after["state"]["pos"] or not np.array_equal(
        before["state"]["key"], after["state"]["key"]
    ):
        pytest.fail("test used numpy's global random state; use np.random.default_rng(seed)")


@pytest.fixture
def rng():
    """A seeded generator for tests that need random numbers."""
    return np.random.default_rng(20261126)
