"""Absorbed-dose-rate histories Ḋ(t) of one therapy cycle.

Two exact representations cover every time-activity model in :mod:`.kinetics`:

* :class:`ExponentialDoseRate` — any sum of exponentials ``Ḋ(t) = Σ a_i exp(-λ_i t)``; negative
  amplitudes describe an uptake phase.
* :class:`PiecewiseDoseRate` — linear interpolation between sampled dose rates (from ``start_rate``
  at t = 0) followed by an exponential tail after the last sample (the trapezoid + tail model).

Units: time h, dose rate Gy/h, rate constants 1/h, dose Gy. Both objects are immutable, know
their total (t → ∞) dose and the dose delivered up to any time, and are what
:func:`doseresponse.radiobiology.g_factor` and :func:`doseresponse.radiobiology.bed` consume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse._validation import (
    as_float_array,
    check_finite_result,
    check_increasing_times,
    check_scalar,
)
from doseresponse.exceptions import DoseResponseError

__all__ = ["DoseRate", "ExponentialDoseRate", "PiecewiseDoseRate"]

_LN2 = math.log(2.0)


@dataclass(frozen=True, eq=False)
class ExponentialDoseRate:
    r"""Dose rate that is a sum of exponentials, :math:`\dot D(t)=\sum_i a_i e^{-\lambda_i t}`.

    Parameters
    ----------
    amplitudes : array_like, shape (k,)
        Amplitudes :math:`a_i` (Gy/h). Negative values are allowed (uptake phase), but the total
        dose rate must not be negative at any time.
    rates : array_like, shape (k,)
        Rate constants :math:`\lambda_i` (1/h), each > 0 so that the total dose is finite.

    Notes
    -----
    Total dose :math:`D = \sum_i a_i/\lambda_i`, dose up to time T
    :math:`D(T) = \sum_i a_i (1-e^{-\lambda_i T})/\lambda_i` (MIRD Pamphlet 21: Bolch et al. 2009,
    J Nucl Med 50:477). A mono-exponential history with instantaneous uptake is
    ``ExponentialDoseRate.from_dose(D, effective_half_life=T)``; an uptake-washout history
    ``A0(e^{-λ_w t} - e^{-λ_u t})`` is ``from_dose(D, effective_half_life=T_w,
    uptake_half_life=T_u)``.

    Examples
    --------
    >>> rate = ExponentialDoseRate.from_dose(5.0, effective_half_life=50.0)
    >>> round(rate.total_dose, 12)
    5.0
    """

    amplitudes: NDArray[np.float64]
    rates: NDArray[np.float64]

    def __init__(self, amplitudes: ArrayLike, rates: ArrayLike) -> None:
        amps = as_float_array(amplitudes, "amplitudes", unit="Gy/h")
        lams = as_float_array(rates, "rates", positive=True, unit="1/h")
        amps, lams = np.atleast_1d(amps), np.atleast_1d(lams)
        if amps.ndim != 1 or amps.shape != lams.shape:
            raise DoseResponseError(
                "amplitudes and rates must be 1-D arrays of equal length; got shapes "
                f"{amps.shape} and {lams.shape}."
            )
        if amps.size == 0:
            raise DoseResponseError("amplitudes must contain at least one component.")
        amps.setflags(write=False)
        lams.setflags(write=False)
        object.__setattr__(self, "amplitudes", amps)
        object.__setattr__(self, "rates", lams)
        self._check_nonnegative()
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            check_finite_result(self.total_dose, "the total dose (Gy) of this ExponentialDoseRate")

    @classmethod
    def from_half_lives(cls, amplitudes: ArrayLike, half_lives: ArrayLike) -> ExponentialDoseRate:
        """Build from amplitudes (Gy/h) and effective half-lives (h) instead of rates.

        Parameters
        ----------
        amplitudes : array_like
            Dose-rate amplitude of each exponential term (Gy/h).
        half_lives : array_like
            Effective half-life of each term (h), > 0.

        Returns
        -------
        ExponentialDoseRate
            The history.
        """
        half = as_float_array(half_lives, "half_lives", positive=True, unit="h")
        return cls(amplitudes, _LN2 / half)

    @classmethod
    def from_dose(
        cls,
        dose: float,
        *,
        effective_half_life: float,
        uptake_half_life: float | None = None,
    ) -> ExponentialDoseRate:
        """Mono-exponential (or uptake-washout) history delivering ``dose`` in total.

        Parameters
        ----------
        dose : float
            Total absorbed dose (Gy), >= 0.
        effective_half_life : float
            Effective (washout) half-life (h), > 0.
        uptake_half_life : float, optional
            Uptake half-life (h), > 0 and different from ``effective_half_life``; the history is
            then ``a (e^{-λ_w t} - e^{-λ_u t})`` (Baechler et al. 2008, Med Phys 35:1123).

        Returns
        -------
        ExponentialDoseRate
            The history.
        """
        total = check_scalar(dose, "dose", nonnegative=True, unit="Gy")
        lam_w = _LN2 / check_scalar(
            effective_half_life, "effective_half_life", positive=True, unit="h"
        )
        if uptake_half_life is None:
            return cls([total * lam_w], [lam_w])
        lam_u = _LN2 / check_scalar(uptake_half_life, "uptake_half_life", positive=True, unit="h")
        if lam_u <= lam_w:
            raise DoseResponseError(
                "uptake_half_life must be shorter than effective_half_life (uptake faster than "
                f"washout); got uptake {_LN2 / lam_u:g} h >= washout {_LN2 / lam_w:g} h."
            )
        amp = total / (1.0 / lam_w - 1.0 / lam_u)
        return cls([amp, -amp], [lam_w, lam_u])

    @property
    def total_dose(self) -> float:
        """Dose delivered from t = 0 to infinity (Gy)."""
        return float(np.sum(self.amplitudes / self.rates))

    def dose_rate(self, t: ArrayLike) -> NDArray[np.float64]:
        """Dose rate (Gy/h) at times ``t`` (h, >= 0).

        Parameters
        ----------
        t : array_like
            Times after administration (h), >= 0.

        Returns
        -------
        numpy.ndarray
            Dose rate (Gy/h), the shape of ``t``.
        """
        tt = as_float_array(t, "t", nonnegative=True, unit="h")
        return np.sum(
            self.amplitudes * np.exp(-np.multiply.outer(tt, self.rates)), axis=-1
        )

    __call__ = dose_rate

    def dose_until(self, t: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) delivered from 0 to time ``t`` (h).

        Parameters
        ----------
        t : array_like
            Times after administration (h), >= 0.

        Returns
        -------
        numpy.ndarray
            Cumulative absorbed dose (Gy), the shape of ``t``.
        """
        tt = as_float_array(t, "t", nonnegative=True, unit="h")
        frac = -np.expm1(-np.multiply.outer(tt, self.rates))
        return np.sum(self.amplitudes / self.rates * frac, axis=-1)

    def scaled(self, factor: float) -> ExponentialDoseRate:
        """The same history with every dose rate multiplied by ``factor`` (>= 0).

        Parameters
        ----------
        factor : float
            Scale factor, >= 0 (e.g. the ratio of two administered activities).

        Returns
        -------
        ExponentialDoseRate
            The scaled history.
        """
        f = check_scalar(factor, "factor", nonnegative=True)
        return ExponentialDoseRate(self.amplitudes * f, self.rates)

    def __repr__(self) -> str:
        half = ", ".join(f"{_LN2 / r:.4g}" for r in self.rates)
        amps = ", ".join(f"{a:.4g}" for a in self.amplitudes)
        return (
            f"ExponentialDoseRate(amplitudes=[{amps}] Gy/h, half-lives=[{half}] h, "
            f"total_dose={self.total_dose:.4g} Gy)"
        )

    def _check_nonnegative(self) -> None:
        scale = float(np.sum(np.abs(self.amplitudes)))
        t_max = 50.0 / float(self.rates.min())
        grid = np.concatenate(([0.0], np.geomspace(1e-6 * t_max, t_max, 400)))
        worst = float(self.dose_rate(grid).min())
        if worst < -1e-9 * scale:
            raise DoseResponseError(
                "amplitudes and rates give a negative dose rate "
                f"({worst:.3g} Gy/h); an uptake component must not exceed the washout "
                "components (e.g. a(e^{-λw t} - e^{-λu t}) with λu > λw)."
            )


@dataclass(frozen=True, eq=False)
class PiecewiseDoseRate:
    r"""Piecewise-linear dose rate through samples, with an exponential tail.

    Parameters
    ----------
    times : array_like, shape (n,)
        Sample times (h), strictly increasing, first >= 0.
    dose_rates : array_like, shape (n,)
        Dose rates at the sample times (Gy/h), >= 0.
    tail_rate : float
        Rate constant (1/h, > 0) of the exponential tail
        :math:`\dot D(t) = r_n e^{-\lambda_{tail}(t-t_n)}` after the last sample; physical decay
        is the conservative usual choice.
    start_rate : float, default 0.0
        Dose rate at t = 0 (Gy/h); the history rises linearly from it to the first sample. Ignored
        when ``times[0] == 0``.

    Notes
    -----
    Total dose is the trapezoid sum plus :math:`r_n/\lambda_{tail}` (Hobbs & Sgouros 2009, Med
    Phys 36:904; see also the trapezoid + tail TIA in radiobiology notes §1.3).
    """

    times: NDArray[np.float64]
    dose_rates: NDArray[np.float64]
    tail_rate: float
    start_rate: float

    def __init__(
        self,
        times: ArrayLike,
        dose_rates: ArrayLike,
        tail_rate: float,
        start_rate: float = 0.0,
    ) -> None:
        tt = np.atleast_1d(as_float_array(times, "times", nonnegative=True, unit="h"))
        rr = np.atleast_1d(as_float_array(dose_rates, "dose_rates", nonnegative=True, unit="Gy/h"))
        if tt.ndim != 1 or tt.shape != rr.shape:
            raise DoseResponseError(
                "times and dose_rates must be 1-D arrays of equal length; got shapes "
                f"{tt.shape} and {rr.shape}."
            )
        if tt.size == 0:
            raise DoseResponseError("times must contain at least one sample.")
        check_increasing_times(tt, "times")
        lam = check_scalar(tail_rate, "tail_rate", positive=True, unit="1/h")
        r0 = check_scalar(start_rate, "start_rate", nonnegative=True, unit="Gy/h")
        if tt[0] == 0.0:
            r0 = float(rr[0])
            tt, rr = tt[1:], rr[1:]
            if tt.size == 0:
                raise DoseResponseError(
                    "times must contain at least one sample after t = 0 h."
                )
        tt.setflags(write=False)
        rr.setflags(write=False)
        object.__setattr__(self, "times", tt)
        object.__setattr__(self, "dose_rates", rr)
        object.__setattr__(self, "tail_rate", lam)
        object.__setattr__(self, "start_rate", r0)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            check_finite_result(self.total_dose, "the total dose (Gy) of this PiecewiseDoseRate")

    @property
    def knots(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Sample times and dose rates including the starting point (0, start_rate)."""
        return (
            np.concatenate(([0.0], self.times)),
            np.concatenate(([self.start_rate], self.dose_rates)),
        )

    @property
    def total_dose(self) -> float:
        """Dose delivered from t = 0 to infinity (Gy)."""
        t, r = self.knots
        return float(np.sum(0.5 * (r[1:] + r[:-1]) * np.diff(t)) + r[-1] / self.tail_rate)

    def dose_rate(self, t: ArrayLike) -> NDArray[np.float64]:
        """Dose rate (Gy/h) at times ``t`` (h, >= 0).

        Parameters
        ----------
        t : array_like
            Times after administration (h), >= 0.

        Returns
        -------
        numpy.ndarray
            Dose rate (Gy/h), the shape of ``t``.
        """
        tt = as_float_array(t, "t", nonnegative=True, unit="h")
        knot_t, knot_r = self.knots
        inside = np.interp(tt, knot_t, knot_r)
        tail = knot_r[-1] * np.exp(-self.tail_rate * np.maximum(tt - knot_t[-1], 0.0))
        return np.where(tt <= knot_t[-1], inside, tail)

    __call__ = dose_rate

    def dose_until(self, t: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) delivered from 0 to time ``t`` (h).

        Parameters
        ----------
        t : array_like
            Times after administration (h), >= 0.

        Returns
        -------
        numpy.ndarray
            Cumulative absorbed dose (Gy), the shape of ``t``.
        """
        tt = as_float_array(t, "t", nonnegative=True, unit="h")
        knot_t, knot_r = self.knots
        cumulative = np.concatenate(
            ([0.0], np.cumsum(0.5 * (knot_r[1:] + knot_r[:-1]) * np.diff(knot_t)))
        )
        idx = np.clip(np.searchsorted(knot_t, tt, side="right") - 1, 0, knot_t.size - 1)
        inside_last = idx < knot_t.size - 1
        nxt = np.minimum(idx + 1, knot_t.size - 1)
        width = np.where(inside_last, knot_t[nxt] - knot_t[idx], 1.0)
        slope = np.where(inside_last, (knot_r[nxt] - knot_r[idx]) / width, 0.0)
        dt = tt - knot_t[idx]
        partial = cumulative[idx] + knot_r[idx] * dt + 0.5 * slope * dt**2
        tail_dt = np.maximum(tt - knot_t[-1], 0.0)
        tail = cumulative[-1] + knot_r[-1] * -np.expm1(-self.tail_rate * tail_dt) / self.tail_rate
        return np.where(tt <= knot_t[-1], partial, tail)

    def scaled(self, factor: float) -> PiecewiseDoseRate:
        """The same history with every dose rate multiplied by ``factor`` (>= 0).

        Parameters
        ----------
        factor : float
            Scale factor, >= 0 (e.g. the ratio of two administered activities).

        Returns
        -------
        PiecewiseDoseRate
            The scaled history.
        """
        f = check_scalar(factor, "factor", nonnegative=True)
        return PiecewiseDoseRate(
            self.times, self.dose_rates * f, self.tail_rate, self.start_rate * f
        )

    def __repr__(self) -> str:
        return (
            f"PiecewiseDoseRate({self.times.size} samples from {self.times[0]:g} to "
            f"{self.times[-1]:g} h, tail half-life {_LN2 / self.tail_rate:.4g} h, "
            f"total_dose={self.total_dose:.4g} Gy)"
        )


DoseRate = ExponentialDoseRate | PiecewiseDoseRate
"""Either dose-rate history type."""
