r"""Per-draw curve parameters for a named prediction, and the curves and doses they imply (numpy).

One place builds the per-draw parameters of every prediction a fitted model makes
(:class:`~doseresponse.models.results.FittedModel`), so a curve, a tolerance dose and a prescription
can never disagree about what "a new centre" means:

``"population"``
    the typical centre: :math:`\ln D_{50}` and :math:`\ln s` of each draw;
a study label
    that study's own parameters (its random effect and study-level covariates);
``"new_study"``, ``new_study="spread"``
    a new centre's own curve: one new random effect :math:`u \sim N(0, \tau^2)` per draw (and
    :math:`v \sim N(0, \tau_s^2)` on the log slope with ``pool_slope``), from a seeded generator
    — the band shows where a new centre's curve may lie;
``"new_study"``, ``new_study="averaged"``
    the population-averaged curve for a patient at a new centre: per draw,
    :math:`\bar P(d) = \int P(d; D_{50} e^{u}, s\,e^{v})\,\phi(u;\tau)\,\phi(v;\tau_s)\,du\,dv`,
    integrated by Gauss–Hermite quadrature; the band holds only parameter uncertainty.

With a background risk :math:`b` (per draw), every probability is :math:`b + (1 - b)F(d)`
and every dose is **extra risk**: the dose where :math:`(P - b)/(1 - b) = F = p` (the BMDS
convention, :mod:`doseresponse.models.background`); the predictive dose is where the mean over
draws of the extra risk :math:`F` equals :math:`p`.

Both new-centre views have the same mean over draws — the posterior predictive risk of a patient
at a new centre, which decisions use (the ``"predictive"`` dose of
:meth:`~doseresponse.models.results.FittedModel.dose_at`). Covariates multiply :math:`D_{50}` by
:math:`\prod_c f_c^{x_c}`.

Notes
-----
Gauss–Hermite quadrature for normal expectations: :math:`E[g(u)] \approx \sum_k w_k g(\tau x_k)`
with the probabilists' Hermite nodes :math:`x_k` and weights normalised to sum to one
(Abramowitz M, Stegun IA 1964 *Handbook of Mathematical Functions*, 25.4.46). The posterior
predictive for a new group integrates the group effect over its population distribution
(Gelman A et al. 2013 *Bayesian Data Analysis*, 3rd ed., §5.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.curves import CurveFamily

__all__ = ["NEW_STUDY_VIEWS", "DrawParameters", "draw_parameters"]

NEW_STUDY_VIEWS = {
    "spread": "a new centre's own curve (one new-centre effect per draw)",
    "averaged": "population-averaged over new centres (the risk for a patient at a new centre)",
}
"""The two views of a new centre (see the module docstring)."""

QUADRATURE_NODES = 64
"""Gauss–Hermite nodes over the new-centre effect on log D50 (20 per axis with ``pool_slope``)."""


@dataclass(frozen=True)
class DrawParameters:
    """Per-draw curve parameters, possibly over quadrature nodes of a new-centre effect.

    Attributes
    ----------
    family : CurveFamily
        The curve family.
    log_d50, log_slope : numpy.ndarray
        Shape ``(n_draws, K)``; ``K = 1`` unless the new-centre effect is integrated out.
    weights : numpy.ndarray
        Shape ``(K,)``, summing to one.
    background : numpy.ndarray or None
        Background risk per draw, shape ``(n_draws,)``; ``None`` without one.
    """

    family: CurveFamily
    log_d50: np.ndarray
    log_slope: np.ndarray
    weights: np.ndarray
    background: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        """Number of posterior draws."""
        return int(self.log_d50.shape[0])

    def probability(self, dose: np.ndarray) -> np.ndarray:
        """Response probability per draw at each dose, shape ``(n_draws, n_dose)``.

        Parameters
        ----------
        dose : numpy.ndarray
            1-D doses (dose unit of the fit), >= 0.

        Returns
        -------
        numpy.ndarray
            The total risk :math:`b + (1 - b)F` with a background, else :math:`F`.
        """
        curve = self.extra_risk(dose)
        if self.background is None:
            return curve
        b = np.asarray(self.background, dtype=np.float64).reshape(-1, 1)
        return b + (1.0 - b) * curve

    def extra_risk(self, dose: np.ndarray) -> np.ndarray:
        """The curve :math:`F` per draw (extra risk over any background), ``(n_draws, n_dose)``.

        Parameters
        ----------
        dose : numpy.ndarray
            1-D doses (dose unit of the fit), >= 0.

        Returns
        -------
        numpy.ndarray
            Equal to :meth:`probability` without a background.
        """
        from doseresponse.models._curve_kernel import FAMILY_CODES, mixture_probability

        dose = np.ascontiguousarray(dose, dtype=np.float64).ravel()
        return mixture_probability(
            FAMILY_CODES[self.family.name], dose, self._c(self.log_d50), self._c(self.log_slope),
            self._c(self.weights),
        )

    @staticmethod
    def _c(values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=np.float64)

    def dose_at_draws(self, p: float) -> tuple[np.ndarray, np.ndarray]:
        """Dose at which each draw's curve (extra risk) reaches ``p``; 0 where it already does at 0.

        Parameters
        ----------
        p : float
            Probability in (0, 1).

        Returns
        -------
        doses : numpy.ndarray
            Shape ``(n_draws,)`` (dose unit).
        at_zero : numpy.ndarray of bool
            Draws already at or above ``p`` at zero dose.
        """
        at_zero = self.extra_risk(np.zeros(1))[:, 0] >= p
        doses = np.zeros(self.n_draws)
        rest = ~at_zero
        if not rest.any():
            return doses, at_zero
        if self.weights.size == 1:  # a single curve per draw: its closed-form inverse
            d50 = np.exp(self.log_d50[rest, 0])
            slope = np.exp(self.log_slope[rest, 0])
            doses[rest] = self.family.dose_at(p, d50, slope)
            return doses, at_zero
        doses[rest] = self._bisect(p, rest)
        return doses, at_zero

    def _bisect(self, p: float, rows: np.ndarray) -> np.ndarray:
        """Vectorised bisection on log dose of the averaged curves (monotone in dose)."""
        sub = DrawParameters(self.family, self.log_d50[rows], self.log_slope[rows], self.weights)
        # _row_probability is the curve F (extra risk): the background plays no part here
        low = sub.log_d50.min(axis=1) + np.log(1e-6)
        for _ in range(50):  # narrow the low end until every curve is below p there (bounded)
            below = sub._row_probability(np.exp(low)) < p
            if below.all():
                break
            low = np.where(below, low, low - np.log(1e6))
        high = sub.log_d50.max(axis=1) + np.log(1e3)
        for _ in range(200):  # widen until every curve reaches p (bounded)
            reached = sub._row_probability(np.exp(high)) >= p
            if reached.all():
                break
            high = np.where(reached, high, high + np.log(10.0))
        else:  # pragma: no cover - a curve that never reaches p is not a valid family
            raise DoseResponseError(f"some posterior curves never reach p = {p:g}.")
        for _ in range(80):  # 2**-80 of a log-dose span: far below double precision
            mid = 0.5 * (low + high)
            above = sub._row_probability(np.exp(mid)) >= p
            high = np.where(above, mid, high)
            low = np.where(above, low, mid)
        return np.exp(0.5 * (low + high))

    def _row_probability(self, dose_per_row: np.ndarray) -> np.ndarray:
        from doseresponse.models._curve_kernel import FAMILY_CODES, mixture_probability_rows

        return mixture_probability_rows(
            FAMILY_CODES[self.family.name], self._c(dose_per_row), self._c(self.log_d50),
            self._c(self.log_slope), self._c(self.weights),
        )

    def predictive_dose(self, p: float) -> float:
        """Dose at which the mean over draws of the extra risk equals ``p`` (0 if already).

        Parameters
        ----------
        p : float
            Probability in (0, 1).

        Returns
        -------
        float
            Dose (unit of the fit) where the posterior predictive risk reaches ``p`` (extra
            risk over the background, which without a background is the risk itself).

        Notes
        -----
        The mean curve is increasing in dose; its root is found by Brent's method
        (:func:`scipy.optimize.brentq`, relative tolerance 1e-12) on a bracket widened by
        factors of 10 from the draws' largest D50.
        """

        def excess(dose: float) -> float:
            return float(self.extra_risk(np.array([dose])).mean()) - p

        if excess(0.0) >= 0.0:
            return 0.0
        high = float(np.exp(self.log_d50.max()))
        for _ in range(200):
            if excess(high) >= 0.0:
                break
            high *= 10.0
        else:  # pragma: no cover - a valid family always reaches p
            raise DoseResponseError(f"the predictive curve never reaches p = {p:g}.")
        return float(optimize.brentq(excess, 0.0, high, xtol=1e-12 * high, rtol=1e-12))


def draw_parameters(
    family: CurveFamily,
    *,
    log_d50: np.ndarray,
    log_slope: np.ndarray,
    tau: np.ndarray | None = None,
    tau_slope: np.ndarray | None = None,
    new_study: str | None = None,
    log_shift: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    background: np.ndarray | None = None,
) -> DrawParameters:
    r"""Per-draw curve parameters for one prediction (the one construction of them).

    Parameters
    ----------
    family : CurveFamily
        The curve family.
    log_d50, log_slope : numpy.ndarray
        Shape ``(n_draws,)``: the typical centre's (``"population"``) or a named study's log
        D50 (dose unit) and log slope.
    tau, tau_slope : numpy.ndarray, optional
        Between-study SDs of log D50 and log slope per draw; used only with ``new_study``.
    new_study : {"spread", "averaged"}, optional
        ``None`` for the population or a named study; else the new-centre view (see the module
        docstring).
    log_shift : numpy.ndarray, optional
        Per-draw covariate shift of log D50, :math:`\sum_c x_c \ln f_c`.
    rng : numpy.random.Generator, optional
        Seeded generator for ``new_study="spread"``.
    background : numpy.ndarray, optional
        Background risk per draw, shape ``(n_draws,)`` (shared by every centre, so the same
        for every view).

    Returns
    -------
    DrawParameters

    Raises
    ------
    DoseResponseError
        Unknown ``new_study`` view, or ``"spread"`` without a generator.
    """
    log_d50 = np.asarray(log_d50, dtype=np.float64).reshape(-1, 1)
    log_slope = np.asarray(log_slope, dtype=np.float64).reshape(-1, 1)
    if log_shift is not None:
        log_d50 = log_d50 + np.asarray(log_shift, dtype=np.float64).reshape(-1, 1)
    weights = np.ones(1)
    if new_study is not None and new_study not in NEW_STUDY_VIEWS:
        raise DoseResponseError(
            f"unknown new_study={new_study!r}; use one of {', '.join(NEW_STUDY_VIEWS)}."
        )
    if new_study == "spread":
        if rng is None:  # pragma: no cover - internal callers pass one
            raise DoseResponseError("new_study='spread' needs a seeded generator.")
        n = log_d50.shape[0]
        if tau is not None:
            log_d50 = log_d50 + np.reshape(tau, (-1, 1)) * rng.standard_normal((n, 1))
        if tau_slope is not None:
            log_slope = log_slope + np.reshape(tau_slope, (-1, 1)) * rng.standard_normal((n, 1))
    elif new_study == "averaged":
        k = QUADRATURE_NODES if tau_slope is None else 20
        x, w = np.polynomial.hermite_e.hermegauss(k)
        w = w / w.sum()
        if tau is not None and tau_slope is not None:
            u, v = np.meshgrid(x, x, indexing="ij")
            x_u, x_v, weights = u.ravel(), v.ravel(), np.outer(w, w).ravel()
        else:
            x_u, x_v, weights = x, np.zeros_like(x), w
        if tau is not None:
            log_d50 = log_d50 + np.reshape(tau, (-1, 1)) * x_u[None, :]
        else:
            log_d50 = np.repeat(log_d50, weights.size, axis=1)
        if tau_slope is not None:
            log_slope = log_slope + np.reshape(tau_slope, (-1, 1)) * x_v[None, :]
        else:
            log_slope = np.repeat(log_slope, weights.size, axis=1)
    if background is not None:
        background = np.asarray(background, dtype=np.float64).reshape(-1)
    return DrawParameters(family, log_d50, log_slope, weights, background)
