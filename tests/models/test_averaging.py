"""Model averaging: the mixture of posteriors, its saved form, compare()'s verdict in words."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import doseresponse as dr
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models import checks
from doseresponse.models.averaging import ModelAverage, _allocate
from doseresponse.models.averaging_io import load_average
from tests.test_checks import fake_fit, mixed_data  # noqa: F401 - the fixture is used

DOSES = np.array([10.0, 25.0, 40.0, 60.0])


@pytest.fixture(scope="module")
def pair(mixed_data):  # noqa: F811
    return {"logistic": fake_fit(mixed_data, seed=3),
            "loglogistic": fake_fit(mixed_data, "log-logistic", d50=48.0, seed=4)}


def test_all_weight_on_one_fit_reproduces_it(pair):
    avg = ModelAverage(pair, {"logistic": 1.0, "loglogistic": 0.0}, method="given")
    fit = pair["logistic"]
    for which in ("population", "new_study", "A"):
        band, own = avg.curve(DOSES, which), fit.curve(DOSES, which)
        np.testing.assert_allclose(band.mean, own.mean, rtol=1e-12)
        ours, theirs = avg.dose_at(0.1, which), fit.dose_at(0.1, which)
        np.testing.assert_allclose(ours["predictive"], theirs["predictive"], rtol=1e-10)
    assert avg.draw_counts == {"logistic": avg.n_draws, "loglogistic": 0}
    assert avg.curve_name == "average(logistic)"


def test_mixture_mean_and_predictive_dose_follow_the_weights(pair):
    avg = ModelAverage(pair, {"logistic": 0.3, "loglogistic": 0.7}, method="given", n_draws=1000)
    a, b = pair["logistic"], pair["loglogistic"]
    band = avg.curve(DOSES, "new_study")
    expected = 0.3 * a.curve(DOSES, "new_study").mean + 0.7 * b.curve(DOSES, "new_study").mean
    np.testing.assert_allclose(band.mean, expected, rtol=1e-12)
    td = avg.dose_at(0.1, "new_study")
    risk = (0.3 * a.probability_draws([td["predictive"]], "new_study", new_study="averaged")
            + 0.7 * b.probability_draws([td["predictive"]], "new_study", new_study="averaged"))
    np.testing.assert_allclose(risk.mean(), 0.1, rtol=1e-9)  # the root of the mixture risk
    lo, hi = sorted([a.dose_at(0.1, "new_study")["predictive"],
                     b.dose_at(0.1, "new_study")["predictive"]])
    assert lo < td["predictive"] < hi
    # per-draw doses are a resample: 300 logistic draws then 700 log-logistic draws
    assert avg.draw_counts == {"logistic": 300, "loglogistic": 700}
    assert td["draws"].shape == (1000,) and "mixture" in td.method
    own = a.dose_at(0.1, "new_study")["draws"]
    assert np.isin(td["draws"][:300], own).all()
    probs = avg.probability_draws(DOSES, "new_study")
    assert probs.shape == (1000, DOSES.size)
    np.testing.assert_allclose(np.quantile(probs, 0.5, axis=0), band.median, rtol=1e-12)


def test_resample_is_seeded():
    assert list(_allocate(np.array([0.333, 0.333, 0.334]), 10)) == [3, 3, 4]
    assert _allocate(np.array([1e-17, 1.0]), 7).tolist() == [0, 7]


def test_average_models_uses_compare_weights(pair):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = checks.compare(pair, ic="loo")
        stack = dr.average_models(pair, ic="loo")
        pbma = dr.average_models(pair, "pseudo-bma+", ic="loo")
    for name in pair:
        assert stack.weights[name] == pytest.approx(table.loc[name, "weight"], abs=1e-12)
        assert pbma.weights[name] == pytest.approx(table.loc[name, "pseudo_bma_weight"],
                                                   abs=1e-12)
    text = stack.summary()
    assert "stacking weights from LOO" in text and "mixture of the fits' posteriors" in text
    frame = stack.summary_frame()
    assert {"weight", "stacking", "pseudo_bma_plus", "verdict"} <= set(frame.columns)


def test_average_refuses_mismatched_fits(pair, mixed_data):  # noqa: F811
    other = fake_fit(mixed_data.select_studies(["A", "B"]))
    with pytest.raises(ModelMismatchError, match="different data"):
        ModelAverage({"a": pair["logistic"], "b": other}, {"a": 1, "b": 1}, method="given")
    with pytest.raises(DoseResponseError, match="name every fit"):
        ModelAverage(pair, {"logistic": 1.0}, method="given")
    with pytest.raises(DoseResponseError, match=">= 0"):
        ModelAverage(pair, {"logistic": 1.0, "loglogistic": -0.1}, method="given")
    with pytest.raises(DoseResponseError, match="unknown method"):
        dr.average_models(pair, "bma")
    with pytest.raises(DoseResponseError, match="WAIC"):
        dr.average_models(pair, ic="waic")
    avg = ModelAverage(pair, {"logistic": 1.0, "loglogistic": 1.0}, method="given")
    with pytest.raises(DoseResponseError, match="unknown covariates"):
        avg.curve(DOSES, covariates={"smoker": 1})


def test_save_and_load_round_trip(pair, tmp_path):
    avg = ModelAverage(pair, {"logistic": 0.25, "loglogistic": 0.75}, method="given", n_draws=500)
    path = avg.save(tmp_path / "avg")
    back = load_average(path)
    assert back.weights == avg.weights and back.method == "given"
    np.testing.assert_array_equal(back.dose_at(0.05, "new_study")["draws"],
                                  avg.dose_at(0.05, "new_study")["draws"])
    with pytest.raises(FileExistsError):
        avg.save(path)
    avg.save(path, overwrite=True)
    (tmp_path / "not_avg").mkdir()
    with pytest.raises(DoseResponseError, match="not a saved model average"):
        avg.save(tmp_path / "not_avg", overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_load_refuses_edited_manifest_and_replaced_files(pair, tmp_path):
    avg = ModelAverage(pair, {"logistic": 0.5, "loglogistic": 0.5}, method="given")
    path = avg.save(tmp_path / "avg")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["models"][0]["weight"] = 0.9
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatchError, match="digest"):
        load_average(path)
    path2 = avg.save(tmp_path / "avg2")
    (path2 / "model_1.nc").write_bytes((path2 / "model_2.nc").read_bytes())
    with pytest.raises(ModelMismatchError, match="SHA-256"):
        load_average(path2)
    with pytest.raises(FileNotFoundError):
        load_average(tmp_path / "nothing")


def test_prescription_accepts_a_model_average(pair):
    from doseresponse import prescribe as rx

    avg = ModelAverage(pair, {"logistic": 0.5, "loglogistic": 0.5}, method="given")
    plan = rx.prescribe({"kidney": rx.Region(0.5, effective_half_life=50.0, tissue="kidney")},
                        cycles=4, ntcp={"kidney": avg}, objective="ntcp-limit",
                        ntcp_limit=0.05)
    assert plan.limiting == "kidney"
    assert abs(plan.curves[0]["mean"] - 0.05) < 1e-6


def test_compare_says_when_models_cannot_be_told_apart(mixed_data):  # noqa: F811
    close = {"a": fake_fit(mixed_data, seed=3), "b": fake_fit(mixed_data, seed=8)}
    far = {"good": fake_fit(mixed_data), "bad": fake_fit(mixed_data, d50=150.0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        near_table, far_table = checks.compare(close, ic="loo"), checks.compare(far, ic="loo")
    second = near_table.index[1]
    assert near_table.loc[second, "elpd_diff"] < 4
    assert near_table.loc[second, "verdict"] == "indistinguishable"
    text = near_table.attrs["verdict"]
    assert "cannot tell it apart" in text and "Pseudo-BMA+ weights" in text
    np.testing.assert_allclose(near_table["pseudo_bma_weight"].sum(), 1.0, rtol=1e-12)
    assert 0.2 < near_table["pseudo_bma_weight"].min()  # not decisive
    assert far_table.loc["bad", "verdict"] == "worse"
    assert "predicts clearly better" in checks.compare_verdict(far_table)
    assert far_table.loc["bad", "elpd_diff"] > 2 * far_table.loc["bad", "dse"]


def test_plot_curve_draws_the_average_and_each_fit(pair):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    avg = ModelAverage(pair, {"logistic": 0.4, "loglogistic": 0.6}, method="given",
                       n_draws=400)
    ax = avg.plot_curve("new_study", dose_grid=np.linspace(0.0, 80.0, 30))
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["averaged predictive risk", "logistic (weight 0.40)",
                      "loglogistic (weight 0.60)"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(),
                               avg.curve(np.linspace(0.0, 80.0, 30), "new_study").mean)
    plt.close(ax.figure)


def test_late_toxicity_fits_are_refused_with_a_pointer_to_compare():
    from doseresponse.models.late_toxicity import LateToxicityModel
    from doseresponse.simulate_late import simulate_late_toxicity

    data = simulate_late_toxicity(n_studies=2, patients_per_study=30, random_seed=4).data
    fits = {
        onset: LateToxicityModel(onset=onset).fit(data, draws=60, tune=60, chains=2,
                                                  random_seed=1, check=False)
        for onset in ("weibull", "lognormal")
    }
    with pytest.raises(DoseResponseError, match=r"'weibull', 'lognormal' are late-toxicity") as err:
        dr.average_models(fits, ic="loo")
    assert "dr.compare" in str(err.value) and "at_horizon" in str(err.value)
