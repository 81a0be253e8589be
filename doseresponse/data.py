"""The dose-response data container: one validated cohort spanning studies and centres.

:class:`DoseResponseData` holds patient-level rows (IPD: one patient, a dose, a 0/1 outcome) and
study-level aggregate rows (a dose bin with ``events`` out of ``n`` patients) in one immutable,
validated object. Every model, plot and saved fit reads its data from here, so the dose metric
(mean absorbed dose, BED, EQD2, EUD, ...) and its unit (Gy unless stated) travel with the numbers.

Build it from a tidy :class:`pandas.DataFrame` with :meth:`DoseResponseData.from_frame` (or a CSV
file with :meth:`DoseResponseData.from_csv`); get a tidy frame back with
:meth:`DoseResponseData.to_frame`. See ``docs/data.md`` for the column conventions and validation
rules.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from doseresponse._data_validation import ValidatedTables, validate_frame
from doseresponse.exceptions import DataValidationError, DoseResponseError, UnknownNameError

__all__ = ["DoseResponseData"]

_SCHEMA = "doseresponse.DoseResponseData"
_SCHEMA_VERSION = 1
_REPR_STUDIES = 8


class DoseResponseData:
    """A validated, immutable dose-response cohort mixing patient-level and aggregate rows.

    Construct it with :meth:`from_frame` (or :meth:`from_csv`, :meth:`from_dict`,
    :meth:`concat`); calling ``DoseResponseData(df, dose=..., ...)`` is the same as
    :meth:`from_frame`.

    Parameters
    ----------
    df : pandas.DataFrame
        The table, one row per patient or per dose group.
    **mapping
        The column mapping and metadata of :meth:`from_frame` (``dose=``, ``outcome=``, ...).

    Attributes
    ----------
    ipd : pandas.DataFrame
        Patient-level rows, columns ``study`` (str), ``patient`` (str), ``dose`` (float, in
        ``dose_unit``), ``dose_se`` (float, absolute standard error of the dose, NaN = not
        reported), ``outcome`` (int 0/1), then ``follow_up``, ``event_time`` and
        ``event_time_lower`` (float, in
        ``time_unit``) when mapped, then the covariates and the study covariates (float).
        Rows are grouped by study in the order of :attr:`studies`, keeping the input order within
        a study.
    aggregate : pandas.DataFrame
        Aggregate rows, columns ``study``, ``dose`` (the bin's mean, median or midpoint, see
        :attr:`dose_summary`), ``dose_low``, ``dose_high``, ``dose_sd``, ``dose_se`` (NaN when not
        reported), ``events`` (int), ``n`` (int), then covariates (per-bin value or fraction, NaN
        when not reported) and study covariates.
    studies : tuple of str
        Study labels in order of first appearance.
    dose_metric, dose_unit : str
        What the dose is (e.g. ``"BED"``) and its unit (e.g. ``"Gy"``).

    Notes
    -----
    The object is read-only: frames returned by :attr:`ipd` and :attr:`aggregate` are copies
    (copy-on-write), so modifying them never changes the container. Two containers are equal when
    their tables and metadata are equal (:attr:`dropped` is a report and is not compared).

    Examples
    --------
    >>> import pandas as pd
    >>> from doseresponse.data import DoseResponseData
    >>> df = pd.DataFrame({"centre": ["A", "A", "B", "B"], "bed": [20.0, 35.0, 28.0, 41.0],
    ...                    "tox": [0, 1, 0, 1]})
    >>> data = DoseResponseData.from_frame(df, dose="bed", outcome="tox", study="centre",
    ...                                    dose_metric="BED", dose_unit="Gy")
    >>> data.studies, data.n_patients, data.n_events
    (('A', 'B'), 4, 2)
    """

    __slots__ = ("_aggregate", "_dropped", "_ipd", "_meta", "_studies")

    def __init__(self, df: pd.DataFrame, **mapping: Any) -> None:
        tables = validate_frame(df, **mapping)
        self._set_state(tables)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_frame(
        cls,
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
        dose_summary: Literal["mean", "median", "midpoint"] = "mean",
        covariates: Iterable[Hashable] | str = (),
        study_covariates: Iterable[Hashable] | str = (),
        follow_up: Hashable | None = None,
        event_time: Hashable | None = None,
        event_time_lower: Hashable | None = None,
        time_unit: str = "months",
        dose_metric: str = "dose",
        dose_unit: str = "Gy",
        outcome_name: str | None = None,
        drop_rows: Any = None,
        dose_metric_column: Hashable | None = None,
        dose_unit_column: Hashable | None = None,
    ) -> DoseResponseData:
        """Build validated dose-response data from a tidy frame.

        Each argument names the column of ``df`` that plays a role; columns not named are
        ignored. A row with a non-missing ``outcome`` is a patient (IPD) row; a row with
        ``events`` and ``n`` is an aggregate dose-bin row. A frame may mix both.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per patient or per dose bin. Never modified.
        dose : column name
            Dose of the patient or of the bin, in ``dose_unit``; finite and >= 0.
        outcome : column name, optional
            Binary outcome of a patient row: 0/1 (ints or floats) or True/False. NaN on
            aggregate rows.
        study : column name, optional
            Study / centre label. ``None``: every row belongs to one study named ``"study"``.
            Integer-valued labels are written without a decimal point (``1.0`` → ``"1"``).
        patient : column name, optional
            Patient id, unique within a study. ``None``: patients are numbered ``"1"``,
            ``"2"``, ... within each study in row order.
        events, n : column name, optional
            Aggregate rows: number of patients with the event and number at risk in the bin
            (whole numbers, ``0 <= events <= n``, ``n >= 1``).
        dose_se : column name, optional
            Absolute standard error of the dose (same unit as the dose); NaN = not reported.
        dose_rel_se : column name, optional
            Relative dose uncertainty as a fraction (0.2 = 20 %, must be < 1.5); converted to
            ``dose_se = dose_rel_se * dose``. A row may give ``dose_se`` or ``dose_rel_se``,
            not both.
        dose_low, dose_high, dose_sd : column name, optional
            Aggregate rows: reported dose range and standard deviation of the dose in the bin
            (``dose_low <= dose <= dose_high``).
        dose_summary : {"mean", "median", "midpoint"}
            What an aggregate row's ``dose`` is.
        covariates : sequence of column names
            Patient-level covariates (numeric; encode binary factors as 0/1). Required on
            patient rows; on aggregate rows they hold the bin's value or fraction (NaN = not
            reported).
        study_covariates : sequence of column names
            Covariates constant within each study (numeric, no NaN).
        follow_up, event_time : column name, optional
            Patient-level follow-up time and event time (>= 0, ``event_time <= follow_up``),
            in ``time_unit``, for time-to-event work: ``follow_up`` is the last time a patient
            was seen (without the event, for patients without it), ``event_time`` the first
            time the event was seen.
        event_time_lower : column name, optional
            Last time seen without the event, for events found at a visit (interval-censored:
            the event lies in ``(event_time_lower, event_time]``); empty or equal to
            ``event_time`` for an exactly known time. Needs ``event_time``; ``0 <=
            event_time_lower <= event_time``.
        time_unit : str
            Unit of the time columns.
        dose_metric, dose_unit : str
            The dose metric (``"mean absorbed dose"``, ``"BED"``, ``"EQD2"``, ``"EUD"``, ...)
            and its unit. They travel with the data into models, plots and saved fits.
        outcome_name : str, optional
            Human-readable outcome (e.g. ``"grade >= 3 nephrotoxicity"``); defaults to the
            outcome column name, or ``"outcome"``.
        drop_rows : sequence of index labels or boolean mask, optional
            Rows to drop on purpose. They are removed before validation, reported with a
            :class:`~doseresponse.exceptions.DroppedRowsWarning` and kept in :attr:`dropped`.
        dose_metric_column, dose_unit_column : column name, optional
            Columns stating each row's dose metric / unit. They must hold a single value, which
            becomes :attr:`dose_metric` / :attr:`dose_unit` (an explicit ``dose_metric=`` or
            ``dose_unit=`` must agree with it).

        Returns
        -------
        DoseResponseData

        Raises
        ------
        DataValidationError
            Listing *every* problem found (missing columns, bad or negative doses, outcome not
            0/1, events > n, duplicated patient ids, mixed metrics, ...), each naming the
            column, the rows (by index label) and the fix.

        Warns
        -----
        SmallStudyWarning
            A study has a single patient.
        DroppedRowsWarning
            ``drop_rows=`` removed rows.
        """
        tables = validate_frame(
            df, dose=dose, outcome=outcome, study=study, patient=patient, events=events, n=n,
            dose_se=dose_se, dose_rel_se=dose_rel_se, dose_low=dose_low, dose_high=dose_high,
            dose_sd=dose_sd, dose_summary=dose_summary, covariates=covariates,
            study_covariates=study_covariates, follow_up=follow_up, event_time=event_time,
            event_time_lower=event_time_lower,
            time_unit=time_unit, dose_metric=dose_metric, dose_unit=dose_unit,
            outcome_name=outcome_name, drop_rows=drop_rows,
            dose_metric_column=dose_metric_column, dose_unit_column=dose_unit_column,
        )
        return cls._from_tables(tables)

    @classmethod
    def from_csv(
        cls,
        path: str | PathLike[str],
        *,
        read_csv_kwargs: dict[str, Any] | None = None,
        **mapping: Any,
    ) -> DoseResponseData:
        """Read a tidy CSV file and build validated data (same mapping as :meth:`from_frame`).

        Study and patient columns are read as text, so ids such as ``"007"`` keep their
        leading zeros and integer ids of any size stay distinct (never through float64).

        Parameters
        ----------
        path : str or path-like
            CSV file, one row per patient or dose bin (UTF-8 unless
            ``read_csv_kwargs={"encoding": ...}`` says otherwise).
        read_csv_kwargs : dict, optional
            Extra arguments for :func:`pandas.read_csv` (e.g. ``{"sep": ";"}``, or
            ``{"sep": ";", "decimal": ","}`` for a file written with decimal commas).
        **mapping
            Column mapping and metadata, exactly as for :meth:`from_frame`
            (aggregate rows via ``events=`` and ``n=``).

        Returns
        -------
        DoseResponseData

        Raises
        ------
        DataValidationError
            The file is missing, unreadable, empty, binary, not in the expected encoding, has
            rows with a different number of fields than its header (ragged rows, or decimal
            commas in a comma-separated file), numbers written with decimal commas, or invalid
            rows. Every message names the file (and the line, where one is at fault) and the
            fix, usually a ``read_csv_kwargs=`` setting.

        Notes
        -----
        Before pandas parses a local file, its bytes are checked (empty, NUL bytes, encoding)
        and, for single-character separators without options that change the line structure
        (``skiprows``, ``comment``, ``header``, ``names``, ...), every line's field count is
        compared with the header's: pandas would otherwise take the first column as the index
        when each row has one field more than the header, silently shifting every column.
        """
        from doseresponse._data_validation import check_csv_frame, check_csv_text

        name = str(path)
        kwargs: dict[str, Any] = {}
        text_columns = [mapping[k] for k in ("study", "patient") if mapping.get(k) is not None]
        if text_columns:
            kwargs["dtype"] = dict.fromkeys(text_columns, str)
        if read_csv_kwargs is not None and not isinstance(read_csv_kwargs, dict):
            raise DataValidationError(
                f"read_csv_kwargs must be a dict of pandas.read_csv arguments (e.g. "
                f"{{'sep': ';'}}); got {type(read_csv_kwargs).__name__}."
            )
        user = dict(read_csv_kwargs or {})
        kwargs.update(user)
        kwargs.setdefault("index_col", False)  # never take a column as the index silently
        if isinstance(path, str | PathLike):
            try:
                raw = Path(path).read_bytes()
            except FileNotFoundError:
                raise DataValidationError(
                    f"path={name!r}: no such file; check the path to the CSV table."
                ) from None
            except OSError as exc:
                raise DataValidationError(
                    f"{name}: cannot be read ({type(exc).__name__}: {exc}); check the path and "
                    "its permissions."
                ) from None
            check_csv_text(raw, name, kwargs, user)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(path, **kwargs)
        except DataValidationError:
            raise
        except Exception as exc:  # pandas, codec and OS errors: name the file and the fix
            raise DataValidationError(
                f"{name}: pandas.read_csv failed ({type(exc).__name__}: {exc}); check that the "
                "file is a CSV table with a header line, or pass the separator, decimal mark or "
                "encoding it uses through read_csv_kwargs= (e.g. read_csv_kwargs={'sep': ';', "
                "'decimal': ','} or {'encoding': 'latin-1'})."
            ) from None
        check_csv_frame(df, name, mapping, kwargs)
        try:
            return cls.from_frame(df, **mapping)
        except DataValidationError as exc:
            raise DataValidationError(f"{name}: {exc}") from None

    @classmethod
    def concat(
        cls,
        datasets: Sequence[DoseResponseData],
        *,
        allow_shared_studies: bool = False,
        outcome_name: str | None = None,
    ) -> DoseResponseData:
        """Combine several containers (e.g. IPD from one source, aggregate tables from others).

        Parameters
        ----------
        datasets : sequence of DoseResponseData
            Containers to combine, in order. They must share the dose metric and unit, the
            outcome name, the dose summary (when they have aggregate rows), the time unit (when
            they have time columns) and the study covariates. Patient-level covariates must be
            present in every container with patient rows; aggregate-only containers may lack
            them (NaN = not reported).
        allow_shared_studies : bool
            If False (default), a study label present in two containers is an error (it usually
            means double counting); rename one with :meth:`rename_studies`. If True, their rows
            are merged into one study.
        outcome_name : str, optional
            Name of the combined endpoint. Required when the containers' outcome names differ
            (e.g. ``"tox"`` from a patient table and the default ``"outcome"`` from an
            aggregate one) — check that they really measure the same endpoint.

        Returns
        -------
        DoseResponseData

        Raises
        ------
        DataValidationError
            When the containers disagree, naming which ones and how.
        """
        datasets = list(datasets)
        if not datasets or not all(isinstance(d, DoseResponseData) for d in datasets):
            raise DataValidationError(
                "concat needs a non-empty sequence of DoseResponseData objects; got "
                f"{[type(d).__name__ for d in datasets]}."
            )
        problems = _concat_problems(datasets, allow_shared_studies, outcome_name is None)
        if problems:
            raise DataValidationError(
                f"{len(problems)} problem{'s' if len(problems) > 1 else ''} combining "
                "dose-response data:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        frame = pd.concat([d.to_frame() for d in datasets], ignore_index=True)
        first = datasets[0]
        mapping = first.canonical_mapping()
        covariates = list(dict.fromkeys(c for d in datasets for c in d.covariates))
        time_cols = {c for d in datasets for c in d._meta["time_columns"]}
        with_aggregate = [d for d in datasets if d.has_aggregate]
        mapping.update(
            outcome="outcome" if any(d.has_ipd for d in datasets) else None,
            patient="patient" if any(d.has_ipd for d in datasets) else None,
            covariates=tuple(covariates),
            follow_up="follow_up" if "follow_up" in time_cols else None,
            event_time="event_time" if "event_time" in time_cols else None,
            event_time_lower="event_time_lower" if "event_time_lower" in time_cols else None,
            dose_summary=with_aggregate[0].dose_summary if with_aggregate else first.dose_summary,
            outcome_name=outcome_name if outcome_name is not None else first.outcome_name,
        )
        has_agg = bool(with_aggregate)
        mapping.update(
            events="events" if has_agg else None,
            n="n" if has_agg else None,
            dose_low="dose_low" if has_agg else None,
            dose_high="dose_high" if has_agg else None,
            dose_sd="dose_sd" if has_agg else None,
        )
        for column in ("dose_low", "dose_high", "dose_sd", "events", "n"):
            if has_agg and column not in frame.columns:
                frame[column] = np.nan
        return cls.from_frame(frame, **mapping)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DoseResponseData:
        """Rebuild data saved with :meth:`to_dict` (re-validating every row).

        Parameters
        ----------
        payload : dict
            The output of :meth:`to_dict` (possibly after a JSON round trip).

        Returns
        -------
        DoseResponseData

        Raises
        ------
        DataValidationError
            If ``payload`` is not a saved DoseResponseData or its rows are invalid.
        """
        if not isinstance(payload, dict) or payload.get("schema") != _SCHEMA:
            raise DataValidationError(
                f"payload is not a saved DoseResponseData (expected schema {_SCHEMA!r}); build "
                "it with DoseResponseData.to_dict()."
            )
        version = payload.get("schema_version")
        if version != _SCHEMA_VERSION:
            raise DataValidationError(
                f"payload has schema_version {version!r}; this version of doseresponse reads "
                f"version {_SCHEMA_VERSION}."
            )
        mapping = dict(payload["mapping"])
        for key in ("covariates", "study_covariates"):
            mapping[key] = tuple(mapping.get(key, ()))
        frame = pd.DataFrame(
            {k: [np.nan if v is None else v for v in vals] for k, vals in payload["rows"].items()}
        )
        data = cls.from_frame(frame, **mapping)
        dropped = payload.get("dropped", [])
        if dropped:
            report = pd.DataFrame(
                {"drop_reason": [d["reason"] for d in dropped]},
                index=pd.Index([d["row"] for d in dropped], name="row"),
            )
            object.__setattr__(data, "_dropped", report)
        return data

    @classmethod
    def _from_tables(cls, tables: ValidatedTables) -> DoseResponseData:
        obj = cls.__new__(cls)
        obj._set_state(tables)
        return obj

    def _set_state(self, tables: ValidatedTables) -> None:
        meta = {
            "dose_metric": tables.dose_metric,
            "dose_unit": tables.dose_unit,
            "dose_summary": tables.dose_summary,
            "outcome_name": tables.outcome_name,
            "time_unit": tables.time_unit,
            "covariates": tables.covariates,
            "study_covariates": tables.study_covariates,
            "time_columns": tables.time_columns,
        }
        object.__setattr__(self, "_ipd", tables.ipd)
        object.__setattr__(self, "_aggregate", tables.aggregate)
        object.__setattr__(self, "_studies", tables.studies)
        object.__setattr__(self, "_dropped", tables.dropped)
        object.__setattr__(self, "_meta", meta)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"DoseResponseData is immutable; cannot set {name!r}. Build a new object "
            "(from_frame, with_dose, select_studies)."
        )

    # ------------------------------------------------------------------ tables and metadata

    @property
    def ipd(self) -> pd.DataFrame:
        """Patient-level rows (a copy); see the class docstring for the columns."""
        return self._ipd.copy(deep=False)

    @property
    def aggregate(self) -> pd.DataFrame:
        """Aggregate dose-bin rows (a copy); see the class docstring for the columns."""
        return self._aggregate.copy(deep=False)

    @property
    def dropped(self) -> pd.DataFrame:
        """Rows dropped at the user's request (``drop_rows=``) with a ``drop_reason`` column."""
        return self._dropped.copy(deep=False)

    @property
    def studies(self) -> tuple[str, ...]:
        """Study labels in order of first appearance."""
        return self._studies

    @property
    def covariates(self) -> tuple[str, ...]:
        """Patient-level covariate names (columns of :attr:`ipd` and :attr:`aggregate`)."""
        return self._meta["covariates"]

    @property
    def study_covariates(self) -> tuple[str, ...]:
        """Study-level covariate names (constant within a study)."""
        return self._meta["study_covariates"]

    @property
    def dose_metric(self) -> str:
        """The dose metric, e.g. ``"BED"`` or ``"mean absorbed dose"``."""
        return self._meta["dose_metric"]

    @property
    def dose_unit(self) -> str:
        """The dose unit, e.g. ``"Gy"``."""
        return self._meta["dose_unit"]

    @property
    def dose_label(self) -> str:
        """Axis label for the dose, e.g. ``"BED [Gy]"``."""
        return f"{self.dose_metric} [{self.dose_unit}]"

    @property
    def dose_summary(self) -> str:
        """What an aggregate row's dose is: ``"mean"``, ``"median"`` or ``"midpoint"``."""
        return self._meta["dose_summary"]

    @property
    def outcome_name(self) -> str:
        """Human-readable name of the binary outcome."""
        return self._meta["outcome_name"]

    @property
    def time_unit(self) -> str:
        """Unit of ``follow_up``, ``event_time`` and ``event_time_lower``."""
        return self._meta["time_unit"]

    @property
    def has_time_to_event(self) -> bool:
        """True when ``follow_up`` or ``event_time`` columns were mapped."""
        return bool(self._meta["time_columns"])

    @property
    def n_ipd(self) -> int:
        """Number of patient-level rows."""
        return len(self._ipd)

    @property
    def n_aggregate_rows(self) -> int:
        """Number of aggregate dose-bin rows."""
        return len(self._aggregate)

    @property
    def n_patients(self) -> int:
        """Number of patients: IPD rows plus the sum of ``n`` over aggregate rows."""
        return self.n_ipd + int(self._aggregate["n"].sum())

    @property
    def n_events(self) -> int:
        """Number of events: IPD outcomes equal to 1 plus the sum of aggregate ``events``."""
        return int(self._ipd["outcome"].sum()) + int(self._aggregate["events"].sum())

    @property
    def has_ipd(self) -> bool:
        """True when there is at least one patient-level row."""
        return self.n_ipd > 0

    @property
    def has_aggregate(self) -> bool:
        """True when there is at least one aggregate row."""
        return self.n_aggregate_rows > 0

    @property
    def is_mixed(self) -> bool:
        """True when the cohort has both patient-level and aggregate rows."""
        return self.has_ipd and self.has_aggregate

    def study_codes(self, which: Literal["ipd", "aggregate"] = "ipd") -> np.ndarray:
        """Integer code of each row's study, indexing :attr:`studies`.

        Parameters
        ----------
        which : {"ipd", "aggregate"}
            Rows of :attr:`ipd` or of :attr:`aggregate`.

        Returns
        -------
        numpy.ndarray
            int64 array, one entry per row of the chosen table.
        """
        table = {"ipd": self._ipd, "aggregate": self._aggregate}.get(which)
        if table is None:
            raise DoseResponseError(
                f"which={which!r} is not valid; use 'ipd' or 'aggregate'."
            )
        codes = pd.Categorical(table["study"], categories=list(self._studies)).codes
        return np.asarray(codes, dtype=np.int64)

    def study_index(self, study: str) -> int:
        """Position of ``study`` in :attr:`studies`.

        Parameters
        ----------
        study : str
            A study label.

        Returns
        -------
        int
            Its 0-based position.

        Raises
        ------
        UnknownNameError
            If the label is not a study of this cohort (the message lists them).
        """
        try:
            return self._studies.index(str(study))
        except ValueError:
            raise UnknownNameError(
                f"unknown study {study!r}; the studies are: {', '.join(self._studies)}."
            ) from None

    def select_studies(self, studies: str | Iterable[str]) -> DoseResponseData:
        """Return a new container with only the named studies (in the order given).

        Parameters
        ----------
        studies : str or iterable of str
            One study label or several.

        Returns
        -------
        DoseResponseData
            The selected studies; this container is unchanged.

        Raises
        ------
        UnknownNameError
            If a label is not a study of this cohort (the message lists them).
        """
        wanted = [studies] if isinstance(studies, str) else list(studies)
        if not wanted:
            raise DoseResponseError("studies= must name at least one study.")
        for label in wanted:
            self.study_index(label)
        frame = self.to_frame()
        frame = frame[frame["study"].isin([str(s) for s in wanted])]
        order = {str(s): i for i, s in enumerate(wanted)}
        frame = frame.sort_values("study", key=lambda s: s.map(order), kind="stable")
        return type(self).from_frame(frame, **self._mapping_for(frame))

    def rename_studies(self, mapping: dict[str, str]) -> DoseResponseData:
        """Return a new container with study labels renamed (e.g. before :meth:`concat`).

        Parameters
        ----------
        mapping : dict
            Old label → new label; studies not named keep their label.

        Returns
        -------
        DoseResponseData
            The renamed copy; this container is unchanged.

        Raises
        ------
        UnknownNameError
            If a key is not a study of this cohort.
        DoseResponseError
            If two studies would end up with the same label.
        """
        for label in mapping:
            self.study_index(label)
        renamed = [str(mapping.get(s, s)) for s in self._studies]
        clashes = sorted({s for s in renamed if renamed.count(s) > 1})
        if clashes:
            raise DoseResponseError(
                f"rename_studies would merge studies into {clashes}; give each study a distinct "
                "label (merge studies explicitly by rebuilding the frame if that is intended)."
            )
        frame = self.to_frame()
        frame["study"] = frame["study"].replace({str(k): str(v) for k, v in mapping.items()})
        return type(self).from_frame(frame, **self.canonical_mapping())

    # ------------------------------------------------------------------ conversions

    def canonical_mapping(self) -> dict[str, Any]:
        """The :meth:`from_frame` arguments that rebuild this object from :meth:`to_frame`.

        Returns
        -------
        dict
            Column mapping plus ``dose_metric``, ``dose_unit``, ``dose_summary``,
            ``outcome_name`` and ``time_unit``; ``from_frame(data.to_frame(),
            **data.canonical_mapping()) == data``.
        """
        has_ipd, has_agg = self.has_ipd, self.has_aggregate
        times = self._meta["time_columns"]
        return {
            "dose": "dose",
            "outcome": "outcome" if has_ipd else None,
            "study": "study",
            "patient": "patient" if has_ipd else None,
            "events": "events" if has_agg else None,
            "n": "n" if has_agg else None,
            "dose_se": "dose_se",
            "dose_low": "dose_low" if has_agg else None,
            "dose_high": "dose_high" if has_agg else None,
            "dose_sd": "dose_sd" if has_agg else None,
            "dose_summary": self.dose_summary,
            "covariates": self.covariates,
            "study_covariates": self.study_covariates,
            "follow_up": "follow_up" if "follow_up" in times else None,
            "event_time": "event_time" if "event_time" in times else None,
            "event_time_lower": "event_time_lower" if "event_time_lower" in times else None,
            "time_unit": self.time_unit,
            "dose_metric": self.dose_metric,
            "dose_unit": self.dose_unit,
            "outcome_name": self.outcome_name,
            "dose_metric_column": "dose_metric",
            "dose_unit_column": "dose_unit",
        }

    def _mapping_for(self, frame: pd.DataFrame) -> dict[str, Any]:
        kinds = set(frame["row_kind"])
        mapping = self.canonical_mapping()
        if "ipd" not in kinds:
            mapping.update(outcome=None, patient=None, follow_up=None, event_time=None,
                           event_time_lower=None)
        if "aggregate" not in kinds:
            mapping.update(events=None, n=None, dose_low=None, dose_high=None, dose_sd=None)
        return mapping

    def to_frame(self) -> pd.DataFrame:
        """One tidy frame with canonical column names, patient rows and dose bins together.

        Returns
        -------
        pandas.DataFrame
            Columns ``row_kind`` (``"ipd"`` / ``"aggregate"``), ``study``, then (when present)
            ``patient``, ``dose``, ``dose_se``, ``dose_low``, ``dose_high``, ``dose_sd``,
            ``outcome``, ``events``, ``n`` (nullable integers), ``follow_up``, ``event_time``,
            ``event_time_lower``, covariates, study covariates, and ``dose_metric`` /
            ``dose_unit`` on every row.
            Rows are grouped by study in :attr:`studies` order, patient rows before bins.
        """
        parts = []
        if self.has_ipd:
            parts.append(self._ipd.assign(row_kind="ipd"))
        if self.has_aggregate:
            parts.append(self._aggregate.assign(row_kind="aggregate"))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].copy()
        codes = pd.Categorical(frame["study"], categories=list(self._studies)).codes
        frame = frame.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)
        for column in ("outcome", "events", "n"):
            if column in frame.columns:
                frame[column] = frame[column].astype("Int64")
        frame["dose_metric"] = self.dose_metric
        frame["dose_unit"] = self.dose_unit
        order = [
            "row_kind", "study", "patient", "dose", "dose_se", "dose_low", "dose_high", "dose_sd",
            "outcome", "events", "n", *self._meta["time_columns"], *self.covariates,
            *self.study_covariates, "dose_metric", "dose_unit",
        ]
        return frame[[c for c in order if c in frame.columns]]

    def to_csv(self, path: str | PathLike[str], *, overwrite: bool = False) -> None:
        """Write :meth:`to_frame` to a CSV file.

        Read it back with ``DoseResponseData.from_csv(path, **data.canonical_mapping())``.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        overwrite : bool
            Replace an existing file. Default False: an existing file is never overwritten (the
            file is created exclusively, so one appearing meanwhile is not overwritten either).

        Raises
        ------
        FileExistsError
            ``path`` exists and ``overwrite`` is False.
        """
        try:
            with open(path, "w" if overwrite else "x", newline="", encoding="utf-8") as handle:
                self.to_frame().to_csv(handle, index=False)
        except FileExistsError:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it, or choose another "
                "path."
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (rows + mapping + metadata) for saved fits.

        Returns
        -------
        dict
            Keys ``schema``, ``schema_version``, ``mapping`` (:meth:`canonical_mapping`),
            ``rows`` (column → list, ``None`` for missing values) and ``dropped`` (index label
            as text and reason of each row removed with ``drop_rows=``).
        """
        frame = self.to_frame()
        rows = {
            column: [_json_value(v) for v in frame[column].tolist()] for column in frame.columns
        }
        mapping = self.canonical_mapping()
        mapping["covariates"] = list(mapping["covariates"])
        mapping["study_covariates"] = list(mapping["study_covariates"])
        dropped = [
            {"row": str(label), "reason": str(reason)}
            for label, reason in zip(
                self._dropped.index, self._dropped["drop_reason"], strict=True
            )
        ]
        return {
            "schema": _SCHEMA,
            "schema_version": _SCHEMA_VERSION,
            "mapping": mapping,
            "rows": rows,
            "dropped": dropped,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string (strict JSON: missing values are ``null``).

        Returns
        -------
        str
            The JSON text, read back by :meth:`from_json`.
        """
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> DoseResponseData:
        """Rebuild data from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            JSON written by :meth:`to_json`.

        Returns
        -------
        DoseResponseData
            The container, validated again.
        """
        return cls.from_dict(json.loads(text))

    def with_dose(
        self,
        new_dose_values: ArrayLikeOrCallable,
        *,
        dose_metric: str,
        dose_unit: str,
        dose_se: Any = "keep_relative",
    ) -> DoseResponseData:
        """Return a copy with converted doses (e.g. absorbed dose → BED), metric and unit.

        Parameters
        ----------
        new_dose_values : array_like or callable
            Either the new doses, one per row in the order ``ipd`` rows then ``aggregate``
            rows (``len(data)`` values), or a vectorised, increasing function mapping old doses
            to new ones. A function is also applied to aggregate ``dose_low`` / ``dose_high``;
            ``dose_sd`` and ``dose_se`` are propagated with the delta method
            (``|f'(d)| · sd``, numerical derivative). With an array, bins that report
            ``dose_low``, ``dose_high`` or ``dose_sd`` cannot be converted: pass a function.
        dose_metric, dose_unit : str
            Metric and unit of the new doses (e.g. ``"BED"``, ``"Gy"``).
        dose_se : "keep_relative", array_like or None
            New dose standard errors for the array form: ``"keep_relative"`` keeps each row's
            relative uncertainty (exact for a proportional conversion, approximate otherwise);
            an array gives them explicitly (same order as the doses); ``None`` marks them as not
            reported. Ignored for the function form (delta method).

        Returns
        -------
        DoseResponseData
            Re-validated; raises :class:`DataValidationError` if the new doses are invalid.
        """
        frame = self.to_frame()
        order = np.concatenate([
            np.flatnonzero(frame["row_kind"].to_numpy() == "ipd"),
            np.flatnonzero(frame["row_kind"].to_numpy() == "aggregate"),
        ])
        old = frame["dose"].to_numpy(dtype=float)
        new_frame = frame.copy()
        if callable(new_dose_values):
            new_frame["dose"] = _apply(new_dose_values, old, "new_dose_values")
            slope = _derivative(new_dose_values, old)
            new_frame["dose_se"] = np.abs(slope) * frame["dose_se"].to_numpy(dtype=float)
            if self.has_aggregate:
                for column in ("dose_low", "dose_high"):
                    values = frame[column].to_numpy(dtype=float)
                    present = ~np.isnan(values)
                    out = np.full(len(values), np.nan)
                    out[present] = _apply(new_dose_values, values[present], "new_dose_values")
                    new_frame[column] = out
                new_frame["dose_sd"] = np.abs(slope) * frame["dose_sd"].to_numpy(dtype=float)
        else:
            values = np.asarray(new_dose_values, dtype=object)
            if values.ndim != 1 or len(values) != len(self):
                raise DoseResponseError(
                    f"new_dose_values must hold {len(self)} doses (ipd rows then aggregate rows);"
                    f" got shape {values.shape}."
                )
            if self.has_aggregate:
                reported = frame[["dose_low", "dose_high", "dose_sd"]].notna().to_numpy().any()
                if reported:
                    raise DoseResponseError(
                        "aggregate bins report dose_low/dose_high/dose_sd, which an array of new "
                        "doses cannot convert; pass new_dose_values as a function of the old dose."
                    )
            new = np.empty(len(self), dtype=object)
            new[order] = values
            new_frame["dose"] = pd.to_numeric(pd.Series(new), errors="coerce")
            new_frame["dose"] = new_frame["dose"].where(pd.notna(pd.Series(new)), np.nan)
            invalid_new = pd.notna(pd.Series(new)) & new_frame["dose"].isna()
            if invalid_new.any():
                raise DoseResponseError(
                    "new_dose_values must be numeric; got "
                    f"{pd.Series(new)[invalid_new].tolist()[:5]}."
                )
            new_frame["dose_se"] = _new_se(dose_se, frame, new_frame, order, len(self))
        new_frame["dose_metric"] = dose_metric
        new_frame["dose_unit"] = dose_unit
        mapping = self.canonical_mapping()
        mapping.update(dose_metric=dose_metric, dose_unit=dose_unit)
        return type(self).from_frame(new_frame, **mapping)

    # ------------------------------------------------------------------ summaries

    def summary(self) -> pd.DataFrame:
        """Per-study summary.

        Returns
        -------
        pandas.DataFrame
            Indexed by study (in :attr:`studies` order), columns ``kind`` (``"ipd"``,
            ``"aggregate"`` or ``"mixed"``), ``ipd_rows``, ``aggregate_rows``, ``patients``
            (IPD rows + Σ n), ``events``, ``rate`` (events / patients), ``dose_min``,
            ``dose_median``, ``dose_max`` (in :attr:`dose_unit`). Aggregate bins enter the dose
            columns at their summary dose, weighted by ``n`` for the median.
        """
        size = len(self._studies)
        ipd_codes, agg_codes = self.study_codes("ipd"), self.study_codes("aggregate")
        n = self._aggregate["n"].to_numpy(dtype=np.int64)
        ipd_rows = np.bincount(ipd_codes, minlength=size)
        agg_rows = np.bincount(agg_codes, minlength=size)
        patients = ipd_rows + np.bincount(agg_codes, weights=n, minlength=size).astype(np.int64)
        events = (
            np.bincount(ipd_codes, weights=self._ipd["outcome"].to_numpy(), minlength=size)
            + np.bincount(agg_codes, weights=self._aggregate["events"].to_numpy(), minlength=size)
        ).astype(np.int64)
        codes = np.concatenate([ipd_codes, agg_codes])
        doses = np.concatenate([self._ipd["dose"].to_numpy(), self._aggregate["dose"].to_numpy()])
        weights = np.concatenate([np.ones(len(ipd_codes), dtype=np.int64), n])
        dose_min, dose_median, dose_max = (np.empty(size) for _ in range(3))
        order = np.lexsort((doses, codes))
        bounds = np.searchsorted(codes[order], np.arange(size + 1))
        for code in range(size):
            rows = order[bounds[code] : bounds[code + 1]]
            sorted_doses, cumulative = doses[rows], np.cumsum(weights[rows])
            total = cumulative[-1]
            middle = np.searchsorted(cumulative, [(total - 1) // 2 + 1, total // 2 + 1])
            dose_min[code], dose_max[code] = sorted_doses[0], sorted_doses[-1]
            dose_median[code] = sorted_doses[middle].mean()
        kind = np.where(ipd_rows > 0, np.where(agg_rows > 0, "mixed", "ipd"), "aggregate")
        return pd.DataFrame(
            {
                "kind": kind.astype(object),
                "ipd_rows": ipd_rows,
                "aggregate_rows": agg_rows,
                "patients": patients,
                "events": events,
                "rate": events / patients,
                "dose_min": dose_min,
                "dose_median": dose_median,
                "dose_max": dose_max,
            },
            index=pd.Index(list(self._studies), name="study"),
        )

    def __len__(self) -> int:
        """Number of rows (patient rows + aggregate rows)."""
        return self.n_ipd + self.n_aggregate_rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DoseResponseData):
            return NotImplemented
        return (
            self._studies == other._studies
            and self._meta == other._meta
            and self._ipd.equals(other._ipd)
            and self._aggregate.equals(other._aggregate)
            and list(self._ipd.columns) == list(other._ipd.columns)
            and list(self._aggregate.columns) == list(other._aggregate.columns)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kinds = []
        if self.has_ipd:
            kinds.append(f"{self.n_ipd} IPD rows")
        if self.has_aggregate:
            kinds.append(f"{self.n_aggregate_rows} aggregate rows ({self.dose_summary} dose)")
        lines = [
            f"DoseResponseData: {self.dose_label}, outcome {self.outcome_name!r}",
            f"  {len(self._studies)} stud{'y' if len(self._studies) == 1 else 'ies'}, "
            f"{_count(self.n_patients, 'patient')}, {_count(self.n_events, 'event')}; "
            f"{', '.join(kinds)}",
        ]
        table = self.summary()
        for study, row in table.head(_REPR_STUDIES).iterrows():
            lines.append(
                f"  - {study}: {row['kind']}, {_count(row['patients'], 'patient')}, "
                f"{_count(row['events'], 'event')}, dose {row['dose_min']:.3g}–"
                f"{row['dose_max']:.3g} {self.dose_unit}"
            )
        if len(table) > _REPR_STUDIES:
            lines.append(f"  ... and {len(table) - _REPR_STUDIES} more studies")
        if self.covariates:
            lines.append(f"  covariates: {', '.join(self.covariates)}")
        if self.study_covariates:
            lines.append(f"  study covariates: {', '.join(self.study_covariates)}")
        if len(self._dropped):
            lines.append(f"  {len(self._dropped)} row(s) dropped on request (see .dropped)")
        return "\n".join(lines)


ArrayLikeOrCallable = Any | Callable[[np.ndarray], np.ndarray]


def _concat_problems(
    datasets: list[DoseResponseData], allow_shared_studies: bool, check_outcome: bool
) -> list[str]:
    """Everything that stops ``datasets`` from being combined, one message per problem."""
    problems = []

    def disagreement(attribute: str, items: list[tuple[int, DoseResponseData]], fix: str) -> None:
        values = {getattr(d, attribute) for _, d in items}
        if len(values) > 1:
            listed = ", ".join(f"#{i}: {getattr(d, attribute)!r}" for i, d in items)
            problems.append(f"mixed {attribute} across the datasets ({listed}); {fix}.")

    indexed = list(enumerate(datasets))
    disagreement("dose_metric", indexed,
                 "convert them to one metric first (DoseResponseData.with_dose)")
    disagreement("dose_unit", indexed, "convert them to one unit first (with_dose)")
    if check_outcome:
        disagreement("outcome_name", indexed,
                     "pool one endpoint at a time; if they are the same endpoint, name it with "
                     "concat(..., outcome_name=...)")
    disagreement("dose_summary", [(i, d) for i, d in indexed if d.has_aggregate],
                 "aggregate bins must all report the same dose summary")
    disagreement("time_unit", [(i, d) for i, d in indexed if d.has_time_to_event],
                 "express follow-up times in one unit")
    disagreement("study_covariates", indexed, "use the same study covariates in every dataset")
    union = list(dict.fromkeys(c for d in datasets for c in d.covariates))
    for i, d in indexed:
        missing = [c for c in union if c not in d.covariates]
        if d.has_ipd and missing:
            problems.append(
                f"dataset #{i} has patient rows but lacks covariate(s) {missing}; patient rows "
                "need every covariate — add them or drop them from the other datasets."
            )
    if not allow_shared_studies:
        seen: dict[str, int] = {}
        for i, d in indexed:
            for study in d.studies:
                if study in seen:
                    problems.append(
                        f"study {study!r} appears in dataset #{seen[study]} and #{i}; rename one "
                        "(rename_studies) or pass allow_shared_studies=True to merge them."
                    )
                else:
                    seen[study] = i
    return problems


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _apply(function: Callable[[np.ndarray], Any], doses: np.ndarray, name: str) -> np.ndarray:
    try:
        out = np.asarray(function(doses), dtype=float)
    except (TypeError, ValueError) as exc:
        raise DoseResponseError(
            f"{name} failed on the old doses ({exc}); pass a vectorised function of a float "
            "array returning numbers."
        ) from None
    if out.shape != doses.shape:
        raise DoseResponseError(
            f"{name} must return one value per dose (shape {doses.shape}); got {out.shape}."
        )
    return out


def _derivative(function: Callable[[np.ndarray], Any], doses: np.ndarray) -> np.ndarray:
    step = 1e-6 * np.maximum(np.abs(doses), 1.0)
    lower = np.maximum(doses - step, 0.0)
    upper = doses + step
    return (_apply(function, upper, "new_dose_values") - _apply(function, lower, "new_dose_values")
            ) / (upper - lower)


def _new_se(
    dose_se: Any, frame: pd.DataFrame, new_frame: pd.DataFrame, order: np.ndarray, size: int
) -> np.ndarray:
    if dose_se is None:
        return np.full(size, np.nan)
    if isinstance(dose_se, str):
        if dose_se != "keep_relative":
            raise DoseResponseError(
                f"dose_se={dose_se!r} is not valid; use 'keep_relative', an array of standard "
                "errors or None."
            )
        old = frame["dose"].to_numpy(dtype=float)
        se = frame["dose_se"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(old > 0, se / old, np.where(se == 0, 0.0, np.nan))
        return relative * new_frame["dose"].to_numpy(dtype=float)
    values = np.asarray(dose_se, dtype=float)
    if values.shape != (size,):
        raise DoseResponseError(
            f"dose_se must hold {size} standard errors (ipd rows then aggregate rows); got shape "
            f"{values.shape}."
        )
    out = np.empty(size)
    out[order] = values
    return out
