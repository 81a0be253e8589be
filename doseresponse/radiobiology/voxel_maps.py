r"""Voxel dosimetry on maps: dose from dose rate, BED maps, per-organ DVH, mean dose, gEUD, EUBED.

Works on :class:`~doseresponse.radiobiology.voxel_io.VoxelMap` and
:class:`~doseresponse.radiobiology.voxel_io.LabelMap` (read with
:mod:`doseresponse.radiobiology.voxel_io`). Every formula is the package's single
implementation: the BED map is :func:`~doseresponse.radiobiology.bed.bed_exponential`, the
dose from a dose-rate map the mono-exponential integral of
:func:`~doseresponse.radiobiology.absorbed.single_time_point_tia`, the DVH
:meth:`~doseresponse.radiobiology.eud.DVH.from_voxels`, gEUD
:func:`~doseresponse.radiobiology.eud.geud` and EUBED
:func:`~doseresponse.radiobiology.eud.eubed`.

Voxels are weighted by volume (all voxels of a map have the same volume, so by count); for
mass weighting pass a density map to :func:`organ_dvh`. Units: dose and BED Gy, dose rate Gy/h,
time and half-lives h, α/β Gy, α 1/Gy, volume mL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from doseresponse._validation import check_scalar
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.absorbed import single_time_point_tia
from doseresponse.radiobiology.bed import bed_exponential
from doseresponse.radiobiology.eud import DVH, eubed, geud
from doseresponse.radiobiology.voxel_io import LabelMap, VoxelMap, resample_labels

__all__ = ["bed_map", "dose_from_dose_rate", "organ_dosimetry", "organ_dvh"]

HalfLife = float | VoxelMap


def dose_from_dose_rate(
    dose_rate: VoxelMap, *, time_h: float, effective_half_life: HalfLife
) -> VoxelMap:
    r"""Absorbed-dose map from one dose-rate map and a mono-exponential clearance.

    Parameters
    ----------
    dose_rate : VoxelMap
        Dose-rate map (``quantity="dose_rate"``, Gy/h) measured at ``time_h``.
    time_h : float
        Time of the dose-rate map after administration (h), > 0.
    effective_half_life : float or VoxelMap
        Effective half-life (h, > 0): one value, or a ``"half_life"`` map on the same grid.

    Returns
    -------
    VoxelMap
        ``"dose"`` map (Gy) on the same grid.

    Raises
    ------
    DoseResponseError
        If the map is not a dose rate, the grids differ, or a time / half-life is not positive.

    Notes
    -----
    :math:`D = \dot D(t)\,e^{\lambda t}/\lambda`, :math:`\lambda = \ln 2/T_{eff}`: the integral
    from 0 to ∞ of the mono-exponential through the measurement (Madsen et al. 2018, Med Phys
    45:2318), the same formula as the single-time-point TIA and evaluated by it
    (:func:`~doseresponse.radiobiology.absorbed.single_time_point_tia`) with dose rate in place
    of activity. Uptake before ``time_h`` is assumed to follow the same exponential.
    """
    _require(dose_rate, "dose_rate", "dose_rate")
    t = check_scalar(time_h, "time_h", positive=True, unit="h")
    half = _half_life_values(effective_half_life, dose_rate, "effective_half_life")
    values = single_time_point_tia(dose_rate.values, t, half)
    return dose_rate.with_values(values, quantity="dose", unit="Gy")


def bed_map(
    dose: VoxelMap,
    *,
    effective_half_life: HalfLife,
    alpha_beta: float,
    repair_half_time: float,
    uptake_half_life: HalfLife | None = None,
) -> VoxelMap:
    r"""Voxel BED map (Gy) for mono-exponential or uptake-washout kinetics in every voxel.

    Parameters
    ----------
    dose : VoxelMap
        Absorbed-dose map (Gy).
    effective_half_life : float or VoxelMap
        Effective (washout) half-life (h, > 0): one value or a ``"half_life"`` map on the
        dose grid.
    alpha_beta : float
        α/β (Gy, > 0).
    repair_half_time : float
        Repair half-time (h, > 0).
    uptake_half_life : float or VoxelMap, optional
        Uptake half-life (h, > 0), value or map.

    Returns
    -------
    VoxelMap
        ``"BED"`` map in Gy on the dose grid (write it with
        :func:`~doseresponse.radiobiology.voxel_io.write_nifti` or
        :func:`~doseresponse.radiobiology.voxel_io.write_rtdose`).

    Raises
    ------
    DoseResponseError
        If ``dose`` is not a dose map, a half-life map is on another grid, or any value is
        invalid (the message gives the first bad voxel index).

    Notes
    -----
    :math:`\mathrm{BED} = D\,(1 + G D/(\alpha/\beta))`, with
    :math:`G = T_{rep}/(T_{rep}+T_{eff})` (Dale 1985, Br J Radiol 58:515) or its uptake-washout
    form (Baechler et al. 2008, Med Phys 35:1123), evaluated by
    :func:`~doseresponse.radiobiology.bed.bed_exponential` (compiled one-pass loop).
    """
    _require(dose, "dose", "dose")
    tw = _half_life_values(effective_half_life, dose, "effective_half_life")
    tu = (
        None
        if uptake_half_life is None
        else _half_life_values(uptake_half_life, dose, "uptake_half_life")
    )
    values = bed_exponential(
        dose.values,
        effective_half_life=tw,
        alpha_beta=alpha_beta,
        repair_half_time=repair_half_time,
        uptake_half_life=tu,
    )
    return dose.with_values(values, quantity="BED", unit="Gy")


def organ_dvh(
    voxel_map: VoxelMap, labels: LabelMap, organ: str, *, density: VoxelMap | None = None
) -> DVH:
    """Lossless voxel DVH of one organ / lesion.

    Parameters
    ----------
    voxel_map : VoxelMap
        Dose, BED or EQD2 map (Gy).
    labels : LabelMap
        Segmentation; resampled onto the map's grid by nearest neighbour if it is on another
        grid (:func:`~doseresponse.radiobiology.voxel_io.resample_labels`).
    organ : str
        Name of the organ in ``labels.names``.
    density : VoxelMap, optional
        Mass-density map (``quantity="density"``, g/mL) on the same grid, for mass weights;
        volume weights when omitted.

    Returns
    -------
    DVH
        One entry per organ voxel, ``metric`` = the map's quantity, unit Gy; ``total`` is the
        organ volume (mL) or, with ``density``, the organ mass (g).

    Raises
    ------
    DoseResponseError
        For an unknown organ, a map that is not in Gy, or grids that do not overlap.
    """
    if voxel_map.unit != "Gy":
        raise DoseResponseError(
            f"organ_dvh needs a dose, BED or EQD2 map in Gy; got {voxel_map.quantity} in "
            f"{voxel_map.unit} (convert a dose-rate map with dose_from_dose_rate first)."
        )
    on_grid = resample_labels(labels, voxel_map)
    mask = on_grid.mask(organ)
    weights = np.full(voxel_map.shape, voxel_map.voxel_volume_ml)
    if density is not None:
        _require(density, "density", "density")
        if not voxel_map.same_grid(density):
            raise DoseResponseError("density must be on the same grid as the map.")
        weights = weights * density.values
    return DVH.from_voxels(
        voxel_map.values, mask, weights, metric=voxel_map.quantity, unit=voxel_map.unit
    )


def organ_dosimetry(
    dose: VoxelMap,
    labels: LabelMap,
    *,
    organs: Sequence[str] | None = None,
    bed: VoxelMap | None = None,
    geud_a: float | None = None,
    alpha: float | None = None,
    dvh_percent: Sequence[float] = (2.0, 50.0, 98.0),
) -> pd.DataFrame:
    """Per-organ summary of a dose map (and optionally its BED map): one row per organ.

    Parameters
    ----------
    dose : VoxelMap
        Absorbed-dose map (Gy).
    labels : LabelMap
        Segmentation (resampled onto the dose grid by nearest neighbour if needed).
    organs : sequence of str, optional
        Organs to report; default every name in ``labels.names``.
    bed : VoxelMap, optional
        BED map (Gy) on the dose grid, e.g. from :func:`bed_map`; adds mean BED and, with
        ``alpha``, EUBED.
    geud_a : float, optional
        Volume-effect parameter ``a`` of gEUD (dimensionless); adds ``geud_gy``.
    alpha : float, optional
        Radiosensitivity α (1/Gy) for EUBED; needs ``bed``.
    dvh_percent : sequence of float, default (2, 50, 98)
        DVH points D_x (the minimum dose to the hottest x % of the volume) to report.

    Returns
    -------
    pandas.DataFrame
        Columns ``organ``, ``label``, ``n_voxels``, ``volume_ml``, ``mean_dose_gy``,
        ``min_dose_gy``, ``max_dose_gy``, ``d<x>_gy`` per percent, and when requested
        ``geud_gy``, ``mean_bed_gy``, ``eubed_gy``.

    Raises
    ------
    DoseResponseError
        For a BED map on another grid, ``alpha`` without ``bed``, or an unknown organ.

    Notes
    -----
    Mean dose, D_x, gEUD (Niemierko 1999, Med Phys 26:1100) and EUBED (Prideaux et al. 2007,
    J Nucl Med 48:1008) are computed by :class:`~doseresponse.radiobiology.eud.DVH`,
    :func:`~doseresponse.radiobiology.eud.geud` and :func:`~doseresponse.radiobiology.eud.eubed`
    on the organ's voxels with volume weights.
    """
    _require(dose, "dose", "dose")
    if bed is not None:
        _require(bed, "bed", "BED")
        if not dose.same_grid(bed):
            raise DoseResponseError("bed must be on the same grid as dose (shape and affine).")
    if alpha is not None and bed is None:
        raise DoseResponseError("alpha (for EUBED) needs a BED map: pass bed=bed_map(...).")
    on_grid = resample_labels(labels, dose)
    names = list(on_grid.names if organs is None else organs)
    rows = []
    for organ in names:
        dvh = organ_dvh(dose, on_grid, organ)
        row: dict[str, object] = {
            "organ": organ,
            "label": on_grid.names[organ],
            "n_voxels": int(dvh.doses.size),
            "volume_ml": dvh.total,
            "mean_dose_gy": dvh.mean,
            "min_dose_gy": dvh.min,
            "max_dose_gy": dvh.max,
        }
        for percent in dvh_percent:
            row[f"d{percent:g}_gy"] = float(dvh.d_x(percent))
        if geud_a is not None:
            row["geud_gy"] = geud(dvh, a=geud_a)
        if bed is not None:
            bed_dvh = organ_dvh(bed, on_grid, organ)
            row["mean_bed_gy"] = bed_dvh.mean
            if alpha is not None:
                row["eubed_gy"] = eubed(bed_dvh, alpha=alpha)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------


def _require(voxel_map: object, name: str, quantity: str) -> None:
    if not isinstance(voxel_map, VoxelMap):
        raise DoseResponseError(
            f"{name} must be a VoxelMap (read it with read_dose_map); got "
            f"{type(voxel_map).__name__}."
        )
    if voxel_map.quantity != quantity:
        raise DoseResponseError(
            f"{name} must be a {quantity} map; got a {voxel_map.quantity} map in "
            f"{voxel_map.unit}" + (f" from {voxel_map.source}" if voxel_map.source else "") + "."
        )


def _half_life_values(value: HalfLife, grid: VoxelMap, name: str) -> object:
    if isinstance(value, VoxelMap):
        _require(value, name, "half_life")
        if not grid.same_grid(value):
            raise DoseResponseError(
                f"{name} map is on another grid than the dose map (shape {value.shape} vs "
                f"{grid.shape}, or a different affine); resample it onto the dose grid first."
            )
        return value.values
    return check_scalar(value, name, positive=True, unit="h")
