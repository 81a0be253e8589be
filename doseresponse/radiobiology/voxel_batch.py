"""Batch voxel dosimetry over many patients' maps with dask (optional extra ``dask``).

Two entry points, both on dask's own schedulers (no scheduling code here):

* :func:`batch_organ_dosimetry` — one :func:`dask.delayed` task per patient (read the dose map
  and the segmentation, a NIfTI label map or a DICOM RTSTRUCT on its image series, BED map,
  per-organ summary), computed with ``dask.compute``;
* :func:`bed_map_blocks` — the voxel BED of a :class:`dask.array.Array` (e.g. a stack of many
  patients' maps, or one map larger than memory), block by block with
  ``dask.array.map_blocks``.

The per-patient and per-block work is the package's single implementation
(:func:`~doseresponse.radiobiology.voxel_maps.organ_dosimetry`,
:func:`~doseresponse.radiobiology.bed.bed_exponential`). dask is imported inside the functions;
install it with ``pip install 'doseresponse[dask]'``. Units as in
:mod:`doseresponse.radiobiology.voxel_maps` (Gy, Gy/h, h, α/β Gy, α 1/Gy).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from doseresponse._validation import check_scalar
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.bed import bed_exponential
from doseresponse.radiobiology.voxel_io import (
    LabelMap,
    _is_nifti,
    read_dose_map,
    read_label_map,
    read_rtstruct,
)
from doseresponse.radiobiology.voxel_maps import bed_map, dose_from_dose_rate, organ_dosimetry

__all__ = ["batch_organ_dosimetry", "bed_map_blocks"]

_CASE_KEYS = {"dose", "labels", "names", "series", "rois", "half_life", "quantity", "unit",
              "time_h"}


def batch_organ_dosimetry(
    cases: Mapping[str, Mapping[str, Any]],
    *,
    effective_half_life: float | None = None,
    alpha_beta: float,
    repair_half_time: float,
    geud_a: float | None = None,
    alpha: float | None = None,
    organs: Sequence[str] | None = None,
    scheduler: str = "threads",
    num_workers: int | None = None,
) -> pd.DataFrame:
    """Per-organ dose, BED, gEUD and EUBED for many patients, one dask task per patient.

    Parameters
    ----------
    cases : mapping of str to mapping
        Patient (or patient-cycle) id → ``{"dose": path, "labels": path}``. ``"labels"`` is a
        NIfTI label map (with optional ``"names"``, organ → label value) or a DICOM RTSTRUCT,
        which needs ``"series"`` (the folder of the image series its contours were drawn on)
        and takes optional ``"rois"`` (ROI names to read, in priority order; default all;
        read by :func:`~doseresponse.radiobiology.voxel_io.read_rtstruct`, the ``rtstruct``
        extra). Further optional keys: ``"half_life"`` (path of a half-life map, h),
        ``"quantity"`` / ``"unit"`` of the dose file (NIfTI needs them; see
        :func:`~doseresponse.radiobiology.voxel_io.read_dose_map`) and ``"time_h"`` (h, for a
        dose-rate map, which is converted with
        :func:`~doseresponse.radiobiology.voxel_maps.dose_from_dose_rate`).
    effective_half_life : float, optional
        Effective half-life (h, > 0) for patients without a ``"half_life"`` map.
    alpha_beta : float
        α/β (Gy, > 0).
    repair_half_time : float
        Repair half-time (h, > 0).
    geud_a : float, optional
        gEUD volume-effect parameter (dimensionless).
    alpha : float, optional
        α (1/Gy) for EUBED.
    organs : sequence of str, optional
        Organs to report (default: all in each label map).
    scheduler : {"threads", "processes", "synchronous"}, default "threads"
        dask scheduler (``dask.compute(..., scheduler=...)``); the numba BED loop and numpy
        release the GIL, so threads parallelise.
    num_workers : int, optional
        Number of dask workers (default: dask's, the number of cores).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`~doseresponse.radiobiology.voxel_maps.organ_dosimetry` for every
        patient, with a leading ``patient`` column, in the order of ``cases``.

    Raises
    ------
    DoseResponseError
        When dask is not installed, a case lacks ``dose``/``labels`` or has unknown keys, an
        RTSTRUCT lacks ``series`` (or ``names`` / ``rois`` are given for the wrong kind of
        segmentation), a patient has neither a half-life map nor ``effective_half_life``, or a
        patient's files fail (the message names the patient and the file).

    Notes
    -----
    Each task reads its own files, so memory holds at most ``num_workers`` patients' maps at
    a time. An RTSTRUCT's label map is on its image series' grid and is resampled onto the
    dose grid by nearest neighbour, as in
    :func:`~doseresponse.radiobiology.voxel_maps.organ_dosimetry`. The results equal a serial
    loop over :func:`~doseresponse.radiobiology.voxel_maps.organ_dosimetry` (tested).
    """
    dask = _import_dask()
    if not isinstance(cases, Mapping) or not cases:
        raise DoseResponseError("cases must be a non-empty mapping of patient id → files.")
    check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    check_scalar(repair_half_time, "repair_half_time", positive=True, unit="h")
    if scheduler not in {"threads", "processes", "synchronous"}:
        raise DoseResponseError(
            f"scheduler must be 'threads', 'processes' or 'synchronous'; got {scheduler!r}."
        )
    for patient, case in cases.items():
        _check_case(patient, case, effective_half_life)
    settings = {
        "effective_half_life": effective_half_life,
        "alpha_beta": alpha_beta,
        "repair_half_time": repair_half_time,
        "geud_a": geud_a,
        "alpha": alpha,
        "organs": organs,
    }
    tasks = [
        dask.delayed(_one_patient, pure=True)(str(patient), dict(case), settings)
        for patient, case in cases.items()
    ]
    options: dict[str, Any] = {"scheduler": scheduler}
    if num_workers is not None:
        options["num_workers"] = int(num_workers)
    frames = dask.compute(*tasks, **options)
    return pd.concat(frames, ignore_index=True)


def bed_map_blocks(
    dose: Any,
    *,
    effective_half_life: Any,
    alpha_beta: float,
    repair_half_time: float,
    uptake_half_life: Any = None,
) -> Any:
    """Lazy voxel BED of a dask array, block by block.

    Parameters
    ----------
    dose : dask.array.Array or array_like
        Dose (Gy, >= 0), any shape, e.g. a (patients, ni, nj, nk) stack.
    effective_half_life : float, dask.array.Array or array_like
        Effective half-life (h, > 0), a scalar or an array broadcastable to ``dose``.
    alpha_beta : float
        α/β (Gy, > 0).
    repair_half_time : float
        Repair half-time (h, > 0).
    uptake_half_life : float, dask.array.Array or array_like, optional
        Uptake half-life (h, > 0).

    Returns
    -------
    dask.array.Array
        BED (Gy) with ``dose``'s chunks; nothing is computed until ``.compute()`` (or
        ``dask.array.store`` / ``to_zarr``).

    Raises
    ------
    DoseResponseError
        When dask is not installed, or (on compute) for invalid voxels, as
        :func:`~doseresponse.radiobiology.bed.bed_exponential` raises.

    Notes
    -----
    ``dask.array.map_blocks`` of :func:`~doseresponse.radiobiology.bed.bed_exponential` (Dale
    1985, Br J Radiol 58:515; Baechler et al. 2008, Med Phys 35:1123), so each block is the
    compiled one-pass BED loop; the half-life arrays are broadcast and rechunked to ``dose``'s
    chunks.
    """
    _import_dask()
    import dask.array as da

    ab = check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    trep = check_scalar(repair_half_time, "repair_half_time", positive=True, unit="h")
    d = da.asarray(dose).astype(np.float64)
    operands = [d]
    for name, value in (("effective_half_life", effective_half_life),
                        ("uptake_half_life", uptake_half_life)):
        if value is None:
            continue
        if np.ndim(value) == 0 and not isinstance(value, da.Array):
            operands.append(check_scalar(value, name, positive=True, unit="h"))
            continue
        arr = da.asarray(value).astype(np.float64)
        try:
            arr = da.broadcast_to(arr, d.shape)
        except ValueError:
            raise DoseResponseError(
                f"{name} of shape {arr.shape} does not broadcast to the dose shape {d.shape}."
            ) from None
        operands.append(arr.rechunk(d.chunks))
    return da.map_blocks(
        _bed_block,
        *operands,
        uptake=uptake_half_life is not None,
        alpha_beta=ab,
        repair_half_time=trep,
        dtype=np.float64,
        meta=np.empty((0,) * d.ndim, dtype=np.float64),
    )


# --------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------


def _import_dask() -> Any:
    try:
        import dask
        import dask.array  # needs the numpy-side extras: fail here, not inside a task
    except ImportError as exc:
        raise DoseResponseError(
            "batch dosimetry needs dask: pip install 'doseresponse[dask]' "
            f"(import failed: {exc})."
        ) from None
    return dask


def _bed_block(
    d: np.ndarray, *half_lives: Any, uptake: bool, alpha_beta: float, repair_half_time: float
) -> np.ndarray:
    tw = half_lives[0]
    tu = half_lives[1] if uptake else None
    return np.asarray(
        bed_exponential(
            d,
            effective_half_life=tw,
            alpha_beta=alpha_beta,
            repair_half_time=repair_half_time,
            uptake_half_life=tu,
        ),
        dtype=np.float64,
    )


def _check_case(patient: Any, case: Any, effective_half_life: float | None) -> None:
    if not isinstance(case, Mapping):
        raise DoseResponseError(
            f"case {patient!r} must be a mapping like {{'dose': path, 'labels': path}}; got "
            f"{type(case).__name__}."
        )
    missing = [k for k in ("dose", "labels") if k not in case]
    if missing:
        raise DoseResponseError(f"case {patient!r} lacks {missing}; give file paths for both.")
    unknown = sorted(set(case) - _CASE_KEYS)
    if unknown:
        raise DoseResponseError(
            f"case {patient!r} has unknown key(s) {unknown}; allowed: {sorted(_CASE_KEYS)}."
        )
    if "half_life" not in case and effective_half_life is None:
        raise DoseResponseError(
            f"case {patient!r} has no 'half_life' map; pass effective_half_life= (h) for such "
            "patients."
        )
    for key in ("dose", "labels", "half_life"):
        if key in case and not os.path.isfile(case[key]):
            raise DoseResponseError(
                f"case {patient!r}: {key} file {case[key]} does not exist; check the path."
            )
    nifti = _is_nifti(Path(case["labels"]))
    if not nifti and "series" not in case:
        raise DoseResponseError(
            f"case {patient!r}: labels {case['labels']} is not a NIfTI label map; for a DICOM "
            "RTSTRUCT add 'series': the folder of the image series its contours were drawn on."
        )
    if nifti and ("series" in case or "rois" in case):
        raise DoseResponseError(
            f"case {patient!r}: 'series' and 'rois' are for a DICOM RTSTRUCT, but labels "
            f"{case['labels']} is a NIfTI label map (name its labels with 'names')."
        )
    if not nifti and "names" in case:
        raise DoseResponseError(
            f"case {patient!r}: 'names' maps NIfTI label values; an RTSTRUCT's ROIs are chosen "
            "with 'rois': [ROI names]."
        )
    if "series" in case and not os.path.isdir(case["series"]):
        raise DoseResponseError(
            f"case {patient!r}: series {case['series']} is not a folder; give the folder of "
            "the image series the RTSTRUCT refers to."
        )
    rois = case.get("rois")
    if rois is not None and (
        isinstance(rois, str) or not all(isinstance(r, str) for r in rois) or not rois
    ):
        raise DoseResponseError(
            f"case {patient!r}: 'rois' must be a non-empty list of ROI names such as "
            f"['Kidney_L', 'Tumour']; got {rois!r}."
        )


def _read_labels(case: dict[str, Any]) -> LabelMap:
    """The case's segmentation: NIfTI label map, or RTSTRUCT on its image series."""
    if "series" in case:
        rois = case.get("rois")
        return read_rtstruct(case["labels"], case["series"],
                             roi_names=None if rois is None else list(rois))
    return read_label_map(case["labels"], case.get("names"))


def _one_patient(patient: str, case: dict[str, Any], settings: dict[str, Any]) -> pd.DataFrame:
    try:
        dose = read_dose_map(case["dose"], quantity=case.get("quantity"), unit=case.get("unit"))
        half_life: Any = settings["effective_half_life"]
        if "half_life" in case:
            half_life = read_dose_map(case["half_life"], quantity="half_life", unit="h")
        if dose.quantity == "dose_rate":
            if "time_h" not in case:
                raise DoseResponseError(
                    "a dose-rate map needs 'time_h' (h after administration) in its case."
                )
            dose = dose_from_dose_rate(
                dose, time_h=case["time_h"], effective_half_life=half_life
            )
        labels = _read_labels(case)
        bed = bed_map(
            dose,
            effective_half_life=half_life,
            alpha_beta=settings["alpha_beta"],
            repair_half_time=settings["repair_half_time"],
        )
        table = organ_dosimetry(
            dose,
            labels,
            organs=settings["organs"],
            bed=bed,
            geud_a=settings["geud_a"],
            alpha=settings["alpha"],
        )
    except DoseResponseError as exc:
        raise DoseResponseError(f"patient {patient!r}: {exc}") from None
    table.insert(0, "patient", patient)
    return table
