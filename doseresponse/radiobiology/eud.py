r"""Equivalent uniform dose: DVHs, generalised EUD, clonogen EUD, EUBED and O'Donoghue's EUD.

Each summary reduces one organ's (or lesion's) dose distribution to the uniform dose that would
have the same effect:

* :func:`geud` — generalised EUD, the power mean :math:`(\sum v_i D_i^a)^{1/a}` (Niemierko 1999);
* :func:`clonogenic_eud` — uniform dose with the same mean clonogen survival under linear
  survival (Niemierko 1997);
* :func:`eubed` — the same on voxel BEDs (Prideaux et al. 2007);
* :func:`odonoghue_eud` — linear-quadratic survival with a dose-rate factor G that is the same in
  every voxel (O'Donoghue 1999).

Every function accepts a :class:`DVH` or a dose array of any shape (a voxel map or DVH bins)
with optional volumes / mass weights of the same shape. Units: dose Gy (or Gy BED when the array
holds BEDs), α 1/Gy, β 1/Gy², volumes as fractions or any non-negative weights (normalised to 1).
This module is pure numpy/scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from doseresponse._validation import as_float_array, check_scalar, finite_or_error
from doseresponse.exceptions import DoseResponseError

__all__ = [
    "DVH",
    "clonogenic_eud",
    "eubed",
    "geud",
    "odonoghue_eud",
]

FloatArray = NDArray[np.float64]
Kernel = Callable[[FloatArray, "FloatArray | None", float, float], float]

_CUMULATIVE_CONVENTIONS = ("centre", "lower")
_LN2 = math.log(2.0)
#: Elements per chunk of the gEUD loop: 2**17 float64 = 1 MiB (measured best of 2**14..2**17 on a
#: 2-core EPYC with 512 kB L2 per core: larger chunks amortise the per-ufunc-call overhead).
_CHUNK = 1 << 17
#: Largest |integer power| computed by repeated multiplication in :func:`geud`.
_MAX_INT_POWER = 32
#: A chunk's power sum outside this range is recomputed with the doses rescaled (no overflow,
#: no underflow to zero or to subnormal numbers).
_SAFE_LOW, _SAFE_HIGH = 1e-280, 1e280
#: Below this |a| the power sum is formed with expm1 (no loss of the O(a) signal in 1 + O(a)),
#: and below _GEOMETRIC_A the a -> 0 limit (geometric mean) is exact to double precision.
_SMALL_A, _GEOMETRIC_A = 0.01, 1e-250


# --------------------------------------------------------------------------------------------
# DVH
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DVH:
    r"""Dose-volume histogram: doses and the fractional volume (or mass) receiving each.

    Build it with :meth:`from_voxels`, :meth:`from_differential` or :meth:`from_cumulative`
    rather than directly.

    Parameters
    ----------
    doses : numpy.ndarray, shape (k,)
        Dose of each voxel or bin (``unit``, e.g. Gy or Gy BED), >= 0.
    volumes : numpy.ndarray, shape (k,)
        Fractional volume or mass of each entry (dimensionless), > 0, summing to 1.
    total : float
        Sum of the weights before normalisation (e.g. number of voxels, cm³ or kg).
    metric : str
        What the doses are, e.g. ``"dose"``, ``"BED"`` or ``"EQD2"``.
    unit : str
        Unit of ``doses``, e.g. ``"Gy"``.
    convention : str
        How the doses were obtained: ``"voxels"``, ``"differential"``, or for a cumulative DVH
        ``"centre"`` / ``"lower"`` (dose assigned to each bin).

    Notes
    -----
    Representation recommended for EUD work: lossless voxel lists with mass weights, or a
    differential DVH with :math:`\sum v_i = 1` (Niemierko 1997, Med Phys 24:103; Niemierko 1999,
    Med Phys 26:1100). Entries with zero volume are dropped on construction. Because the voxel
    order does not matter, ``d_x`` and ``v_x`` use a sorted copy computed once.

    Examples
    --------
    >>> dvh = DVH.from_differential([10.0, 20.0, 30.0], [0.3, 0.4, 0.3])
    >>> round(dvh.mean, 12)
    20.0
    """

    doses: FloatArray
    volumes: FloatArray
    total: float
    metric: str = "dose"
    unit: str = "Gy"
    convention: str = "differential"

    def __post_init__(self) -> None:
        doses = as_float_array(self.doses, "doses", nonnegative=True, unit=self.unit, ndim=1)
        volumes = as_float_array(self.volumes, "volumes", nonnegative=True, ndim=1)
        if doses.shape != volumes.shape:
            raise DoseResponseError(
                f"doses and volumes must have the same length; got {doses.size} and "
                f"{volumes.size}."
            )
        keep = volumes > 0
        if not keep.any():
            raise DoseResponseError("volumes are all zero; a DVH needs some volume.")
        doses, volumes = doses[keep], volumes[keep]
        volumes = volumes / math.fsum(volumes)
        for name, text in (("metric", self.metric), ("unit", self.unit)):
            if not isinstance(text, str) or not text:
                raise DoseResponseError(f"{name} must be a non-empty string; got {text!r}.")
        doses.flags.writeable = False
        volumes.flags.writeable = False
        object.__setattr__(self, "doses", doses)
        object.__setattr__(self, "volumes", volumes)
        object.__setattr__(self, "total", float(self.total))

    def __repr__(self) -> str:
        return (
            f"DVH({self.doses.size} entries, {self.metric} {self.min:.4g}–{self.max:.4g} "
            f"{self.unit}, mean {self.mean:.4g} {self.unit}, convention={self.convention!r})"
        )

    # ---- constructors ------------------------------------------------------------------

    @classmethod
    def from_voxels(
        cls,
        doses: ArrayLike,
        mask: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        *,
        metric: str = "dose",
        unit: str = "Gy",
    ) -> DVH:
        """Build a lossless DVH from a voxel map.

        Parameters
        ----------
        doses : array_like
            Voxel doses (``unit``, Gy by default), any shape, >= 0.
        mask : array_like of bool, optional
            Same shape as ``doses``; True marks voxels of the organ / lesion.
        weights : array_like, optional
            Same shape as ``doses``: voxel mass (kg) or volume (cm³), >= 0. Equal weights when
            omitted.
        metric, unit : str
            What the doses are (``"dose"``, ``"BED"``, ``"EQD2"``) and their unit.

        Returns
        -------
        DVH
            One entry per selected voxel (zero-weight voxels dropped), ``convention="voxels"``;
            ``total`` is the summed weight (or the voxel count).

        Notes
        -----
        Mass weights are preferable when doses are energy per mass (Niemierko 1997, Med Phys
        24:103).
        """
        doses = as_float_array(doses, "doses", nonnegative=True, unit=unit)
        weights_arr = None
        if weights is not None:
            weights_arr = as_float_array(weights, "weights", nonnegative=True)
            _check_same_shape(doses, weights_arr, "doses", "weights")
        if mask is not None:
            mask_arr = np.asarray(mask)
            if mask_arr.dtype != np.bool_:
                raise DoseResponseError(
                    f"mask must be a boolean array; got dtype {mask_arr.dtype}. Use e.g. "
                    "labels == organ_id."
                )
            _check_same_shape(doses, mask_arr, "doses", "mask")
            doses = doses[mask_arr]
            if weights_arr is not None:
                weights_arr = weights_arr[mask_arr]
            if doses.size == 0:
                raise DoseResponseError("mask selects no voxel; check the organ label.")
        doses = doses.reshape(-1)
        if doses.size == 0:
            raise DoseResponseError("doses is empty; pass at least one voxel.")
        weights_arr = np.ones_like(doses) if weights_arr is None else weights_arr.reshape(-1)
        total = math.fsum(weights_arr)
        return cls(doses, weights_arr, total, metric=metric, unit=unit, convention="voxels")

    @classmethod
    def from_differential(
        cls,
        doses: ArrayLike,
        volumes: ArrayLike,
        *,
        metric: str = "dose",
        unit: str = "Gy",
    ) -> DVH:
        r"""Build a DVH from differential bins (dose, volume).

        Parameters
        ----------
        doses : array_like, shape (k,)
            Bin doses (``unit``, Gy by default), >= 0.
        volumes : array_like, shape (k,)
            Volume (fraction, cm³ or kg) of each bin, >= 0; normalised to sum 1.
        metric, unit : str
            What the doses are and their unit.

        Returns
        -------
        DVH
            With ``convention="differential"`` and ``total`` the summed volume.

        Notes
        -----
        :math:`v_i = V_i/\sum_j V_j` (Niemierko 1999, Med Phys 26:1100).
        """
        doses = as_float_array(doses, "doses", nonnegative=True, unit=unit, ndim=1)
        volumes = as_float_array(volumes, "volumes", nonnegative=True, ndim=1)
        _check_same_shape(doses, volumes, "doses", "volumes")
        return cls(doses, volumes, math.fsum(volumes), metric=metric, unit=unit)

    @classmethod
    def from_cumulative(
        cls,
        edges: ArrayLike,
        cumulative_volume: ArrayLike,
        convention: str = "centre",
        *,
        metric: str = "dose",
        unit: str = "Gy",
    ) -> DVH:
        """Build a DVH from a cumulative DVH V(D) tabulated at increasing dose edges.

        Parameters
        ----------
        edges : array_like, shape (k + 1,)
            Strictly increasing doses (``unit``, Gy by default), >= 0.
        cumulative_volume : array_like, shape (k + 1,)
            Volume (fraction, %, cm³) receiving at least each edge dose: non-increasing, >= 0,
            and 0 at the last edge (so that no volume lies above the table).
        convention : {"centre", "lower"}, default "centre"
            Dose assigned to bin :math:`[e_i, e_{i+1})`: its centre or its lower edge.
        metric, unit : str
            What the doses are and their unit.

        Returns
        -------
        DVH
            Bins with :math:`v_i = V(e_i) - V(e_{i+1})` (normalised), the convention stored.

        Notes
        -----
        The differential DVH of a cumulative DVH is :math:`v_i = V(e_i) - V(e_{i+1})`; which dose
        each bin gets changes the gEUD, so the convention is recorded. The centre convention is
        the one of reference vector EUD-050. Bins should be ≤ 0.5 % of the maximum dose, or
        voxels kept (Niemierko 1999, Med Phys 26:1100).
        """
        edges = as_float_array(edges, "edges", nonnegative=True, unit=unit, ndim=1)
        cum = as_float_array(cumulative_volume, "cumulative_volume", nonnegative=True, ndim=1)
        _check_same_shape(edges, cum, "edges", "cumulative_volume")
        if edges.size < 2:
            raise DoseResponseError("edges needs at least two values (one bin).")
        if np.any(np.diff(edges) <= 0):
            raise DoseResponseError("edges must be strictly increasing.")
        if np.any(np.diff(cum) > 0):
            raise DoseResponseError(
                "cumulative_volume must be non-increasing (volume receiving at least each edge)."
            )
        if cum[-1] != 0:
            raise DoseResponseError(
                f"cumulative_volume must be 0 at the last edge; got {cum[-1]:g}. Append an edge "
                "at (or above) the maximum dose with volume 0."
            )
        key = str(convention).lower()
        if key not in _CUMULATIVE_CONVENTIONS:
            raise DoseResponseError(
                f"convention must be one of {', '.join(_CUMULATIVE_CONVENTIONS)}; "
                f"got {convention!r}."
            )
        volumes = cum[:-1] - cum[1:]
        doses = 0.5 * (edges[:-1] + edges[1:]) if key == "centre" else edges[:-1].copy()
        return cls(doses, volumes, float(cum[0]), metric=metric, unit=unit, convention=key)

    # ---- summaries ---------------------------------------------------------------------

    @property
    def mean(self) -> float:
        """Volume-weighted mean dose (``unit``)."""
        return float(np.dot(self.volumes, self.doses))

    @property
    def min(self) -> float:
        """Minimum dose over entries with volume (``unit``)."""
        return float(self.doses.min())

    @property
    def max(self) -> float:
        """Maximum dose (``unit``)."""
        return float(self.doses.max())

    @cached_property
    def _cumulative(self) -> tuple[FloatArray, FloatArray]:
        order = np.argsort(self.doses, kind="stable")
        sorted_doses = self.doses[order]
        at_least = np.cumsum(self.volumes[order][::-1])[::-1]
        return sorted_doses, at_least

    def d_x(self, percent: ArrayLike) -> FloatArray | float:
        r"""Dose received by at least ``percent`` % of the volume (e.g. D98 = ``d_x(98)``).

        Parameters
        ----------
        percent : array_like
            Volume percentage(s) in [0, 100].

        Returns
        -------
        float or numpy.ndarray
            :math:`D_x` (``unit``): the largest dose d with :math:`V(\ge d) \ge x/100`.
            ``d_x(0)`` is the maximum, ``d_x(100)`` the minimum dose.

        Notes
        -----
        The DVH is treated as a step function (no interpolation between voxels or bins); a
        relative slack of 1e-12 absorbs round-off in the cumulative sums.
        """
        pct = _check_percent(percent)
        sorted_doses, at_least = self._cumulative
        target = pct / 100.0 - 1e-12
        count = np.searchsorted(-at_least, -target, side="right")
        result = sorted_doses[np.maximum(count, 1) - 1]
        return float(result) if result.ndim == 0 else result

    def v_x(self, dose: ArrayLike) -> FloatArray | float:
        r"""Percentage of the volume receiving at least ``dose`` (e.g. V20 = ``v_x(20)``).

        Parameters
        ----------
        dose : array_like
            Dose threshold(s) (``unit``), >= 0.

        Returns
        -------
        float or numpy.ndarray
            :math:`100\,V(\ge D)` in %.

        Notes
        -----
        Step-function DVH, no interpolation.
        """
        dose = as_float_array(dose, "dose", nonnegative=True, unit=self.unit)
        sorted_doses, at_least = self._cumulative
        index = np.searchsorted(sorted_doses, dose, side="left")
        padded = np.append(at_least, 0.0)
        result = 100.0 * np.minimum(padded[index], 1.0)
        return float(result) if result.ndim == 0 else result


# --------------------------------------------------------------------------------------------
# EUD functions
# --------------------------------------------------------------------------------------------


@finite_or_error
def geud(doses: ArrayLike | DVH, volumes: ArrayLike | None = None, *, a: float) -> float:
    r"""Generalised equivalent uniform dose (power mean of the dose distribution).

    Parameters
    ----------
    doses : DVH or array_like
        A :class:`DVH`, or doses (Gy, or Gy BED / Gy EQD2) of voxels or bins, any shape, >= 0.
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape as ``doses``), >= 0, normalised to sum
        1. Equal weights (a voxel map) when omitted. Not allowed with a DVH.
    a : float
        Volume-effect parameter (dimensionless), any real: a = 1 mean dose, a → +∞ maximum,
        a → −∞ minimum; tumours a ≈ −5…−20, OARs a = 1/n of the LKB model.

    Returns
    -------
    float
        gEUD in the unit of ``doses``.

    Raises
    ------
    DoseResponseError
        For negative, NaN or infinite doses, bad volumes, or non-finite ``a``.

    Notes
    -----
    :math:`gEUD = (\sum_i v_i D_i^a)^{1/a}` (Niemierko 1999, Med Phys 26:1100, abstract).
    Conventions:

    * a = 0 is the limit :math:`a\to 0`, the weighted geometric mean
      :math:`\exp(\sum_i v_i\ln D_i)` (also used for :math:`|a| < 10^{-250}`); for
      :math:`0 < |a| < 0.01` the sum is formed as :math:`\sum_i v_i\,\mathrm{expm1}(a\ln D_i)`
      and :math:`gEUD = \exp(\mathrm{log1p}(\cdot)/a)`, since the textbook form raises
      1 + O(a) to the power 1/a and loses all digits;
    * a zero dose with :math:`a \le 0` (in a voxel with non-zero volume) gives gEUD = 0 exactly,
      the limit of the formula — no warning, no NaN;
    * large \|a\| cannot overflow: a chunk whose power sum leaves [1e-280, 1e280] is recomputed
      with doses divided by its maximum (a > 0) or minimum (a < 0), and the chunk sums are
      combined in log space.

    Implementation: the doses are processed in chunks of 2**17 values with preallocated
    scratch buffers, so a voxel map is read from memory once; validation (NaN, negative,
    infinite) is folded into each chunk's min/max reduction. Powers avoid transcendental
    functions where possible: a = 1 is a sum; integer and half-integer :math:`|a| \le 32` use
    repeated squaring (after ``np.sqrt`` for half-integers and ``np.reciprocal`` for negative a)
    with a final dot product; a = 0 multiplies up to 64 doses before each logarithm; other a use
    :math:`2^{a\ln D/\ln 2}` (``np.log`` + ``np.exp2``, measured faster than ``np.power`` and
    ``np.exp`` here). On a 256³ map this costs about 0.8× (a = 0, 1, 4) and 1.6× (a = −10, 0.5)
    the time of ``arr.copy()``; a general non-integer a about 8×.

    Examples
    --------
    >>> round(geud([10.0, 20.0, 30.0, 40.0, 60.0], [0.1, 0.2, 0.4, 0.2, 0.1], a=-10.0), 8)
    12.58671041
    """
    a = check_scalar(a, "a")
    flat, weights = _flat_doses_and_weights(doses, volumes)
    return _geud_chunked(flat, weights, a)


@finite_or_error
def clonogenic_eud(
    doses: ArrayLike | DVH, volumes: ArrayLike | None = None, *, alpha: float
) -> float:
    r"""Clonogen-based EUD for linear (exponential) cell survival.

    Parameters
    ----------
    doses : DVH or array_like
        A :class:`DVH`, or voxel / bin doses (Gy), any shape, >= 0.
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape), normalised to sum 1; equal if omitted.
    alpha : float
        Radiosensitivity α (1/Gy), > 0.

    Returns
    -------
    float
        The uniform dose (Gy) with the same mean surviving fraction.

    Notes
    -----
    :math:`EUD = -\frac1\alpha\ln\sum_i v_i e^{-\alpha D_i}` (Niemierko 1997, Med Phys 24:103),
    evaluated around the minimum dose, :math:`EUD = D_{min} - \frac1\alpha\ln\sum_i v_i
    e^{-\alpha(D_i - D_{min})}`, so that every exponent is ≤ 0 and the sum is ≥ the volume at
    :math:`D_{min}` (no underflow for any dose). For normally distributed doses
    :math:`N(\mu,\sigma^2)`, :math:`EUD = \mu - \alpha\sigma^2/2`.

    Examples
    --------
    >>> clonogenic_eud([25.0], alpha=0.35)
    25.0
    """
    alpha = check_scalar(alpha, "alpha", positive=True, unit="1/Gy")
    flat, weights = _dose_distribution(doses, volumes, "doses")
    return _log_mean_exp_eud(alpha * flat, weights) / alpha


@finite_or_error
def eubed(beds: ArrayLike | DVH, volumes: ArrayLike | None = None, *, alpha: float) -> float:
    r"""Equivalent uniform BED (EUBED) of voxel BEDs.

    Parameters
    ----------
    beds : DVH or array_like
        A :class:`DVH` of BEDs, or voxel / bin BEDs (Gy BED), any shape, >= 0 — each voxel's BED
        computed with its own kinetics (see :mod:`doseresponse.radiobiology.bed`).
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape), normalised to sum 1; equal if omitted.
    alpha : float
        Radiosensitivity α (1/Gy), > 0. EUBED depends on α, not only on α/β.

    Returns
    -------
    float
        EUBED (Gy BED); never larger than the mean BED (Jensen's inequality).

    Notes
    -----
    :math:`EUBED = -\frac1\alpha\ln\sum_i v_i e^{-\alpha BED_i}` (Prideaux et al. 2007, J Nucl Med
    48:1008), evaluated stably around the minimum BED as in :func:`clonogenic_eud`. For
    Gamma(k, θ)-distributed BED, :math:`EUBED = k\ln(1+\alpha\theta)/\alpha`.

    Examples
    --------
    >>> round(eubed([40.0, 60.0], alpha=0.15), 6)
    44.297066
    """
    alpha = check_scalar(alpha, "alpha", positive=True, unit="1/Gy")
    flat, weights = _dose_distribution(beds, volumes, "beds")
    return _log_mean_exp_eud(alpha * flat, weights) / alpha


@finite_or_error
def odonoghue_eud(
    doses: ArrayLike | DVH,
    volumes: ArrayLike | None = None,
    *,
    alpha: float,
    beta: float,
    g: float,
) -> float:
    r"""O'Donoghue's linear-quadratic EUD for radionuclide therapy.

    Parameters
    ----------
    doses : DVH or array_like
        A :class:`DVH`, or voxel / bin absorbed doses (Gy), any shape, >= 0.
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape), normalised to sum 1; equal if omitted.
    alpha : float
        LQ α (1/Gy), > 0.
    beta : float
        LQ β (1/Gy²), >= 0.
    g : float
        Lea–Catcheside dose-rate factor G (dimensionless) in [0, 1], the same in every voxel
        (same kinetics everywhere); e.g. :math:`T_{rep}/(T_{rep}+T_{eff})` for a
        mono-exponential dose rate with instantaneous uptake.

    Returns
    -------
    float
        The uniform dose E (Gy), delivered with the same kinetics, that gives the same mean
        surviving fraction.

    Notes
    -----
    With survival :math:`S_i = \exp(-\alpha D_i - \beta G D_i^2)` and
    :math:`L = -\ln\sum_i v_i S_i` (evaluated around the smallest exponent, as in
    :func:`clonogenic_eud`), E solves :math:`\alpha E + \beta G E^2 = L` (O'Donoghue 1999, J Nucl
    Med 40:1337). The root is computed in the cancellation-free form

    .. math:: E = \frac{2L}{\alpha + \sqrt{\alpha^2 + 4\beta G L}}

    (algebraically equal to :math:`(-\alpha+\sqrt{\alpha^2+4\beta G L})/(2\beta G)`); for
    :math:`\beta G = 0` (g → 0) it is exactly :math:`L/\alpha`, the clonogen EUD, which is
    returned explicitly.

    Examples
    --------
    >>> round(odonoghue_eud([20.0, 35.0, 50.0, 70.0], [0.3, 0.3, 0.25, 0.15],
    ...                     alpha=0.3, beta=0.03, g=1.5 / 81.5), 6)
    23.692778
    """
    alpha = check_scalar(alpha, "alpha", positive=True, unit="1/Gy")
    beta = check_scalar(beta, "beta", nonnegative=True, unit="1/Gy^2")
    g = check_scalar(g, "g", nonnegative=True)
    if g > 1.0:
        raise DoseResponseError(f"g (the dose-rate factor G) must lie in [0, 1]; got {g:g}.")
    flat, weights = _dose_distribution(doses, volumes, "doses")
    bg = beta * g
    if bg == 0.0:
        return _log_mean_exp_eud(alpha * flat, weights) / alpha
    log_kill = _log_mean_exp_eud(flat * (alpha + bg * flat), weights)
    return 2.0 * log_kill / (alpha + math.sqrt(alpha * alpha + 4.0 * bg * log_kill))


# --------------------------------------------------------------------------------------------
# helpers: input handling
# --------------------------------------------------------------------------------------------


def _dose_distribution(
    doses: ArrayLike | DVH, volumes: ArrayLike | None, name: str
) -> tuple[FloatArray, FloatArray]:
    """Validated flat doses (>= 0) and weights (> 0, summing to 1) of one dose distribution."""
    if isinstance(doses, DVH):
        if volumes is not None:
            raise DoseResponseError(
                "volumes must be None when a DVH is passed (the DVH carries its volumes)."
            )
        return doses.doses, doses.volumes
    flat = as_float_array(doses, name, nonnegative=True, unit="Gy").reshape(-1)
    if flat.size == 0:
        raise DoseResponseError(f"{name} is empty; pass at least one dose.")
    if volumes is None:
        return flat, np.full(flat.size, 1.0 / flat.size)
    weights = _check_volumes(volumes, np.shape(doses), name)
    keep = weights > 0
    if not keep.all():
        flat, weights = flat[keep], weights[keep]
    return flat, weights / math.fsum(weights)


def _flat_doses_and_weights(
    doses: ArrayLike | DVH, volumes: ArrayLike | None
) -> tuple[FloatArray, FloatArray | None]:
    """Flat float64 doses (not yet validated) and normalised weights, or None for equal weights.

    The dose array is validated inside the chunk loop of :func:`_geud_chunked`, so a large voxel
    map is read once instead of once per check.
    """
    if isinstance(doses, DVH):
        if volumes is not None:
            raise DoseResponseError(
                "volumes must be None when a DVH is passed (the DVH carries its volumes)."
            )
        return doses.doses, doses.volumes
    try:
        arr = np.asarray(doses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DoseResponseError(
            f"doses must be numeric (Gy); got {type(doses).__name__} ({exc})."
        ) from None
    if arr.size == 0:
        raise DoseResponseError("doses is empty; pass at least one dose.")
    if volumes is None:
        return arr.ravel(order="K"), None
    weights = _check_volumes(volumes, arr.shape, "doses")
    flat = arr.reshape(-1)
    keep = weights > 0
    if not keep.all():
        flat, weights = flat[keep], weights[keep]
    return flat, weights / math.fsum(weights)


def _check_volumes(volumes: ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    weights = as_float_array(volumes, "volumes", nonnegative=True)
    if weights.shape != tuple(shape):
        raise DoseResponseError(
            f"volumes must have the same shape as {name}; got {weights.shape} and {tuple(shape)}."
        )
    weights = weights.reshape(-1)
    if not np.any(weights > 0):
        raise DoseResponseError("volumes are all zero; give the volume or mass of each dose.")
    return weights


def _check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise DoseResponseError(
            f"{name_b} must have the same shape as {name_a}; got {b.shape} and {a.shape}."
        )


def _check_percent(percent: ArrayLike) -> FloatArray:
    pct = as_float_array(percent, "percent", unit="%")
    if np.any((pct < 0) | (pct > 100)):
        raise DoseResponseError("percent must lie in [0, 100] (a volume percentage).")
    return pct


# --------------------------------------------------------------------------------------------
# helpers: numerics
# --------------------------------------------------------------------------------------------


def _log_mean_exp_eud(exponents: FloatArray, weights: FloatArray) -> float:
    r"""Return ``-ln(Σ w_i exp(-x_i) / Σ w_i)`` evaluated around ``min x``.

    With :math:`y_i = x_i - x_{min} \ge 0`, :math:`-\ln\bar S = x_{min} -
    \mathrm{log1p}(\sum w_i\,\mathrm{expm1}(-y_i)/\sum w_i)`: no underflow, and a (nearly)
    uniform distribution keeps full relative precision.
    """
    shift = float(exponents.min())
    deficit = float(np.dot(weights, np.expm1(shift - exponents))) / float(weights.sum())
    return shift - math.log1p(max(deficit, -1.0))


def _geud_chunked(flat: FloatArray, weights: FloatArray | None, a: float) -> float:
    """Power mean of ``flat`` with optional normalised ``weights``; validates ``flat``."""
    size = min(_CHUNK, flat.size)
    kernel = _power_kernel(a, size)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # overflow / underflow are detected from each chunk's sum and handled by rescaling
        return _geud_loop(flat, weights, a, size, kernel)


def _geud_loop(
    flat: FloatArray,
    weights: FloatArray | None,
    a: float,
    size: int,
    kernel: Kernel,
) -> float:
    n = flat.size
    small = _is_small_exponent(a)
    geometric = abs(a) < _GEOMETRIC_A or small
    sums: list[float] = []
    log_scales: list[float] = []
    zero_dose = False
    for start in range(0, n, size):
        x = flat[start : start + size]
        lo = float(np.minimum.reduce(x))
        hi = float(np.maximum.reduce(x))
        if not (lo >= 0.0 and hi < math.inf):
            _raise_bad_dose(x, start)
        if a <= 0.0 and lo == 0.0:
            zero_dose = True
        if zero_dose:
            continue  # result is 0; keep validating the remaining chunks
        w = None if weights is None else weights[start : start + size]
        s = kernel(x, w, lo, hi)
        if geometric or _SAFE_LOW < s < _SAFE_HIGH or (s == 0.0 and hi == 0.0):
            sums.append(s)
            log_scales.append(0.0)
        else:  # overflow / underflow: rescale by the dominant dose of the chunk
            ref = hi if a > 0 else lo
            terms = np.exp(a * np.log(x / ref)) if hi > 0 else np.zeros_like(x)
            sums.append(float(terms.sum() if w is None else np.dot(w, terms)))
            log_scales.append(a * math.log(ref))
    if zero_dose:
        return 0.0
    count = 1.0 if weights is not None else float(n)
    if small:  # kernel summed expm1(a ln D): gEUD = exp(log1p(mean)/a)
        mean = math.fsum(sums) / count
        if mean <= -1.0:  # every dose 0 with a > 0: mean of D^a is 0, so gEUD = 0
            return 0.0
        return math.exp(math.log1p(mean) / a)
    if geometric:
        return math.exp(math.fsum(sums) / count)
    if not any(log_scales):
        mean_power = math.fsum(sums) / count
        if a == 1.0:
            return mean_power
        if mean_power == 0.0:
            return 0.0
        return mean_power ** (1.0 / a)
    log_terms = np.log(np.asarray(sums)) + np.asarray(log_scales)
    log_mean = float(special.logsumexp(log_terms)) - math.log(count)
    return math.exp(log_mean / a)


def _power_kernel(a: float, size: int) -> Kernel:
    """Return ``kernel(x, w, lo, hi)`` → ``Σ x**a`` or ``Σ w x**a`` over one chunk.

    For a = 0 the kernel returns ``Σ [w] ln x``, for small |a| ``Σ [w] expm1(a ln x)``.
    ``lo``/``hi`` are the chunk's min and max (> 0 when a <= 0). Sums use a dot product with a
    vector of ones (BLAS), measured ~4x faster than ``np.add.reduce`` on in-cache chunks.
    """
    buf1 = np.empty(size)
    buf2 = np.empty(size)
    ones = np.ones(size)

    def total(values: FloatArray, w: FloatArray | None) -> float:
        return float(np.dot(values, ones[: values.size]) if w is None else np.dot(w, values))

    if _is_small_exponent(a):

        def kernel(x: FloatArray, w: FloatArray | None, lo: float, hi: float) -> float:
            t = np.log(x, out=buf1[: x.size])
            t *= a
            return total(np.expm1(t, out=t), w)

        return kernel

    if abs(a) < _GEOMETRIC_A:  # includes a == 0: the geometric mean

        def kernel(x: FloatArray, w: FloatArray | None, lo: float, hi: float) -> float:
            if w is not None:
                return total(np.log(x, out=buf1[: x.size]), w)
            return _sum_of_logs(x, lo, hi, buf1, ones)

        return kernel

    doubled = 2.0 * a
    if doubled == round(doubled) and abs(doubled) <= 2 * _MAX_INT_POWER:
        half = abs(round(doubled)) % 2 == 1
        k = abs(round(doubled)) if half else abs(round(a))
        negative = a < 0

        def kernel(x: FloatArray, w: FloatArray | None, lo: float, hi: float) -> float:
            m = x.size
            base = x
            if half:
                base = np.sqrt(x, out=buf1[:m])
            if negative:
                base = np.reciprocal(base, out=buf1[:m])
            if w is not None:
                return float(np.dot(w, _integer_power(base, k, buf2[:m])))
            if k == 1:
                return total(base, None)
            if k % 2 == 0:
                h = _integer_power(base, k // 2, buf2[:m])
                return float(np.dot(h, h))
            return float(np.dot(_integer_power(base, k - 1, buf2[:m]), base))

        return kernel

    exponent = a / _LN2

    def kernel(x: FloatArray, w: FloatArray | None, lo: float, hi: float) -> float:
        # x**a = 2**(a ln x / ln 2): np.exp2 measured ~1.6x faster than np.exp here
        t = np.log(x, out=buf1[: x.size])  # log(0) = -inf -> 2**-inf = 0 for a > 0
        t *= exponent
        return total(np.exp2(t, out=t), w)

    return kernel


def _sum_of_logs(
    x: FloatArray, lo: float, hi: float, buf: FloatArray, ones: FloatArray
) -> float:
    """``Σ ln x`` with one logarithm per ``fold`` values: products of up to 64 doses first.

    The doses are multiplied pairwise (halving the array ``log2(fold)`` times) only as far as the
    chunk's range allows without overflow or underflow (``fold * max|log2 x| <= 1000``).
    """
    if lo == 0.0:  # only reached for 0 < a < 1e-250: the a -> 0+ limit with a zero dose is 0
        return -math.inf
    m = x.size
    spread = max(abs(math.log2(hi)), abs(math.log2(lo))) + 1.0
    fold = 1
    while fold < 64 and 2 * fold * spread <= 1000.0:
        fold *= 2
    usable = m - m % fold
    result = 0.0
    rest = x
    if fold > 1 and usable:
        n = usable // 2
        products = np.multiply(x[:n], x[n:usable], out=buf[:n])
        while n > usable // fold:
            n //= 2
            np.multiply(products[:n], products[n : 2 * n], out=products[:n])
        logs = np.log(products[:n], out=products[:n])
        result += float(np.dot(logs, ones[:n]))
        rest = x[usable:]
    if rest.size:
        result += float(np.log(rest).sum())
    return result


def _is_small_exponent(a: float) -> bool:
    return _GEOMETRIC_A <= abs(a) < _SMALL_A


def _integer_power(base: FloatArray, k: int, out: FloatArray) -> FloatArray:
    """``base**k`` for integer k >= 1 by left-to-right binary exponentiation into ``out``."""
    if k == 1:
        return base
    bits = bin(k)[3:]
    np.square(base, out=out)
    if bits[0] == "1":
        np.multiply(out, base, out=out)
    for bit in bits[1:]:
        np.square(out, out=out)
        if bit == "1":
            np.multiply(out, base, out=out)
    return out


def _raise_bad_dose(chunk: FloatArray, offset: int) -> None:
    nan = np.isnan(chunk)
    if nan.any():
        index = offset + int(np.flatnonzero(nan)[0])
        raise DoseResponseError(
            f"doses contains NaN at flat index {index}; remove or impute missing voxels (or "
            "pass a mask)."
        )
    inf = np.isinf(chunk)
    if inf.any():
        index = offset + int(np.flatnonzero(inf)[0])
        raise DoseResponseError(
            f"doses contains an infinite value at flat index {index}; pass finite doses (Gy)."
        )
    neg = chunk < 0
    index = offset + int(np.flatnonzero(neg)[0])
    raise DoseResponseError(
        f"doses must be >= 0 (Gy); got {chunk[neg][0]:g} at flat index {index}."
    )
