"""Helpers shared by the build scripts in the top-level ``datasets/`` folder.

Each ``datasets/<name>/build.py`` turns its raw source file into the tidy CSV shipped in
``doseresponse/datasets/data/<name>.csv``. Writing goes through :func:`write_tidy_csv`, so that
the bytes are deterministic (UTF-8, newline line endings, no index, shortest round-trip floats)
and a rebuild reproduces the shipped file exactly; the catalogue stores its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from doseresponse.exceptions import DataValidationError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from doseresponse.simulate import SimulatedCohort

__all__ = [
    "DATA_DIR",
    "SIMULATED_LICENCE",
    "documented_columns",
    "events_n_mapping",
    "json_mapping",
    "run_build",
    "sha256_file",
    "simulate_from_params",
    "simulate_time_activity_from_params",
    "simulation_entry",
    "write_tidy_csv",
]

#: Folder holding the tidy CSV files and ``catalogue.json`` (package data).
DATA_DIR = Path(__file__).resolve().parent / "data"

#: Licence statement of every simulated dataset.
SIMULATED_LICENCE = "Simulated data, BSD-3-Clause (the package licence)."


def sha256_file(path: str | Path) -> str:
    """Return the hexadecimal SHA-256 digest of a file's bytes.

    Parameters
    ----------
    path : str or pathlib.Path
        File to hash.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tidy_csv(frame: pd.DataFrame, path: str | Path) -> str:
    """Write a tidy frame as a deterministic CSV and return its SHA-256.

    Parameters
    ----------
    frame : pandas.DataFrame
        The tidy table; its index is not written.
    path : str or pathlib.Path
        Output file; parent folders are created.

    Returns
    -------
    str
        SHA-256 of the written bytes.

    Raises
    ------
    DataValidationError
        If the frame has duplicated or empty column names.
    """
    cols = [str(c) for c in frame.columns]
    if len(set(cols)) != len(cols) or any(not c for c in cols):
        raise DataValidationError(
            f"tidy frame for {path} has duplicated or empty column names: {cols}; rename them."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    path.write_bytes(text.encode("utf-8"))
    return sha256_file(path)


def run_build(
    name: str,
    build_frame: Callable[[], pd.DataFrame],
    argv: Sequence[str] | None = None,
) -> Path:
    """Command-line entry point of a ``datasets/<name>/build.py`` script.

    Parameters
    ----------
    name : str
        Dataset name; the default output is ``doseresponse/datasets/data/<name>.csv``.
    build_frame : callable
        Zero-argument function returning the tidy frame.
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``). ``--out PATH`` writes elsewhere.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    parser = argparse.ArgumentParser(description=f"Build the tidy '{name}' dataset.")
    parser.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR / f"{name}.csv",
        help="output CSV path (default: the shipped package-data file)",
    )
    args = parser.parse_args(argv)
    digest = write_tidy_csv(build_frame(), args.out)
    print(f"{name}: wrote {args.out} (sha256 {digest})")
    return args.out


def documented_columns(frame: pd.DataFrame, metadata: Mapping[str, Any]) -> pd.DataFrame:
    """Return the frame's columns documented in ``metadata["columns"]``, in that order.

    Parameters
    ----------
    frame : pandas.DataFrame
        The tidy table (may hold extra columns).
    metadata : mapping
        A build script's ``METADATA``; its ``"columns"`` keys name and order the columns.

    Returns
    -------
    pandas.DataFrame
        ``frame[list(metadata["columns"])]``.
    """
    return frame[list(metadata["columns"])]


def events_n_mapping(dose_summary: str = "mean") -> dict[str, str]:
    """Return the column mapping of a tidy events/n table (``study, dose, events, n``).

    Parameters
    ----------
    dose_summary : str, default "mean"
        What each row's dose is (see :meth:`doseresponse.data.DoseResponseData.from_frame`).

    Returns
    -------
    dict
        ``{"dose": "dose", "study": "study", "events": "events", "n": "n",
        "dose_summary": dose_summary}`` (a new dict; key order as in the catalogue).
    """
    return {"dose": "dose", "study": "study", "events": "events", "n": "n",
            "dose_summary": dose_summary}


def simulate_from_params(params: Mapping[str, Any]) -> SimulatedCohort:
    """Run :func:`doseresponse.simulate.simulate_cohort` with a build script's ``PARAMS``.

    Parameters
    ----------
    params : mapping
        Keyword arguments of ``simulate_cohort`` as stored in the catalogue (JSON-ready, so
        ``dose_distribution`` and each covariate's ``[prevalence, factor]`` are lists; they are
        passed on as tuples).

    Returns
    -------
    doseresponse.simulate.SimulatedCohort
        The simulated cohort.
    """
    from doseresponse.simulate import simulate_cohort

    kwargs = dict(params)
    if kwargs.get("covariates"):
        kwargs["covariates"] = {k: tuple(v) for k, v in kwargs["covariates"].items()}
    kwargs["dose_distribution"] = tuple(kwargs["dose_distribution"])
    return simulate_cohort(**kwargs)


_TIME_ACTIVITY_CACHE: dict[str, Any] = {}


def simulate_time_activity_from_params(params: Mapping[str, Any]) -> Any:
    """Run :func:`doseresponse.simulate.simulate_time_activity_cohort` with JSON-ready ``PARAMS``.

    The simulation fits every simulated time-activity curve, so it takes seconds; a cohort is
    deterministic given its parameters (seed included), so the result is kept per process and a
    second call with equal parameters (the catalogue build and the tests import each build script
    more than once) returns the same object. Do not modify its frames.

    Parameters
    ----------
    params : mapping
        Keyword arguments of ``simulate_time_activity_cohort`` (lists where the function takes
        tuples: ``(median, sd_log)`` pairs, covariates' ``[prevalence, factor]``).

    Returns
    -------
    doseresponse.simulate.SimulatedTimeActivityCohort
        The simulated cohort.
    """
    import json

    from doseresponse.simulate import simulate_time_activity_cohort

    key = json.dumps(params, sort_keys=True)
    if key not in _TIME_ACTIVITY_CACHE:
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()}
        if kwargs.get("covariates"):
            kwargs["covariates"] = {k: tuple(v) for k, v in kwargs["covariates"].items()}
        _TIME_ACTIVITY_CACHE[key] = simulate_time_activity_cohort(**kwargs)
    return _TIME_ACTIVITY_CACHE[key]


def json_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Return a column mapping with tuples turned into lists, as stored in the catalogue JSON.

    Parameters
    ----------
    mapping : mapping
        Keyword arguments of :meth:`doseresponse.data.DoseResponseData.from_frame`, e.g.
        :attr:`doseresponse.simulate.SimulatedCohort.mapping`.

    Returns
    -------
    dict
        The same keys and values, with every tuple value replaced by a list.
    """
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in mapping.items()}


def simulation_entry(
    *,
    seed: int,
    parameters: Mapping[str, Any],
    derivation: Sequence[str],
    truth: Mapping[str, Any],
    generator: str = "doseresponse.simulate.simulate_cohort",
) -> dict[str, Any]:
    """Return the ``METADATA["simulation"]`` entry of a simulated dataset.

    Parameters
    ----------
    seed : int
        The simulation's random seed.
    parameters : mapping
        The ``simulate_cohort`` keyword arguments (``PARAMS``).
    derivation : sequence of str
        Where each parameter comes from, one sentence per item.
    truth : mapping
        Known true quantities a fit should recover (TD5, D50, ...).
    generator : str, default "doseresponse.simulate.simulate_cohort"
        The function that drew the data.

    Returns
    -------
    dict
        ``generator``, ``seed``, ``parameters``, ``derivation`` and ``truth``, in that order.
    """
    return {
        "generator": generator,
        "seed": seed,
        "parameters": parameters,
        "derivation": derivation,
        "truth": truth,
    }
