"""Save and load late-toxicity fits: NetCDF + JSON spec + digests (no pickle, no code execution).

The file layout, digests and checks are those of :mod:`doseresponse.models.io` (same helpers:
atomic write, content SHA-256 over every group and attribute, optional HMAC signature), with
``doseresponse_format = "doseresponse.LateToxicityFit"`` and the
:class:`~doseresponse.models.late_spec.LateToxicitySpec` as ``spec_json``. Loading checks the
format, version, digests, signature and that the posterior has the variables and study labels
the spec and data imply; any failure is a
:class:`~doseresponse.exceptions.ModelMismatchError`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from os import PathLike
from pathlib import Path

import h5netcdf

from doseresponse._version import __version__
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models import io as _io
from doseresponse.models.late_spec import LateToxicitySpec

__all__ = ["LATE_FORMAT", "LATE_FORMAT_VERSION", "load_late_fit", "save_late_fit"]

LATE_FORMAT = "doseresponse.LateToxicityFit"
LATE_FORMAT_VERSION = 2
"""Layout version (the content digest of :mod:`doseresponse.models.io` format 2)."""
_GROUPS = ("posterior", "sample_stats")


def save_late_fit(fit, path: str | PathLike[str], *, overwrite: bool = False,
                  key: bytes | None = None) -> Path:
    """Write a late-toxicity fit to ``path`` (NetCDF).

    Parameters
    ----------
    fit : LateToxicityFit
        The fit (:class:`doseresponse.models.late_toxicity.LateToxicityFit`).
    path : str or path-like
        Destination (conventionally ``.nc``).
    overwrite : bool
        Replace an existing file (default False: never overwritten).
    key : bytes, optional
        Key of an HMAC-SHA256 signature of the content digest.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    FitError
        Non-finite draws.
    DoseResponseError
        Not a late-toxicity fit, missing directory, or a key that is not bytes.
    """
    from doseresponse.models.late_toxicity import LateToxicityFit

    if not isinstance(fit, LateToxicityFit):
        raise DoseResponseError(f"fit must be a LateToxicityFit; got {type(fit).__name__}.")
    key = _io._checked_key(key)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(_io._exists_message(path))
    if not path.parent.exists():
        raise DoseResponseError(f"directory {path.parent} does not exist; create it first.")
    groups = {g: _io._clean(fit.groups[g]) for g in _GROUPS if g in fit.groups}
    _io._refuse_non_finite(groups["posterior"])
    spec_json = fit.spec.to_json()
    data_json = json.dumps(fit.data.to_dict(), sort_keys=True, allow_nan=False)
    attrs = {
        "doseresponse_format": LATE_FORMAT,
        "doseresponse_format_version": LATE_FORMAT_VERSION,
        "doseresponse_version": __version__,
        "spec_json": spec_json,
        "spec_sha256": _io._sha256(spec_json),
        "data_json": data_json,
        "data_sha256": _io._sha256(data_json),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        import xarray as xr

        xr.Dataset(attrs=attrs).to_netcdf(tmp, mode="w", engine=_io._ENGINE)
        for name, dataset in groups.items():
            dataset.to_netcdf(tmp, mode="a", group=name, engine=_io._ENGINE,
                              encoding=_io._compression(dataset))
        written, present = _io._root_attrs_and_groups(Path(tmp))
        digest = _io.content_digest(written, {g: _io._read_group(Path(tmp), g) for g in present})
        with h5netcdf.File(tmp, "a") as out:
            out.attrs[_io._DIGEST_ATTR] = digest
            if key is not None:
                out.attrs[_io._SIGNATURE_ATTR] = _io._signature(key, digest)
        os.chmod(tmp, 0o666 & ~_io._umask())
        _io._move_into_place(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_late_fit(path: str | PathLike[str], *, key: bytes | None = None):
    """Read a late-toxicity fit written by :func:`save_late_fit`.

    Parameters
    ----------
    path : str or path-like
        The file.
    key : bytes, optional
        The signing key, if the file was signed.

    Returns
    -------
    LateToxicityFit

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelMismatchError
        Unreadable or damaged file, another format or version, a digest or signature that does
        not match, or a posterior inconsistent with the stored spec and data.
    """
    key = _io._checked_key(key)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved fit at {path}.")
    try:
        return _load(path, key)
    except ModelMismatchError:
        raise
    except Exception as exc:  # every read/parse failure of a damaged file
        raise ModelMismatchError(
            f"{path} cannot be read as a late-toxicity fit ({type(exc).__name__}: {exc}); "
            "restore the original file or refit."
        ) from None


def _load(path: Path, key: bytes | None):
    from doseresponse.models.late_density import LateToxicityDensity
    from doseresponse.models.late_toxicity import LateToxicityFit

    attrs, present = _io._root_attrs_and_groups(path)
    if attrs.get("doseresponse_format") != LATE_FORMAT:
        raise ModelMismatchError(
            f"{path} is not a late-toxicity fit file (format "
            f"{attrs.get('doseresponse_format')!r}); binary fits load with doseresponse.load."
        )
    version = _io._as_int(attrs.get("doseresponse_format_version"))
    if version != LATE_FORMAT_VERSION:
        raise ModelMismatchError(
            f"{path} uses late-toxicity file format version {version!r}; doseresponse "
            f"{__version__} reads version {LATE_FORMAT_VERSION}."
        )
    for name in ("spec", "data"):
        text, digest = attrs.get(f"{name}_json"), attrs.get(f"{name}_sha256")
        if not isinstance(text, str) or _io._sha256(text) != digest:
            raise ModelMismatchError(
                f"{path}: the stored {name} does not match its SHA-256 digest; the file was "
                "modified after saving. Refit or restore the original file."
            )
    if "posterior" not in present:
        raise ModelMismatchError(f"{path} has no posterior group; the file is damaged.")
    groups = {name: _io._read_group(path, name) for name in sorted(present) if name in _GROUPS}
    _io._verify_integrity(path, version, attrs, groups, key)
    spec = LateToxicitySpec.from_json(attrs["spec_json"])
    data = DoseResponseData.from_dict(json.loads(attrs["data_json"]))
    expected = LateToxicityDensity(spec, data)
    posterior = groups["posterior"]
    problems = [f"missing variable {n!r}" for n in expected.names if n not in posterior]
    for dim, labels in expected.coords.items():
        stored = [str(v) for v in posterior[dim].values] if dim in posterior.coords else None
        if stored != labels:
            problems.append(f"{dim} labels {stored} differ from the data's {labels}")
    if problems:
        raise ModelMismatchError(
            f"{path}: the posterior does not match the stored spec and data:\n"
            + "\n".join(f"  - {p}" for p in problems) + "\nRefit or restore the original file."
        )
    return LateToxicityFit(groups, spec, data)
