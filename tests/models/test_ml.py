"""Tests for doseresponse.models.ml (maximum-likelihood dose-response fits).

Reference numbers: US EPA BMDS regression tests (USEPA/BMDS, tests/test_pybmds/conftest.py fixtures
``ddataset2``/``ddataset3`` and tests/test_pybmds/models/test_dichotomous.py); see
tests/reference/bmds_dichotomous.md for the table and what is (and is not) comparable.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from doseresponse.exceptions import (
    ConvergenceWarning,
    DoseResponseError,
    FitError,
    UnknownNameError,
)
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family
from doseresponse.models.ml import MLFit, compare_ml, fit_ml

# --- BMDS ddataset2 / ddataset3 (USEPA/BMDS tests/test_pybmds/conftest.py) ------------------
DOSE2 = np.array([0.0, 50.0, 100.0, 150.0, 200.0])
N2 = np.full(5, 100.0)
EVENTS2 = np.array([0.0, 5.0, 30.0, 65.0, 90.0])
DOSE3 = DOSE2
N3 = np.array([10.1, 10.2, 10.3, 10.4, 10.5])
EVENTS3 = np.array([0.0, 2.5, 3.5, 7.5, 9.5])

# --- expected values (USEPA/BMDS tests/test_pybmds/models/test_dichotomous.py) --------------
# test_dichotomous_models: (BMD, BMDL, BMDU), AIC; tolerances ±0.5 and ±3 as upstream.
BMDS_LOGISTIC = ((69.584, 61.193, 77.945), 364.0)
BMDS_PROBIT = ((66.883, 58.333, 75.368), 362.1)
# test_dichotomous_float_counts (ddataset3)
BMDS_LOGISTIC_FLOAT = ((47.2, 30.7, 69.5), 49.2)
# test_dichotomous_fit_parameters: loglik, AIC, GOF p, df, chi2; scaled residuals; deviance
BMDS_LOGISTIC_FIT = (-179.98, 363.96, 0.48, 3, 2.45)
BMDS_LOGISTIC_RESIDUALS = (-1.08, -0.42, 0.94, -0.14, -0.46)
BMDS_LOGISTIC_DEVIANCE = (3.57, 3, 0.311)
# dose_response_anchors.md §3C, recomputed MLE of logit P = a + b*dose
LOGIT_A, LOGIT_B = -4.4553, 0.03403

FAMILIES = sorted(CURVE_FAMILIES)


@pytest.fixture(scope="module")
def logistic2() -> MLFit:
    return fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2)


@pytest.fixture(scope="module")
def logistic2_bmd(logistic2):
    return logistic2.benchmark_dose(bmr=0.10, risk="extra", ci_prob=0.90)


def _simulate(family_name, d50, slope, rng, n_per_dose=400, doses=None):
    family = get_curve_family(family_name)
    doses = np.linspace(10.0, 90.0, 9) if doses is None else np.asarray(doses)
    n = np.full(doses.size, float(n_per_dose))
    events = rng.binomial(n.astype(int), family.probability(doses, d50, slope)).astype(float)
    return doses, events, n


# ============================================================================================
# BMDS reference fits
# ============================================================================================


def _assert_bmds_limits(result, reference):
    """Assert BMD, BMDL and BMDU of ``result`` lie within ±0.5 of a BMDS reference row."""
    (bmd, bmdl, bmdu), _ = reference
    assert result["bmd"] == pytest.approx(bmd, abs=0.5)
    assert result["bmdl"] == pytest.approx(bmdl, abs=0.5)
    assert result["bmdu"] == pytest.approx(bmdu, abs=0.5)


class TestBMDSLogistic:
    def test_bmd_bmdl_bmdu(self, logistic2_bmd):
        _assert_bmds_limits(logistic2_bmd, BMDS_LOGISTIC)
        # our own recomputation (anchors §3C): BMD 69.584, profile BMDL 61.19, BMDU 77.97
        assert logistic2_bmd["bmd"] == pytest.approx(69.584, abs=0.005)
        assert logistic2_bmd["bmdl"] == pytest.approx(61.19, abs=0.01)
        assert logistic2_bmd["bmdu"] == pytest.approx(77.97, abs=0.01)
        assert logistic2_bmd.method == "profile likelihood"
        assert logistic2_bmd.ci_prob == 0.90
        assert logistic2_bmd.interval == "confidence"
        # the BMDS names are the generic DoseAt fields under another name
        assert logistic2_bmd["bmd"] == logistic2_bmd.estimate == logistic2_bmd["estimate"]
        assert logistic2_bmd["bmdl"] == logistic2_bmd.lower
        assert logistic2_bmd["bmdu"] == logistic2_bmd.upper

    def test_aic_and_loglik(self, logistic2):
        loglik, aic, *_ = BMDS_LOGISTIC_FIT
        assert logistic2.aic == pytest.approx(BMDS_LOGISTIC[1], abs=3.0)
        assert logistic2.aic == pytest.approx(aic, abs=0.01)
        assert logistic2.loglik == pytest.approx(loglik, abs=0.01)
        assert logistic2.n_params == 2
        assert logistic2.n_obs == 500
        assert logistic2.bic == pytest.approx(-2 * logistic2.loglik + 2 * math.log(500))

    def test_glm_coefficients(self, logistic2):
        # logit P = a + b D with a = -4 gamma50, b = 4 gamma50 / D50
        gamma50, d50 = logistic2.params["gamma50"], logistic2.params["d50"]
        assert -4 * gamma50 == pytest.approx(LOGIT_A, abs=1e-3)
        assert 4 * gamma50 / d50 == pytest.approx(LOGIT_B, abs=1e-5)

    def test_goodness_of_fit(self, logistic2):
        _, _, p_value, df, chi2 = BMDS_LOGISTIC_FIT
        gof = logistic2.goodness_of_fit()
        assert gof["chi2"] == pytest.approx(chi2, abs=0.01)
        assert gof["df"] == df
        assert gof["p_value"] == pytest.approx(p_value, abs=0.01)
        assert gof["table"]["scaled_residual"].to_numpy() == pytest.approx(
            BMDS_LOGISTIC_RESIDUALS, abs=0.01
        )
        deviance, dev_df, dev_p = BMDS_LOGISTIC_DEVIANCE
        assert gof["deviance"] == pytest.approx(deviance, abs=0.01)
        assert gof["deviance_p_value"] == pytest.approx(dev_p, abs=0.01)
        assert gof["df"] == dev_df
        table = gof["table"]
        assert list(table.columns) == [
            "dose", "n", "events", "probability", "expected", "scaled_residual",
        ]
        assert table["expected"].sum() == pytest.approx(EVENTS2.sum(), rel=1e-6)  # logit score

    def test_added_risk_bmd_is_larger(self, logistic2, logistic2_bmd):
        # BMDS test_risk_type: extra-risk BMD < added-risk BMD when P(0) > 0
        added = logistic2.benchmark_dose(bmr=0.10, risk="added")
        assert added["bmd"] > logistic2_bmd["bmd"]
        p0 = logistic2.probability(0.0)
        assert float(logistic2.probability(added["bmd"])) == pytest.approx(p0 + 0.10, abs=1e-9)
        p_bmd = float(logistic2.probability(logistic2_bmd["bmd"]))
        assert (p_bmd - p0) / (1 - p0) == pytest.approx(0.10, abs=1e-9)
        assert logistic2_bmd["background"] == pytest.approx(float(p0))


def test_bmds_probit():
    fit = fit_ml(curve="probit", dose=DOSE2, events=EVENTS2, n=N2)
    _assert_bmds_limits(fit.benchmark_dose(), BMDS_PROBIT)
    assert fit.aic == pytest.approx(BMDS_PROBIT[1], abs=3.0)


def test_bmds_fractional_counts():
    fit = fit_ml(curve="logistic", dose=DOSE3, events=EVENTS3, n=N3)
    _assert_bmds_limits(fit.benchmark_dose(), BMDS_LOGISTIC_FLOAT)
    assert fit.aic == pytest.approx(BMDS_LOGISTIC_FLOAT[1], abs=3.0)
    assert fit.n_obs == pytest.approx(N3.sum())


# ============================================================================================
# engines: statsmodels GLM vs scipy
# ============================================================================================


@pytest.mark.parametrize("name", FAMILIES)
def test_glm_and_scipy_agree(name):
    glm = fit_ml(curve=name, dose=DOSE2, events=EVENTS2, n=N2, method="glm")
    opt = fit_ml(curve=name, dose=DOSE2, events=EVENTS2, n=N2, method="scipy")
    assert glm.method == "glm" and opt.method == "scipy"
    assert glm.converged and opt.converged
    np.testing.assert_allclose(opt.params.to_numpy(), glm.params.to_numpy(), rtol=1e-5)
    assert opt.loglik == pytest.approx(glm.loglik, abs=1e-7)
    np.testing.assert_allclose(
        opt.covariance.to_numpy(), glm.covariance.to_numpy(), rtol=1e-3, atol=1e-9
    )


@pytest.mark.parametrize("name", ["log-logistic", "cloglog"])
def test_glm_and_scipy_agree_with_covariate(name, rng):
    family = get_curve_family(name)
    dose = np.tile(np.linspace(10.0, 80.0, 8), 2)
    x = np.repeat([0.0, 1.0], 8)
    n = np.full(dose.size, 60.0)
    events = rng.binomial(60, family.probability(dose, 40.0 * np.exp(0.25 * x), 1.5)).astype(
        float
    )
    kw = {"dose": dose, "events": events, "n": n, "covariates": {"x": x}}
    glm = fit_ml(curve=name, method="glm", **kw)
    opt = fit_ml(curve=name, method="scipy", **kw)
    np.testing.assert_allclose(opt.params.to_numpy(), glm.params.to_numpy(), rtol=1e-5)
    assert opt.loglik == pytest.approx(glm.loglik, abs=1e-7)
    assert list(glm.params.index) == ["d50", "gamma50", "factor_x"]


def test_auto_engine_choice():
    assert fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2).method == "glm"
    rng = np.random.default_rng(5)
    x = rng.normal(size=5)
    fit = fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2, covariates={"x": x})
    assert fit.method == "scipy"
    with pytest.raises(DoseResponseError, match="not a GLM"):
        fit_ml(curve="probit", dose=DOSE2, events=EVENTS2, n=N2, covariates={"x": x},
               method="glm")


def test_logistic_matches_statsmodels_glm_directly(logistic2):
    exog = sm.add_constant(DOSE2)
    res = sm.GLM(np.column_stack([EVENTS2, N2 - EVENTS2]), exog,
                 family=sm.families.Binomial()).fit()
    a, b = res.params
    assert logistic2.params["d50"] == pytest.approx(-a / b, rel=1e-7)
    assert logistic2.params["gamma50"] == pytest.approx(-a / 4, rel=1e-7)
    # delta-method band on the logit scale equals the GLM's (observed = expected information
    # for the canonical link)
    grid = np.array([0.0, 75.0, 130.0, 190.0])
    band = logistic2.curve(grid, ci_prob=0.95)
    pred = res.get_prediction(sm.add_constant(grid, has_constant="add")).summary_frame()
    assert band.method == "delta method (logit link)" and band.interval == "confidence"
    np.testing.assert_allclose(band.estimate, pred["mean"], rtol=1e-6)
    np.testing.assert_allclose(band.lower, pred["mean_ci_lower"], rtol=1e-4)
    np.testing.assert_allclose(band.upper, pred["mean_ci_upper"], rtol=1e-4)


# ============================================================================================
# intervals
# ============================================================================================


def test_profile_and_delta_agree_on_big_sample(rng):
    dose, events, n = _simulate("logistic", 50.0, 2.0, rng, n_per_dose=5000)
    fit = fit_ml(curve="logistic", dose=dose, events=events, n=n)
    for p in (0.1, 0.5):
        prof = fit.dose_at(p, method="profile")
        delta = fit.dose_at(p, method="delta")
        assert prof["estimate"] == delta["estimate"]
        assert prof["lower"] == pytest.approx(delta["lower"], rel=2e-3)
        assert prof["upper"] == pytest.approx(delta["upper"], rel=2e-3)
        assert prof["lower"] < prof["estimate"] < prof["upper"]


def test_dose_at_matches_family_inverse(logistic2):
    res = logistic2.dose_at(0.25)
    family = get_curve_family("logistic")
    expected = family.dose_at(0.25, logistic2.params["d50"], logistic2.params["gamma50"])
    assert res["estimate"] == pytest.approx(float(expected), rel=1e-10)
    assert res.p == 0.25 and res.unit == "Gy"
    # D50's delta interval is the Wald interval of log D50 from summary_frame
    delta = logistic2.dose_at(0.5, method="delta")
    row = logistic2.summary_frame().loc["d50"]
    assert delta["lower"] == pytest.approx(row["lower"], rel=1e-9)
    assert delta["upper"] == pytest.approx(row["upper"], rel=1e-9)


def test_profile_interval_is_likelihood_cutoff(logistic2, logistic2_bmd):
    # at BMDL, the likelihood constrained to BMD = BMDL is chi2_1(0.9)/2 below the maximum
    from scipy import optimize, special, stats

    bmdl = logistic2_bmd["bmdl"]

    def negloglik_given_bmd(log_gamma):
        g = math.exp(log_gamma)
        p0 = special.expit(-4 * g)
        target = p0 + 0.1 * (1 - p0)
        d50 = bmdl / (1 + special.logit(target) / (4 * g))
        p = special.expit(4 * g * (DOSE2 / d50 - 1))
        return -np.sum(EVENTS2 * np.log(p) + (N2 - EVENTS2) * np.log1p(-p))

    best = optimize.minimize_scalar(negloglik_given_bmd, bounds=(-3, 3), method="bounded",
                                    options={"xatol": 1e-10})
    drop = -best.fun - logistic2.loglik
    assert drop == pytest.approx(-stats.chi2.ppf(0.90, 1) / 2, abs=1e-5)


def test_summary_frame(logistic2):
    table = logistic2.summary_frame(ci_prob=0.95)
    assert list(table.index) == ["d50", "gamma50"]
    assert list(table.columns) == ["estimate", "se", "lower", "upper", "se_log"]
    assert (table["lower"] < table["estimate"]).all()
    assert (table["estimate"] < table["upper"]).all()
    narrow = logistic2.summary_frame(ci_prob=0.5)
    assert (narrow["upper"] < table["upper"]).all()
    cov = logistic2.covariance.to_numpy()
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert table["se_log"].to_numpy() == pytest.approx(np.sqrt(np.diag(cov)))


@pytest.mark.parametrize("name", FAMILIES)
def test_curve_band(name):
    fit = fit_ml(curve=name, dose=DOSE2, events=EVENTS2, n=N2)
    band = fit.curve(np.linspace(0.0, 250.0, 11))
    assert (band.lower <= band.estimate + 1e-15).all()
    assert (band.estimate <= band.upper + 1e-15).all()
    assert ((band.lower >= 0) & (band.upper <= 1)).all()
    assert (band.upper[1:] - band.lower[1:] > 0).all()


# ============================================================================================
# simulated recovery and data input
# ============================================================================================


@pytest.mark.parametrize("name", FAMILIES)
def test_simulated_recovery(name, rng):
    family = get_curve_family(name)
    slope = 0.3 if family.slope_name == "m" else 1.5
    dose, events, n = _simulate(name, 45.0, slope, rng)
    fit = fit_ml(curve=name, dose=dose, events=events, n=n)
    table = fit.summary_frame(ci_prob=0.999)
    assert table.loc["d50", "lower"] < 45.0 < table.loc["d50", "upper"]
    assert table.loc[family.slope_name, "lower"] < slope < table.loc[family.slope_name, "upper"]
    assert fit.params["d50"] == pytest.approx(45.0, rel=0.05)


def test_covariate_recovery_from_dose_response_data(rng):
    from doseresponse.data import DoseResponseData

    n_pat = 1500
    dose = rng.uniform(5.0, 60.0, n_pat)
    x = rng.integers(0, 2, n_pat).astype(float)
    family = get_curve_family("logistic")
    y = rng.binomial(1, family.probability(dose, 30.0 * np.exp(0.3 * x), 1.5))
    frame = pd.DataFrame({"d": dose, "tox": y, "x": x,
                          "centre": np.where(np.arange(n_pat) % 3, "A", "B")})
    data = DoseResponseData.from_frame(frame, dose="d", outcome="tox", study="centre",
                                       covariates=["x"], dose_metric="BED")
    fit = fit_ml(data, "logistic", covariates=["x"])
    table = fit.summary_frame(ci_prob=0.999)
    assert table.loc["factor_x", "lower"] < math.exp(0.3) < table.loc["factor_x", "upper"]
    assert table.loc["d50", "lower"] < 30.0 < table.loc["d50", "upper"]
    # covariate-specific D50 = D50 * factor
    at1 = fit.dose_at(0.5, covariates={"x": 1.0}, method="delta")
    assert at1["estimate"] == pytest.approx(fit.params["d50"] * fit.params["factor_x"])
    assert float(fit.probability(at1["estimate"], {"x": 1.0})) == pytest.approx(0.5)
    with pytest.raises(DoseResponseError, match="not in the fit"):
        fit.probability(10.0, {"age": 1.0})
    with pytest.raises(DoseResponseError, match="not covariates of the data"):
        fit_ml(data, "logistic", covariates=["age"])


def test_patient_level_and_grouped_data_give_same_fit():
    from doseresponse.data import DoseResponseData

    rows = []
    for d, y, n in zip(DOSE2, EVENTS2, N2, strict=True):
        rows += [(d, 1)] * int(y) + [(d, 0)] * int(n - y)
    ipd = DoseResponseData.from_frame(pd.DataFrame(rows, columns=["dose", "y"]), dose="dose",
                                      outcome="y")
    grouped = DoseResponseData.from_frame(
        pd.DataFrame({"dose": DOSE2, "k": EVENTS2.astype(int), "n": N2.astype(int)}),
        dose="dose", events="k", n="n",
    )
    f_ipd = fit_ml(ipd, "logistic")
    f_grp = fit_ml(grouped, "logistic")
    arr = fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2)
    for fit in (f_ipd, f_grp):
        np.testing.assert_allclose(fit.params.to_numpy(), arr.params.to_numpy(), rtol=1e-6)
        assert fit.loglik == pytest.approx(arr.loglik, abs=1e-6)  # kernel log-likelihood
    assert f_ipd.n_rows == 500 and f_grp.n_rows == 5
    assert f_ipd.goodness_of_fit()["chi2"] == pytest.approx(arr.goodness_of_fit()["chi2"])


def test_zero_dose_rows_for_families_with_zero_background():
    # log-logistic: P(0) = 0, zero-dose rows without events contribute nothing
    with_zero = fit_ml(curve="log-logistic", dose=DOSE2, events=EVENTS2, n=N2)
    without = fit_ml(curve="log-logistic", dose=DOSE2[1:], events=EVENTS2[1:], n=N2[1:])
    np.testing.assert_allclose(with_zero.params.to_numpy(), without.params.to_numpy(), rtol=1e-6)
    assert with_zero.loglik == pytest.approx(without.loglik, abs=1e-8)
    events = EVENTS2.copy()
    events[0] = 1.0
    with pytest.raises(FitError, match=r"P\(0\) = 0 exactly"):
        fit_ml(curve="log-logistic", dose=DOSE2, events=events, n=N2)
    # a family with background accepts it
    assert fit_ml(curve="logistic", dose=DOSE2, events=events, n=N2).converged


def test_compare_ml():
    fits = [fit_ml(curve=c, dose=DOSE2, events=EVENTS2, n=N2) for c in ("logistic", "probit")]
    table = compare_ml(fits)
    assert list(table.index) == ["probit", "logistic"]  # probit has the lower AIC (362.1)
    assert table["aic_weight"].sum() == pytest.approx(1.0)
    assert table["delta_aic"].iloc[0] == 0.0
    assert table.loc["logistic", "aic"] == pytest.approx(fits[0].aic)
    labelled = compare_ml({"A": fits[0], "B": fits[1]})
    assert set(labelled.index) == {"A", "B"}
    other = fit_ml(curve="logistic", dose=DOSE3, events=EVENTS3, n=N3)
    with pytest.raises(DoseResponseError, match="different data"):
        compare_ml([fits[0], other])
    with pytest.raises(DoseResponseError, match="empty"):
        compare_ml([])


# ============================================================================================
# error paths
# ============================================================================================


def test_unknown_curve():
    with pytest.raises(UnknownNameError, match="logistic"):
        fit_ml(curve="gompertz", dose=DOSE2, events=EVENTS2, n=N2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dose": [-1.0, 50.0, 100.0], "events": [0, 1, 2], "n": [5, 5, 5]}, "dose must be >= 0"),
        ({"dose": [0.0, 50.0, 100.0], "events": [0, 6, 2], "n": [5, 5, 5]}, "must not exceed n"),
        ({"dose": [], "events": [], "n": []}, "empty"),
        ({"dose": [0.0, 50.0], "events": [0, 1, 2], "n": [5, 5, 5]}, "same length"),
        ({"dose": [0.0, 50.0], "events": [0, 1], "n": [5, 0]}, "n must be > 0"),
        ({"dose": [0.0, 50.0], "events": [0, -1], "n": [5, 5]}, "events must be >= 0"),
        ({"dose": [0.0, np.nan], "events": [0, 1], "n": [5, 5]}, "NaN"),
        ({"dose": None, "events": [0, 1], "n": [5, 5]}, "no data"),
    ],
)
def test_invalid_data(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        fit_ml(curve="logistic", **kwargs)


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ([0.0, 0.0, 0.0], "no events"),
        ([5.0, 5.0, 5.0], "only events"),
        ([0.0, 5.0, 5.0], "did not converge"),  # complete separation: infinite slope
    ],
)
def test_mle_does_not_exist(events, match):
    with pytest.raises(FitError, match=match):
        fit_ml(curve="logistic", dose=[10.0, 20.0, 30.0], events=events, n=[5, 5, 5],
               method="scipy")


def test_separation_with_glm_engine_raises_fit_error():
    with pytest.raises(FitError):
        fit_ml(curve="logistic", dose=[10.0, 20.0, 30.0], events=[0.0, 5.0, 5.0], n=[5, 5, 5])


def test_single_dose_and_constant_covariate():
    with pytest.raises(FitError, match="two distinct doses"):
        fit_ml(curve="logistic", dose=[20.0, 20.0], events=[1, 2], n=[5, 5])
    with pytest.raises(FitError, match="constant"):
        fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2,
               covariates={"x": np.ones(5)})


def test_non_strict_returns_unconverged_fit_with_warning():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = fit_ml(curve="logistic", dose=[10.0, 20.0, 30.0], events=[0.0, 5.0, 5.0],
                     n=[5, 5, 5], method="scipy", strict=False)
    assert not fit.converged
    assert np.isnan(fit.covariance.to_numpy()).all()


def test_argument_errors(logistic2):
    with pytest.raises(DoseResponseError, match="either data="):
        fit_ml(object(), dose=DOSE2, events=EVENTS2, n=N2)
    with pytest.raises(DoseResponseError, match="DoseResponseData"):
        fit_ml(pd.DataFrame({"dose": DOSE2}))
    with pytest.raises(DoseResponseError, match="method"):
        fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2, method="newton")
    with pytest.raises(DoseResponseError, match="mapping"):
        fit_ml(curve="logistic", dose=DOSE2, events=EVENTS2, n=N2, covariates=["x"])
    with pytest.raises(DoseResponseError, match="ci_prob"):
        logistic2.summary_frame(ci_prob=1.5)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        logistic2.dose_at(0.5, ci_prob=0.0)
    with pytest.raises(DoseResponseError, match="method"):
        logistic2.dose_at(0.5, method="wald")
    with pytest.raises(DoseResponseError, match="zero dose"):
        logistic2.dose_at(0.005)  # below the fitted background 0.0115
    with pytest.raises(DoseResponseError, match="risk"):
        logistic2.benchmark_dose(risk="relative")
    with pytest.raises(DoseResponseError, match="bmr"):
        logistic2.benchmark_dose(bmr=1.0)
    with pytest.raises(DoseResponseError, match="dose must be >= 0"):
        logistic2.probability(-1.0)


def test_repr_and_no_warnings_on_clean_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_ml(curve="poisson", dose=DOSE2, events=EVENTS2, n=N2)
    assert "poisson" in repr(fit) and "aic" in repr(fit)


def test_unbounded_profile_limit_warns():
    fit = fit_ml(curve="log-logistic", dose=[5.0, 10.0, 20.0], events=[0, 1, 2], n=[3, 3, 3])
    with pytest.warns(ConvergenceWarning, match="unbounded"):
        res = fit.dose_at(0.9)
    assert res["upper"] == math.inf
    assert 0 < res["lower"] < res["estimate"]
    delta = fit.dose_at(0.9, method="delta")  # the delta method always gives finite limits
    assert math.isfinite(delta["upper"])


def test_curve_name_first_with_arrays(logistic2):
    fit = fit_ml("logistic", dose=DOSE2, events=EVENTS2, n=N2)
    assert fit.params.to_numpy() == pytest.approx(logistic2.params.to_numpy())
    assert fit_ml(dose=DOSE2, events=EVENTS2, n=N2).family.name == "logistic"  # default
    with pytest.raises(DoseResponseError, match="two curve names"):
        fit_ml("logistic", "probit", dose=DOSE2, events=EVENTS2, n=N2)
