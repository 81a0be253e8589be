"""The result of a prescription: the decision, its risks, and what every number is.

Units: activity GBq per cycle, doses Gy (each row says its dose metric), probabilities
dimensionless. A :class:`Plan` saves to and loads from plain JSON (no code is executed on
load; the curve sources are not stored, only the numbers they gave).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from doseresponse.exceptions import DoseResponseError, ModelMismatchError

__all__ = ["PLAN_FORMAT", "PLAN_FORMAT_VERSION", "Plan", "describe_view", "load_plan"]

PLAN_FORMAT = "doseresponse.prescription-plan"
PLAN_FORMAT_VERSION = 1


def describe_view(which: str, new_study: str) -> str:
    """Plain-language name of the prediction a curve's numbers use.

    Parameters
    ----------
    which : str
        ``"population"``, ``"new_study"`` or a study label.
    new_study : {"averaged", "spread"}
        The new-centre view (only used with ``which="new_study"``).

    Returns
    -------
    str
    """
    if which == "population":
        return "typical centre (population)"
    if which == "new_study":
        if new_study == "averaged":
            return "new centre, centre effect integrated out (population-averaged)"
        return "new centre, spread of a new centre's own curve (one centre effect per draw)"
    return f"study {which}"


@dataclass
class Plan:
    """A prescription for one patient (returned by :func:`doseresponse.prescribe.prescribe`).

    Attributes
    ----------
    activity_gbq : float
        Activity per cycle (GBq).
    cycles : int
        Number of cycles.
    limiting : str or None
        What sets the decision: a region name (its NTCP constraint), ``"<region> (dose
        limit)"``, ``"target_tcp"``, ``"max_activity_gbq"`` / ``"max_cycles"`` (the search
        bound), or None (an interior P+ maximum).
    reason : str
        The decision rule in words.
    regions : list of dict
        Per region and dose metric: the course dose at the measured Gy/GBq (``measured``) and
        its mean, median and interval over the dosimetry uncertainty (Gy).
    curves : list of dict
        Per curve: kind, region, dose metric, ``which`` and its ``view`` in words, covariates,
        the predictive (mean over draws) probability ``mean``, per-draw ``median`` and interval,
        and for NTCP ``p_exceeds_limit`` = P(NTCP > ntcp_limit).
    p_plus, tcp : dict or None
        P+ = TCP·Π(1 − NTCP_k) and the combined TCP at the decision: mean (predictive), median,
        lower, upper over draws; None without tumour curves.
    optimum : dict
        The per-draw optimum (what each draw alone would prescribe): ``quantity``
        (``"activity_gbq"`` or ``"cycles"``), ``draws``, median and interval.
    activity_table : dict
        Expected probabilities (and per-draw intervals) against activity per cycle at the
        plan's number of cycles, stored for :meth:`activity_curve` and :meth:`plot`.
    settings : dict
        Objective, constraint in words, ntcp_limit, risk, target_tcp, new-centre view,
        ci_prob, seed, number of draws, limits.
    flags : list of str
        Warnings about the decision (e.g. a target TCP that breaks an organ constraint).
    region_setup : dict
        Each region's dosimetry and radiobiology as given.
    constraints : list of dict
        Largest activity per cycle each constraint allows (GBq), for an activity decision.
    evaluate : callable or None
        ``evaluate(activities_gbq, cycles)`` → the activity table at other activities (GBq)
        on the same draws, used by :meth:`activity_curve`; None for a plan loaded from a file.
    created : str
        UTC creation time (ISO 8601).
    """

    activity_gbq: float
    cycles: int
    limiting: str | None
    reason: str
    regions: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    p_plus: dict[str, float] | None
    tcp: dict[str, float] | None
    optimum: dict[str, Any]
    activity_table: dict[str, Any]
    settings: dict[str, Any]
    flags: list[str] = field(default_factory=list)
    region_setup: dict[str, Any] = field(default_factory=dict)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    evaluate: Callable[[np.ndarray, int], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False
    )
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def total_activity_gbq(self) -> float:
        """Total administered activity over the course (GBq)."""
        return self.activity_gbq * self.cycles

    @property
    def optimum_draws(self) -> np.ndarray:
        """Per-draw optimum (GBq per cycle, or cycles): its posterior."""
        return np.asarray(self.optimum["draws"], dtype=np.float64)

    def summary_frame(self) -> pd.DataFrame:
        """One tidy table of the plan.

        Returns
        -------
        pandas.DataFrame
            Columns ``quantity``, ``region``, ``detail``, ``measured``, ``mean``, ``median``,
            ``lower``, ``upper``, ``unit``, ``view``. Rows: the decision, each region's course
            dose per metric (``measured`` at the measured Gy/GBq; the rest over dosimetry
            uncertainty), each curve's probability (``mean`` = predictive risk; ``median`` and
            interval over the draws), P(NTCP > limit), TCP, P+ and the per-draw optimum.
            ``attrs`` holds the settings and flags.
        """
        nan = math.nan
        rows: list[dict[str, Any]] = [
            {"quantity": "activity per cycle", "region": "", "detail": self.reason,
             "measured": nan, "mean": self.activity_gbq, "median": nan, "lower": nan,
             "upper": nan, "unit": "GBq", "view": "decision"},
            {"quantity": "cycles", "region": "", "detail": f"limiting: {self.limiting}",
             "measured": nan, "mean": float(self.cycles), "median": nan, "lower": nan,
             "upper": nan, "unit": "", "view": "decision"},
        ]
        for r in self.regions:
            rows.append({"quantity": "course dose", "region": r["region"],
                         "detail": r["dose_metric"], "measured": r["measured"],
                         "mean": r["mean"], "median": r["median"], "lower": r["lower"],
                         "upper": r["upper"], "unit": "Gy",
                         "view": f"dosimetry uncertainty rel_se {r['rel_se']:g}"})
        for c in self.curves:
            cov = ", ".join(f"{k}={v:g}" for k, v in c["covariates"].items())
            detail = f"{c['curve']} in {c['dose_metric']}" + (f"; {cov}" if cov else "")
            rows.append({"quantity": c["kind"], "region": c["region"], "detail": detail,
                         "measured": nan, "mean": c["mean"], "median": c["median"],
                         "lower": c["lower"], "upper": c["upper"], "unit": "",
                         "view": c["view"]})
            if "p_exceeds_limit" in c:
                rows.append({"quantity": f"P(NTCP > {self.settings['ntcp_limit']:g})",
                             "region": c["region"], "detail": "over posterior and dosimetry",
                             "measured": nan, "mean": c["p_exceeds_limit"], "median": nan,
                             "lower": nan, "upper": nan, "unit": "", "view": c["view"]})
        for name, s in (("TCP (all tumour regions)", self.tcp),
                        ("P+ = TCP·Π(1−NTCP)", self.p_plus)):
            if s is not None:
                rows.append({"quantity": name, "region": "", "detail": "independence assumed",
                             "measured": nan, **s, "unit": "", "view": "as each curve"})
        o = self.optimum
        rows.append({"quantity": "per-draw optimum", "region": "",
                     "detail": o["quantity"], "measured": nan, "mean": nan,
                     "median": o["median"], "lower": o["lower"], "upper": o["upper"],
                     "unit": "GBq" if o["quantity"] == "activity_gbq" else "",
                     "view": "posterior of the optimum"})
        frame = pd.DataFrame(rows)
        frame.attrs.update(settings=dict(self.settings), flags=list(self.flags),
                           ci_prob=self.settings["ci_prob"])
        return frame

    def activity_curve(self, activities: Any = None) -> pd.DataFrame:
        """Expected probabilities against activity per cycle (at the plan's number of cycles).

        Parameters
        ----------
        activities : array_like, optional
            Activities per cycle (GBq, >= 0). None: the grid stored in the plan (the only
            choice for a loaded plan, whose curve sources are not saved).

        Returns
        -------
        pandas.DataFrame
            Column ``activity_gbq`` and, per curve and for P+, ``<name> mean`` (predictive)
            and ``<name> lower`` / ``<name> upper`` (per-draw interval).
        """
        if activities is None:
            table = self.activity_table
        else:
            if self.evaluate is None:
                raise DoseResponseError(
                    "this plan was loaded from a file and has no curve sources; call "
                    "activity_curve() without activities for the stored grid, or rerun "
                    "rx.prescribe for new activities."
                )
            a = np.atleast_1d(np.asarray(activities, dtype=np.float64))
            if a.ndim != 1 or not np.all(np.isfinite(a) & (a >= 0)):
                raise DoseResponseError(
                    f"activities must be a 1-D array of finite values >= 0 (GBq); got {a!r}."
                )
            table = self.evaluate(a, self.cycles)
        out = {"activity_gbq": table["activity_gbq"]}
        for name, col in table["columns"].items():
            for stat in ("mean", "lower", "upper"):
                out[f"{name} {stat}"] = col[stat]
        frame = pd.DataFrame(out)
        frame.attrs.update(cycles=table["cycles"], mean="predictive (mean over draws)",
                           interval=f"{100 * self.settings['ci_prob']:g} % over draws",
                           views={c["region"]: c["view"] for c in self.curves})
        return frame

    def plot(self, ax: Any = None) -> Any:
        """Expected TCP, NTCP and P+ against activity per cycle, with the decision marked.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure when omitted).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 4.0))
        table = self.activity_table
        a = np.asarray(table["activity_gbq"])
        for name, col in table["columns"].items():
            (line,) = ax.plot(a, col["mean"], label=f"{name} (expected)")
            ax.fill_between(a, col["lower"], col["upper"], color=line.get_color(), alpha=0.15)
        ax.axvline(self.activity_gbq, color="k", ls="--", lw=1,
                   label=f"plan {self.activity_gbq:.3g} GBq × {self.cycles}")
        if self.settings.get("ntcp_limit") is not None:
            ax.axhline(self.settings["ntcp_limit"], color="grey", ls=":", lw=1,
                       label=f"NTCP limit {self.settings['ntcp_limit']:g}")
        ax.set_xlabel(f"activity per cycle (GBq), {table['cycles']} cycles")
        ax.set_ylabel("probability")
        views = sorted({c["view"] for c in self.curves})
        ax.set_title("expected (predictive) risk; band "
                     f"{100 * self.settings['ci_prob']:g} % over draws\n" + "; ".join(views),
                     fontsize=8)
        ax.set_ylim(0.0, 1.0)
        ax.legend(fontsize=7)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content of the plan (everything but the curve sources).

        Returns
        -------
        dict
            The plan's fields, JSON-ready.
        """
        return {
            "format": PLAN_FORMAT, "format_version": PLAN_FORMAT_VERSION,
            "package_version": _package_version(), "created": self.created,
            "activity_gbq": self.activity_gbq, "cycles": self.cycles,
            "limiting": self.limiting, "reason": self.reason, "regions": self.regions,
            "curves": self.curves, "p_plus": self.p_plus, "tcp": self.tcp,
            "optimum": self.optimum, "activity_table": self.activity_table,
            "settings": self.settings, "flags": self.flags,
            "region_setup": self.region_setup, "constraints": self.constraints,
        }

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the plan as JSON.

        Parameters
        ----------
        path : str or Path
            File to write (``.json``).
        overwrite : bool, default False
            Replace an existing file.

        Returns
        -------
        Path
        """
        p = Path(path)
        if p.exists() and not overwrite:
            raise DoseResponseError(f"{p} exists; pass overwrite=True to replace it.")
        p.write_text(json.dumps(_jsonable(self.to_dict()), indent=1, allow_nan=True),
                     encoding="utf-8")
        return p

    def __repr__(self) -> str:
        lim = f", limited by {self.limiting}" if self.limiting else ""
        risks = "; ".join(f"{c['kind']} {c['region']} {c['mean']:.3g}" for c in self.curves)
        risks = f"; expected {risks}" if risks else ""
        return (f"Plan({self.settings['objective']}: {self.activity_gbq:.4g} GBq × "
                f"{self.cycles} cycles{lim}{risks})")


def load_plan(path: str | Path) -> Plan:
    """Read a plan written by :meth:`Plan.save` (plain JSON; no code is executed).

    Parameters
    ----------
    path : str or Path
        The JSON file.

    Returns
    -------
    Plan
        Without curve sources: :meth:`Plan.activity_curve` gives the stored grid only.

    Raises
    ------
    ModelMismatchError
        If the file is not a plan of a format version this package reads.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelMismatchError(f"cannot read a plan from {p}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise ModelMismatchError(f"{p} is not a doseresponse prescription plan.")
    if data.get("format_version") != PLAN_FORMAT_VERSION:
        raise ModelMismatchError(
            f"{p} has plan format version {data.get('format_version')!r}; this package reads "
            f"version {PLAN_FORMAT_VERSION}."
        )
    keys = ("activity_gbq", "cycles", "limiting", "reason", "regions", "curves", "p_plus",
            "tcp", "optimum", "activity_table", "settings", "flags", "region_setup",
            "constraints", "created")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ModelMismatchError(f"{p} lacks plan fields: {', '.join(missing)}.")
    return Plan(**{k: data[k] for k in keys})


def _package_version() -> str:
    try:
        from doseresponse._version import __version__
    except ImportError:  # pragma: no cover
        return "unknown"
    return str(__version__)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
