"""The shared result types (doseresponse.models.result_types) and the ML fits that return them.

Bayesian-style results are built directly, field by field, as ``FittedModel.curve`` /
``FittedModel.dose_at`` build them, so these tests need no MCMC.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.ml import BMDS_CI_PROB, MLFit, fit_ml
from doseresponse.models.result_types import (
    DEFAULT_CI_PROB,
    ML_POOLED,
    BenchmarkDose,
    CurveBand,
    DoseAt,
    describe_which,
)

# US EPA BMDS ddataset2 (see tests/models/test_ml.py)
DOSE = np.array([0.0, 50.0, 100.0, 150.0, 200.0])
N = np.full(5, 100.0)
EVENTS = np.array([0.0, 5.0, 30.0, 65.0, 90.0])
GRID = np.array([0.0, 50.0, 100.0, 150.0])


@pytest.fixture(scope="module")
def ml() -> MLFit:
    return fit_ml(curve="logistic", dose=DOSE, events=EVENTS, n=N)


def _bayes_band() -> CurveBand:
    prob = np.array([0.01, 0.06, 0.26, 0.66])
    return CurveBand(
        dose=GRID, mean=prob + 0.001, median=prob, lower=prob * 0.5, upper=prob * 1.2,
        which="population", metric="BED", unit="Gy", ci_prob=0.95,
        covariates={"htn": 1.0}, kind="NTCP",
    )


def _bayes_dose() -> DoseAt:
    draws = np.array([28.0, 30.0, 31.0, 33.0])
    return DoseAt(
        p=0.05, which="new_study", metric="BED", unit="Gy", ci_prob=0.95, label="TD5",
        mean=30.5, median=30.5, lower=28.1, upper=32.9, draws=draws,
    )


# ============================================================================================
# one type, one set of fields
# ============================================================================================


def test_ml_and_bayesian_results_share_type_and_fields(ml):
    band, bayes_band = ml.curve(GRID), _bayes_band()
    assert type(band) is type(bayes_band) is CurveBand
    assert [f.name for f in dataclasses.fields(band)] == [
        f.name for f in dataclasses.fields(bayes_band)
    ]
    dose, bayes_dose = ml.dose_at(0.05), _bayes_dose()
    assert type(dose) is type(bayes_dose) is DoseAt
    assert isinstance(dose, Mapping)
    # both say what they are
    assert (band.interval, bayes_band.interval) == ("confidence", "credible")
    assert (dose.interval, bayes_dose.interval) == ("confidence", "credible")
    assert bayes_band.method == bayes_dose.method == "equal-tailed posterior quantiles"
    assert dose.method == "profile likelihood"
    assert ml.dose_at(0.05, method="delta").method == "delta method (log dose)"
    assert band.method == "delta method (logit link)"
    assert band.which == dose.which == ML_POOLED
    assert band.kind == "response"  # the ML fit is not told NTCP or TCP
    assert band.unit == dose.unit == "Gy"


def test_estimate_is_mle_for_ml_and_posterior_median_for_bayes(ml):
    band = ml.curve(GRID)
    np.testing.assert_allclose(band.estimate, ml.probability(GRID), rtol=1e-12)
    assert band.estimate is band.median
    assert np.isnan(band.mean).all()
    assert band.estimate_label == "maximum-likelihood estimate"
    bayes = _bayes_band()
    assert bayes.estimate is bayes.median
    assert bayes.estimate_label == "posterior median"
    dose = ml.dose_at(0.5)
    assert dose.estimate == pytest.approx(ml.params["d50"], rel=1e-9)  # logistic: D(P=0.5) = D50
    assert math.isnan(dose.mean)
    assert dose.draws.shape == (0,)
    assert dose.n_at_zero == 0
    assert _bayes_dose().estimate == 30.5


def test_mapping_keys_depend_on_interval_type(ml):
    bayes = _bayes_dose()
    assert set(bayes) == {"mean", "median", "lower", "upper", "predictive", "draws"}
    dose = ml.dose_at(0.05, ci_prob=0.9)
    assert list(dose) == ["estimate", "lower", "upper"]
    assert dict(dose) == {"estimate": dose.estimate, "lower": dose.lower, "upper": dose.upper}
    with pytest.raises(UnknownNameError, match="valid keys are: estimate, lower, upper"):
        dose["mean"]
    with pytest.raises(UnknownNameError, match="mean, median"):
        bayes["estimate"]


def test_results_are_read_only(ml):
    dose = ml.dose_at(0.05)
    with pytest.raises(TypeError):
        dose["estimate"] = 1.0  # a read-only Mapping has no __setitem__
    with pytest.raises(dataclasses.FrozenInstanceError):
        dose.lower = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        ml.curve(GRID).ci_prob = 0.5


def test_benchmark_dose_is_a_dose_at_with_bmds_names(ml):
    bmd = ml.benchmark_dose()
    assert isinstance(bmd, BenchmarkDose) and isinstance(bmd, DoseAt)
    assert bmd.ci_prob == BMDS_CI_PROB == 0.90  # BMDS convention, not DEFAULT_CI_PROB
    assert (bmd.bmd, bmd.bmdl, bmd.bmdu) == (bmd.estimate, bmd.lower, bmd.upper)
    assert set(bmd) >= {"bmd", "bmdl", "bmdu", "bmr", "risk", "background"}
    assert bmd.label == "BMD10" and bmd.risk == "extra" and bmd.bmr == 0.10
    # p is the fitted response at the BMD (extra risk), to 1e-9 absolute
    assert float(ml.probability(bmd.bmd)) == pytest.approx(bmd.p, abs=1e-9)
    text = repr(bmd)
    assert "BMDL" in text and "90 % CI" in text and "profile likelihood" in text


# ============================================================================================
# repr, str and frames say what is shown
# ============================================================================================


def test_curve_repr_str_and_frame_state_the_interval(ml):
    band = ml.curve(GRID, ci_prob=0.9)
    assert "confidence" in repr(band) and "MLE" in repr(band) and "90 %" in repr(band)
    text = str(band)
    assert text == band.summary()
    header, columns = text.splitlines()[:2]
    assert "complete pooling (maximum likelihood)" in header
    assert "90 % pointwise confidence band" in header and "delta method" in header
    assert "dose in Gy" in header and header.startswith("response curve")
    assert columns.split() == ["dose", "(Gy)", "MLE", "90%", "CI", "lower", "90%", "CI", "upper"]
    assert len(text.splitlines()) == 2 + GRID.size
    frame = band.to_frame()
    assert list(frame.columns) == ["dose", "estimate", "lower", "upper"]
    assert frame.attrs["interval"] == "confidence"
    assert frame.attrs["estimate"] == "maximum-likelihood estimate"
    assert frame.attrs["ci_prob"] == 0.9


def test_bayesian_curve_repr_str_and_frame():
    band = _bayes_band()
    assert "credible" in repr(band) and "median" in repr(band)
    header = str(band).splitlines()[0]
    assert header.startswith("NTCP curve, typical centre (population) (htn=1)")
    assert "BED in Gy" in header and "95 % pointwise credible band" in header
    frame = band.to_frame()
    assert list(frame.columns) == ["dose", "mean", "median", "lower", "upper"]  # unchanged
    assert frame.attrs["interval"] == "credible"
    assert frame.attrs["estimate"] == "posterior median"


def test_dose_at_repr_states_the_interval(ml):
    text = repr(ml.dose_at(0.05))
    assert text.startswith("D(P=0.05) (all studies, complete pooling (maximum likelihood)): MLE")
    assert "95 % CI (profile likelihood)" in text
    assert "95 % CrI" in repr(_bayes_dose())
    assert "median of draws 30.5 Gy BED" in repr(_bayes_dose())


def test_describe_which():
    assert describe_which("population") == "typical centre (population)"
    assert describe_which("new_study") == "new centre (new_study)"
    assert describe_which(ML_POOLED).endswith("complete pooling (maximum likelihood)")
    assert describe_which("C") == "study C"


def test_long_grid_summary_is_elided(ml):
    band = ml.curve(np.linspace(0.0, 200.0, 101))
    assert len(band.summary(max_rows=10).splitlines()) < 20


# ============================================================================================
# one default, one argument order, package errors
# ============================================================================================


def test_signatures_are_keyword_only_after_the_first_argument():
    for method in (MLFit.curve, MLFit.dose_at, MLFit.benchmark_dose):
        params = list(inspect.signature(method).parameters.values())[1:]  # drop self
        assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    curve = inspect.signature(MLFit.curve).parameters
    dose_at = inspect.signature(MLFit.dose_at).parameters
    assert list(curve) == ["self", "dose_grid", "covariates", "ci_prob"]
    assert list(dose_at) == ["self", "p", "covariates", "ci_prob", "method"]
    assert curve["ci_prob"].default == dose_at["ci_prob"].default == DEFAULT_CI_PROB == 0.95


def test_positional_ci_prob_is_rejected(ml):
    with pytest.raises(TypeError):
        ml.curve(GRID, 0.9)
    with pytest.raises(TypeError):
        ml.dose_at(0.05, 0.9)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1, math.nan])
def test_bad_ci_prob_raises_package_error_naming_it(ml, bad):
    with pytest.raises(DoseResponseError, match="ci_prob"):
        ml.curve(GRID, ci_prob=bad)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        ml.dose_at(0.05, ci_prob=bad)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        ml.benchmark_dose(ci_prob=bad)
    with pytest.raises(DoseResponseError, match="ci_prob"):
        dataclasses.replace(_bayes_band(), ci_prob=bad)


def test_bad_interval_type_raises():
    with pytest.raises(UnknownNameError, match="credible, confidence"):
        dataclasses.replace(_bayes_dose(), interval="prediction")


def test_covariates_are_recorded_and_must_be_scalars(rng):
    x = np.repeat([0.0, 1.0], 5)
    dose = np.tile(DOSE, 2)
    events = rng.binomial(100, np.tile(EVENTS, 2) / 100 * (1 - 0.2 * x)).astype(float)
    fit = fit_ml(curve="logistic", dose=dose, events=events, n=np.full(10, 100.0),
                 covariates={"x": x})
    band = fit.curve(GRID, covariates={"x": 1.0})
    assert band.covariates == {"x": 1.0}
    np.testing.assert_allclose(band.estimate, fit.probability(GRID, {"x": 1.0}), rtol=1e-12)
    assert fit.dose_at(0.5).covariates == {"x": 0.0}  # omitted covariates are the reference 0
    with pytest.raises(DoseResponseError, match="not in the fit"):
        fit.curve(GRID, covariates={"age": 1.0})
    with pytest.raises(DoseResponseError, match=r"covariates\['x'\]"):
        fit.curve(GRID, covariates={"x": [0.0, 1.0, 0.0, 1.0]})
