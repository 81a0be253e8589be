"""Time-activity curves: fits, model selection and time-integrated activity (TIA).

:func:`fit_time_activity` fits sums of exponentials (mono-, bi-, tri-exponential washout; uptake
with one or two washout phases) or the trapezoid-and-tail model to sampled activities, selects
among the exponential models by AICc with the published acceptance rules, and returns a
:class:`TimeActivityFit` holding the TIA (0 → ∞) with its standard error, half-lives, residuals
and the dose-rate history :meth:`TimeActivityFit.dose_rate` needed by the BED functions.
:func:`exponential_tia` and :func:`trapezoid_tail_tia` are the integrals themselves.

Units: time h, activity MBq, activity standard deviation MBq, TIA MBq·h, rate constants 1/h,
half-lives h, S values Gy/(MBq·h), dose rate Gy/h.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from doseresponse._validation import (
    as_float_array,
    check_increasing_times,
    check_probability,
    check_scalar,
    finite_or_error,
    lookup_name,
)
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, FitError
from doseresponse.radiobiology.absorbed import local_deposition_s_value
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate
from doseresponse.radiobiology.nuclides import Nuclide, get_nuclide

__all__ = [
    "EXPONENTIAL_MODELS",
    "TAC_MODELS",
    "AcceptanceCheck",
    "PhysicalDecayBoundWarning",
    "TimeActivityFit",
    "exponential_tia",
    "fit_time_activity",
    "trapezoid_tail_tia",
]

_LN2 = math.log(2.0)

#: Acceptance thresholds. Parameter CV < 50 %: NUKFIT (Kletting et al. 2013, Med Phys 40:102504)
#: as summarised in EJNMMI Phys 2021, s40658-021-00427-x. TIA CV < 50 %: the same criterion on
#: the quantity the dosimetry uses; at CV = 0.5 the 95 % Wald interval of the TIA reaches ~0, so
#: the fit does not determine the TIA at all.
MAX_PARAMETER_CV = 0.5
MAX_TIA_CV = 0.5
#: The published |correlation| < 0.8 rule. Not enforced by default: on sparse clinical schedules
#: any 2-parameter fit has |corr(A, λ)| ≈ 0.8-0.9 by construction (issue 12), so correlation is
#: reported, and enforced only when ``max_abs_correlation`` is passed.
MAX_ABS_CORRELATION = 0.8
#: "Rising data" rule: a second sample above the first by more than this relative amount (no
#: ``activity_sd``) or by more than RISE_Z standard deviations of the difference (with
#: ``activity_sd``) means an uptake phase; pure washout models are then not fitted. 15 % ≈ 2σ of
#: the difference of two samples with 5 % relative noise each (2·√2·5 % = 14 %).
RISE_TOLERANCE = 0.15
RISE_Z = 2.0
#: A trapezoid tail at λ_phys is flagged when the last samples clear faster than
#: CLEARING_FACTOR·λ_phys (a clearance 10 % faster than physical decay).
CLEARING_FACTOR = 1.1
#: The slowest fitted rate "sits at" λ_phys when within this relative distance of it (0.1 %).
AT_BOUND_REL = 1e-3
#: Models within this AICc of the best are "equivalent"; the simplest is kept (PyTheranostics).
DELTA_AICC_PREFER_SIMPLER = 2.0


@dataclass(frozen=True)
class _ExponentialModel:
    """A sum of exponentials ``A(t) = Σ_j c_j e^{-λ_j t}`` with ``c = mix @ amplitudes``.

    Rates are ordered ascending, λ_1 (slowest) ≥ λ_phys, and parametrised internally as
    λ_j = λ_phys + Σ_{i≤j} d_i with d_i ≥ 0; amplitudes are ≥ 0.
    """

    name: str
    mix: tuple[tuple[float, ...], ...]
    amplitude_names: tuple[str, ...]
    rate_names: tuple[str, ...]
    formula: str

    @property
    def mix_matrix(self) -> NDArray[np.float64]:
        return np.asarray(self.mix, dtype=np.float64)

    @property
    def n_amplitudes(self) -> int:
        return len(self.amplitude_names)

    @property
    def n_rates(self) -> int:
        return len(self.rate_names)

    @property
    def n_params(self) -> int:
        return self.n_amplitudes + self.n_rates

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.amplitude_names + self.rate_names


_EXPONENTIAL: dict[str, _ExponentialModel] = {
    m.name: m
    for m in (
        _ExponentialModel(
            "mono-exponential", ((1.0,),), ("A1_MBq",), ("lambda1_per_h",), "A1·exp(-λ1 t)"
        ),
        _ExponentialModel(
            "uptake-mono",
            ((1.0,), (-1.0,)),
            ("A0_MBq",),
            ("lambda_washout_per_h", "lambda_uptake_per_h"),
            "A0·(exp(-λw t) - exp(-λu t)), λu > λw",
        ),
        _ExponentialModel(
            "bi-exponential",
            ((1.0, 0.0), (0.0, 1.0)),
            ("A1_MBq", "A2_MBq"),
            ("lambda1_per_h", "lambda2_per_h"),
            "A1·exp(-λ1 t) + A2·exp(-λ2 t), λ1 < λ2",
        ),
        _ExponentialModel(
            "uptake-bi",
            ((1.0, 0.0), (0.0, 1.0), (-1.0, -1.0)),
            ("A1_MBq", "A2_MBq"),
            ("lambda1_per_h", "lambda2_per_h", "lambda3_per_h"),
            "A1·exp(-λ1 t) + A2·exp(-λ2 t) - (A1+A2)·exp(-λ3 t), λ1 < λ2 < λ3",
        ),
        _ExponentialModel(
            "tri-exponential",
            ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
            ("A1_MBq", "A2_MBq", "A3_MBq"),
            ("lambda1_per_h", "lambda2_per_h", "lambda3_per_h"),
            "A1·exp(-λ1 t) + A2·exp(-λ2 t) + A3·exp(-λ3 t), λ1 < λ2 < λ3",
        ),
    )
}

EXPONENTIAL_MODELS: tuple[str, ...] = tuple(_EXPONENTIAL)
"""Names of the exponential time-activity models, simplest first."""

TAC_MODELS: tuple[str, ...] = (*EXPONENTIAL_MODELS, "trapezoid")
"""Every model accepted by :func:`fit_time_activity` (besides ``"auto"``)."""


# --------------------------------------------------------------------------------------------
# The integrals
# --------------------------------------------------------------------------------------------


@finite_or_error
def exponential_tia(amplitudes_mbq: ArrayLike, rates_per_h: ArrayLike) -> float | NDArray:
    r"""Time-integrated activity of a sum of exponentials, :math:`\sum_j A_j/\lambda_j`.

    Parameters
    ----------
    amplitudes_mbq : array_like, shape (..., k)
        Amplitudes :math:`A_j` (MBq) of :math:`A(t)=\sum_j A_j e^{-\lambda_j t}`; negative values
        describe uptake (e.g. ``[A1, A2, -(A1+A2)]``).
    rates_per_h : array_like, shape (..., k)
        Rate constants :math:`\lambda_j` (1/h), > 0. Broadcasts against ``amplitudes_mbq``.

    Returns
    -------
    float or numpy.ndarray
        Ã from 0 to ∞ (MBq·h), the broadcast shape without the last axis.

    Raises
    ------
    DoseResponseError
        Non-positive rates, non-finite values, or a negative total.

    Notes
    -----
    :math:`\int_0^\infty \sum_j A_j e^{-\lambda_j t}\,dt=\sum_j A_j/\lambda_j` (MIRD Pamphlet 21,
    Bolch et al. 2009, J Nucl Med 50:477). Mono-exponential: A0·T/ln 2.

    Examples
    --------
    >>> round(exponential_tia([100.0], [math.log(2) / 50.0]), 4)
    7213.4752
    """
    amps = np.atleast_1d(as_float_array(amplitudes_mbq, "amplitudes_mbq", unit="MBq"))
    rates = np.atleast_1d(as_float_array(rates_per_h, "rates_per_h", positive=True, unit="1/h"))
    try:
        tia = np.sum(amps / rates, axis=-1)
    except ValueError:
        raise DoseResponseError(
            f"amplitudes_mbq {amps.shape} and rates_per_h {rates.shape} must have the same "
            "number of components on their last axis (and broadcastable leading axes)."
        ) from None
    if np.any(tia < 0):
        raise DoseResponseError(
            "amplitudes_mbq and rates_per_h give a negative time-integrated activity; an uptake "
            "(negative) component must be faster than, and not larger than, the washout ones."
        )
    return float(tia) if tia.ndim == 0 else tia


@finite_or_error
def trapezoid_tail_tia(
    times_h: ArrayLike,
    activity_mbq: ArrayLike,
    tail_rate_per_h: ArrayLike,
    start: str = "zero",
) -> float | NDArray:
    r"""Time-integrated activity by the trapezoid rule plus an exponential tail.

    Parameters
    ----------
    times_h : array_like, shape (n,)
        Sample times (h), >= 0, strictly increasing.
    activity_mbq : array_like, shape (..., n)
        Activities at ``times_h`` (MBq), >= 0; leading axes (voxels, patients) are vectorised.
    tail_rate_per_h : array_like
        Rate constant of the tail after the last sample (1/h), > 0; scalar or shaped like the
        leading axes of ``activity_mbq``. Physical decay λ_phys is the conservative usual choice.
    start : {"zero", "constant"}
        Before the first sample: linear rise from (0, 0) (``"zero"``) or the first activity held
        constant from t = 0 (``"constant"``). Irrelevant when ``times_h[0] == 0``.

    Returns
    -------
    float or numpy.ndarray
        Ã (MBq·h), shape of the leading axes of ``activity_mbq``.

    Notes
    -----
    :math:`\tilde A=\sum_i \tfrac12(A_i+A_{i+1})(t_{i+1}-t_i) + A_n/\lambda_{tail}` with the
    starting segment set by ``start`` (MIRD Pamphlet 16, Siegel et al. 1999, J Nucl Med 40:37S).

    Examples
    --------
    >>> round(trapezoid_tail_tia([4, 24, 96, 168], [8, 10, 6, 3.5], math.log(2) / 159.528), 4)
    1919.5259
    """
    t = _check_times(times_h, "times_h")
    a = as_float_array(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq")
    if a.ndim == 0 or a.shape[-1] != t.size:
        raise DoseResponseError(
            f"activity_mbq must have the {t.size} time points on its last axis; got shape "
            f"{a.shape}."
        )
    lam = as_float_array(tail_rate_per_h, "tail_rate_per_h", positive=True, unit="1/h")
    start = _check_choice(start, "start", ("zero", "constant"))
    weights = _trapezoid_weights(t, start)
    try:
        tia = a @ weights + a[..., -1] / lam
    except ValueError:
        raise DoseResponseError(
            f"tail_rate_per_h of shape {lam.shape} does not broadcast against the leading axes "
            f"{a.shape[:-1]} of activity_mbq."
        ) from None
    return float(tia) if np.ndim(tia) == 0 else tia


# --------------------------------------------------------------------------------------------
# The fit result
# --------------------------------------------------------------------------------------------


class PhysicalDecayBoundWarning(UserWarning):
    """A clearance sits at the physical-decay bound: the region is modelled as retaining activity.

    Raised when the selected exponential fit has its slowest rate at λ_phys (no biological
    clearance estimated; the TIA SE is then conditional on that rate), or when a trapezoid tail at
    λ_phys is attached to data that clear faster than physical decay (the tail overestimates the
    TIA). The fit's ``flags`` say which.
    """


@dataclass(frozen=True)
class AcceptanceCheck:
    """One acceptance rule applied to a time-activity fit.

    Attributes
    ----------
    rule : str
        ``"converged"``, ``"identifiable"``, ``"no-degenerate-parameter"``, ``"parameter-cv"``,
        ``"tia-cv"``, ``"correlation"``, ``"physical-decay-bound"`` or ``"rising-data"``.
    passed : bool
        Whether the fit satisfies the rule.
    enforced : bool
        Whether failing it makes the fit unacceptable (``False``: reported only).
    value, threshold : float or None
        The statistic and its limit (CV as a fraction, absolute correlation, relative rise).
    detail : str
        Human-readable explanation.
    """

    rule: str
    passed: bool
    enforced: bool
    value: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True, eq=False)
class TimeActivityFit:
    """A fitted time-activity curve with its time-integrated activity.

    Attributes
    ----------
    model : str
        The model used (one of :data:`TAC_MODELS`).
    params : dict of str to float
        Fitted parameters, units in the names (``"A1_MBq"``, ``"lambda1_per_h"``; trapezoid:
        ``"tail_rate_per_h"``). Rates are ordered ascending (λ1 slowest).
    covariance : pandas.DataFrame or None
        Parameter covariance (labelled by parameter name), ``None`` for the trapezoid or when the
        information matrix is singular. A parameter held at its bound (λ1 = λ_phys) has zero
        variance.
    time_integrated_activity : float
        Ã from 0 to ∞ (MBq·h).
    time_integrated_activity_se : float or None
        Standard error of Ã (MBq·h); ``None`` with the reason in ``tia_se_note`` when it cannot
        be computed (trapezoid without ``activity_sd``; singular covariance). Never NaN.
    tia_se_note : str
        How the SE was obtained, or why it is missing.
    effective_half_life : float
        ln 2 × mean residence time (h), see Notes.
    terminal_half_life : float
        Half-life of the slowest phase (h): ln 2/λ1, or of the tail for the trapezoid.
    aicc : float or None
        Corrected Akaike information criterion; ``None`` for the trapezoid or when undefined
        (n − K − 1 ≤ 0).
    acceptable : bool
        Whether the fit converged and passed the acceptance rules (parameter CV < 50 %,
        absolute correlations < 0.8, no degenerate parameter at its bound).
    acceptance_notes : tuple of str
        Why the fit is (not) acceptable and which conventions/bounds were active.
    candidates : pandas.DataFrame
        Every model tried, with AICc, ΔAICc, acceptability, TIA and notes.
    times_h, activity_mbq : numpy.ndarray
        The data (h, MBq).
    activity_sd : numpy.ndarray or None
        Standard deviations of the activities (MBq) if given.
    physical_half_life_h : float
        Physical half-life used for the λ ≥ λ_phys bound / physical tail (h).
    nuclide : Nuclide or None
        Nuclide, if given.
    amplitudes_mbq, rates_per_h : numpy.ndarray or None
        Exponential models: the curve as ``Σ amplitudes_j exp(-rates_j t)`` (uptake terms have
        negative amplitudes). ``None`` for the trapezoid.
    tail_rate_per_h : float or None
        Trapezoid: rate of the exponential tail (1/h).
    dof : int or None
        Residual degrees of freedom n − (number of free parameters).
    sigma_known : bool
        ``True`` when ``activity_sd`` was given (covariance not rescaled by the residual variance,
        normal-quantile intervals); ``False`` when σ was estimated (Student-t intervals).
    conventions : dict
        Conventions used (weights, bounds, start, tail, tail points, half-life definitions).
    acceptance : tuple of AcceptanceCheck
        Every rule applied to the returned fit, with its value and threshold.
    rejected_models : dict of str to tuple of str
        Models tried (or excluded) and not selected, with the rules that rejected them (e.g.
        ``"rising-data"``, ``"parameter-cv"``) or ``"not selected: ..."``.
    selection_rule : str
        Which rule chose this model (requested model, minimum AICc, simpler within ΔAICc ≤ 2,
        simplest acceptable when AICc is undefined, trapezoid fallback).
    flags : tuple of str
        Conditions a user must know about: ``"physical-decay-bound"`` (slowest rate = λ_phys),
        ``"physical-tail-on-clearing-data"``, ``"fallback"``, ``"rising-data"``.
    tia_se_components : dict of str to float or None
        The parts of ``time_integrated_activity_se`` (MBq·h): ``"fit"`` (statistical),
        ``"calibration"`` and ``"partial_volume"`` (stated relative SDs × TIA).
    """

    model: str
    params: dict[str, float]
    covariance: pd.DataFrame | None
    time_integrated_activity: float
    time_integrated_activity_se: float | None
    tia_se_note: str
    effective_half_life: float
    terminal_half_life: float
    aicc: float | None
    acceptable: bool
    acceptance_notes: tuple[str, ...]
    candidates: pd.DataFrame
    times_h: NDArray[np.float64]
    activity_mbq: NDArray[np.float64]
    activity_sd: NDArray[np.float64] | None
    physical_half_life_h: float
    nuclide: Nuclide | None
    amplitudes_mbq: NDArray[np.float64] | None
    rates_per_h: NDArray[np.float64] | None
    tail_rate_per_h: float | None
    dof: int | None
    sigma_known: bool
    conventions: dict[str, Any] = field(default_factory=dict)
    acceptance: tuple[AcceptanceCheck, ...] = ()
    rejected_models: dict[str, tuple[str, ...]] = field(default_factory=dict)
    selection_rule: str = ""
    flags: tuple[str, ...] = ()
    tia_se_components: dict[str, float | None] = field(default_factory=dict)

    @property
    def at_physical_decay_bound(self) -> bool:
        """Whether the slowest clearance (or the trapezoid tail) is held at λ_phys."""
        return "physical-decay-bound" in self.flags or (
            "physical-tail-on-clearing-data" in self.flags
        )

    def acceptance_frame(self) -> pd.DataFrame:
        """The acceptance checks of this fit as a tidy frame (one row per rule).

        Returns
        -------
        pandas.DataFrame
            One row per acceptance rule.
        """
        return pd.DataFrame(
            [
                {
                    "rule": c.rule,
                    "passed": c.passed,
                    "enforced": c.enforced,
                    "value": c.value,
                    "threshold": c.threshold,
                    "detail": c.detail,
                }
                for c in self.acceptance
            ],
            columns=["rule", "passed", "enforced", "value", "threshold", "detail"],
        )

    def predict(self, t: ArrayLike) -> NDArray[np.float64]:
        """Fitted activity (MBq) at times ``t`` (h, >= 0).

        Parameters
        ----------
        t : array_like
            Times after administration (h), >= 0.

        Returns
        -------
        numpy.ndarray
            Activity (MBq), the shape of ``t``.
        """
        tt = as_float_array(t, "t", nonnegative=True, unit="h")
        return self._unit_dose_rate().dose_rate(tt)

    @property
    def residuals(self) -> NDArray[np.float64]:
        """Observed minus fitted activity at the sample times (MBq); zero for the trapezoid."""
        return self.activity_mbq - self.predict(self.times_h)

    def dose_rate(
        self, s_value: float | None = None, *, mass_kg: float | None = None
    ) -> ExponentialDoseRate | PiecewiseDoseRate:
        r"""Absorbed-dose-rate history :math:`\dot D(t)=S\,A(t)` of this curve.

        Parameters
        ----------
        s_value : float, optional
            S value (Gy/(MBq·h)), > 0.
        mass_kg : float, optional
            Instead of ``s_value``: region mass (kg), > 0; S is then the local-deposition S value
            of the fit's nuclide (requires ``nuclide=`` in :func:`fit_time_activity`).

        Returns
        -------
        ExponentialDoseRate or PiecewiseDoseRate
            Exponential models: amplitudes S·A_j (Gy/h) and rates λ_j (1/h). Trapezoid: the
            piecewise-linear dose rate through S·A_i with the same start and tail conventions.
            Its ``total_dose`` equals ``S · time_integrated_activity``.

        Notes
        -----
        MIRD self-dose with a time-independent S value (Bolch et al. 2009, J Nucl Med 50:477).
        """
        if (s_value is None) == (mass_kg is None):
            raise DoseResponseError(
                "give exactly one of s_value (Gy/(MBq·h)) or mass_kg (kg, local deposition for "
                "the fit's nuclide)."
            )
        if s_value is not None:
            s = check_scalar(s_value, "s_value", positive=True, unit="Gy/(MBq·h)")
        else:
            if self.nuclide is None:
                raise DoseResponseError(
                    "mass_kg needs the nuclide: fit with nuclide='Lu-177' (for example) or pass "
                    "s_value instead."
                )
            s = float(local_deposition_s_value(self.nuclide, check_scalar(
                mass_kg, "mass_kg", positive=True, unit="kg")))
        return self._unit_dose_rate().scaled(s)

    def tia_interval(self, ci_prob: float = 0.95) -> tuple[float, float]:
        """Wald interval for the TIA (MBq·h).

        Parameters
        ----------
        ci_prob : float, default 0.95
            Coverage probability of the interval, in (0, 1).

        Returns
        -------
        tuple of float
            (lower, upper) = TIA ∓ q·SE, q the normal quantile when σ is known (``activity_sd``
            given) and the Student-t quantile with ``dof`` degrees of freedom otherwise.

        Notes
        -----
        Delta-method standard error (Seber & Wild 1989, Nonlinear Regression, §5.1).
        """
        p = float(check_probability(ci_prob, "ci_prob"))
        if self.time_integrated_activity_se is None:
            raise FitError(f"no standard error for the TIA: {self.tia_se_note}")
        upper_tail = 0.5 + p / 2.0
        if self.sigma_known or not self.dof:
            q = float(stats.norm.ppf(upper_tail))
        else:
            q = float(stats.t.ppf(upper_tail, self.dof))
        half = q * self.time_integrated_activity_se
        return self.time_integrated_activity - half, self.time_integrated_activity + half

    def summary_frame(self) -> pd.DataFrame:
        """Parameters with standard errors, plus the TIA and half-lives, as a tidy frame.

        Returns
        -------
        pandas.DataFrame
            Index ``quantity``; columns ``estimate`` and ``se`` (None where not available).
        """
        rows = []
        for name, value in self.params.items():
            se = None
            if self.covariance is not None and name in self.covariance.index:
                se = math.sqrt(max(float(self.covariance.loc[name, name]), 0.0))
            rows.append({"quantity": name, "estimate": value, "se": se})
        rows += [
            {
                "quantity": "tia_MBq_h",
                "estimate": self.time_integrated_activity,
                "se": self.time_integrated_activity_se,
            },
            {"quantity": "effective_half_life_h", "estimate": self.effective_half_life, "se": None},
            {"quantity": "terminal_half_life_h", "estimate": self.terminal_half_life, "se": None},
        ]
        return pd.DataFrame(rows).set_index("quantity")

    def __repr__(self) -> str:
        se = self.time_integrated_activity_se
        se_text = f" ± {se:.4g}" if se is not None else ""
        return (
            f"TimeActivityFit(model={self.model!r}, TIA={self.time_integrated_activity:.5g}"
            f"{se_text} MBq·h, T_eff={self.effective_half_life:.4g} h, "
            f"acceptable={self.acceptable}, n={self.times_h.size}"
            + (f", flags={self.flags}" if self.flags else "")
            + ")"
        )

    def _unit_dose_rate(self) -> ExponentialDoseRate | PiecewiseDoseRate:
        """The activity curve as a 'dose-rate' object with S = 1 (MBq ↔ Gy/h)."""
        if self.model == "trapezoid":
            constant = self.conventions["start"] == "constant"
            start_rate = float(self.activity_mbq[0]) if constant else 0.0
            return PiecewiseDoseRate(
                self.times_h, self.activity_mbq, self.tail_rate_per_h, start_rate=start_rate
            )
        return ExponentialDoseRate(self.amplitudes_mbq, self.rates_per_h)


# --------------------------------------------------------------------------------------------
# The fitter
# --------------------------------------------------------------------------------------------


def fit_time_activity(
    times_h: ArrayLike,
    activity_mbq: ArrayLike,
    model: str = "auto",
    *,
    physical_half_life_h: float | None = None,
    nuclide: str | Nuclide | None = None,
    activity_sd: ArrayLike | None = None,
    tail: str = "physical",
    start: str = "zero",
    tail_points: int | None = None,
    max_parameter_cv: float = MAX_PARAMETER_CV,
    max_tia_cv: float = MAX_TIA_CV,
    max_abs_correlation: float | None = None,
    calibration_rel_sd: float = 0.0,
    partial_volume_rel_sd: float = 0.0,
) -> TimeActivityFit:
    r"""Fit a time-activity curve and integrate it from 0 to ∞.

    Parameters
    ----------
    times_h : array_like, shape (n,)
        Sample times after administration (h), >= 0, strictly increasing.
    activity_mbq : array_like, shape (n,)
        Activities (MBq), >= 0, no NaN.
    model : str, default "auto"
        ``"mono-exponential"``, ``"bi-exponential"``, ``"tri-exponential"`` (washout phases),
        ``"uptake-mono"`` (:math:`A_0(e^{-\lambda_w t}-e^{-\lambda_u t})`), ``"uptake-bi"``
        (:math:`A_1e^{-\lambda_1t}+A_2e^{-\lambda_2t}-(A_1+A_2)e^{-\lambda_3t}`),
        ``"trapezoid"`` or ``"auto"`` (AICc selection among the exponential models, see Notes).
    physical_half_life_h : float, optional
        Physical half-life (h), > 0. Required unless ``nuclide`` is given.
    nuclide : str or Nuclide, optional
        Nuclide (gives the physical half-life and enables ``dose_rate(mass_kg=...)``).
    activity_sd : array_like, shape (n,), optional
        Standard deviations of the activities (MBq), > 0: weights 1/sd², σ treated as known.
        Without it the fit is unweighted and σ is estimated from the residuals.
    tail : {"physical", "fit"}
        Trapezoid only: tail rate λ_phys, or a log-linear fit to the last ``tail_points``
        samples, bounded below by λ_phys.
    start : {"zero", "constant"}
        Trapezoid only: linear rise from (0, 0) or the first activity held from t = 0.
    tail_points : int, optional
        Trapezoid with ``tail="fit"``: number of final samples in the log-linear fit (>= 2;
        default 3, or 2 when only 2 samples exist).
    max_parameter_cv : float, default 0.5
        Acceptance rule ``"parameter-cv"``: largest coefficient of variation (SE/\|estimate\|) of a
        free parameter (NUKFIT's 50 %).
    max_tia_cv : float, default 0.5
        Acceptance rule ``"tia-cv"``: largest relative SE of the TIA from the fit.
    max_abs_correlation : float, optional
        If given, acceptance rule ``"correlation"``: largest absolute off-diagonal element of the
        parameter correlation matrix (the published value is 0.8). By default correlation is
        only reported: it is inherent to the model on the schedule (a 2-parameter fit on
        24/96/168 h has \|corr\| ≈ 0.81 whatever the data), and its effect on the TIA is already in
        the TIA SE that ``max_tia_cv`` tests.
    calibration_rel_sd, partial_volume_rel_sd : float, default 0
        Stated relative standard deviations (fractions, >= 0) of the activity calibration
        (camera/dose-calibrator factor) and of the partial-volume (recovery) correction. Both
        scale every sample of the curve by the same factor, so they add to the TIA SE in
        quadrature (see Notes); they do not change the fit.

    Returns
    -------
    TimeActivityFit
        The fit, its TIA (MBq·h) with standard error, half-lives and candidates.

    Raises
    ------
    DoseResponseError
        Too few points for the model, unsorted or duplicated times, negative / NaN activities,
        mismatched lengths, no physical half-life, unknown model, zero activity everywhere.
    FitError
        A pure washout model (mono-, bi-, tri-exponential) was requested for data that rise from
        the first to the second sample beyond noise (rule ``"rising-data"``).

    Warns
    -----
    PhysicalDecayBoundWarning
        The returned fit's slowest clearance is at λ_phys, or a trapezoid tail at λ_phys follows
        data that clear faster than physical decay (flag in ``flags``).
    ConvergenceWarning
        ``"auto"`` found no acceptable exponential fit and fell back to the trapezoid, or an
        explicitly requested model did not converge (a converged fit that fails the acceptance
        rules is returned with ``acceptable=False`` and the reasons in ``acceptance_notes``).

    Notes
    -----
    *Models and bounds.* Rates are ordered (λ1 < λ2 < …) and bounded below by λ_phys, since a
    tissue cannot clear more slowly than physical decay (as in PyTheranostics); amplitudes are
    >= 0. When λ1 sits on that bound it is treated as fixed (zero variance). Any other parameter
    at its bound (zero amplitude, merged rates) makes the fit degenerate → not acceptable.

    *Fitting.* ``scipy.optimize.least_squares`` (trust-region reflective, analytic Jacobian),
    started from the best rate combinations of a logarithmic grid on which the amplitudes are
    solved by non-negative least squares (variable projection).

    *Uncertainty.* Covariance :math:`(J^TWJ)^{-1}` (σ known) or :math:`s^2(J^TJ)^{-1}` with
    :math:`s^2=RSS/(n-p)` (σ unknown); SE of Ã by the delta method,
    :math:`\mathrm{Var}\,\tilde A = g^T\Sigma g`, g = ∂Ã/∂θ (Seber & Wild 1989). Trapezoid:
    linear propagation of ``activity_sd``. Stated calibration (:math:`u_{cal}`) and
    partial-volume (:math:`u_{PV}`) relative SDs multiply the whole curve, so

    .. math:: \mathrm{SE}(\tilde A)^2 = \mathrm{SE}_{fit}^2 + \tilde A^2\,(u_{cal}^2 + u_{PV}^2)

    (first-order propagation of independent multiplicative errors, JCGM 100:2008 "GUM" §5.1;
    EANM dosimetry uncertainty guidance, Gear et al. 2018, Eur J Nucl Med Mol Imaging 45:2456).
    The parts are in ``tia_se_components``. When the slowest rate sits at λ_phys it is held
    fixed, so the fit SE is conditional on it (flag ``"physical-decay-bound"``, warning).

    *Rising data.* If the second sample exceeds the first by more than ``RISE_TOLERANCE`` (15 %,
    relative; no ``activity_sd``) or by more than 2 SD of the difference (with ``activity_sd``),
    the curve has an uptake phase: ``"auto"`` fits only the uptake models (and the trapezoid as
    fallback), and an explicitly requested washout model raises :class:`FitError`.

    *Selection* (``"auto"``): every allowed exponential model with fewer parameters than points
    is fitted; a fit is acceptable if it converged, is identifiable (non-singular information
    matrix), has no degenerate parameter, every free parameter has CV < 50 % (NUKFIT, Kletting
    et al. 2013, Med Phys 40:102504; EJNMMI Phys 2021, s40658-021-00427-x) and the TIA has
    CV < 50 %. The published \|correlation\| < 0.8 rule is applied only if ``max_abs_correlation``
    is given. Each rule's outcome is in ``acceptance``; the reasons other models lost are in
    ``rejected_models``. Among acceptable fits the minimum AICc wins, and the simplest
    model within ΔAICc ≤ 2 of it is preferred (PyTheranostics rule).
    :math:`AICc = -2\ln L + 2K + 2K(K+1)/(n-K-1)` with −2 ln L = n ln(RSS/n) and K = p + 1 (σ
    estimated) or −2 ln L = χ² and K = p (σ known) (Burnham & Anderson 2002; Glatting et al.
    2007, Med Phys 34:4285). If AICc is undefined for every acceptable model, the simplest
    acceptable one is kept; if none is acceptable, the trapezoid is used with a warning.

    *Half-lives.* ``effective_half_life`` = ln 2 × MRT with the mean residence time
    MRT = ∫t A dt / ∫A dt (statistical moments, Yamaoka, Nakagawa & Uno 1978, J Pharmacokinet
    Biopharm 6:547); it equals T for a mono-exponential and includes the uptake delay otherwise.
    ``terminal_half_life`` is that of the slowest phase.

    Examples
    --------
    >>> t = [4.0, 24.0, 48.0, 72.0, 96.0, 168.0]
    >>> a = [100 * math.exp(-math.log(2) / 50 * x) for x in t]
    >>> fit = fit_time_activity(t, a, "mono-exponential", nuclide="Lu-177")
    >>> round(fit.time_integrated_activity, 3)
    7213.475
    """
    t = _check_times(times_h, "times_h")
    a = as_float_array(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq", ndim=1)
    if a.size != t.size:
        raise DoseResponseError(
            f"times_h and activity_mbq must have the same length; got {t.size} and {a.size}."
        )
    sd = None
    if activity_sd is not None:
        sd = as_float_array(activity_sd, "activity_sd", positive=True, unit="MBq", ndim=1)
        if sd.size != t.size:
            raise DoseResponseError(
                f"activity_sd must have one value per time point ({t.size}); got {sd.size}."
            )
    nuc = get_nuclide(nuclide) if nuclide is not None else None
    phys = _physical_half_life(physical_half_life_h, nuc)
    model_key = "auto" if str(model).lower() == "auto" else lookup_name(
        model, {m: m for m in TAC_MODELS}, "time-activity model ('auto' is also accepted)"
    )
    tail = _check_choice(tail, "tail", ("physical", "fit"))
    start = _check_choice(start, "start", ("zero", "constant"))
    if not np.any(a > 0):
        raise DoseResponseError(
            "activity_mbq is zero at every time point; there is no curve to fit (TIA = 0)."
        )
    max_cv = check_scalar(max_parameter_cv, "max_parameter_cv", positive=True)
    max_tcv = check_scalar(max_tia_cv, "max_tia_cv", positive=True)
    max_corr = None if max_abs_correlation is None else check_scalar(
        max_abs_correlation, "max_abs_correlation", positive=True
    )
    u_cal = check_scalar(calibration_rel_sd, "calibration_rel_sd", nonnegative=True)
    u_pv = check_scalar(partial_volume_rel_sd, "partial_volume_rel_sd", nonnegative=True)
    context = _Context(
        t=t,
        y=a,
        sd=sd,
        lam_phys=_LN2 / phys,
        phys=phys,
        nuclide=nuc,
        max_cv=max_cv,
        max_corr=max_corr,
        max_tia_cv=max_tcv,
        calibration_rel_sd=u_cal,
        partial_volume_rel_sd=u_pv,
    )
    rising = _rising_data(context)

    if model_key == "trapezoid":
        return _trapezoid_fit(
            context, tail, start, tail_points, candidates=None, selection="requested model"
        )
    if model_key != "auto":
        spec = _EXPONENTIAL[model_key]
        if rising is not None and not _has_uptake(spec):
            raise FitError(
                f"model={model_key!r} is a pure washout and cannot describe these data: "
                f"{rising.detail}. Use model='uptake-mono' (or 'uptake-bi', 'trapezoid', "
                "'auto')."
            )
        if spec.n_params >= t.size:
            raise DoseResponseError(
                f"model {model_key!r} has {spec.n_params} parameters and needs at least "
                f"{spec.n_params + 1} time points; got {t.size}. Use a simpler model or "
                "model='trapezoid'."
            )
        cand = _fit_exponential(spec, context)
        if rising is not None:
            cand.checks.append(rising)
        if not cand.converged:
            warnings.warn(
                f"{model_key} fit did not converge: {'; '.join(cand.notes)}",
                ConvergenceWarning,
                stacklevel=2,
            )
        return _result_from_candidate(
            cand, context, _candidate_frame([cand], cand.model), {}, "requested model"
        )

    return _auto_fit(context, tail, start, tail_points, rising)


# --------------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    t: NDArray[np.float64]
    y: NDArray[np.float64]
    sd: NDArray[np.float64] | None
    lam_phys: float
    phys: float
    nuclide: Nuclide | None
    max_cv: float = MAX_PARAMETER_CV
    max_corr: float | None = None
    max_tia_cv: float = MAX_TIA_CV
    calibration_rel_sd: float = 0.0
    partial_volume_rel_sd: float = 0.0

    @property
    def weights(self) -> NDArray[np.float64]:
        return np.ones_like(self.y) if self.sd is None else 1.0 / self.sd


@dataclass
class _Candidate:
    model: str
    spec: _ExponentialModel
    theta: NDArray[np.float64]
    free: NDArray[np.bool_]
    cov: NDArray[np.float64] | None
    converged: bool
    acceptable: bool
    notes: list[str]
    aicc: float | None
    tia: float
    tia_se: float | None
    se_note: str
    dof: int
    checks: list[AcceptanceCheck] = field(default_factory=list)
    at_phys_bound: bool = False

    def failed_rules(self) -> tuple[str, ...]:
        return tuple(f"{c.rule}: {c.detail}" for c in self.checks if c.enforced and not c.passed)


def _auto_fit(
    ctx: _Context,
    tail: str,
    start: str,
    tail_points: int | None,
    rising: AcceptanceCheck | None,
) -> TimeActivityFit:
    n = ctx.t.size
    rejected: dict[str, tuple[str, ...]] = {}
    specs = []
    for spec in _EXPONENTIAL.values():
        if spec.n_params >= n:
            continue
        if rising is not None and not _has_uptake(spec):
            rejected[spec.name] = (f"rising-data: {rising.detail}; pure washout not fitted",)
            continue
        specs.append(spec)
    cands = [_fit_exponential(s, ctx) for s in specs]
    if rising is not None:
        for c in cands:
            c.checks.append(rising)
    ok = [c for c in cands if c.acceptable]
    finite = [c for c in ok if c.aicc is not None]
    chosen: _Candidate | None = None
    selection = ""
    if finite:
        best = min(c.aicc for c in finite)
        close = [c for c in finite if c.aicc <= best + DELTA_AICC_PREFER_SIMPLER]
        chosen = min(close, key=lambda c: (c.spec.n_params, c.aicc))
        selection = "minimum AICc among acceptable models"
        if chosen.aicc > best:
            chosen.notes.append(
                f"selected over a model with AICc lower by {chosen.aicc - best:.3g} "
                f"(≤ {DELTA_AICC_PREFER_SIMPLER:g}): simpler model preferred"
            )
            selection = (
                f"simplest acceptable model within ΔAICc ≤ {DELTA_AICC_PREFER_SIMPLER:g} "
                "of the minimum"
            )
    elif ok:
        chosen = min(ok, key=lambda c: c.spec.n_params)
        chosen.notes.append("AICc undefined for every acceptable model; simplest one kept")
        selection = "simplest acceptable model (AICc undefined: n − K − 1 ≤ 0)"
    for c in cands:
        if c is not chosen:
            rejected[c.model] = c.failed_rules() or (f"not selected: {selection}",)
    if chosen is not None:
        return _result_from_candidate(
            chosen, ctx, _candidate_frame(cands, chosen.model), rejected, selection
        )
    if not specs and not rejected:
        why = f"only {n} time point(s): no exponential model has fewer parameters than points"
    else:
        why = "; ".join(f"{name}: {', '.join(reasons)}" for name, reasons in rejected.items())
    warnings.warn(
        f"no acceptable exponential fit ({why}); falling back to the trapezoid with "
        f"tail={tail!r}, start={start!r}.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return _trapezoid_fit(
        ctx,
        tail,
        start,
        tail_points,
        candidates=cands,
        selection="fallback: no acceptable exponential model",
        rejected=rejected,
        rising=rising,
    )


def _fit_exponential(spec: _ExponentialModel, ctx: _Context) -> _Candidate:
    t, y, w, lp = ctx.t, ctx.y, ctx.weights, ctx.lam_phys
    mix = spec.mix_matrix
    n_amp, n_rate = spec.n_amplitudes, spec.n_rates
    scale_y = float(np.max(y))

    def unpack(z: NDArray) -> tuple[NDArray, NDArray]:
        return z[:n_amp], lp + np.cumsum(z[n_amp:])

    def residual(z: NDArray) -> NDArray:
        amps, rates = unpack(z)
        return w * (_curve(t, mix @ amps, rates) - y)

    tri = np.tril(np.ones((n_rate, n_rate)))

    def jacobian(z: NDArray) -> NDArray:
        amps, rates = unpack(z)
        jac = _jacobian_theta(t, mix, amps, rates)
        jac = np.concatenate([jac[:, :n_amp], jac[:, n_amp:] @ tri], axis=1)
        return w[:, None] * jac

    best = None
    agreeing = 0
    for z0 in _grid_starts(spec, ctx):
        res = optimize.least_squares(
            residual,
            z0,
            jac=jacobian,
            bounds=(np.zeros_like(z0), np.full_like(z0, np.inf)),
            method="trf",
            x_scale="jac",
            ftol=1e-11,
            xtol=1e-11,
            gtol=1e-11,
            max_nfev=40 * spec.n_params,
        )
        if best is not None and res.status > 0 and best.status > 0 and math.isclose(
            res.cost, best.cost, rel_tol=1e-8, abs_tol=1e-300
        ):
            agreeing += 1
        if best is None or res.cost < best.cost * (1 - 1e-12) or (
            res.status > 0 and best.status <= 0 and res.cost <= best.cost * (1 + 1e-9)
        ):
            best = res
        if agreeing >= 1:
            break  # two starts reached the same minimum
    amps, rates = unpack(best.x)
    theta = np.concatenate([amps, rates])
    notes: list[str] = []
    converged = bool(best.status > 0)
    if not converged:
        notes.append(f"not converged ({best.message})")

    # Which parameters sit on their bounds?
    amp_tol = 1e-9 * scale_y
    d = best.x[n_amp:]
    at_bound = np.concatenate([amps <= amp_tol, d <= 1e-7 * lp])
    free = ~at_bound
    degenerate = [name for name, b in zip(spec.param_names, at_bound, strict=True) if b]
    lam1_name = spec.rate_names[0]
    if lam1_name in degenerate:
        degenerate.remove(lam1_name)
        notes.append(f"{lam1_name} at the physical-decay bound λ_phys; held fixed")
    if degenerate:
        notes.append(
            f"degenerate: {', '.join(degenerate)} at bound (zero amplitude or equal rates)"
        )

    resid = y - _curve(t, mix @ amps, rates)
    chi2 = float(np.sum((w * resid) ** 2))
    n, k = t.size, spec.n_params
    k_free = int(free.sum())
    dof = n - k_free
    cov = None
    corr = None
    jac_free = (w[:, None] * _jacobian_theta(t, mix, amps, rates))[:, free]
    info = jac_free.T @ jac_free
    # Normalise columns before inverting (amplitudes in MBq, rates in 1/h differ by 1e5).
    norms = np.sqrt(np.diag(info))
    if np.all(norms > 0):
        scaled = info / np.outer(norms, norms)
        if np.linalg.cond(scaled) < 1e12:
            inv_scaled = np.linalg.inv(scaled)
            unscaled_cov = inv_scaled / np.outer(norms, norms)
            dvar = np.sqrt(np.diag(inv_scaled))
            corr = inv_scaled / np.outer(dvar, dvar)
            factor = 1.0 if ctx.sd is not None else chi2 / dof
            cov = np.zeros((k, k))
            cov[np.ix_(free, free)] = unscaled_cov * factor
    if cov is None:
        notes.append("information matrix singular: parameters not identifiable")

    checks = [
        AcceptanceCheck("converged", converged, True, None, None,
                        "least squares converged" if converged else best.message),
        AcceptanceCheck("identifiable", cov is not None, True, None, None,
                        "information matrix invertible" if cov is not None
                        else "information matrix singular"),
        AcceptanceCheck("no-degenerate-parameter", not degenerate, True, None, None,
                        ", ".join(degenerate) + " at bound" if degenerate else "none at bound"),
    ]
    held = lam1_name not in [n for n, f in zip(spec.param_names, free, strict=True) if f]
    lam1_ratio = float(unpack(best.x)[1][0]) / lp
    at_phys = held or lam1_ratio <= 1.0 + AT_BOUND_REL
    checks.append(AcceptanceCheck(
        "physical-decay-bound", not at_phys, False, lam1_ratio, 1.0 + AT_BOUND_REL,
        f"{lam1_name} = λ_phys (no biological clearance"
        + ("; held fixed, SE conditional on it)" if held else ")")
        if at_phys else f"{lam1_name} = {lam1_ratio:.4g} λ_phys",
    ))
    if cov is not None:
        se = np.sqrt(np.diag(cov))
        theta_free = theta[free]
        cv = se[free] / np.abs(theta_free)
        bad_cv = [
            f"{name} CV {100 * c:.0f} %"
            for name, c in zip(np.array(spec.param_names)[free], cv, strict=True)
            if not c < ctx.max_cv
        ]
        if bad_cv:
            notes.append(f"CV ≥ {100 * ctx.max_cv:g} %: " + ", ".join(bad_cv))
        max_cv = float(np.max(cv)) if cv.size else 0.0
        checks.append(AcceptanceCheck(
            "parameter-cv", not bad_cv, True, max_cv, ctx.max_cv,
            ", ".join(bad_cv) if bad_cv else f"largest parameter CV {100 * max_cv:.1f} %",
        ))
        off = np.abs(corr[~np.eye(corr.shape[0], dtype=bool)])
        max_corr = float(np.max(off)) if off.size else 0.0
        enforce = ctx.max_corr is not None
        corr_ok = not enforce or max_corr < ctx.max_corr
        if not corr_ok:
            notes.append(f"|correlation| {max_corr:.2f} ≥ {ctx.max_corr:g}")
        checks.append(AcceptanceCheck(
            "correlation", corr_ok, enforce, max_corr, ctx.max_corr,
            f"largest |correlation| {max_corr:.2f}"
            + ("" if enforce else " (reported only; inherent to the model on this schedule)"),
        ))

    # AICc.
    if ctx.sd is not None:
        big_k, minus2ll = k, chi2
    else:
        big_k = k + 1
        rss = max(chi2, n * (1e-14 * scale_y) ** 2)
        minus2ll = n * math.log(rss / n)
    aicc = None
    if n - big_k - 1 > 0:
        aicc = minus2ll + 2 * big_k + 2 * big_k * (big_k + 1) / (n - big_k - 1)
    else:
        notes.append(f"AICc undefined (n − K − 1 = {n - big_k - 1} ≤ 0)")

    comps = mix @ amps
    tia = float(np.sum(comps / rates))
    tia_se: float | None = None
    if cov is not None:
        grad = np.concatenate([mix.T @ (1.0 / rates), -comps / rates**2])
        tia_se = float(math.sqrt(max(float(grad @ cov @ grad), 0.0)))
        se_note = "delta method from the parameter covariance" + (
            " (σ known from activity_sd)" if ctx.sd is not None else " (σ estimated, s² = RSS/dof)"
        )
        tia_cv = tia_se / tia if tia > 0 else math.inf
        checks.append(AcceptanceCheck(
            "tia-cv", tia_cv < ctx.max_tia_cv, True, tia_cv, ctx.max_tia_cv,
            f"TIA CV {100 * tia_cv:.1f} %",
        ))
        if not tia_cv < ctx.max_tia_cv:
            notes.append(f"TIA CV {100 * tia_cv:.0f} % ≥ {100 * ctx.max_tia_cv:g} %")
    else:
        se_note = "parameter covariance singular: TIA standard error not available"
    acceptable = all(c.passed for c in checks if c.enforced)
    if acceptable:
        notes.insert(0, "acceptable")
    return _Candidate(
        model=spec.name,
        spec=spec,
        theta=theta,
        free=free,
        cov=cov,
        converged=converged,
        acceptable=acceptable,
        notes=notes,
        aicc=aicc,
        tia=tia,
        tia_se=tia_se,
        se_note=se_note,
        dof=dof,
        checks=checks,
        at_phys_bound=at_phys,
    )


def _grid_starts(spec: _ExponentialModel, ctx: _Context, n_starts: int = 4) -> list[NDArray]:
    """Starting points: best rate combinations on a log grid, amplitudes by NNLS."""
    t, y, w, lp = ctx.t, ctx.y, ctx.weights, ctx.lam_phys
    positive = t[t > 0]
    t_first = float(positive.min()) if positive.size else 1.0
    hi = max(20.0 / t_first, 50.0 * lp)
    grid = np.geomspace(lp, hi, 13)
    mix = spec.mix_matrix
    scored = []
    for idx in itertools.combinations(range(grid.size), spec.n_rates):
        rates = grid[list(idx)]
        design = np.exp(-np.outer(t, rates)) @ mix
        amps, rnorm = optimize.nnls(w[:, None] * design, w * y)
        scored.append((rnorm, rates, amps))
    scored.sort(key=lambda item: item[0])
    starts = []
    floor_amp = 1e-3 * float(np.max(y))
    for _, rates, amps in scored[:n_starts]:
        d = np.diff(np.concatenate(([lp], rates)))
        d[0] = max(d[0], 1e-3 * lp)
        d[1:] = np.maximum(d[1:], 1e-2 * rates[:-1])
        starts.append(np.concatenate([np.maximum(amps, floor_amp), d]))
    return starts


def _curve(t: NDArray, comps: NDArray, rates: NDArray) -> NDArray:
    return np.exp(-np.outer(t, rates)) @ comps


def _jacobian_theta(t: NDArray, mix: NDArray, amps: NDArray, rates: NDArray) -> NDArray:
    """∂A(t)/∂(amplitudes, rates), shape (n, n_amp + n_rate)."""
    expo = np.exp(-np.outer(t, rates))
    comps = mix @ amps
    return np.concatenate([expo @ mix, -t[:, None] * expo * comps], axis=1)


def _result_from_candidate(
    cand: _Candidate,
    ctx: _Context,
    candidates: pd.DataFrame,
    rejected: dict[str, tuple[str, ...]],
    selection: str,
) -> TimeActivityFit:
    spec = cand.spec
    flags = []
    if cand.at_phys_bound:
        flags.append("physical-decay-bound")
        warnings.warn(
            f"{cand.model} fit: the slowest clearance {spec.rate_names[0]} sits at the "
            f"physical-decay bound (T = {ctx.phys:.4g} h): the region is modelled as retaining "
            "activity with no biological clearance, and the TIA standard error is conditional "
            "on that rate. Check the schedule covers the clearance, or compare model='trapezoid'"
            " with tail='fit'.",
            PhysicalDecayBoundWarning,
            stacklevel=4,
        )
    if any(c.rule == "rising-data" for c in cand.checks):
        flags.append("rising-data")
    tia_se_total, components = _total_tia_se(cand.tia, cand.tia_se, ctx)
    amps, rates = cand.theta[: spec.n_amplitudes], cand.theta[spec.n_amplitudes :]
    comps = spec.mix_matrix @ amps
    first_moment = float(np.sum(comps / rates**2))
    mrt = first_moment / cand.tia
    names = list(spec.param_names)
    cov = None if cand.cov is None else pd.DataFrame(cand.cov, index=names, columns=names)
    comps.setflags(write=False)
    rates = rates.copy()
    rates.setflags(write=False)
    return TimeActivityFit(
        model=cand.model,
        params={name: float(v) for name, v in zip(names, cand.theta, strict=True)},
        covariance=cov,
        time_integrated_activity=cand.tia,
        time_integrated_activity_se=tia_se_total,
        tia_se_note=cand.se_note + _systematic_note(ctx),
        effective_half_life=_LN2 * mrt,
        terminal_half_life=_LN2 / float(rates.min()),
        aicc=cand.aicc,
        acceptable=cand.acceptable,
        acceptance_notes=tuple(cand.notes),
        candidates=candidates,
        times_h=ctx.t,
        activity_mbq=ctx.y,
        activity_sd=ctx.sd,
        physical_half_life_h=ctx.phys,
        nuclide=ctx.nuclide,
        amplitudes_mbq=comps,
        rates_per_h=rates,
        tail_rate_per_h=None,
        dof=cand.dof,
        sigma_known=ctx.sd is not None,
        conventions={
            "model_formula": spec.formula,
            "weights": "1/activity_sd²" if ctx.sd is not None else "unweighted",
            "rate_bound": f"λ ≥ λ_phys = {ctx.lam_phys:.6g} 1/h",
            "effective_half_life": "ln2 × mean residence time (∫tA/∫A)",
            "terminal_half_life": "ln2 / slowest rate",
        },
        acceptance=tuple(cand.checks),
        rejected_models=dict(rejected),
        selection_rule=selection,
        flags=tuple(flags),
        tia_se_components=components,
    )


def _trapezoid_fit(
    ctx: _Context,
    tail: str,
    start: str,
    tail_points: int | None,
    candidates: list[_Candidate] | None,
    selection: str,
    rejected: dict[str, tuple[str, ...]] | None = None,
    rising: AcceptanceCheck | None = None,
) -> TimeActivityFit:
    t, y, sd, lp = ctx.t, ctx.y, ctx.sd, ctx.lam_phys
    n = t.size
    notes = ["trapezoid + exponential tail (non-parametric; no acceptance test)"]
    dlam = np.zeros(n)
    if tail == "physical":
        if tail_points is not None:
            raise DoseResponseError(
                "tail_points only applies to tail='fit'; drop it or set tail='fit'."
            )
        lam = lp
        used = 0
    else:
        if n < 2:
            raise DoseResponseError(
                "tail='fit' needs at least 2 time points; got 1. Use tail='physical'."
            )
        used = min(3, n) if tail_points is None else _check_tail_points(tail_points, n)
        tt, yy = t[-used:], y[-used:]
        if np.any(yy <= 0):
            raise DoseResponseError(
                f"tail='fit' needs positive activities in the last {used} samples for a "
                "log-linear fit; use tail='physical'."
            )
        centred = tt - tt.mean()
        stt = float(np.sum(centred**2))
        lam_fit = -float(np.sum(centred * np.log(yy)) / stt)
        if lam_fit > lp:
            lam = lam_fit
            dlam[-used:] = -centred / (stt * yy)
        else:
            lam = lp
            notes.append(
                f"fitted tail rate {lam_fit:.4g} 1/h below λ_phys; tail bounded at λ_phys"
            )
    weights = _trapezoid_weights(t, start)
    tia = float(y @ weights + y[-1] / lam)
    grad = weights.copy()
    grad[-1] += 1.0 / lam
    grad -= y[-1] / lam**2 * dlam
    if sd is not None:
        tia_se = float(math.sqrt(np.sum((grad * sd) ** 2)))
        se_note = "linear propagation of activity_sd through the trapezoid and tail"
    else:
        tia_se = None
        se_note = "trapezoid: no activity_sd given, so no standard error can be propagated"
    knots_t = np.concatenate(([0.0], t)) if t[0] > 0 else t
    knots_y = np.concatenate(([y[0] if start == "constant" else 0.0], y)) if t[0] > 0 else y
    first = float(np.sum(_segment_first_moments(knots_t, knots_y)))
    first += y[-1] * (t[-1] / lam + 1.0 / lam**2)
    mrt = first / tia
    flags = ["fallback"] if selection.startswith("fallback") else []
    checks = [] if rising is None else [rising]
    clearing = _observed_clearance(t, y, sd)
    if math.isclose(lam, lp) and clearing is not None and clearing > CLEARING_FACTOR * lp:
        tail_share = (y[-1] / lam) / tia
        inflation = y[-1] / lam - y[-1] / clearing
        flags.append("physical-tail-on-clearing-data")
        checks.append(AcceptanceCheck(
            "physical-decay-bound", False, False, clearing / lp, CLEARING_FACTOR,
            f"tail at λ_phys although the last samples clear with T ≈ {_LN2 / clearing:.3g} h",
        ))
        warnings.warn(
            f"trapezoid tail at physical decay (T = {ctx.phys:.4g} h) although the last samples "
            f"clear with T ≈ {_LN2 / clearing:.3g} h: the tail holds {100 * tail_share:.0f} % of "
            f"the TIA and adds ≈ {inflation:.4g} MBq·h ({100 * inflation / tia:.1f} %) over a "
            "tail at the observed clearance. Use tail='fit' or an exponential model.",
            PhysicalDecayBoundWarning,
            stacklevel=4,
        )
    tia_se_total, components = _total_tia_se(tia, tia_se, ctx)
    cand_list = list(candidates or [])
    frame = _candidate_frame(cand_list, "trapezoid", trapezoid_tia=tia)
    return TimeActivityFit(
        model="trapezoid",
        params={"tail_rate_per_h": lam},
        covariance=None,
        time_integrated_activity=tia,
        time_integrated_activity_se=tia_se_total,
        tia_se_note=se_note + _systematic_note(ctx),
        effective_half_life=_LN2 * mrt,
        terminal_half_life=_LN2 / lam,
        aicc=None,
        acceptable=True,
        acceptance_notes=tuple(notes),
        candidates=frame,
        times_h=t,
        activity_mbq=y,
        activity_sd=sd,
        physical_half_life_h=ctx.phys,
        nuclide=ctx.nuclide,
        amplitudes_mbq=None,
        rates_per_h=None,
        tail_rate_per_h=lam,
        dof=None,
        sigma_known=sd is not None,
        conventions={
            "start": start,
            "tail": tail,
            "tail_points": used if tail == "fit" else None,
            "tail_bound": f"λ_tail ≥ λ_phys = {lp:.6g} 1/h",
            "effective_half_life": "ln2 × mean residence time (∫tA/∫A)",
            "terminal_half_life": "ln2 / tail rate",
        },
        acceptance=tuple(checks),
        rejected_models=dict(rejected or {}),
        selection_rule=selection,
        flags=tuple(flags),
        tia_se_components=components,
    )


def _has_uptake(spec: _ExponentialModel) -> bool:
    """Whether the model has a negative (uptake) component."""
    return bool(np.any(spec.mix_matrix < 0))


def _rising_data(ctx: _Context) -> AcceptanceCheck | None:
    """The "rising-data" check if the second sample exceeds the first beyond noise, else None."""
    t, y, sd = ctx.t, ctx.y, ctx.sd
    if t.size < 2 or y[1] <= y[0]:
        return None
    rise = float(y[1] - y[0])
    rel = rise / y[0] if y[0] > 0 else math.inf
    if sd is not None:
        z = rise / math.hypot(sd[0], sd[1])
        if z <= RISE_Z:
            return None
        detail = (
            f"activity rises from {y[0]:.4g} MBq at {t[0]:g} h to {y[1]:.4g} MBq at {t[1]:g} h "
            f"({z:.1f} SD of the difference > {RISE_Z:g})"
        )
        return AcceptanceCheck("rising-data", False, False, z, RISE_Z, detail)
    if rel <= RISE_TOLERANCE:
        return None
    detail = (
        f"activity rises from {y[0]:.4g} MBq at {t[0]:g} h to {y[1]:.4g} MBq at {t[1]:g} h "
        f"(+{100 * rel:.0f} % > {100 * RISE_TOLERANCE:g} %)"
    )
    return AcceptanceCheck("rising-data", False, False, rel, RISE_TOLERANCE, detail)


def _observed_clearance(t: NDArray, y: NDArray, sd: NDArray | None) -> float | None:
    """Log-linear rate (1/h) through the last (up to) 3 positive samples after the maximum."""
    peak = int(np.argmax(y))
    tt, yy = t[peak:][-3:], y[peak:][-3:]
    if tt.size < 2 or np.any(yy <= 0):
        return None
    centred = tt - tt.mean()
    return -float(np.sum(centred * np.log(yy)) / np.sum(centred**2))


def _total_tia_se(
    tia: float, fit_se: float | None, ctx: _Context
) -> tuple[float | None, dict[str, float | None]]:
    """Fit SE combined in quadrature with the stated calibration and partial-volume parts."""
    cal = tia * ctx.calibration_rel_sd
    pv = tia * ctx.partial_volume_rel_sd
    components = {"fit": fit_se, "calibration": cal, "partial_volume": pv}
    if fit_se is None:
        return None, components
    return float(math.sqrt(fit_se**2 + cal**2 + pv**2)), components


def _systematic_note(ctx: _Context) -> str:
    if ctx.calibration_rel_sd == 0 and ctx.partial_volume_rel_sd == 0:
        return ""
    return (
        f"; plus calibration ({100 * ctx.calibration_rel_sd:g} %) and partial-volume "
        f"({100 * ctx.partial_volume_rel_sd:g} %) relative SDs in quadrature"
    )


def _candidate_frame(
    cands: list[_Candidate], selected: str, trapezoid_tia: float | None = None
) -> pd.DataFrame:
    rows = [
        {
            "model": c.model,
            "n_params": c.spec.n_params,
            "converged": c.converged,
            "acceptable": c.acceptable,
            "aicc": np.nan if c.aicc is None else c.aicc,
            "tia_MBq_h": c.tia,
            "tia_se_MBq_h": np.nan if c.tia_se is None else c.tia_se,
            "notes": "; ".join(c.notes),
        }
        for c in cands
    ]
    if trapezoid_tia is not None:
        rows.append(
            {
                "model": "trapezoid",
                "n_params": 0,
                "converged": True,
                "acceptable": True,
                "aicc": np.nan,
                "tia_MBq_h": trapezoid_tia,
                "tia_se_MBq_h": np.nan,
                "notes": "fallback / requested trapezoid",
            }
        )
    frame = pd.DataFrame(rows)
    ok = frame["acceptable"] & frame["aicc"].notna()
    best = frame.loc[ok, "aicc"].min() if ok.any() else np.nan
    frame["delta_aicc"] = frame["aicc"] - best
    frame["selected"] = frame["model"] == selected
    return frame


def _trapezoid_weights(t: NDArray, start: str) -> NDArray:
    """Weights w with ∫ (piecewise-linear interpolant from t = 0 to t_n) = w · A."""
    n = t.size
    weights = np.zeros(n)
    widths = np.diff(t)
    weights[:-1] += 0.5 * widths
    weights[1:] += 0.5 * widths
    weights[0] += t[0] if start == "constant" else 0.5 * t[0]
    return weights


def _segment_first_moments(t: NDArray, a: NDArray) -> NDArray:
    """∫ t A(t) dt over each linear segment [t_i, t_{i+1}]."""
    h = np.diff(t)
    return h / 6.0 * (t[:-1] * (2 * a[:-1] + a[1:]) + t[1:] * (a[:-1] + 2 * a[1:]))


def _check_times(times: ArrayLike, name: str) -> NDArray[np.float64]:
    t = as_float_array(times, name, nonnegative=True, unit="h", ndim=1)
    if t.size == 0:
        raise DoseResponseError(f"{name} must contain at least one time point.")
    check_increasing_times(t, name)
    return t


def _check_tail_points(value: Any, n: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 2 <= value <= n:
        raise DoseResponseError(
            f"tail_points must be an integer between 2 and the number of points ({n}); "
            f"got {value!r}."
        )
    return int(value)


def _check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DoseResponseError(f"{name} must be one of {choices}; got {value!r}.")
    return value


def _physical_half_life(value: float | None, nuc: Nuclide | None) -> float:
    if value is None and nuc is None:
        raise DoseResponseError(
            "the physical half-life is required (rates are bounded below by physical decay): "
            "pass physical_half_life_h=... (h) or nuclide='Lu-177' (for example)."
        )
    if value is None:
        return nuc.half_life_h
    phys = check_scalar(value, "physical_half_life_h", positive=True, unit="h")
    if nuc is not None and not math.isclose(phys, nuc.half_life_h, rel_tol=1e-9):
        raise DoseResponseError(
            f"physical_half_life_h={phys:g} h contradicts nuclide {nuc.name} "
            f"(T½ = {nuc.half_life_h:g} h); pass only one of them."
        )
    return phys
