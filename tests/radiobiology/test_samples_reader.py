"""read_time_activity_samples: column mapping, unit conversion, per-cycle masses, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import doseresponse.radiobiology as rb
from doseresponse.exceptions import DataValidationError, UnknownNameError


def _table():
    return pd.DataFrame({
        "id": ["a", "a", "a", "b"],
        "therapy": [1, 1, 2, 1],
        "organ": ["kid", "kid", "kid", "kid"],
        "day": [1.0, 4.0, 4.0, 1.0],
        "kbq": [150_000.0, 90_000.0, 80_000.0, 120_000.0],
        "sd_kbq": [5_000.0, 4_000.0, 4_000.0, 5_000.0],
        "pct": [2.0, 1.0, 0.5, 1.5],
        "gbq": [7.4, 7.4, 3.7, 7.4],
        "grams": [300.0, 300.0, 290.0, 310.0],
    })


def test_names_and_units_are_mapped_with_the_stated_factors():
    out = rb.read_time_activity_samples(
        _table(), patient="id", cycle="therapy", region="organ", time="day", time_unit="d",
        activity="kbq", activity_unit="kBq", activity_sd="sd_kbq", injected_activity="gbq",
        injected_activity_unit="GBq", mass="grams", mass_unit="g")
    assert list(out.columns) == ["patient", "cycle", "region", "time_h", "activity_mbq",
                                 "activity_sd_mbq", "injected_activity_mbq", "mass_kg"]
    np.testing.assert_allclose(out["time_h"], [24.0, 96.0, 96.0, 24.0], rtol=1e-15)
    np.testing.assert_allclose(out["activity_mbq"], [150.0, 90.0, 80.0, 120.0], rtol=1e-15)
    np.testing.assert_allclose(out["activity_sd_mbq"], [5.0, 4.0, 4.0, 5.0], rtol=1e-15)
    np.testing.assert_allclose(out["injected_activity_mbq"], [7400, 7400, 3700, 7400])
    np.testing.assert_allclose(out["mass_kg"], [0.30, 0.30, 0.29, 0.31], rtol=1e-15)
    assert out["cycle"].dtype == np.int64 and out["region"].tolist() == ["kid"] * 4


def test_percent_injected_activity_uses_each_cycles_injected_activity():
    out = rb.read_time_activity_samples(
        _table(), cycle="therapy", region=None, default_region="kidneys", time="day",
        time_unit="d", activity="pct", activity_unit="%IA", injected_activity="gbq",
        injected_activity_unit="GBq")
    # 2 % of 7.4 GBq = 148 MBq; 0.5 % of 3.7 GBq = 18.5 MBq
    np.testing.assert_allclose(out["activity_mbq"], [148.0, 74.0, 18.5, 111.0], rtol=1e-14)
    assert set(out["region"]) == {"kidneys"} and "patient" not in out.columns


def test_minutes_and_csv_path(tmp_path):
    path = tmp_path / "s.csv"
    _table().assign(minutes=[60.0, 90.0, 30.0, 15.0]).to_csv(path, index=False)
    out = rb.read_time_activity_samples(path, cycle="therapy", region="organ", time="minutes",
                                        time_unit="min", activity="kbq", activity_unit="kBq")
    np.testing.assert_allclose(out["time_h"], [1.0, 1.5, 0.5, 0.25], rtol=1e-15)


def test_per_cycle_masses():
    out = rb.read_time_activity_samples(_table(), patient="id", cycle="therapy",
                                        region="organ", time="day", activity="kbq",
                                        mass="grams", mass_unit="g")
    masses = rb.masses_by_region_and_cycle(out[out["patient"] == "a"])
    assert masses == {"kid": {1: 0.3, 2: 0.29}}
    with pytest.raises(DataValidationError, match="several masses"):
        rb.masses_by_region_and_cycle(out)  # patients a and b differ in cycle 1


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"time": "t"}, DataValidationError, "time='COLUMN'"),
        ({"activity": "pct", "activity_unit": "%IA"}, DataValidationError, "injected_activity="),
        ({"time_unit": "weeks"}, UnknownNameError, "time_unit"),
        ({"activity_unit": "mCi"}, UnknownNameError, "activity_unit"),
    ],
)
def test_bad_mapping_names_the_argument(kwargs, error, needle):
    args = {"cycle": "therapy", "region": "organ", "time": "day", "activity": "kbq", **kwargs}
    with pytest.raises(error, match=needle):
        rb.read_time_activity_samples(_table(), **args)


def test_bad_value_gives_the_csv_line():
    table = _table().astype({"kbq": object})
    table.loc[2, "kbq"] = "n/a"
    with pytest.raises(DataValidationError, match="CSV line 4"):
        rb.read_time_activity_samples(table, cycle="therapy", region="organ", time="day",
                                      activity="kbq")
    table = _table()
    table.loc[0, "therapy"] = 0
    with pytest.raises(DataValidationError, match="whole cycle numbers"):
        rb.read_time_activity_samples(table, cycle="therapy", region="organ", time="day",
                                      activity="kbq")
    with pytest.raises(DataValidationError, match="no samples file"):
        rb.read_time_activity_samples("does_not_exist.csv")
