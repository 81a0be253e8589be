"""Plots (Agg backend, fake posteriors: no sampling), Wilson intervals, prior-predictive curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from statsmodels.stats.proportion import proportion_confint

from doseresponse._stats import observed_rates, quantile_bins
from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models import plotting
from doseresponse.models.model import NTCPModel
from doseresponse.models.prior_predictive import prior_predictive_curves
from tests.test_checks import fake_fit
from tests.test_checks import mixed_data as mixed_data  # the shared fixture


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ Wilson intervals


@pytest.mark.parametrize("ci_prob", [0.5, 0.9, 0.94, 0.99])
def test_wilson_matches_statsmodels(ci_prob):
    n = np.array([1, 5, 10, 10, 10, 37, 200, 1000])
    events = np.array([0, 5, 0, 3, 10, 12, 1, 999])
    lower, upper = plotting.wilson_interval(events, n, ci_prob)
    ref_lower, ref_upper = proportion_confint(events, n, alpha=1 - ci_prob, method="wilson")
    np.testing.assert_allclose(lower, ref_lower, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(upper, ref_upper, rtol=1e-12, atol=1e-15)
    assert (lower >= 0).all() and (upper <= 1).all()


def test_wilson_rejects_bad_input():
    with pytest.raises(DoseResponseError, match="exceed"):
        plotting.wilson_interval(5, 4)
    with pytest.raises(DoseResponseError, match="n"):
        plotting.wilson_interval(0, 0)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        plotting.wilson_interval(1, 4, ci_prob=1.0)


def test_observed_rates_per_study_bins(mixed_data):
    rates = observed_rates(mixed_data, n_bins=4)
    assert rates["n"].sum() == mixed_data.n_patients
    assert rates["events"].sum() == mixed_data.n_events
    ipd = rates.loc[rates["source"] == "ipd"]
    assert ipd.groupby("study").size().tolist() == [4, 4, 4]
    assert (rates.loc[rates["source"] == "aggregate", "dose"] == [18.0, 32.0, 50.0]).all()
    assert ((rates["lower"] <= rates["rate"]) & (rates["rate"] <= rates["upper"])).all()


def test_quantile_bins_handle_ties_and_weights():
    np.testing.assert_array_equal(quantile_bins([5.0, 5.0, 5.0], 4), [0, 0, 0])
    index = quantile_bins(np.arange(8.0), 4)
    np.testing.assert_array_equal(np.bincount(index), [2, 2, 2, 2])
    # a heavy aggregate row at 10 Gy pulls the median edge onto itself
    weighted = quantile_bins([1.0, 10.0, 20.0], 2, weights=[1, 50, 1])
    np.testing.assert_array_equal(weighted, [0, 1, 1])


# ------------------------------------------------------------------ curve plot


def test_plot_curve_draws_band_line_and_study_points(mixed_data):
    fit = fake_fit(mixed_data, "log-logistic")
    ax = plotting.plot_curve(fit, covariates={"htn": 1}, n_bins=3)
    assert isinstance(ax, matplotlib.axes.Axes)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(bands) == 1
    assert len(points) == len(mixed_data.studies)  # one colour (scatter) per study
    assert len({tuple(c.get_facecolor()[0]) for c in points}) == 4
    assert len(ax.lines) == 1  # the posterior median
    assert ax.get_xlabel() == "BED [Gy]"
    assert "tox" in ax.get_ylabel() and "NTCP" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("htn=1" in label for label in labels)
    assert {"A", "B", "C", "D"} <= set(labels)


def test_plot_curve_without_data_on_given_axes(mixed_data):
    fit = fake_fit(mixed_data)
    _, ax = plt.subplots()
    out = plotting.plot_curve(fit, which="new_study", show_data=False, ax=ax,
                              dose_grid=np.linspace(0, 80, 50))
    assert out is ax
    assert not [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.linspace(0, 80, 50))
    with pytest.raises(UnknownNameError, match="which"):
        plotting.plot_curve(fit, which="Z")
    with pytest.raises(DoseResponseError, match="FittedModel"):
        plotting.plot_curve(mixed_data)


# ------------------------------------------------------------------ forest plot


def test_plot_study_forest_rows_and_intervals(mixed_data):
    fit = fake_fit(mixed_data)
    ax = plotting.plot_study_forest(fit, ci_prob=0.9)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("A (n=20") and labels[3].startswith("D (n=24, 10 events")
    assert labels[-2:] == ["population", "new study"]
    # one interval line and one marker per row, plus the separator
    assert len(ax.lines) == 2 * 6 + 1
    assert "TD50" in ax.get_xlabel() and "BED [Gy]" in ax.get_xlabel()
    pop = fit.dose_at(0.5, ci_prob=0.9)
    interval = ax.lines[2 * 4].get_xdata()
    np.testing.assert_allclose(interval, [pop.lower, pop.upper])
    new = ax.lines[2 * 5].get_xdata()
    assert new[1] - new[0] > interval[1] - interval[0]


def test_plot_study_forest_without_pooling(mixed_data):
    fit = fake_fit(mixed_data, pooling="none")
    ax = plotting.plot_study_forest(fit)
    assert len(ax.get_yticklabels()) == 4


# ------------------------------------------------------------------ prior vs posterior


def test_plot_prior_posterior_one_panel_per_parameter(mixed_data):
    fit = fake_fit(mixed_data, "probit")
    axes = plotting.plot_prior_posterior(fit)
    assert [a.get_xlabel() for a in axes] == ["d50 [Gy]", "m", "tau", "factor:htn"]
    for axis in axes:
        assert [t.get_text() for t in axis.get_legend().get_texts()] == ["prior", "posterior"]
        assert len(axis.lines) == 2
    single = plotting.plot_prior_posterior(fit, "tau")
    assert isinstance(single, matplotlib.axes.Axes)
    prior_line = single.lines[0]
    x, y = prior_line.get_xdata(), prior_line.get_ydata()
    sigma = fit.spec.priors["tau"]["sigma"]
    half_normal = np.sqrt(2 / np.pi) / sigma * np.exp(-((x[1:] / sigma) ** 2) / 2)
    np.testing.assert_allclose(y[1:], half_normal)


def test_plot_prior_posterior_bad_names_and_axes(mixed_data):
    fit = fake_fit(mixed_data)
    with pytest.raises(UnknownNameError, match="valid names"):
        plotting.plot_prior_posterior(fit, ["d50", "alpha"])
    _, ax = plt.subplots()
    with pytest.raises(DoseResponseError, match="one Axes per parameter"):
        plotting.plot_prior_posterior(fit, ["d50", "tau"], ax=ax)


# ------------------------------------------------------------------ prior predictive


def test_prior_predictive_curves_follow_the_priors(mixed_data):
    model = NTCPModel("log-logistic")
    spec = model.spec_for(mixed_data)
    curves = prior_predictive_curves(model, mixed_data, [0.0, 20.0, 40.0], 4000, 3)
    assert curves.probability.shape == (4000, 3)
    # log-logistic P(0) = 0; the curve kernel evaluates dose 0 at 1e-300 Gy, which gives
    # at most ~1e-168 for the flattest slopes the prior draws (0 to double precision)
    np.testing.assert_allclose(curves.probability[:, 0], 0.0, rtol=0, atol=1e-100)
    prior = spec.priors["d50"]
    np.testing.assert_allclose(np.median(curves.d50), prior["median"], rtol=0.05)
    np.testing.assert_allclose(np.log(curves.d50).std(), prior["sigma"], rtol=0.05)
    again = prior_predictive_curves(spec, mixed_data, [0.0, 20.0, 40.0], 4000, 3)
    np.testing.assert_array_equal(curves.probability, again.probability)
    frame = curves.to_frame()
    assert frame.shape == (12000, 3)
    np.testing.assert_allclose(list(curves.quantiles().columns), [0.025, 0.5, 0.975], rtol=1e-12)


def test_prior_predictive_agrees_with_the_pymc_model(mixed_data):
    model = NTCPModel("logistic")
    pm_model = model.build(mixed_data)
    d50_pm = pm.draw(pm_model["d50"], draws=4000, random_seed=1)
    ours = prior_predictive_curves(model, mixed_data, [30.0], 4000, 1)
    np.testing.assert_allclose(
        np.quantile(ours.d50, [0.1, 0.5, 0.9]), np.quantile(d50_pm, [0.1, 0.5, 0.9]), rtol=0.08
    )


def test_prior_predictive_new_study_and_covariates_widen(mixed_data):
    model = NTCPModel("log-logistic")
    base = prior_predictive_curves(model, mixed_data, [30.0], 4000, 2)
    new = prior_predictive_curves(model, mixed_data, [30.0], 4000, 2, which="new_study",
                                  covariates={"htn": 1})
    assert np.log(new.d50).std() > np.log(base.d50).std()
    assert new.covariates == {"htn": 1.0}
    with pytest.raises(UnknownNameError, match="covariates"):
        prior_predictive_curves(model, mixed_data, covariates={"bmi": 1})
    with pytest.raises(DoseResponseError, match="new_study"):
        prior_predictive_curves(NTCPModel(pooling="complete"), mixed_data, which="new_study")
    with pytest.raises(DoseResponseError, match="n_draws"):
        prior_predictive_curves(model, mixed_data, n_draws=0)
    with pytest.raises(DoseResponseError, match="NTCPModel"):
        prior_predictive_curves("logistic", mixed_data)


def test_plot_prior_predictive_lines(mixed_data):
    ax = plotting.plot_prior_predictive(NTCPModel("cloglog"), mixed_data, n_draws=25,
                                        random_seed=4)
    assert len(ax.lines) == 25 + 1
    assert ax.get_xlabel() == "BED [Gy]"
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 4
    bare = plotting.plot_prior_predictive(NTCPModel("cloglog"), mixed_data, n_draws=5,
                                          random_seed=4, show_data=False)
    assert not bare.collections


def test_rates_frame_is_plain_pandas(mixed_data):
    assert isinstance(observed_rates(mixed_data), pd.DataFrame)


def test_fitted_model_delegates(mixed_data):
    fit = fake_fit(mixed_data)
    assert isinstance(fit.plot_curve(show_data=False), matplotlib.axes.Axes)
    assert len(fit.plot_forest().get_yticklabels()) == 6
    assert len(fit.plot_prior_posterior(["d50", "tau"])) == 2
    table = fit.ppc_table(by="study")
    pd.testing.assert_frame_equal(table, fit.ppc_table(by="study"))
    assert list(table.index) == ["A", "B", "C", "D"]
