"""Validation of tidy dose-response tables (the engine behind ``DoseResponseData.from_frame``).

One pass over the user's frame collects *every* problem (missing columns, bad doses, outcomes that
are not 0/1, events > n, duplicated patients, mixed dose metrics, ...) and raises a single
:class:`~doseresponse.exceptions.DataValidationError` whose bullets name the column, the argument
that mapped it, the offending rows (by index label) and values, and the fix. Nothing is dropped
silently; rows named in ``drop_rows=`` are removed and reported.

Doses are in the unit given by ``dose_unit`` (Gy unless stated); times in ``time_unit``.
The user's frame is never modified.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from doseresponse.exceptions import DataValidationError, DroppedRowsWarning, SmallStudyWarning

__all__ = [
    "AGGREGATE_ONLY_ROLES",
    "DEFAULT_STUDY",
    "DOSE_SUMMARIES",
    "IPD_ONLY_ROLES",
    "MAX_DOSE_REL_SE",
    "RESERVED_COLUMNS",
    "ValidatedTables",
    "check_csv_frame",
    "check_csv_text",
    "validate_frame",
]

DOSE_SUMMARIES = ("mean", "median", "midpoint")
DEFAULT_STUDY = "study"
MAX_DOSE_REL_SE = 1.5
MAX_BULLETS = 20
MAX_ROWS_SHOWN = 5
DROP_REASON = "requested via drop_rows="

#: canonical column names used by ``.ipd``, ``.aggregate`` and ``to_frame()``
RESERVED_COLUMNS = (
    "row_kind",
    "study",
    "patient",
    "dose",
    "dose_se",
    "dose_low",
    "dose_high",
    "dose_sd",
    "outcome",
    "events",
    "n",
    "follow_up",
    "event_time",
    "event_time_lower",
    "dose_metric",
    "dose_unit",
)
TIME_COLUMNS = ("follow_up", "event_time", "event_time_lower")
"""Patient-level time columns, in ``time_unit``: last visit without the event (``follow_up``),
first visit with it (``event_time``) and last visit without it before the event
(``event_time_lower``; the event lies in ``(event_time_lower, event_time]``)."""
IPD_ONLY_ROLES = ("patient", "follow_up", "event_time", "event_time_lower")
AGGREGATE_ONLY_ROLES = ("dose_low", "dose_high", "dose_sd")
_COLUMN_ROLES = (
    "dose",
    "outcome",
    "study",
    "patient",
    "events",
    "n",
    "dose_se",
    "dose_rel_se",
    "dose_low",
    "dose_high",
    "dose_sd",
    "follow_up",
    "event_time",
    "event_time_lower",
    "dose_metric_column",
    "dose_unit_column",
)


@dataclass(frozen=True)
class ValidatedTables:
    """The canonical tables and metadata produced by :func:`validate_frame`."""

    ipd: pd.DataFrame
    aggregate: pd.DataFrame
    studies: tuple[str, ...]
    covariates: tuple[str, ...]
    study_covariates: tuple[str, ...]
    dose_metric: str
    dose_unit: str
    dose_summary: str
    outcome_name: str
    time_unit: str
    time_columns: tuple[str, ...]
    dropped: pd.DataFrame = field(repr=False)


class _Problems:
    """Collects validation problems; raises them together as one bulleted message."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        count = len(self.items)
        head = f"{count} problem{'s' if count > 1 else ''} in the dose-response table:"
        shown = [f"  - {item}" for item in self.items[:MAX_BULLETS]]
        if count > MAX_BULLETS:
            shown.append(f"  ... and {count - MAX_BULLETS} more")
        raise DataValidationError("\n".join([head, *shown]))


def validate_frame(
    df: pd.DataFrame,
    *,
    dose: Hashable,
    outcome: Hashable | None = None,
    study: Hashable | None = None,
    patient: Hashable | None = None,
    events: Hashable | None = None,
    n: Hashable | None = None,
    dose_se: Hashable | None = None,
    dose_rel_se: Hashable | None = None,
    dose_low: Hashable | None = None,
    dose_high: Hashable | None = None,
    dose_sd: Hashable | None = None,
    dose_summary: str = "mean",
    covariates: Iterable[Hashable] | str = (),
    study_covariates: Iterable[Hashable] | str = (),
    follow_up: Hashable | None = None,
    event_time: Hashable | None = None,
    time_unit: str = "months",
    dose_metric: str = "dose",
    event_time_lower: Hashable | None = None,
    dose_unit: str = "Gy",
    outcome_name: str | None = None,
    drop_rows: Any = None,
    dose_metric_column: Hashable | None = None,
    dose_unit_column: Hashable | None = None,
) -> ValidatedTables:
    """Validate a tidy frame and return canonical IPD / aggregate tables.

    See :meth:`doseresponse.data.DoseResponseData.from_frame` for the meaning of every argument.

    Raises
    ------
    DataValidationError
        Listing every problem found, each naming the column, rows and fix.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(
            f"df must be a pandas DataFrame (one row per patient or dose bin); got "
            f"{type(df).__name__}. Build one with pandas.DataFrame(...) or pandas.read_csv(...)."
        )
    roles = {
        "dose": dose,
        "outcome": outcome,
        "study": study,
        "patient": patient,
        "events": events,
        "n": n,
        "dose_se": dose_se,
        "dose_rel_se": dose_rel_se,
        "dose_low": dose_low,
        "dose_high": dose_high,
        "dose_sd": dose_sd,
        "follow_up": follow_up,
        "event_time": event_time,
        "event_time_lower": event_time_lower,
        "dose_metric_column": dose_metric_column,
        "dose_unit_column": dose_unit_column,
    }
    covariates = _as_name_tuple(covariates)
    study_covariates = _as_name_tuple(study_covariates)
    problems = _Problems()
    _check_arguments(
        df, roles, covariates, study_covariates, dose_summary,
        {"time_unit": time_unit, "dose_metric": dose_metric, "dose_unit": dose_unit,
         "outcome_name": outcome_name},
        problems,
    )
    problems.raise_if_any()

    work, dropped = _apply_drop_rows(df, drop_rows)
    if work.empty:
        raise DataValidationError(
            "the dose-response table has no rows"
            + (" left after drop_rows=" if len(dropped) else "")
            + "; pass at least one patient row or dose bin."
        )
    rows = _row_names(work.index)
    is_ipd, is_agg = _classify_rows(work, roles, rows, problems)
    study_labels = _study_labels(work, study, rows, problems)
    dose_values = _checked_dose(work, dose, rows, problems, dose_unit)
    outcome_values = _checked_outcome(work, outcome, is_ipd, rows, problems)
    events_values, n_values = _checked_counts(work, events, n, is_agg, rows, problems)
    se_values = _checked_dose_se(work, dose_se, dose_rel_se, dose_values, rows, problems)
    low, high, sd = _checked_bins(work, roles, dose_values, is_ipd, is_agg, rows, problems)
    patients = _checked_patients(work, patient, study_labels, is_ipd, is_agg, rows, problems)
    times = _checked_times(
        work, {"follow_up": follow_up, "event_time": event_time,
               "event_time_lower": event_time_lower}, is_agg, rows, problems,
    )
    covariate_values = {
        name: _checked_covariate(work, name, "covariates", is_ipd, rows, problems)
        for name in covariates
    }
    study_covariate_values = {
        name: _checked_study_covariate(work, name, study_labels, rows, problems)
        for name in study_covariates
    }
    dose_metric = _checked_label_column(
        work, dose_metric_column, dose_metric, "dose_metric", "dose metrics", rows, problems
    )
    dose_unit = _checked_label_column(
        work, dose_unit_column, dose_unit, "dose_unit", "dose units", rows, problems
    )
    problems.raise_if_any()

    studies = tuple(pd.unique(study_labels))
    codes = pd.Categorical(study_labels, categories=list(studies)).codes
    extra = {**covariate_values, **study_covariate_values}
    ipd = _ipd_table(is_ipd, codes, study_labels, patients, dose_values, se_values,
                     outcome_values, times, extra)
    aggregate = _aggregate_table(is_agg, codes, study_labels, dose_values, low, high, sd,
                                 se_values, events_values, n_values, extra)
    _warn_small_studies(ipd, aggregate, studies)
    return ValidatedTables(
        ipd=ipd,
        aggregate=aggregate,
        studies=studies,
        covariates=tuple(str(c) for c in covariates),
        study_covariates=tuple(str(c) for c in study_covariates),
        dose_metric=dose_metric,
        dose_unit=dose_unit,
        dose_summary=dose_summary,
        outcome_name=outcome_name if outcome_name is not None else (
            str(outcome) if outcome is not None else "outcome"
        ),
        time_unit=time_unit,
        time_columns=tuple(name for name in TIME_COLUMNS if name in times),
        dropped=dropped,
    )


# --------------------------------------------------------------------------- argument checks


def _as_name_tuple(names: Iterable[Hashable] | str | None) -> tuple[Hashable, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        return (names,)
    return tuple(names)


def _check_arguments(
    df: pd.DataFrame,
    roles: dict[str, Hashable | None],
    covariates: tuple[Hashable, ...],
    study_covariates: tuple[Hashable, ...],
    dose_summary: Any,
    labels: dict[str, Any],
    problems: _Problems,
) -> None:
    columns = list(df.columns)
    listing = ", ".join(repr(c) for c in columns) or "(none)"
    duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if duplicated:
        problems.add(
            f"the frame has duplicated column names {duplicated}; rename them so each column is "
            "unique."
        )
    if roles["dose"] is None:
        problems.add("argument dose= is required: name the column holding each row's dose.")
    for role, column in roles.items():
        if column is not None and column not in df.columns:
            problems.add(
                f"argument {role}={column!r}: no such column; the frame's columns are: {listing}."
            )
    if roles["outcome"] is None and roles["events"] is None and roles["n"] is None:
        problems.add(
            "no outcome mapped: pass outcome= (patient-level 0/1 column) and/or events= and n= "
            "(aggregate dose bins)."
        )
    if (roles["events"] is None) != (roles["n"] is None):
        given, missing = ("events", "n") if roles["n"] is None else ("n", "events")
        problems.add(
            f"argument {given}= is mapped but {missing}= is not; aggregate rows need both the "
            "number of events and the number at risk."
        )
    for kind, names in (("covariates", covariates), ("study_covariates", study_covariates)):
        for name in names:
            if name not in df.columns:
                problems.add(
                    f"unknown covariate {name!r} in {kind}=: not a column of the frame; the "
                    f"frame's columns are: {listing}."
                )
    used: dict[Hashable, list[str]] = {}
    for role, column in roles.items():
        if column is not None:
            used.setdefault(column, []).append(f"{role}=")
    for kind, names in (("covariates", covariates), ("study_covariates", study_covariates)):
        for name in names:
            used.setdefault(name, []).append(f"{kind}=")
    for column, where in used.items():
        if len(where) > 1:
            problems.add(
                f"column {column!r} is mapped more than once ({', '.join(where)}); each column "
                "plays one role."
            )
    for name in (*covariates, *study_covariates):
        if str(name) in RESERVED_COLUMNS:
            problems.add(
                f"covariate {name!r} clashes with the canonical column name {str(name)!r}; rename "
                "it (e.g. df.rename(columns={...}))."
            )
    if dose_summary not in DOSE_SUMMARIES:
        problems.add(
            f"dose_summary={dose_summary!r} is not valid; use one of {list(DOSE_SUMMARIES)} "
            "(what an aggregate row's dose is)."
        )
    for name, value in labels.items():
        if name == "outcome_name" and value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.add(f"{name}= must be a non-empty string; got {value!r}.")


# --------------------------------------------------------------------------- dropping rows


def _apply_drop_rows(df: pd.DataFrame, drop_rows: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    empty = df.iloc[:0].assign(drop_reason=pd.Series(dtype="str"))
    if drop_rows is None:
        return df, empty
    mask = _drop_mask(df, drop_rows)
    if not mask.any():
        return df, empty
    dropped = df.loc[mask].assign(drop_reason=DROP_REASON)
    names = _format_rows(_row_names(df.index)[mask], limit=20)
    warnings.warn(
        f"dropped {int(mask.sum())} row(s) at your request (drop_rows=): {names}; they are listed "
        "in .dropped.",
        DroppedRowsWarning,
        stacklevel=4,
    )
    return df.loc[~mask], dropped


def _drop_mask(df: pd.DataFrame, drop_rows: Any) -> np.ndarray:
    if isinstance(drop_rows, pd.Series) and pd.api.types.is_bool_dtype(drop_rows.dtype):
        if not drop_rows.index.equals(df.index):
            raise DataValidationError(
                "drop_rows= is a boolean Series whose index does not match the frame's index; "
                "build it from the same frame (e.g. drop_rows=df['dose'].isna())."
            )
        return drop_rows.fillna(False).to_numpy(dtype=bool)
    values = (
        [drop_rows]
        if np.isscalar(drop_rows) or isinstance(drop_rows, tuple)
        else list(drop_rows)
    )
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        if len(values) != len(df):
            raise DataValidationError(
                f"drop_rows= is a boolean mask of length {len(values)} but the frame has "
                f"{len(df)} rows; pass one True/False per row or a list of index labels."
            )
        return np.asarray(values, dtype=bool)
    missing = [v for v in values if v not in df.index]
    if missing:
        raise DataValidationError(
            f"drop_rows= names index labels that are not in the frame: {missing[:10]}; pass "
            "labels from df.index (or a boolean mask)."
        )
    return np.asarray(df.index.isin(values), dtype=bool)


# --------------------------------------------------------------------------- row checks


def _row_names(index: pd.Index) -> np.ndarray:
    if index.is_unique:
        labels = index.tolist()
        if all(isinstance(label, int) for label in labels):
            return np.char.add("row ", np.asarray(labels).astype(str)).astype(object)
        return np.array([f"row {label!r}" for label in labels], dtype=object)
    return np.array(
        [f"row at position {i} (index label {label!r})" for i, label in enumerate(index)],
        dtype=object,
    )


def _format_rows(
    names: Sequence[str] | np.ndarray,
    values: Sequence[Any] | None = None,
    limit: int = MAX_ROWS_SHOWN,
) -> str:
    names = list(names)
    if values is None:
        parts = [str(name) for name in names[:limit]]
    else:
        parts = [f"{name} (value {value!r})" for name, value in zip(names, values, strict=False)]
        parts = parts[:limit]
    text = ", ".join(parts)
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


def _column_ref(role: str, column: Hashable) -> str:
    return f"column {column!r} ({role}=)"


def _python_values(series: pd.Series) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in series.tolist()]


def _numeric(
    work: pd.DataFrame,
    column: Hashable,
    role: str,
    rows: np.ndarray,
    problems: _Problems,
    within: np.ndarray | None = None,
    fix: str = "use numbers only",
    allow_bool: bool = False,
) -> np.ndarray:
    """Coerce a column to float64; report entries that are present but not numeric.

    Columns of dates, time spans, complex numbers, containers or (unless ``allow_bool``)
    True/False flags are reported whole and come back as NaN: numpy and pandas would coerce
    them to numbers silently.
    """
    raw = work[column]
    if _wrong_type(raw, role, column, rows, problems, allow_bool, fix):
        return np.full(len(raw), np.nan)
    numeric = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()
    present = raw.notna().to_numpy()
    bad = present & np.isnan(numeric)
    if within is not None:
        bad &= within
    if bad.any():
        problems.add(
            f"{_column_ref(role, column)}: non-numeric values at "
            f"{_format_rows(rows[bad], _python_values(raw[bad]))}; {fix}."
        )
    numeric = numeric.copy()
    numeric[bad] = np.nan
    return numeric


def _report(problems: _Problems, role: str, column: Hashable, rows: np.ndarray,
            mask: np.ndarray, values: np.ndarray | pd.Series | None, what: str, fix: str) -> None:
    if not mask.any():
        return
    shown = None if values is None else _python_values(pd.Series(np.asarray(values)[mask]))
    where = _format_rows(rows[mask], shown)
    problems.add(f"{_column_ref(role, column)}: {what} at {where}; {fix}.")


_BAD_SCALARS = (
    (bool | np.bool_, "True/False flags"),
    (complex | np.complexfloating, "complex numbers"),
    (_dt.date | _dt.time | np.datetime64 | pd.Period, "dates/times"),
    (_dt.timedelta | np.timedelta64, "time spans"),
    (list | tuple | dict | set | frozenset | np.ndarray, "containers (lists, arrays, ...)"),
    (pd.Interval, "intervals"),
)


def _wrong_type(raw: pd.Series, role: str, column: Hashable, rows: np.ndarray,
                problems: _Problems, allow_bool: bool, fix: str) -> bool:
    """Report a column whose type numpy/pandas would coerce to numbers without meaning it."""
    dtype = raw.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        raw = pd.Series(np.asarray(raw, dtype=object), index=raw.index)
        dtype = raw.dtype
    present = raw.notna().to_numpy()
    what = None
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        what = f"dates/times (dtype {dtype})"
    elif pd.api.types.is_timedelta64_dtype(dtype):
        what = f"time spans (dtype {dtype})"
    elif pd.api.types.is_complex_dtype(dtype):
        what = f"complex numbers (dtype {dtype})"
    elif isinstance(dtype, pd.IntervalDtype):
        what = f"intervals (dtype {dtype})"
    elif pd.api.types.is_bool_dtype(dtype) and not allow_bool:
        what = f"True/False flags (dtype {dtype})"
    elif pd.api.types.is_object_dtype(dtype):
        kinds = np.full(len(raw), "", dtype=object)
        for i, value in enumerate(raw.tolist()):
            for types, label in _BAD_SCALARS:
                if isinstance(value, types) and not (allow_bool and label.startswith("True")):
                    kinds[i] = label
                    break
        bad = kinds != ""
        if bad.any():
            found = sorted(set(kinds[bad]))
            present = bad
            what = f"{' and '.join(found)} (Python objects)"
    if what is None:
        return False
    expected = "0/1 (or True/False)" if role == "outcome" else (
        "numbers (int or float" + (", or True/False" if allow_bool else "") + ")")
    shown = _python_values(raw[present])[:MAX_ROWS_SHOWN]
    problems.add(
        f"{_column_ref(role, column)}: holds {what} where {expected} are expected, at "
        f"{_format_rows(rows[present], shown)}; {fix} — check that the right column is mapped, "
        "or convert it explicitly."
    )
    return True


def _check_float_ids(raw: pd.Series, role: str, column: Hashable, rows: np.ndarray,
                     problems: _Problems) -> None:
    """Floating-point identifiers at or above 2**53 may already have merged: refuse them."""
    if not pd.api.types.is_float_dtype(raw.dtype):
        return
    numbers = raw.astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        big = np.isfinite(numbers) & (np.abs(numbers) >= 2.0**53)
    _report(problems, role, column, rows, big, numbers,
            "identifiers stored as floating-point numbers at or above 2**53 (where distinct "
            "integers round to the same float, so ids can merge)",
            f"keep ids as text or exact integers: pandas.read_csv(..., dtype={{{column!r}: str}})"
            " (DoseResponseData.from_csv does this), or df[col].astype('Int64') before a missing"
            " value turns the column into floats")


def _classify_rows(
    work: pd.DataFrame, roles: dict[str, Hashable | None], rows: np.ndarray, problems: _Problems
) -> tuple[np.ndarray, np.ndarray]:
    size = len(work)

    def present(role: str) -> np.ndarray:
        column = roles[role]
        return np.zeros(size, dtype=bool) if column is None else work[column].notna().to_numpy()

    has_outcome, has_events, has_n = present("outcome"), present("events"), present("n")
    has_agg = has_events | has_n
    both = has_outcome & has_agg
    if both.any():
        problems.add(
            f"rows with both an outcome ({roles['outcome']!r}) and events/n "
            f"({roles['events']!r}/{roles['n']!r}) at {_format_rows(rows[both])}; a row is "
            "either one patient (outcome 0/1) or one dose bin (events and n) — clear one of them."
        )
    neither = ~has_outcome & ~has_agg
    if neither.any():
        if roles["events"] is None:
            problems.add(
                f"{_column_ref('outcome', roles['outcome'])}: missing (NaN) outcome at "
                f"{_format_rows(rows[neither])}; every patient row needs 0 or 1 — fill it in or "
                "drop the row explicitly with drop_rows=."
            )
        elif roles["outcome"] is None:
            problems.add(
                f"columns {roles['events']!r} (events=) and {roles['n']!r} (n=): both missing at "
                f"{_format_rows(rows[neither])}; every aggregate row needs events and n — fill "
                "them in or drop the row explicitly with drop_rows=."
            )
        else:
            problems.add(
                f"rows with neither an outcome ({roles['outcome']!r}) nor events/n "
                f"({roles['events']!r}/{roles['n']!r}) at {_format_rows(rows[neither])}; give a "
                "patient row its 0/1 outcome or a dose bin its events and n, or drop the row "
                "explicitly with drop_rows=."
            )
    half = has_agg & ~has_outcome & (has_events != has_n)
    if half.any():
        for role, present in (("n", has_n), ("events", has_events)):
            mask = half & ~present
            if mask.any():
                problems.add(
                    f"{_column_ref(role, roles[role])}: missing at {_format_rows(rows[mask])} "
                    f"although the other count is given; aggregate rows need both events and n."
                )
    return has_outcome & ~has_agg, has_agg & ~has_outcome


def _labels(values: pd.Series) -> np.ndarray:
    """Turn study / patient identifiers into strings (integer-valued floats lose their '.0').

    Missing values become ``""`` (callers report them separately).
    """
    missing = values.isna().to_numpy()
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(
        values.dtype
    ):
        out = values.to_numpy(dtype=object, na_value="")
    elif pd.api.types.is_bool_dtype(values.dtype):
        out = values.astype(object).map(str).to_numpy(dtype=object)
    elif pd.api.types.is_integer_dtype(values.dtype):  # exact: never through float64
        out = np.array(
            ["" if gone else str(int(v)) for v, gone in zip(
                values.astype(object).tolist(), missing, strict=True)],
            dtype=object,
        )
    elif pd.api.types.is_float_dtype(values.dtype):
        numbers = values.astype("float64").to_numpy()
        whole = ~missing & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
        out = np.array([repr(v) for v in numbers.tolist()], dtype=object)
        out[whole] = numbers[whole].astype(np.int64).astype(str)
    else:
        out = np.array([_label(v) for v in values.tolist()], dtype=object)
    out[missing] = ""
    return out


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _study_labels(
    work: pd.DataFrame, study: Hashable | None, rows: np.ndarray, problems: _Problems
) -> np.ndarray:
    if study is None:
        return np.full(len(work), DEFAULT_STUDY, dtype=object)
    raw = work[study]
    missing = raw.isna().to_numpy()
    _report(problems, "study", study, rows, missing, None, "missing study label",
            "every row needs the study/centre it comes from")
    _check_float_ids(raw, "study", study, rows, problems)
    labels = _labels(raw)
    empty = ~missing & (np.char.str_len(labels.astype(str)) == 0)
    _report(problems, "study", study, rows, empty, None, "empty study label",
            "give every row a non-empty study/centre label")
    return labels


def _checked_dose(
    work: pd.DataFrame, dose: Hashable, rows: np.ndarray, problems: _Problems, unit: str
) -> np.ndarray:
    values = _numeric(work, dose, "dose", rows, problems,
                      fix=f"doses must be numbers in {unit}")
    present = work[dose].notna().to_numpy()
    _report(problems, "dose", dose, rows, ~present, None, "missing (NaN) dose",
            "fill in the dose or drop the row explicitly with drop_rows=")
    _report(problems, "dose", dose, rows, np.isinf(values), values, "infinite dose",
            f"doses must be finite numbers in {unit}")
    _report(problems, "dose", dose, rows, values < 0, values, "negative dose",
            f"doses must be >= 0 {unit}; check the sign or the column mapping")
    return values


def _checked_outcome(
    work: pd.DataFrame, outcome: Hashable | None, is_ipd: np.ndarray, rows: np.ndarray,
    problems: _Problems,
) -> np.ndarray:
    size = len(work)
    if outcome is None:
        return np.full(size, np.nan)
    raw = work[outcome]
    if _wrong_type(raw, "outcome", outcome, rows, problems, True,
                   "encode the event as 1 and no event as 0"):
        return np.full(size, np.nan)
    numeric = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()
    present = raw.notna().to_numpy() & is_ipd
    bad = present & ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        found = sorted({repr(v) for v in _python_values(raw[bad])})
        problems.add(
            f"{_column_ref('outcome', outcome)}: outcome must be 0/1 (or True/False); found "
            f"{', '.join(found)} at {_format_rows(rows[bad], _python_values(raw[bad]))}; "
            "encode the event as 1 and no event as 0 (e.g. df[col].eq('yes').astype(int))."
        )
    return numeric


def _checked_counts(
    work: pd.DataFrame, events: Hashable | None, n: Hashable | None, is_agg: np.ndarray,
    rows: np.ndarray, problems: _Problems,
) -> tuple[np.ndarray, np.ndarray]:
    size = len(work)
    if events is None or n is None:
        return np.full(size, np.nan), np.full(size, np.nan)
    fix = "counts must be whole numbers"
    ev = _numeric(work, events, "events", rows, problems, within=is_agg, fix=fix)
    nn = _numeric(work, n, "n", rows, problems, within=is_agg, fix=fix)
    for role, column, values in (("events", events, ev), ("n", n, nn)):
        finite = is_agg & np.isfinite(values)
        _report(problems, role, column, rows, is_agg & np.isinf(values), values,
                "infinite count", fix)
        _report(problems, role, column, rows, finite & (values != np.round(values)), values,
                "non-integer count", fix)
    _report(problems, "events", events, rows, is_agg & (ev < 0), ev, "negative events",
            "events must be >= 0")
    _report(problems, "n", n, rows, is_agg & (nn <= 0), nn, "n <= 0",
            "n (patients at risk in the bin) must be >= 1; drop empty bins with drop_rows=")
    over = is_agg & (ev > nn)
    if over.any():
        pairs = [f"{e:g} > {m:g}" for e, m in zip(ev[over], nn[over], strict=True)]
        problems.add(
            f"columns {events!r} (events=) and {n!r} (n=): events > n at "
            f"{_format_rows(rows[over], pairs)}; a bin cannot have more events than patients "
            "— check for swapped columns."
        )
    return ev, nn


def _checked_dose_se(
    work: pd.DataFrame, dose_se: Hashable | None, dose_rel_se: Hashable | None,
    dose: np.ndarray, rows: np.ndarray, problems: _Problems,
) -> np.ndarray:
    size = len(work)
    absolute = np.full(size, np.nan)
    relative = np.full(size, np.nan)
    if dose_se is not None:
        absolute = _numeric(work, dose_se, "dose_se", rows, problems,
                            fix="dose standard errors must be numbers (NaN = not reported)")
        _report(problems, "dose_se", dose_se, rows, np.isinf(absolute), absolute,
                "infinite dose standard error", "use a finite value or leave it empty")
        _report(problems, "dose_se", dose_se, rows, absolute < 0, absolute,
                "negative dose standard error", "standard errors must be >= 0 (same unit as dose)")
    if dose_rel_se is not None:
        relative = _numeric(work, dose_rel_se, "dose_rel_se", rows, problems,
                            fix="relative dose uncertainties must be numbers (NaN = not reported)")
        _report(problems, "dose_rel_se", dose_rel_se, rows, relative < 0, relative,
                "negative relative dose uncertainty", "use a fraction >= 0 (0.2 = 20 %)")
        _report(problems, "dose_rel_se", dose_rel_se, rows, relative >= MAX_DOSE_REL_SE,
                relative, f"implausible relative dose uncertainty (>= {MAX_DOSE_REL_SE})",
                "give it as a fraction (0.2 for 20 %), not a percentage")
    if dose_se is not None and dose_rel_se is not None:
        both = ~np.isnan(absolute) & ~np.isnan(relative)
        if both.any():
            problems.add(
                f"columns {dose_se!r} (dose_se=) and {dose_rel_se!r} (dose_rel_se=): both given "
                f"at {_format_rows(rows[both])}; give one uncertainty per row."
            )
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(absolute), relative * dose, absolute)


def _checked_bins(
    work: pd.DataFrame, roles: dict[str, Hashable | None], dose: np.ndarray,
    is_ipd: np.ndarray, is_agg: np.ndarray, rows: np.ndarray, problems: _Problems,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(work)
    out = {}
    for role in AGGREGATE_ONLY_ROLES:
        column = roles[role]
        if column is None:
            out[role] = np.full(size, np.nan)
            continue
        values = _numeric(work, column, role, rows, problems,
                          fix="bin doses must be numbers (NaN = not reported)")
        on_ipd = is_ipd & work[column].notna().to_numpy()
        _report(problems, role, column, rows, on_ipd, None,
                "value on a patient (IPD) row", f"{role} describes aggregate dose bins only; "
                "clear it on patient rows")
        _report(problems, role, column, rows, is_agg & np.isinf(values), values,
                "infinite value", "use a finite value or leave it empty")
        _report(problems, role, column, rows, is_agg & (values < 0), values, "negative value",
                "doses and their spread must be >= 0")
        out[role] = np.where(is_agg, values, np.nan)
    low, high, sd = out["dose_low"], out["dose_high"], out["dose_sd"]
    if roles["dose_low"] is not None:
        _report(problems, "dose_low", roles["dose_low"], rows, is_agg & (low > dose),
                low, "bin lower bound above the bin dose",
                "dose_low must be <= dose (check that the columns are not swapped)")
    if roles["dose_high"] is not None:
        _report(problems, "dose_high", roles["dose_high"], rows, is_agg & (high < dose),
                high, "bin upper bound below the bin dose",
                "dose_high must be >= dose (check that the columns are not swapped)")
    return low, high, sd


def _checked_patients(
    work: pd.DataFrame, patient: Hashable | None, studies: np.ndarray, is_ipd: np.ndarray,
    is_agg: np.ndarray, rows: np.ndarray, problems: _Problems,
) -> np.ndarray:
    if patient is None:
        counter = pd.Series(is_ipd.astype(int)).groupby(studies).cumsum().to_numpy()
        return np.array([str(c) for c in counter], dtype=object)
    raw = work[patient]
    present = raw.notna().to_numpy()
    _report(problems, "patient", patient, rows, is_ipd & ~present, None, "missing patient id",
            "give every patient row an id (or map patient=None to number them 1, 2, ...)")
    _report(problems, "patient", patient, rows, is_agg & present, _python_values(raw),
            "patient id on an aggregate row", "aggregate rows describe dose bins, not patients; "
            "clear the id")
    _check_float_ids(raw, "patient", patient, rows, problems)
    ids = _labels(raw)
    keyed = pd.DataFrame({"study": studies, "patient": ids})[is_ipd & present]
    dup = keyed.duplicated(keep=False).to_numpy()
    if dup.any():
        pairs = keyed[dup].drop_duplicates()
        listed = ", ".join(
            f"{p!r} in study {s!r}" for s, p in pairs.itertuples(index=False, name=None)
        )
        positions = np.flatnonzero(is_ipd & present)[dup]
        problems.add(
            f"{_column_ref('patient', patient)}: duplicated patient ids within a study: "
            f"{listed} (at {_format_rows(rows[positions], limit=10)}); each patient appears "
            "once per study — aggregate repeated measurements or fix the ids."
        )
    return ids


def _checked_times(
    work: pd.DataFrame, columns: dict[str, Hashable | None], is_agg: np.ndarray,
    rows: np.ndarray, problems: _Problems,
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for role, column in columns.items():
        if column is None:
            continue
        values = _numeric(work, column, role, rows, problems,
                          fix="times must be numbers (NaN = not recorded)")
        on_agg = is_agg & work[column].notna().to_numpy()
        _report(problems, role, column, rows, on_agg, None, "value on an aggregate row",
                f"{role} is a patient-level time; clear it on aggregate rows")
        _report(problems, role, column, rows, np.isinf(values), values, "infinite time",
                "use a finite time or leave it empty")
        _report(problems, role, column, rows, values < 0, values, "negative time",
                "times must be >= 0")
        out[role] = np.where(is_agg, np.nan, values)
    follow_up, event_time = columns["follow_up"], columns["event_time"]
    lower = columns.get("event_time_lower")
    if "follow_up" in out and "event_time" in out:
        late = out["event_time"] > out["follow_up"]
        _report(problems, "event_time", event_time, rows, late, out["event_time"],
                "event time after the end of follow-up",
                f"event_time must be <= follow_up ({follow_up!r})")
    if "event_time_lower" in out:
        if "event_time" not in out:
            problems.add(
                f"argument event_time_lower={lower!r} is mapped but event_time= is not; an "
                "interval-censored event lies between the last visit without it "
                "(event_time_lower) and the first visit with it (event_time): map both."
            )
        else:
            bounds = out["event_time_lower"]
            alone = np.isfinite(bounds) & ~np.isfinite(out["event_time"])
            _report(problems, "event_time_lower", lower, rows, alone, bounds,
                    "lower bound without an event time",
                    f"give the first visit with the event in event_time ({event_time!r}) or "
                    "clear the lower bound")
            reversed_ = bounds > out["event_time"]
            _report(problems, "event_time_lower", lower, rows, reversed_, bounds,
                    "lower bound after the event time",
                    f"event_time_lower must be <= event_time ({event_time!r}): the event lies "
                    "in (event_time_lower, event_time]")
    return out


def _checked_covariate(
    work: pd.DataFrame, name: Hashable, kind: str, is_ipd: np.ndarray, rows: np.ndarray,
    problems: _Problems,
) -> np.ndarray:
    fix = (
        f"encode covariates as numbers: 0/1 for a binary factor (e.g. "
        f"df[{name!r}].eq('yes').astype(int)) or a numeric value"
    )
    values = _numeric(work, name, kind, rows, problems, fix=fix, allow_bool=True)
    _report(problems, kind, name, rows, np.isinf(values), values, "infinite covariate value",
            "use finite values")
    missing = is_ipd & work[name].isna().to_numpy()
    _report(problems, kind, name, rows, missing, None, "missing covariate value on a patient row",
            "impute it or drop the row explicitly with drop_rows= (aggregate rows may leave "
            "covariates empty)")
    return values


def _checked_study_covariate(
    work: pd.DataFrame, name: Hashable, studies: np.ndarray, rows: np.ndarray, problems: _Problems
) -> np.ndarray:
    every_row = np.ones(len(work), dtype=bool)
    values = _checked_covariate(work, name, "study_covariates", every_row, rows, problems)
    frame = pd.DataFrame({"study": studies, "value": values})
    spread = frame.groupby("study", sort=False)["value"].nunique()
    varying = spread[spread > 1].index.tolist()
    if varying:
        problems.add(
            f"column {name!r} (study_covariates=): not constant within study "
            f"{', '.join(repr(s) for s in varying[:10])}; a study covariate has one value per "
            "study — use covariates= for patient-level values."
        )
    return values


def _checked_label_column(
    work: pd.DataFrame, column: Hashable | None, declared: str, role: str, what: str,
    rows: np.ndarray, problems: _Problems,
) -> str:
    if column is None:
        return declared
    raw = work[column]
    missing = raw.isna().to_numpy()
    _report(problems, f"{role}_column", column, rows, missing, None, f"missing {role}",
            f"state the {role} on every row")
    labels = pd.Series(_labels(raw[~missing]), dtype=object)
    distinct = list(pd.unique(labels))
    if len(distinct) > 1:
        where = "; ".join(
            f"{value!r} at {_format_rows(rows[~missing][labels.to_numpy() == value], limit=3)}"
            for value in distinct
        )
        problems.add(
            f"{_column_ref(f'{role}_column', column)}: mixed {what} in one analysis ({where}); "
            f"convert every dose to one {role.replace('_', ' ')} (see DoseResponseData.with_dose)"
            " or analyse the subsets separately."
        )
        return declared
    if not distinct:
        return declared
    found = distinct[0]
    default = "dose" if role == "dose_metric" else "Gy"
    if declared != default and declared != found:
        problems.add(
            f"{_column_ref(f'{role}_column', column)}: the column says {found!r} but "
            f"{role}={declared!r} was passed; they must agree (omit {role}= to use the column)."
        )
    return found


# --------------------------------------------------------------------------- output tables


def _ipd_table(
    is_ipd: np.ndarray, codes: np.ndarray, studies: np.ndarray, patients: np.ndarray,
    dose: np.ndarray, dose_se: np.ndarray, outcome: np.ndarray, times: dict[str, np.ndarray],
    extra: dict[Hashable, np.ndarray],
) -> pd.DataFrame:
    order = np.flatnonzero(is_ipd)[np.argsort(codes[is_ipd], kind="stable")]
    columns: dict[str, Any] = {
        "study": pd.Series(studies[order], dtype="str"),
        "patient": pd.Series(patients[order], dtype="str"),
        "dose": dose[order].astype(np.float64),
        "dose_se": dose_se[order].astype(np.float64),
        "outcome": outcome[order].astype(np.int64),
    }
    for name, values in times.items():
        columns[name] = values[order].astype(np.float64)
    for name, values in extra.items():
        columns[str(name)] = values[order].astype(np.float64)
    return pd.DataFrame(columns)


def _aggregate_table(
    is_agg: np.ndarray, codes: np.ndarray, studies: np.ndarray, dose: np.ndarray,
    low: np.ndarray, high: np.ndarray, sd: np.ndarray, dose_se: np.ndarray, events: np.ndarray,
    n: np.ndarray, extra: dict[Hashable, np.ndarray],
) -> pd.DataFrame:
    order = np.flatnonzero(is_agg)[np.argsort(codes[is_agg], kind="stable")]
    columns: dict[str, Any] = {
        "study": pd.Series(studies[order], dtype="str"),
        "dose": dose[order].astype(np.float64),
        "dose_low": low[order].astype(np.float64),
        "dose_high": high[order].astype(np.float64),
        "dose_sd": sd[order].astype(np.float64),
        "dose_se": dose_se[order].astype(np.float64),
        "events": events[order].astype(np.int64),
        "n": n[order].astype(np.int64),
    }
    for name, values in extra.items():
        columns[str(name)] = values[order].astype(np.float64)
    return pd.DataFrame(columns)


def _warn_small_studies(
    ipd: pd.DataFrame, aggregate: pd.DataFrame, studies: tuple[str, ...]
) -> None:
    patients = (
        ipd.groupby("study", sort=False).size().reindex(list(studies), fill_value=0)
        + aggregate.groupby("study", sort=False)["n"].sum().reindex(list(studies), fill_value=0)
    )
    small = patients[patients == 1].index.tolist()
    if small:
        warnings.warn(
            f"{'study' if len(small) == 1 else 'studies'} {', '.join(repr(s) for s in small)} "
            f"{'has' if len(small) == 1 else 'each have'} a single patient; its study-level "
            "effect is barely identifiable — keep it (it is pooled), merge it with a similar "
            "centre, or drop it explicitly with drop_rows=.",
            SmallStudyWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------- CSV files

_CSV_FIX = (
    "pass the file's conventions through read_csv_kwargs= (e.g. read_csv_kwargs={'sep': ';'})"
)
_DECIMAL_FIX = "read_csv_kwargs={'sep': ';', 'decimal': ','}"
#: read_csv options that change which lines are rows: the field-count check is skipped with them
_LINE_OPTIONS = (
    "skiprows", "skipfooter", "comment", "header", "names", "nrows", "lineterminator",
    "quoting", "escapechar", "dialect", "doublequote", "skipinitialspace", "compression",
    "engine", "delim_whitespace", "chunksize", "iterator", "usecols", "index_col",
)
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
_DECIMAL_COMMA = r"^\s*[-+]?\d+,\d+\s*$"


def check_csv_text(raw: bytes, name: str, kwargs: dict[str, Any], user: dict[str, Any]) -> None:
    """Refuse a CSV file's bytes that pandas would misread or fail on with a raw error.

    Checks emptiness, encoding, NUL bytes (binary content) and, when the options allow a
    faithful re-reading with :mod:`csv`, that every line has as many fields as the header.

    Raises
    ------
    DataValidationError
        Naming the file, the line where one is at fault, and the ``read_csv_kwargs=`` fix.
    """
    if name.lower().endswith(_COMPRESSED) or kwargs.get("compression") not in (None, "infer"):
        return  # compressed: pandas decompresses; its errors are converted by the caller
    encoding = kwargs.get("encoding") or "utf-8"
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise DataValidationError(
            f"{name}: unknown encoding {encoding!r} in read_csv_kwargs=; use a Python codec name "
            "such as 'utf-8', 'latin-1' or 'cp1252'."
        ) from None
    try:
        text = raw.decode("utf-8-sig" if codec == "utf-8" else encoding,
                          errors=kwargs.get("encoding_errors", "strict"))
    except UnicodeDecodeError as exc:
        if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            fix = "read_csv_kwargs={'encoding': 'utf-16'}"
            cause = "is UTF-16 text (it starts with a UTF-16 byte-order mark)"
        elif b"\x00" in raw:
            raise DataValidationError(_binary_message(name, raw.index(b"\x00"))) from None
        else:
            line = raw[: exc.start].count(b"\n") + 1
            fix = ("read_csv_kwargs={'encoding': 'cp1252'} (Excel on Windows) or "
                   "{'encoding': 'latin-1'}, or save the file as UTF-8")
            cause = (f"is not valid {encoding} text (byte 0x{raw[exc.start]:02x} at offset "
                     f"{exc.start}, line {line})")
        raise DataValidationError(f"{name} {cause}; pass its encoding: {fix}.") from None
    if "\x00" in text:
        raise DataValidationError(_binary_message(name, text.index("\x00")))
    if not text.strip():
        raise DataValidationError(
            f"{name} is empty (no header line, no rows); export the table again with a header "
            "line naming the columns and one row per patient or dose bin."
        )
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    if any(key in user for key in _LINE_OPTIONS) or not isinstance(sep, str) or len(sep) != 1:
        return
    _check_field_counts(text, name, sep, kwargs.get("quotechar", '"'))


def check_csv_frame(df: pd.DataFrame, name: str, mapping: dict[str, Any],
                    kwargs: dict[str, Any]) -> None:
    """Refuse a parsed CSV table with decimal-comma numbers or split at the wrong separator."""
    columns = list(df.columns)
    if len(columns) == 1 and isinstance(columns[0], str):
        for sep in (";", "\t", ",", "|"):
            if sep in columns[0] and sep != kwargs.get("sep", ","):
                shown = {"\t": "\\t"}.get(sep, sep)
                fix = (_DECIMAL_FIX if sep == ";" else f"read_csv_kwargs={{'sep': '{shown}'}}")
                raise DataValidationError(
                    f"{name}: only one column was found ({columns[0]!r}); the file seems to be "
                    f"separated by {shown!r}, not {kwargs.get('sep', ',')!r}: pass {fix}."
                )
    numeric_roles = ("dose", "dose_se", "dose_rel_se", "dose_low", "dose_high", "dose_sd",
                     "events", "n", "follow_up", "event_time", "outcome")
    numeric = [(role, mapping.get(role)) for role in numeric_roles]
    for kind in ("covariates", "study_covariates"):
        numeric += [(kind, c) for c in _as_name_tuple(mapping.get(kind))]
    for role, column in numeric:
        if column is None or column not in df.columns:
            continue
        values = df[column]
        if not (pd.api.types.is_object_dtype(values.dtype)
                or pd.api.types.is_string_dtype(values.dtype)):
            continue
        text = values.dropna().astype(str)
        comma = text.str.match(_DECIMAL_COMMA)
        if comma.any():
            first = comma.to_numpy().nonzero()[0][0]
            label = text.index[first]
            line = label + 2 if isinstance(label, int | np.integer) else None
            raise DataValidationError(
                f"{name}: column {column!r} ({role}=) holds numbers with a decimal comma "
                f"({text.iloc[first]!r}"
                + (f" on line {line}" if line is not None and kwargs.get("header", 0) == 0
                   and "skiprows" not in kwargs else "")
                + f", {int(comma.sum())} value(s)); pass {_DECIMAL_FIX} (or the file's "
                "separator with 'decimal': ',')."
            )


def _check_field_counts(text: str, name: str, sep: str, quotechar: Any) -> None:
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                            quotechar=quotechar if isinstance(quotechar, str) else '"')
        header, bad = None, []
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank lines are skipped by pandas too
            if header is None:
                header = fields
                continue
            if len(fields) != len(header):
                bad.append((reader.line_num, len(fields), fields))
    except csv.Error as exc:
        raise DataValidationError(
            f"{name}: malformed CSV ({exc}); check the quoting (an unclosed {quotechar!r}) or "
            f"{_CSV_FIX}."
        ) from None
    if header is None or not bad:
        return
    line, count, fields = bad[0]
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != sep and other in header[0]:
                shown = {"\t": "\\t"}.get(other, other)
                fix = _DECIMAL_FIX if other == ";" else f"read_csv_kwargs={{'sep': '{shown}'}}"
                raise DataValidationError(
                    f"{name}: the header line {header[0]!r} is one field when split at {sep!r}, "
                    f"but line {line} has {count}; the file seems to be separated by "
                    f"{shown!r}: pass {fix}."
                )
    where = f"line {line} has {count} field{'s' if count != 1 else ''}"
    also = f" ({len(bad) - 1} more such line(s))" if len(bad) > 1 else ""
    k = len(header)
    if count > k and sep == "," and any(f.strip().isdigit() for f in fields[1:]):
        raise DataValidationError(
            f"{name}: {where} but the header has {k} ({', '.join(header)}){also}; a decimal "
            f"comma (e.g. '20,5' for 20.5) in a comma-separated file shifts every column. If the "
            f"file uses decimal commas, it is usually semicolon-separated: pass {_DECIMAL_FIX}; "
            "otherwise quote the fields that contain a comma."
        )
    raise DataValidationError(
        f"{name}: {where} but the header has {k} ({', '.join(header)}){also}; every row needs "
        f"one value per column (empty values as {sep}{sep}). Fix the file, or {_CSV_FIX}."
    )


def _binary_message(name: str, offset: int) -> str:
    return (
        f"{name} holds binary content (a NUL byte at offset {offset}), not CSV text; a "
        "spreadsheet (.xlsx) needs pandas.read_excel and DoseResponseData.from_frame, a "
        "compressed file read_csv_kwargs={'compression': 'gzip'} (or its format), a UTF-16 "
        "file read_csv_kwargs={'encoding': 'utf-16'}."
    )
