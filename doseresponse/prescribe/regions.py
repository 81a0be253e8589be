r"""A region (organ, lesion) of one patient: its dosimetry and radiobiology, activity → dose metric.

Units: activity GBq (per cycle), Gy/GBq, doses Gy, half-lives h, α/β Gy.

A :class:`Region` turns the activity administered per cycle and the number of cycles into each
curve's own dose metric, exactly:

* absorbed dose (mean dose, or any metric homogeneous of degree 1 such as gEUD) is linear:
  :math:`D = \sum_c A_c\,g_c`;
* BED is the sum of per-cycle BEDs with the region's kinetics,
  :math:`\mathrm{BED} = \sum_c d_c\,(1 + G\,d_c/(\alpha/\beta))` with :math:`d_c = A_c g_c`,
  computed by :func:`doseresponse.radiobiology.bed_exponential` (mono-exponential or
  uptake-washout dose rate; Dale 1985, Br J Radiol 58:515; Baechler et al. 2008, Med Phys
  35:1123), never G applied to the summed dose;
* EQD2 from that BED, :func:`doseresponse.radiobiology.eqd` (Withers, Thames & Peters 1983).

Dosimetry uncertainty: the true Gy/GBq is log-normal with median the measured value and
:math:`\sigma = \sqrt{\ln(1 + \mathrm{rel\_se}^2)}` (the package's measurement-error
convention), one multiplicative factor per draw common to every cycle (the same measurement is
used for all cycles). Theory: ``docs/theory/prescription.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from doseresponse import radiobiology as rb
from doseresponse.exceptions import DoseResponseError
from doseresponse.prescribe._checks import positive_number

__all__ = ["METRICS", "Region", "dosimetry_factors", "metric_kind"]

METRICS: dict[str, str] = {
    "absorbed dose": "absorbed",
    "absorbed": "absorbed",
    "dose": "absorbed",
    "mean dose": "absorbed",
    "mean absorbed dose": "absorbed",
    "geud": "absorbed",
    "eud": "absorbed",
    "bed": "BED",
    "eqd2": "EQD2",
}
"""Dose-metric names (case-insensitive) a prescription can reach from activity, and their kind:
``"absorbed"`` (linear in activity), ``"BED"`` or ``"EQD2"``."""


def metric_kind(dose_metric: str, *, where: str = "the curve") -> str:
    """Kind of a dose metric: ``"absorbed"``, ``"BED"`` or ``"EQD2"``.

    Parameters
    ----------
    dose_metric : str
        A curve's or a limit's dose metric, e.g. ``"absorbed dose"``, ``"BED"``, ``"EQD2"``.
    where : str
        Named in the error message (e.g. ``"ntcp['kidney']"``).

    Returns
    -------
    str

    Raises
    ------
    DoseResponseError
        For a metric none of these (e.g. ``"EUBED"``, ``"EQD0.5"``, ``"cycle-1 lesion absorbed
        dose"``, ``"kidney BED or kidney absorbed dose"``), naming ``where``.
    """
    text = re.sub(r"\([^)]*\)", " ", str(dose_metric))  # "(SPECT-based)" qualifies, not names
    tokens = text.strip().lower().replace("_", " ").split()
    key = " ".join(tokens)
    if key not in METRICS and not _AMBIGUOUS.search(key):
        # an organ or method qualifier before the metric: "kidney BED", "cumulative kidney
        # absorbed dose", "red-marrow absorbed dose"
        for start in range(1, len(tokens)):
            suffix = " ".join(tokens[start:])
            if suffix in METRICS:
                key = suffix
                break
    if key not in METRICS:
        raise DoseResponseError(
            f"{where} has dose metric {dose_metric!r}, which a prescription cannot compute from "
            "activity; supported metrics are absorbed dose ('absorbed dose', 'dose', 'mean "
            "dose', 'gEUD'), 'BED' and 'EQD2', optionally after an organ or method qualifier "
            "(e.g. 'kidney BED'); a per-cycle or mixed metric ('cycle-1 ...', '... or ...') "
            "describes another quantity. Refit the curve on one of these metrics."
        )
    return METRICS[key]


_AMBIGUOUS = re.compile(r"\b(or|per|cycle|cycle-\d+|activity|concentration)\b")
"""Words that make a qualified metric a different quantity (mixed, per-cycle, not a dose)."""


class Region:
    r"""One region's dosimetry (Gy/GBq per cycle) and radiobiology.

    Parameters
    ----------
    gy_per_gbq : float or sequence of float
        Absorbed dose per administered activity (Gy/GBq, > 0) from pre-therapy or first-cycle
        dosimetry; one value used for every cycle, or one value per cycle.
    effective_half_life : float
        Effective (washout) half-life of the dose rate (h, > 0).
    tissue : str, optional
        Tissue preset for α/β and the repair half-time
        (:func:`doseresponse.radiobiology.tissue_parameters`: ``"kidney"``, ``"red marrow"``,
        ``"tumour"``...).
    alpha_beta : float, optional
        α/β (Gy, > 0); overrides the preset. Needed (here or through ``tissue``) for BED/EQD2.
    repair_half_time : float, optional
        Repair half-time (h, > 0); overrides the preset.
    uptake_half_life : float, optional
        Uptake half-life (h, > 0, shorter than ``effective_half_life``): uptake-washout dose
        rate :math:`a(e^{-\lambda_w t} - e^{-\lambda_u t})`.
    rel_se : float, default 0.0
        Relative standard error of the measured Gy/GBq (dimensionless, >= 0), e.g. 0.13 for
        three SPECT/CT time points, 0.19 for one (Staanum et al. 2021, EJNMMI Phys 8:78).

    Notes
    -----
    BED per cycle :math:`d(1 + G d/(\alpha/\beta))` with the Lea–Catcheside G of the region's
    dose-rate shape (Dale 1985, Br J Radiol 58:515; uptake: Baechler et al. 2008, Med Phys
    35:1123), evaluated by :func:`doseresponse.radiobiology.bed_exponential`; G is
    :func:`doseresponse.radiobiology.g_factor` of the same history.

    Examples
    --------
    >>> kidney = Region(0.46, effective_half_life=50.0, tissue="kidney")
    >>> round(float(kidney.course_dose(7.4, 4, "absorbed dose")), 3)
    13.616
    """

    def __init__(
        self,
        gy_per_gbq: float | Sequence[float],
        *,
        effective_half_life: float,
        tissue: str | None = None,
        alpha_beta: float | None = None,
        repair_half_time: float | None = None,
        uptake_half_life: float | None = None,
        rel_se: float = 0.0,
    ) -> None:
        g = _positive_array(gy_per_gbq, "gy_per_gbq", "Gy/GBq")
        t_eff = positive_number(effective_half_life, "effective_half_life", "h")
        t_up = None
        if uptake_half_life is not None:
            t_up = positive_number(uptake_half_life, "uptake_half_life", "h")
            if t_up >= t_eff:
                raise DoseResponseError(
                    "uptake_half_life must be shorter than effective_half_life (uptake faster "
                    f"than washout); got {t_up:g} h >= {t_eff:g} h."
                )
        preset = rb.tissue_parameters(tissue) if tissue is not None else None
        ab = alpha_beta if alpha_beta is not None else (preset.alpha_beta if preset else None)
        trep = repair_half_time
        if trep is None and preset is not None:
            trep = preset.repair_half_time
        if ab is not None:
            ab = positive_number(ab, "alpha_beta", "Gy")
        if trep is not None:
            trep = positive_number(trep, "repair_half_time", "h")
        if not (isinstance(rel_se, (int, float, np.floating)) and math.isfinite(rel_se)
                and rel_se >= 0.0):
            raise DoseResponseError(
                f"rel_se must be a finite number >= 0 (e.g. 0.13 for 13 %); got {rel_se!r}."
            )
        g.setflags(write=False)
        self.gy_per_gbq = g
        self.effective_half_life = t_eff
        self.uptake_half_life = t_up
        self.tissue = None if preset is None else preset.name
        self.alpha_beta = ab
        self.repair_half_time = trep
        self.rel_se = float(rel_se)

    @property
    def sigma(self) -> float:
        r"""Log-scale SD of the true Gy/GBq, :math:`\sqrt{\ln(1+\mathrm{rel\_se}^2)}`."""
        return math.sqrt(math.log1p(self.rel_se**2))

    def g_factor(self) -> float:
        """Lea–Catcheside G of the region's dose-rate shape (needs ``repair_half_time``).

        Returns
        -------
        float
            G (dimensionless, 0 < G <= 1).
        """
        self._require_lq("BED")
        history = rb.ExponentialDoseRate.from_dose(
            1.0, effective_half_life=self.effective_half_life,
            uptake_half_life=self.uptake_half_life,
        )
        return float(rb.g_factor(history, self.repair_half_time))

    def per_cycle_gy_per_gbq(self, cycles: int) -> np.ndarray:
        """Gy/GBq of each of ``cycles`` cycles (the single value repeated, or the first ones).

        Parameters
        ----------
        cycles : int
            Number of cycles, >= 1.

        Returns
        -------
        numpy.ndarray
            Absorbed dose per activity (Gy/GBq) of each cycle, shape ``(cycles,)``.
        """
        if self.gy_per_gbq.size == 1:
            return np.full(cycles, self.gy_per_gbq[0])
        if cycles > self.gy_per_gbq.size:
            raise DoseResponseError(
                f"the region gives Gy/GBq for {self.gy_per_gbq.size} cycles but {cycles} cycles "
                "are planned; give one value per cycle (or a single value for all cycles)."
            )
        return self.gy_per_gbq[:cycles].copy()

    def course_dose(
        self,
        activity_gbq: ArrayLike,
        cycles: int,
        dose_metric: str,
        factor: ArrayLike = 1.0,
    ) -> np.ndarray:
        """Course dose metric for an activity per cycle.

        Parameters
        ----------
        activity_gbq : array_like
            Activity per cycle (GBq, >= 0); broadcast with ``factor``.
        cycles : int
            Number of cycles (>= 1).
        dose_metric : str
            ``"absorbed dose"`` (and synonyms), ``"BED"`` or ``"EQD2"``.
        factor : array_like, default 1.0
            Ratio true/measured Gy/GBq (e.g. dosimetry draws, shape ``(n,)`` or ``(n, 1)``).

        Returns
        -------
        numpy.ndarray
            Course dose (Gy) with the broadcast shape of ``activity_gbq`` and ``factor``.
        """
        kind = metric_kind(dose_metric, where="the requested dose")
        a = np.asarray(activity_gbq, dtype=np.float64) * np.asarray(factor, dtype=np.float64)
        g = self.per_cycle_gy_per_gbq(cycles)
        if kind == "absorbed":
            return a * g.sum()
        self._require_lq(kind)
        per_cycle = a[..., None] * g  # Gy per cycle
        bed = rb.bed_exponential(
            per_cycle,
            effective_half_life=self.effective_half_life,
            alpha_beta=self.alpha_beta,
            repair_half_time=self.repair_half_time,
            uptake_half_life=self.uptake_half_life,
        )
        course = np.asarray(bed).sum(axis=-1)
        if kind == "EQD2":
            course = np.asarray(rb.eqd(course, alpha_beta=self.alpha_beta))
        return course

    def activity_for_dose(
        self, dose: ArrayLike, cycles: int, dose_metric: str, factor: ArrayLike = 1.0
    ) -> np.ndarray:
        r"""Activity per cycle (GBq) at which the course dose metric equals ``dose``.

        Parameters
        ----------
        dose : array_like
            Target course dose (Gy, >= 0).
        cycles : int
            Number of cycles.
        dose_metric : str
            As in :meth:`course_dose`.
        factor : array_like, default 1.0
            Ratio true/measured Gy/GBq; broadcast with ``dose``.

        Returns
        -------
        numpy.ndarray
            Activity per cycle (GBq).

        Notes
        -----
        With :math:`S_1=\sum_c g_c`, :math:`S_2=\sum_c g_c^2` and :math:`x = A f`, the course
        BED is :math:`x S_1 + x^2 G S_2/(\alpha/\beta)`; the root is the stable form
        :math:`x = 2B/(S_1 + \sqrt{S_1^2 + 4 G S_2 B/(\alpha/\beta)})`. EQD2 targets are first
        converted to BED, :math:`B = E(1 + 2/(\alpha/\beta))`.
        """
        kind = metric_kind(dose_metric, where="the requested dose")
        target = np.asarray(dose, dtype=np.float64)
        f = np.asarray(factor, dtype=np.float64)
        g = self.per_cycle_gy_per_gbq(cycles)
        s1 = g.sum()
        if kind == "absorbed":
            return target / (s1 * f)
        self._require_lq(kind)
        if kind == "EQD2":
            target = target * (1.0 + 2.0 / self.alpha_beta)
        q = self.g_factor() * float(np.sum(g**2)) / self.alpha_beta
        x = 2.0 * target / (s1 + np.sqrt(s1 * s1 + 4.0 * q * target))
        return x / f

    def to_dict(self) -> dict[str, Any]:
        """Plain description (JSON-ready).

        Returns
        -------
        dict
            The region's settings, JSON-ready.
        """
        return {
            "gy_per_gbq": self.gy_per_gbq.tolist(),
            "effective_half_life_h": self.effective_half_life,
            "uptake_half_life_h": self.uptake_half_life,
            "tissue": self.tissue,
            "alpha_beta_gy": self.alpha_beta,
            "repair_half_time_h": self.repair_half_time,
            "rel_se": self.rel_se,
        }

    def __repr__(self) -> str:
        g = self.gy_per_gbq
        gtxt = f"{g[0]:g}" if g.size == 1 else "[" + ", ".join(f"{v:g}" for v in g) + "]"
        parts = [f"{gtxt} Gy/GBq", f"T_eff {self.effective_half_life:g} h"]
        if self.uptake_half_life is not None:
            parts.append(f"T_up {self.uptake_half_life:g} h")
        if self.alpha_beta is not None:
            parts.append(f"α/β {self.alpha_beta:g} Gy")
        if self.repair_half_time is not None:
            parts.append(f"T_rep {self.repair_half_time:g} h")
        if self.rel_se:
            parts.append(f"rel_se {self.rel_se:g}")
        tissue = f"{self.tissue}: " if self.tissue else ""
        return f"Region({tissue}{', '.join(parts)})"

    def _require_lq(self, kind: str) -> None:
        if self.alpha_beta is None or self.repair_half_time is None:
            raise DoseResponseError(
                f"{kind} needs the region's alpha_beta (Gy) and repair_half_time (h); give "
                "tissue= (e.g. 'kidney') or both values to Region()."
            )


def dosimetry_factors(rel_se: float, n: int, rng: np.random.Generator) -> np.ndarray:
    r"""Draws of the ratio true/measured Gy/GBq: log-normal, median 1, σ = √ln(1+rel_se²).

    Parameters
    ----------
    rel_se : float
        Relative standard error of the measurement (>= 0).
    n : int
        Number of draws.
    rng : numpy.random.Generator
        Seeded generator.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; all ones when ``rel_se`` is 0.

    Notes
    -----
    Stratified (Latin-hypercube) draws: :math:`u_i = (\pi_i + U_i)/n` with a random
    permutation :math:`\pi` and :math:`U_i \sim U(0,1)`, then :math:`f_i = \exp(\sigma\,
    \Phi^{-1}(u_i))`. Each draw is still marginally log-normal and the random permutation
    keeps it independent of the posterior draws it is paired with; quantiles and means are
    reproduced with far less Monte Carlo error than plain draws (McKay, Beckman & Conover
    1979, Technometrics 21:239).
    """
    if rel_se == 0.0:
        return np.ones(n)
    sigma = math.sqrt(math.log1p(rel_se**2))
    u = (rng.permutation(n) + rng.uniform(size=n)) / n
    return np.exp(sigma * ndtri(u))




def _positive_array(value: Any, name: str, unit: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.array(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise DoseResponseError(
            f"{name} must be a positive number or a sequence of them ({unit}); got {value!r}."
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise DoseResponseError(
            f"{name} must be one value or one value per cycle ({unit}); got shape {arr.shape}."
        )
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = "" if arr.size == 1 else f" (cycle {i + 1})"
        raise DoseResponseError(
            f"{name} must be finite and > 0 ({unit}){where}; got {arr[i]!r}. A negative or zero "
            "Gy/GBq is a dosimetry error: check the time-activity fit and the S value."
        )
    return arr
