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
def fit():
    sim = simulate_late_toxicity(n_studies=3, patients_per_study=60, random_seed=5,
                                 dose_metric="absorbed dose")
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
