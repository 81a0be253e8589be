r"""The prescription: from TCP/NTCP curves and a patient's dosimetry to the activity to give.

Units: activity GBq per cycle, doses Gy (of each curve's own dose metric), probabilities
dimensionless.

Every quantity is computed over :math:`S` draws :math:`s`: the posterior draws of each curve
(paired across curves; a fixed curve is one draw) together with draws of the patient's true
Gy/GBq (log-normal around the measured value, see :mod:`.regions`). Decisions use the
expectation over draws: the posterior predictive risk :math:`\bar P(A) = S^{-1}\sum_s
P_s(d_s(A))`, which is monotone in the activity :math:`A`, so constraints are solved by root
finding (:func:`scipy.optimize.brentq`) and P+ by bounded optimisation
(:func:`scipy.optimize.minimize_scalar`) on a bracket from a scan. Theory and sources:
``docs/theory/prescription.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.response_curve import ResponseCurve
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.prescribe._checks import count, positive_number
from doseresponse.prescribe.plan import Plan, describe_view
from doseresponse.prescribe.regions import Region, dosimetry_factors, metric_kind
from doseresponse.prescribe.sources import AlignedCurve, curve_attributes

__all__ = ["OBJECTIVES", "prescribe"]

OBJECTIVES = ("ntcp-limit", "max-p-plus", "target-tcp")
"""Valid values of ``objective``."""

_WHICH_VIEWS = ("spread", "averaged")
_SCAN = 65
_BISECT = 48
_GOLDEN = 40
_TABLE = 41
_TIE = 1e-9
"""Probabilities within this of the limit count as meeting it (root-finding tolerance)."""


def prescribe(
    regions: Mapping[str, Region],
    *,
    cycles: int | None = None,
    activity_per_cycle: float | None = None,
    max_cycles: int | None = None,
    tcp: Mapping[str, Any] | None = None,
    ntcp: Mapping[str, Any] | None = None,
    limits: Mapping[str, Any] | None = None,
    objective: str = "ntcp-limit",
    ntcp_limit: float | None = 0.05,
    risk: float | None = None,
    target_tcp: float | None = None,
    which: str | Mapping[str, str] = "new_study",
    new_study: str = "averaged",
    covariates: Mapping[str, Mapping[str, float]] | None = None,
    ci_prob: float = DEFAULT_CI_PROB,
    max_activity_gbq: float = 30.0,
    n_dosimetry_draws: int = 4000,
    random_seed: int = 20240917,
) -> Plan:
    r"""The activity per cycle (or the number of cycles) to give one patient, with its risks.

    Parameters
    ----------
    regions : mapping of str to Region
        The patient's regions (organs, lesions) by name, e.g. ``{"kidney": Region(0.46, ...)}``.
    cycles : int, optional
        Number of cycles when the decision is the activity per cycle (default 4).
    activity_per_cycle : float, optional
        Activity per cycle (GBq, > 0): the decision is then the number of cycles, from 1 to
        ``max_cycles`` (required). Give either this or ``cycles``.
    max_cycles : int, optional
        Largest number of cycles (with ``activity_per_cycle``), >= 1.
    tcp : mapping of str to curve source, optional
        Tumour-control curves by region name (a ``dr.FittedModel`` or ``dr.ResponseCurve`` of
        kind ``"TCP"``). Several tumour regions combine as the probability of controlling all:
        :math:`\prod_j TCP_j` (independence).
    ntcp : mapping of str to curve source, optional
        Toxicity curves by region name (kind ``"NTCP"``).
    limits : mapping of str to float or (float, str), optional
        Plain dose-metric limits by region, e.g. ``{"kidney": 23.0}`` (Gy, in the metric of the
        region's NTCP curve) or ``{"kidney": (23.0, "BED")}``.
    objective : {"ntcp-limit", "max-p-plus", "target-tcp"}, default "ntcp-limit"
        ``"ntcp-limit"``: the largest activity meeting every constraint. ``"max-p-plus"``: the
        activity maximising the expected uncomplicated control
        :math:`P_+ = TCP\prod_k(1-NTCP_k)` subject to the constraints. ``"target-tcp"``: the
        smallest activity with expected TCP >= ``target_tcp`` (flagged if it breaks a
        constraint).
    ntcp_limit : float or None, default 0.05
        NTCP limit applied to every ``ntcp`` curve (probability in (0, 1)); None: no NTCP
        constraint (e.g. the unconstrained P+ optimum).
    risk : float, optional
        Overdose control: require :math:`P(NTCP > \text{ntcp\_limit}) \le` ``risk`` over the
        draws (and, for ``limits``, P(dose > limit) <= risk) instead of expected NTCP <=
        ``ntcp_limit`` (and the limit met at the measured Gy/GBq). In (0, 1).
    target_tcp : float, optional
        Target expected TCP for ``"target-tcp"``, in (0, 1).
    which : str or mapping of str to str, default "new_study"
        Prediction of each curve: ``"population"`` (typical centre), ``"new_study"`` (a new
        centre) or a study label; one value for all curves or one per region.
    new_study : {"averaged", "spread"}, default "averaged"
        For ``which="new_study"``: ``"averaged"`` integrates the new centre's effect out per
        draw (the risk for a patient there, parameter uncertainty only in the intervals);
        ``"spread"`` draws one new-centre effect per draw. Expectations agree.
    covariates : mapping of str to mapping, optional
        Covariate values per region's curve, e.g. ``{"kidney": {"hypertension": 1}}``.
    ci_prob : float, default 0.95
        Probability of every reported interval (equal-tailed over draws).
    max_activity_gbq : float, default 30.0
        Upper bound of the activity per cycle searched (GBq, > 0).
    n_dosimetry_draws : int, default 4000
        Number of draws when only the dosimetry is uncertain (fewer than this many posterior
        draws); the plan uses ``max(posterior draws, n_dosimetry_draws)`` draws then.
    random_seed : int, default 20240917
        Seed of every random draw (dosimetry, resampling, new-centre effects).

    Returns
    -------
    Plan
        The decision (``activity_gbq``, ``cycles``), what limits it (``limiting``), per-region
        doses and per-curve probabilities with intervals, the per-draw optimum, and what each
        number is.

    Raises
    ------
    DoseResponseError
        On invalid input, naming the argument: a negative Gy/GBq (from :class:`Region`), an
        unknown region in ``tcp``/``ntcp``/``limits``/``covariates``/``which``, a curve whose
        dose metric a region cannot compute, a constraint no activity meets (e.g. expected
        NTCP above the limit at zero activity) or an unreachable ``target_tcp``.

    Notes
    -----
    Expected-utility decisions over the posterior (Ågren, Brahme & Turesson 1990, Int J Radiat
    Oncol Biol Phys 19:1077 for P+); the overdose-control constraint follows escalation with
    overdose control (Babb, Rogatko & Zacks 1998, Stat Med 17:1103). With ``risk`` the
    activity is the ``floor(risk·S)``-th order statistic of the per-draw threshold activities
    :math:`A_s` (where :math:`P_s(d_s(A_s)) = \text{ntcp\_limit}`), which is exactly the largest
    activity with :math:`\#\{s: A_s < A\}/S \le` ``risk``.

    Examples
    --------
    >>> import doseresponse as dr
    >>> from doseresponse import prescribe as rx
    >>> kidney = dr.ResponseCurve("lkb", d50=28.0, slope=0.10, dose_metric="absorbed dose",
    ...                           dose_unit="Gy")
    >>> plan = rx.prescribe({"kidney": rx.Region(0.5, effective_half_life=50.0)}, cycles=4,
    ...                     ntcp={"kidney": kidney})
    >>> round(plan.activity_gbq, 3)   # TD5 23.393 Gy / (4 × 0.5 Gy/GBq)
    11.697
    >>> plan.limiting
    'kidney'
    """
    p = _Problem(
        regions, cycles=cycles, activity_per_cycle=activity_per_cycle, max_cycles=max_cycles,
        tcp=tcp, ntcp=ntcp, limits=limits, objective=objective, ntcp_limit=ntcp_limit,
        risk=risk, target_tcp=target_tcp, which=which, new_study=new_study,
        covariates=covariates, ci_prob=ci_prob, max_activity_gbq=max_activity_gbq,
        n_dosimetry_draws=n_dosimetry_draws, random_seed=random_seed,
    )
    return p.solve()


# --------------------------------------------------------------------------------------------
# private
# --------------------------------------------------------------------------------------------


@dataclass
class _Curve:
    region: str
    role: str  # "TCP" or "NTCP"
    metric: str
    attrs: dict[str, str]
    which: str
    covariates: dict[str, float]
    label: str | None
    evaluator: AlignedCurve
    view: str


@dataclass
class _Limit:
    region: str
    value: float
    metric: str


class _Problem:
    def __init__(self, regions: Any, **kw: Any) -> None:
        self.kw = kw
        self.regions = _check_regions(regions)
        names = tuple(self.regions)
        self.objective = kw["objective"]
        if self.objective not in OBJECTIVES:
            raise UnknownNameError(
                f"unknown objective {self.objective!r}; valid names are: {', '.join(OBJECTIVES)}."
            )
        self.ntcp_limit = _optional_probability(kw["ntcp_limit"], "ntcp_limit")
        self.risk = _optional_probability(kw["risk"], "risk")
        self.target_tcp = _optional_probability(kw["target_tcp"], "target_tcp")
        self.ci_prob = _optional_probability(kw["ci_prob"], "ci_prob")
        self.a_max = positive_number(kw["max_activity_gbq"], "max_activity_gbq", "GBq")
        self.seed = kw["random_seed"]
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise DoseResponseError(f"random_seed must be an integer; got {self.seed!r}.")
        n_dos = kw["n_dosimetry_draws"]
        if isinstance(n_dos, bool) or not isinstance(n_dos, (int, np.integer)) or n_dos < 1:
            raise DoseResponseError(f"n_dosimetry_draws must be an integer >= 1; got {n_dos!r}.")
        self.new_study = kw["new_study"]
        if self.new_study not in _WHICH_VIEWS:
            raise DoseResponseError(
                f"new_study must be 'averaged' or 'spread'; got {self.new_study!r}."
            )
        self._decision_setup(kw["cycles"], kw["activity_per_cycle"], kw["max_cycles"])

        tcp = _check_mapping(kw["tcp"], "tcp", names)
        ntcp = _check_mapping(kw["ntcp"], "ntcp", names)
        covs = _check_mapping(kw["covariates"], "covariates", names)
        for region in covs:
            if region not in tcp and region not in ntcp:
                raise DoseResponseError(
                    f"covariates[{region!r}] is given but region {region!r} has no curve in "
                    "tcp= or ntcp=."
                )
        which = kw["which"]
        if isinstance(which, Mapping):
            which_map = _check_mapping(which, "which", names)
        elif isinstance(which, str):
            which_map = {}
        else:
            raise DoseResponseError(
                f"which must be a string or a mapping region -> string; got {which!r}."
            )

        if self.objective in ("max-p-plus", "target-tcp") and not tcp:
            raise DoseResponseError(
                f"objective {self.objective!r} needs at least one tumour curve in tcp=."
            )
        if self.objective == "target-tcp" and self.target_tcp is None:
            raise DoseResponseError(
                "objective 'target-tcp' needs target_tcp=, the expected TCP to reach (e.g. 0.8)."
            )
        self.limits = self._check_limits(kw["limits"], names, ntcp)
        if self.objective == "ntcp-limit" and not (
            (ntcp and self.ntcp_limit is not None) or self.limits
        ):
            raise DoseResponseError(
                "objective 'ntcp-limit' needs a constraint: ntcp= curves with ntcp_limit, or "
                "limits= (e.g. {'kidney': 23.0})."
            )

        # curves: attributes, metric check, evaluation on a grid when needed
        raw: list[tuple[str, str, Any]] = [("TCP", r, s) for r, s in tcp.items()]
        raw += [("NTCP", r, s) for r, s in ntcp.items()]
        self.curves: list[_Curve] = []
        for role, region, source in raw:
            where = f"{role.lower()}[{region!r}]"
            attrs = curve_attributes(source, where)
            if attrs["kind"].upper() != role:
                raise DoseResponseError(
                    f"{where} is a {attrs['kind']} curve; put TCP curves in tcp= and NTCP "
                    "curves in ntcp=."
                )
            if attrs["dose_unit"].strip().lower() != "gy":
                raise DoseResponseError(
                    f"{where} has dose unit {attrs['dose_unit']!r}; a prescription needs Gy "
                    "(Gy/GBq × GBq)."
                )
            metric_kind(attrs["dose_metric"], where=where)
            w = which_map.get(region, which if isinstance(which, str) else "new_study")
            cov = dict(covs.get(region, {}) or {})
            dose_max = self._dose_max(region, attrs["dose_metric"])
            evaluator = AlignedCurve(
                source, which=w, new_study=self.new_study, covariates=cov or None,
                dose_max=dose_max, random_seed=int(self.seed),
            )
            label = getattr(source, "label", None)
            self.curves.append(
                _Curve(region, role, attrs["dose_metric"], attrs, w, cov,
                       label if isinstance(label, str) else None, evaluator,
                       "given curve (no centre structure; which has no effect)"
                       if isinstance(source, ResponseCurve) else describe_view(w, self.new_study))
            )
        self.rng = np.random.default_rng(self.seed)
        n_post = max((c.evaluator.n_source for c in self.curves), default=1)
        uncertain = any(r.rel_se > 0 for r in self.regions.values())
        self.n = max(n_post, int(n_dos)) if uncertain else n_post
        for c in self.curves:
            c.evaluator.align(self.n, self.rng)
        self.factors = {
            name: dosimetry_factors(r.rel_se, self.n, self.rng) for name, r in self.regions.items()
        }

    # setup helpers ---------------------------------------------------------------------

    def _decision_setup(self, cycles: Any, activity: Any, max_cycles: Any) -> None:
        if activity is not None and cycles is not None:
            raise DoseResponseError(
                "give either cycles= (the decision is the activity per cycle) or "
                "activity_per_cycle= (the decision is the number of cycles), not both."
            )
        if activity is None:
            self.decision = "activity"
            self.cycles = 4 if cycles is None else count(cycles, "cycles")
            if max_cycles is not None:
                raise DoseResponseError("max_cycles= goes with activity_per_cycle=, not cycles=.")
            for name, r in self.regions.items():
                if r.gy_per_gbq.size not in (1, self.cycles):
                    raise DoseResponseError(
                        f"regions[{name!r}] gives Gy/GBq for {r.gy_per_gbq.size} cycles but "
                        f"cycles={self.cycles}; give one value per cycle or a single value."
                    )
        else:
            self.decision = "cycles"
            self.activity = positive_number(activity, "activity_per_cycle", "GBq")
            if max_cycles is None:
                raise DoseResponseError(
                    "with activity_per_cycle= give max_cycles=, the largest number of cycles "
                    "(e.g. 9 as in ILUMINET)."
                )
            self.max_cycles = count(max_cycles, "max_cycles")
            for name, r in self.regions.items():
                if r.gy_per_gbq.size not in (1,) and r.gy_per_gbq.size < self.max_cycles:
                    raise DoseResponseError(
                        f"regions[{name!r}] gives Gy/GBq for {r.gy_per_gbq.size} cycles but "
                        f"max_cycles={self.max_cycles}."
                    )

    def _check_limits(self, limits: Any, names: tuple[str, ...], ntcp: dict) -> list[_Limit]:
        out = []
        for region, spec in _check_mapping(limits, "limits", names).items():
            if isinstance(spec, (tuple, list)) and len(spec) == 2:
                value, metric = spec
            else:
                value = spec
                if region not in ntcp:
                    raise DoseResponseError(
                        f"limits[{region!r}] has no metric and region {region!r} has no NTCP "
                        f"curve to take it from; write limits={{{region!r}: ({value!r}, 'BED')}}."
                    )
                metric = curve_attributes(ntcp[region], f"ntcp[{region!r}]")["dose_metric"]
            value = positive_number(value, f"limits[{region!r}]", "Gy")
            metric_kind(metric, where=f"limits[{region!r}]")
            out.append(_Limit(region, value, str(metric)))
        return out

    def _dose_max(self, region: str, metric: str) -> float:
        r = self.regions[region]
        f_hi = math.exp(5.0 * r.sigma)
        if self.decision == "activity":
            a, n = self.a_max, self.cycles
        else:
            a, n = self.activity, self.max_cycles
        return float(r.course_dose(a, n, metric, f_hi))

    # evaluation --------------------------------------------------------------------------

    def dose(self, region: str, metric: str, activity: Any, cycles: int,
             per_draw: bool = True) -> np.ndarray:
        a = np.asarray(activity, dtype=np.float64)
        f = self.factors[region] if per_draw else np.ones(self.n)
        f = f.reshape((self.n,) + (1,) * a.ndim)
        return self.regions[region].course_dose(a, cycles, metric, f)

    def probabilities(self, activity: Any, cycles: int) -> list[np.ndarray]:
        return [c.evaluator.probability(self.dose(c.region, c.metric, activity, cycles))
                for c in self.curves]

    def p_plus(self, probs: list[np.ndarray]) -> np.ndarray | None:
        tcp = [p for p, c in zip(probs, self.curves, strict=True) if c.role == "TCP"]
        if not tcp:
            return None
        out = np.prod(tcp, axis=0)
        for p, c in zip(probs, self.curves, strict=True):
            if c.role == "NTCP":
                out = out * (1.0 - p)
        return out

    def tcp_combined(self, probs: list[np.ndarray]) -> np.ndarray | None:
        tcp = [p for p, c in zip(probs, self.curves, strict=True) if c.role == "TCP"]
        return np.prod(tcp, axis=0) if tcp else None

    # constraints ---------------------------------------------------------------------------

    def constraint_names(self) -> list[tuple[str, str]]:
        out = []
        if self.ntcp_limit is not None:
            out += [(c.region, "ntcp") for c in self.curves if c.role == "NTCP"]
        out += [(lim.region, "limit") for lim in self.limits]
        return out

    def per_draw_thresholds(self, cycles: int) -> dict[tuple[str, str], np.ndarray]:
        """Per-draw activity at which each constraint is exactly met (GBq per cycle)."""
        out = {}
        if self.ntcp_limit is not None:
            for c in self.curves:
                if c.role == "NTCP":
                    d = c.evaluator.dose_at(self.ntcp_limit)
                    reg = self.regions[c.region]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        a = reg.activity_for_dose(d, cycles, c.metric, self.factors[c.region])
                    out[(c.region, "ntcp")] = np.where(np.isfinite(d), a, np.inf)
        for lim in self.limits:
            reg = self.regions[lim.region]
            out[(lim.region, "limit")] = reg.activity_for_dose(
                np.full(self.n, lim.value), cycles, lim.metric, self.factors[lim.region]
            )
        return out

    def activity_thresholds(self, cycles: int) -> dict[tuple[str, str], float]:
        """Largest activity per cycle meeting each constraint (GBq), capped at ``a_max``."""
        out: dict[tuple[str, str], float] = {}
        per_draw = self.per_draw_thresholds(cycles)
        for key in self.constraint_names():
            region, what = key
            if self.risk is not None:
                a = _order_statistic(per_draw[key], self.risk)
            elif what == "limit":
                lim = next(x for x in self.limits if x.region == region)
                a = float(self.regions[region].activity_for_dose(lim.value, cycles, lim.metric))
            else:
                k = next(i for i, c in enumerate(self.curves)
                         if c.region == region and c.role == "NTCP")
                a = self._expected_root(k, cycles)
            if not a > 0.0:
                raise DoseResponseError(self._infeasible_message(key))
            out[key] = min(a, self.a_max)
        return out

    def _expected_root(self, k: int, cycles: int) -> float:
        c = self.curves[k]

        def excess(a: float) -> float:
            d = self.dose(c.region, c.metric, a, cycles)
            return float(np.mean(c.evaluator.probability(d))) - self.ntcp_limit

        if excess(0.0) > 0.0:
            return 0.0
        if excess(self.a_max) <= 0.0:
            return self.a_max
        return float(brentq(excess, 0.0, self.a_max, xtol=1e-12, rtol=1e-13, maxiter=200))

    def _infeasible_message(self, key: tuple[str, str]) -> str:
        region, what = key
        if what == "ntcp":
            how = (f"P(NTCP > {self.ntcp_limit:g}) <= risk={self.risk:g}" if self.risk is not None
                   else f"expected NTCP <= ntcp_limit={self.ntcp_limit:g}")
            return (f"no activity meets {how} for ntcp[{region!r}]: the risk exceeds it already "
                    "at zero activity. Raise ntcp_limit (or risk), or check the curve's "
                    "covariates and which=.")
        return (f"no activity meets limits[{region!r}] with risk={self.risk:g}: raise risk or "
                "the limit.")

    def feasible_cycles(self, probs: list[np.ndarray], cycles: int) -> dict[tuple[str, str], bool]:
        out = {}
        for key in self.constraint_names():
            region, what = key
            if what == "ntcp":
                k = next(i for i, c in enumerate(self.curves)
                         if c.region == region and c.role == "NTCP")
                p = probs[k]
                if self.risk is not None:
                    ok = np.mean(p > self.ntcp_limit + _TIE) <= self.risk + 1e-12
                else:
                    ok = np.mean(p) <= self.ntcp_limit + _TIE
            else:
                lim = next(x for x in self.limits if x.region == region)
                if self.risk is not None:
                    d = self.dose(region, lim.metric, self.activity, cycles)
                    ok = np.mean(d > lim.value * (1 + 1e-12)) <= self.risk + 1e-12
                else:
                    d = self.regions[region].course_dose(self.activity, cycles, lim.metric)
                    ok = float(d) <= lim.value * (1 + 1e-12)
            out[key] = bool(ok)
        return out

    # solving -----------------------------------------------------------------------------

    def solve(self) -> Plan:
        if self.decision == "activity":
            return self._solve_activity()
        return self._solve_cycles()

    def _solve_activity(self) -> Plan:
        n = self.cycles
        thresholds = self.activity_thresholds(n)
        x_max = min([self.a_max, *thresholds.values()])
        binding = min(thresholds, key=thresholds.get) if thresholds else None
        if binding is not None and thresholds[binding] >= self.a_max:
            binding = None
        flags: list[str] = []
        per_draw = self.per_draw_thresholds(n)
        draw_cap = np.full(self.n, self.a_max)
        for v in per_draw.values():
            draw_cap = np.minimum(draw_cap, v)

        if self.objective == "ntcp-limit":
            a_star = x_max
            limiting = _key_name(binding) if binding else "max_activity_gbq"
            optimum_draws = draw_cap
            reason = ("largest activity meeting every constraint" if binding else
                      "no constraint binds below max_activity_gbq")
        elif self.objective == "max-p-plus":
            a_star, optimum_draws = self._max_p_plus(x_max, n)
            at_cap = a_star >= x_max * (1.0 - 1e-7)
            limiting = (_key_name(binding) if (at_cap and binding) else
                        "max_activity_gbq" if at_cap else None)
            reason = ("P+ would rise further; the constraint stops it" if at_cap
                      else "interior maximum of expected P+")
        else:
            a_star, optimum_draws = self._target_tcp(n)
            limiting = "target_tcp"
            reason = "smallest activity with expected TCP >= target_tcp"
            for key, a in thresholds.items():
                if a_star > a * (1.0 + 1e-9):
                    flags.append(
                        f"target TCP breaks the {_key_name(key)} constraint (allowed up to "
                        f"{a:.4g} GBq per cycle)"
                    )
        if limiting == "max_activity_gbq":
            flags.append(f"the decision is at max_activity_gbq={self.a_max:g} GBq per cycle")
        return self._plan(a_star, n, limiting, reason, optimum_draws, thresholds, flags)

    def _max_p_plus(self, x_max: float, n: int) -> tuple[float, np.ndarray]:
        grid = np.linspace(0.0, x_max, _SCAN)
        pp = self.p_plus(self.probabilities(grid, n))  # (N, SCAN)
        mean = pp.mean(axis=0)
        i = int(np.argmax(mean))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, _SCAN - 1)]

        def neg(a: float) -> float:
            return -float(np.mean(self.p_plus(self.probabilities(a, n))))

        res = minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-9 * max(x_max, 1.0)})
        candidates = [(res.x, -res.fun), (lo, -neg(lo)), (hi, -neg(hi))]
        a_star = float(max(candidates, key=lambda t: t[1])[0])
        # per-draw maximiser: scan, then vectorised golden-section on each draw's bracket
        j = np.argmax(pp, axis=1)
        a_lo, a_hi = grid[np.maximum(j - 1, 0)], grid[np.minimum(j + 1, _SCAN - 1)]
        draws = _golden_max(lambda a: self.p_plus(self._probs_per_draw(a, n)), a_lo, a_hi)
        return a_star, draws

    def _probs_per_draw(self, a: np.ndarray, cycles: int) -> list[np.ndarray]:
        """Probabilities with a per-draw activity ``a`` of shape (N,)."""
        out = []
        for c in self.curves:
            reg = self.regions[c.region]
            d = reg.course_dose(a, cycles, c.metric, self.factors[c.region])
            out.append(c.evaluator.probability(d))
        return out

    def _target_tcp(self, n: int) -> tuple[float, np.ndarray]:
        def short(a: float) -> float:
            return float(np.mean(self.tcp_combined(self.probabilities(a, n)))) - self.target_tcp

        if short(self.a_max) < 0.0:
            raise DoseResponseError(
                f"target_tcp={self.target_tcp:g} is not reached below max_activity_gbq="
                f"{self.a_max:g} GBq per cycle (expected TCP there "
                f"{short(self.a_max) + self.target_tcp:.3g}); lower target_tcp or raise "
                "max_activity_gbq."
            )
        a_star = 0.0 if short(0.0) >= 0 else float(
            brentq(short, 0.0, self.a_max, xtol=1e-12, rtol=1e-13, maxiter=200))
        draws = _bisect_increasing(
            lambda a: self.tcp_combined(self._probs_per_draw(a, n)) - self.target_tcp,
            np.zeros(self.n), np.full(self.n, self.a_max),
        )
        return a_star, draws

    def _solve_cycles(self) -> Plan:
        a = self.activity
        ns = np.arange(1, self.max_cycles + 1)
        probs_by_n = [self.probabilities(a, int(k)) for k in ns]
        feas = [self.feasible_cycles(p, int(k)) for p, k in zip(probs_by_n, ns, strict=True)]
        ok = np.array([all(f.values()) for f in feas])
        flags: list[str] = []
        if self.objective == "ntcp-limit":
            if not ok[0]:
                bad = [_key_name(k) for k, v in feas[0].items() if not v]
                raise DoseResponseError(
                    f"even one cycle of activity_per_cycle={a:g} GBq breaks the "
                    f"{', '.join(bad)} constraint; lower activity_per_cycle or raise the limit."
                )
            idx = int(np.argmin(ok)) - 1 if not ok.all() else len(ns) - 1
            n_star = int(ns[idx])
            if n_star < self.max_cycles:
                bad = [k for k, v in feas[idx + 1].items() if not v]
                limiting = _key_name(bad[0])
                reason = "largest number of cycles meeting every constraint"
            else:
                limiting = "max_cycles"
                reason = "no constraint binds up to max_cycles"
                flags.append(f"the decision is at max_cycles={self.max_cycles}")
        elif self.objective == "max-p-plus":
            means = np.array([np.mean(self.p_plus(p)) for p in probs_by_n])
            if not ok.any():
                raise DoseResponseError(
                    f"no number of cycles of activity_per_cycle={a:g} GBq meets the constraints."
                )
            idx = int(np.argmax(np.where(ok, means, -np.inf)))
            n_star = int(ns[idx])
            nxt = idx + 1
            if nxt < len(ns) and not ok[nxt] and means[nxt] > means[idx]:
                limiting = _key_name(next(k for k, v in feas[nxt].items() if not v))
                reason = "P+ would rise with another cycle; the constraint stops it"
            else:
                limiting = None
                reason = "maximum of expected P+ over the number of cycles"
        else:
            tc = np.array([np.mean(self.tcp_combined(p)) for p in probs_by_n])
            hit = np.flatnonzero(tc >= self.target_tcp)
            if hit.size == 0:
                raise DoseResponseError(
                    f"target_tcp={self.target_tcp:g} is not reached within max_cycles="
                    f"{self.max_cycles} (expected TCP {tc[-1]:.3g}); lower target_tcp or raise "
                    "max_cycles."
                )
            idx = int(hit[0])
            n_star = int(ns[idx])
            limiting = "target_tcp"
            reason = "smallest number of cycles with expected TCP >= target_tcp"
            for k, v in feas[idx].items():
                if not v:
                    flags.append(f"target TCP breaks the {_key_name(k)} constraint")
        optimum_draws = self._per_draw_cycles(probs_by_n, ns, ok)
        return self._plan(a, n_star, limiting, reason, optimum_draws, None, flags)

    def _per_draw_cycles(self, probs_by_n: list, ns: np.ndarray, ok: np.ndarray) -> np.ndarray:
        n_k = len(ns)
        if self.objective == "max-p-plus":
            pp = np.stack([self.p_plus(p) for p in probs_by_n], axis=1)  # (N, n_k)
            pp = np.where(ok[None, :], pp, -np.inf)
            return ns[np.argmax(pp, axis=1)].astype(float)
        if self.objective == "target-tcp":
            tc = np.stack([self.tcp_combined(p) for p in probs_by_n], axis=1)
            reach = tc >= self.target_tcp
            first = np.argmax(reach, axis=1)
            return np.where(reach.any(axis=1), ns[first], np.nan).astype(float)
        good = np.ones((self.n, n_k), dtype=bool)
        if self.ntcp_limit is not None:
            for k, c in enumerate(self.curves):
                if c.role == "NTCP":
                    good &= np.stack([p[k] for p in probs_by_n], axis=1) <= self.ntcp_limit
        for lim in self.limits:
            d = np.stack([self.dose(lim.region, lim.metric, self.activity, int(k)) for k in ns],
                         axis=1)
            good &= d <= lim.value
        # largest n with every n' <= n good (doses increase with n)
        prefix = np.cumprod(good, axis=1).astype(bool)
        count = prefix.sum(axis=1)
        return count.astype(float)

    # result ----------------------------------------------------------------------------------

    def _plan(self, a_star: float, n_star: int, limiting: str | None, reason: str,
              optimum_draws: np.ndarray, thresholds: dict | None, flags: list[str]) -> Plan:
        lo_q, hi_q = (1.0 - self.ci_prob) / 2.0, (1.0 + self.ci_prob) / 2.0
        probs = self.probabilities(a_star, n_star)
        region_rows = []
        for name, reg in self.regions.items():
            metrics = ["absorbed dose"]
            metrics += [c.metric for c in self.curves if c.region == name]
            metrics += [lim.metric for lim in self.limits if lim.region == name]
            seen: set[str] = set()
            for m in metrics:
                kind = metric_kind(m)
                if kind in seen:
                    continue
                seen.add(kind)
                d = self.dose(name, m, a_star, n_star)
                region_rows.append({
                    "region": name, "dose_metric": m, "unit": "Gy",
                    "measured": float(reg.course_dose(a_star, n_star, m)),
                    "mean": float(np.mean(d)), "median": float(np.median(d)),
                    "lower": float(np.quantile(d, lo_q)), "upper": float(np.quantile(d, hi_q)),
                    "rel_se": reg.rel_se,
                })
        curve_rows = []
        for c, p in zip(self.curves, probs, strict=True):
            row = {
                "region": c.region, "kind": c.role, "curve": c.attrs["curve_name"],
                "dose_metric": c.metric, "which": c.which,
                "view": c.view,
                "covariates": dict(c.covariates), "label": c.label,
                "dose_median": float(np.median(self.dose(c.region, c.metric, a_star, n_star))),
                "mean": float(np.mean(p)), "median": float(np.median(p)),
                "lower": float(np.quantile(p, lo_q)), "upper": float(np.quantile(p, hi_q)),
            }
            if c.role == "NTCP" and self.ntcp_limit is not None:
                row["p_exceeds_limit"] = float(np.mean(p > self.ntcp_limit + _TIE))
            curve_rows.append(row)
        pp = self.p_plus(probs)
        tc = self.tcp_combined(probs)
        summary_pp = None if pp is None else _summary(pp, lo_q, hi_q)
        summary_tc = None if tc is None else _summary(tc, lo_q, hi_q)
        table = self._activity_table(a_star, n_star, lo_q, hi_q)
        finite = optimum_draws[np.isfinite(optimum_draws)]
        opt = {
            "quantity": ("activity_gbq" if self.decision == "activity" else "cycles"),
            "draws": [float(v) for v in optimum_draws],
            "median": float(np.median(finite)) if finite.size else math.nan,
            "lower": float(np.quantile(finite, lo_q)) if finite.size else math.nan,
            "upper": float(np.quantile(finite, hi_q)) if finite.size else math.nan,
            "n_undefined": int(optimum_draws.size - finite.size),
        }
        if self.risk is None:
            constraint = (f"expected (posterior predictive) NTCP <= {self.ntcp_limit:g} per organ"
                          if self.ntcp_limit is not None else "no NTCP constraint")
            if self.limits:
                constraint += "; dose limits met at the measured Gy/GBq"
        else:
            constraint = (f"overdose control: P(NTCP > {self.ntcp_limit:g}) <= {self.risk:g} over "
                          "posterior and dosimetry draws" if self.ntcp_limit is not None
                          else "no NTCP constraint")
            if self.limits:
                constraint += f"; P(dose > limit) <= {self.risk:g} over dosimetry draws"
        settings = {
            "objective": self.objective, "decision": self.decision,
            "ntcp_limit": self.ntcp_limit, "risk": self.risk, "target_tcp": self.target_tcp,
            "new_study": self.new_study, "ci_prob": self.ci_prob,
            "max_activity_gbq": self.a_max, "random_seed": int(self.seed), "n_draws": self.n,
            "limits": [{"region": lim.region, "value": lim.value, "metric": lim.metric}
                       for lim in self.limits],
            "constraint": constraint,
            "cycles_fixed": self.cycles if self.decision == "activity" else None,
            "activity_per_cycle_fixed": self.activity if self.decision == "cycles" else None,
            "max_cycles": self.max_cycles if self.decision == "cycles" else None,
        }
        constraint_rows = []
        if thresholds is not None:
            for key, a in thresholds.items():
                constraint_rows.append({"constraint": _key_name(key), "max_activity_gbq": a})
        return Plan(
            activity_gbq=float(a_star), cycles=int(n_star), limiting=limiting, reason=reason,
            regions=region_rows, curves=curve_rows, p_plus=summary_pp, tcp=summary_tc,
            optimum=opt, activity_table=table, settings=settings, flags=flags,
            region_setup={k: r.to_dict() for k, r in self.regions.items()},
            constraints=constraint_rows, evaluate=self._evaluate_table,
        )

    def _evaluate_table(self, activities: np.ndarray, cycles: int) -> dict[str, Any]:
        lo_q, hi_q = (1.0 - self.ci_prob) / 2.0, (1.0 + self.ci_prob) / 2.0
        return self._table_at(np.asarray(activities, dtype=np.float64), cycles, lo_q, hi_q)

    def _activity_table(self, a_star: float, n: int, lo_q: float, hi_q: float) -> dict:
        top = self.a_max if a_star <= 0 else min(self.a_max, 2.0 * a_star)
        if self.decision == "cycles":
            top = max(top, self.activity * 1.5)
        return self._table_at(np.linspace(0.0, top, _TABLE), n, lo_q, hi_q)

    def _table_at(self, grid: np.ndarray, n: int, lo_q: float, hi_q: float) -> dict:
        probs = self.probabilities(grid, n)
        table: dict[str, Any] = {"activity_gbq": grid.tolist(), "cycles": n, "columns": {}}
        for c, p in zip(self.curves, probs, strict=True):
            key = f"{c.role} {c.region}"
            table["columns"][key] = {
                "mean": p.mean(axis=0).tolist(),
                "lower": np.quantile(p, lo_q, axis=0).tolist(),
                "upper": np.quantile(p, hi_q, axis=0).tolist(),
            }
        pp = self.p_plus(probs)
        if pp is not None:
            table["columns"]["P+"] = {
                "mean": pp.mean(axis=0).tolist(),
                "lower": np.quantile(pp, lo_q, axis=0).tolist(),
                "upper": np.quantile(pp, hi_q, axis=0).tolist(),
            }
        return table


def _summary(x: np.ndarray, lo_q: float, hi_q: float) -> dict[str, float]:
    return {"mean": float(np.mean(x)), "median": float(np.median(x)),
            "lower": float(np.quantile(x, lo_q)), "upper": float(np.quantile(x, hi_q))}


def _key_name(key: tuple[str, str]) -> str:
    region, what = key
    return region if what == "ntcp" else f"{region} (dose limit)"


def _order_statistic(values: np.ndarray, risk: float) -> float:
    """Largest a with #{values < a}/n <= risk: the floor(risk·n)-th smallest value."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    j = min(math.floor(risk * v.size + 1e-9), v.size - 1)
    return float(v[j])


def _bisect_increasing(func: Callable[[np.ndarray], np.ndarray], lo: np.ndarray,
                       hi: np.ndarray) -> np.ndarray:
    """Per-draw root of increasing functions; NaN where the root is not in [lo, hi]."""
    f_hi = func(hi)
    f_lo = func(lo)
    lo, hi = lo.copy(), hi.copy()
    for _ in range(_BISECT):  # 2^-48 of the interval
        mid = 0.5 * (lo + hi)
        up = func(mid) >= 0.0
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    root = 0.5 * (lo + hi)
    root = np.where(f_lo >= 0.0, 0.0, root)
    return np.where(f_hi < 0.0, np.nan, root)


def _golden_max(func: Callable[[np.ndarray], np.ndarray], lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """Per-draw maximiser by golden-section search on each draw's bracket [lo, hi]."""
    r = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo.copy(), hi.copy()
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = func(c), func(d)
    for _ in range(_GOLDEN):  # bracket shrinks by 0.618 per step: 1e-8 of it after 40
        left = fc >= fd  # the maximum lies in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_next = np.where(left, b - r * (b - a), d)
        d_next = np.where(left, c, a + r * (b - a))
        f_new = func(np.where(left, c_next, d_next))
        fc_next = np.where(left, f_new, fd)
        fd_next = np.where(left, fc, f_new)
        c, d, fc, fd = c_next, d_next, fc_next, fd_next
    return 0.5 * (a + b)


def _check_regions(regions: Any) -> dict[str, Region]:
    if not isinstance(regions, Mapping) or not regions:
        raise DoseResponseError(
            "regions must be a non-empty mapping of names to rx.Region, e.g. "
            "{'kidney': rx.Region(0.46, effective_half_life=50.0, tissue='kidney')}."
        )
    for name, reg in regions.items():
        if not isinstance(name, str):
            raise DoseResponseError(f"region names must be strings; got {name!r}.")
        if not isinstance(reg, Region):
            raise DoseResponseError(
                f"regions[{name!r}] must be an rx.Region; got {type(reg).__name__}."
            )
    return dict(regions)


def _check_mapping(value: Any, arg: str, names: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DoseResponseError(f"{arg} must be a mapping region name -> value; got {value!r}.")
    for key in value:
        if key not in names:
            raise UnknownNameError(
                f"unknown region {key!r} in {arg}=; the regions are: {', '.join(names)}."
            )
    return dict(value)


def _optional_probability(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not (
        0.0 < float(value) < 1.0
    ):
        raise DoseResponseError(f"{name} must be a probability in (0, 1); got {value!r}.")
    return float(value)



