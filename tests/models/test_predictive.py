"""Decision semantics without MCMC: the two new-centre views and the predictive dose.

A synthetic posterior (known draws of D50, γ50, τ, factor) is wrapped in a FittedModel; every
expected number is computed here independently: Monte Carlo over many new-centre effects, or
adaptive quadrature (scipy.integrate.quad) of the curve over the normal new-centre effect, and
root finding (scipy.optimize.brentq) on the resulting mean curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import UnknownNameError
from doseresponse.models.model import NTCPModel
from doseresponse.models.results import FittedModel

N_DRAWS = 400


@pytest.fixture(scope="module")
def fit():
    frame = pd.DataFrame({
        "study": ["a"] * 4 + ["b"] * 4,
        "dose": [10.0, 20.0, 30.0, 40.0] * 2,
        "y": [0, 0, 1, 1, 0, 1, 0, 1],
        "htn": [0, 1, 0, 1, 0, 1, 1, 0],
    })
    data = DoseResponseData.from_frame(frame, dose="dose", outcome="y", study="study",
                                       covariates=["htn"], dose_metric="BED")
    spec = NTCPModel(curve="log-logistic").spec_for(data)
    rng = np.random.default_rng(7)
    shape = (2, N_DRAWS // 2)
    post = {
        "d50": np.exp(rng.normal(np.log(40.0), 0.08, shape)),
        "gamma50": np.exp(rng.normal(np.log(1.5), 0.1, shape)),
        "tau": np.abs(rng.normal(0.45, 0.05, shape)),
        "factor": np.exp(rng.normal(np.log(0.7), 0.05, (*shape, 1))),
        "d50_study": np.exp(rng.normal(np.log([35.0, 45.0]), 0.1, (*shape, 2))),
    }
    groups = _arviz_compat.groups_from_arrays(
        post, {"diverging": np.zeros(shape, dtype=bool)},
        coords={"study": ["a", "b"], "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


def _draws(fit, name):
    return fit.posterior[name].values.reshape(N_DRAWS, -1).squeeze()


def _averaged_by_quad(dose, d50, gamma, tau):
    """E_u[P(dose; d50 e^u, gamma)], u ~ N(0, tau^2), by adaptive quadrature (independent)."""
    def integrand(z):
        x = 4 * gamma * (np.log(dose) - np.log(d50) - tau * z)
        return special.expit(x) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return integrate.quad(integrand, -12, 12, epsabs=1e-13, epsrel=1e-11)[0]


def test_averaged_new_centre_curve_equals_adaptive_quadrature_per_draw(fit):
    doses = np.array([15.0, 30.0, 45.0])
    got = fit.probability_draws(doses, which="new_study", new_study="averaged")
    d50, gamma, tau = (_draws(fit, n) for n in ("d50", "gamma50", "tau"))
    for i in range(0, N_DRAWS, 57):
        expected = [_averaged_by_quad(d, d50[i], gamma[i], tau[i]) for d in doses]
        # 64-node Gauss–Hermite: ~5e-8 absolute here (the logistic's complex poles at distance
        # pi / (4 gamma tau) from the real axis limit the convergence rate); decisions need 1e-4
        np.testing.assert_allclose(got[i], expected, rtol=0.0, atol=1e-6)


def test_both_new_centre_views_have_the_same_mean(fit):
    doses = np.array([15.0, 30.0, 45.0])
    averaged = fit.curve(doses, which="new_study", new_study="averaged")
    means = []
    for seed in range(40):  # many independent sets of new-centre effects
        spread = fit.probability_draws(doses, which="new_study", new_study="spread",
                                       random_seed=seed)
        means.append(spread.mean(axis=0))
    means = np.array(means)
    mc_mean = means.mean(axis=0)
    mc_se = means.std(axis=0, ddof=1) / np.sqrt(len(means))
    assert np.all(np.abs(mc_mean - averaged.mean) < 4 * mc_se + 1e-12)
    # the averaged band holds only parameter uncertainty: narrower than the spread band
    spread_band = fit.curve(doses, which="new_study", new_study="spread")
    assert np.all(averaged.upper - averaged.lower < spread_band.upper - spread_band.lower)


def test_predictive_dose_is_where_the_predictive_risk_equals_p(fit):
    d50, gamma, tau = (_draws(fit, n) for n in ("d50", "gamma50", "tau"))

    def risk(dose):
        return np.mean([_averaged_by_quad(dose, d50[i], gamma[i], tau[i])
                        for i in range(N_DRAWS)])

    expected = optimize.brentq(lambda d: risk(d) - 0.05, 1.0, 100.0, xtol=1e-10)
    result = fit.dose_at(0.05, which="new_study")
    assert result["predictive"] == pytest.approx(expected, rel=1e-6)
    # the median of per-draw TD5s is a different quantity, and the repr says which is which
    assert abs(result["median"] - result["predictive"]) > 0.5
    assert "predictive" in repr(result) and "median of draws" in repr(result)
    # population: the predictive dose inverts the mean of the typical-centre curves
    pop = fit.dose_at(0.05)
    mean_curve = fit.curve(np.array([pop["predictive"]])).mean[0]
    assert mean_curve == pytest.approx(0.05, rel=1e-9)


def test_covariates_shift_every_view(fit):
    plain = fit.dose_at(0.05, which="new_study", new_study="averaged")
    htn = fit.dose_at(0.05, which="new_study", new_study="averaged", covariates={"htn": 1})
    factor = _draws(fit, "factor")
    # a D50 factor scales every dose of a log-logistic curve by the same per-draw factor
    np.testing.assert_allclose(htn["draws"], plain["draws"] * factor, rtol=1e-9)


def test_views_are_labelled_and_validated(fit):
    band = fit.curve([20.0], which="new_study", new_study="averaged")
    assert band.new_study_view == "averaged" and "averaged over centres" in band.header()
    assert fit.curve([20.0]).new_study_view == ""
    assert fit.dose_at(0.05, which="new_study").new_study_view == "spread"
    with pytest.raises(UnknownNameError, match="new_study"):
        fit.curve([20.0], which="new_study", new_study="median")
    assert (fit.kind, fit.dose_metric, fit.dose_unit, fit.curve_name) == (
        "NTCP", "BED", "Gy", "log-logistic"
    )
