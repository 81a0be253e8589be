"""Validation of the time-to-event columns (``follow_up``, ``event_time``, ``event_time_lower``)
and of the rows the late-toxicity model needs (``late_rows``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DataValidationError
from doseresponse.models.late_density import late_rows

MAPPING = dict(dose="dose", outcome="tox", study="centre", patient="pid", follow_up="fu",
               event_time="t_hi", event_time_lower="t_lo")


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre": ["A", "A", "A", "B", "B", "B"],
            "pid": ["p1", "p2", "p3", "q1", "q2", "q3"],
            "dose": [10.0, 20.0, 30.0, 15.0, 25.0, 35.0],
            "tox": [0, 0, 1, 0, 1, 1],
            "fu": [12.0, 24.0, 30.0, 12.0, 18.0, 10.0],
            "t_hi": [np.nan, np.nan, 6.0, np.nan, 9.0, 9.0],
            "t_lo": [np.nan, np.nan, 3.0, np.nan, 9.0, np.nan],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def _set(df, row, column, value):
    df = df.copy()
    df.loc[row, column] = value
    return df


def test_valid_frame_keeps_the_lower_bound_and_round_trips():
    data = DoseResponseData.from_frame(frame(), **MAPPING)
    assert list(data.ipd["event_time_lower"].fillna(-1)) == [-1, -1, 3.0, -1, 9.0, -1]
    again = DoseResponseData.from_frame(data.to_frame(), **data.canonical_mapping())
    pd.testing.assert_frame_equal(again.ipd, data.ipd)
    restored = DoseResponseData.from_dict(data.to_dict())
    pd.testing.assert_frame_equal(restored.ipd, data.ipd)


CASES = [
    ("negative lower bound", lambda: _set(frame(), 12, "t_lo", -1.0),
     ["column 't_lo' (event_time_lower=)", "negative time", "row 12"]),
    ("lower above upper", lambda: _set(frame(), 12, "t_lo", 7.0),
     ["column 't_lo' (event_time_lower=)", "after the event time", "row 12", "7.0", "'t_hi'"]),
    ("lower without event time", lambda: _set(frame(), 11, "t_lo", 4.0),
     ["column 't_lo' (event_time_lower=)", "without an event time", "row 11"]),
    ("event after follow-up", lambda: _set(frame(), 15, "t_hi", 11.0),
     ["column 't_hi' (event_time=)", "after the end of follow-up", "row 15"]),
    ("negative event time", lambda: _set(_set(frame(), 12, "t_hi", -2.0), 12, "t_lo", np.nan),
     ["column 't_hi' (event_time=)", "negative time", "row 12"]),
    ("infinite lower bound", lambda: _set(frame(), 12, "t_lo", np.inf),
     ["column 't_lo' (event_time_lower=)", "infinite time", "row 12"]),
]


@pytest.mark.parametrize(("factory", "expected"), [pytest.param(f, e, id=n) for n, f, e in CASES])
def test_bad_times_are_reported_with_column_row_and_fix(factory, expected):
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(factory(), **MAPPING)
    for fragment in expected:
        assert fragment in str(info.value), f"{fragment!r} missing from:\n{info.value}"


def test_lower_bound_needs_the_event_time_column():
    mapping = {**MAPPING, "event_time": None}
    with pytest.raises(DataValidationError, match="event_time_lower='t_lo' is mapped but"):
        DoseResponseData.from_frame(frame(), **mapping)


def test_empty_time_unit_is_an_error():
    with pytest.raises(DataValidationError, match="time_unit= must be a non-empty string"):
        DoseResponseData.from_frame(frame(), **MAPPING, time_unit=" ")


def test_late_rows_classify_censored_exact_and_interval_observations():
    rows = late_rows(DoseResponseData.from_frame(frame(), **MAPPING))
    # p1, p2, q1 censored at follow-up; p3 in (3, 6]; q2 lower == upper -> exact; q3 exact
    assert rows.kind.tolist() == [0, 0, 2, 0, 1, 1]
    assert rows.upper.tolist() == [12.0, 24.0, 6.0, 12.0, 9.0, 9.0]
    assert rows.lower.tolist() == [0.0, 0.0, 3.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda df: _set(df, 15, "t_hi", np.nan),
         "event without an event time (study/patient B/q3)"),
        (lambda df: _set(df, 10, "t_hi", 5.0), "event time on a patient without the event"),
        (lambda df: _set(df, 10, "fu", np.nan), "without the event and without follow_up"),
        (lambda df: _set(_set(df, 15, "t_hi", 0.0), 15, "t_lo", np.nan), "event at time 0"),
    ],
)
def test_late_rows_report_rows_the_model_cannot_use(change, fragment):
    data = DoseResponseData.from_frame(change(frame()), **MAPPING)
    with pytest.raises(DataValidationError) as info:
        late_rows(data)
    assert fragment in str(info.value)


def test_late_rows_need_the_time_columns():
    data = DoseResponseData.from_frame(frame(), dose="dose", outcome="tox", study="centre",
                                       patient="pid")
    with pytest.raises(DataValidationError) as info:
        late_rows(data)
    assert "no follow_up column" in str(info.value)
    assert "no event_time column" in str(info.value)
