"""Fast tests of the model graph and of FittedModel maths, without MCMC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, UnknownNameError
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family
from doseresponse.models.design import bin_log_normal
from doseresponse.models.model import NTCPModel, TCPModel
from doseresponse.models.results import FittedModel

FAMILIES = sorted(CURVE_FAMILIES)
FAST = "FAST_COMPILE"  # python implementations: no C compilation in the fast suite


@pytest.fixture(scope="module")
def data() -> DoseResponseData:
    ipd = pd.DataFrame(
        {
            "centre": ["A"] * 6 + ["B"] * 5,
            "bed": [12.0, 20.0, 28.0, 35.0, 44.0, 60.0, 15.0, 25.0, 33.0, 47.0, 0.0],
            "tox": [0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0],
            "htn": [0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0],
        }
    )
    agg = pd.DataFrame(
        {
            "centre": ["C", "C", "C"],
            "bed": [18.0, 32.0, 50.0],
            "low": [10.0, 25.0, 40.0],
            "high": [24.0, 39.0, 70.0],
            "sd": [np.nan, 4.0, np.nan],
            "events": [1, 3, 6],
            "n": [8, 9, 7],
            "htn": [0.25, np.nan, 0.5],
        }
    )
    frame = pd.concat([ipd, agg], ignore_index=True)
    return DoseResponseData.from_frame(
        frame, dose="bed", outcome="tox", study="centre", events="events", n="n",
        dose_low="low", dose_high="high", dose_sd="sd", dose_summary="median",
        covariates=["htn"], dose_metric="BED", dose_unit="Gy",
    )


def test_dims_coords_and_named_variables(data):
    model = NTCPModel(curve="log-logistic", pool_slope=True).build(data)
    assert list(model.coords["study"]) == ["A", "B", "C"]
    assert list(model.coords["covariate"]) == ["htn"]
    assert len(model.coords["ipd_row"]) == 11 and len(model.coords["agg_row"]) == 3
    names = set(model.named_vars)
    for expected in ("log_d50", "d50", "log_slope", "gamma50", "tau", "z_d50", "d50_study",
                     "tau_slope", "z_slope", "gamma50_study", "log_factor", "factor",
                     "y_ipd", "y_agg"):
        assert expected in names
    assert model.named_vars_to_dims["d50_study"] == ("study",)
    assert model.named_vars_to_dims["factor"] == ("covariate",)
    assert model.named_vars_to_dims["y_ipd"] == ("ipd_row",)


def test_deterministic_nodes_at_fixed_values(data):
    model = NTCPModel(curve="logistic").build(data)
    fn = model.compile_fn(
        [model["d50"], model["d50_study"], model["factor"], model["gamma50"]],
        inputs=[model["log_d50"], model["tau"], model["z_d50"], model["log_factor"],
                model["log_slope"]],
        point_fn=False,
        mode=FAST,
    )
    z = np.array([-1.0, 0.5, 2.0])
    d50, d50_study, factor, gamma = fn(np.log(40.0), 0.3, z, np.array([np.log(0.7)]),
                                       np.log(1.5))
    np.testing.assert_allclose(d50, 40.0)
    np.testing.assert_allclose(d50_study, 40.0 * np.exp(0.3 * z))
    np.testing.assert_allclose(factor, [0.7])
    np.testing.assert_allclose(gamma, 1.5)


@pytest.mark.parametrize("curve", FAMILIES)
def test_likelihood_matches_an_independent_numpy_computation(data, curve):
    """Bernoulli rows + Binomial rows integrated over the bin's log-normal dose (scipy quad)."""
    model = NTCPModel(curve=curve, quadrature_nodes=21).build(data)
    family = get_curve_family(curve)
    slope = 1.3 if family.slope_name == "gamma50" else 0.3
    log_d50, tau, z, log_factor = np.log(35.0), 0.4, np.array([0.3, -0.8, 1.1]), np.log(0.8)
    point = model.initial_point()
    point.update({"log_d50": log_d50, "log_slope": np.log(slope), "tau_log__": np.log(tau),
                  "z_d50": z, "log_factor": np.array([log_factor])})
    loglik = model.compile_fn(
        model.logp(vars=[model["y_ipd"], model["y_agg"]], sum=True), mode=FAST
    )
    d50_study = 35.0 * np.exp(tau * z)

    ipd = data.ipd
    codes = data.study_codes("ipd")
    d50_i = d50_study[codes] * np.exp(log_factor * ipd["htn"].to_numpy())
    p = family.probability(ipd["dose"].to_numpy(), d50_i, slope)
    y = ipd["outcome"].to_numpy()
    with np.errstate(divide="ignore"):  # log(0) of P(0) = 0 in the unused branch
        expected = np.sum(np.where(y == 1, np.log(p), np.log1p(-p)))

    agg = data.aggregate
    mu, sigma = bin_log_normal(agg, median_reported=True)
    htn = agg["htn"].to_numpy()
    htn = np.where(np.isnan(htn), np.nanmean(np.r_[ipd["htn"].to_numpy(), htn]), htn)
    for j, row in enumerate(agg.itertuples()):
        d50_j = d50_study[2] * np.exp(log_factor * htn[j])
        if sigma[j] > 0:
            density = stats.lognorm(s=sigma[j], scale=np.exp(mu[j])).pdf
            p_bin = integrate.quad(
                lambda d, d50_j=d50_j, density=density: family.probability(d, d50_j, slope)
                * density(d), 0, np.inf, limit=200,
            )[0]
        else:
            p_bin = family.probability(row.dose, d50_j, slope)
        expected += stats.binom.logpmf(row.events, row.n, p_bin)
    np.testing.assert_allclose(loglik(point), expected, rtol=2e-6)


def test_bin_spread_from_sd_and_from_range(data):
    mu, sigma = bin_log_normal(data.aggregate, median_reported=True)
    # row 1: SD 4 around 32 -> sigma^2 = log(1 + (4/32)^2)
    np.testing.assert_allclose(sigma[1], np.sqrt(np.log1p((4 / 32) ** 2)))
    # row 0: range 10-24 with n = 8 (Wan et al. 2014 xi(n))
    xi = 2 * stats.norm.ppf((8 - 0.375) / (8 + 0.25))
    np.testing.assert_allclose(sigma[0], np.log(24 / 10) / xi)
    np.testing.assert_allclose(mu, np.log(data.aggregate["dose"].to_numpy()))


@pytest.mark.parametrize(
    "curve,pooling,pool_slope",
    [(c, "partial", True) for c in FAMILIES]
    + [("logistic", "partial", False), ("logistic", "complete", False),
       ("logistic", "none", False)],
)
def test_logp_and_gradient_finite(data, curve, pooling, pool_slope):
    model = TCPModel(curve=curve, pooling=pooling, pool_slope=pool_slope).build(data)
    point = model.initial_point()
    logp = model.compile_logp(mode=FAST)(point)
    grad = model.compile_dlogp(mode=FAST)(point)
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad)) and grad.size == sum(np.size(v) for v in point.values())


def test_point_dose_bins_without_integration(data):
    model = NTCPModel(aggregate_integration="dose").build(data)
    nodes = model["agg_dose_nodes"].get_value()
    assert nodes.shape == (3, 1)
    np.testing.assert_allclose(nodes[:, 0], data.aggregate["dose"].to_numpy())


def test_build_rejects_unknown_covariate(data):
    with pytest.raises(DoseResponseError, match="not in the data"):
        NTCPModel(covariates=["bmi"]).build(data)


# ------------------------------------------------------------------ fit-free FittedModel


def _fake_fit(data, curve="log-logistic", pooling="partial", seed=3, shift_chain=0.0):
    rng = np.random.default_rng(seed)
    chains, draws = 2, 250
    model = NTCPModel(curve=curve, pooling=pooling)
    spec = model.spec_for(data)
    slope_name = spec.slope_name
    post = {
        "d50": np.exp(rng.normal(np.log(40.0), 0.1, (chains, draws))),
        slope_name: np.exp(rng.normal(np.log(1.5), 0.1, (chains, draws))),
        "tau": np.abs(rng.normal(0.3, 0.05, (chains, draws))),
        "factor": np.exp(rng.normal(np.log(0.7), 0.05, (chains, draws, 1))),
        "d50_study": np.exp(rng.normal(np.log([35.0, 45.0, 50.0]), 0.1, (chains, draws, 3))),
    }
    post["d50"][1] += shift_chain
    groups = _arviz_compat.groups_from_arrays(
        post,
        {"diverging": np.zeros((chains, draws), dtype=bool)},
        coords={"study": list(data.studies), "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


def test_population_curve_is_the_posterior_average_of_numpy_curves(data):
    fit = _fake_fit(data)
    doses = np.array([0.0, 10.0, 40.0, 90.0])
    band = fit.curve(doses, which="population", covariates={"htn": 1}, ci_prob=0.9)
    d50 = fit.posterior["d50"].values.ravel() * fit.posterior["factor"].values.ravel()
    gamma = fit.posterior["gamma50"].values.ravel()
    prob = get_curve_family("log-logistic").probability(doses[None], d50[:, None], gamma[:, None])
    np.testing.assert_allclose(band.mean, prob.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(band.lower, np.quantile(prob, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(band.upper, np.quantile(prob, 0.95, axis=0), rtol=1e-12)
    assert band.to_frame().shape == (4, 5)
    assert (band.metric, band.unit, band.which) == ("BED", "Gy", "population")


def test_dose_at_population_and_named_study(data):
    fit = _fake_fit(data)
    res = fit.dose_at(0.05, which="population")
    d50 = fit.posterior["d50"].values.ravel()
    gamma = fit.posterior["gamma50"].values.ravel()
    draws = get_curve_family("log-logistic").dose_at(0.05, d50, gamma)
    np.testing.assert_allclose(res["draws"], draws)
    assert res["median"] == pytest.approx(np.median(draws))
    assert res["lower"] == pytest.approx(np.quantile(draws, 0.025))  # default ci_prob 0.95
    assert res.ci_prob == 0.95
    assert set(res) == {"mean", "median", "lower", "upper", "predictive", "draws"}
    assert res.label == "TD5" and res.unit == "Gy"
    # a named study uses its own D50
    study = fit.dose_at(0.5, which="C")
    np.testing.assert_allclose(study["draws"], fit.posterior["d50_study"].values[..., 2]
                               .ravel())


def test_new_study_is_wider_than_population_and_reproducible(data):
    fit = _fake_fit(data)
    pop = fit.dose_at(0.5, which="new_study")
    again = fit.dose_at(0.5, which="new_study")
    np.testing.assert_array_equal(pop["draws"], again["draws"])
    population = fit.dose_at(0.5, which="population")
    assert (pop["upper"] - pop["lower"]) > (population["upper"] - population["lower"])


def test_dose_at_below_zero_dose_response_counts_zero(data):
    fit = _fake_fit(data, curve="logistic")
    res = fit.dose_at(1e-4, which="population")
    assert res.n_at_zero > 0 and res["lower"] == 0.0


def test_prediction_errors_name_the_fix(data):
    fit = _fake_fit(data)
    with pytest.raises(UnknownNameError, match="population"):
        fit.curve([10.0], which="D")
    with pytest.raises(UnknownNameError, match="htn"):
        fit.curve([10.0], covariates={"bmi": 1})
    with pytest.raises(DoseResponseError, match="ci_prob"):
        fit.curve([10.0], ci_prob=1.5)
    none = _fake_fit(data, pooling="none")
    with pytest.raises(DoseResponseError, match="pooling='none'"):
        none.dose_at(0.5, which="population")


def test_summary_frame_and_diagnostics(data):
    fit = _fake_fit(data)
    frame = fit.summary_frame(ci_prob=0.9)
    assert {"mean", "sd", "median", "lower", "upper", "r_hat", "ess_bulk", "ess_tail"} <= set(
        frame.columns
    )
    assert "d50_study[C]" in frame.index and "factor[htn]" in frame.index
    diag = fit.diagnostics()
    assert list(diag["check"]) == ["divergences", "r_hat", "ess_bulk", "ess_tail"]
    assert bool(diag.set_index("check").loc["divergences", "ok"])
    assert "NTCP model" in fit.summary()


def test_failed_diagnostics_warn_with_the_fix(data):
    fit = _fake_fit(data, shift_chain=15.0)
    with pytest.warns(ConvergenceWarning, match=r"R-hat .* d50.*longer chains"):
        assert not fit.check()
