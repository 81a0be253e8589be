r"""Population view: fixed activity against dosimetry-guided prescription over many patients.

Units: activity GBq per cycle, Gy/GBq, doses Gy, probabilities dimensionless.

Each patient has a *true* Gy/GBq per region and a *measured* one (true × dosimetry error); a
strategy decides the activity per cycle and the number of cycles from the measured values,
and the outcome is judged at the true values. Strategies:

* :func:`fixed` — the same activity and cycles for all (e.g. 4 × 7.4 GBq, NETTER-1);
* :func:`activity_to_limit` — the activity per cycle (fixed cycles) that brings the measured
  course dose of every organ to its tolerance;
* :func:`cycles_to_limit` — fixed activity per cycle, cycles until the measured course dose
  would pass the tolerance (ILUMINET style: Sundlöv et al. 2022, Eur J Nucl Med Mol Imaging
  49(11)); at least one cycle.

An organ's tolerance is a plain dose limit (``limits``) and/or the dose at which its
posterior predictive NTCP equals ``ntcp_limit`` (for the chosen ``which`` view). The guided
rules use the measured Gy/GBq as if exact (the clinical spreadsheet rule); for one patient with
dosimetry uncertainty use :func:`doseresponse.prescribe.prescribe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.prescribe._checks import count, positive_number
from doseresponse.prescribe.plan import describe_view
from doseresponse.prescribe.regions import Region, metric_kind
from doseresponse.prescribe.sources import AlignedCurve, curve_attributes

__all__ = ["Strategy", "activity_to_limit", "compare_strategies", "cycles_to_limit", "fixed"]

_GRID = 1024
"""Doses in each curve's grid (linear interpolation in P between them; rel. error < 2e-3 at
P ~ 0.005, less at larger P)."""

@dataclass(frozen=True)
class Strategy:
    """A prescription rule for a population.

    Build with :func:`fixed`, :func:`activity_to_limit` or :func:`cycles_to_limit`.

    Attributes
    ----------
    rule : {"fixed", "activity-to-limit", "cycles-to-limit"}
        The rule.
    activity_gbq : float or None
        Activity per cycle (GBq) of ``"fixed"`` and ``"cycles-to-limit"``.
    cycles : int or None
        Number of cycles of ``"fixed"`` and ``"activity-to-limit"``.
    max_cycles : int or None
        Most cycles of ``"cycles-to-limit"``.
    max_activity_gbq : float
        Largest activity per cycle (GBq) of ``"activity-to-limit"``.
    limits : dict or None
        ``{region: (dose Gy, metric)}`` replacing the common tolerances for this rule's
        decision; None uses the common ones.
    """

    rule: str
    activity_gbq: float | None = None
    cycles: int | None = None
    max_cycles: int | None = None
    max_activity_gbq: float = 30.0
    limits: dict[str, tuple[float, str]] | None = None


def fixed(activity_gbq: float, cycles: int) -> Strategy:
    """Fixed regimen: ``cycles`` × ``activity_gbq`` (GBq) for every patient.

    Parameters
    ----------
    activity_gbq : float
        Activity per cycle (GBq), > 0.
    cycles : int
        Number of cycles, >= 1.

    Returns
    -------
    Strategy
        The rule, for :func:`~doseresponse.prescribe.strategies.compare_strategies`.
    """
    return Strategy("fixed", activity_gbq=positive_number(activity_gbq, "activity_gbq"),
                    cycles=count(cycles, "cycles"))


def activity_to_limit(
    cycles: int,
    *,
    max_activity_gbq: float = 30.0,
    limits: Mapping[str, tuple[float, str]] | None = None,
) -> Strategy:
    """Guided by activity: the activity per cycle that reaches the tightest tolerance.

    Per patient, the activity per cycle (GBq, <= ``max_activity_gbq``) whose measured course
    dose reaches the tightest organ tolerance in ``cycles`` cycles. ``limits`` (e.g.
    ``{"kidney": (23.0, "BED")}``, Gy) replaces the common tolerances for this rule's decision
    only; outcomes are still judged against the common ones.

    Parameters
    ----------
    cycles : int
        Number of cycles, >= 1.
    max_activity_gbq : float, default 30.0
        Largest activity per cycle (GBq), > 0.
    limits : mapping of str to (float, str), optional
        ``{region: (dose Gy, metric)}`` for this rule's decision only.

    Returns
    -------
    Strategy
        The rule, for :func:`~doseresponse.prescribe.strategies.compare_strategies`.
    """
    return Strategy("activity-to-limit", cycles=count(cycles, "cycles"),
                    max_activity_gbq=positive_number(max_activity_gbq, "max_activity_gbq"),
                    limits=_check_limits(limits))


def cycles_to_limit(
    activity_per_cycle: float,
    max_cycles: int,
    *,
    limits: Mapping[str, tuple[float, str]] | None = None,
) -> Strategy:
    """Guided by cycles: cycles of a fixed activity until the tolerance would be passed.

    ``activity_per_cycle`` (GBq) cycles while the measured course dose stays within every
    organ tolerance, at least 1 and at most ``max_cycles``. ``limits`` (e.g. ILUMINET's
    ``{"kidney": (23.0, "BED")}``, Gy) replaces the common tolerances for this rule's decision
    only; outcomes are still judged against the common ones.

    Parameters
    ----------
    activity_per_cycle : float
        Activity per cycle (GBq), > 0.
    max_cycles : int
        Most cycles, >= 1.
    limits : mapping of str to (float, str), optional
        ``{region: (dose Gy, metric)}`` for this rule's decision only.

    Returns
    -------
    Strategy
        The rule, for :func:`~doseresponse.prescribe.strategies.compare_strategies`.
    """
    return Strategy("cycles-to-limit",
                    activity_gbq=positive_number(activity_per_cycle, "activity_per_cycle"),
                    max_cycles=count(max_cycles, "max_cycles"), limits=_check_limits(limits))


def _check_limits(limits: Any) -> dict[str, tuple[float, str]] | None:
    if limits is None:
        return None
    if not isinstance(limits, Mapping) or not limits:
        raise DoseResponseError(
            f"limits must be a mapping region -> (dose Gy, metric); got {limits!r}."
        )
    out = {}
    for region, spec in limits.items():
        if not (isinstance(spec, (tuple, list)) and len(spec) == 2):
            raise DoseResponseError(
                f"limits[{region!r}] must be (dose in Gy, metric), e.g. (23.0, 'BED'); got "
                f"{spec!r}."
            )
        metric_kind(spec[1], where=f"limits[{region!r}]")
        out[str(region)] = (positive_number(spec[0], f"limits[{region!r}]"), str(spec[1]))
    return out


def compare_strategies(
    population: pd.DataFrame | Mapping[str, Any],
    strategies: Mapping[str, Strategy],
    *,
    regions: Mapping[str, Region],
    tcp: Mapping[str, Any] | None = None,
    ntcp: Mapping[str, Any] | None = None,
    limits: Mapping[str, tuple[float, str]] | None = None,
    ntcp_limit: float | None = 0.05,
    which: str = "new_study",
    new_study: str = "averaged",
    tolerance: float = 0.10,
    n_draws: int = 1000,
    ci_prob: float = DEFAULT_CI_PROB,
    random_seed: int = 20240917,
) -> pd.DataFrame:
    r"""Expected tumour control, toxicity and mis-treatment of each strategy over a population.

    Parameters
    ----------
    population : DataFrame or mapping
        One row per patient: a column per region with the *true* Gy/GBq (> 0), and optionally
        ``"<region> measured"`` with the measured Gy/GBq (default: the true value).
    strategies : mapping of str to Strategy
        E.g. ``{"fixed 4 x 7.4": rx.fixed(7.4, 4), "ILUMINET": rx.cycles_to_limit(7.4, 9)}``.
    regions : mapping of str to Region
        Kinetics and radiobiology per region (their Gy/GBq is replaced by each patient's).
    tcp, ntcp : mapping of str to curve source, optional
        TCP and NTCP curves by region (``dr.FittedModel`` or ``dr.ResponseCurve``).
    limits : mapping of str to (float, str), optional
        Plain tolerance doses, e.g. ``{"kidney": (23.0, "BED")}`` (Gy).
    ntcp_limit : float or None, default 0.05
        NTCP defining each NTCP organ's tolerance dose (predictive risk = ntcp_limit).
    which, new_study : str
        Prediction view of every curve (see :func:`doseresponse.prescribe.prescribe`).
    tolerance : float, default 0.10
        Over-treated: some organ's true course dose above (1 + tolerance) × its tolerance;
        under-treated: every organ below (1 − tolerance) × its tolerance.
    n_draws : int, default 1000
        Posterior draws used (a seeded subsample of larger posteriors).
    ci_prob : float, default 0.95
        Probability of the intervals (over posterior draws) of the population means.
    random_seed : int, default 20240917
        Seed of the draw subsample and new-centre effects.

    Returns
    -------
    pandas.DataFrame
        One row per strategy: mean activity per cycle, mean cycles, mean total activity (GBq);
        per TCP/NTCP curve the population mean of the patients' predictive probabilities
        (``<kind> <region> mean``) with its interval over draws (``lower``/``upper``); the
        fractions over- and under-treated and with predictive NTCP above ``ntcp_limit``.
        ``attrs`` holds the tolerance doses, views and definitions.

    Notes
    -----
    Outcomes are evaluated at the true Gy/GBq. The population mean for draw :math:`s` is
    :math:`\bar P_s = n^{-1}\sum_i P_s(d_i)`; its mean over draws is the predictive population
    risk and its quantiles the interval. Independence across organs is not needed here (no
    P+).
    """
    tcp = dict(tcp or {})
    ntcp = dict(ntcp or {})
    if not isinstance(regions, Mapping) or not regions:
        raise DoseResponseError("regions must be a non-empty mapping of names to rx.Region.")
    names = tuple(regions)
    for arg, mapping in (("tcp", tcp), ("ntcp", ntcp), ("limits", dict(limits or {}))):
        for key in mapping:
            if key not in names:
                raise UnknownNameError(
                    f"unknown region {key!r} in {arg}=; the regions are: {', '.join(names)}."
                )
    if not strategies:
        raise DoseResponseError("strategies must name at least one rx.fixed/... strategy.")
    true, measured = _population(population, names)
    n_pat = next(iter(true.values())).size
    rng = np.random.default_rng(random_seed)

    # tolerance doses per organ (Gy, in each metric)
    tolerances: list[tuple[str, float, str, str]] = []  # region, dose, metric, source
    curves = []
    for role, mapping in (("TCP", tcp), ("NTCP", ntcp)):
        for region, source in mapping.items():
            attrs = curve_attributes(source, f"{role.lower()}[{region!r}]")
            metric_kind(attrs["dose_metric"], where=f"{role.lower()}[{region!r}]")
            top = _max_dose(regions[region], attrs["dose_metric"], true[region], strategies)
            ev = AlignedCurve(source, which=which, new_study=new_study, covariates=None,
                              dose_max=top, random_seed=random_seed, exact=False,
                              grid_size=_GRID)
            ev.align(min(n_draws, ev.n_source) if ev.n_source > 1 else 1, rng)
            curves.append((role, region, attrs, ev))
    n = max((ev.n for *_, ev in curves), default=1)
    for c in curves:  # re-align everything to a common n
        c[3].align(n, rng)
    if ntcp_limit is not None:
        for role, region, attrs, ev in curves:
            if role == "NTCP":
                tolerances.append((region, _predictive_dose(ev, ntcp_limit),
                                   attrs["dose_metric"], f"predictive NTCP = {ntcp_limit:g}"))
    for region, (value, metric) in dict(limits or {}).items():
        metric_kind(metric, where=f"limits[{region!r}]")
        limit = positive_number(value, f"limits[{region!r}]")
        tolerances.append((region, limit, metric, "dose limit"))
    if not tolerances:
        raise DoseResponseError(
            "no organ tolerance: give ntcp= curves with ntcp_limit, or limits=."
        )

    lo_q, hi_q = (1.0 - ci_prob) / 2.0, (1.0 + ci_prob) / 2.0
    rows = []
    for label, strat in strategies.items():
        if not isinstance(strat, Strategy):
            raise DoseResponseError(
                f"strategies[{label!r}] must be rx.fixed(...), rx.activity_to_limit(...) or "
                f"rx.cycles_to_limit(...); got {type(strat).__name__}."
            )
        if strat.limits is not None:
            for region in strat.limits:
                if region not in names:
                    raise UnknownNameError(
                        f"unknown region {region!r} in the limits of strategies[{label!r}]; "
                        f"the regions are: {', '.join(names)}."
                    )
            rule_tol = [(r, v, m, "strategy limit") for r, (v, m) in strat.limits.items()]
        else:
            rule_tol = tolerances
        activity, cycles = _decide(strat, regions, measured, rule_tol, n_pat)
        row: dict[str, Any] = {
            "strategy": label, "rule": strat.rule,
            "activity_per_cycle_mean": float(activity.mean()),
            "cycles_mean": float(cycles.mean()),
            "total_activity_mean": float((activity * cycles).mean()),
        }
        for role, region, attrs, ev in curves:
            dose = _course(regions[region], activity, cycles, attrs["dose_metric"], true[region])
            per_draw = _population_mean(ev, dose)
            key = f"{role} {region}"
            row[f"{key} mean"] = float(per_draw.mean())
            row[f"{key} lower"] = float(np.quantile(per_draw, lo_q))
            row[f"{key} upper"] = float(np.quantile(per_draw, hi_q))
        over = np.zeros(n_pat, dtype=bool)
        under = np.ones(n_pat, dtype=bool)
        for region, tol, metric, _ in tolerances:
            dose = _course(regions[region], activity, cycles, metric, true[region])
            over |= dose > (1.0 + tolerance) * tol
            under &= dose < (1.0 - tolerance) * tol
        row["over-treated"] = float(over.mean())
        row["under-treated"] = float(under.mean())
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs.update(
        n_patients=n_pat, n_draws=n, ci_prob=ci_prob, tolerance=tolerance,
        view=describe_view(which, new_study),
        tolerances=[{"region": r, "dose_gy": d, "metric": m, "source": s}
                    for r, d, m, s in tolerances],
        definitions=(
            "means are over patients of each patient's predictive probability at the true "
            "Gy/GBq; lower/upper: interval over posterior draws; over-treated: some organ's "
            f"true dose > (1+{tolerance:g}) x tolerance; under-treated: every organ's true dose "
            f"< (1-{tolerance:g}) x tolerance"
        ),
    )
    return frame


# --------------------------------------------------------------------------------------------
# private
# --------------------------------------------------------------------------------------------


def _population(population: Any, names: tuple[str, ...]) -> tuple[dict, dict]:
    frame = pd.DataFrame(population)
    true, measured = {}, {}
    for name in names:
        if name not in frame:
            raise DoseResponseError(
                f"population has no column {name!r} (true Gy/GBq of region {name!r}); columns "
                f"are: {', '.join(map(str, frame.columns))}."
            )
        t = frame[name].to_numpy(dtype=np.float64)
        m = frame[f"{name} measured"].to_numpy(dtype=np.float64) if (
            f"{name} measured" in frame) else t
        for arr, what in ((t, name), (m, f"{name} measured")):
            if not np.all(np.isfinite(arr) & (arr > 0)):
                raise DoseResponseError(f"population[{what!r}] must be finite and > 0 (Gy/GBq).")
        true[name], measured[name] = t, m
    if len(frame) == 0:
        raise DoseResponseError("population has no patients.")
    return true, measured


def _course(region: Region, activity: np.ndarray, cycles: np.ndarray, metric: str,
            g: np.ndarray) -> np.ndarray:
    """Course dose (Gy) per patient with per-patient activity, cycles and Gy/GBq."""
    unit = Region(1.0, effective_half_life=region.effective_half_life,
                  alpha_beta=region.alpha_beta, repair_half_time=region.repair_half_time,
                  uptake_half_life=region.uptake_half_life)
    out = np.empty(activity.size)
    for k in np.unique(cycles):
        sel = cycles == k
        out[sel] = unit.course_dose(activity[sel], int(k), metric, g[sel])
    return out


def _decide(strat: Strategy, regions: Mapping[str, Region], measured: dict,
            tolerances: list, n_pat: int) -> tuple[np.ndarray, np.ndarray]:
    if strat.rule == "fixed":
        return np.full(n_pat, strat.activity_gbq), np.full(n_pat, strat.cycles)
    if strat.rule == "activity-to-limit":
        a = np.full(n_pat, strat.max_activity_gbq)
        for region, tol, metric, _ in tolerances:
            r = regions[region]
            unit = Region(1.0, effective_half_life=r.effective_half_life,
                          alpha_beta=r.alpha_beta, repair_half_time=r.repair_half_time,
                          uptake_half_life=r.uptake_half_life)
            a = np.minimum(a, unit.activity_for_dose(np.full(n_pat, tol), strat.cycles, metric,
                                                     measured[region]))
        return a, np.full(n_pat, strat.cycles)
    a = np.full(n_pat, strat.activity_gbq)
    n = np.ones(n_pat, dtype=int)
    for k in range(2, strat.max_cycles + 1):
        ok = np.ones(n_pat, dtype=bool)
        kk = np.full(n_pat, k)
        for region, tol, metric, _ in tolerances:
            ok &= _course(regions[region], a, kk, metric, measured[region]) <= tol
        n = np.where(ok & (n == k - 1), k, n)
    return a, n


def _population_mean(ev: AlignedCurve, dose: np.ndarray) -> np.ndarray:
    r"""Per draw, the mean over patients of P at their doses (Gy).

    Linear interpolation in P between the grid doses makes the patient sum a weighted sum of
    the grid columns, :math:`\sum_i P_s(d_i) = \sum_j c_j P_s(g_j)`, one matrix-vector product.
    """
    grid = ev._log_grid
    size = grid.size
    with np.errstate(divide="ignore"):
        pos = (np.log(np.maximum(dose, 1e-300)) - grid[0]) / (grid[1] - grid[0])
    pos = np.clip(pos, 0.0, size - 1.0)
    i = np.minimum(pos.astype(np.intp), size - 2)
    w = pos - i
    weights = np.bincount(i, 1.0 - w, size) + np.bincount(i + 1, w, size)
    return expit(ev._logit) @ weights / dose.size


def _predictive_dose(ev: AlignedCurve, p: float) -> float:
    """Dose (Gy) at which the mean over draws of P equals ``p``."""
    grid = np.exp(ev._log_grid)

    def excess(d: float) -> float:
        return float(ev.probability(np.full(ev.n, d)).mean()) - p

    lo, hi = grid[0], grid[-1]
    if excess(lo) > 0 or excess(hi) < 0:
        raise DoseResponseError(
            f"the predictive NTCP does not cross ntcp_limit={p:g} between {lo:.3g} and "
            f"{hi:.3g} Gy; check the curve and ntcp_limit."
        )
    return float(brentq(excess, lo, hi, xtol=1e-12, rtol=1e-12))


def _max_dose(region: Region, metric: str, g: np.ndarray, strategies: Mapping) -> float:
    a_top = max([30.0] + [s.max_activity_gbq for s in strategies.values()
                          if isinstance(s, Strategy)]
                + [s.activity_gbq or 0.0 for s in strategies.values() if isinstance(s, Strategy)])
    n_top = max([1] + [s.cycles or 0 for s in strategies.values() if isinstance(s, Strategy)]
                + [s.max_cycles or 0 for s in strategies.values() if isinstance(s, Strategy)])
    unit = Region(1.0, effective_half_life=region.effective_half_life,
                  alpha_beta=region.alpha_beta, repair_half_time=region.repair_half_time,
                  uptake_half_life=region.uptake_half_life)
    return float(unit.course_dose(a_top, n_top, metric, float(np.max(g)) * 1.5))



