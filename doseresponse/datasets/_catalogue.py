"""Catalogue of the shipped datasets and the functions that load them.

The catalogue (``data/catalogue.json``) is written by ``datasets/build_catalogue.py`` from the
``METADATA`` of every ``datasets/<name>/build.py``; it records, for each dataset, its kind,
level, outcome, dose metric and unit, per-column descriptions and units, the column mapping for
:meth:`doseresponse.data.DoseResponseData.from_frame`, the full citations, licence, the published
result it lets an analysis reproduce, and the SHA-256 of the tidy CSV.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from doseresponse._validation import lookup_name
from doseresponse.datasets._build import DATA_DIR, sha256_file
from doseresponse.exceptions import DataValidationError, DoseResponseError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from doseresponse.data import DoseResponseData

__all__ = ["dataset_info", "list_datasets", "load_dataset"]

CATALOGUE_FILE = "catalogue.json"

#: Columns of :func:`list_datasets`, in order.
LIST_COLUMNS = (
    "name",
    "description",
    "outcome",
    "dose_metric",
    "dose_unit",
    "kind",
    "level",
    "n_rows",
    "source",
    "licence",
)
KINDS = ("published", "classic", "simulated")
LEVELS = ("aggregate", "ipd", "mixed", "reference-table", "time-activity")
#: Levels that :func:`load_dataset` returns only as a table (``as_frame=True``): study-level
#: results, and time-activity samples whose doses must be computed first.
TABLE_ONLY_LEVELS = ("reference-table", "time-activity")


def list_datasets() -> pd.DataFrame:
    """Tabulate the datasets shipped with doseresponse.

    Returns
    -------
    pandas.DataFrame
        One row per dataset with columns ``name``, ``description``, ``outcome``,
        ``dose_metric``, ``dose_unit``, ``kind`` (``"published"``, ``"classic"`` or
        ``"simulated"``), ``level`` (``"aggregate"``, ``"ipd"``, ``"mixed"``,
        ``"reference-table"`` or ``"time-activity"``), ``n_rows``, ``source`` (short citation)
        and ``licence``.

    Notes
    -----
    Full citations, column units, the published result each dataset reproduces and, for simulated
    cohorts, the generating parameters and seed are in :func:`dataset_info` and on the pages of
    ``docs/datasets``. Published study-level tables that are not events/n per dose group are
    ``"reference-table"`` datasets: load them with ``load_dataset(name, as_frame=True)``.
    ``"time-activity"`` datasets hold imaging samples (region, cycle, time, activity) from which
    each patient's dose is computed first
    (:func:`doseresponse.radiobiology.multicycle_dosimetry`); they also load as a table only.

    Examples
    --------
    >>> from doseresponse.datasets import list_datasets
    >>> "bmds_ddataset2" in set(list_datasets()["name"])
    True
    """
    entries = _catalogue()["datasets"]
    rows = [{col: entry[col] for col in LIST_COLUMNS} for entry in entries.values()]
    frame = pd.DataFrame(rows, columns=list(LIST_COLUMNS))
    frame["n_rows"] = frame["n_rows"].astype("int64")
    return frame


def dataset_info(name: str) -> dict[str, Any]:
    """Return the full catalogue entry of a shipped dataset.

    Parameters
    ----------
    name : str
        Dataset name (see :func:`list_datasets`; case-insensitive, ``-`` and ``_`` alike).

    Returns
    -------
    dict
        A copy of the entry: ``title``, ``description``, ``kind``, ``level``, ``outcome``,
        ``outcome_definition``, ``dose_metric``, ``dose_unit``, ``columns`` (description and unit
        per column), ``mapping`` (``None`` for reference tables), ``citations``, ``licence``,
        ``published_result``, ``extraction_notes``, ``raw_files``, ``sha256``, ``n_rows`` and, for
        simulated cohorts, ``simulation`` (generator, parameters, seed, derivation).

    Raises
    ------
    UnknownNameError
        If no dataset has that name; the message lists the valid names.
    """
    entry = lookup_name(name, _catalogue()["datasets"], "dataset")
    return json.loads(json.dumps(entry))


def load_dataset(name: str, *, as_frame: bool = False) -> DoseResponseData | pd.DataFrame:
    """Load a shipped dataset, checking its SHA-256 against the catalogue.

    Parameters
    ----------
    name : str
        Dataset name (see :func:`list_datasets`).
    as_frame : bool
        ``False`` (default): return a :class:`~doseresponse.data.DoseResponseData` built with the
        catalogue's column mapping, dose metric and unit. ``True``: return the tidy
        :class:`pandas.DataFrame` exactly as shipped (columns documented in
        :func:`dataset_info`).

    Returns
    -------
    DoseResponseData or pandas.DataFrame

    Raises
    ------
    UnknownNameError
        If no dataset has that name; the message lists the valid names.
    DataValidationError
        If the shipped CSV does not match the SHA-256 recorded in the catalogue (a modified or
        corrupted installation).
    DoseResponseError
        If ``as_frame=False`` is asked of a ``"reference-table"`` dataset (study-level thresholds,
        fitted parameters, odds ratios...), which cannot be expressed as events/n per dose group
        or patient outcomes, or of a ``"time-activity"`` dataset (imaging samples: compute the
        doses first); the message says why and to use ``as_frame=True``.

    Notes
    -----
    Sources, licences and extraction notes of each dataset: ``docs/datasets`` and the README next
    to each dataset's raw file and build script in the repository's ``datasets/`` folder.

    Examples
    --------
    >>> from doseresponse.datasets import load_dataset
    >>> data = load_dataset("bmds_ddataset2")
    >>> data.n_patients, data.n_events
    (500, 190)
    """
    entry = lookup_name(name, _catalogue()["datasets"], "dataset")
    frame = _read_verified(entry)
    if as_frame:
        return frame
    if entry["mapping"] is None:
        raise DoseResponseError(
            f"dataset {entry['name']!r} is a {entry['level']} dataset and cannot be loaded as "
            f"DoseResponseData: {entry['not_loadable_reason']}. Use "
            f"load_dataset({entry['name']!r}, as_frame=True) to get the table."
        )
    from doseresponse.data import DoseResponseData

    return DoseResponseData.from_frame(frame, **mapping_kwargs(entry))


def mapping_kwargs(entry: dict[str, Any]) -> dict[str, Any]:
    """Return the ``DoseResponseData.from_frame`` keyword arguments of a catalogue entry."""
    kwargs = dict(entry["mapping"])
    kwargs.setdefault("dose_metric", entry["dose_metric"])
    kwargs.setdefault("dose_unit", entry["dose_unit"])
    kwargs.setdefault("outcome_name", entry["outcome"])
    for key in ("covariates", "study_covariates"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return kwargs


def _read_verified(entry: dict[str, Any], data_dir: Path | None = None) -> pd.DataFrame:
    path = (data_dir or DATA_DIR) / entry["file"]
    if not path.is_file():
        raise DataValidationError(
            f"the file of dataset {entry['name']!r} is missing ({path}); reinstall doseresponse "
            f"or rebuild it with datasets/{entry['name']}/build.py."
        )
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise DataValidationError(
            f"dataset {entry['name']!r}: {path} does not match the SHA-256 recorded in the "
            f"catalogue (expected {entry['sha256']}, got {digest}); the file was modified or "
            f"corrupted. Reinstall doseresponse or rebuild it with "
            f"datasets/{entry['name']}/build.py and datasets/build_catalogue.py."
        )
    dtypes = {}
    for col, spec in entry["columns"].items():
        if spec.get("dtype") == "integer":
            dtypes[col] = "Int64"
        elif spec.get("dtype") == "string":
            dtypes[col] = "str"
    return pd.read_csv(path, dtype=dtypes or None)


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    path = DATA_DIR / CATALOGUE_FILE
    if not path.is_file():
        raise DataValidationError(
            f"the dataset catalogue {path} is missing; reinstall doseresponse or run "
            "datasets/build_catalogue.py."
        )
    return json.loads(path.read_text(encoding="utf-8"))
