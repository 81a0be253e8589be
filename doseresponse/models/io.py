"""Save and load fitted models as self-describing NetCDF files (no pickle, no code execution).

A saved fit is a NetCDF-4 file (HDF5, written and read with xarray's ``h5netcdf`` engine) with
the ``posterior`` and ``sample_stats`` groups and these root attributes:

=================================  ============================================================
``doseresponse_format``            ``"doseresponse.FittedModel"``
``doseresponse_format_version``    layout version (:data:`FORMAT_VERSION`)
``doseresponse_version``           package version that wrote the file
``spec_json``                      the :class:`~doseresponse.models.spec.ModelSpec` as canonical
                                   JSON
``spec_sha256``                    SHA-256 of ``spec_json``
``data_json``                      the fitted :class:`~doseresponse.data.DoseResponseData` as JSON
``data_sha256``                    SHA-256 of ``data_json``
``created``                        UTC creation time (ISO 8601)
``content_sha256``                 (version 2) SHA-256 over every group (values, dtypes, shapes,
                                   dims, coordinates, attributes) and every root attribute above
``signature_hmac_sha256``          (optional) HMAC-SHA256 of ``content_sha256`` under a key the
                                   user supplies (``save(..., key=...)``)
=================================  ============================================================

Loading checks, in order: that the file can be read at all, its format and version, the
digests, the keyed signature when a key is given, and that the posterior agrees with the spec
and the data (variable names of the curve family and pooling, study labels and order,
covariates, dose metric and unit). Any failure is a
:class:`~doseresponse.exceptions.ModelMismatchError` naming the file and what disagrees; nothing
else escapes :func:`load`. ``docs/saved_fits.md`` describes what each level protects against.

Loading never re-samples: the posterior is read back as stored, so curves and tolerance doses
computed from a loaded fit are identical to those of the original. The layout is the one ArviZ
uses (one NetCDF group per ArviZ group, attributes on the root), but no ArviZ container is
involved in writing or reading: a file written with ArviZ 0.x (Python 3.11 stack) loads with
ArviZ 1.x and vice versa, and files of format version 1 (no ``content_sha256``; also those
written through ``InferenceData.to_netcdf``) keep loading, with a warning that their posterior
is not covered by a digest. Groups are read eagerly into memory and the file is closed before
:func:`load` returns.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np
import xarray as xr

from doseresponse._version import __version__
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import (
    DoseResponseError,
    FitError,
    ModelMismatchError,
    UnverifiedFitWarning,
)
from doseresponse.models.curves import CURVE_FAMILIES
from doseresponse.models.spec import ModelSpec

__all__ = [
    "FORMAT", "FORMAT_VERSION", "READABLE_VERSIONS", "content_digest", "load", "save",
    "saved_format",
]

FORMAT = "doseresponse.FittedModel"
FORMAT_VERSION = 2
"""Layout version written by :func:`save` (2: adds ``content_sha256`` and the signature)."""
READABLE_VERSIONS = (1, 2)
"""Layout versions :func:`load` reads."""
_GROUPS = ("posterior", "sample_stats")
_ENGINE = "h5netcdf"
_DIGEST_ATTR = "content_sha256"
_SIGNATURE_ATTR = "signature_hmac_sha256"
_NOT_COVERED = (_DIGEST_ATTR, _SIGNATURE_ATTR)
_HMAC_CONTEXT = b"doseresponse.FittedModel signature v1\0"


def save(
    fit,
    path: str | PathLike[str],
    *,
    overwrite: bool = False,
    key: bytes | None = None,
) -> Path:
    """Write a fitted model to ``path`` (NetCDF).

    Parameters
    ----------
    fit : FittedModel
        The fit to save. Every posterior draw must be finite.
    path : str or path-like
        Destination file (conventionally ``.nc``).
    overwrite : bool
        Replace an existing file. Default False: an existing file is never overwritten, even
        one that appears while this call is writing (another process saving to the same path).
    key : bytes, optional
        Secret key for a keyed signature (HMAC-SHA256) of the file's content digest, for files
        exchanged between centres; :func:`load` with the same key verifies it.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        ``path`` exists (or appeared during the save) and ``overwrite`` is False.
    FitError
        The posterior holds NaN or infinite draws (an interrupted or failed fit).
    DoseResponseError
        ``fit`` is not a fitted model, the directory does not exist, or ``key`` is not bytes.

    Notes
    -----
    The file is written to a temporary file in the same directory, read back to compute the
    content digest, given the permissions the user's umask allows (``0o666 & ~umask``) and
    moved into place in one step: ``os.link`` (fails if ``path`` exists) without
    ``overwrite``, ``os.replace`` with it. An interrupted save never leaves a half-written
    file under ``path``.
    """
    from doseresponse.models.results import FittedModel

    if not isinstance(fit, FittedModel):
        raise DoseResponseError(f"fit must be a FittedModel; got {type(fit).__name__}.")
    key = _checked_key(key)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(_exists_message(path))
    if not path.parent.exists():
        raise DoseResponseError(f"directory {path.parent} does not exist; create it first.")
    groups = {g: _clean(fit.groups[g]) for g in _GROUPS if g in fit.groups}
    _refuse_non_finite(groups["posterior"])
    spec_json = fit.spec.to_json()
    data_json = json.dumps(fit.data.to_dict(), sort_keys=True, allow_nan=False)
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
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        xr.Dataset(attrs=attrs).to_netcdf(tmp, mode="w", engine=_ENGINE)
        for name, dataset in groups.items():
            dataset.to_netcdf(
                tmp, mode="a", group=name, engine=_ENGINE, encoding=_compression(dataset)
            )
        written_attrs, present = _root_attrs_and_groups(Path(tmp))
        digest = content_digest(written_attrs, {g: _read_group(Path(tmp), g) for g in present})
        with h5netcdf.File(tmp, "a") as out:
            out.attrs[_DIGEST_ATTR] = digest
            if key is not None:
                out.attrs[_SIGNATURE_ATTR] = _signature(key, digest)
        os.chmod(tmp, 0o666 & ~_umask())
        _move_into_place(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | PathLike[str], *, key: bytes | None = None):
    """Read a fitted model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` / :meth:`FittedModel.save`.
    key : bytes, optional
        The key the file was signed with (``save(..., key=...)``); the signature must be present
        and valid. Without a key a signed file loads but warns that the signature was not
        checked.

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
        Any read or parse failure (not a NetCDF/HDF5 file, damaged or truncated), not a
        doseresponse fit, an unsupported format version, a digest that does not match the
        content (the file was edited or damaged), a missing or wrong signature when ``key`` is
        given, or a posterior that disagrees with the stored spec and data.

    Warns
    -----
    UnverifiedFitWarning
        A format-version-1 file (its posterior is not covered by a digest), or a signed file
        loaded without ``key``.
    """
    key = _checked_key(key)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved fit at {path}.")
    try:
        return _load(path, key)
    except ModelMismatchError:
        raise
    except Exception as exc:  # every read/parse failure of a damaged file, whatever its type
        raise ModelMismatchError(
            f"{path} cannot be read as a doseresponse fit ({type(exc).__name__}: {exc}); the "
            "file is damaged or not a fit file. Restore the original file or refit the model."
        ) from None


def saved_format(path: str | PathLike[str]) -> str:
    """The ``doseresponse_format`` a saved file declares, without loading it.

    Parameters
    ----------
    path : str or path-like
        A saved file (e.g. a :class:`~doseresponse.models.results.FittedModel` or a
        :class:`~doseresponse.models.late_toxicity.LateToxicityFit`).

    Returns
    -------
    str
        E.g. ``"doseresponse.FittedModel"`` (:data:`FORMAT`) or
        ``"doseresponse.LateToxicityFit"``; ``""`` when the file declares none.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelMismatchError
        The file is not a readable NetCDF/HDF5 file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved fit at {path}.")
    attrs, _ = _readable_root(path)
    value = attrs.get("doseresponse_format", "")
    return value if isinstance(value, str) else ""


def content_digest(attrs: Mapping[str, Any], groups: Mapping[str, xr.Dataset]) -> str:
    """SHA-256 over a canonical serialisation of a fit file's root attributes and groups.

    Parameters
    ----------
    attrs : mapping
        Root attributes; ``content_sha256`` and ``signature_hmac_sha256`` are left out.
    groups : mapping of str to xarray.Dataset
        Every group, as read back from the file.

    Returns
    -------
    str
        Hex digest. Covered, in a fixed order (groups, variables and attributes sorted by name):
        each group's attributes; each variable's name, whether it is a coordinate, its dims,
        attributes, dtype (little-endian), shape and raw little-endian bytes (text as UTF-8).
    """
    h = hashlib.sha256()

    def put(tag: str, payload: bytes | str) -> None:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        h.update(tag.encode("ascii") + b"\0" + len(data).to_bytes(8, "little") + data)

    put("root-attrs", _canonical_attrs({k: v for k, v in attrs.items() if k not in _NOT_COVERED}))
    for group in sorted(groups):
        dataset = groups[group]
        put("group", group)
        put("group-attrs", _canonical_attrs(dataset.attrs))
        for name in sorted(str(n) for n in dataset.variables):
            variable = dataset.variables[name]
            put("variable", name)
            put("coordinate", "yes" if name in dataset.coords else "no")
            put("dims", json.dumps([str(d) for d in variable.dims]))
            put("attrs", _canonical_attrs(variable.attrs))
            dtype, raw = _canonical_array(np.asarray(variable.values))
            put("dtype", dtype)
            put("shape", json.dumps(list(variable.shape)))
            put("values", raw)
    return h.hexdigest()


# --------------------------------------------------------------------------- loading


def _load(path: Path, key: bytes | None):
    from doseresponse.models.results import FittedModel

    attrs, present = _readable_root(path)
    from doseresponse.models.late_io import LATE_FORMAT

    if attrs.get("doseresponse_format") == LATE_FORMAT:
        raise ModelMismatchError(
            f"{path} is a late-toxicity fit (format {LATE_FORMAT!r}), not a FittedModel; load "
            "it with dr.LateToxicityFit.load(path) ('doseresponse compare' reads both kinds)."
        )
    if attrs.get("doseresponse_format") != FORMAT:
        raise ModelMismatchError(
            f"{path} is not a doseresponse fitted-model file (format "
            f"{attrs.get('doseresponse_format')!r}); it was not written by FittedModel.save."
        )
    version = _as_int(attrs.get("doseresponse_format_version"))
    if version not in READABLE_VERSIONS:
        raise ModelMismatchError(
            f"{path} uses file format version {version!r}; doseresponse {__version__} reads "
            f"versions {list(READABLE_VERSIONS)}. Load it with the version that wrote it "
            f"({attrs.get('doseresponse_version')!r}) or refit."
        )
    for name in ("spec", "data"):
        text, digest = attrs.get(f"{name}_json"), attrs.get(f"{name}_sha256")
        if not isinstance(text, str) or _sha256(text) != digest:
            raise ModelMismatchError(
                f"{path}: the stored {name} does not match its SHA-256 digest; the file was "
                "modified after saving. Refit the model or restore the original file."
            )
    if "posterior" not in present:
        raise ModelMismatchError(f"{path} has no posterior group; the file is damaged.")
    groups = {}
    for name in sorted(present):
        if name not in _GROUPS and version == 1:
            continue  # version-1 files written through ArviZ may hold other groups
        try:
            groups[name] = _read_group(path, name)
        except Exception as exc:  # any read/decode failure: damaged
            raise ModelMismatchError(
                f"{path}: group {name!r} cannot be read ({type(exc).__name__}: {exc}); the "
                "file is damaged. Refit the model or restore the original file."
            ) from None
    _verify_integrity(path, version, attrs, groups, key)
    try:
        spec = ModelSpec.from_json(attrs["spec_json"])
    except Exception as exc:
        raise ModelMismatchError(f"{path}: the stored spec cannot be read back: {exc}") from None
    try:
        data = DoseResponseData.from_dict(json.loads(attrs["data_json"]))
    except Exception as exc:
        raise ModelMismatchError(f"{path}: the stored data cannot be read back: {exc}") from None
    problems = _cross_check(spec, data, groups["posterior"])
    if problems:
        raise ModelMismatchError(
            f"{path}: the posterior does not match the stored spec and data (the file was "
            "edited, or assembled from different fits):\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nRefit the model or restore the original file."
        )
    try:
        return FittedModel({g: groups[g] for g in _GROUPS if g in groups}, spec, data)
    except DoseResponseError as exc:
        raise ModelMismatchError(f"{path}: {exc}") from None


def _verify_integrity(
    path: Path, version: int, attrs: dict[str, Any], groups: dict[str, xr.Dataset],
    key: bytes | None,
) -> None:
    stored = attrs.get(_DIGEST_ATTR)
    signature = attrs.get(_SIGNATURE_ATTR)
    if version == 1:
        if key is not None:
            raise ModelMismatchError(
                f"{path} is a format-version-1 file, which carries no signature, but key= was "
                "given; ask the sender for a signed file (save(..., key=...)) or load it "
                "without key= if you trust its origin."
            )
        warnings.warn(
            f"{path} is a format-version-1 file: its spec and data are covered by digests but "
            "its posterior is not covered, so damage or edits to the draws cannot be detected. "
            "Re-save it (load(...).save(new_path)) to add a full-content digest.",
            UnverifiedFitWarning,
            stacklevel=4,
        )
        return
    if not isinstance(stored, str):
        raise ModelMismatchError(
            f"{path} has no {_DIGEST_ATTR} attribute although format version 2 requires one; "
            "the file was edited or damaged. Restore the original file or refit."
        )
    digest = content_digest(attrs, groups)
    if not hmac.compare_digest(digest, stored):
        raise ModelMismatchError(
            f"{path}: the content does not match its SHA-256 digest ({_DIGEST_ATTR}); the "
            "posterior, sample statistics, spec, data or attributes were modified or damaged "
            "after saving. Restore the original file or refit the model."
        )
    if key is not None:
        if not isinstance(signature, str):
            raise ModelMismatchError(
                f"{path} carries no signature but key= was given; it was saved without a key "
                "(or the signature was removed). Ask the sender for a file saved with "
                "save(..., key=...)."
            )
        if not hmac.compare_digest(_signature(key, stored), signature):
            raise ModelMismatchError(
                f"{path}: the signature does not match under the given key; the file was "
                "modified by someone without the key, or signed with another key. Check the "
                "key with the sender or ask for the file again."
            )
    elif signature is not None:
        warnings.warn(
            f"{path} is signed but no key= was given, so the signature was not checked (the "
            "content digest was); pass load(path, key=...) to verify who wrote it.",
            UnverifiedFitWarning,
            stacklevel=4,
        )


def _slope_names() -> set[str]:
    return {family.slope_name for family in CURVE_FAMILIES.values()}


def _expected_variables(spec: ModelSpec) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Required posterior variables of ``spec`` (name → non-sample dims) and optional ones."""
    slope = spec.slope_name
    study, cov = ("study",), ("covariate",)
    if spec.pooling == "none":
        required = {"d50_study": study, f"{slope}_study": study}
        optional = {"log_d50_study", "log_slope_study"}
    else:
        required = {"d50": (), slope: ()}
        optional = {"log_d50", "log_slope"}
        if spec.pooling == "partial":
            required.update({"tau": (), "d50_study": study})
            optional.add("z_d50")
            if spec.pool_slope:
                required.update({"tau_slope": (), f"{slope}_study": study})
                optional.add("z_slope")
    if spec.all_covariates:
        required["factor"] = cov
        optional.add("log_factor")
    if spec.measurement_error != "none":
        optional |= {"exposure_log_median", "exposure_sd", "dose_error_z", "true_dose"}
    return required, optional


def _cross_check(spec: ModelSpec, data: DoseResponseData, posterior: xr.Dataset) -> list[str]:
    """Every disagreement between the posterior and the spec / data, one message each."""
    problems = []
    if (spec.dose_metric, spec.dose_unit) != (data.dose_metric, data.dose_unit):
        problems.append(
            f"the spec's dose is {spec.dose_metric!r} in {spec.dose_unit!r} but the data's is "
            f"{data.dose_metric!r} in {data.dose_unit!r}"
        )
    for kind, wanted, have in (
        ("covariates", spec.covariates, data.covariates),
        ("study_covariates", spec.study_covariates, data.study_covariates),
    ):
        missing = [c for c in wanted if c not in have]
        if missing:
            problems.append(f"the spec's {kind} {missing} are not in the data ({list(have)})")
    required, optional = _expected_variables(spec)
    names = {str(n) for n in posterior.data_vars}
    for name in required:
        if name not in names:
            problems.append(
                f"variable {name!r} is missing; a {spec.pooling!r}-pooling {spec.curve} model "
                f"with slope {spec.slope_name!r} has {sorted(required)}"
            )
    known = {
        "d50", "tau", "tau_slope", "d50_study", "z_d50", "z_slope", "log_d50", "log_slope",
        "log_d50_study", "log_slope_study", "factor", "log_factor",
    }
    for slope in _slope_names():
        known |= {slope, f"{slope}_study"}
    for name in sorted(names & known - set(required) - optional):
        problems.append(
            f"variable {name!r} does not belong to the spec's model ({spec.pooling!r} pooling, "
            f"curve {spec.curve!r} with slope {spec.slope_name!r}"
            f"{', covariates ' + str(list(spec.all_covariates)) if spec.all_covariates else ''})"
        )
    for name in sorted(names & (set(required) | optional)):
        dims = tuple(str(d) for d in posterior[name].dims)
        if dims[:2] != ("chain", "draw"):
            problems.append(f"variable {name!r} has dims {dims}; expected ('chain', 'draw', ...)")
        elif name in required and dims[2:] != required[name]:
            problems.append(
                f"variable {name!r} has dims {dims[2:]} after (chain, draw); expected "
                f"{required[name]}"
            )
    for dim, expected, what in (
        ("study", list(data.studies), "the data's studies"),
        ("covariate", list(spec.all_covariates), "the spec's covariates"),
    ):
        used = any(dim in posterior[n].dims for n in names)
        if not used:
            continue
        if dim not in posterior.coords:
            problems.append(f"dimension {dim!r} has no coordinate labels; expected {expected}")
            continue
        labels = [_text(v) for v in np.asarray(posterior.coords[dim].values).tolist()]
        if labels != expected:
            problems.append(
                f"coordinate {dim!r} is {labels} but {what} are {expected} (labels and order "
                "must agree)"
            )
    return problems


# --------------------------------------------------------------------------- helpers


def _readable_root(path: Path) -> tuple[dict[str, Any], set[str]]:
    """:func:`_root_attrs_and_groups`, any read failure a :class:`ModelMismatchError`."""
    try:
        return _root_attrs_and_groups(path)
    except Exception as exc:  # h5py/h5netcdf raise many types for a bad file
        raise ModelMismatchError(
            f"{path} is not a readable NetCDF fit file ({type(exc).__name__}: {exc}); restore "
            "the original file or refit the model."
        ) from None


def _root_attrs_and_groups(path: Path) -> tuple[dict[str, Any], set[str]]:
    """Root attributes (decoded to str / numbers) and the names of the top-level groups."""
    with h5py.File(path, "r") as raw:  # touch every object header and attribute first: a
        raw.visititems(lambda _, obj: dict(obj.attrs))  # failure here is clean, whereas a
        dict(raw.attrs)  # failing h5netcdf.File leaves an object whose cleanup raises again
    with h5netcdf.File(path, "r") as handle:
        attrs = {key: _plain(handle.attrs[key]) for key in handle.attrs}
        return attrs, set(handle.groups)


def _read_group(path: Path, name: str) -> xr.Dataset:
    """One group, loaded into memory, the file closed again."""
    with xr.open_dataset(path, group=name, engine=_ENGINE) as dataset:
        return dataset.load()


def _move_into_place(tmp: str, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(_exists_message(path)) from None
    except OSError:  # no hard links on this file system: claim the name exclusively first
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise FileExistsError(_exists_message(path)) from None
        os.close(fd)
        os.replace(tmp, path)


def _exists_message(path: Path) -> str:
    return f"{path} already exists; pass overwrite=True to replace it, or choose another path."


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)  # fallback: briefly set a restrictive mask, then restore it
    os.umask(old)
    return old


def _refuse_non_finite(posterior: xr.Dataset) -> None:
    bad = []
    for name in sorted(str(n) for n in posterior.data_vars):
        values = np.asarray(posterior[name].values)
        if values.dtype.kind in "fc":
            count = int(values.size - np.count_nonzero(np.isfinite(values)))
            if count:
                bad.append(f"{name}: {count} of {values.size}")
    if bad:
        raise FitError(
            "the posterior holds NaN or infinite draws (" + "; ".join(bad) + "); such a fit is "
            "incomplete (interrupted or failed sampling) and is not saved. Refit the model to "
            "completion and save the new fit."
        )


def _checked_key(key: Any) -> bytes | None:
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray | memoryview) or not len(bytes(key)):
        raise DoseResponseError(
            f"key must be non-empty bytes (e.g. key=secret.encode('utf-8')); got "
            f"{type(key).__name__}."
        )
    return bytes(key)


def _signature(key: bytes, digest: str) -> str:
    return hmac.new(key, _HMAC_CONTEXT + digest.encode("ascii"), hashlib.sha256).hexdigest()


def _canonical_attrs(attrs: Mapping[Any, Any]) -> str:
    return json.dumps(
        {str(k): _canonical_value(v) for k, v in attrs.items()}, sort_keys=True,
        ensure_ascii=True,
    )


def _canonical_value(value: Any) -> Any:
    """A JSON-able, type-tagged form of an attribute value that survives NetCDF decoding."""
    if isinstance(value, bytes):
        return ["s", value.decode("utf-8", errors="surrogateescape")]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return _canonical_value(value.reshape(-1)[0])
        return ["a", [_canonical_value(v) for v in value.reshape(-1).tolist()]]
    if isinstance(value, list | tuple):
        return ["a", [_canonical_value(v) for v in value]]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int):
        return ["i", str(int(value))]
    if isinstance(value, float):
        return ["f", repr(value) if math.isfinite(value) else str(value)]
    return ["r", repr(value)]


def _canonical_array(values: np.ndarray) -> tuple[str, bytes]:
    kind = values.dtype.kind
    if kind in "biufc":
        dtype = values.dtype.newbyteorder("<") if values.dtype.itemsize > 1 else values.dtype
        return dtype.str, np.ascontiguousarray(values, dtype=dtype).tobytes()
    if kind in "Mm":
        return kind + "8", np.ascontiguousarray(values.view("<i8")).tobytes()
    text = [_canonical_value(v) for v in values.reshape(-1).tolist()]
    return "text", json.dumps(text, ensure_ascii=True).encode("ascii")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


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
