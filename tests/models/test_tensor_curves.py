"""One parametrised battery over every registered curve family: numpy vs pytensor twins."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family
from doseresponse.models.tensor_curves import (
    TENSOR_CURVES,
    tensor_log_probabilities,
    tensor_logit,
    tensor_probability,
)

FAMILIES = sorted(CURVE_FAMILIES)
# (d50 [Gy], slope): slope is gamma50, or m for probit (converted below)
PARAMETERS = [(40.0, 0.8), (40.0, 2.5), (12.0, 1.2), (150.0, 4.0)]


def _slope(name: str, gamma50: float) -> float:
    if CURVE_FAMILIES[name].slope_name == "m":
        return 1.0 / (gamma50 * np.sqrt(2 * np.pi))
    return gamma50


def _compiled(name: str):
    dose, d50, slope = pt.dvector("dose"), pt.dscalar("d50"), pt.dscalar("slope")
    log_p, log_q = tensor_log_probabilities(name)(dose, d50, slope)
    prob = tensor_probability(name)(dose, d50, slope)
    logit = tensor_logit(name)(dose, d50, slope)
    grad = [*pt.grad(log_p.sum(), [d50, slope]), *pt.grad(log_q.sum(), [d50, slope])]
    return pytensor.function(
        [dose, d50, slope], [prob, log_p, log_q, logit, *grad], mode="FAST_COMPILE"
    )


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    return request.param, _compiled(request.param)


def test_registry_matches_numpy_registry():
    assert set(TENSOR_CURVES) == set(CURVE_FAMILIES)


@pytest.mark.parametrize("d50,gamma50", PARAMETERS)
def test_numpy_and_pytensor_agree(family, d50, gamma50):
    name, fn = family
    slope = _slope(name, gamma50)
    dose = np.linspace(0.05 * d50, 3.0 * d50, 61)
    expected = CURVE_FAMILIES[name].probability(dose, d50, slope)
    prob, log_p, log_q, logit, *_ = fn(dose, d50, slope)
    np.testing.assert_allclose(prob, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.exp(log_p), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(-np.expm1(log_q), expected, rtol=1e-9, atol=1e-14)
    inside = (expected > 1e-6) & (expected < 1 - 1e-6)  # numpy reference loses digits beyond
    np.testing.assert_allclose(
        logit[inside], np.log(expected[inside] / (1 - expected[inside])), rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("d50,gamma50", PARAMETERS)
def test_half_at_d50(family, d50, gamma50):
    name, fn = family
    prob, _, _, logit, *_ = fn(np.array([d50]), d50, _slope(name, gamma50))
    np.testing.assert_allclose(prob, 0.5, rtol=1e-12)
    np.testing.assert_allclose(logit, 0.0, atol=1e-12)


@pytest.mark.parametrize("d50,gamma50", PARAMETERS)
def test_monotone_increasing_in_dose(family, d50, gamma50):
    name, fn = family
    dose = np.linspace(0.0, 4.0 * d50, 400)
    _, log_p, log_q, *_ = fn(dose, d50, _slope(name, gamma50))
    assert np.all(np.diff(log_p) >= 0)
    assert np.all(np.diff(log_q) <= 0)


@pytest.mark.parametrize("p", [0.01, 0.05, 0.2, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("d50,gamma50", PARAMETERS)
def test_inverse_round_trip_through_numpy_dose_at(family, d50, gamma50, p):
    name, fn = family
    slope = _slope(name, gamma50)
    if CURVE_FAMILIES[name].probability(0.0, d50, slope) >= p:
        # the response at zero dose already exceeds p: the inverse must refuse, not extrapolate
        with pytest.raises(DoseResponseError):
            CURVE_FAMILIES[name].dose_at(p, d50, slope)
        return
    dose = CURVE_FAMILIES[name].dose_at(p, d50, slope)
    prob, *_ = fn(np.atleast_1d(dose), d50, slope)
    np.testing.assert_allclose(prob, p, rtol=1e-9)


@pytest.mark.parametrize("d50,gamma50", PARAMETERS)
def test_log_space_is_finite_in_the_tails(family, d50, gamma50):
    """Likelihood terms stay finite (with finite gradients) far from D50, including dose 0."""
    name, fn = family
    dose = np.array([1e-3 * d50, 0.3 * d50, 3.0 * d50, 6.0 * d50])
    _, log_p, log_q, _, *grads = fn(dose, d50, _slope(name, gamma50))
    assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(log_q))
    assert np.all(np.isfinite(grads))
    # at zero dose a non-responder's term log(1 - P) and its gradient stay finite
    _, _, log_q0, _, *grads0 = fn(np.array([0.0]), d50, _slope(name, gamma50))
    assert np.all(np.isfinite(log_q0))
    assert np.all(np.isfinite(grads0[2:]))


def test_aliases_resolve_to_the_same_twin():
    assert tensor_log_probabilities("lkb") is TENSOR_CURVES["probit"]
    assert tensor_log_probabilities("Weibull") is TENSOR_CURVES["cloglog"]
    assert get_curve_family("lkb").name == "probit"


def test_unknown_family_lists_valid_names():
    with pytest.raises(UnknownNameError, match="logistic"):
        tensor_probability("sigmoidal")
