"""Plan: summary frame, activity curve, plot, JSON round trip (no code execution)."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from doseresponse import prescribe as rx
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models.response_curve import ResponseCurve

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def plan():
    rng = np.random.default_rng(4)
    tumour = ResponseCurve("log-logistic", d50=rng.lognormal(np.log(100), 0.15, 400),
                           slope=1.5, dose_metric="absorbed dose", dose_unit="Gy", kind="TCP")
    kidney = ResponseCurve("lkb", d50=rng.lognormal(np.log(40), 0.1, 400), slope=0.1,
                           dose_metric="BED", dose_unit="Gy", label="kidney BED")
    marrow = ResponseCurve("log-logistic", d50=3.5, slope=2.0, dose_metric="absorbed dose",
                           dose_unit="Gy")
    regions = {
        "tumour": rx.Region(3.2, effective_half_life=90.0, tissue="tumour"),
        "kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney", rel_se=0.15),
        "red marrow": rx.Region(0.04, effective_half_life=60.0, alpha_beta=15.0,
                                repair_half_time=1.5),
    }
    return rx.prescribe(regions, cycles=4, tcp={"tumour": tumour},
                        ntcp={"kidney": kidney, "red marrow": marrow},
                        objective="max-p-plus", ntcp_limit=0.05, risk=0.10)


def test_summary_frame_says_what_each_number_is(plan):
    frame = plan.summary_frame()
    assert {"quantity", "region", "mean", "median", "lower", "upper", "view"} <= set(frame)
    assert frame.loc[0, "mean"] == plan.activity_gbq
    kid = frame[(frame.quantity == "NTCP") & (frame.region == "kidney")].iloc[0]
    assert kid["lower"] <= kid["median"] <= kid["upper"]
    assert "BED" in kid["detail"]
    assert "overdose control" in frame.attrs["settings"]["constraint"]
    doses = frame[frame.quantity == "course dose"]
    assert set(doses.region) == {"tumour", "kidney", "red marrow"}
    assert plan.limiting in {"kidney", "red marrow", None}
    assert "Plan(max-p-plus" in repr(plan)
    assert plan.total_activity_gbq == pytest.approx(4 * plan.activity_gbq)


def test_activity_curve_live_equals_stored(plan):
    stored = plan.activity_curve()
    live = plan.activity_curve(np.asarray(stored["activity_gbq"]))
    np.testing.assert_allclose(live.to_numpy(), stored.to_numpy(), rtol=1e-12)
    assert "P+ mean" in stored
    assert np.all(np.diff(stored["NTCP kidney mean"]) >= -1e-15)  # monotone in activity


def test_plot_returns_axes(plan):
    ax = plan.plot()
    assert ax.get_xlabel().startswith("activity per cycle")
    assert "expected" in ax.get_title()


def test_json_round_trip(plan, tmp_path):
    path = plan.save(tmp_path / "plan.json")
    loaded = rx.load_plan(path)
    assert loaded.activity_gbq == plan.activity_gbq
    assert loaded.cycles == plan.cycles and loaded.limiting == plan.limiting
    assert loaded.curves == json.loads(json.dumps(plan.curves))
    np.testing.assert_array_equal(loaded.optimum_draws, plan.optimum_draws)
    assert loaded.summary_frame().equals(plan.summary_frame())
    assert loaded.activity_curve().equals(plan.activity_curve())
    with pytest.raises(DoseResponseError, match="loaded from a file"):
        loaded.activity_curve([1.0, 2.0])
    with pytest.raises(DoseResponseError, match="overwrite"):
        plan.save(path)
    plan.save(path, overwrite=True)
    loaded.plot()


def test_load_refuses_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ModelMismatchError, match="not a doseresponse"):
        rx.load_plan(bad)
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(ModelMismatchError, match="cannot read"):
        rx.load_plan(bad)
    bad.write_text('{"format": "doseresponse.prescription-plan", "format_version": 99}',
                   encoding="utf-8")
    with pytest.raises(ModelMismatchError, match="version"):
        rx.load_plan(bad)
