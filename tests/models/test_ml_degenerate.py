"""``fit_ml`` on flat, degenerate and extreme cohorts: an MLFit or a package error, nothing else.

The probe behind issue 13 found ``ZeroDivisionError`` (a flat GLM, slope 0) and
``OverflowError`` (``exp`` of a far-away optimum) escaping; Hypothesis draws random cohorts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doseresponse.exceptions import DoseResponseError, FitError
from doseresponse.models.ml import fit_ml

FAMILIES = ["logistic", "log-logistic", "probit", "cloglog", "poisson"]


@pytest.mark.parametrize("curve", FAMILIES)
@pytest.mark.parametrize("method", ["auto", "scipy"])
def test_flat_data_give_a_fit_error_naming_the_cause(curve, method):
    # the same fraction responds at every dose: the GLM slope is exactly 0 (used to divide by 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = fit_ml(curve, dose=[10, 20, 30, 40], events=[5, 5, 5, 5], n=[10] * 4,
                         method=method)
        except FitError as exc:
            text = str(exc)
            assert any(cause in text for cause in (
                "decreasing or degenerate", "did not converge", "not identifiable"
            )), text
            assert any(fix in text for fix in ("another family", "Bayesian", "data do not show",
                                               "try method=")), text
            return
    # a family whose flat fit converged must report a finite curve
    assert math.isfinite(fit.d50) and fit.d50 > 0


@st.composite
def _cohorts(draw):
    k = draw(st.integers(2, 6))
    scale = 10.0 ** draw(st.integers(-300, 300))
    dose = [scale * draw(st.floats(0.0, 100.0, allow_nan=False)) for _ in range(k)]
    n = [draw(st.integers(1, 50)) for _ in range(k)]
    pattern = draw(st.sampled_from(["random", "flat", "none", "all", "decreasing"]))
    if pattern == "random":
        events = [draw(st.integers(0, m)) for m in n]
    elif pattern == "flat":
        n = [n[0]] * k
        events = [n[0] // 2] * k
    elif pattern == "none":
        events = [0] * k
    elif pattern == "all":
        events = list(n)
    else:
        order = np.argsort(dose)
        events = [0] * k
        for rank, i in enumerate(order):
            events[i] = max(n[i] - rank * n[i] // k, 0)
    return dose, events, n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort=_cohorts(), curve=st.sampled_from(FAMILIES),
       method=st.sampled_from(["auto", "scipy"]))
def test_any_cohort_gives_a_fit_or_a_package_error(cohort, curve, method):
    dose, events, n = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = fit_ml(curve, dose=dose, events=events, n=n, method=method, strict=False)
        except DoseResponseError as exc:
            assert str(exc)  # a message, never an empty error
            return
        params = fit.params.to_numpy()
        assert np.all(np.isfinite(params)) and np.all(params > 0)
        try:
            result = fit.dose_at(0.1)
        except DoseResponseError:
            return
        assert result.estimate > 0 and math.isfinite(result.estimate)
        assert result.lower <= result.estimate <= result.upper
