"""Time-integrated activity from a single imaging time point (STP), with its uncertainty.

Three estimators of the TIA Ã (MBq·h) from one activity A(t) (MBq) measured at t (h):

* :func:`hanscheid_tia` — Hänscheid et al. 2018: Ã ≈ 2·A(t)·t/ln 2, no kinetic information.
* :func:`madsen_tia` — Madsen et al. 2018: mono-exponential through the point with a population
  effective half-life, Ã = A(t)·e^{λt}/λ.
* :func:`reference_curve_tia` — "population T_eff + one point" generalised to any fitted shape:
  a reference curve (the patient's own full-imaging cycle, or a population curve) rescaled through
  the one point. This is the hybrid schedule of :func:`~.pipeline.multicycle_dosimetry`.

Each returns a :class:`SingleTimePointTIA` whose standard error comes from a *stated* spread of
the effective half-life (and, for the reference curve, the reference fit's covariance), combined
in quadrature with stated relative SDs of the activity measurement, calibration and partial-volume
correction. It carries the implied mono/multi-exponential curve, so BED can be computed from it.

Units: time h, activity MBq, TIA MBq·h, half-lives h, rates 1/h, S values Gy/(MBq·h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse._validation import as_float_array, check_scalar, finite_or_error
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.absorbed import single_time_point_tia
from doseresponse.radiobiology.doserate import ExponentialDoseRate
from doseresponse.radiobiology.kinetics import _EXPONENTIAL, TimeActivityFit

__all__ = [
    "SingleTimePointTIA",
    "hanscheid_tia",
    "madsen_tia",
    "reference_curve_tia",
]

_LN2 = math.log(2.0)
#: Gauss–Hermite nodes for the expectation over the log-normal half-life spread.
_N_NODES = 48


@dataclass(frozen=True, eq=False)
class SingleTimePointTIA:
    """A single-time-point TIA estimate with its uncertainty.

    Attributes
    ----------
    method : str
        ``"hanscheid"``, ``"madsen"`` or ``"reference-curve"``.
    time_integrated_activity : float
        Ã from 0 to ∞ (MBq·h).
    time_integrated_activity_se : float or None
        Standard error (MBq·h): root of the sum of squares in ``tia_se_components``. ``None``
        (Hänscheid without a stated half-life spread) with the reason in ``notes``.
    tia_se_components : dict of str to float
        ``"half_life"`` (RMS error over the stated T_eff spread, bias included),
        ``"reference_fit"`` (reference curve's covariance), ``"activity"``, ``"calibration"``,
        ``"partial_volume"`` (stated relative SDs × Ã), all MBq·h.
    time_h, activity_mbq : float
        The measurement (h, MBq).
    effective_half_life_h : float
        Effective half-life of the implied curve (h): the population value (Madsen), t itself
        (Hänscheid, exact when T_eff = t), or ln 2 × MRT of the rescaled reference curve.
    effective_half_life_sd_h : float or None
        Stated SD of the effective half-life (h).
    amplitudes_mbq, rates_per_h : numpy.ndarray
        The implied curve A(t) = Σ amplitudes_j e^{-rates_j t} (MBq, 1/h).
    notes : tuple of str
        Assumptions and conventions.
    """

    method: str
    time_integrated_activity: float
    time_integrated_activity_se: float | None
    tia_se_components: dict[str, float]
    time_h: float
    activity_mbq: float
    effective_half_life_h: float
    effective_half_life_sd_h: float | None
    amplitudes_mbq: NDArray[np.float64]
    rates_per_h: NDArray[np.float64]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def model(self) -> str:
        """Model label as used in dosimetry tables (``"stp-<method>"``)."""
        return f"stp-{self.method}"

    def predict(self, t: ArrayLike) -> NDArray[np.float64]:
        """Activity (MBq) of the implied curve at times ``t`` (h, >= 0).

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
        return ExponentialDoseRate(self.amplitudes_mbq, self.rates_per_h).dose_rate(tt)

    def dose_rate(self, s_value: float) -> ExponentialDoseRate:
        """Dose-rate history S·A(t) (Gy/h) of the implied curve, S in Gy/(MBq·h), > 0.

        Parameters
        ----------
        s_value : float
            S value (Gy/(MBq·h)), > 0.

        Returns
        -------
        ExponentialDoseRate
            The dose-rate history.
        """
        s = check_scalar(s_value, "s_value", positive=True, unit="Gy/(MBq·h)")
        return ExponentialDoseRate(s * self.amplitudes_mbq, self.rates_per_h)

    def __repr__(self) -> str:
        se = self.time_integrated_activity_se
        se_text = f" ± {se:.4g}" if se is not None else ""
        return (
            f"SingleTimePointTIA(method={self.method!r}, TIA={self.time_integrated_activity:.5g}"
            f"{se_text} MBq·h, t={self.time_h:g} h, T_eff={self.effective_half_life_h:.4g} h)"
        )


@finite_or_error
def hanscheid_tia(
    activity_mbq: float,
    time_h: float,
    *,
    effective_half_life_h: float | None = None,
    effective_half_life_sd_h: float | None = None,
    activity_rel_sd: float = 0.0,
    calibration_rel_sd: float = 0.0,
    partial_volume_rel_sd: float = 0.0,
) -> SingleTimePointTIA:
    r"""Hänscheid single-time-point TIA, :math:`\tilde A \approx 2\,A(t)\,t/\ln 2`.

    Parameters
    ----------
    activity_mbq : float
        Activity measured at ``time_h`` (MBq), >= 0.
    time_h : float
        Time of the scan after administration (h), > 0.
    effective_half_life_h, effective_half_life_sd_h : float, optional
        Stated population mean and SD of the true effective half-life (h), > 0 and >= 0. Not used
        by the estimate; they give its uncertainty (error of the approximation over that spread).
        Without them the SE is ``None``.
    activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd : float, default 0
        Relative SDs (fractions, >= 0) of the measured activity, the calibration factor and the
        partial-volume correction.

    Returns
    -------
    SingleTimePointTIA
        Implied curve: mono-exponential with T_eff = t through the point (for which the formula
        is exact).

    Notes
    -----
    Hänscheid et al. 2018 (J Nucl Med 59:75): for a mono-exponential with half-life T the exact
    TIA is :math:`A(t)\,T\,2^{t/T}/\ln 2`; the approximation replaces :math:`T\,2^{t/T}` by its
    value 2t at T = t (the minimum over T is at T = t ln 2, so the error is second order near
    there). Ratio to the truth :math:`2x\,2^{-x}`, x = t/T: exact at x = 1 and 2, within ±10 % for
    0.76 ≤ x ≤ 2.44. The SE is :math:`\sqrt{E_T[(\hat A - \tilde A(T))^2]}` over
    T ~ log-normal with the stated mean and SD (48-node Gauss–Hermite), so it includes the bias,
    combined in quadrature with the relative activity SDs times Ã (GUM, JCGM 100:2008 §5.1).

    Examples
    --------
    >>> round(hanscheid_tia(10.0, 96.0).time_integrated_activity, 2)
    2769.97
    """
    a = check_scalar(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq")
    t = check_scalar(time_h, "time_h", positive=True, unit="h")
    estimate = single_time_point_tia(a, t)
    spread = _spread(effective_half_life_h, effective_half_life_sd_h, required=False)
    notes = ["Hänscheid et al. 2018: Ã ≈ 2·A(t)·t/ln2 (implied curve: T_eff = t)"]
    components: dict[str, float] = {}
    if spread is not None:
        nodes, weights = _lognormal_nodes(*spread)
        truth = _mono_tia(a, t, nodes)
        components["half_life"] = float(math.sqrt(np.sum(weights * (truth - estimate) ** 2)))
        notes.append(
            f"SE includes the approximation error over T_eff ~ log-normal(mean {spread[0]:g} h, "
            f"SD {spread[1]:g} h)"
        )
    else:
        notes.append("no effective-half-life spread stated: the approximation error is unknown")
    components.update(_activity_components(
        estimate, activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd
    ))
    se = _root_sum_square(components) if spread is not None else None
    lam = _LN2 / t
    return SingleTimePointTIA(
        method="hanscheid",
        time_integrated_activity=estimate,
        time_integrated_activity_se=se,
        tia_se_components=components,
        time_h=t,
        activity_mbq=a,
        effective_half_life_h=t,
        effective_half_life_sd_h=None if spread is None else spread[1],
        amplitudes_mbq=_frozen([a * math.exp(lam * t)]),
        rates_per_h=_frozen([lam]),
        notes=tuple(notes),
    )


@finite_or_error
def madsen_tia(
    activity_mbq: float,
    time_h: float,
    effective_half_life_h: float,
    effective_half_life_sd_h: float = 0.0,
    *,
    activity_rel_sd: float = 0.0,
    calibration_rel_sd: float = 0.0,
    partial_volume_rel_sd: float = 0.0,
) -> SingleTimePointTIA:
    r"""Madsen single-time-point TIA with a population effective half-life.

    Parameters
    ----------
    activity_mbq : float
        Activity measured at ``time_h`` (MBq), >= 0.
    time_h : float
        Time of the scan after administration (h), > 0.
    effective_half_life_h : float
        Population effective half-life T (h), > 0.
    effective_half_life_sd_h : float, default 0
        Stated between-patient SD of T (h), >= 0; gives the half-life part of the SE.
    activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd : float, default 0
        Relative SDs (fractions, >= 0) of the measured activity, calibration and partial-volume
        correction.

    Returns
    -------
    SingleTimePointTIA

    Notes
    -----
    Madsen et al. 2018 (Med Phys 45:2318): the mono-exponential through the measurement,
    :math:`\tilde A = A(t)\,e^{\lambda t}/\lambda`, λ = ln 2/T. The SE's half-life part is the
    root-mean-square error :math:`\sqrt{E_T[(\tilde A(\bar T) - \tilde A(T))^2]}` over
    T ~ log-normal with the stated mean and SD (48-node Gauss–Hermite); for a small SD it equals
    the delta-method value :math:`A(t)\,2^{t/\bar T}\,|1 - t\ln 2/\bar T|\,s_T/\ln 2`. Activity
    parts are relative SDs × Ã, combined in quadrature (GUM, JCGM 100:2008 §5.1).

    Examples
    --------
    >>> round(madsen_tia(10.0, 96.0, 96.0).time_integrated_activity, 2)
    2769.97
    """
    a = check_scalar(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq")
    t = check_scalar(time_h, "time_h", positive=True, unit="h")
    mean, sd = _spread(effective_half_life_h, effective_half_life_sd_h, required=True)
    estimate = float(_mono_tia(a, t, np.array([mean]))[0])
    components: dict[str, float] = {"half_life": 0.0}
    if sd > 0:
        nodes, weights = _lognormal_nodes(mean, sd)
        truth = _mono_tia(a, t, nodes)
        components["half_life"] = float(math.sqrt(np.sum(weights * (truth - estimate) ** 2)))
    components.update(_activity_components(
        estimate, activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd
    ))
    lam = _LN2 / mean
    return SingleTimePointTIA(
        method="madsen",
        time_integrated_activity=estimate,
        time_integrated_activity_se=_root_sum_square(components),
        tia_se_components=components,
        time_h=t,
        activity_mbq=a,
        effective_half_life_h=mean,
        effective_half_life_sd_h=sd,
        amplitudes_mbq=_frozen([a * math.exp(lam * t)]),
        rates_per_h=_frozen([lam]),
        notes=(
            "Madsen et al. 2018: mono-exponential through A(t) with the population T_eff",
            f"half-life SE over T_eff ~ log-normal(mean {mean:g} h, SD {sd:g} h)",
        ),
    )


@finite_or_error
def reference_curve_tia(
    activity_mbq: float,
    time_h: float,
    reference: TimeActivityFit,
    *,
    half_life_rel_sd: float = 0.0,
    activity_rel_sd: float = 0.0,
    calibration_rel_sd: float = 0.0,
    partial_volume_rel_sd: float = 0.0,
) -> SingleTimePointTIA:
    r"""TIA from one point and a reference curve shape ("population T_eff + one point").

    Parameters
    ----------
    activity_mbq : float
        Activity measured at ``time_h`` (MBq), >= 0.
    time_h : float
        Time of the scan after administration (h), > 0.
    reference : TimeActivityFit
        An exponential fit giving the curve's shape: the patient's own full-imaging cycle (hybrid
        schedule) or a population curve. Its amplitude scale is irrelevant.
    half_life_rel_sd : float, default 0
        Stated relative SD (fraction, >= 0) of the time scale between the reference and this
        cycle (between-cycle or between-patient variation of T_eff): all rates are divided by a
        log-normal factor with mean 1 and this SD.
    activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd : float, default 0
        Relative SDs (fractions, >= 0) of this cycle's activity, calibration and partial-volume
        correction.

    Returns
    -------
    SingleTimePointTIA
        Implied curve: the reference rescaled by A(t)/A_ref(t).

    Raises
    ------
    DoseResponseError
        ``reference`` is not a TimeActivityFit with an exponential model (a trapezoid has no
        shape beyond its samples: refit it with an exponential model), or A_ref(t) = 0.

    Notes
    -----
    :math:`\tilde A = A(t)\,R`, :math:`R = \tilde A_{ref}/A_{ref}(t)` (the STP principle of
    Madsen et al. 2018, Med Phys 45:2318, with the mono-exponential replaced by the reference
    shape; with a mono-exponential reference it *is* Madsen's formula). R is scale-free, so the
    reference cycle's calibration cancels. SE parts: the reference fit's covariance through the
    delta method on R (Seber & Wild 1989, §5.1), the time-scale spread as an RMS error over the
    log-normal factor (48-node Gauss–Hermite), and this cycle's relative activity SDs × Ã, all in
    quadrature (GUM, JCGM 100:2008 §5.1).
    """
    if not isinstance(reference, TimeActivityFit) or reference.rates_per_h is None:
        raise DoseResponseError(
            "reference must be a TimeActivityFit with an exponential model (mono, bi, uptake...); "
            f"got {getattr(reference, 'model', type(reference).__name__)!r}. Refit the reference "
            "cycle with model='auto' or an exponential model."
        )
    a = check_scalar(activity_mbq, "activity_mbq", nonnegative=True, unit="MBq")
    t = check_scalar(time_h, "time_h", positive=True, unit="h")
    rel = check_scalar(half_life_rel_sd, "half_life_rel_sd", nonnegative=True)
    comps = np.asarray(reference.amplitudes_mbq, dtype=np.float64)
    rates = np.asarray(reference.rates_per_h, dtype=np.float64)
    ref_at_t = float(np.sum(comps * np.exp(-rates * t)))
    if not ref_at_t > 0:
        raise DoseResponseError(
            f"the reference curve is zero at time_h={t:g} h; choose a scan time within the "
            "reference curve's support."
        )
    ratio = float(np.sum(comps / rates)) / ref_at_t
    estimate = a * ratio
    components: dict[str, float] = {"reference_fit": 0.0, "half_life": 0.0}
    notes = [f"reference curve {reference.model!r} rescaled through A({t:g} h)"]
    if reference.covariance is not None:
        grad = _ratio_gradient(reference, t)
        cov = reference.covariance.to_numpy()
        components["reference_fit"] = a * float(math.sqrt(max(float(grad @ cov @ grad), 0.0)))
    else:
        notes.append("reference covariance not available: its uncertainty is not included")
    if rel > 0:
        nodes, weights = _lognormal_nodes(1.0, rel)
        r_nodes = np.array([_ratio(comps, rates / f, t) for f in nodes])
        components["half_life"] = a * float(math.sqrt(np.sum(weights * (r_nodes - ratio) ** 2)))
        notes.append(f"time-scale factor ~ log-normal(mean 1, SD {rel:g})")
    components.update(_activity_components(
        estimate, activity_rel_sd, calibration_rel_sd, partial_volume_rel_sd
    ))
    scaled = comps * (a / ref_at_t)
    mrt = float(np.sum(comps / rates**2) / np.sum(comps / rates))
    return SingleTimePointTIA(
        method="reference-curve",
        time_integrated_activity=estimate,
        time_integrated_activity_se=_root_sum_square(components),
        tia_se_components=components,
        time_h=t,
        activity_mbq=a,
        effective_half_life_h=_LN2 * mrt,
        effective_half_life_sd_h=_LN2 * mrt * rel,
        amplitudes_mbq=_frozen(scaled),
        rates_per_h=_frozen(rates),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------------


def _mono_tia(a: float, t: float, half_lives: NDArray) -> NDArray:
    """Madsen TIA (MBq·h) of one point for each half-life (:func:`single_time_point_tia`)."""
    return np.atleast_1d(single_time_point_tia(a, t, effective_half_life_h=half_lives))


def _ratio(comps: NDArray, rates: NDArray, t: float) -> float:
    return float(np.sum(comps / rates) / np.sum(comps * np.exp(-rates * t)))


def _ratio_gradient(fit: TimeActivityFit, t: float) -> NDArray:
    """∂R/∂θ for R = Ã/A(t), θ = (amplitudes, rates) in the order of ``fit.covariance``."""
    spec = _EXPONENTIAL[fit.model]
    names = list(spec.param_names)
    theta = np.array([fit.params[n] for n in names])
    amps, rates = theta[: spec.n_amplitudes], theta[spec.n_amplitudes :]
    mix = spec.mix_matrix
    comps = mix @ amps
    expo = np.exp(-rates * t)
    tia, at_t = float(np.sum(comps / rates)), float(np.sum(comps * expo))
    d_tia = np.concatenate([mix.T @ (1.0 / rates), -comps / rates**2])
    d_at = np.concatenate([mix.T @ expo, -t * comps * expo])
    grad = (d_tia - tia / at_t * d_at) / at_t
    order = [names.index(n) for n in fit.covariance.index]
    return grad[order]


def _lognormal_nodes(mean: float, sd: float) -> tuple[NDArray, NDArray]:
    """Nodes and weights of E[f(X)], X log-normal with the given mean and SD."""
    s2 = math.log1p((sd / mean) ** 2)
    mu = math.log(mean) - 0.5 * s2
    x, w = np.polynomial.hermite_e.hermegauss(_N_NODES)
    return np.exp(mu + math.sqrt(s2) * x), w / w.sum()


def _spread(
    mean: float | None, sd: float | None, *, required: bool
) -> tuple[float, float] | None:
    if mean is None and sd is None and not required:
        return None
    if mean is None or (sd is None and not required):
        raise DoseResponseError(
            "give both effective_half_life_h (h) and effective_half_life_sd_h (h) to state the "
            "half-life spread, or neither."
        )
    m = check_scalar(mean, "effective_half_life_h", positive=True, unit="h")
    s = check_scalar(0.0 if sd is None else sd, "effective_half_life_sd_h", nonnegative=True,
                     unit="h")
    return m, s


def _activity_components(
    estimate: float, activity: float, calibration: float, partial_volume: float
) -> dict[str, float]:
    return {
        "activity": estimate * check_scalar(activity, "activity_rel_sd", nonnegative=True),
        "calibration": estimate
        * check_scalar(calibration, "calibration_rel_sd", nonnegative=True),
        "partial_volume": estimate
        * check_scalar(partial_volume, "partial_volume_rel_sd", nonnegative=True),
    }


def _root_sum_square(components: dict[str, float]) -> float:
    return float(math.sqrt(sum(v**2 for v in components.values())))


def _frozen(values: ArrayLike) -> NDArray[np.float64]:
    out = np.array(values, dtype=np.float64)
    out.setflags(write=False)
    return out
