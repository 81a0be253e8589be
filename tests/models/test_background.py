"""Background risk P = b + (1 - b) F: closed forms, extra-risk TDp, ML fits against US EPA BMDS,
ML recovery, predictions and saved files (no MCMC here; the sampler is in the slow file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.datasets import load_dataset
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.background import (
    DEFAULT_BACKGROUND_PRIOR,
    background_prior,
    extra_risk,
    total_risk,
)
from doseresponse.models.curves import get_curve_family
from doseresponse.models.io import load, save
from doseresponse.models.ml import MLFit, fit_ml
from doseresponse.models.ml_background import BackgroundMLFit, fit_ml_background
from doseresponse.models.model import NTCPModel
from doseresponse.models.predictive import draw_parameters
from doseresponse.models.results import FittedModel
from doseresponse.models.spec import ModelSpec
from doseresponse.simulate import simulate_cohort

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fits"

# US EPA BMDS, ddataset2 (doses 0-200, 0/5/30/65/90 of 100), BMR 10 % extra risk, 90 % two-sided
# limits; quoted in /work/shared/reference/dose_response_anchors.md §3C from USEPA/BMDS
# tests/test_pybmds/models/test_dichotomous.py; upstream tolerance +/- 0.5 dose units.
# BMDS log-logistic: g + (1 - g)/(1 + exp(-a - b ln D)); Weibull: g + (1 - g)(1 - exp(-b D^a))
# = this package's log-logistic and cloglog families with a background.
BMDS = {
    "cloglog": (64.26, 55.219, 72.815),
    "log-logistic": (68.361, 59.795, 76.012),
}


def test_extra_and_total_risk_are_inverse_closed_forms():
    b = np.array([0.0, 0.05, 0.3])
    f = np.array([0.1, 0.5, 0.9])
    p = total_risk(f, b)
    np.testing.assert_allclose(p, b + (1 - b) * f, rtol=1e-15)
    np.testing.assert_allclose(extra_risk(p, b), f, rtol=1e-14)
    with pytest.raises(DoseResponseError, match="below 1"):
        total_risk(0.1, 1.0)


def test_background_prior_settings_and_errors():
    assert background_prior(False) is None and background_prior(None) is None
    assert background_prior(True) == DEFAULT_BACKGROUND_PRIOR
    assert background_prior({"alpha": 2, "beta": 18})["alpha"] == 2.0
    with pytest.raises(DoseResponseError, match="unknown setting"):
        background_prior({"mean": 0.1})
    with pytest.raises(DoseResponseError, match=r"background\.alpha"):
        background_prior({"alpha": -1, "beta": 2})
    with pytest.raises(DoseResponseError, match="Beta"):
        background_prior("yes")
    # the default prior: Beta(1, 9), mean 0.1 and 95th percentile 0.283 (stated in the docs)
    assert stats.beta.mean(1, 9) == pytest.approx(0.1)
    assert stats.beta.ppf(0.95, 1, 9) == pytest.approx(1 - 0.05 ** (1 / 9), rel=1e-12)


@pytest.mark.parametrize("curve", sorted(BMDS))
def test_ml_background_fit_reproduces_bmds_benchmark_doses(curve):
    fit = fit_ml_background(load_dataset("bmds_ddataset2"), curve)
    assert fit.at_bound  # 0 of 100 respond at dose 0: BMDS's background estimate is 0 as well
    result = fit.dose_at(0.1, ci_prob=0.90)
    bmd, bmdl, bmdu = BMDS[curve]
    assert result.extra_risk
    assert result.estimate == pytest.approx(bmd, abs=0.5)
    assert result.lower == pytest.approx(bmdl, abs=0.5)
    if curve == "cloglog":
        assert result.upper == pytest.approx(bmdu, abs=0.5)
    else:  # measured: 77.67 vs BMDS 76.012; BMDS's BMDU search differs, ours is the profile
        assert bmdu < result.upper < bmdu + 2.0


@pytest.mark.parametrize("curve", sorted(BMDS))
def test_fit_ml_with_background_is_the_background_fit_and_matches_bmds(curve):
    bmds = load_dataset("bmds_ddataset2")
    fit = fit_ml(bmds, curve, background=True)
    assert isinstance(fit, BackgroundMLFit)
    result = fit.dose_at(0.1, ci_prob=0.90)
    bmd, bmdl, _ = BMDS[curve]  # US EPA BMDS (see BMDS above), tolerance +/- 0.5
    assert result.extra_risk
    assert result.estimate == pytest.approx(bmd, abs=0.5)
    assert result.lower == pytest.approx(bmdl, abs=0.5)
    direct = fit_ml_background(bmds, curve)  # one implementation: identical optimum
    np.testing.assert_allclose(fit.theta.to_numpy(), direct.theta.to_numpy(), rtol=0, atol=0)
    # array input and the default (no background) still give the plain fit
    arrays = fit_ml(curve, dose=[0, 50, 100, 150, 200], events=[0, 5, 30, 65, 90],
                    n=[100] * 5, background=True)
    assert arrays.dose_at(0.1).estimate == pytest.approx(bmd, abs=0.5)
    assert isinstance(fit_ml(bmds, curve), MLFit)


def test_fit_ml_background_option_errors_name_the_argument():
    bmds = load_dataset("bmds_ddataset2")
    with pytest.raises(DoseResponseError, match="not a GLM"):
        fit_ml(bmds, "log-logistic", background=True, method="glm")
    with pytest.raises(DoseResponseError, match="background must be True or False"):
        fit_ml(bmds, "log-logistic", background="yes")


def test_extra_risk_tdp_is_not_the_total_risk_dose():
    """With b = 0.2 the TD10 solves F = 0.1, i.e. P = 0.28; the total-risk root is lower."""
    family = get_curve_family("log-logistic")
    params = draw_parameters(family, log_d50=np.log([40.0]), log_slope=np.log([2.0]),
                             background=np.array([0.2]))
    doses, _ = params.dose_at_draws(0.1)
    np.testing.assert_allclose(doses, family.dose_at(0.1, 40.0, 2.0), rtol=1e-12)
    p_at = params.probability(doses)[0, 0]
    assert p_at == pytest.approx(0.2 + 0.8 * 0.1, rel=1e-10)
    assert extra_risk(p_at, 0.2) == pytest.approx(0.1, rel=1e-10)
    assert params.predictive_dose(0.1) == pytest.approx(doses[0], rel=1e-9)
    np.testing.assert_allclose(params.probability(np.zeros(1)), 0.2, rtol=1e-12)


@pytest.mark.parametrize("curve", ["log-logistic", "probit"])
def test_ml_background_recovers_known_truth(curve):
    slope = 2.0 if curve == "log-logistic" else 0.25
    sim = simulate_cohort(curve=curve, d50=40.0, slope=slope, n_studies=1,
                          patients_per_study=4000, background=0.15,
                          dose_distribution=(30.0, 0.8), random_seed=5)
    assert sim.truth.background == 0.15
    fit = fit_ml_background(sim.data, curve)
    se = np.sqrt(np.diag(fit.covariance.to_numpy()))
    truth = np.array([np.log(40.0), np.log(slope)])
    z = (fit.theta.to_numpy()[:2] - truth) / se[:2]
    assert np.all(np.abs(z) < 3.5), z
    assert fit.background == pytest.approx(0.15, abs=0.05)
    # total risk at 0 is b + (1 - b) F(0) (F(0) = Phi(-1/m) > 0 for probit); TD10 near the truth
    f0 = float(fit.family.probability(0.0, fit.params["d50"], fit.params[fit.family.slope_name]))
    assert fit.probability(0.0) == pytest.approx(fit.background + (1 - fit.background) * f0,
                                                 rel=1e-12)
    assert fit.dose_at(0.1, method="delta").estimate == pytest.approx(sim.truth.td(0.1), rel=0.15)


def test_simulated_background_raises_the_zero_dose_rate():
    sim = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=2,
                          patients_per_study=1500, background=0.2,
                          dose_distribution=(1e-3, 0.1), random_seed=3)
    rate = sim.data.ipd["outcome"].mean()
    assert rate == pytest.approx(0.2, abs=0.03)  # 3000 Bernoulli(0.2): SE 0.0073
    assert sim.truth.probability(0.0) == pytest.approx(0.2)
    with pytest.raises(DoseResponseError, match="background"):
        simulate_cohort(curve="logistic", d50=40.0, slope=2.0, background=1.0, random_seed=1)


# ---------------------------------------------------------------------------- spec and files


def test_spec_without_background_keeps_its_json_and_digest():
    spec = ModelSpec(kind="NTCP", curve="probit")
    payload = spec.to_dict()
    assert "background" not in payload  # the layout written before the option existed
    assert ModelSpec.from_dict(payload) == spec
    with_bg = ModelSpec(kind="NTCP", curve="probit", background=True,
                        priors={"background": dict(DEFAULT_BACKGROUND_PRIOR)})
    assert with_bg.to_dict()["background"] is True
    assert ModelSpec.from_json(with_bg.to_json()) == with_bg
    with pytest.raises(DoseResponseError, match="background"):
        ModelSpec(kind="NTCP", curve="probit", background="yes")


@pytest.mark.filterwarnings("ignore::doseresponse.exceptions.UnverifiedFitWarning")
@pytest.mark.parametrize("name", ["ntcp_pymc5_arviz0.nc", "ntcp_pymc6_arviz1.nc"])
def test_files_written_before_the_background_option_still_load(name):
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(f"fixture {path} is missing")
    fit = load(path)
    assert fit.spec.background is False
    assert "background" not in json.loads(fit.spec.to_json())


@pytest.fixture(scope="module")
def background_fit(three_centre_ipd_frame) -> FittedModel:
    data = DoseResponseData.from_frame(
        three_centre_ipd_frame, dose="bed", outcome="tox", study="study", covariates=["htn"],
        dose_metric="BED", dose_unit="Gy",
    )
    spec = NTCPModel(curve="log-logistic", background=True).spec_for(data)
    rng = np.random.default_rng(4)
    shape = (2, 200)
    groups = _arviz_compat.groups_from_arrays(
        {
            "d50": np.exp(rng.normal(np.log(40.0), 0.1, shape)),
            "gamma50": np.exp(rng.normal(np.log(1.5), 0.1, shape)),
            "tau": np.abs(rng.normal(0.3, 0.05, shape)),
            "factor": np.exp(rng.normal(np.log(0.75), 0.05, (*shape, 1))),
            "d50_study": np.exp(rng.normal(np.log(40.0), 0.2, (*shape, 3))),
            "background": rng.beta(8.0, 40.0, shape),
        },
        {"diverging": np.zeros(shape, dtype=bool)},
        coords={"study": list(data.studies), "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


def test_fitted_curves_include_the_background_and_tdp_is_extra_risk(background_fit):
    fit = background_fit
    b = np.asarray(fit.posterior["background"]).reshape(-1)
    at_zero = fit.probability_draws([0.0])[:, 0]
    np.testing.assert_allclose(at_zero, b, rtol=1e-12)  # log-logistic F(0) = 0
    td = fit.dose_at(0.05)
    assert td.extra_risk and "extra risk" in repr(td)
    d50 = np.exp(np.log(np.asarray(fit.posterior["d50"]).reshape(-1)))
    gamma = np.asarray(fit.posterior["gamma50"]).reshape(-1)
    np.testing.assert_allclose(td.draws, get_curve_family("log-logistic").dose_at(0.05, d50, gamma),
                               rtol=1e-10)
    band = fit.curve([0.0, 40.0, 80.0], which="new_study", new_study="averaged")
    assert band.mean[0] == pytest.approx(b.mean(), rel=1e-10)
    assert "background" in fit.summary_frame().index
    assert "EXTRA risk" in fit.summary()


def test_background_fit_round_trips_through_a_saved_file(tmp_path, background_fit):
    path = tmp_path / "bg.nc"
    save(background_fit, path)
    loaded = load(path)
    assert loaded.spec.background and loaded.spec == background_fit.spec
    np.testing.assert_allclose(loaded.curve([0.0, 30.0, 60.0]).mean,
                               background_fit.curve([0.0, 30.0, 60.0]).mean, rtol=1e-14)


def test_report_states_the_background_and_the_prior_check(background_fit):
    from doseresponse.report import lookup_payload
    from doseresponse.report.build import _section_model

    payload = lookup_payload(background_fit, "ntcp", max_draws=50)
    assert len(payload["background"]) == 50
    assert all(0.0 < b < 1.0 for b in payload["background"])
    html = _section_model({"ntcp": background_fit}, 0.95)  # the report's "Model and priors"
    assert "Do the data agree with the prior?" in html
    assert "prior predictive p =" in html
    assert "EXTRA risk" in html


def test_pointwise_log_likelihood_includes_the_background(background_fit):
    """LOO / PPC rows use b + (1 - b) F, checked against the kernel's log pair by hand."""
    from doseresponse.models.checks import row_probabilities
    from doseresponse.models.curves import log_pair

    fit = background_fit
    probs = row_probabilities(fit)
    key = next(iter(probs))
    b = np.asarray(fit.posterior["background"]).reshape(-1)
    d50 = np.asarray(fit.posterior["d50_study"]).reshape(b.size, -1)
    gamma = np.asarray(fit.posterior["gamma50"]).reshape(-1)
    factor = np.asarray(fit.posterior["factor"]).reshape(b.size, -1)[:, 0]
    ipd = fit.data.ipd
    study = [list(fit.data.studies).index(s) for s in ipd["study"]]
    row_d50 = d50[:, study] * factor[:, None] ** ipd["htn"].to_numpy()[None, :]
    log_f, _ = log_pair("log-logistic", ipd["dose"].to_numpy()[None, :], row_d50,
                        gamma[:, None])
    expected = b[:, None] + (1 - b[:, None]) * np.exp(log_f)
    np.testing.assert_allclose(np.asarray(probs[key]).reshape(expected.shape), expected,
                               rtol=1e-10)


def test_prior_predictive_curves_include_the_background_prior(background_fit):
    from doseresponse.models.prior_predictive import prior_predictive_curves

    curves = prior_predictive_curves(background_fit.spec, background_fit.data, n_draws=4000,
                                     dose_grid=[0.0, 40.0], random_seed=3)
    at_zero = curves.probability[:, 0]  # log-logistic: F(0) = 0, so P(0) = b ~ Beta(1, 9)
    assert stats.kstest(at_zero, stats.beta(1, 9).cdf).pvalue > 0.001


@pytest.mark.parametrize("background, priors, expected", [
    (False, None, 0.95), (True, None, 0.95), (False, "estimate", 0.99), (True, "estimate", 0.99),
])
def test_default_target_accept_is_higher_for_estimated_weight_models_only(
    monkeypatch, background, priors, expected
):
    import doseresponse.models.model as model_module
    from doseresponse.models.literature_priors import literature_prior

    seen = {}

    class _Stop(Exception):
        pass

    def record(density, **settings):
        seen.update(settings)
        raise _Stop

    monkeypatch.setattr(model_module, "sample_density", record)
    if priors == "estimate":
        priors = literature_prior("kidney-burman1991", curve="log-logistic",
                                  a0="estimate").priors
    model = NTCPModel(curve="log-logistic", background=background, priors=priors)
    data = simulate_cohort(curve="log-logistic", d50=40.0, slope=1.5, n_studies=2,
                           patients_per_study=30, random_seed=1).data
    with pytest.raises(_Stop):
        model.fit(data, draws=10, tune=10, chains=1, check=False)
    assert seen["target_accept"] == expected
    with pytest.raises(_Stop):  # an explicit value wins
        model.fit(data, draws=10, tune=10, chains=1, check=False, target_accept=0.9)
    assert seen["target_accept"] == 0.9
