"""Input that looks valid but is not (issue 13): messy CSV files, large ids, coerced dtypes.

Every case either builds the right data or raises :class:`DataValidationError` naming the cause
(the file and line, or the column) and the fix; raw pandas, codec or numpy errors never escape,
and nothing becomes a dose that was not one.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DataValidationError, SmallStudyWarning

IPD = {"dose": "dose", "outcome": "outcome", "study": "study"}


def _write(tmp_path, content: str | bytes, name: str = "cohort.csv"):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _refused(path, *fragments, **kwargs) -> str:
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_csv(path, **{**IPD, **kwargs})
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------- writing


def test_to_csv_refuses_an_existing_file_unless_asked(tmp_path, three_centre_ipd_frame):
    data = DoseResponseData.from_frame(three_centre_ipd_frame, dose="bed", outcome="tox",
                                       study="study")
    path = tmp_path / "cohort.csv"
    path.write_text("the user's precious file")
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        data.to_csv(path)
    assert path.read_text() == "the user's precious file"
    data.to_csv(path, overwrite=True)
    assert DoseResponseData.from_csv(path, **data.canonical_mapping()) == data


# --------------------------------------------------------------------------- decimal commas

DECIMAL = "read_csv_kwargs={'sep': ';', 'decimal': ','}"


def test_decimal_commas_in_a_comma_separated_file_do_not_shift_columns(tmp_path):
    """The reported failure: 4 patients became 4 one-patient studies with dose 5.0."""
    path = _write(tmp_path, "study,dose,outcome\nA,20,5,0\nA,30,1,1\nA,25,0,1\nA,22,1,0\n")
    _refused(path, "line 2 has 4 fields but the header has 3", "decimal comma", DECIMAL,
             "3 more such line(s)")


def test_decimal_commas_only_on_some_lines_are_found(tmp_path):
    path = _write(tmp_path, "study,dose,outcome\nA,20,0\nA,30,1\nB,25,5,1\n")
    _refused(path, "line 4 has 4 fields", DECIMAL)


@pytest.mark.parametrize("text, kwargs, line", [
    ("study;dose;outcome\nA;20,5;0\nA;30;1\n", {"read_csv_kwargs": {"sep": ";"}}, "line 2"),
    ('study,dose,outcome\nA,"20,5",0\nA,"30,1",1\n', {}, "line 2"),
    ("study\tdose\toutcome\nA\t20\t0\nA\t30,25\t1\n", {"read_csv_kwargs": {"sep": "\t"}},
     "line 3"),
])
def test_decimal_comma_numbers_name_the_column_line_and_fix(tmp_path, text, kwargs, line):
    path = _write(tmp_path, text)
    _refused(path, "column 'dose' (dose=) holds numbers with a decimal comma", line,
             "'decimal': ','", **kwargs)


def test_a_semicolon_file_read_as_commas_names_the_separator(tmp_path):
    path = _write(tmp_path, "study;dose;outcome\nA;20,5;0\nA;30,1;1\n")
    _refused(path, "separated by ';'", DECIMAL)
    path = _write(tmp_path, "study;dose;outcome\nA;20;0\nA;30;1\n", "plain.csv")
    _refused(path, "only one column was found", "separated by ';'")


def test_the_suggested_fix_reads_the_file(tmp_path):
    path = _write(tmp_path, "study;dose;outcome\nA;20,5;0\nA;30,25;1\nB;41,0;1\nB;12,5;0\n")
    data = DoseResponseData.from_csv(path, read_csv_kwargs={"sep": ";", "decimal": ","}, **IPD)
    assert data.studies == ("A", "B")
    np.testing.assert_array_equal(data.ipd["dose"], [20.5, 30.25, 41.0, 12.5])


# --------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize("content, fragments", [
    ("", ["is empty", "header line"]),
    ("\n\n  \n", ["is empty"]),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", ["binary content", "NUL byte at offset 5",
                                             "read_excel", "read_csv_kwargs="]),
    ("study,dose,outcome\nZ\u00fcrich,20,1\n".encode("latin-1"),
     ["not valid utf-8 text", "line 2", "read_csv_kwargs={'encoding': 'cp1252'}"]),
    ("study,dose,outcome\nA,20,1\n".encode("utf-16"),
     ["UTF-16", "read_csv_kwargs={'encoding': 'utf-16'}"]),
    ("study,dose,outcome\nA,20\nA,30,1\n", ["line 2 has 2 fields but the header has 3",
                                           "read_csv_kwargs="]),
    ("study,dose,outcome\nA,20,1,1,1,1\n", ["line 2 has 6 fields"]),
    ('study,dose,outcome\n"A,20,1\nB,30,0\n', ["has 1 field"]),
    ("study,dose,outcome\n", ["has no rows"]),
    ("dose,outcome\n20,1\n", ["argument study='study': no such column"]),
])
def test_malformed_files_name_the_file_and_the_fix(tmp_path, content, fragments):
    _refused(_write(tmp_path, content), *fragments)


def test_a_wrong_encoding_option_and_directories_are_named(tmp_path):
    path = _write(tmp_path, "study,dose,outcome\nA,20,1\n")
    _refused(path, "unknown encoding 'utf-99'", read_csv_kwargs={"encoding": "utf-99"})
    _refused(tmp_path, "cannot be read", "permissions")
    with pytest.raises(DataValidationError, match="read_csv_kwargs must be a dict"):
        DoseResponseData.from_csv(path, read_csv_kwargs=[("sep", ";")], **IPD)


def test_pandas_errors_with_options_are_converted(tmp_path):
    path = _write(tmp_path, "study,dose,outcome\nA,20,1\nB,30\n")
    # skiprows disables the line check: the pandas/validation error still names file and fix
    _refused(path, read_csv_kwargs={"skiprows": [1], "engine": "python"})
    _refused(path, "pandas.read_csv failed", "read_csv_kwargs=",
             read_csv_kwargs={"compression": "gzip"})


_FIELD = {  # valid values are drawn more often, so that some files are valid
    "study": st.sampled_from(["A", "B", "A", "B", '"A"', "", "C,D", '"C,D"']),
    "dose": st.sampled_from(["20", "20.5", "35", "20", "20.5", "35", "20,5", '"20,5"', "-1",
                             "nan", "", "1e3", "x"]),
    "outcome": st.sampled_from(["0", "1", "0", "1", "0", "1", "2", "", "True"]),
}
_NOISE = st.sampled_from([*",;\"\n\t -e.0", "\u00e9", "\x00", "20,5"])


@st.composite
def _csv_texts(draw):
    """A header and rows built field by field (so some files are valid), then optionally a
    piece of noise inserted anywhere."""
    sep = draw(st.sampled_from([",", ";", "\t"]))
    columns = ["study", "dose", "outcome"]
    lines = [sep.join(columns)]
    for _ in range(draw(st.integers(0, 6))):
        fields = [draw(_FIELD[c]) for c in columns]
        if draw(st.integers(0, 9)) == 0:
            fields.append(draw(st.sampled_from(["0", "5"])))
        lines.append(sep.join(fields))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
    noisy = draw(st.integers(0, 2)) == 0
    if noisy:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_NOISE) + text[at:]
    return sep, text, noisy


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_csv_texts(), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
       pass_sep=st.booleans())
def test_any_csv_text_parses_or_raises_data_validation_error(tmp_path_factory, case, encoding,
                                                             pass_sep):
    sep, text, noisy = case
    path = tmp_path_factory.mktemp("csv") / "random.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    kwargs = {"read_csv_kwargs": {"sep": sep}} if pass_sep else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = DoseResponseData.from_csv(path, **IPD, **kwargs)
    except DataValidationError as exc:
        assert str(path) in str(exc)
        return
    assert np.isfinite(data.ipd["dose"]).all() and (data.ipd["dose"] >= 0).all()
    assert set(data.ipd["outcome"]) <= {0, 1}
    if not noisy:  # built field by field: each value parsed is one written in its own column
        assert set(data.studies) <= {"A", "B", "C,D"}
        assert set(data.ipd["dose"]) <= {20.0, 20.5, 35.0, 1000.0}


# --------------------------------------------------------------------------- identifiers


def test_integer_ids_above_2_53_stay_distinct():
    big = 2**53
    frame = pd.DataFrame({"study": [big, big + 1, big + 1], "patient": [big + 1, big + 1, big + 3],
                          "dose": [10.0, 20.0, 30.0], "outcome": [0, 1, 1]})
    with pytest.warns(SmallStudyWarning, match=f"study '{big}' has a single patient"):
        data = DoseResponseData.from_frame(frame, patient="patient", **IPD)
    assert data.studies == (str(big), str(big + 1))
    assert data.ipd["patient"].tolist() == [str(big + 1), str(big + 1), str(big + 3)]
    nullable = frame.astype({"patient": "Int64"})
    nullable.loc[2, "patient"] = pd.NA
    with pytest.raises(DataValidationError, match="missing patient id at row 2"):
        DoseResponseData.from_frame(nullable, patient="patient", **IPD)


def test_integer_ids_above_2_53_in_a_csv_stay_distinct(tmp_path):
    big = 2**53
    path = _write(tmp_path, f"study,patient,dose,outcome\n1,{big},10,0\n1,{big + 1},20,1\n"
                            f"2,{big + 1},30,1\n")
    with pytest.warns(SmallStudyWarning, match="study '2' has a single patient"):
        data = DoseResponseData.from_csv(path, patient="patient", **IPD)
    assert data.ipd["patient"].tolist() == [str(big), str(big + 1), str(big + 1)]


def test_float_ids_above_2_53_are_refused_with_the_fix():
    big = 2**53
    frame = pd.DataFrame({"study": ["A", "A", "A"], "patient": [float(big), float(big + 2), 3.0],
                          "dose": [10.0, 20.0, 30.0], "outcome": [0, 1, 1]})
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(frame, patient="patient", **IPD)
    message = str(info.value)
    assert "column 'patient' (patient=)" in message and "above 2**53" in message
    assert "dtype={'patient': str}" in message and "row 2" not in message


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize("values, what", [
    (pd.to_datetime(["2024-01-01", "2024-02-01"]), "dates/times (dtype datetime64"),
    (pd.to_datetime(["2024-01-01", "2024-02-01"]).tz_localize("UTC"), "dates/times (dtype"),
    (pd.to_timedelta(["1D", "2D"]), "time spans (dtype timedelta64"),
    (np.array([20 + 1j, 30 + 0j]), "complex numbers (dtype complex128"),
    (np.array([True, False]), "True/False flags (dtype bool)"),
    (pd.Series([dt.date(2024, 1, 1), 30.0], dtype=object), "dates/times (Python objects)"),
    (pd.Series([dt.timedelta(days=1), 30.0], dtype=object), "time spans (Python objects)"),
    (pd.Series([True, 30.0], dtype=object), "True/False flags (Python objects)"),
    (pd.Series([20 + 1j, 30.0], dtype=object), "complex numbers (Python objects)"),
    (pd.Series([[20.0], 30.0], dtype=object), "containers"),
    (pd.period_range("2024-01", periods=2, freq="M"), "dates/times (dtype period"),
    (pd.Categorical(pd.to_datetime(["2024-01-01", "2024-02-01"])), "dates/times"),
])
@pytest.mark.parametrize("role", ["dose", "dose_se", "covariates"])
def test_coercible_non_numbers_are_refused_naming_column_and_type(values, what, role):
    frame = pd.DataFrame({"study": ["A", "A"], "d": [20.0, 30.0], "outcome": [0, 1],
                          "x": values})
    mapping = {"dose": "d", "outcome": "outcome", "study": "study"}
    if role == "dose":
        mapping["dose"] = "x"
    elif role == "dose_se":
        mapping["dose_se"] = "x"
    else:
        mapping["covariates"] = ["x"]
    if role == "covariates" and "True/False" in what:
        data = DoseResponseData.from_frame(frame, **mapping)  # a binary factor is fine
        assert data.ipd["x"].tolist() == [1.0, float(list(values)[1])]
        return
    with pytest.raises(DataValidationError) as info:
        DoseResponseData.from_frame(frame, **mapping)
    message = str(info.value)
    assert f"column 'x' ({role}=): holds {what}" in message, message
    assert "numbers (int or float" in message and "check that the right column is mapped" in (
        message)


def test_outcome_of_dates_or_complex_numbers_is_refused():
    for values in (pd.to_datetime(["2024-01-01", "2024-02-01"]), np.array([1 + 2j, 0j])):
        frame = pd.DataFrame({"dose": [20.0, 30.0], "outcome": values})
        with pytest.raises(DataValidationError, match=r"column 'outcome' \(outcome=\): holds"):
            DoseResponseData.from_frame(frame, dose="dose", outcome="outcome")


def test_numeric_object_columns_and_numeric_strings_still_work():
    frame = pd.DataFrame({"dose": pd.Series([20, 30.5], dtype=object), "outcome": [0, 1],
                          "htn": pd.Series(["1", "0"], dtype=object)})
    data = DoseResponseData.from_frame(frame, dose="dose", outcome="outcome", covariates="htn")
    assert data.ipd["dose"].tolist() == [20.0, 30.5] and data.ipd["htn"].tolist() == [1.0, 0.0]


def test_an_explicit_index_column_is_the_users_choice(tmp_path):
    """A header one field short is pandas' index convention; with index_col= it is intended."""
    path = _write(tmp_path, "study,dose,outcome\n0,A,20,0\n1,A,30,1\n")
    _refused(path, "line 2 has 4 fields")
    data = DoseResponseData.from_csv(path, read_csv_kwargs={"index_col": 0}, **IPD)
    assert data.ipd["dose"].tolist() == [20.0, 30.0]
