r"""Biologically effective dose (BED), the Lea–Catcheside G factor, EQDx and their inverses.

The linear-quadratic (LQ) model with mono-exponential repair of sublethal damage gives, for an
absorbed-dose-rate history :math:`\dot D(t)` delivering a dose :math:`D`,

.. math:: \mathrm{BED} = D + \frac{2 I}{\alpha/\beta}, \qquad
          I = \int_0^\infty \dot D(t) \int_0^t \dot D(w)\, e^{-\mu (t-w)}\, dw\, dt,
          \qquad G = 2I/D^2,

with :math:`\mu = \ln 2 / T_{rep}` (Lea & Catcheside 1942; Dale 1985). This module evaluates
:math:`I` *exactly* for both history types of :mod:`.doserate`:

* :class:`~doseresponse.radiobiology.doserate.ExponentialDoseRate` — closed form for any sum of
  exponentials (including uptake phases), to infinity or up to a finite time;
* :class:`~doseresponse.radiobiology.doserate.PiecewiseDoseRate` — an exact segment recursion for a
  piecewise-linear dose rate plus exponential tail (no numerical quadrature).

On top of that: one or two repair components, multi-cycle therapy (sum of per-cycle BEDs),
repopulation (Dale 1996), the fractionated-EBRT formula, EQDx, and inverses (the dose, or the
common activity scaling of all cycles, that reaches a target BED). :func:`bed_exponential` is the
voxel-map workhorse: the mono-exponential / uptake-washout closed form, evaluated by compiled
one-pass loops (``_bed_kernel``, numba, compiled on first use) that read each input map and
write each voxel once.

Units: dose Gy, dose rate Gy/h, time and half-lives h, rate constants 1/h, α/β Gy, α 1/Gy,
Lea–Catcheside integral Gy². The theory page ``docs/theory/bed.md`` derives every formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from doseresponse._validation import as_float_array, check_scalar, finite_or_error
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate

__all__ = [
    "bed",
    "bed_exponential",
    "bed_fractionated",
    "dose_for_bed",
    "dose_for_bed_history",
    "eqd",
    "g_factor",
    "lea_catcheside_integral",
    "scale_for_bed",
]

_LN2 = math.log(2.0)
_CHUNK = 2**15
"""Elements per chunk in :func:`bed_exponential` (256 KiB per float64 buffer; measured best of
2**13..2**16 on a 256³ map, with 512 KiB L2 per core)."""
_STREAM_BYTES = 32 * 2**20
"""A caller's ``out`` buffer of :func:`bed_exponential` at least this large (about an L3
cache) is written with streaming stores. New outputs and smaller buffers get ordinary stores:
in three runs of ``tests/benchmarks/bench_voxel_bed.py`` (CPU time, loaded 2-core machine)
streaming saved 4–14 % into a reused 64 MiB buffer, nothing into a 16 MiB one (0–3 % more),
and cost 5–7 % into a new 64 MiB map, whose pages the operating system has just zeroed
through the cache on first touch."""
_FRACTION_TOLERANCE = 1e-9
_CROSSING_GRID = 4097

DoseRateHistory = ExponentialDoseRate | PiecewiseDoseRate


# --------------------------------------------------------------------------------------------
# Lea–Catcheside integral and G factor
# --------------------------------------------------------------------------------------------


@finite_or_error
def lea_catcheside_integral(
    dose_rate: DoseRateHistory,
    repair_half_time: float | Sequence[float],
    repair_fractions: Sequence[float] | None = None,
    *,
    until: float | None = None,
) -> float:
    r"""Unnormalised Lea–Catcheside integral :math:`I` (Gy²) of one dose-rate history.

    Parameters
    ----------
    dose_rate : ExponentialDoseRate or PiecewiseDoseRate
        Absorbed-dose-rate history of one cycle (Gy/h against h).
    repair_half_time : float or sequence of float
        Repair half-time :math:`T_{rep}` (h, > 0), or one half-time per repair component.
    repair_fractions : sequence of float, optional
        Fractions :math:`c_k` (>= 0, summing to 1) of the repair components; required when more
        than one ``repair_half_time`` is given.
    until : float, optional
        Upper integration limit T (h, >= 0); default infinity (complete decay).

    Returns
    -------
    float
        :math:`I = \sum_k c_k \int_0^T \dot D(t) \int_0^t \dot D(w) e^{-\mu_k (t-w)} dw\,dt` (Gy²).
        ``BED = D + 2 I/(α/β)``; the G factor is ``2 I / D²``.

    Notes
    -----
    Sum of exponentials :math:`\dot D=\sum_i a_i e^{-\lambda_i t}` (eq. G-SE):
    :math:`I(\infty)=\sum_{ij} a_i a_j / ((\lambda_i+\lambda_j)(\lambda_i+\mu))`; the finite-time
    form is evaluated without the apparent singularity at :math:`\mu=\lambda_j` (Dale 1985, Br J
    Radiol 58:515; Dale 1996, Phys Med Biol 41:1871). Piecewise-linear dose rate with exponential
    tail: exact segment recursion on the repair state :math:`q(t)` (Hobbs & Sgouros 2009, Med
    Phys 36:904, evaluate the same integral numerically). Several repair components add with
    weights :math:`c_k` (Millar & Canney 1993, Int J Radiat Biol 64:275). ``I`` is well defined
    at zero dose, unlike G; it scales with the square of the dose rate.
    """
    history = _check_history(dose_rate, "dose_rate")
    mus, weights = _repair_components(repair_half_time, repair_fractions)
    horizon = (
        math.inf if until is None else check_scalar(until, "until", nonnegative=True, unit="h")
    )
    return _integral(history, mus, weights, horizon)


@finite_or_error
def g_factor(
    dose_rate: DoseRateHistory,
    repair_half_time: float | Sequence[float],
    repair_fractions: Sequence[float] | None = None,
) -> float:
    r"""Lea–Catcheside dose-protraction factor G of one dose-rate history.

    Parameters
    ----------
    dose_rate : ExponentialDoseRate or PiecewiseDoseRate
        Absorbed-dose-rate history of one cycle (Gy/h against h).
    repair_half_time : float or sequence of float
        Repair half-time (h, > 0), or ``[T1, T2]`` for two repair components.
    repair_fractions : sequence of float, optional
        Fractions ``[c1, c2]`` of the repair components (>= 0, sum 1); required with two
        half-times.

    Returns
    -------
    float
        G in [0, 1]: 1 for an acute dose, → 0 for very protracted delivery.

    Notes
    -----
    :math:`G = \frac{2}{D^2}\int_0^\infty \dot D(t)\int_0^t \dot D(w) e^{-\mu(t-w)}dw\,dt`
    (Lea & Catcheside 1942, J Genet 44:216; Dale 1985, Br J Radiol 58:515), evaluated exactly:
    eq. G-SE for a sum of exponentials (mono-exponential: :math:`G=\lambda/(\lambda+\mu)=
    T_{rep}/(T_{rep}+T_{eff})`), the segment recursion for piecewise histories (Hobbs & Sgouros
    2009, Med Phys 36:904), and :math:`G=\sum_k c_k G(\mu_k)` for several repair components
    (Millar & Canney 1993, Int J Radiat Biol 64:275).

    **Zero dose.** G is a ratio 0/0 when the history delivers no dose. It is then defined as the
    limit for a vanishing mono-exponential history with the slowest rate constant of the history
    (the tail rate of a piecewise history), :math:`\sum_k c_k\lambda/(\lambda+\mu_k)`. For a
    mono-exponential history (``ExponentialDoseRate.from_dose(0, effective_half_life=T)``) this
    is the exact limit :math:`T_{rep}/(T_{rep}+T)`; otherwise it is a convention. The BED is 0
    either way.

    Examples
    --------
    >>> from doseresponse.radiobiology.doserate import ExponentialDoseRate
    >>> rate = ExponentialDoseRate.from_dose(5.0, effective_half_life=50.0)
    >>> round(g_factor(rate, 2.8), 10)  # T_rep / (T_rep + T_eff)
    0.053030303
    """
    history = _check_history(dose_rate, "dose_rate")
    mus, weights = _repair_components(repair_half_time, repair_fractions)
    # G is scale-invariant: normalise the peak dose rate to 1 Gy/h so that D² cannot underflow.
    if isinstance(history, ExponentialDoseRate):
        peak = float(np.max(np.abs(history.amplitudes)))
        slowest = float(np.min(history.rates))
    else:
        peak = float(np.max(history.knots[1]))
        slowest = history.tail_rate
    if peak == 0.0 or history.total_dose == 0.0:
        return float(np.sum(weights * slowest / (slowest + mus)))
    if isinstance(history, ExponentialDoseRate):
        unit = ExponentialDoseRate(history.amplitudes / peak, history.rates)
    else:
        unit = PiecewiseDoseRate(
            history.times, history.dose_rates / peak, history.tail_rate, history.start_rate / peak
        )
    return 2.0 * _integral(unit, mus, weights, math.inf) / unit.total_dose**2


# --------------------------------------------------------------------------------------------
# BED of histories (single, multi-cycle, repopulation)
# --------------------------------------------------------------------------------------------


@finite_or_error
def bed(
    dose_rate_or_cycles: DoseRateHistory | Sequence[DoseRateHistory],
    *,
    alpha_beta: float,
    repair_half_time: float | Sequence[float],
    repair_fractions: Sequence[float] | None = None,
    alpha: float | None = None,
    potential_doubling_time: float | None = None,
) -> float:
    r"""Biologically effective dose (Gy) of one dose-rate history or a list of therapy cycles.

    Parameters
    ----------
    dose_rate_or_cycles : ExponentialDoseRate, PiecewiseDoseRate or sequence of them
        One cycle's absorbed-dose-rate history, or one history per cycle (each starting at its
        own t = 0 h).
    alpha_beta : float
        α/β ratio (Gy, > 0).
    repair_half_time : float or sequence of float
        Repair half-time (h, > 0), or ``[T1, T2]`` for two repair components.
    repair_fractions : sequence of float, optional
        Fractions of the repair components (>= 0, sum 1); required with two half-times.
    alpha : float, optional
        LQ α (1/Gy, > 0). Together with ``potential_doubling_time`` switches on repopulation.
    potential_doubling_time : float, optional
        Potential doubling time :math:`T_{pot}` of the clonogens (h, > 0).

    Returns
    -------
    float
        BED (Gy); for several cycles the sum of the per-cycle BEDs.

    Raises
    ------
    DoseResponseError
        On invalid parameters, an empty cycle list, an object that is not a dose-rate history,
        or only one of ``alpha`` / ``potential_doubling_time``.

    Notes
    -----
    Without repopulation :math:`\mathrm{BED}=D+2I/(\alpha/\beta)=D(1+GD/(\alpha/\beta))`
    (Lea & Catcheside 1942, J Genet 44:216; Dale 1985, Br J Radiol 58:515).

    **Several cycles.** :math:`\mathrm{BED}=\sum_c [D_c + G_c D_c^2/(\alpha/\beta)]`; summing the
    doses first and applying one G is wrong because :math:`(\sum D_c)^2 \ne \sum D_c^2`. The
    cross terms between cycles are neglected, which is exact to many digits when the gaps are
    much longer than the repair half-time and the effective half-life (radiobiology notes §2.7;
    Bodei et al. 2008, Eur J Nucl Med Mol Imaging 35:1847).

    **Repopulation** (Dale 1996, Phys Med Biol 41:1871): per cycle
    :math:`\mathrm{BED}=D(T)+2I(T)/(\alpha/\beta)-\ln 2\,T/(\alpha T_{pot})`, with Dale's cut-off
    T the last time at which the dose rate falls to :math:`\ln2/(\alpha T_{pot})`:

    * mono-exponential history: :math:`T=\ln(\alpha\dot D_0 T_{pot}/\ln 2)/\lambda` (closed form);
    * piecewise history: exact (linear segments, exponential tail);
    * general sum of exponentials: the last crossing is bracketed on a dense time grid
      (4097 points, linear plus geometric) and refined with Brent's method to 1e-12 relative.

    :math:`D(T)` and :math:`I(T)` are exact for both history types. If the dose rate never
    exceeds the threshold, T = 0 and the cycle contributes BED = 0 (repopulation outpaces the
    damage). Repopulation during the gaps between cycles is not included.

    Examples
    --------
    >>> from doseresponse.radiobiology.doserate import ExponentialDoseRate
    >>> cycles = [ExponentialDoseRate.from_dose(d, effective_half_life=t)
    ...           for d, t in [(3.33, 45.0), (3.70, 52.0), (2.64, 48.0), (2.96, 40.0)]]
    >>> round(bed(cycles, alpha_beta=2.6, repair_half_time=2.8), 4)
    13.5171
    """
    histories = _check_cycles(dose_rate_or_cycles)
    ab = check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    mus, weights = _repair_components(repair_half_time, repair_fractions)
    if (alpha is None) != (potential_doubling_time is None):
        raise DoseResponseError(
            "repopulation needs both alpha (1/Gy) and potential_doubling_time (h); pass both, or "
            "neither for the BED without repopulation."
        )
    if alpha is None:
        return float(
            sum(h.total_dose + 2.0 * _integral(h, mus, weights, math.inf) / ab for h in histories)
        )
    a = check_scalar(alpha, "alpha", positive=True, unit="1/Gy")
    t_pot = check_scalar(
        potential_doubling_time, "potential_doubling_time", positive=True, unit="h"
    )
    threshold = _LN2 / (a * t_pot)
    total = 0.0
    for history in histories:
        cutoff = _dale_cutoff_time(history, threshold)
        if cutoff == 0.0:
            continue
        dose = float(history.dose_until(cutoff))
        total += dose + 2.0 * _integral(history, mus, weights, cutoff) / ab - threshold * cutoff
    return float(total)


@finite_or_error
def scale_for_bed(
    target_bed: ArrayLike,
    dose_rate_or_cycles: DoseRateHistory | Sequence[DoseRateHistory],
    *,
    alpha_beta: float,
    repair_half_time: float | Sequence[float],
    repair_fractions: Sequence[float] | None = None,
) -> NDArray[np.float64] | np.float64:
    r"""Common factor by which to scale every dose rate (activity) to reach a target BED.

    Parameters
    ----------
    target_bed : array_like
        Target BED (Gy, >= 0); broadcast.
    dose_rate_or_cycles : ExponentialDoseRate, PiecewiseDoseRate or sequence of them
        The dose-rate shape of one cycle, or of every cycle (e.g. per unit administered activity).
    alpha_beta : float
        α/β ratio (Gy, > 0).
    repair_half_time : float or sequence of float
        Repair half-time(s) (h, > 0).
    repair_fractions : sequence of float, optional
        Fractions of two repair components (sum 1).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Factor f >= 0 such that scaling all histories by f gives the target BED. For histories
        per unit activity (Gy/h per GBq), f is the activity (GBq) to administer in every cycle.

    Notes
    -----
    Kinetics, hence G, do not depend on the scale, so
    :math:`\mathrm{BED}(f)=f\sum_c D_c+f^2\,2\sum_c I_c/(\alpha/\beta)`, a quadratic in f solved
    with the cancellation-free root :math:`f = 2B/(S_1+\sqrt{S_1^2+4S_2B})` (Dale 1985, Br J
    Radiol 58:515; Baechler et al. 2008, Med Phys 35:1123, use the same inversion to prescribe
    activity).
    """
    linear, quadratic = _bed_polynomial(
        dose_rate_or_cycles, alpha_beta, repair_half_time, repair_fractions
    )
    target = as_float_array(target_bed, "target_bed", nonnegative=True, unit="Gy")
    if linear == 0.0:
        raise DoseResponseError(
            "the dose-rate history delivers no dose, so no scaling reaches a positive target "
            "BED; pass a history with a positive total dose."
        )
    factor = 2.0 * target / (linear + np.sqrt(linear**2 + 4.0 * quadratic * target))
    return factor[()] if factor.ndim == 0 else factor


@finite_or_error
def dose_for_bed_history(
    target_bed: ArrayLike,
    dose_rate_or_cycles: DoseRateHistory | Sequence[DoseRateHistory],
    *,
    alpha_beta: float,
    repair_half_time: float | Sequence[float],
    repair_fractions: Sequence[float] | None = None,
) -> NDArray[np.float64] | np.float64:
    r"""Total absorbed dose (Gy) that reaches a target BED with the given dose-rate shape(s).

    Parameters
    ----------
    target_bed : array_like
        Target BED (Gy, >= 0); broadcast.
    dose_rate_or_cycles : ExponentialDoseRate, PiecewiseDoseRate or sequence of them
        The dose-rate shape of one cycle, or of every cycle; all are scaled by one common factor.
    alpha_beta : float
        α/β ratio (Gy, > 0).
    repair_half_time : float or sequence of float
        Repair half-time(s) (h, > 0).
    repair_fractions : sequence of float, optional
        Fractions of two repair components (sum 1).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Absorbed dose summed over cycles (Gy), ``scale_for_bed(...) * sum of cycle doses``.

    Notes
    -----
    See :func:`scale_for_bed`; G is invariant under scaling of a history (Dale 1985, Br J
    Radiol 58:515).
    """
    factor = scale_for_bed(
        target_bed,
        dose_rate_or_cycles,
        alpha_beta=alpha_beta,
        repair_half_time=repair_half_time,
        repair_fractions=repair_fractions,
    )
    histories = _check_cycles(dose_rate_or_cycles)
    return factor * sum(h.total_dose for h in histories)


# --------------------------------------------------------------------------------------------
# Closed forms for arrays (voxel maps)
# --------------------------------------------------------------------------------------------


def bed_exponential(
    dose: ArrayLike,
    *,
    effective_half_life: ArrayLike,
    alpha_beta: float,
    repair_half_time: float,
    uptake_half_life: ArrayLike | None = None,
    out: NDArray[np.float64] | None = None,
) -> NDArray[np.float64] | np.float64:
    r"""BED (Gy) for mono-exponential or uptake-washout kinetics, broadcast over voxel maps.

    Parameters
    ----------
    dose : array_like
        Total absorbed dose (Gy, >= 0), e.g. a 3-D dose map.
    effective_half_life : array_like
        Effective (washout) half-life (h, > 0), scalar or a map broadcastable with ``dose``.
    alpha_beta : float
        α/β ratio (Gy, > 0), a scalar.
    repair_half_time : float
        Repair half-time (h, > 0), a scalar.
    uptake_half_life : array_like, optional
        Uptake half-life (h, > 0), scalar or map; the dose rate is then
        :math:`a(e^{-\lambda_w t}-e^{-\lambda_u t})`.
    out : numpy.ndarray, optional
        Array to write the BED into instead of a new one (a reused buffer, or the ``dose``
        array itself to compute in place): float64, writeable, exactly the broadcast shape.
        It may be one of the inputs but must not partially overlap one. If an error is
        raised, its contents are unspecified (in place: the dose map is partly overwritten).

    Returns
    -------
    numpy.ndarray or numpy.float64
        BED with the broadcast shape of the inputs (a numpy scalar for scalar inputs); ``out``
        itself when given.

    Raises
    ------
    DoseResponseError
        For a negative, NaN or infinite dose, a non-positive, NaN or infinite half-life, or a
        non-positive α/β or repair half-time (the message gives the first offending index), or
        an ``out`` that is not a writeable float64 array of the broadcast shape or that
        partially overlaps an input.

    Notes
    -----
    :math:`\mathrm{BED}=D\,(1+G D/(\alpha/\beta))` with (Dale 1985, Br J Radiol 58:515)

    .. math:: G = \frac{T_{rep}}{T_{rep}+T_{eff}}

    and, with an uptake phase (Baechler et al. 2008, Med Phys 35:1123; written here in the
    singularity-free form obtained from eq. G-SE, which is symmetric in the two half-lives)

    .. math:: G = \frac{T_{rep}\,[T_{rep}(T_u+T_w)+T_u T_w]}
                       {(T_{rep}+T_u)(T_{rep}+T_w)(T_u+T_w)}.

    An infinite ``effective_half_life`` without uptake is accepted as its limit G = 0
    (BED = D); with an uptake phase infinite half-lives are rejected.

    Arrays are evaluated by compiled numba loops (``doseresponse.radiobiology._bed_kernel``,
    compiled on the first array call and cached on disk; nothing is compiled at import) that read
    each input and write the output once, with the input checks folded into the same pass. The
    extra memory is the output (1.0× the dose map; none with ``out``). ``out=dose`` runs a loop
    of its own, which vectorises (a loop whose output may overlap an input does not). An ``out``
    buffer of 32 MiB or more is written with streaming (non-temporal) stores, as ``memcpy``
    writes large copies, so the buffer is not first read into the cache; the values are the
    same. Scalar inputs are evaluated in Python floats (same formula; equal to the compiled loop
    to 1e-12, tested). Timings against ``arr.copy()`` and ``np.copyto`` are printed by
    ``tests/benchmarks/bench_voxel_bed.py`` (one thread; the figures are in its docstring).
    The first array call of a process costs about 1 s (numba start-up and loading the cached
    machine code).

    Examples
    --------
    >>> round(float(bed_exponential(5.0, effective_half_life=50.0, alpha_beta=2.6,
    ...                             repair_half_time=2.8)), 8)
    5.50990676
    """
    ab = check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    trep = check_scalar(repair_half_time, "repair_half_time", positive=True, unit="h")
    d = _float64_array(dose, "dose")
    tw = _float64_array(effective_half_life, "effective_half_life")
    tu = None if uptake_half_life is None else _float64_array(uptake_half_life, "uptake_half_life")
    operands = [d, tw] if tu is None else [d, tw, tu]

    try:
        shape = np.broadcast_shapes(*(op.shape for op in operands))
    except ValueError:
        raise DoseResponseError(
            "dose, effective_half_life and uptake_half_life must have broadcastable shapes; got "
            + ", ".join(str(op.shape) for op in operands)
            + "."
        ) from None
    if out is not None:
        _check_out(out, shape, operands)
    if all(op.ndim == 0 for op in operands):
        value = _bed_exponential_scalar(d, tw, tu, ab, trep)
        if out is None:
            return value
        out[()] = value
        return out
    stream = out is not None and out.nbytes >= _STREAM_BYTES
    if out is None:
        full = [op for op in operands if op.size > 1]
        fortran = bool(full) and all(
            op.shape == shape and op.flags.f_contiguous and not op.flags.c_contiguous
            for op in full
        )  # e.g. maps straight from nibabel: keep their memory order, as numpy's ufuncs do
        out = np.empty(shape, order="F" if fortran else "C")
    _evaluate_bed_map(operands, out, ab, trep, stream=stream)
    return out


@finite_or_error
def dose_for_bed(
    target_bed: ArrayLike,
    *,
    effective_half_life: ArrayLike,
    alpha_beta: float,
    repair_half_time: float,
    uptake_half_life: ArrayLike | None = None,
) -> NDArray[np.float64] | np.float64:
    r"""Absorbed dose (Gy) whose BED equals ``target_bed`` for exponential kinetics (broadcast).

    Parameters
    ----------
    target_bed : array_like
        Target BED (Gy, >= 0), e.g. 40 Gy for kidneys.
    effective_half_life : array_like
        Effective (washout) half-life (h, > 0).
    alpha_beta : float
        α/β ratio (Gy, > 0).
    repair_half_time : float
        Repair half-time (h, > 0).
    uptake_half_life : array_like, optional
        Uptake half-life (h, > 0).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Dose D with :math:`D + G D^2/(\alpha/\beta) = \mathrm{BED}`.

    Notes
    -----
    Positive root of the LQ quadratic in the cancellation-free form
    :math:`D = 2\,\mathrm{BED}/(1+\sqrt{1+4G\,\mathrm{BED}/(\alpha/\beta)})`, with G as in
    :func:`bed_exponential` (Dale 1985, Br J Radiol 58:515; Baechler et al. 2008, Med Phys
    35:1123).

    Examples
    --------
    >>> round(float(dose_for_bed(40.0, effective_half_life=50.0, alpha_beta=2.6,
    ...                          repair_half_time=2.8)), 6)
    26.102836
    """
    ab = check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    trep = check_scalar(repair_half_time, "repair_half_time", positive=True, unit="h")
    target = as_float_array(target_bed, "target_bed", nonnegative=True, unit="Gy")
    tw = as_float_array(effective_half_life, "effective_half_life", positive=True, unit="h")
    tu = (
        None
        if uptake_half_life is None
        else as_float_array(uptake_half_life, "uptake_half_life", positive=True, unit="h")
    )
    k = _g_halflives(tw, tu, trep) / ab
    result = 2.0 * target / (1.0 + np.sqrt(1.0 + 4.0 * k * target))
    return result[()] if result.ndim == 0 else result


@finite_or_error
def bed_fractionated(
    total_dose: ArrayLike, *, dose_per_fraction: ArrayLike, alpha_beta: ArrayLike
) -> NDArray[np.float64] | np.float64:
    r"""BED (Gy) of fractionated external-beam therapy with acute, well-separated fractions.

    Parameters
    ----------
    total_dose : array_like
        Total dose n·d (Gy, >= 0).
    dose_per_fraction : array_like
        Dose per fraction d (Gy, >= 0).
    alpha_beta : array_like
        α/β ratio (Gy, > 0).

    Returns
    -------
    numpy.ndarray or numpy.float64
        :math:`\mathrm{BED}=nd\,(1+d/(\alpha/\beta))`, broadcast.

    Notes
    -----
    Fowler 1989 (Br J Radiol 62:679); Barendsen 1982 (IJROBP 8:1981). It is the limit of the
    Lea–Catcheside BED for short pulses far apart. Example: 23 Gy in 2-Gy fractions (kidney
    TD5/5, Emami et al. 1991, IJROBP 21:109) is BED 40.7 Gy for α/β = 2.6 Gy.
    """
    total = as_float_array(total_dose, "total_dose", nonnegative=True, unit="Gy")
    per_fraction = as_float_array(
        dose_per_fraction, "dose_per_fraction", nonnegative=True, unit="Gy"
    )
    ab = as_float_array(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    result = total * (1.0 + per_fraction / ab)
    return result[()] if result.ndim == 0 else result


@finite_or_error
def eqd(
    bed: ArrayLike, *, alpha_beta: ArrayLike, dose_per_fraction: ArrayLike = 2.0
) -> NDArray[np.float64] | np.float64:
    r"""Equivalent dose in x-Gy fractions, EQDx (Gy), of a BED (default EQD2).

    Parameters
    ----------
    bed : array_like
        BED (Gy, >= 0), e.g. a voxel map.
    alpha_beta : array_like
        α/β ratio (Gy, > 0).
    dose_per_fraction : array_like, default 2.0
        Reference fraction size x (Gy, >= 0); x = 0 gives EQD0 = BED.

    Returns
    -------
    numpy.ndarray or numpy.float64
        :math:`\mathrm{EQDx}=\mathrm{BED}/(1+x/(\alpha/\beta))`, broadcast.

    Notes
    -----
    Withers, Thames & Peters 1983 (IJROBP 9:1339). Example: kidney BED 40 Gy (α/β = 2.6 Gy) is
    EQD2 22.6 Gy. Convert RPT BEDs to EQD2 before applying EBRT-derived NTCP parameters.
    """
    values = as_float_array(bed, "bed", nonnegative=True, unit="Gy")
    ab = as_float_array(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    x = as_float_array(dose_per_fraction, "dose_per_fraction", nonnegative=True, unit="Gy")
    result = values / (1.0 + x / ab)
    return result[()] if result.ndim == 0 else result


# --------------------------------------------------------------------------------------------
# private: validation
# --------------------------------------------------------------------------------------------


def _check_history(value: Any, name: str) -> DoseRateHistory:
    if isinstance(value, ExponentialDoseRate | PiecewiseDoseRate):
        return value
    hint = (
        " For several cycles call bed(...) with the list, which sums per-cycle BEDs."
        if isinstance(value, list | tuple)
        else ""
    )
    raise DoseResponseError(
        f"{name} must be an ExponentialDoseRate or PiecewiseDoseRate "
        f"(doseresponse.radiobiology.doserate); got {type(value).__name__}. Build one with e.g. "
        f"ExponentialDoseRate.from_dose(dose, effective_half_life=...).{hint}"
    )


def _check_cycles(value: Any) -> list[DoseRateHistory]:
    if isinstance(value, ExponentialDoseRate | PiecewiseDoseRate):
        return [value]
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise DoseResponseError(
            "dose_rate_or_cycles must be an ExponentialDoseRate, a PiecewiseDoseRate or a list "
            f"of them (one per cycle); got {type(value).__name__}."
        )
    if len(value) == 0:
        raise DoseResponseError(
            "dose_rate_or_cycles is an empty list; pass at least one cycle's dose-rate history."
        )
    return [_check_history(item, f"dose_rate_or_cycles[{i}]") for i, item in enumerate(value)]


def _repair_components(
    repair_half_time: Any, repair_fractions: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Repair rates μ_k (1/h) and weights c_k, validated."""
    half = np.atleast_1d(
        as_float_array(repair_half_time, "repair_half_time", positive=True, unit="h")
    )
    if half.ndim != 1 or half.size == 0:
        raise DoseResponseError(
            "repair_half_time must be one number (h) or a flat list of half-times, one per repair "
            f"component; got shape {half.shape}."
        )
    if repair_fractions is None:
        if half.size > 1:
            raise DoseResponseError(
                f"{half.size} repair half-times were given but no repair_fractions; pass "
                "repair_fractions=[c1, c2, ...] (>= 0, summing to 1), one per half-time."
            )
        weights = np.ones(1)
    else:
        weights = np.atleast_1d(
            as_float_array(repair_fractions, "repair_fractions", nonnegative=True)
        )
        if weights.shape != half.shape:
            raise DoseResponseError(
                f"repair_fractions must have one entry per repair half-time ({half.size}); got "
                f"shape {weights.shape}."
            )
        if abs(float(weights.sum()) - 1.0) > _FRACTION_TOLERANCE:
            raise DoseResponseError(
                f"repair_fractions must sum to 1; they sum to {float(weights.sum()):.12g}. "
                "Normalise them (e.g. [0.55, 0.45])."
            )
    return _LN2 / half, weights


def _float64_array(value: Any, name: str) -> NDArray[np.float64]:
    """Float64 view (no copy for float64 input) without full-array validation passes."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DoseResponseError(
            f"{name} must be numeric; got {type(value).__name__} ({exc})."
        ) from None


# --------------------------------------------------------------------------------------------
# private: Lea–Catcheside integral
# --------------------------------------------------------------------------------------------


def _integral(
    history: DoseRateHistory, mus: NDArray[np.float64], weights: NDArray[np.float64], until: float
) -> float:
    total = 0.0
    for mu, weight in zip(mus, weights, strict=True):
        if weight == 0.0:
            continue
        if isinstance(history, ExponentialDoseRate):
            value = _integral_exponential(history.amplitudes, history.rates, float(mu), until, 0.0)
        else:
            value = _integral_piecewise(history, float(mu), until)
        total += float(weight) * value
    return total


def _phi1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """(1 - e^{-x})/x, equal to 1 at x = 0; accurate for every real x (no overflow for x<0)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-300
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0, -np.expm1(-safe) / safe)


def _integral_exponential(
    amps: NDArray[np.float64], rates: NDArray[np.float64], mu: float, until: float, q0: float
) -> float:
    r"""∫_0^T Ḋ q dt for Ḋ = Σ a_i e^{-λ_i t} and repair state q(0) = q0 (Gy)."""
    lam_i = rates[:, None]
    lam_j = rates[None, :]
    if math.isinf(until):
        pair = np.sum(np.outer(amps, amps) / ((lam_i + lam_j) * (lam_i + mu)))
        carried = q0 * np.sum(amps / (rates + mu))
        return float(pair + carried)
    t = until
    if t == 0.0:
        return 0.0
    z1 = (lam_i + lam_j) * t
    z2 = np.broadcast_to((lam_i + mu) * t, z1.shape)
    h = z2 - z1  # (μ - λ_j) T
    # E = e^{-z1} (1 - e^{-h})/h = (e^{-z1} - e^{-z2})/h, evaluated without overflow or 0/0.
    near = np.abs(h) < 0.5
    h_far = np.where(near, 1.0, h)
    e_far = (np.exp(-z1) - np.exp(-z2)) / h_far
    e_near = np.exp(-z1) * _phi1(np.where(near, h, 0.0))
    e_term = np.where(near, e_near, e_far)
    psi = (-np.expm1(-z1) - z1 * e_term) / (z1 * z2)
    pair = np.sum(np.outer(amps, amps) * psi) * t * t
    carried = q0 * np.sum(amps * t * _phi1((rates + mu) * t))
    return float(pair + carried)


def _phi_functions(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    r"""P_k = φ_k(-x) = ∫_0^1 e^{-x(1-w)} w^{k-1}/(k-1)! dw for k = 1..4, stable for all x >= 0."""
    x = np.asarray(x, dtype=float)
    small = x < 1.0
    # Taylor series  φ_k(-x) = Σ_j (-x)^j/(j+k)!  (alternating, |x| < 1: 22 terms give 1e-17).
    xs = np.where(small, x, 0.0)
    series = []
    for k in range(1, 5):
        acc = np.zeros_like(xs)
        for j in range(22, -1, -1):
            acc = acc * (-xs) + 1.0 / math.factorial(j + k)
        series.append(acc)
    xl = np.where(small, 1.0, x)
    p1 = -np.expm1(-xl) / xl
    p2 = (1.0 - p1) / xl
    p3 = (0.5 - p2) / xl
    p4 = (1.0 / 6.0 - p3) / xl
    large = (p1, p2, p3, p4)
    return tuple(np.where(small, s, g) for s, g in zip(series, large, strict=True))


def _integral_piecewise(history: PiecewiseDoseRate, mu: float, until: float) -> float:
    r"""Exact ∫_0^T Ḋ q dt for a piecewise-linear dose rate with exponential tail."""
    t_knots, r_knots = history.knots
    if not math.isinf(until) and until < t_knots[-1]:
        # truncate: keep the knots before `until` and add the interpolated end point
        keep = int(np.searchsorted(t_knots, until, side="right"))
        end_rate = float(np.interp(until, t_knots, r_knots))
        t_knots = np.append(t_knots[:keep], until)
        r_knots = np.append(r_knots[:keep], end_rate)
        tail_time = 0.0
    else:
        tail_time = math.inf if math.isinf(until) else until - float(t_knots[-1])
    widths = np.diff(t_knots)
    ok = widths > 0
    widths, r0, r1 = widths[ok], r_knots[:-1][ok], r_knots[1:][ok]
    delta = r1 - r0
    p1, p2, p3, p4 = _phi_functions(mu * widths)
    decay = np.exp(-mu * widths)
    inflow = widths * (r0 * p1 + delta * p2)  # q gained over the segment from q0 = 0
    with_q = widths * (r1 * p1 - delta * p2)  # ΔI per unit incoming q
    own = widths**2 * (r0 * r1 * p2 + delta**2 * (p3 - p4))  # ΔI from the segment itself
    q = 0.0
    total = float(np.sum(own))
    for k in range(widths.size):
        total += q * with_q[k]
        q = q * decay[k] + inflow[k]
    if tail_time > 0.0:
        r_end = float(r_knots[-1])
        total += _integral_exponential(
            np.array([r_end]), np.array([history.tail_rate]), mu, tail_time, q
        )
    return total


# --------------------------------------------------------------------------------------------
# private: repopulation cut-off time (Dale 1996)
# --------------------------------------------------------------------------------------------


def _dale_cutoff_time(history: DoseRateHistory, threshold: float) -> float:
    """Last time (h) at which the dose rate equals ``threshold`` (Gy/h); 0 if never above."""
    if isinstance(history, PiecewiseDoseRate):
        return _cutoff_piecewise(history, threshold)
    amps, rates = history.amplitudes, history.rates
    if np.all(rates == rates[0]):  # mono-exponential: closed form
        a0 = float(np.sum(amps))
        return math.log(a0 / threshold) / float(rates[0]) if a0 > threshold else 0.0
    positive = amps > 0
    upper_amp = float(np.sum(amps[positive]))
    slowest = float(np.min(rates[positive]))
    if upper_amp <= threshold:
        return 0.0
    t_hi = math.log(upper_amp / threshold) / slowest  # Ḋ(t) < threshold for every t > t_hi
    fastest = float(np.max(rates))
    grid = np.unique(
        np.concatenate(
            (
                np.linspace(0.0, t_hi, _CROSSING_GRID),
                np.geomspace(min(1e-6 / fastest, 1e-3 * t_hi), t_hi, _CROSSING_GRID),
            )
        )
    )
    excess = history.dose_rate(grid) - threshold
    above = np.flatnonzero(excess > 0)
    if above.size == 0:
        return 0.0
    k = int(above[-1])
    if k == grid.size - 1:
        return float(grid[-1])

    def excess_at(t: float) -> float:
        return float(history.dose_rate(t)) - threshold

    return float(brentq(excess_at, grid[k], grid[k + 1], xtol=1e-13, rtol=1e-14, maxiter=200))


def _cutoff_piecewise(history: PiecewiseDoseRate, threshold: float) -> float:
    t_knots, r_knots = history.knots
    r_end = float(r_knots[-1])
    if r_end > threshold:
        return float(t_knots[-1]) + math.log(r_end / threshold) / history.tail_rate
    above = np.flatnonzero(r_knots > threshold)
    if above.size == 0:
        return 0.0
    k = int(above[-1])  # r_k > threshold >= r_{k+1}: the dose rate crosses on this segment
    r0, r1 = float(r_knots[k]), float(r_knots[k + 1])
    return float(t_knots[k]) + (r0 - threshold) / (r0 - r1) * float(t_knots[k + 1] - t_knots[k])


def _bed_polynomial(
    dose_rate_or_cycles: Any,
    alpha_beta: Any,
    repair_half_time: Any,
    repair_fractions: Any,
) -> tuple[float, float]:
    """Coefficients (S1 Gy, S2 Gy) of BED(f) = S1 f + S2 f² for histories scaled by f."""
    histories = _check_cycles(dose_rate_or_cycles)
    ab = check_scalar(alpha_beta, "alpha_beta", positive=True, unit="Gy")
    mus, weights = _repair_components(repair_half_time, repair_fractions)
    linear = float(sum(h.total_dose for h in histories))
    quadratic = float(sum(2.0 * _integral(h, mus, weights, math.inf) / ab for h in histories))
    return linear, quadratic


# --------------------------------------------------------------------------------------------
# private: evaluation of the exponential closed form on voxel maps
# --------------------------------------------------------------------------------------------


def _g_halflives(
    tw: NDArray[np.float64] | float, tu: NDArray[np.float64] | float | None, trep: float
) -> NDArray[np.float64]:
    """G from half-lives (h): mono-exponential, or uptake-washout (symmetric form)."""
    if tu is None:
        return trep / (trep + np.asarray(tw, dtype=float))
    s = np.asarray(tu, dtype=float) + tw
    p = np.asarray(tu, dtype=float) * tw
    return trep * (trep * s + p) / ((trep + tu) * (trep + tw) * s)


def _bed_exponential_scalar(
    d: NDArray[np.float64],
    tw: NDArray[np.float64],
    tu: NDArray[np.float64] | None,
    ab: float,
    trep: float,
) -> np.float64:
    dose = check_scalar(d, "dose", nonnegative=True, unit="Gy")
    t_w = check_scalar(tw, "effective_half_life", positive=True, unit="h")
    if tu is None:
        g = trep / (trep + t_w)
    else:
        t_u = check_scalar(tu, "uptake_half_life", positive=True, unit="h")
        g = trep * (trep * (t_u + t_w) + t_u * t_w) / ((trep + t_u) * (trep + t_w) * (t_u + t_w))
    value = dose + g * dose * dose / ab
    if not math.isfinite(value):
        raise DoseResponseError(
            "bed_exponential produced a non-finite BED (dose too large for float64); check the "
            "dose units (Gy)."
        )
    return np.float64(value)


def _evaluate_bed_map(
    operands: list[NDArray[np.float64]],
    out: NDArray[np.float64],
    ab: float,
    trep: float,
    *,
    stream: bool = False,
) -> None:
    """Fill ``out`` with the BED of the operands (dose, T_eff[, T_u]) by the compiled loops.

    Full-shape operands contiguous in the output's memory order (C, or F when every map is
    Fortran-ordered) are passed whole as flat views (one pass over memory; with ``stream``,
    written with streaming stores from the first 64-byte boundary on);
    size-1 operands become a scalar coefficient (mono-exponential) or a stride-0 view; other
    layouts (genuine broadcasting, non-contiguous input) are fed in chunks by ``numpy.nditer``.
    """
    from doseresponse.radiobiology import _bed_kernel  # numba: imported on first BED map

    shape = out.shape
    if out.size == 0:
        return
    uptake = len(operands) == 3
    if not uptake and operands[1].size == 1:  # one coefficient for every voxel
        t_eff = float(operands[1].reshape(-1)[0])
        if not 0.0 < t_eff < math.inf:
            _fail_bed_map(operands)
        k = float(_g_halflives(t_eff, None, trep)) / ab
        kernel, in_place = _bed_kernel.bed_constant_k, _bed_kernel.bed_constant_k_in_place
        operands, extra = operands[:1], (k,)
    elif uptake:
        kernel, in_place = _bed_kernel.bed_uptake, _bed_kernel.bed_uptake_in_place
        extra = (trep, ab)
    else:
        kernel, in_place = _bed_kernel.bed_mono, _bed_kernel.bed_mono_in_place
        extra = (trep, ab)
    order = "C" if out.flags.c_contiguous else "F"
    flat = [_flat_operand(op, shape, order) for op in operands]
    contiguous = all(f is not None for f in flat) and (
        out.flags.c_contiguous or out.flags.f_contiguous
    )
    if contiguous and _same_array(operands[0], out):  # in place on the dose: vectorised loop
        if not in_place(*flat, *extra):
            _fail_bed_map(operands, out)
        return
    if contiguous:
        target = out.reshape(-1, order=order)
        # streaming stores need a 64-byte aligned start: the elements before it go first
        head = (-target.ctypes.data % _bed_kernel.LINE) // target.itemsize if stream else 0
        ok = True
        if head:
            ok = kernel(*(f[:head] for f in flat), *extra, target[:head], False)
        ok = kernel(*(f[head:] for f in flat), *extra, target[head:], stream) and ok
        if not ok:
            _fail_bed_map(operands, out)
        return
    iterator = np.nditer(
        [*operands, out],
        flags=["external_loop", "buffered", "zerosize_ok", "refs_ok"],
        op_flags=[["readonly"]] * len(operands) + [["writeonly"]],
        buffersize=_CHUNK,
    )
    with iterator:
        for chunk in iterator:
            if not kernel(*chunk[:-1], *extra, chunk[-1], False):
                _fail_bed_map(operands, out)


def _check_out(
    out: Any, shape: tuple[int, ...], operands: list[NDArray[np.float64]]
) -> None:
    """Check ``out``: a writeable float64 array of the broadcast shape, no partial aliasing.

    Being an input exactly is fine: the loops read each element before writing it.
    """
    if not isinstance(out, np.ndarray):
        raise DoseResponseError(
            f"out must be a numpy array (e.g. np.empty_like(dose, dtype=float)); got "
            f"{type(out).__name__}."
        )
    if out.dtype != np.float64 or out.shape != shape or not out.flags.writeable:
        raise DoseResponseError(
            f"out must be a writeable float64 array of shape {shape} (the broadcast shape of "
            f"the inputs); got a{'' if out.flags.writeable else ' read-only'} {out.dtype} "
            f"array of shape {out.shape}."
        )
    names = ("dose", "effective_half_life", "uptake_half_life")
    for op, name in zip(operands, names, strict=False):
        if np.may_share_memory(op, out) and not _same_array(op, out):
            raise DoseResponseError(
                f"out overlaps {name} without being that array (e.g. a shifted view); pass a "
                f"separate buffer, or {name} itself to compute in place."
            )


def _same_array(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    """Whether two arrays are views of exactly the same elements (data pointer, shape, strides)."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _flat_operand(op: NDArray[np.float64], shape: tuple[int, ...], order: str) -> Any:
    """Flat view of an operand contiguous in ``order``; stride-0 view for size 1; else None."""
    size = math.prod(shape)
    if op.size == 1:
        return np.broadcast_to(op.reshape(-1)[:1], (size,))
    contiguous = op.flags.c_contiguous if order == "C" else op.flags.f_contiguous
    if op.shape == shape and contiguous:
        return op.reshape(-1, order=order)
    return None


def _fail_bed_map(
    operands: list[NDArray[np.float64]], out: NDArray[np.float64] | None = None
) -> None:
    """Locate the invalid element with the full (slow) validators and raise.

    An input that is ``out`` itself (in place) now holds BED values, so it cannot be searched;
    the message then says which input was overwritten.
    """
    names = ("dose", "effective_half_life", "uptake_half_life")
    overwritten = []
    for i, (op, name) in enumerate(zip(operands, names, strict=False)):
        if out is not None and np.may_share_memory(op, out):
            overwritten.append(name)
        elif i == 0:
            as_float_array(op, name, nonnegative=True, unit="Gy")
        else:
            as_float_array(op, name, positive=True, unit="h")
    if overwritten:
        raise DoseResponseError(
            f"bed_exponential(out={overwritten[0]}): {overwritten[0]} holds an invalid value "
            "(a negative dose, a half-life <= 0, NaN or infinity) or the BED overflows, and it "
            "has been partly overwritten in place; re-read it and call without out= to find "
            "the voxel."
        )
    raise DoseResponseError(
        "bed_exponential produced a non-finite BED (dose too large for float64); check the "
        "dose units (Gy)."
    )
