"""LateToxicityModel end to end on a small simulated cohort (one short nutpie fit, shared)."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr

import doseresponse as dr
from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models.late_toxicity import LateToxicityFit, LateToxicityModel
from doseresponse.simulate_late import simulate_late_toxicity

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def sim():
    return simulate_late_toxicity(n_studies=3, patients_per_study=60, random_seed=5,
                                  dose_metric="absorbed dose")


@pytest.fixture(scope="module")
def fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run: diagnostics are not the point here
        return LateToxicityModel().fit(sim.data, draws=300, tune=300, chains=2,
                                       random_seed=1, progressbar=False, check=False)


def test_public_name():
    assert dr.LateToxicityModel is LateToxicityModel


def test_curve_by_horizon_is_below_the_eventual_probability_and_rises_with_time(fit):
    doses = np.array([10.0, 25.0, 40.0])
    eventual = fit.curve(doses)
    by_12 = fit.curve(doses, horizon=12)
    by_36 = fit.curve(doses, horizon=36)
    assert eventual.kind == "NTCP (eventual)"
    assert by_12.kind == "NTCP by 12 months"
    assert np.all(by_12.mean < by_36.mean)
    assert np.all(by_36.mean < eventual.mean)
    assert np.all(np.diff(eventual.mean) > 0)
    # the mean band is the mean over draws of pi(D) F(h | D), computed two ways
    draws = fit.incidence_draws(doses, 12)
    np.testing.assert_allclose(by_12.mean, draws.mean(axis=0))
    ntcp = fit.incidence_draws(doses)
    np.testing.assert_allclose(draws, ntcp * fit.onset_cdf_draws(doses, 12))


def test_dose_at_inverts_the_curve(fit):
    result = fit.dose_at(0.1, horizon=24)
    assert result.label == "TD10 by 24 months"
    # each draw's dose gives risk 0.1 by 24 months for that draw
    params, _ = fit._parameters("population", None, "spread")
    risk = fit._incidence(params, np.array([result.median]), 24.0)[:, 0]
    assert np.mean(risk >= 0.1) == pytest.approx(0.5, abs=0.02)
    predictive = fit.curve([result.predictive], horizon=24).mean[0]
    assert predictive == pytest.approx(0.1, abs=1e-6)
    eventual = fit.dose_at(0.1)
    assert eventual.predictive < result.predictive  # more risk eventually than by 24 months
    new = fit.dose_at(0.1, horizon=24, which="new_study")
    assert np.isfinite(new.predictive)


def test_onset_summary_median_matches_the_parameter(fit):
    table = fit.onset_summary(quantiles=(0.5,))
    np.testing.assert_allclose(table["median"].iloc[0],
                               np.median(fit.posterior["onset_median"].values), rtol=1e-9)
    assert table["time_unit"].iloc[0] == "months"


def test_summary_diagnostics_and_plot(fit):
    frame = fit.summary_frame()
    assert {"d50", "gamma50", "tau", "onset_median", "onset_shape"} <= set(frame.index)
    assert "time [months]" in fit.summary()
    assert set(fit.diagnostics()["check"]) == {"divergences", "r_hat", "ess_bulk", "ess_tail"}
    ax = fit.plot_cumulative_incidence()
    labels = [line.get_label() for line in ax.get_lines()]
    assert sum(label.startswith("Turnbull") for label in labels) == 3
    assert sum(label.startswith("model") for label in labels) == 3


def test_save_and_load_round_trip(fit, tmp_path):
    path = fit.save(tmp_path / "late.nc")
    with pytest.raises(FileExistsError):
        fit.save(path)
    again = LateToxicityFit.load(path)
    np.testing.assert_array_equal(again.curve([20.0], horizon=24).mean,
                                  fit.curve([20.0], horizon=24).mean)
    assert again.spec == fit.spec
    other = tmp_path / "other.nc"
    xr.Dataset(attrs={"doseresponse_format": "doseresponse.FittedModel"}).to_netcdf(
        other, engine="h5netcdf")
    with pytest.raises(ModelMismatchError, match="not a late-toxicity fit"):
        LateToxicityFit.load(other)


def test_bad_arguments(fit):
    with pytest.raises(UnknownNameError, match="onset"):
        LateToxicityModel(onset="gamma")
    with pytest.raises(DoseResponseError, match="cannot describe a toxicity"):
        LateToxicityModel(curve="poisson")
    with pytest.raises(UnknownNameError, match="which="):
        fit.curve([10.0], which="nowhere")
    with pytest.raises(DoseResponseError, match="horizon"):
        fit.curve([10.0], horizon=-1)


def test_prescription_limits_the_risk_by_the_stated_horizon(fit):
    from doseresponse import prescribe as rx

    regions = {"kidney": rx.Region(0.5, effective_half_life=50.0)}
    by_24 = rx.prescribe(regions, cycles=4, ntcp={"kidney": fit.at_horizon(24)},
                         ntcp_limit=0.05, which="population")
    by_60 = rx.prescribe(regions, cycles=4, ntcp={"kidney": fit.at_horizon(60)},
                         ntcp_limit=0.05, which="population")
    assert by_60.activity_gbq < by_24.activity_gbq  # more time at risk: less activity
    # the activity's absorbed dose (4 cycles x 0.5 Gy/GBq) is the predictive TD5 by 24 months
    td5 = fit.dose_at(0.05, horizon=24).predictive
    assert by_24.activity_gbq * 4 * 0.5 == pytest.approx(td5, rel=0.02)


# ------------------------------------------------------------------ LOO and compare


@pytest.fixture(scope="module")
def fit_lognormal(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LateToxicityModel(onset="lognormal").fit(
            sim.data, draws=300, tune=300, chains=2, random_seed=2, progressbar=False,
            check=False)


def test_loo_of_a_late_toxicity_fit(fit):
    from scipy import special

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short run may flag a Pareto k
        result = fit.loo()
        waic = dr.waic(fit)
    ll = fit.pointwise_log_likelihood()
    assert ll.shape == (2, 300, fit.data.n_ipd)
    assert np.isfinite(ll.values).all() and (ll.values < 0).all()
    assert result.kind == "loo" and result.n_observations == fit.data.n_ipd
    assert result.elpd == pytest.approx(result.elpd_i.sum())
    # p_loo = lppd - elpd, lppd computed here from the pointwise log-likelihood
    flat = ll.values.reshape(-1, fit.data.n_ipd)
    lppd = float((special.logsumexp(flat, axis=0) - np.log(flat.shape[0])).sum())
    assert result.p == pytest.approx(lppd - result.elpd, rel=1e-9)
    assert 1.0 < result.p < 15.0  # about the number of parameters (8 here)
    # PSIS-LOO and WAIC agree closely for a model without influential rows
    assert abs(result.elpd - waic.elpd) < 1.0
    frame = result.to_frame()
    assert frame["label"].iloc[0].startswith("ipd_row 0 (study S1")


def test_compare_weibull_and_lognormal_onset(fit, fit_lognormal):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = dr.compare([fit, fit_lognormal], ic="loo")
        single = {"weibull": fit.loo(), "lognormal": fit_lognormal.loo()}
    assert set(table.index) == {"log-logistic/weibull/partial", "log-logistic/lognormal/partial"}
    assert list(table.columns) == ["rank", "elpd", "p", "elpd_diff", "se", "dse", "weight",
                                   "pseudo_bma_weight", "verdict", "warning", "curve", "pooling"]
    best, other = table.index
    onset = {name: name.split("/")[1] for name in table.index}
    assert table.loc[best, "elpd"] == pytest.approx(single[onset[best]].elpd)
    assert table.loc[other, "elpd_diff"] == pytest.approx(
        single[onset[best]].elpd - single[onset[other]].elpd)
    diff = single[onset[best]].elpd_i - single[onset[other]].elpd_i
    assert table.loc[other, "dse"] == pytest.approx(
        np.sqrt(diff.size) * np.std(diff, ddof=1), rel=1e-9)
    assert table.loc[best, "verdict"] == "best"
    assert table.loc[other, "verdict"] in {"indistinguishable", "uncertain", "worse"}
    assert table.attrs["verdict"].startswith(f"Best by LOO: {best}.")
    assert table["weight"].sum() == pytest.approx(1.0)


def test_compare_refuses_mixed_kinds(fit, sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binary = dr.NTCPModel().fit(sim.data, draws=100, tune=100, chains=1, random_seed=1,
                                    progressbar=False, check=False)
    with pytest.raises(ModelMismatchError, match="late-toxicity fit"):
        dr.compare({"late": fit, "binary": binary})


def test_measurement_error_fit_summary_and_save_load(tmp_path):
    sim = simulate_late_toxicity(n_studies=2, patients_per_study=30, dose_rel_sd=0.2,
                                 random_seed=7)
    with pytest.raises(DoseResponseError, match="dose uncertainty"):
        LateToxicityModel(measurement_error="lognormal").fit(
            simulate_late_toxicity(n_studies=2, patients_per_study=10, random_seed=1).data)
    with pytest.raises(UnknownNameError, match="measurement_error"):
        LateToxicityModel(measurement_error="berkson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = LateToxicityModel(measurement_error="lognormal").fit(
            sim.data, draws=100, tune=150, chains=2, random_seed=3, progressbar=False,
            check=False)
    assert fit.spec.measurement_error == "lognormal"
    assert fit.posterior["true_dose"].shape == (2, 100, 60)
    assert "Dose measurement error: lognormal" in fit.summary()
    frame = fit.summary_frame()
    assert {"exposure_sd[S1]", "exposure_sd[S2]", "d50"} <= set(frame.index)
    assert not any(name.startswith(("true_dose", "dose_error_z")) for name in frame.index)
    again = LateToxicityFit.load(fit.save(tmp_path / "late_me.nc"))
    assert again.spec == fit.spec
    np.testing.assert_array_equal(again.posterior["true_dose"].values,
                                  fit.posterior["true_dose"].values)
    np.testing.assert_array_equal(again.curve([20.0], horizon=24).mean,
                                  fit.curve([20.0], horizon=24).mean)
    # the pointwise log-likelihood sees each draw's latent doses
    assert np.isfinite(again.pointwise_log_likelihood().values).all()
    # leave-one-study-out refits the measurement-error model (2 short refits): each study a
    # new centre, its latent doses integrated out given the recorded doses
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loso = dr.leave_one_study_out(fit, tune=150)
    assert loso.observations == ("study:S1", "study:S2")
    assert np.isfinite(loso.elpd_i).all() and loso.n_samples == 200


def test_a_version_1_spec_without_measurement_error_still_loads(fit):
    import json

    from doseresponse.models.late_spec import LateToxicitySpec

    payload = fit.spec.to_dict()
    assert payload.pop("measurement_error") == "none"
    payload["format_version"] = 1
    assert LateToxicitySpec.from_json(json.dumps(payload)) == fit.spec
    payload["format_version"] = 3
    with pytest.raises(ModelMismatchError, match="format version 3"):
        LateToxicitySpec.from_json(json.dumps(payload))


def test_unreliable_loo_advice_for_late_fits(fit, fit_lognormal):
    from doseresponse.models.checks import compare_verdict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = dr.compare([fit, fit_lognormal], ic="loo")
    assert table.attrs["late_toxicity"] is True
    flagged = table.copy()
    flagged.attrs = dict(table.attrs)
    flagged["warning"] = True
    text = compare_verdict(flagged)
    assert "LOO is flagged unreliable" in text and "ic='kfold'" in text
