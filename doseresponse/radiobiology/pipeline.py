"""Multi-cycle organ and lesion dosimetry from time-activity samples, in one call.

Ties the radiobiology steps together for the common clinical case: quantitative imaging of a few
regions after each cycle → time-activity fit per region and cycle → time-integrated activity
(with its standard error) → mean absorbed dose by local energy deposition → per-cycle G factor and
BED → multi-cycle BED (sum of per-cycle BEDs) → EQD2.

Cycles imaged once use a single-time-point method (:mod:`.single_time_point`): by default the
region's own full-imaging cycle rescaled through the one point (hybrid schedule). Uncertainty is
carried forward: TIA SE (fit covariance, stated calibration and partial-volume relative SDs) →
dose SE → BED SE per cycle and per course, ready as ``dose_se`` for the measurement-error models.

Units: time h, activity MBq, TIA MBq·h, mass kg, dose Gy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from doseresponse._validation import check_scalar
from doseresponse.exceptions import DataValidationError
from doseresponse.radiobiology.absorbed import local_deposition_s_value
from doseresponse.radiobiology.bed import bed, eqd, g_factor
from doseresponse.radiobiology.kinetics import TimeActivityFit, fit_time_activity
from doseresponse.radiobiology.population_kinetics import PopulationCycleTIA
from doseresponse.radiobiology.single_time_point import (
    SingleTimePointTIA,
    hanscheid_tia,
    madsen_tia,
    reference_curve_tia,
)
from doseresponse.radiobiology.tissues import TissueParameters, tissue_parameters

__all__ = ["DosimetryWarning", "MultiCycleDosimetry", "multicycle_dosimetry"]

SINGLE_TIME_POINT_METHODS = ("reference", "madsen", "hanscheid")


class DosimetryWarning(UserWarning):
    """A cycle could not contribute fully to a course result; the message names region and cycle.

    E.g. a cycle without a TIA standard error is left out of the course SE (which is then a lower
    bound), or a single-time-point cycle had no reference curve and used another method.
    """

_REQUIRED_COLUMNS = ("cycle", "region", "time_h", "activity_mbq")


@dataclass(frozen=True)
class MultiCycleDosimetry:
    """Result of :func:`multicycle_dosimetry`.

    Attributes
    ----------
    per_cycle : pandas.DataFrame
        One row per region and cycle: fitted model, TIA and its SE (MBq·h), effective
        half-life (h), mass (kg), S value (Gy/(MBq·h)), absorbed dose and its SE (Gy), G factor,
        BED and its SE (Gy), then ``method`` (``"fit"``, ``"stp-<method>"`` or
        ``"population"``), ``n_points``, ``acceptable``, ``selection_rule``, ``flags``,
        ``tia_se_fit_mbq_h`` (statistical part),
        ``calibration_rel_sd``, ``partial_volume_rel_sd`` and ``in_course_se``.
    per_region : pandas.DataFrame
        One row per region: mass (kg; NaN if it changes between cycles), total absorbed dose
        and SE (Gy), multi-cycle BED and SE (Gy), EQD2
        (Gy), the radiobiological parameters used and their source, then ``se_excluded_cycles``
        (cycles whose statistical SE is unknown and left out, "" if none).
    fits : dict
        ``{(region, cycle): TimeActivityFit, SingleTimePointTIA or PopulationCycleTIA}``.
    dose_rates : dict
        ``{region: [dose-rate history per cycle]}`` as consumed by :func:`~.bed.bed`.
    """

    per_cycle: pd.DataFrame
    per_region: pd.DataFrame
    fits: Mapping[tuple[str, int], TimeActivityFit]
    dose_rates: Mapping[str, list]


def multicycle_dosimetry(
    samples: pd.DataFrame,
    *,
    masses_kg: Mapping[str, float | Mapping[int, float]],
    tissues: Mapping[str, str | TissueParameters],
    nuclide: str = "Lu-177",
    model: str | Mapping[str, str | Mapping[int, str]] = "auto",
    single_time_point: str | Mapping[str, str] = "reference",
    population_half_life_h: Any = None,
    half_life_rel_sd: float = 0.0,
    calibration_rel_sd: float | Mapping[str, float] = 0.0,
    partial_volume_rel_sd: float | Mapping[str, float] = 0.0,
    systematic_correlated_across_cycles: bool = True,
    tia_estimates: Mapping[tuple[str, int], PopulationCycleTIA] | None = None,
) -> MultiCycleDosimetry:
    r"""Dose, BED and EQD2 per region over several therapy cycles.

    Parameters
    ----------
    samples : pandas.DataFrame
        Tidy time-activity samples with columns ``cycle`` (int), ``region`` (str), ``time_h`` (h
        after administration of that cycle) and ``activity_mbq`` (MBq in the region); optional
        ``activity_sd_mbq`` (MBq, > 0) weights the fits and makes σ known.
    masses_kg : mapping
        Region mass (kg) for each region in ``samples``: one number, or a mapping cycle → kg
        (per-cycle masses, e.g. from :func:`~.samples.masses_by_region_and_cycle`).
    tissues : mapping
        Tissue preset name (see :func:`~.tissues.list_tissues`) or :class:`TissueParameters` per
        region; gives α/β (Gy) and the repair half-time (h).
    nuclide : str, default "Lu-177"
        Radionuclide (physical half-life bounds the fitted clearance; its mean non-penetrating
        energy gives the local-deposition S value).
    model : str or mapping, default "auto"
        Time-activity model passed to :func:`~.kinetics.fit_time_activity` for cycles with >= 2
        samples: one name for every region, a mapping region → model name, or region →
        {cycle: model name} (per-cycle choice). Anything not given uses ``"auto"``. For a cycle
        with one sample, a per-cycle value in ``SINGLE_TIME_POINT_METHODS`` overrides
        ``single_time_point``.
    single_time_point : {"reference", "madsen", "hanscheid"} or mapping, default "reference"
        Method for cycles with one sample (per region if a mapping): ``"reference"`` rescales the
        region's first cycle with an acceptable exponential fit through the point (hybrid
        schedule; :func:`~.single_time_point.reference_curve_tia`); ``"madsen"`` uses
        ``population_half_life_h``; ``"hanscheid"`` needs nothing (its SE needs
        ``population_half_life_h``). ``"reference"`` without a reference cycle falls back to
        ``"madsen"`` when ``population_half_life_h`` is given, else ``"hanscheid"``, with a
        :class:`DosimetryWarning`.
    population_half_life_h : float, (mean, sd) or mapping region → those, optional
        Population effective half-life and its SD (h) for the Madsen / Hänscheid methods.
    half_life_rel_sd : float, default 0
        Stated relative SD of T_eff between the reference cycle and a single-time-point cycle
        (``"reference"`` method).
    calibration_rel_sd, partial_volume_rel_sd : float or mapping region → float, default 0
        Stated relative SDs (fractions) of the activity calibration and partial-volume
        correction, added to each cycle's TIA SE in quadrature.
    systematic_correlated_across_cycles : bool, default True
        Treat the calibration and partial-volume errors of a region as the same in every cycle
        (same camera calibration and region volume), so they add linearly over cycles in the
        course SE; ``False`` treats them as independent between cycles.
    tia_estimates : mapping of (region, cycle) to PopulationCycleTIA, optional
        TIAs already estimated elsewhere, typically by the population fit
        (:meth:`~.population_kinetics.PopulationKineticsFit.tia_estimates`). Those cycles are not
        refitted: their TIA is the posterior mean, their statistical SE the posterior SD
        (``tia_se_components["fit"]``), and ``calibration_rel_sd``/``partial_volume_rel_sd``
        given here are added as for any other cycle; ``method`` is ``"population"``. The
        region's rows must still be in ``samples`` (they give the cycles and ``n_points``).

    Returns
    -------
    MultiCycleDosimetry

    Warns
    -----
    DosimetryWarning
        A cycle has no statistical TIA SE (trapezoid without ``activity_sd_mbq``, Hänscheid without
        a stated spread, singular covariance): it is left out of the course's statistical SE and
        named in ``se_excluded_cycles``; or a single-time-point cycle fell back to another method.

    Notes
    -----
    Absorbed dose per cycle is :math:`D = \tilde A \cdot S` with the local-deposition S value
    (MIRD Pamphlet 21, Bolch et al. 2009, J Nucl Med 50:477); photon and cross-organ dose are not
    included. BED per cycle is :math:`D + G D^2/(\alpha/\beta)` with the Lea–Catcheside G of the
    fitted dose-rate history (Dale 1985, Br J Radiol 58:515; Baechler et al. 2008, Med Phys
    35:1123), and the multi-cycle BED is the sum of per-cycle BEDs, valid when cycles are far apart
    compared with the repair and clearance times.

    *Uncertainty.* Per cycle, :math:`u_{sys}^2 = u_{cal}^2 + u_{PV}^2` and
    :math:`\mathrm{se}(D_c)^2 = S^2\,\mathrm{se}_{fit}(\tilde A_c)^2 + (u_{sys} D_c)^2` (GUM,
    JCGM 100:2008 §5.1; the S value is taken as exact). BED by the delta method with the BED
    derivative :math:`b_c = \partial BED_c/\partial D_c = 1 + 2 G_c D_c/(\alpha/\beta)` (G does
    not depend on the dose scale; Dale 1985): :math:`\mathrm{se}(BED_c) = b_c\,
    \mathrm{se}(D_c)`. This is exact to first order for scale errors (calibration,
    partial volume) and neglects the change of G with the curve shape for fit errors. Course:
    statistical parts independent between cycles, systematic parts fully correlated (default),

    .. math:: \mathrm{Var}(BED) = \sum_c b_c^2 S^2 \mathrm{se}_{fit,c}^2 +
              \Big(\sum_c b_c u_{sys} D_c\Big)^2,

    and the same with :math:`b_c = 1` for the total dose. A cycle with an unknown statistical SE
    is left out of the first sum (warning) instead of making the course SE NaN.
    EQD2 follows Withers et al. 1983 (Int J Radiat Oncol Biol Phys 9:1339).
    """
    frame = _validated_samples(samples)
    regions = list(dict.fromkeys(frame["region"]))
    missing_mass = [r for r in regions if r not in masses_kg]
    missing_tissue = [r for r in regions if r not in tissues]
    if missing_mass or missing_tissue:
        raise DataValidationError(
            "every region needs a mass and a tissue: missing masses_kg for "
            f"{missing_mass or 'none'}, missing tissues for {missing_tissue or 'none'}."
        )
    rel_sd = check_scalar(half_life_rel_sd, "half_life_rel_sd", nonnegative=True)

    cycle_rows, region_rows = [], []
    fits: dict[tuple[str, int], TimeActivityFit | SingleTimePointTIA] = {}
    dose_rates: dict[str, list] = {}
    for region in regions:
        tissue = _tissue(tissues[region])
        region_mass = masses_kg[region]
        u_cal = _per_region(calibration_rel_sd, region, "calibration_rel_sd")
        u_pv = _per_region(partial_volume_rel_sd, region, "partial_volume_rel_sd")
        u_sys = math.hypot(u_cal, u_pv)
        population = _population(population_half_life_h, region)
        stp_method = _stp_method(single_time_point, region)
        histories, doses, cycle_beds = [], [], []
        var_fit_dose = var_fit_bed = 0.0
        sys_dose, sys_bed = [], []
        excluded: list[str] = []
        reference: TimeActivityFit | None = None
        masses: list[float] = []
        for cycle, group in frame[frame["region"] == region].groupby("cycle", sort=True):
            group = group.sort_values("time_h")
            times = group["time_h"].to_numpy(float)
            acts = group["activity_mbq"].to_numpy(float)
            sd = (
                group["activity_sd_mbq"].to_numpy(float)
                if "activity_sd_mbq" in group.columns
                else None
            )
            where = f"region {region!r}, cycle {int(cycle)}"
            mass = _cycle_mass(region_mass, region, int(cycle))
            s_value = local_deposition_s_value(nuclide, mass)
            masses.append(mass)
            requested = _cycle_model(model, region, int(cycle))
            given = None if tia_estimates is None else tia_estimates.get((region, int(cycle)))
            if given is not None:
                fit = _checked_estimate(given, where)
                method, acceptable, selection, flags = "population", True, "population fit", ""
                se_fit = fit.tia_se_components["fit"]
            elif times.size == 1:
                fit = _single_point(
                    requested if requested in SINGLE_TIME_POINT_METHODS else stp_method,
                    acts[0], times[0], reference, population, rel_sd,
                    None if sd is None else sd[0] / acts[0] if acts[0] > 0 else 0.0,
                    u_cal, u_pv, where,
                )
                method, acceptable, selection, flags = fit.model, True, fit.method, ""
                se_fit = fit.time_integrated_activity_se
                if se_fit is not None:  # statistical part: total minus the stated systematic
                    se_fit = math.sqrt(max(
                        se_fit**2 - fit.tia_se_components["calibration"] ** 2
                        - fit.tia_se_components["partial_volume"] ** 2, 0.0))
            else:
                fit = fit_time_activity(
                    times,
                    acts,
                    model=requested,
                    nuclide=nuclide,
                    activity_sd=sd,
                    calibration_rel_sd=u_cal,
                    partial_volume_rel_sd=u_pv,
                )
                method, acceptable = "fit", fit.acceptable
                selection, flags = fit.selection_rule, ";".join(fit.flags)
                se_fit = fit.tia_se_components.get("fit")
                if reference is None and fit.rates_per_h is not None and fit.acceptable:
                    reference = fit
            history = fit.dose_rate(s_value)
            g = g_factor(history, tissue.repair_half_time)
            dose = fit.time_integrated_activity * s_value
            slope = 1.0 + 2.0 * g * dose / tissue.alpha_beta
            tia_se = fit.time_integrated_activity_se
            if given is not None:  # systematic parts as stated here, not as in the estimate
                tia_se = math.hypot(se_fit, u_sys * fit.time_integrated_activity)
            in_se = se_fit is not None
            if in_se:
                var_fit_dose += (se_fit * s_value) ** 2
                var_fit_bed += (slope * se_fit * s_value) ** 2
                dose_se = math.hypot(se_fit * s_value, u_sys * dose)
            else:
                excluded.append(str(int(cycle)))
                dose_se = math.nan
                warnings.warn(
                    f"{where}: no statistical TIA standard error ({_se_reason(fit)}); the cycle "
                    "is left out of the course dose/BED SE, which is then a lower bound. Give "
                    "activity_sd_mbq, or a population half-life spread for single-time-point "
                    "cycles.",
                    DosimetryWarning,
                    stacklevel=2,
                )
            sys_dose.append(u_sys * dose)
            sys_bed.append(slope * u_sys * dose)
            cycle_bed = bed(
                history, alpha_beta=tissue.alpha_beta, repair_half_time=tissue.repair_half_time
            )
            fits[(region, int(cycle))] = fit
            histories.append(history)
            doses.append(dose)
            cycle_beds.append(cycle_bed)
            cycle_rows.append(
                {
                    "region": region,
                    "cycle": int(cycle),
                    "model": fit.model,
                    "tia_mbq_h": fit.time_integrated_activity,
                    "tia_se_mbq_h": math.nan if tia_se is None else tia_se,
                    "effective_half_life_h": fit.effective_half_life
                    if isinstance(fit, TimeActivityFit) else fit.effective_half_life_h,
                    "mass_kg": mass,
                    "s_value_gy_per_mbq_h": s_value,
                    "dose_gy": dose,
                    "dose_se_gy": dose_se,
                    "g_factor": g,
                    "bed_gy": cycle_bed,
                    "bed_se_gy": slope * dose_se,
                    "method": method,
                    "n_points": int(times.size),
                    "acceptable": acceptable,
                    "selection_rule": selection,
                    "flags": flags,
                    "tia_se_fit_mbq_h": math.nan if se_fit is None else se_fit,
                    "calibration_rel_sd": u_cal,
                    "partial_volume_rel_sd": u_pv,
                    "in_course_se": in_se,
                }
            )
        dose_rates[region] = histories
        total_bed = bed(
            histories, alpha_beta=tissue.alpha_beta, repair_half_time=tissue.repair_half_time
        )
        combine = _linear_sum if systematic_correlated_across_cycles else _quadrature_sum
        region_rows.append(
            {
                "region": region,
                "tissue": tissue.name,
                "n_cycles": len(histories),
                "mass_kg": masses[0] if len(set(masses)) == 1 else math.nan,
                "dose_gy": float(np.sum(doses)),
                "dose_se_gy": math.sqrt(var_fit_dose + combine(sys_dose) ** 2),
                "bed_gy": total_bed,
                "bed_se_gy": math.sqrt(var_fit_bed + combine(sys_bed) ** 2),
                "eqd2_gy": float(eqd(total_bed, alpha_beta=tissue.alpha_beta)),
                "alpha_beta_gy": tissue.alpha_beta,
                "repair_half_time_h": tissue.repair_half_time,
                "parameter_source": tissue.source,
                "se_excluded_cycles": ",".join(excluded),
            }
        )
    return MultiCycleDosimetry(
        per_cycle=pd.DataFrame(cycle_rows),
        per_region=pd.DataFrame(region_rows),
        fits=fits,
        dose_rates=dose_rates,
    )


def _single_point(
    method: str,
    activity: float,
    time: float,
    reference: TimeActivityFit | None,
    population: tuple[float, float] | None,
    half_life_rel_sd: float,
    activity_rel_sd: float | None,
    u_cal: float,
    u_pv: float,
    where: str,
) -> SingleTimePointTIA:
    extra = {
        "activity_rel_sd": activity_rel_sd or 0.0,
        "calibration_rel_sd": u_cal,
        "partial_volume_rel_sd": u_pv,
    }
    if method == "reference" and reference is None:
        method = "madsen" if population is not None else "hanscheid"
        warnings.warn(
            f"{where}: single time point but no earlier cycle of this region has an acceptable "
            f"exponential fit to serve as reference; using the {method} method instead.",
            DosimetryWarning,
            stacklevel=3,
        )
    if method == "reference":
        return reference_curve_tia(
            activity, time, reference, half_life_rel_sd=half_life_rel_sd, **extra
        )
    if method == "madsen":
        if population is None:
            raise DataValidationError(
                f"{where}: single_time_point='madsen' needs population_half_life_h=(mean, sd) "
                "in h (or a mapping region -> (mean, sd))."
            )
        return madsen_tia(activity, time, population[0], population[1], **extra)
    mean, sd = population if population is not None else (None, None)
    return hanscheid_tia(
        activity, time, effective_half_life_h=mean, effective_half_life_sd_h=sd, **extra
    )


def _checked_estimate(value: Any, where: str) -> PopulationCycleTIA:
    if not isinstance(value, PopulationCycleTIA):
        raise DataValidationError(
            f"tia_estimates for {where} must be a PopulationCycleTIA (from "
            f"PopulationKineticsFit.tia_estimates); got {type(value).__name__}."
        )
    return value


def _se_reason(fit: TimeActivityFit | SingleTimePointTIA) -> str:
    if isinstance(fit, TimeActivityFit):
        return fit.tia_se_note
    return "; ".join(fit.notes)


def _linear_sum(values: list[float]) -> float:
    return float(np.sum(values))


def _quadrature_sum(values: list[float]) -> float:
    return float(np.sqrt(np.sum(np.square(values))))


def _cycle_mass(value: float | Mapping[int, float], region: str, cycle: int) -> float:
    name = f"masses_kg[{region!r}]"
    if isinstance(value, Mapping):
        if cycle not in value:
            raise DataValidationError(
                f"{name} gives per-cycle masses for cycles {sorted(value)} but not cycle "
                f"{cycle}; give a mass (kg) for every cycle, or one mass for the region."
            )
        value, name = value[cycle], f"{name}[{cycle}]"
    return check_scalar(value, name, positive=True, unit="kg")


def _per_region(value: float | Mapping[str, float], region: str, name: str) -> float:
    if isinstance(value, Mapping):
        value = value.get(region, 0.0)
        name = f"{name}[{region!r}]"
    return check_scalar(value, name, nonnegative=True)


def _population(value: Any, region: str) -> tuple[float, float] | None:
    if isinstance(value, Mapping):
        value = value.get(region)
    if value is None:
        return None
    if np.ndim(value) == 0:
        mean, sd = value, 0.0
    elif np.shape(value) == (2,):
        mean, sd = value
    else:
        raise DataValidationError(
            f"population_half_life_h for region {region!r} must be a half-life (h) or a "
            f"(mean, sd) pair in h; got {value!r}."
        )
    return (
        check_scalar(mean, "population_half_life_h mean", positive=True, unit="h"),
        check_scalar(sd, "population_half_life_h sd", nonnegative=True, unit="h"),
    )


def _stp_method(value: str | Mapping[str, str], region: str) -> str:
    method = value.get(region, "reference") if isinstance(value, Mapping) else value
    if method not in SINGLE_TIME_POINT_METHODS:
        raise DataValidationError(
            f"single_time_point must be one of {SINGLE_TIME_POINT_METHODS} (per region if a "
            f"mapping); got {method!r} for region {region!r}."
        )
    return method


def _cycle_model(model: str | Mapping, region: str, cycle: int) -> str:
    if isinstance(model, str):
        return model
    chosen = model.get(region, "auto")
    if isinstance(chosen, Mapping):
        chosen = chosen.get(cycle, "auto")
    return chosen


def _tissue(value: str | TissueParameters) -> TissueParameters:
    return value if isinstance(value, TissueParameters) else tissue_parameters(value)


def _validated_samples(samples: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(samples, pd.DataFrame):
        raise DataValidationError(
            f"samples must be a pandas DataFrame with columns {list(_REQUIRED_COLUMNS)}; "
            f"got {type(samples).__name__}."
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in samples.columns]
    if missing:
        raise DataValidationError(
            f"samples is missing column(s) {missing}; it has {list(samples.columns)}."
        )
    columns = list(_REQUIRED_COLUMNS) + (
        ["activity_sd_mbq"] if "activity_sd_mbq" in samples.columns else []
    )
    frame = samples.loc[:, columns].copy()
    frame["region"] = frame["region"].astype(str)
    if frame.empty:
        raise DataValidationError("samples has no rows.")
    return frame
