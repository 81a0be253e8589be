"""Save and load fitted models as self-describing NetCDF files (no pickle, no code execution).

A saved fit is a NetCDF-4 file (HDF5, written and read with xarray's ``h5netcdf`` engine) with
the ``posterior`` and ``sample_stats`` groups and these root attributes:

=============================  ============================================================
``doseresponse_format``        ``"doseresponse.FittedModel"``
``doseresponse_format_version``  layout version (:data:`FORMAT_VERSION`)
``doseresponse_version``       package version that wrote the file
``spec_json``                  the :class:`~doseresponse.models.spec.ModelSpec` as canonical
                               JSON
``spec_sha256``                SHA-256 of ``spec_json``
``data_json``                  the fitted :class:`~doseresponse.data.DoseResponseData` as JSON
``data_sha256``                SHA-256 of ``data_json``
``created``                    UTC creation time (ISO 8601)
=============================  ============================================================

Loading checks the format, its version and both digests, so an edited spec or data table is
reported (:class:`~doseresponse.exceptions.ModelMismatchError`) instead of silently giving other
curves. Loading never re-samples: the posterior is read back as stored, so curves and tolerance
doses computed from a loaded fit are identical to those of the original.

The layout is the one ArviZ uses (one NetCDF group per ArviZ group, attributes on the root), but
no ArviZ container is involved in writing or reading: a file written with ArviZ 0.x (Python 3.11
stack) loads with ArviZ 1.x and vice versa, and files written by earlier versions of this module
(through ``InferenceData.to_netcdf``) keep loading. Groups are read eagerly into memory and the
file is closed before :func:`load` returns.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

import h5netcdf
import numpy as np
import xarray as xr

from doseresponse._version import __version__
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models.spec import ModelSpec

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]

FORMAT = "doseresponse.FittedModel"
FORMAT_VERSION = 1
_GROUPS = ("posterior", "sample_stats")
_ENGINE = "h5netcdf"


def save(fit, path: str | PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a fitted model to ``path`` (NetCDF).

    Parameters
    ----------
    fit : FittedModel
        The fit to save.
    path : str or path-like
        Destination file (conventionally ``.nc``).
    overwrite : bool
        Replace an existing file. Default False: an existing file is never overwritten.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    DoseResponseError
        ``fit`` is not a fitted model.

    Notes
    -----
    The file is written to a temporary file in the same directory and moved into place, so an
    interrupted save never leaves a half-written file under ``path``.
    """
    from doseresponse.results import FittedModel

    if not isinstance(fit, FittedModel):
        raise DoseResponseError(f"fit must be a FittedModel; got {type(fit).__name__}.")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it, or choose another path."
        )
    if not path.parent.exists():
        raise DoseResponseError(f"directory {path.parent} does not exist; create it first.")
    spec_json = fit.spec.to_json()
    data_json = json.dumps(fit.data.to_dict(), sort_keys=True, allow_nan=False)
    groups = {g: _clean(fit.groups[g]) for g in _GROUPS if g in fit.groups}
    attrs = {
        "doseresponse_format": FORMAT,
        "doseresponse_format_version": FORMAT_VERSION,
        "doseresponse_version": __version__,
        "spec_json": spec_json,
        "spec_sha256": _sha256(spec_json),
        "data_json": data_json,
        "data_sha256": _sha256(data_json),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    handle, tmp = tempfile.mkstemp(suffix=".nc.part", dir=path.parent)
    os.close(handle)
    try:
        xr.Dataset(attrs=attrs).to_netcdf(tmp, mode="w", engine=_ENGINE)
        for name, dataset in groups.items():
            dataset.to_netcdf(
                tmp, mode="a", group=name, engine=_ENGINE, encoding=_compression(dataset)
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | PathLike[str]):
    """Read a fitted model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` / :meth:`FittedModel.save`.

    Returns
    -------
    FittedModel
        With the stored posterior, spec and data, read into memory (the file is closed again);
        nothing is re-sampled or recompiled. Files written on either supported stack (ArviZ 0.x
        or 1.x) load on both.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelMismatchError
        Not a readable NetCDF/HDF5 file, not a doseresponse fit, an unsupported format version,
        a spec/data digest that does not match its content (the file was edited), or a missing
        or unreadable posterior group (the file is damaged).
    """
    from doseresponse.results import FittedModel

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved fit at {path}.")
    try:
        attrs, present = _root_attrs_and_groups(path)
    except Exception as exc:  # h5py/h5netcdf raise many types for a bad file
        raise ModelMismatchError(
            f"{path} is not a readable NetCDF fit file: {type(exc).__name__}: {exc}."
        ) from None
    if attrs.get("doseresponse_format") != FORMAT:
        raise ModelMismatchError(
            f"{path} is not a doseresponse fitted-model file (format "
            f"{attrs.get('doseresponse_format')!r}); it was not written by FittedModel.save."
        )
    version = _as_int(attrs.get("doseresponse_format_version"))
    if version != FORMAT_VERSION:
        raise ModelMismatchError(
            f"{path} uses file format version {version!r}; doseresponse {__version__} reads "
            f"version {FORMAT_VERSION}. Load it with the version that wrote it "
            f"({attrs.get('doseresponse_version')!r}) or refit."
        )
    for name in ("spec", "data"):
        text, digest = str(attrs.get(f"{name}_json", "")), attrs.get(f"{name}_sha256")
        if _sha256(text) != digest:
            raise ModelMismatchError(
                f"{path}: the stored {name} does not match its SHA-256 digest; the file was "
                "modified after saving. Refit the model or restore the original file."
            )
    try:
        spec = ModelSpec.from_json(attrs["spec_json"])
    except (DoseResponseError, KeyError, TypeError, ValueError) as exc:
        raise ModelMismatchError(f"{path}: the stored spec cannot be read back: {exc}") from None
    try:
        data = DoseResponseData.from_dict(json.loads(attrs["data_json"]))
    except (DoseResponseError, KeyError, TypeError, ValueError) as exc:
        raise ModelMismatchError(f"{path}: the stored data cannot be read back: {exc}") from None
    if "posterior" not in present:
        raise ModelMismatchError(f"{path} has no posterior group; the file is damaged.")
    groups = {}
    for name in _GROUPS:
        if name not in present:
            continue
        try:
            groups[name] = _read_group(path, name)
        except Exception as exc:  # any read/decode failure: damaged
            raise ModelMismatchError(
                f"{path}: group {name!r} cannot be read ({type(exc).__name__}: {exc}); the "
                "file is damaged. Refit the model or restore the original file."
            ) from None
    try:
        return FittedModel(groups, spec, data)
    except DoseResponseError as exc:
        raise ModelMismatchError(f"{path}: {exc}") from None


def _root_attrs_and_groups(path: Path) -> tuple[dict[str, Any], set[str]]:
    """Root attributes (decoded to str / numbers) and the names of the top-level groups."""
    with h5netcdf.File(path, "r") as handle:
        attrs = {key: _plain(handle.attrs[key]) for key in handle.attrs}
        return attrs, set(handle.groups)


def _read_group(path: Path, name: str) -> xr.Dataset:
    """One group, loaded into memory, the file closed again."""
    with xr.open_dataset(path, group=name, engine=_ENGINE) as dataset:
        return dataset.load()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _plain(value.item())
    return value


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_int(value: Any) -> int | None:
    try:
        return int(np.asarray(value).item())
    except (TypeError, ValueError):
        return None


def _compression(dataset) -> dict[str, dict[str, Any]]:
    """Compress every numeric variable with zlib (as ``InferenceData.to_netcdf`` did)."""
    return {
        name: {"zlib": True, "complevel": 4}
        for name, values in dataset.variables.items()
        if values.dtype.kind in "biufc"
    }


def _clean(dataset):
    """Copy of a group keeping only attributes NetCDF can store (str, numbers), on every level."""
    out = dataset.copy()
    out.attrs = _storable(dataset.attrs)
    for name in out.variables:
        out[name].attrs = _storable(dataset[name].attrs)
    return out


def _storable(attrs) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if isinstance(v, (str, int, float, np.number))}
