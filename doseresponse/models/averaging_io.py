"""Save and load model averages: a directory of fit files plus a JSON manifest (no pickle).

A saved :class:`~doseresponse.models.averaging.ModelAverage` is a directory::

    average/
      manifest.json      what the average is, with digests
      model_1.nc         each fit, written by doseresponse.models.io.save (NetCDF + spec +
      model_2.nc         data + content digest; loads on its own with doseresponse.load)
      ...

``manifest.json`` holds ``format`` (``"doseresponse.ModelAverage"``), ``format_version``
(:data:`AVERAGE_FORMAT_VERSION`), ``doseresponse_version``, ``created`` (UTC, ISO 8601),
``method``, ``ic``, ``n_draws``, ``random_seed`` (of the resampled mixture), ``models`` (in
order: ``name``, ``file``, ``weight``, ``sha256`` of the file), ``comparison`` (the
:func:`~doseresponse.models.checks.compare` table the weights came from, in pandas "split"
orientation, or null) and ``manifest_sha256``: SHA-256 of the canonical JSON of every other key
(sorted keys, no whitespace). Loading reads JSON and NetCDF only — nothing is executed — and
checks the manifest digest, each file's SHA-256, and each fit file's own digests
(:func:`doseresponse.models.io.load`); any mismatch is a
:class:`~doseresponse.exceptions.ModelMismatchError`. The weights are read back as stored, so
curves and doses of a loaded average equal the original's.

Saving never overwrites an existing path unless ``overwrite=True``; the directory is written
under a temporary name beside ``path`` and renamed into place in one step, so an interrupted
save leaves no directory that looks complete.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models import io

__all__ = ["AVERAGE_FORMAT", "AVERAGE_FORMAT_VERSION", "MANIFEST", "load_average", "save_average"]

AVERAGE_FORMAT = "doseresponse.ModelAverage"
AVERAGE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_DIGEST_KEY = "manifest_sha256"


def save_average(average, path: str | PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a model average to the directory ``path``.

    Parameters
    ----------
    average : ModelAverage
        The average (its fits, weights, method and comparison table are stored).
    path : str or path-like
        Destination directory; its parent must exist.
    overwrite : bool
        Replace an existing saved average at ``path`` (a directory holding ``manifest.json``).

    Returns
    -------
    pathlib.Path
        The directory written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    DoseResponseError
        ``average`` is not a ModelAverage, the parent directory does not exist, or
        ``overwrite`` would replace something that is not a saved average.
    """
    from doseresponse.models.averaging import ModelAverage

    if not isinstance(average, ModelAverage):
        raise DoseResponseError(f"average must be a ModelAverage; got {type(average).__name__}.")
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(
                f"{path} exists; choose another name or pass overwrite=True to replace it."
            )
        if not (path.is_dir() and (path / MANIFEST).is_file()):
            raise DoseResponseError(
                f"{path} exists and is not a saved model average; refusing to replace it."
            )
    if not path.parent.exists():
        raise DoseResponseError(f"directory {path.parent} does not exist; create it first.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    old = None
    try:
        models = []
        for number, (name, fit) in enumerate(average.fits.items(), start=1):
            file = f"model_{number}.nc"
            io.save(fit, tmp / file)
            models.append({"name": name, "file": file, "weight": average.weights[name],
                           "sha256": _file_sha256(tmp / file)})
        manifest: dict[str, Any] = {
            "format": AVERAGE_FORMAT,
            "format_version": AVERAGE_FORMAT_VERSION,
            "doseresponse_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "method": average.method,
            "ic": average.ic,
            "n_draws": average.n_draws,
            "random_seed": average.random_seed,
            "models": models,
            "comparison": _table_to_json(average.comparison),
        }
        manifest[_DIGEST_KEY] = _manifest_digest(manifest)
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False), encoding="utf-8"
        )
        os.chmod(tmp, 0o777 & ~io._umask())
        if path.exists():  # overwrite: move the old average aside, then the new one in
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old",
                                        dir=path.parent))
            os.rmdir(old)
            os.rename(path, old)
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if old is not None and old.exists():
            if path.exists():
                shutil.rmtree(old)
            else:  # pragma: no cover - the new one failed to move in: restore the old one
                os.rename(old, path)
    return path


def load_average(path: str | PathLike[str]):
    """Read a model average written by :func:`save_average`.

    Parameters
    ----------
    path : str or path-like
        The directory.

    Returns
    -------
    ModelAverage
        With the stored fits, weights, method, comparison table and resampling settings.

    Raises
    ------
    FileNotFoundError
        No saved average at ``path``.
    ModelMismatchError
        Not a model average, an unsupported version, a digest that does not match (the
        manifest or a fit file was edited or damaged), or a fit file that does not load.
    """
    from doseresponse.models.averaging import ModelAverage

    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no saved model average at {path} (no {MANIFEST}).")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelMismatchError(f"{manifest_path} cannot be read as JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != AVERAGE_FORMAT:
        raise ModelMismatchError(f"{path} is not a doseresponse model average.")
    if manifest.get("format_version") != AVERAGE_FORMAT_VERSION:
        raise ModelMismatchError(
            f"{path} uses model-average format version {manifest.get('format_version')!r}; "
            f"doseresponse {__version__} reads version {AVERAGE_FORMAT_VERSION}."
        )
    if manifest.get(_DIGEST_KEY) != _manifest_digest(manifest):
        raise ModelMismatchError(
            f"{manifest_path} does not match its SHA-256 digest; it was edited after saving. "
            "Restore the original or save the average again."
        )
    fits, weights = {}, {}
    for entry in manifest["models"]:
        file = path / str(entry["file"])
        if Path(entry["file"]).name != entry["file"] or not file.is_file():
            raise ModelMismatchError(f"{path}: fit file {entry['file']!r} is missing.")
        if _file_sha256(file) != entry["sha256"]:
            raise ModelMismatchError(
                f"{file} does not match the SHA-256 recorded in the manifest; the file was "
                "replaced or damaged."
            )
        fits[str(entry["name"])] = io.load(file)
        weights[str(entry["name"])] = float(entry["weight"])
    return ModelAverage(
        fits, weights, method=str(manifest["method"]), ic=str(manifest["ic"]),
        comparison=_table_from_json(manifest.get("comparison")),
        n_draws=int(manifest["n_draws"]), random_seed=int(manifest["random_seed"]),
    )


# ---------------------------------------------------------------------------- helpers


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != _DIGEST_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _table_to_json(table: pd.DataFrame | None) -> dict[str, Any] | None:
    if table is None:
        return None
    split = table.to_dict(orient="split")
    return {
        "index": [str(i) for i in split["index"]],
        "columns": [str(c) for c in split["columns"]],
        "data": [[_plain(v) for v in row] for row in split["data"]],
        "attrs": {str(k): _plain(v) for k, v in table.attrs.items()},
    }


def _table_from_json(payload: dict[str, Any] | None) -> pd.DataFrame | None:
    if payload is None:
        return None
    table = pd.DataFrame(payload["data"], index=pd.Index(payload["index"], name="model"),
                         columns=payload["columns"])
    for column in table.columns:
        if table[column].dtype == object and table[column].map(lambda v: v is None).any():
            table[column] = table[column].astype(float)
    table.attrs.update(payload.get("attrs", {}))
    return table


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

