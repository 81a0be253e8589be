"""DoseResponseData: construction, canonical tables, round trips, concat, summaries, conversions."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DroppedRowsWarning, SmallStudyWarning


def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre": ["A", "B", "A", "B", "A", "B"],  # interleaved on purpose
            "pid": ["p1", "q1", "p2", "q2", "p3", "q3"],
            "bed": [10.0, 15.0, 20.0, 25.0, 30.0, 35.0],
            "tox": [0, 0, 0, 1, 1, 1],
            "htn": [1, 0, 0, 1, 0, 1],
            "rel": [0.1, 0.2, 0.1, 0.2, 0.1, 0.2],
            "fu": [12.0, 24.0, 6.0, 12.0, 8.0, 10.0],
            "t_event": [np.nan, np.nan, np.nan, 5.0, 7.0, 9.0],
            "spect": [1, 0, 1, 0, 1, 0],
        }
    )


PATIENT_MAP = {"dose": "bed", "outcome": "tox", "study": "centre", "patient": "pid"}


def bins() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "centre": ["C", "C", "D"],
            "bed": [20.0, 40.0, 30.0],
            "lo": [10.0, 30.0, 20.0],
            "hi": [30.0, 50.0, 40.0],
            "sd": [5.0, np.nan, 6.0],
            "ev": [1, 4, 2],
            "n": [10, 12, 8],
            "htn": [0.3, np.nan, 0.5],
        }
    )


BIN_MAP = {"dose": "bed", "study": "centre", "events": "ev", "n": "n", "dose_low": "lo",
           "dose_high": "hi", "dose_sd": "sd"}


def mixed() -> pd.DataFrame:
    return pd.concat([patients(), bins()], ignore_index=True)


MIXED_MAP = {**PATIENT_MAP, **BIN_MAP}


def build(kind: str) -> DoseResponseData:
    if kind == "ipd":
        return DoseResponseData.from_frame(
            patients(), **PATIENT_MAP, covariates=["htn"], study_covariates=["spect"],
            dose_rel_se="rel", follow_up="fu", event_time="t_event", dose_metric="BED",
            outcome_name="grade >= 3 nephrotoxicity",
        )
    if kind == "aggregate":
        return DoseResponseData.from_frame(
            bins(), **BIN_MAP, covariates=["htn"], dose_summary="median", dose_metric="EQD2"
        )
    return DoseResponseData.from_frame(
        mixed(), **MIXED_MAP, covariates=["htn"], dose_metric="BED", dose_unit="Gy"
    )


# ------------------------------------------------------------------ construction


def test_ipd_tables_and_attributes():
    data = build("ipd")
    ipd = data.ipd
    assert list(ipd.columns) == [
        "study", "patient", "dose", "dose_se", "outcome", "follow_up", "event_time", "htn",
        "spect",
    ]
    # grouped by study in order of first appearance, input order kept within a study
    assert ipd["study"].tolist() == ["A", "A", "A", "B", "B", "B"]
    assert ipd["patient"].tolist() == ["p1", "p2", "p3", "q1", "q2", "q3"]
    assert ipd["dose"].tolist() == [10.0, 20.0, 30.0, 15.0, 25.0, 35.0]
    assert ipd["outcome"].dtype == np.int64
    assert ipd["dose"].dtype == np.float64
    assert pd.api.types.is_string_dtype(ipd["study"])
    assert pd.api.types.is_string_dtype(ipd["patient"])
    # relative uncertainty converted to an absolute standard error: rel * dose
    np.testing.assert_allclose(ipd["dose_se"], [1.0, 2.0, 3.0, 3.0, 5.0, 7.0])
    assert data.studies == ("A", "B")
    assert data.covariates == ("htn",)
    assert data.study_covariates == ("spect",)
    assert data.dose_metric == "BED" and data.dose_unit == "Gy"
    assert data.dose_label == "BED [Gy]"
    assert data.outcome_name == "grade >= 3 nephrotoxicity"
    assert data.time_unit == "months" and data.has_time_to_event
    assert (data.n_ipd, data.n_aggregate_rows, data.n_patients, data.n_events) == (6, 0, 6, 3)
    assert data.has_ipd and not data.has_aggregate and not data.is_mixed
    assert len(data) == 6
    np.testing.assert_array_equal(data.study_codes("ipd"), [0, 0, 0, 1, 1, 1])
    assert data.study_codes("aggregate").shape == (0,)
    assert data.aggregate.empty and list(data.aggregate.columns[:3]) == ["study", "dose",
                                                                           "dose_low"]
    assert data.dropped.empty


def test_aggregate_tables_and_attributes():
    data = build("aggregate")
    agg = data.aggregate
    assert list(agg.columns) == [
        "study", "dose", "dose_low", "dose_high", "dose_sd", "dose_se", "events", "n", "htn",
    ]
    assert agg["events"].tolist() == [1, 4, 2] and agg["events"].dtype == np.int64
    assert agg["n"].tolist() == [10, 12, 8] and agg["n"].dtype == np.int64
    assert agg["dose_se"].isna().all()
    assert np.isnan(agg.loc[1, "htn"]) and agg.loc[0, "htn"] == 0.3
    assert data.dose_summary == "median"
    assert data.outcome_name == "outcome"
    assert (data.n_ipd, data.n_aggregate_rows, data.n_patients, data.n_events) == (0, 3, 30, 7)
    assert data.has_aggregate and not data.has_ipd and not data.is_mixed
    np.testing.assert_array_equal(data.study_codes("aggregate"), [0, 0, 1])
    assert data.ipd.empty and "outcome" in data.ipd.columns


def test_mixed_cohort():
    data = build("mixed")
    assert data.is_mixed
    assert data.studies == ("A", "B", "C", "D")
    assert (data.n_ipd, data.n_aggregate_rows) == (6, 3)
    assert data.n_patients == 6 + 30
    assert data.n_events == 3 + 7
    np.testing.assert_array_equal(data.study_codes("ipd"), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(data.study_codes("aggregate"), [2, 2, 3])
    assert data.ipd["htn"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 1.0]


def test_study_mixing_ipd_and_bins():
    df = pd.DataFrame({
        "centre": ["A", "A", "A"], "bed": [10.0, 20.0, 30.0], "tox": [0, 1, np.nan],
        "ev": [np.nan, np.nan, 3], "n": [np.nan, np.nan, 9],
    })
    data = DoseResponseData.from_frame(df, dose="bed", outcome="tox", study="centre",
                                       events="ev", n="n")
    summary = data.summary()
    assert summary.loc["A", "kind"] == "mixed"
    assert summary.loc["A", "patients"] == 11 and summary.loc["A", "events"] == 4


def test_defaults_single_study_and_numbered_patients():
    df = pd.DataFrame({"dose": [5.0, 6.0, 7.0], "y": [0, 1, 1]})
    data = DoseResponseData.from_frame(df, dose="dose", outcome="y")
    assert data.studies == ("study",)
    assert data.ipd["patient"].tolist() == ["1", "2", "3"]
    assert data.dose_metric == "dose" and data.dose_unit == "Gy"
    assert data.outcome_name == "y"


def test_patients_numbered_within_each_study():
    df = pd.DataFrame(
        {"s": ["X", "Y", "X", "Y", "Y"], "d": [1.0, 2, 3, 4, 5], "y": [0, 1, 0, 1, 1]}
    )
    data = DoseResponseData.from_frame(df, dose="d", outcome="y", study="s")
    assert data.ipd["patient"].tolist() == ["1", "2", "1", "2", "3"]


@pytest.mark.parametrize(
    "outcome",
    [
        [True, False, True, False],
        [1.0, 0.0, 1.0, 0.0],
        pd.array([True, False, True, False], dtype="boolean"),
        ["1", "0", "1", "0"],
    ],
    ids=["bool", "float", "nullable-boolean", "numeric-strings"],
)
def test_outcome_encodings_accepted(outcome):
    df = pd.DataFrame({"d": [1.0, 2.0, 3.0, 4.0], "y": outcome})
    data = DoseResponseData.from_frame(df, dose="d", outcome="y")
    assert data.ipd["outcome"].tolist() == [1, 0, 1, 0]


def test_integer_study_and_patient_labels_become_text():
    df = pd.DataFrame({
        "s": [1.0, 1.0, 2.0, 2.0, np.nan], "p": [7, 8, 7, 8, np.nan],
        "d": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [0, 1, 0, 1, np.nan],
        "e": [np.nan] * 4 + [2.0], "m": [np.nan] * 4 + [5.0],
    })
    df.loc[4, "s"] = 3.0
    data = DoseResponseData.from_frame(df, dose="d", outcome="y", study="s", patient="p",
                                       events="e", n="m")
    assert data.studies == ("1", "2", "3")
    assert data.ipd["patient"].tolist() == ["7", "8", "7", "8"]


def test_non_integer_numeric_labels_keep_their_decimals():
    df = pd.DataFrame({"s": [1.5, 1.5, 2.0, 2.0], "d": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    data = DoseResponseData.from_frame(df, dose="d", outcome="y", study="s")
    assert data.studies == ("1.5", "2")


def test_object_column_of_bools_with_missing_bins():
    df = pd.DataFrame({
        "d": [1.0, 2.0, 3.0, 4.0], "y": pd.Series([True, False, None, True], dtype=object),
        "e": [np.nan, np.nan, 1, np.nan], "n": [np.nan, np.nan, 3, np.nan],
    })
    data = DoseResponseData.from_frame(df, dose="d", outcome="y", events="e", n="n")
    assert data.ipd["outcome"].tolist() == [1, 0, 1]
    assert data.ipd["patient"].tolist() == ["1", "2", "3"]  # numbered over patient rows only
    assert data.aggregate["dose"].tolist() == [3.0]


def test_constructor_is_from_frame():
    assert DoseResponseData(patients(), **PATIENT_MAP) == DoseResponseData.from_frame(
        patients(), **PATIENT_MAP
    )


def test_bool_covariate_is_numeric():
    df = patients().assign(htn=lambda f: f["htn"].astype(bool))
    data = DoseResponseData.from_frame(df, **PATIENT_MAP, covariates="htn")
    assert data.ipd["htn"].dtype == np.float64
    assert data.covariates == ("htn",)


def test_metric_and_unit_from_columns():
    df = patients().assign(metric="EQD2", unit="Gy")
    data = DoseResponseData.from_frame(df, **PATIENT_MAP, dose_metric_column="metric",
                                       dose_unit_column="unit")
    assert (data.dose_metric, data.dose_unit) == ("EQD2", "Gy")


def test_user_frame_is_not_modified():
    df = mixed()
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedRowsWarning)
        DoseResponseData.from_frame(df, **MIXED_MAP, covariates=["htn"], drop_rows=[0])
    pd.testing.assert_frame_equal(df, before)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("kind", ["ipd", "aggregate", "mixed"])
def test_frame_round_trip(kind):
    data = build(kind)
    frame = data.to_frame()
    assert frame.columns[0] == "row_kind"
    assert set(frame["row_kind"]) == ({"ipd", "aggregate"} if kind == "mixed" else {kind})
    assert (frame["dose_metric"] == data.dose_metric).all()
    again = DoseResponseData.from_frame(frame, **data.canonical_mapping())
    assert again == data
    pd.testing.assert_frame_equal(again.ipd, data.ipd)
    pd.testing.assert_frame_equal(again.aggregate, data.aggregate)
    pd.testing.assert_frame_equal(again.to_frame(), frame)


def test_to_frame_layout_for_mixed():
    frame = build("mixed").to_frame()
    assert list(frame.columns) == [
        "row_kind", "study", "patient", "dose", "dose_se", "dose_low", "dose_high", "dose_sd",
        "outcome", "events", "n", "htn", "dose_metric", "dose_unit",
    ]
    assert frame["row_kind"].tolist() == ["ipd"] * 6 + ["aggregate"] * 3
    assert frame["outcome"].dtype == "Int64" and frame["n"].dtype == "Int64"
    assert frame["outcome"].isna().sum() == 3 and frame["events"].isna().sum() == 6


@pytest.mark.parametrize("kind", ["ipd", "aggregate", "mixed"])
def test_csv_round_trip(kind, tmp_path):
    data = build(kind)
    path = tmp_path / "cohort.csv"
    data.to_csv(path)
    again = DoseResponseData.from_csv(path, **data.canonical_mapping())
    assert again == data


def test_csv_keeps_leading_zeros_and_reads_user_files(tmp_path):
    path = tmp_path / "site.csv"
    path.write_text("site;patient;bed;tox\n01;007;20.5;0\n01;008;30.25;1\n02;007;12;1\n"
                    "02;009;40;0\n")
    data = DoseResponseData.from_csv(path, read_csv_kwargs={"sep": ";"}, dose="bed",
                                     outcome="tox", study="site", patient="patient")
    assert data.studies == ("01", "02")
    assert data.ipd["patient"].tolist() == ["007", "008", "007", "009"]
    assert data.ipd["dose"].tolist() == [20.5, 30.25, 12.0, 40.0]


def test_csv_round_trip_random_floats(tmp_path, rng):
    df = pd.DataFrame({
        "d": rng.gamma(4.0, 10.0, size=200), "y": rng.integers(0, 2, size=200),
        "s": rng.choice(["x", "y", "z"], size=200), "se": rng.uniform(0.1, 3.0, size=200),
        "age": rng.normal(60, 10, size=200),
    })
    data = DoseResponseData.from_frame(df, dose="d", outcome="y", study="s", dose_se="se",
                                       covariates=["age"])
    data.to_csv(tmp_path / "r.csv")
    assert DoseResponseData.from_csv(tmp_path / "r.csv", **data.canonical_mapping()) == data


@pytest.mark.parametrize("kind", ["ipd", "aggregate", "mixed"])
def test_dict_and_json_round_trip(kind):
    data = build(kind)
    payload = data.to_dict()
    text = json.dumps(payload, allow_nan=False)  # strict JSON: NaN became null
    assert DoseResponseData.from_dict(json.loads(text)) == data
    assert DoseResponseData.from_json(data.to_json()) == data
    assert payload["mapping"]["dose_metric"] == data.dose_metric
    assert payload["mapping"]["dose_unit"] == data.dose_unit


def test_dropped_rows_travel_in_dict():
    with pytest.warns(DroppedRowsWarning):
        data = DoseResponseData.from_frame(mixed(), **MIXED_MAP, drop_rows=[1, 7])
    assert list(data.dropped.index) == [1, 7]
    again = DoseResponseData.from_dict(data.to_dict())
    assert again.dropped.index.tolist() == ["1", "7"]
    assert again == data
    assert "2 row(s) dropped on request" in repr(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["s1", "s2", "s3"]),
            st.floats(0.0, 500.0, allow_nan=False),
            st.integers(0, 1),
            st.floats(-5.0, 5.0, allow_nan=False),
        ),
        min_size=2,
        max_size=30,
    ),
    st.lists(
        st.tuples(st.sampled_from(["b1", "s1"]), st.floats(0.0, 500.0), st.integers(1, 50)),
        max_size=5,
    ),
)
def test_round_trip_property(patient_rows, bin_rows):
    ipd = pd.DataFrame(patient_rows, columns=["study", "dose", "outcome", "x"])
    agg = pd.DataFrame(bin_rows, columns=["study", "dose", "n"])
    agg["events"] = agg["n"] // 2
    frame = pd.concat([ipd, agg], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallStudyWarning)
        data = DoseResponseData.from_frame(frame, dose="dose", outcome="outcome", study="study",
                                           events="events", n="n", covariates=["x"])
        again = DoseResponseData.from_frame(data.to_frame(), **data.canonical_mapping())
    assert again == data
    assert data.n_patients == len(ipd) + int(agg["n"].sum())
    assert data.n_events == int(ipd["outcome"].sum()) + int(agg["events"].sum())


# ------------------------------------------------------------------ equality, concat, subsets


def test_equality_by_content():
    assert build("mixed") == build("mixed")
    assert build("mixed") != build("ipd")
    other_metric = DoseResponseData.from_frame(
        mixed(), **MIXED_MAP, covariates=["htn"], dose_metric="EQD2"
    )
    assert other_metric != build("mixed")
    assert build("ipd") != "not data"
    with pytest.raises(TypeError):
        hash(build("ipd"))


def test_concat_ipd_and_aggregate_sources():
    ipd = DoseResponseData.from_frame(patients(), **PATIENT_MAP, covariates=["htn"],
                                      dose_metric="BED")
    agg = DoseResponseData.from_frame(bins().drop(columns="htn"), **BIN_MAP, dose_metric="BED")
    both = DoseResponseData.concat([ipd, agg], outcome_name="nephrotoxicity")
    assert both.is_mixed
    assert both.outcome_name == "nephrotoxicity"
    assert both.studies == ("A", "B", "C", "D")
    assert both.covariates == ("htn",)
    assert both.aggregate["htn"].isna().all()  # aggregate source did not report it
    assert both.n_patients == ipd.n_patients + agg.n_patients
    assert both.n_events == ipd.n_events + agg.n_events
    pd.testing.assert_frame_equal(both.ipd, ipd.ipd)
    assert both.dose_metric == "BED"


def test_concat_equals_building_from_one_frame():
    ipd = DoseResponseData.from_frame(patients(), **PATIENT_MAP, covariates=["htn"],
                                      dose_metric="BED")
    agg = DoseResponseData.from_frame(bins(), **BIN_MAP, covariates=["htn"], dose_metric="BED",
                                      outcome_name="tox")
    assert DoseResponseData.concat([ipd, agg]) == build("mixed")


def test_concat_shared_studies_on_request():
    first = DoseResponseData.from_frame(patients().iloc[:4], **PATIENT_MAP)
    with pytest.warns(SmallStudyWarning, match="studies 'A', 'B' each have a single patient"):
        second = DoseResponseData.from_frame(
            patients().iloc[4:].assign(pid=["p9", "q9"]), **PATIENT_MAP
        )
    merged = DoseResponseData.concat([first, second], allow_shared_studies=True)
    assert merged.studies == ("A", "B")
    assert merged.n_ipd == 6


def test_select_and_rename_studies():
    data = build("mixed")
    subset = data.select_studies(["D", "A"])
    assert subset.studies == ("D", "A")
    assert subset.n_ipd == 3 and subset.n_aggregate_rows == 1
    only_bins = data.select_studies("C")
    assert not only_bins.has_ipd and only_bins.n_patients == 22
    renamed = data.rename_studies({"A": "Alpha"})
    assert renamed.studies == ("Alpha", "B", "C", "D")
    assert data.study_index("C") == 2


# ------------------------------------------------------------------ summary and repr


def test_summary_matches_hand_computed_values():
    table = build("mixed").summary()
    assert table.index.tolist() == ["A", "B", "C", "D"]
    assert table["kind"].tolist() == ["ipd", "ipd", "aggregate", "aggregate"]
    assert table["patients"].tolist() == [3, 3, 22, 8]
    assert table["events"].tolist() == [1, 2, 5, 2]
    np.testing.assert_allclose(table["rate"], [1 / 3, 2 / 3, 5 / 22, 2 / 8])
    assert table["dose_min"].tolist() == [10.0, 15.0, 20.0, 30.0]
    assert table["dose_max"].tolist() == [30.0, 35.0, 40.0, 30.0]
    # study C: 10 patients at 20 Gy and 12 at 40 Gy -> the 11th and 12th of 22 are both 40 Gy
    assert table["dose_median"].tolist() == [20.0, 25.0, 40.0, 30.0]
    assert table["ipd_rows"].tolist() == [3, 3, 0, 0]
    assert table["aggregate_rows"].tolist() == [0, 0, 2, 1]


def test_repr_is_readable():
    text = repr(build("mixed"))
    assert text.splitlines()[0] == "DoseResponseData: BED [Gy], outcome 'tox'"
    assert "4 studies, 36 patients, 10 events; 6 IPD rows, 3 aggregate rows (mean dose)" in text
    assert "- A: ipd, 3 patients, 1 event, dose 10–30 Gy" in text
    assert "- C: aggregate, 22 patients, 5 events, dose 20–40 Gy" in text
    assert "covariates: htn" in text


def test_repr_truncates_many_studies():
    df = pd.DataFrame({"s": [f"s{i}" for i in range(12) for _ in range(2)],
                       "d": np.arange(24.0), "y": [0, 1] * 12})
    text = repr(DoseResponseData.from_frame(df, dose="d", outcome="y", study="s"))
    assert "... and 4 more studies" in text
    assert "- s7:" in text and "- s8:" not in text


# ------------------------------------------------------------------ dose conversion


def test_with_dose_array_keeps_relative_uncertainty():
    data = build("ipd")
    new = data.ipd["dose"].to_numpy() * 1.5
    bed = data.with_dose(new, dose_metric="BED2", dose_unit="Gy")
    assert bed.dose_metric == "BED2"
    np.testing.assert_allclose(bed.ipd["dose"], new)
    np.testing.assert_allclose(bed.ipd["dose_se"], 1.5 * data.ipd["dose_se"])
    pd.testing.assert_series_equal(bed.ipd["outcome"], data.ipd["outcome"])
    explicit = data.with_dose(new, dose_metric="BED", dose_unit="Gy", dose_se=np.ones(6))
    assert (explicit.ipd["dose_se"] == 1.0).all()
    dropped_se = data.with_dose(new, dose_metric="BED", dose_unit="Gy", dose_se=None)
    assert dropped_se.ipd["dose_se"].isna().all()


def test_with_dose_array_order_is_ipd_then_aggregate():
    data = DoseResponseData.from_frame(mixed().drop(columns=["lo", "hi", "sd"]),
                                       **{**PATIENT_MAP, "events": "ev", "n": "n"})
    new = np.arange(1.0, 10.0)
    converted = data.with_dose(new, dose_metric="BED", dose_unit="Gy")
    assert converted.ipd["dose"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert converted.aggregate["dose"].tolist() == [7.0, 8.0, 9.0]


def test_with_dose_function_uses_delta_method():
    alpha_beta = 3.0

    def bed(d):  # single-fraction BED: d (1 + d / (α/β)); derivative 1 + 2 d / (α/β)
        return d * (1.0 + d / alpha_beta)

    data = build("mixed")
    with_se = DoseResponseData.from_frame(
        mixed(), **MIXED_MAP, dose_rel_se="rel", covariates=["htn"]
    )
    converted = with_se.with_dose(bed, dose_metric="BED", dose_unit="Gy")
    d = with_se.ipd["dose"].to_numpy()
    np.testing.assert_allclose(converted.ipd["dose"], bed(d))
    np.testing.assert_allclose(
        converted.ipd["dose_se"], (1 + 2 * d / alpha_beta) * with_se.ipd["dose_se"], rtol=1e-6
    )
    agg = data.with_dose(bed, dose_metric="BED", dose_unit="Gy").aggregate
    np.testing.assert_allclose(agg["dose_low"], bed(bins()["lo"].to_numpy()))
    np.testing.assert_allclose(agg["dose_high"], bed(bins()["hi"].to_numpy()))
    expected_sd = (1 + 2 * bins()["bed"].to_numpy() / alpha_beta) * bins()["sd"].to_numpy()
    np.testing.assert_allclose(agg["dose_sd"], expected_sd, rtol=1e-6)
    assert np.isnan(agg.loc[1, "dose_sd"])
