"""Every validation message of DoseResponseData.from_frame, as a parametrised table of bad inputs.

Each case starts from a valid patient-level (IPD) or aggregate frame, breaks one thing, and checks
the exception type and that the message names the column / argument, the row (index label) and
the offending value or fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import (
    DataValidationError,
    DoseResponseError,
    DroppedRowsWarning,
    SmallStudyWarning,
    UnknownNameError,
)


def ipd_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre": ["A", "A", "A", "B", "B", "B"],
            "pid": ["p1", "p2", "p3", "q1", "q2", "q3"],
            "bed": [10.0, 20.0, 30.0, 15.0, 25.0, 35.0],
            "tox": [0, 0, 1, 0, 1, 1],
            "age": [60.0, 70.0, 65.0, 55.0, 50.0, 72.0],
            "se": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5],
            "rel": [0.1, 0.1, 0.1, 0.2, 0.2, 0.2],
            "fu": [12.0, 24.0, 6.0, 12.0, 8.0, 10.0],
            "t_event": [np.nan, np.nan, 4.0, np.nan, 5.0, 9.0],
            "metric": ["BED"] * 6,
            "unit": ["Gy"] * 6,
            "lab": [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


IPD = {"dose": "bed", "outcome": "tox", "study": "centre", "patient": "pid"}


def agg_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre": ["C", "C", "D"],
            "bed": [20.0, 40.0, 30.0],
            "lo": [10.0, 30.0, 20.0],
            "hi": [30.0, 50.0, 40.0],
            "ev": [1, 4, 2],
            "n": [10, 12, 8],
        },
        index=["c1", "c2", "d1"],
    )


AGG = {"dose": "bed", "study": "centre", "events": "ev", "n": "n", "dose_low": "lo",
       "dose_high": "hi"}


def mixed_frame() -> pd.DataFrame:
    ipd = ipd_frame()[["centre", "pid", "bed", "tox"]]
    agg = agg_frame()[["centre", "bed", "ev", "n"]]
    return pd.concat([ipd, agg])


MIXED = {"dose": "bed", "outcome": "tox", "study": "centre", "patient": "pid", "events": "ev",
         "n": "n"}


def _set(frame: pd.DataFrame, row, column, value) -> pd.DataFrame:
    frame = frame.copy()
    if isinstance(value, str) and not pd.api.types.is_string_dtype(frame[column]):
        frame[column] = frame[column].astype(object)
    elif pd.api.types.is_integer_dtype(frame[column]) and not isinstance(value, str):
        frame[column] = frame[column].astype("float64")
    frame.loc[row, column] = value
    return frame


# id, frame factory, mapping, expected substrings
CASES = [
    ("missing column", ipd_frame, {**IPD, "dose": "BED"},
     ["dose='BED'", "no such column", "'bed'", "'centre'"]),
    ("missing outcome column", ipd_frame, {**IPD, "outcome": "toxicity"},
     ["outcome='toxicity'", "no such column"]),
    ("non-numeric dose", lambda: _set(ipd_frame(), 11, "bed", "twenty"), IPD,
     ["column 'bed' (dose=)", "non-numeric", "row 11", "'twenty'", "Gy"]),
    ("negative dose", lambda: _set(ipd_frame(), 12, "bed", -5.0), IPD,
     ["column 'bed' (dose=)", "negative dose", "row 12", "-5.0", ">= 0"]),
    ("infinite dose", lambda: _set(ipd_frame(), 12, "bed", np.inf), IPD,
     ["column 'bed' (dose=)", "infinite dose", "row 12"]),
    ("NaN dose", lambda: _set(ipd_frame(), 13, "bed", np.nan), IPD,
     ["column 'bed' (dose=)", "missing (NaN) dose", "row 13", "drop_rows="]),
    ("NaN outcome", lambda: _set(ipd_frame(), 14, "tox", np.nan), IPD,
     ["column 'tox' (outcome=)", "missing (NaN) outcome", "row 14", "drop_rows="]),
    ("outcome 2", lambda: _set(ipd_frame(), 10, "tox", 2), IPD,
     ["column 'tox' (outcome=)", "0/1", "found 2", "row 10"]),
    ("outcome 0.5", lambda: _set(ipd_frame(), 15, "tox", 0.5), IPD,
     ["column 'tox' (outcome=)", "found 0.5", "row 15"]),
    ("outcome yes", lambda: _set(ipd_frame(), 11, "tox", "yes"), IPD,
     ["column 'tox' (outcome=)", "found 'yes'", "row 11", "astype(int)"]),
    ("events > n", lambda: _set(agg_frame(), "c1", "ev", 11), AGG,
     ["'ev' (events=)", "'n' (n=)", "events > n", "row 'c1'", "11 > 10"]),
    ("negative events", lambda: _set(agg_frame(), "c2", "ev", -1), AGG,
     ["column 'ev' (events=)", "negative events", "row 'c2'"]),
    ("n zero", lambda: _set(agg_frame(), "d1", "n", 0), AGG,
     ["column 'n' (n=)", "n <= 0", "row 'd1'"]),
    ("n negative", lambda: _set(agg_frame(), "d1", "n", -3), AGG,
     ["column 'n' (n=)", "n <= 0", "row 'd1'", "-3"]),
    ("non-integer events", lambda: _set(agg_frame(), "c1", "ev", 1.5), AGG,
     ["column 'ev' (events=)", "non-integer count", "row 'c1'", "1.5"]),
    ("non-integer n", lambda: _set(agg_frame(), "c2", "n", 12.25), AGG,
     ["column 'n' (n=)", "non-integer count", "row 'c2'", "12.25"]),
    ("non-numeric n", lambda: _set(agg_frame(), "c2", "n", "twelve"), AGG,
     ["column 'n' (n=)", "non-numeric", "row 'c2'", "'twelve'"]),
    ("n missing on a bin", lambda: _set(agg_frame(), "c2", "n", np.nan), AGG,
     ["column 'n' (n=)", "missing", "row 'c2'", "need both events and n"]),
    ("duplicated patient", lambda: _set(ipd_frame(), 11, "pid", "p1"), IPD,
     ["column 'pid' (patient=)", "duplicated patient ids", "'p1' in study 'A'", "row 10",
      "row 11"]),
    ("missing patient id", lambda: _set(ipd_frame(), 11, "pid", np.nan), IPD,
     ["column 'pid' (patient=)", "missing patient id", "row 11"]),
    ("patient id on aggregate row", lambda: _set(mixed_frame(), "c1", "pid", "x9"), MIXED,
     ["column 'pid' (patient=)", "aggregate row", "row 'c1'"]),
    ("mixed dose metrics", lambda: _set(ipd_frame(), 14, "metric", "EQD2"),
     {**IPD, "dose_metric_column": "metric"},
     ["column 'metric' (dose_metric_column=)", "mixed dose metrics", "'BED'", "'EQD2'",
      "row 14", "with_dose"]),
    ("mixed dose units", lambda: _set(ipd_frame(), 10, "unit", "cGy"),
     {**IPD, "dose_unit_column": "unit"},
     ["column 'unit' (dose_unit_column=)", "mixed dose units", "'Gy'", "'cGy'", "row 10"]),
    ("metric column disagrees with argument", ipd_frame,
     {**IPD, "dose_metric_column": "metric", "dose_metric": "EQD2"},
     ["column 'metric' (dose_metric_column=)", "'BED'", "dose_metric='EQD2'", "agree"]),
    ("missing metric on a row", lambda: _set(ipd_frame(), 12, "metric", np.nan),
     {**IPD, "dose_metric_column": "metric"},
     ["column 'metric' (dose_metric_column=)", "missing dose_metric", "row 12"]),
    ("unknown covariate", ipd_frame, {**IPD, "covariates": ["weight"]},
     ["unknown covariate 'weight'", "covariates=", "columns are", "'age'"]),
    ("unknown study covariate", ipd_frame, {**IPD, "study_covariates": ["scanner"]},
     ["unknown covariate 'scanner'", "study_covariates="]),
    ("non-numeric covariate",
     lambda: ipd_frame().assign(sex=["F", "M", "F", "M", "F", "M"]),
     {**IPD, "covariates": ["sex"]},
     ["column 'sex' (covariates=)", "non-numeric", "row 10", "'F'", "0/1"]),
    ("NaN covariate on patient row", lambda: _set(ipd_frame(), 13, "age", np.nan),
     {**IPD, "covariates": ["age"]},
     ["column 'age' (covariates=)", "missing covariate value", "row 13", "impute"]),
    ("infinite covariate", lambda: _set(ipd_frame(), 13, "age", np.inf),
     {**IPD, "covariates": ["age"]},
     ["column 'age' (covariates=)", "infinite covariate value", "row 13"]),
    ("study covariate varies", lambda: _set(ipd_frame(), 15, "lab", 1.0),
     {**IPD, "study_covariates": ["lab"]},
     ["column 'lab' (study_covariates=)", "not constant within study 'B'"]),
    ("covariate clashes with canonical name", lambda: ipd_frame().rename(columns={"age": "n"}),
     {**IPD, "covariates": ["n"]},
     ["covariate 'n' clashes", "canonical column name"]),
    ("column mapped twice", ipd_frame, {**IPD, "covariates": ["bed"]},
     ["column 'bed' is mapped more than once", "dose=", "covariates="]),
    ("negative dose_se", lambda: _set(ipd_frame(), 12, "se", -1.0), {**IPD, "dose_se": "se"},
     ["column 'se' (dose_se=)", "negative dose standard error", "row 12"]),
    ("negative dose_rel_se", lambda: _set(ipd_frame(), 12, "rel", -0.1),
     {**IPD, "dose_rel_se": "rel"},
     ["column 'rel' (dose_rel_se=)", "negative relative dose uncertainty", "row 12"]),
    ("implausible dose_rel_se", lambda: _set(ipd_frame(), 13, "rel", 20.0),
     {**IPD, "dose_rel_se": "rel"},
     ["column 'rel' (dose_rel_se=)", "implausible", "row 13", "20.0", "fraction"]),
    ("dose_se and dose_rel_se on one row", ipd_frame,
     {**IPD, "dose_se": "se", "dose_rel_se": "rel"},
     ["'se' (dose_se=)", "'rel' (dose_rel_se=)", "both given", "row 10"]),
    ("dose_low above dose", lambda: _set(agg_frame(), "c1", "lo", 25.0), AGG,
     ["column 'lo' (dose_low=)", "lower bound above the bin dose", "row 'c1'", "25.0"]),
    ("dose_high below dose", lambda: _set(agg_frame(), "d1", "hi", 29.0), AGG,
     ["column 'hi' (dose_high=)", "upper bound below the bin dose", "row 'd1'", "29.0"]),
    ("negative dose_sd", lambda: agg_frame().assign(sd=[1.0, -2.0, 3.0]),
     {**AGG, "dose_sd": "sd"},
     ["column 'sd' (dose_sd=)", "negative value", "row 'c2'"]),
    ("dose_low on a patient row", lambda: mixed_frame().assign(lo=5.0), {**MIXED, "dose_low": "lo"},
     ["column 'lo' (dose_low=)", "patient (IPD) row", "row 10"]),
    ("outcome and events on one row", lambda: _set(mixed_frame(), "c2", "tox", 1), MIXED,
     ["both an outcome ('tox')", "events/n", "row 'c2'"]),
    ("neither outcome nor events", lambda: _set(mixed_frame(), 12, "tox", np.nan), MIXED,
     ["neither an outcome ('tox') nor events/n", "row 12"]),
    ("aggregate row without counts",
     lambda: _set(_set(agg_frame(), "d1", "ev", np.nan), "d1", "n", np.nan), AGG,
     ["'ev' (events=)", "'n' (n=)", "both missing", "row 'd1'"]),
    ("invalid dose_summary", agg_frame, {**AGG, "dose_summary": "mode"},
     ["dose_summary='mode'", "'mean'", "'median'", "'midpoint'"]),
    ("events without n", agg_frame, {"dose": "bed", "study": "centre", "events": "ev"},
     ["events= is mapped but n= is not"]),
    ("no outcome mapped", ipd_frame, {"dose": "bed", "study": "centre"},
     ["no outcome mapped", "outcome=", "events= and n="]),
    ("missing study label", lambda: _set(ipd_frame(), 12, "centre", np.nan), IPD,
     ["column 'centre' (study=)", "missing study label", "row 12"]),
    ("empty study label", lambda: _set(ipd_frame(), 12, "centre", ""), IPD,
     ["column 'centre' (study=)", "empty study label", "row 12"]),
    ("event after follow-up", lambda: _set(ipd_frame(), 12, "t_event", 7.0),
     {**IPD, "follow_up": "fu", "event_time": "t_event"},
     ["column 't_event' (event_time=)", "after the end of follow-up", "row 12", "'fu'"]),
    ("negative follow-up", lambda: _set(ipd_frame(), 11, "fu", -1.0),
     {**IPD, "follow_up": "fu"},
     ["column 'fu' (follow_up=)", "negative time", "row 11"]),
    ("follow-up on aggregate row", lambda: mixed_frame().assign(fu=12.0),
     {**MIXED, "follow_up": "fu"},
     ["column 'fu' (follow_up=)", "aggregate row", "row 'c1'"]),
    ("duplicated column names",
     lambda: ipd_frame().set_axis([*ipd_frame().columns[:-1], "age"], axis=1), IPD,
     ["duplicated column names", "'age'"]),
    ("empty dose_metric", ipd_frame, {**IPD, "dose_metric": ""},
     ["dose_metric= must be a non-empty string"]),
    ("dose not mapped", ipd_frame, {**IPD, "dose": None},
     ["argument dose= is required"]),
]


@pytest.mark.parametrize(
    ("factory", "mapping", "expected"),
    [pytest.param(f, m, e, id=name) for name, f, m, e in CASES],
)
def test_bad_input_is_reported_with_column_row_and_fix(factory, mapping, expected):
    df = factory()
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallStudyWarning)
        with pytest.raises(DataValidationError) as info:
            DoseResponseData.from_frame(df, **mapping)
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    assert isinstance(info.value, DoseResponseError)
    assert isinstance(info.value, ValueError)
    pd.testing.assert_frame_equal(df, before)  # the user's frame is never modified


def test_valid_base_frames_pass():
    # guards the table above: each case fails because of the one thing it breaks
    DoseResponseData.from_frame(
        ipd_frame(), **IPD, covariates=["age"], study_covariates=["lab"], dose_se="se",
        follow_up="fu", event_time="t_event", dose_metric_column="metric",
        dose_unit_column="unit",
    )
    DoseResponseData.from_frame(agg_frame(), **AGG)
    DoseResponseData.from_frame(mixed_frame(), **MIXED)
    DoseResponseData.from_frame(ipd_frame(), **IPD, dose_rel_se="rel")


def test_all_problems_are_collected_in_one_message():
    df = ipd_frame()
    df = _set(df, 10, "bed", -1.0)
    df = _set(df, 11, "tox", 3)
    df = _set(df, 14, "pid", "q1")
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(df, **IPD, covariates=["weight"])
    message = str(info.value)
    # argument problems are reported first, on their own, before row checks
    assert "unknown covariate 'weight'" in message
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(df, **IPD)
    message = str(info.value)
    assert message.startswith("3 problems in the dose-response table:")
    assert message.count("\n  - ") == 3
    assert "negative dose" in message and "found 3" in message and "'q1' in study 'B'" in message


def test_long_problem_lists_are_truncated():
    n_cols = 25
    df = ipd_frame()
    for i in range(n_cols):
        df[f"c{i}"] = "text"
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(df, **IPD, covariates=[f"c{i}" for i in range(n_cols)])
    message = str(info.value)
    assert message.startswith(f"{n_cols} problems")
    assert message.count("\n  - ") == 20
    assert f"... and {n_cols - 20} more" in message


def test_many_bad_rows_are_listed_briefly():
    df = ipd_frame()
    df["bed"] = -df["bed"]
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(df, **IPD)
    message = str(info.value)
    assert "row 10" in message and "row 14" in message and "and 1 more" in message
    assert "row 15" not in message


def test_non_unique_index_names_rows_by_position():
    df = ipd_frame().set_axis([0, 0, 1, 1, 2, 2])
    df = _set(df.reset_index(drop=True), 3, "bed", -2.0).set_axis([0, 0, 1, 1, 2, 2])
    with pytest.raises(DataValidationError, match=r"row at position 3 \(index label 1\)"):
        DoseResponseData.from_frame(df, **IPD)


def test_not_a_dataframe():
    with pytest.raises(DataValidationError, match=r"df must be a pandas DataFrame.*dict"):
        DoseResponseData.from_frame({"bed": [1.0]}, dose="bed", outcome="tox")


def test_empty_frame():
    with pytest.raises(DataValidationError, match="no rows"):
        DoseResponseData.from_frame(ipd_frame().iloc[:0], **IPD)


def test_all_rows_dropped():
    with (
        pytest.warns(DroppedRowsWarning),
        pytest.raises(DataValidationError, match="no rows left after drop_rows="),
    ):
        DoseResponseData.from_frame(ipd_frame(), **IPD, drop_rows=[10, 11, 12, 13, 14, 15])


@pytest.mark.parametrize(
    ("drop_rows", "match"),
    [
        ([99], r"drop_rows= names index labels that are not in the frame: \[99\]"),
        ([True, False], "boolean mask of length 2 but the frame has 6 rows"),
        (pd.Series([True] * 6), "index does not match the frame's index"),
    ],
)
def test_bad_drop_rows(drop_rows, match):
    with pytest.raises(DataValidationError, match=match):
        DoseResponseData.from_frame(ipd_frame(), **IPD, drop_rows=drop_rows)


def test_single_patient_study_warns_naming_the_study():
    df = ipd_frame().iloc[:4]  # study B keeps one patient
    with pytest.warns(SmallStudyWarning, match="study 'B' has a single patient"):
        data = DoseResponseData.from_frame(df, **IPD)
    assert data.studies == ("A", "B")  # kept, not dropped
    assert issubclass(SmallStudyWarning, UserWarning)


def test_single_patient_aggregate_bin_warns():
    df = agg_frame()
    df.loc["d1", ["ev", "n"]] = [0, 1]
    with pytest.warns(SmallStudyWarning, match="'D'"):
        DoseResponseData.from_frame(df, **AGG)


def test_no_warning_for_regular_studies():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DoseResponseData.from_frame(mixed_frame(), **MIXED)


def test_drop_rows_warns_and_reports():
    df = _set(ipd_frame(), 12, "bed", np.nan)
    with pytest.warns(DroppedRowsWarning, match=r"dropped 1 row\(s\).*row 12"):
        data = DoseResponseData.from_frame(df, **IPD, drop_rows=[12])
    assert data.n_ipd == 5
    dropped = data.dropped
    assert list(dropped.index) == [12]
    assert dropped.loc[12, "pid"] == "p3"
    assert "drop_rows" in dropped.loc[12, "drop_reason"]


def test_drop_rows_boolean_mask():
    df = ipd_frame()
    with pytest.warns(DroppedRowsWarning, match=r"dropped 2 row\(s\).*row 10, row 13"):
        data = DoseResponseData.from_frame(df, **IPD, drop_rows=df["pid"].isin(["p1", "q1"]))
    assert list(data.dropped.index) == [10, 13]
    assert data.ipd["patient"].tolist() == ["p2", "p3", "q2", "q3"]


def test_unknown_study_label():
    data = DoseResponseData.from_frame(ipd_frame(), **IPD)
    with pytest.raises(UnknownNameError, match="unknown study 'Z'; the studies are: A, B"):
        data.study_index("Z")
    with pytest.raises(UnknownNameError, match="unknown study 'Z'"):
        data.select_studies(["A", "Z"])
    with pytest.raises(UnknownNameError, match="unknown study 'Q'"):
        data.rename_studies({"Q": "R"})
    with pytest.raises(DoseResponseError, match=r"would merge studies into \['B'\]"):
        data.rename_studies({"A": "B"})
    with pytest.raises(DoseResponseError, match="at least one study"):
        data.select_studies([])


def test_bad_study_codes_argument():
    data = DoseResponseData.from_frame(ipd_frame(), **IPD)
    with pytest.raises(DoseResponseError, match="which='patients' is not valid"):
        data.study_codes("patients")


def test_from_csv_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="no such file"):
        DoseResponseData.from_csv(tmp_path / "nope.csv", **IPD)


def test_from_dict_rejects_foreign_payload():
    with pytest.raises(DataValidationError, match="not a saved DoseResponseData"):
        DoseResponseData.from_dict({"rows": {}})
    data = DoseResponseData.from_frame(ipd_frame(), **IPD)
    payload = data.to_dict()
    payload["schema_version"] = 99
    with pytest.raises(DataValidationError, match="schema_version 99"):
        DoseResponseData.from_dict(payload)


def test_from_dict_revalidates_rows():
    payload = DoseResponseData.from_frame(ipd_frame(), **IPD).to_dict()
    payload["rows"]["outcome"][0] = 7
    with pytest.raises(DataValidationError, match="found 7"):
        DoseResponseData.from_dict(payload)


def test_concat_rejects_mixed_metrics_units_and_shared_studies():
    bed = DoseResponseData.from_frame(ipd_frame(), **IPD, dose_metric="BED")
    eqd2 = DoseResponseData.from_frame(agg_frame(), **AGG, dose_metric="EQD2", dose_unit="cGy")
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.concat([bed, eqd2])
    message = str(info.value)
    assert "mixed dose_metric" in message and "#0: 'BED'" in message and "#1: 'EQD2'" in message
    assert "mixed dose_unit" in message and "'cGy'" in message
    with pytest.raises(DataValidationError, match="study 'A' appears in dataset #0 and #1"):
        DoseResponseData.concat([bed, bed])
    with pytest.raises(DataValidationError, match="non-empty sequence"):
        DoseResponseData.concat([])
    with pytest.raises(DataValidationError, match="non-empty sequence"):
        DoseResponseData.concat([bed, ipd_frame()])


def test_concat_rejects_missing_covariate_on_patient_rows():
    with_age = DoseResponseData.from_frame(ipd_frame(), **IPD, covariates=["age"])
    other = DoseResponseData.from_frame(
        ipd_frame().assign(centre=["E"] * 3 + ["F"] * 3), **IPD
    )
    with pytest.raises(DataValidationError, match=r"dataset #1 has patient rows but lacks.*'age'"):
        DoseResponseData.concat([with_age, other])


def test_concat_rejects_different_outcomes_and_dose_summaries():
    a = DoseResponseData.from_frame(agg_frame(), **AGG, outcome_name="nephrotoxicity")
    b = DoseResponseData.from_frame(
        agg_frame().assign(centre=["X", "X", "Y"]), **AGG, outcome_name="xerostomia",
        dose_summary="median",
    )
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.concat([a, b])
    assert "mixed outcome_name" in str(info.value)
    assert "concat(..., outcome_name=...)" in str(info.value)
    assert "mixed dose_summary" in str(info.value)


def test_with_dose_errors():
    data = DoseResponseData.from_frame(ipd_frame(), **IPD)
    with pytest.raises(DoseResponseError, match="must hold 6 doses"):
        data.with_dose([1.0, 2.0], dose_metric="BED", dose_unit="Gy")
    with pytest.raises(DataValidationError, match="negative dose"):
        data.with_dose(-np.arange(6.0), dose_metric="BED", dose_unit="Gy")
    with pytest.raises(DoseResponseError, match="new_dose_values must be numeric"):
        data.with_dose(["a"] * 6, dose_metric="BED", dose_unit="Gy")
    with pytest.raises(DoseResponseError, match="dose_se='relative' is not valid"):
        data.with_dose(np.ones(6), dose_metric="BED", dose_unit="Gy", dose_se="relative")
    with pytest.raises(DoseResponseError, match="one value per dose"):
        data.with_dose(lambda d: d[:2], dose_metric="BED", dose_unit="Gy")
    binned = DoseResponseData.from_frame(agg_frame(), **AGG)
    with pytest.raises(DoseResponseError, match="pass new_dose_values as a function"):
        binned.with_dose(np.ones(3), dose_metric="BED", dose_unit="Gy")


def test_container_is_immutable():
    data = DoseResponseData.from_frame(ipd_frame(), **IPD)
    with pytest.raises(AttributeError, match="immutable"):
        data.dose_metric = "BED"
    with pytest.raises(AttributeError, match="immutable"):
        data._ipd = None
    view = data.ipd
    view.loc[0, "dose"] = 999.0
    assert data.ipd.loc[0, "dose"] == 10.0
