"""Tidy time-activity samples from any table: column names, units, per-cycle masses, SDs.

:func:`read_time_activity_samples` maps a user's table (a CSV path or a pandas DataFrame) to the
columns the dosimetry functions use — ``patient``, ``cycle``, ``region``, ``time_h``,
``activity_mbq``, ``activity_sd_mbq``, ``injected_activity_mbq``, ``mass_kg`` — converting units
(time h/min/d; activity MBq/kBq/GBq/%IA; mass kg/g). It is the one reader behind
:func:`~.pipeline.multicycle_dosimetry`, :func:`~.population_kinetics.fit_time_activity_population`
and the ``doseresponse dosimetry`` command.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from doseresponse._validation import lookup_name
from doseresponse.exceptions import DataValidationError

__all__ = [
    "ACTIVITY_UNITS",
    "MASS_UNITS",
    "TIME_UNITS",
    "masses_by_region_and_cycle",
    "read_time_activity_samples",
]

TIME_UNITS = {"h": 1.0, "min": 1.0 / 60.0, "d": 24.0}
"""Factor to hours of each time unit."""
ACTIVITY_UNITS = {"MBq": 1.0, "kBq": 1e-3, "GBq": 1e3, "%IA": None}
"""Factor to MBq of each activity unit (``%IA``: percent of the injected activity)."""
MASS_UNITS = {"kg": 1.0, "g": 1e-3}
"""Factor to kg of each mass unit."""


def read_time_activity_samples(
    table: pd.DataFrame | str | os.PathLike,
    *,
    time: str = "time_h",
    activity: str = "activity_mbq",
    cycle: str | None = "cycle",
    region: str | None = "region",
    patient: str | None = None,
    activity_sd: str | None = None,
    injected_activity: str | None = None,
    mass: str | None = None,
    time_unit: str = "h",
    activity_unit: str = "MBq",
    injected_activity_unit: str = "MBq",
    mass_unit: str = "kg",
    default_region: str = "region",
) -> pd.DataFrame:
    """Read time-activity samples and return them with the package's column names and units.

    Parameters
    ----------
    table : pandas.DataFrame or path-like
        The samples (a CSV file is read with :func:`pandas.read_csv`), one row per scan.
    time, activity : str
        Columns of the scan time after administration and of the activity in the region.
    cycle, region, patient : str or None
        Columns of the cycle number (``None``: every row is cycle 1), region name (``None``:
        every row is ``default_region``) and patient label (``None``: no patient column).
    activity_sd : str, optional
        Column of the activity measurement SD (same unit as ``activity``).
    injected_activity : str, optional
        Column of the administered activity of the row's cycle (``injected_activity_unit``).
        Needed when ``activity_unit="%IA"``.
    mass : str, optional
        Column of the region mass at that cycle (``mass_unit``): per-cycle masses.
    time_unit : {"h", "min", "d"}
    activity_unit : {"MBq", "kBq", "GBq", "%IA"}
        Unit of ``activity`` and ``activity_sd``; ``%IA`` is percent of the injected activity.
    injected_activity_unit : {"MBq", "kBq", "GBq"}
    mass_unit : {"kg", "g"}
    default_region : str
        Region name when ``region`` is ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``cycle`` (int), ``region`` (str), ``time_h`` (h), ``activity_mbq`` (MBq), then
        whichever were mapped: ``patient`` (str), ``activity_sd_mbq`` (MBq),
        ``injected_activity_mbq`` (MBq), ``mass_kg`` (kg). The input is not modified.

    Raises
    ------
    DataValidationError
        A named column is missing (the message lists the table's columns and the argument to
        change), a value is not a number in range (the message gives the CSV line), %IA
        without injected activities, or a unit is unknown.

    Notes
    -----
    Conversions: t[h] = t × (1, 1/60, 24) for (h, min, d); A[MBq] = A × (1, 10⁻³, 10³) for
    (MBq, kBq, GBq), and A[MBq] = A[%IA]/100 × A_inj[MBq]. Times must be >= 0, activities
    >= 0, SDs, injected activities and masses > 0, cycles whole numbers >= 1.
    """
    frame = _as_frame(table)
    t_factor = lookup_name(time_unit, TIME_UNITS, "time_unit")
    a_factor = lookup_name(activity_unit, ACTIVITY_UNITS, "activity_unit")
    inj_units = {k: v for k, v in ACTIVITY_UNITS.items() if v is not None}
    inj_factor = lookup_name(injected_activity_unit, inj_units, "injected_activity_unit")
    m_factor = lookup_name(mass_unit, MASS_UNITS, "mass_unit")
    named = {"time": time, "activity": activity, "cycle": cycle, "region": region,
             "patient": patient, "activity_sd": activity_sd,
             "injected_activity": injected_activity, "mass": mass}
    for argument, column in named.items():
        if column is not None and column not in frame.columns:
            raise DataValidationError(
                f"the samples have no column {column!r} for {argument} (columns: "
                f"{', '.join(map(str, frame.columns))}); name it with {argument}='COLUMN'."
            )
    if a_factor is None and injected_activity is None:
        raise DataValidationError(
            "activity_unit='%IA' needs the administered activity: name its column with "
            "injected_activity='COLUMN' (MBq unless injected_activity_unit says otherwise)."
        )
    out = pd.DataFrame(index=frame.index)
    if patient is not None:
        out["patient"] = frame[patient].astype(str)
    out["cycle"] = _cycles(frame, cycle)
    out["region"] = frame[region].astype(str) if region is not None else str(default_region)
    out["time_h"] = _numbers(frame, time, minimum="nonnegative") * t_factor
    injected = None
    if injected_activity is not None:
        injected = _numbers(frame, injected_activity, minimum="positive") * inj_factor
    scale = injected / 100.0 if a_factor is None else a_factor
    out["activity_mbq"] = _numbers(frame, activity, minimum="nonnegative") * scale
    if activity_sd is not None:
        out["activity_sd_mbq"] = _numbers(frame, activity_sd, minimum="positive") * scale
    if injected is not None:
        out["injected_activity_mbq"] = injected
    if mass is not None:
        out["mass_kg"] = _numbers(frame, mass, minimum="positive") * m_factor
    return out.reset_index(drop=True)


def masses_by_region_and_cycle(samples: pd.DataFrame) -> dict[str, dict[int, float]]:
    """Per-cycle region masses from the ``mass_kg`` column, as ``masses_kg`` of the pipeline.

    Parameters
    ----------
    samples : pandas.DataFrame
        Output of :func:`read_time_activity_samples` with ``mass`` mapped.

    Returns
    -------
    dict of str to dict of int to float
        ``{region: {cycle: mass in kg}}``.

    Raises
    ------
    DataValidationError
        No ``mass_kg`` column, or two different masses for one region and cycle.
    """
    if "mass_kg" not in samples.columns:
        raise DataValidationError(
            "samples have no mass_kg column; map one with read_time_activity_samples(mass=...)."
        )
    out: dict[str, dict[int, float]] = {}
    for (reg, cyc), values in samples.groupby(["region", "cycle"], sort=True)["mass_kg"]:
        if values.nunique() > 1:
            raise DataValidationError(
                f"region {reg!r}, cycle {cyc}: several masses ({sorted(values.unique())}); "
                "give one mass per region and cycle."
            )
        out.setdefault(str(reg), {})[int(cyc)] = float(values.iloc[0])
    return out


def _as_frame(table: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, (str, os.PathLike)):
        if not os.path.isfile(table):
            raise DataValidationError(f"no samples file {os.fspath(table)!r}; give a CSV path.")
        return pd.read_csv(table)
    raise DataValidationError(
        f"samples must be a pandas DataFrame or a CSV path; got {type(table).__name__}."
    )


def _numbers(frame: pd.DataFrame, column: str, *, minimum: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    ok = values.notna() & np.isfinite(values)
    ok &= values > 0 if minimum == "positive" else values >= 0
    if not ok.all():
        bad = frame.index[~ok.to_numpy()]
        line = _line(frame, bad[0])
        need = "> 0" if minimum == "positive" else ">= 0"
        raise DataValidationError(
            f"column {column!r} needs numbers {need}; {line} has {frame.loc[bad[0], column]!r}"
            f" ({len(bad)} bad row(s)); fix the table."
        )
    return values.astype(float)


def _cycles(frame: pd.DataFrame, column: str | None) -> pd.Series | int:
    if column is None:
        return 1
    values = pd.to_numeric(frame[column], errors="coerce")
    ok = values.notna() & (values == values.round()) & (values >= 1)
    if not ok.all():
        bad = frame.index[~ok.to_numpy()][0]
        raise DataValidationError(
            f"column {column!r} needs whole cycle numbers 1, 2, ...; {_line(frame, bad)} has "
            f"{frame.loc[bad, column]!r}; fix the table."
        )
    return values.astype(np.int64)


def _line(frame: pd.DataFrame, label) -> str:
    """'CSV line N' for a default RangeIndex (header is line 1), else 'row <label>'."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0:
        return f"CSV line {int(label) + 2}"
    return f"row {label!r}"

