"""Shared test fixtures.

Guards against global random state: a test that draws from ``np.random``'s global generator fails,
because every random draw in this project must come from a seeded ``np.random.default_rng``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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


@pytest.fixture(scope="module")
def three_centre_ipd_frame():
    """Three IPD centres A-C (60 patients): BED ``bed``, toxicity ``tox``, hypertension ``htn``.

    Drawn with seed 7 from a linear-logit curve, D50 = 40 Gy x 0.75^htn and gamma50 = 1.5.
    """
    rng = np.random.default_rng(7)
    n = 60
    dose = rng.lognormal(np.log(35.0), 0.4, n)
    htn = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(4 * 1.5 * (1 - dose / (40.0 * 0.75**htn))))
    return pd.DataFrame(
        {"study": np.repeat(["A", "B", "C"], n // 3), "bed": dose, "tox": rng.binomial(1, p),
         "htn": htn}
    )
