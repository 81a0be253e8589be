"""Posterior predictive checks, pointwise log-likelihood, LOO/WAIC and compare (fast).

The log-likelihood is checked against an independent scipy computation on fake posteriors (every
curve family, patient and aggregate rows) and against PyMC's own ``compute_log_likelihood`` on a
tiny real fit; LOO/WAIC/compare run on tiny real fits (2 chains × 100 draws, seconds). The
same assertions run on both supported stacks (ArviZ 0.x and 1.x): results are package-owned.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import integrate, stats

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models import checks
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family
from doseresponse.models.design import bin_log_normal
from doseresponse.models.hierarchical import build_model
from doseresponse.models.io import load
from doseresponse.models.model import NTCPModel
from doseresponse.models.results import FittedModel

FAMILIES = sorted(CURVE_FAMILIES)


@pytest.fixture(scope="module")
def mixed_data(three_centre_ipd_frame) -> DoseResponseData:
    """Three IPD centres (60 patients, hypertension) plus one published table of 3 dose bins."""
    agg = pd.DataFrame(
        {"study": ["D", "D", "D"], "bed": [18.0, 32.0, 50.0], "low": [10.0, 25.0, 40.0],
         "high": [24.0, 39.0, 70.0], "events": [1, 3, 6], "n": [8, 9, 7],
         "htn": [0.25, np.nan, 0.5]}
    )
    return DoseResponseData.from_frame(
        pd.concat([three_centre_ipd_frame, agg], ignore_index=True), dose="bed", outcome="tox",
        study="study", events="events", n="n", dose_low="low", dose_high="high",
        dose_summary="median", covariates=["htn"], dose_metric="BED", dose_unit="Gy",
    )


def fake_fit(data, curve="logistic", *, d50=40.0, spread=0.1, seed=3, quadrature_nodes=9,
             pooling="partial"):
    """A FittedModel from a made-up posterior (no sampling)."""
    rng = np.random.default_rng(seed)
    spec = NTCPModel(curve=curve, pooling=pooling, quadrature_nodes=quadrature_nodes).spec_for(
        data
    )
    shape = (2, 150)
    slope = 1.5 if spec.slope_name == "gamma50" else 0.25
    n_study = len(data.studies)
    post = {
        "d50": np.exp(rng.normal(np.log(d50), spread, shape)),
        spec.slope_name: np.exp(rng.normal(np.log(slope), spread, shape)),
        "tau": np.abs(rng.normal(0.2, 0.05, shape)),
        "factor": np.exp(rng.normal(np.log(0.75), 0.05, (*shape, 1))),
        "d50_study": np.exp(rng.normal(np.log(d50), 0.15, (*shape, n_study))),
    }
    groups = _arviz_compat.groups_from_arrays(
        post,
        {"diverging": np.zeros(shape, dtype=bool)},
        coords={"study": list(data.studies), "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


@pytest.fixture(scope="module")
def real_fits(mixed_data) -> dict[str, FittedModel]:
    fits = {}
    for curve in ("logistic", "log-logistic"):  # probit compiles slowly (C erfcx, ~16 s)
        fits[curve] = NTCPModel(curve=curve).fit(
            mixed_data, draws=100, tune=150, chains=2, random_seed=5, check=False
        )
    return fits


# ------------------------------------------------------------------ log-likelihood


@pytest.mark.parametrize("curve", FAMILIES)
def test_log_likelihood_matches_independent_scipy(mixed_data, curve):
    fit = fake_fit(mixed_data, curve, quadrature_nodes=21)
    ll = checks.log_likelihood(fit).log_likelihood
    assert ll["y_ipd"].dims == ("chain", "draw", "ipd_row")
    assert ll["y_agg"].dims == ("chain", "draw", "agg_row")
    family = get_curve_family(curve)
    post = fit.posterior
    d50_s = post["d50_study"].values.reshape(-1, 4)
    slope = post[fit.spec.slope_name].values.ravel()
    factor = post["factor"].values.reshape(-1)
    ipd, agg = mixed_data.ipd, mixed_data.aggregate
    codes = mixed_data.study_codes("ipd")
    htn = ipd["htn"].to_numpy()
    d50_i = d50_s[:, codes] * factor[:, None] ** htn[None, :]
    p = family.probability(ipd["dose"].to_numpy()[None, :], d50_i, slope[:, None])
    expected = stats.bernoulli.logpmf(ipd["outcome"].to_numpy()[None, :], p)
    np.testing.assert_allclose(ll["y_ipd"].values.reshape(-1, 60), expected, rtol=1e-9,
                               atol=1e-12)  # scipy: log(1 - p) loses digits where p ~ 1

    mu, sigma = bin_log_normal(agg, median_reported=True)
    htn_agg = agg["htn"].to_numpy()
    htn_agg = np.where(np.isnan(htn_agg), np.nanmean(np.r_[htn, htn_agg]), htn_agg)
    got = ll["y_agg"].values.reshape(-1, 3)
    # a few draws (scipy quadrature is slow); 21 Gauss-Hermite nodes agree to ~1e-5
    for s in (0, 77, 299):
        for j, row in enumerate(agg.itertuples()):
            d50_j = d50_s[s, 3] * factor[s] ** htn_agg[j]
            density = stats.lognorm(s=sigma[j], scale=np.exp(mu[j])).pdf
            p_bin = integrate.quad(
                lambda d, d50_j=d50_j, density=density, s=s: family.probability(
                    d, d50_j, slope[s]
                ) * density(d), 0, np.inf, limit=200,
            )[0]
            np.testing.assert_allclose(
                got[s, j], stats.binom.logpmf(row.events, row.n, p_bin), rtol=1e-4
            )


def test_log_likelihood_matches_pymc_on_a_real_fit(mixed_data, real_fits):
    for fit in real_fits.values():
        ours = checks.log_likelihood(fit).log_likelihood
        model = build_model(fit.spec, mixed_data)
        theirs = pm.compute_log_likelihood(
            fit.idata.copy(), model=model, progressbar=False, extend_inferencedata=False
        )
        for name in ("y_ipd", "y_agg"):
            np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9,
                                       atol=1e-12)


def test_log_likelihood_survives_save_and_load(tmp_path, real_fits):
    fit = real_fits["logistic"]
    fit.save(tmp_path / "fit.nc")
    loaded = load(tmp_path / "fit.nc")
    a = checks.log_likelihood(fit).log_likelihood
    b = checks.log_likelihood(loaded).log_likelihood
    np.testing.assert_array_equal(a["y_ipd"].values, b["y_ipd"].values)
    assert "log_likelihood" not in fit.groups  # the fit itself is not modified


def test_far_tail_rows_stay_finite(mixed_data):
    """A patient with toxicity far below D50 has a tiny but finite likelihood."""
    fit = fake_fit(mixed_data, "cloglog", d50=1e8)
    ll = checks.log_likelihood(fit).log_likelihood
    assert np.isfinite(ll["y_ipd"].values).all() and np.isfinite(ll["y_agg"].values).all()
    assert ll["y_ipd"].values.min() < -50


# ------------------------------------------------------------------ posterior predictive


def test_posterior_predictive_is_seeded_and_has_the_right_shape(mixed_data):
    fit = fake_fit(mixed_data)
    a = checks.posterior_predictive(fit, random_seed=1)
    b = checks.posterior_predictive(fit, random_seed=1)
    c = checks.posterior_predictive(fit, random_seed=2)
    rep = a.posterior_predictive
    assert rep["y_ipd"].shape == (2, 150, 60) and rep["y_agg"].shape == (2, 150, 3)
    np.testing.assert_array_equal(rep["y_agg"].values, b.posterior_predictive["y_agg"].values)
    assert not np.array_equal(rep["y_ipd"].values, c.posterior_predictive["y_ipd"].values)
    assert set(np.unique(rep["y_ipd"].values)) <= {0, 1}
    assert (rep["y_agg"].values <= np.array([8, 9, 7])).all()
    np.testing.assert_array_equal(a.observed_data["y_agg"].values, [1, 3, 6])
    # replicate means estimate the row probabilities
    probs = checks.row_probabilities(fit)
    np.testing.assert_allclose(
        rep["y_ipd"].values.mean(axis=(0, 1)).mean(), probs["ipd"].mean(), atol=0.02
    )


def test_posterior_predictive_rejects_bad_seed(mixed_data):
    with pytest.raises(DoseResponseError, match="random_seed"):
        checks.posterior_predictive(fake_fit(mixed_data), random_seed=-1)
    with pytest.raises(DoseResponseError, match="FittedModel"):
        checks.posterior_predictive("fit.nc", random_seed=1)


# ------------------------------------------------------------------ PPC tables


def test_ppc_table_by_study_counts(mixed_data):
    fit = fake_fit(mixed_data)
    table = checks.ppc_table(fit, by="study", random_seed=4)
    assert list(table.index) == ["A", "B", "C", "D"]
    assert table.index.name == "study"
    np.testing.assert_array_equal(table["n"], [20, 20, 20, 24])
    assert table["events"]["D"] == 10
    assert table["events"].sum() == mixed_data.n_events
    assert ((table["p_value"] >= 0) & (table["p_value"] <= 1)).all()
    assert (table["lower"] <= table["expected"]).all()
    assert (table["expected"] <= table["upper"]).all()
    flagged = (table["events"] < table["lower"]) | (table["events"] > table["upper"])
    np.testing.assert_array_equal(table["outside"], flagged)
    pd.testing.assert_frame_equal(table, checks.ppc_table(fit, by="study", random_seed=4))


def test_ppc_table_by_dose_bin(mixed_data):
    fit = fake_fit(mixed_data)
    table = checks.ppc_table(fit, by="dose_bin", n_bins=3, ci_prob=0.9)
    assert len(table) == 3 and table.index.name == "dose_bin"
    assert table["n"].sum() == mixed_data.n_patients
    assert (np.diff(table["dose_median"]) > 0).all()
    assert (table["dose_low"] <= table["dose_median"]).all()
    assert table.attrs["ci_prob"] == 0.9
    assert all(label.endswith("Gy") for label in table.index)


def test_ppc_flags_a_misfitting_model(mixed_data):
    """A posterior with D50 = 150 Gy predicts far too few events: p-values near 0, flags."""
    fit = fake_fit(mixed_data, d50=150.0)
    table = checks.ppc_table(fit, by="study")
    assert table["outside"].sum() >= 3
    assert (table["p_value"] < 0.01).sum() >= 3


def test_ppc_table_bad_arguments(mixed_data):
    fit = fake_fit(mixed_data)
    with pytest.raises(UnknownNameError, match="dose_bin"):
        checks.ppc_table(fit, by="centre")
    with pytest.raises(DoseResponseError, match="n_bins"):
        checks.ppc_table(fit, by="dose_bin", n_bins=0)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        checks.ppc_table(fit, ci_prob=94)


# ------------------------------------------------------------------ LOO / WAIC / compare


def test_loo_and_waic_on_a_real_fit(real_fits):
    fit = real_fits["logistic"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small-sample WAIC variance warnings
        result = checks.loo(fit)
        info = checks.waic(fit)
    assert isinstance(result, checks.ELPDResult) and result.kind == "loo"
    assert result.pareto_k.shape == (63,) and result.elpd_i.shape == (63,)
    assert result.n_observations == 63 and result.n_samples == 200
    assert [result.observations[i] for i in (0, 60)] == ["ipd:0", "agg:0"]
    assert result.arviz is not None  # ArviZ's own object for power users
    # ELPD of 63 rows of binary/binomial data: negative, and p_loo about the parameter count
    assert -80 < result.elpd < -15
    assert 1 < result.p < 10
    assert 0 < result.se < 20
    np.testing.assert_allclose(result.elpd, result.elpd_i.sum(), rtol=1e-12)
    np.testing.assert_allclose(result.se, np.sqrt(63) * np.std(result.elpd_i, ddof=1),
                               rtol=1e-12)
    assert info.kind == "waic" and info.pareto_k is None
    assert abs(info.elpd - result.elpd) < 2
    frame = result.to_frame()
    assert list(frame.columns) == ["label", "elpd_i", "pareto_k"]
    assert frame.index[60] == "agg:0" and frame["label"].iloc[60].startswith("agg_row 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert fit.loo().elpd == result.elpd  # FittedModel delegates (same numbers: no RNG)
        assert fit.waic().elpd == info.elpd
        summary = checks.loo(fit, pointwise=False)
    assert summary.elpd_i is None and summary.pareto_k is None and summary.elpd == result.elpd
    with pytest.raises(DoseResponseError, match="pointwise=True"):
        summary.to_frame()


def test_waic_matches_its_formula(mixed_data):
    """WAIC is the package's own (ArviZ 1.x has none): check it against the textbook formula."""
    fit = fake_fit(mixed_data)
    ll = np.concatenate(
        [checks.log_likelihood(fit).log_likelihood[k].values.reshape(300, -1)
         for k in ("y_ipd", "y_agg")], axis=1,
    )
    lppd_i = np.log(np.mean(np.exp(ll), axis=0))
    var_i = np.var(ll, axis=0, ddof=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        info = checks.waic(fit)
    # rtol 1e-10: the same sums in a different order (logsumexp vs mean of exp)
    np.testing.assert_allclose(info.elpd_i, lppd_i - var_i, rtol=1e-10)
    np.testing.assert_allclose(info.p, var_i.sum(), rtol=1e-10)
    assert info.warning == bool((var_i > checks.WAIC_VAR_MAX).any())


def test_loo_warns_naming_influential_rows(mixed_data):
    """Wildly spread fake draws make the rows' log-likelihoods heavy-tailed (large Pareto k)."""
    fit = fake_fit(mixed_data, "log-logistic", spread=1.5)
    with pytest.warns(UserWarning, match=r"Pareto k > 0\.7: ipd_row \d+ \(study [ABC]"):
        checks.loo(fit)


def test_compare_ranks_fits_and_names_them(real_fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = checks.compare(list(real_fits.values()), ic="loo")
        by_name = checks.compare(real_fits, ic="waic")
    assert set(table.index) == {"logistic/partial", "log-logistic/partial"}
    assert list(table.columns) == [
        "rank", "elpd", "p", "elpd_diff", "se", "dse", "weight", "pseudo_bma_weight", "verdict",
        "warning", "curve", "pooling",
    ]
    assert {k: table.attrs[k] for k in ("ic", "scale")} == {"ic": "loo", "scale": "log"}
    assert table.attrs["ic_reason"] == "PSIS-LOO, as requested (ic='loo')"
    assert table.attrs["verdict"].startswith("Best by LOO")
    assert set(table["curve"]) == {"logistic", "log-logistic"}
    assert (table["pooling"] == "partial").all()
    assert list(table["rank"]) == [0, 1]
    assert table["elpd"].is_monotonic_decreasing
    assert table["elpd_diff"].iloc[0] == 0.0 and table["dse"].iloc[0] == 0.0
    assert table["elpd_diff"].iloc[1] >= 0 and table["dse"].iloc[1] > 0
    np.testing.assert_allclose(table["weight"].sum(), 1.0, rtol=1e-9)  # optimiser tolerance
    assert ((table["weight"] >= 0) & (table["weight"] <= 1)).all()
    assert set(by_name.index) == {"logistic", "log-logistic"}
    assert by_name.attrs["ic"] == "waic"


def test_compare_defaults_to_psis_loo_when_every_pareto_k_is_fine(three_centre_ipd_frame):
    """The default ic='auto' needs no refit when PSIS-LOO is reliable, and says so."""
    data = DoseResponseData.from_frame(
        three_centre_ipd_frame, dose="bed", outcome="tox", study="study", covariates=["htn"],
        dose_metric="BED", dose_unit="Gy",
    )
    fits = {"a": fake_fit(data, seed=3, spread=0.02),
            "b": fake_fit(data, d50=45.0, seed=8, spread=0.02)}
    for fit in fits.values():
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no Pareto k warning: LOO is fine
            assert not checks.loo(fit).warning
    table = checks.compare(fits)
    assert table.attrs["ic"] == "loo"
    assert "ic='auto'" in table.attrs["ic_reason"] and "no refit" in table.attrs["ic_reason"]
    assert "Criterion: PSIS-LOO (ic='auto')" in table.attrs["verdict"]
    np.testing.assert_allclose(table["elpd"].to_numpy(),
                               [checks.loo(fits[n]).elpd for n in table.index], rtol=1e-12)


def test_compare_differences_and_stacking_weights(mixed_data):
    """dse and elpd_diff follow their formulas; a clearly worse fit gets (almost) no weight."""
    good, bad = fake_fit(mixed_data), fake_fit(mixed_data, d50=150.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = checks.compare({"good": good, "bad": bad}, ic="loo")
        a, b = checks.loo(good), checks.loo(bad)
    assert list(table.index) == ["good", "bad"]
    diff = a.elpd_i - b.elpd_i
    np.testing.assert_allclose(table.loc["bad", "elpd_diff"], a.elpd - b.elpd, rtol=1e-12)
    np.testing.assert_allclose(table.loc["bad", "dse"], np.sqrt(diff.size) * diff.std(ddof=1),
                               rtol=1e-12)
    assert table.loc["good", "weight"] > 0.95  # SLSQP optimum; the bad fit adds nothing


def test_compare_refuses_different_data(mixed_data, real_fits):
    other = fake_fit(mixed_data.select_studies(["A", "B"]))
    with pytest.raises(ModelMismatchError, match="different data"):
        checks.compare({"real": real_fits["logistic"], "other": other})


def test_compare_bad_arguments(mixed_data):
    fit = fake_fit(mixed_data)
    with pytest.raises(DoseResponseError, match="at least two"):
        checks.compare([fit])
    with pytest.raises(DoseResponseError, match="at least two"):
        checks.compare(fit)
    with pytest.raises(DoseResponseError, match="ic must be"):
        checks.compare([fit, fit], ic="aic")
    with pytest.raises(DoseResponseError, match="not a FittedModel"):
        checks.compare({"a": fit, "b": "fit.nc"})


def test_loo_handles_rows_with_constant_likelihood(mixed_data):
    """Patients without toxicity far below D50 have log-likelihood ~ -1e-11 in every draw."""
    fit = fake_fit(mixed_data, "cloglog", d50=1e4)
    ll = checks.log_likelihood(fit).log_likelihood["y_ipd"].values.reshape(300, -1)
    flat = np.ptp(ll, axis=0) < 1e-8
    assert flat.sum() >= 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = checks.loo(fit)
    loo_i = result.elpd_i
    assert np.isfinite(loo_i).all() and np.isfinite(result.elpd)
    np.testing.assert_allclose(loo_i[:60][flat], ll[:, flat].mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(result.pareto_k[:60][flat], 0.0)
    np.testing.assert_allclose(result.elpd, loo_i.sum(), rtol=1e-12)
