r"""Dose-response curve families (TCP/NTCP) in numpy, and the registry that names them.

Every family is parametrised the same way, so that priors and pooling can be written once:

* ``d50`` — the dose at 50 % response (same unit as the dose metric: Gy, Gy BED or Gy EQD2);
* a slope — the normalised slope :math:`\gamma_{50} = D_{50}\,\mathrm{d}P/\mathrm{d}D` at
  :math:`D_{50}` (equivalently :math:`\mathrm{d}P/\mathrm{d}\ln D`), except the probit/LKB family,
  which keeps its conventional width parameter ``m`` (:math:`\gamma_{50} = 1/(m\sqrt{2\pi})`).

The closed-form families are registered in :data:`CURVE_FAMILIES` (``"logistic"``,
``"log-logistic"``, ``"probit"``/``"lkb"``, ``"cloglog"``/``"weibull"``, ``"poisson"``); each
entry knows its probability, inverse (``CurveFamily.dose_at``) and normalised slope. The
probabilities are evaluated by the one compiled implementation of each family,
``doseresponse.models._curve_kernel`` — the code the sampler's log density runs — so a
curve, a TDp and a likelihood term can never disagree; this module keeps the inverses, the
validation and the documentation of each formula. The PyMC/pytensor twins (the autodiff oracle)
live in :mod:`doseresponse.models.tensor_curves` under the same names; this module never
imports pytensor.

Besides the registry, the module offers the DVH-level models that reduce a dose distribution to one
probability: :func:`lkb` (gEUD with :math:`a = 1/n`), :func:`poisson_tcp` (Webb & Nahum 1993),
:func:`population_tcp` (normal inter-patient α) and :func:`relative_seriality` (Källman 1992).

Units: dose Gy (or Gy BED / Gy EQD2, used consistently), α 1/Gy, probabilities dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from doseresponse._validation import (
    as_float_array,
    check_probability,
    check_scalar,
    lookup_name,
)
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.eud import DVH, _dose_distribution, geud

__all__ = [
    "CURVE_FAMILIES",
    "CurveFamily",
    "cloglog",
    "cloglog_dose_at",
    "dose_at",
    "get_curve_family",
    "list_curve_families",
    "lkb",
    "log_logistic",
    "log_logistic_dose_at",
    "log_pair",
    "logistic",
    "logistic_dose_at",
    "poisson",
    "poisson_dose_at",
    "poisson_tcp",
    "population_tcp",
    "probit",
    "probit_dose_at",
    "relative_seriality",
]

_LN2 = math.log(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: Largest tolerated probability mass of the normal α distribution below zero (population TCP).
NEGATIVE_ALPHA_TOLERANCE = 1e-6
_Z_RANGE = 10.0  # population_tcp integrates the standard-normal variable over ±10

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# closed-form families
# --------------------------------------------------------------------------------------------


def logistic(dose: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Logistic curve linear in dose (linear logit), parametrised by D50 and γ50.

    Parameters
    ----------
    dose : array_like
        Dose (Gy, or Gy BED / Gy EQD2), >= 0. Broadcasts with ``d50`` and ``gamma50``.
    d50 : array_like
        Dose at 50 % response (same unit as ``dose``), > 0.
    gamma50 : array_like
        Normalised slope at D50 (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        Response probability :math:`P(D)`.

    Notes
    -----
    :math:`P = 1/(1+\exp(4\gamma_{50}(1-D/D_{50})))`, the linear-logit form used by Bentzen &
    Tucker (1997, Int J Radiat Biol 71:531) and Niemierko & Goitein (1991, Radiother Oncol
    20:166). :math:`\mathrm{d}P/\mathrm{d}D = P(1-P)\,4\gamma_{50}/D_{50}`, so
    :math:`D_{50}\,\mathrm{d}P/\mathrm{d}D = \gamma_{50}` at :math:`D_{50}`. Unlike the
    log-logistic form, :math:`P(0) = 1/(1+e^{4\gamma_{50}}) > 0`.

    Examples
    --------
    >>> round(float(logistic(45.0, 45.0, 2.0)), 12)
    0.5
    """
    dose, d50, gamma50 = _curve_args(dose, d50, gamma50, "gamma50")
    return _kernel_probability("logistic", dose, d50, gamma50)


def logistic_dose_at(p: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Dose (Gy) at which the linear-logit :func:`logistic` curve reaches probability ``p``.

    Parameters
    ----------
    p : array_like
        Target probability in (0, 1).
    d50 : array_like
        Dose at 50 % response (Gy), > 0.
    gamma50 : array_like
        Normalised slope at D50, > 0.

    Returns
    -------
    numpy.ndarray
        :math:`D_p = D_{50}\,(1 + \mathrm{logit}(p)/(4\gamma_{50}))` (Gy).

    Raises
    ------
    DoseResponseError
        If ``p`` is below :math:`P(0)`, i.e. would need a negative dose.

    Notes
    -----
    Inverse of :func:`logistic` (Bentzen & Tucker 1997, Int J Radiat Biol 71:531).
    """
    p, d50, gamma50 = _inverse_args(p, d50, gamma50, "gamma50")
    return _nonnegative_dose(d50 * (1.0 + special.logit(p) / (4.0 * gamma50)), p, "logistic")


def log_logistic(dose: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Log-logistic curve (logistic in log dose), parametrised by D50 and γ50.

    Parameters
    ----------
    dose : array_like
        Dose (Gy, or Gy BED / Gy EQD2), >= 0. Broadcasts with ``d50`` and ``gamma50``.
    d50 : array_like
        Dose at 50 % response (same unit as ``dose``), > 0.
    gamma50 : array_like
        Normalised slope :math:`\mathrm{d}P/\mathrm{d}\ln D` at D50 (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        Response probability; exactly 0 at zero dose.

    Notes
    -----
    :math:`P = 1/(1+(D_{50}/D)^{4\gamma_{50}})` (Niemierko & Goitein 1991, Radiother Oncol
    20:166), evaluated as :math:`\mathrm{expit}(4\gamma_{50}\ln(D/D_{50}))` so that it neither
    overflows nor divides by zero. :math:`\mathrm{d}P/\mathrm{d}\ln D = 4\gamma_{50}P(1-P)`, which
    is :math:`\gamma_{50}` at :math:`D_{50}`.

    Examples
    --------
    >>> round(float(log_logistic(40.0, 45.0, 2.0)), 9)
    0.280443195
    """
    dose, d50, gamma50 = _curve_args(dose, d50, gamma50, "gamma50")
    return _kernel_probability("log-logistic", dose, d50, gamma50)


def log_logistic_dose_at(p: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Dose (Gy) at which :func:`log_logistic` reaches probability ``p``.

    Parameters
    ----------
    p : array_like
        Target probability in (0, 1).
    d50 : array_like
        Dose at 50 % response (Gy), > 0.
    gamma50 : array_like
        Normalised slope at D50, > 0.

    Returns
    -------
    numpy.ndarray
        :math:`D_p = D_{50}\exp(\mathrm{logit}(p)/(4\gamma_{50}))` (Gy).

    Notes
    -----
    Inverse of :func:`log_logistic` (Niemierko & Goitein 1991, Radiother Oncol 20:166).
    """
    p, d50, gamma50 = _inverse_args(p, d50, gamma50, "gamma50")
    return d50 * np.exp(special.logit(p) / (4.0 * gamma50))


def probit(dose: ArrayLike, d50: ArrayLike, m: ArrayLike) -> FloatArray:
    r"""Probit (Lyman) curve :math:`\Phi((D-D_{50})/(m D_{50}))`.

    Parameters
    ----------
    dose : array_like
        Dose (Gy, or Gy EQD2 / Gy BED; for a non-uniform dose, the effective dose), >= 0.
    d50 : array_like
        Dose at 50 % response, :math:`TD_{50}` (same unit as ``dose``), > 0.
    m : array_like
        Relative width of the curve (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        Response probability.

    Notes
    -----
    Lyman (1985, Radiat Res 104:S13); Kutcher & Burman (1989, Int J Radiat Oncol Biol Phys
    16:1623). :math:`\mathrm{d}P/\mathrm{d}D = \varphi(t)/(m D_{50})`, so the normalised slope at
    :math:`D_{50}` is :math:`\gamma_{50} = 1/(m\sqrt{2\pi})`. :math:`P(0) = \Phi(-1/m) > 0`.
    For a DVH use :func:`lkb`.

    Examples
    --------
    >>> round(float(probit(28.0, 28.0, 0.18)), 12)
    0.5
    """
    dose, d50, m = _curve_args(dose, d50, m, "m")
    return _kernel_probability("probit", dose, d50, m)


def probit_dose_at(p: ArrayLike, d50: ArrayLike, m: ArrayLike) -> FloatArray:
    r"""Dose (Gy) at which :func:`probit` reaches probability ``p``.

    Parameters
    ----------
    p : array_like
        Target probability in (0, 1).
    d50 : array_like
        :math:`TD_{50}` (Gy), > 0.
    m : array_like
        Relative width (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        :math:`D_p = TD_{50}(1 + m\,\Phi^{-1}(p))` (Gy).

    Raises
    ------
    DoseResponseError
        If ``p`` is below :math:`\Phi(-1/m)`, i.e. would need a negative dose.

    Notes
    -----
    Inverse of the Lyman (1985) curve; e.g. :math:`TD_5 = TD_{50}(1 + m\Phi^{-1}(0.05))`
    (Burman et al. 1991, Int J Radiat Oncol Biol Phys 21:123).
    """
    p, d50, m = _inverse_args(p, d50, m, "m")
    return _nonnegative_dose(d50 * (1.0 + m * special.ndtri(p)), p, "probit")


def cloglog(dose: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Weibull curve (complementary log-log in log dose), parametrised by D50 and γ50.

    Parameters
    ----------
    dose : array_like
        Dose (Gy, or Gy BED / Gy EQD2), >= 0.
    d50 : array_like
        Dose at 50 % response (same unit as ``dose``), > 0.
    gamma50 : array_like
        Normalised slope at D50 (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        Response probability; exactly 0 at zero dose.

    Notes
    -----
    :math:`P = 1-\exp(-\ln 2\,(D/D_{50})^k)` with :math:`k = 2\gamma_{50}/\ln 2`, i.e.
    :math:`\mathrm{cloglog}(P) = \ln\ln 2 + k\ln(D/D_{50})`, the Weibull dose-response model of
    quantal bioassay (e.g. EPA BMDS "Weibull"). Derivation of the parametrisation:
    :math:`P(D_{50}) = 1 - e^{-\ln 2} = 1/2` for any :math:`k`, and

    .. math::
        \frac{\mathrm{d}P}{\mathrm{d}\ln D} = (1-P)\,\ln 2\,k\,(D/D_{50})^k
        \;\xrightarrow{D=D_{50}}\; \tfrac12\ln 2\,k = \gamma_{50}
        \iff k = 2\gamma_{50}/\ln 2 .
    """
    dose, d50, gamma50 = _curve_args(dose, d50, gamma50, "gamma50")
    return _kernel_probability("cloglog", dose, d50, gamma50)


def cloglog_dose_at(p: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Dose (Gy) at which :func:`cloglog` reaches probability ``p``.

    Parameters
    ----------
    p : array_like
        Target probability in (0, 1).
    d50 : array_like
        Dose at 50 % response (Gy), > 0.
    gamma50 : array_like
        Normalised slope at D50, > 0.

    Returns
    -------
    numpy.ndarray
        :math:`D_p = D_{50}\,(-\ln(1-p)/\ln 2)^{1/k}`, :math:`k = 2\gamma_{50}/\ln 2` (Gy).

    Notes
    -----
    Inverse of the Weibull form in :func:`cloglog`.
    """
    p, d50, gamma50 = _inverse_args(p, d50, gamma50, "gamma50")
    k = 2.0 * gamma50 / _LN2
    return d50 * np.exp(np.log(-np.log1p(-p) / _LN2) / k)


def poisson(dose: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Poisson (LQ clonogen) TCP curve parametrised by D50 and γ50.

    Parameters
    ----------
    dose : array_like
        Uniform dose (Gy, or Gy BED), >= 0.
    d50 : array_like
        Dose at 50 % control (same unit as ``dose``), > 0.
    gamma50 : array_like
        Normalised slope at D50 (dimensionless), > 0.

    Returns
    -------
    numpy.ndarray
        Tumour control probability.

    Notes
    -----
    The Poisson model :math:`TCP = \exp(-N_0 e^{-\alpha D})` (Webb & Nahum 1993, Phys Med Biol
    38:653) is re-parametrised by requiring :math:`N_0 e^{-\alpha D_{50}} = \ln 2`, which gives
    :math:`TCP = \exp(-\ln 2\, e^{-\alpha(D-D_{50})})`, the D50/γ form also used by Källman,
    Ågren & Brahme (1992, Int J Radiat Biol 62:249). Then
    :math:`D\,\mathrm{d}TCP/\mathrm{d}D = TCP\,\ln 2\,\alpha D\,e^{-\alpha(D-D_{50})}`, equal to
    :math:`\alpha D_{50}\ln 2/2` at :math:`D_{50}`; hence
    :math:`\alpha = 2\gamma_{50}/(D_{50}\ln 2)` and ``gamma50`` is the true normalised slope at
    D50. (Källman's γ is instead the *maximum* of :math:`D_{50}\,\mathrm{d}P/\mathrm{d}D`,
    reached at :math:`P = 1/e`, so :math:`\gamma_{50} = e\gamma\ln 2/2`.)
    :math:`P(0) = \exp(-\ln 2\, e^{\alpha D_{50}})` is tiny but not 0.
    """
    dose, d50, gamma50 = _curve_args(dose, d50, gamma50, "gamma50")
    return _kernel_probability("poisson", dose, d50, gamma50)


def poisson_dose_at(p: ArrayLike, d50: ArrayLike, gamma50: ArrayLike) -> FloatArray:
    r"""Dose (Gy) at which the :func:`poisson` TCP curve reaches probability ``p``.

    Parameters
    ----------
    p : array_like
        Target probability in (0, 1).
    d50 : array_like
        Dose at 50 % control (Gy), > 0.
    gamma50 : array_like
        Normalised slope at D50, > 0.

    Returns
    -------
    numpy.ndarray
        :math:`D_p = D_{50}\,(1 - \ln(-\ln p/\ln 2)\,\ln 2/(2\gamma_{50}))` (Gy).

    Raises
    ------
    DoseResponseError
        If ``p`` is below :math:`P(0)`, i.e. would need a negative dose.

    Notes
    -----
    Inverse of :func:`poisson` (Webb & Nahum 1993, Phys Med Biol 38:653).
    """
    p, d50, gamma50 = _inverse_args(p, d50, gamma50, "gamma50")
    alpha_d50 = 2.0 * gamma50 / _LN2
    return _nonnegative_dose(d50 * (1.0 - np.log(-np.log(p) / _LN2) / alpha_d50), p, "poisson")


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------

CurveFunction = Callable[[ArrayLike, ArrayLike, ArrayLike], FloatArray]


@dataclass(frozen=True)
class CurveFamily:
    r"""A registered dose-response curve family parametrised by D50 and a slope.

    Parameters
    ----------
    name : str
        Registry key (e.g. ``"log-logistic"``); the pytensor twin uses the same key.
    probability : callable
        ``probability(dose, d50, slope)`` → response probability; dose and d50 in Gy (or the unit
        of the dose metric).
    dose_at : callable
        ``dose_at(p, d50, slope)`` → dose (Gy) at which the response probability is ``p``.
    slope_name : str
        ``"gamma50"`` (normalised slope at D50) or ``"m"`` (probit width).
    gamma50_from_slope : callable
        ``f(d50, slope)`` → γ50; used by :meth:`normalised_slope`.
    description : str
        The formula in words.
    reference : str
        Where the formula comes from (authors, year, journal).
    aliases : tuple of str
        Other accepted names (case-insensitive).

    Notes
    -----
    Families and their sources are listed in ``docs/theory/curves.md``; every family satisfies
    :math:`P(D_{50}) = 1/2` and :math:`D_{50}\,\mathrm{d}P/\mathrm{d}D|_{D_{50}} = \gamma_{50}`.
    """

    name: str
    probability: CurveFunction
    dose_at: CurveFunction
    slope_name: str
    gamma50_from_slope: Callable[[FloatArray, FloatArray], FloatArray] = field(repr=False)
    description: str
    reference: str
    aliases: tuple[str, ...] = ()

    def normalised_slope(self, d50: ArrayLike, slope: ArrayLike) -> FloatArray:
        r"""Normalised slope :math:`\gamma_{50} = D_{50}\,\mathrm{d}P/\mathrm{d}D` at D50.

        Parameters
        ----------
        d50 : array_like
            Dose at 50 % response (Gy), > 0.
        slope : array_like
            The family's slope parameter (``gamma50`` or ``m``), > 0.

        Returns
        -------
        numpy.ndarray
            γ50 (dimensionless), broadcast over ``d50`` and ``slope``.
        """
        d50 = as_float_array(d50, "d50", positive=True, unit="Gy")
        slope = as_float_array(slope, self.slope_name, positive=True)
        d50, slope = np.broadcast_arrays(d50, slope)
        return np.asarray(self.gamma50_from_slope(d50, slope), dtype=np.float64)


def _gamma50_identity(d50: FloatArray, slope: FloatArray) -> FloatArray:
    return np.array(slope, dtype=np.float64, copy=True)


def _gamma50_probit(d50: FloatArray, m: FloatArray) -> FloatArray:
    return 1.0 / (m * _SQRT_2PI)


CURVE_FAMILIES: dict[str, CurveFamily] = {
    "logistic": CurveFamily(
        name="logistic",
        probability=logistic,
        dose_at=logistic_dose_at,
        slope_name="gamma50",
        gamma50_from_slope=_gamma50_identity,
        description="logistic in dose (linear logit): 1/(1+exp(4*gamma50*(1-D/D50)))",
        reference="Bentzen & Tucker 1997 Int J Radiat Biol 71:531; "
        "Niemierko & Goitein 1991 Radiother Oncol 20:166",
        aliases=("linear-logistic",),
    ),
    "log-logistic": CurveFamily(
        name="log-logistic",
        probability=log_logistic,
        dose_at=log_logistic_dose_at,
        slope_name="gamma50",
        gamma50_from_slope=_gamma50_identity,
        description="logistic in log dose: 1/(1+(D50/D)^(4*gamma50)), P(0)=0",
        reference="Niemierko & Goitein 1991 Radiother Oncol 20:166",
        aliases=("loglogistic",),
    ),
    "probit": CurveFamily(
        name="probit",
        probability=probit,
        dose_at=probit_dose_at,
        slope_name="m",
        gamma50_from_slope=_gamma50_probit,
        description="probit (Lyman): Phi((D-D50)/(m*D50)); gamma50 = 1/(m*sqrt(2*pi))",
        reference="Lyman 1985 Radiat Res 104:S13; Kutcher & Burman 1989 Int J Radiat Oncol "
        "Biol Phys 16:1623",
        aliases=("lkb", "lyman"),
    ),
    "cloglog": CurveFamily(
        name="cloglog",
        probability=cloglog,
        dose_at=cloglog_dose_at,
        slope_name="gamma50",
        gamma50_from_slope=_gamma50_identity,
        description="Weibull / complementary log-log in log dose: "
        "1-exp(-ln2*(D/D50)^k), k=2*gamma50/ln2",
        reference="Weibull dose-response model of quantal bioassay (e.g. US EPA BMDS); "
        "parametrisation derived in docs/theory/curves.md",
        aliases=("weibull",),
    ),
    "poisson": CurveFamily(
        name="poisson",
        probability=poisson,
        dose_at=poisson_dose_at,
        slope_name="gamma50",
        gamma50_from_slope=_gamma50_identity,
        description="Poisson clonogen TCP: exp(-ln2*exp(-alpha*(D-D50))), "
        "alpha=2*gamma50/(D50*ln2)",
        reference="Webb & Nahum 1993 Phys Med Biol 38:653; "
        "Källman, Ågren & Brahme 1992 Int J Radiat Biol 62:249",
        aliases=("poisson-tcp",),
    ),
}

_ALIASES = {alias: fam.name for fam in CURVE_FAMILIES.values() for alias in fam.aliases}


def get_curve_family(name: str) -> CurveFamily:
    """Return the registered curve family called ``name`` (case-insensitive, aliases allowed).

    Parameters
    ----------
    name : str
        ``"logistic"``, ``"log-logistic"``, ``"probit"`` (alias ``"lkb"``), ``"cloglog"``
        (alias ``"weibull"``) or ``"poisson"``.

    Returns
    -------
    CurveFamily
        The registry entry.

    Raises
    ------
    UnknownNameError
        If the name is not registered; the message lists the valid names.

    Notes
    -----
    The registry and its formulas are documented in ``docs/theory/curves.md``.
    """
    return lookup_name(name, CURVE_FAMILIES, "curve family", aliases=_ALIASES)


def dose_at(p: ArrayLike, curve: str, d50: ArrayLike, slope: ArrayLike) -> FloatArray:
    """Dose at which the response probability of a curve family equals ``p``.

    Parameters
    ----------
    p : array_like
        Response probabilities in (0, 1).
    curve : str
        Curve family name or alias (see :func:`list_curve_families`).
    d50 : array_like
        Dose of 50 % response (same unit as the returned dose, e.g. Gy), > 0.
    slope : array_like
        The family's slope parameter: γ50 (dimensionless), or m for ``"probit"``/``"lkb"``.

    Returns
    -------
    numpy.ndarray
        TD_p (or TCD_p) in the unit of ``d50``; broadcast over ``p``, ``d50`` and ``slope``.

    Notes
    -----
    Dispatches to the closed-form inverse of the family (see each ``*_dose_at`` function for its
    formula and reference).

    Examples
    --------
    >>> float(dose_at(0.5, "log-logistic", 45.0, 2.0))
    45.0
    """
    return get_curve_family(curve).dose_at(p, d50, slope)


def list_curve_families() -> pd.DataFrame:
    """Tabulate the registered curve families.

    Returns
    -------
    pandas.DataFrame
        One row per family with columns ``name``, ``slope_name``, ``aliases``, ``description``
        and ``reference``.

    Notes
    -----
    See :data:`CURVE_FAMILIES`; the references are those of each family's function.
    """
    return pd.DataFrame(
        [
            {
                "name": fam.name,
                "slope_name": fam.slope_name,
                "aliases": ", ".join(fam.aliases),
                "description": fam.description,
                "reference": fam.reference,
            }
            for fam in CURVE_FAMILIES.values()
        ]
    )


# --------------------------------------------------------------------------------------------
# DVH-level models
# --------------------------------------------------------------------------------------------


def lkb(
    dose_or_dvh: ArrayLike | DVH,
    td50: ArrayLike,
    m: ArrayLike,
    n: float = 1.0,
    volumes: ArrayLike | None = None,
) -> FloatArray:
    r"""Lyman–Kutcher–Burman NTCP of one organ's dose distribution.

    Parameters
    ----------
    dose_or_dvh : DVH or array_like
        The organ's dose distribution (Gy, or Gy EQD2 / Gy BED): a
        :class:`~doseresponse.radiobiology.eud.DVH`, or doses of bins/voxels (any shape) with
        optional ``volumes``. A scalar is a uniform dose. The whole array is one organ; for
        NTCP of many uniform doses use :func:`probit`.
    td50 : array_like
        Uniform whole-organ dose giving 50 % NTCP (Gy), > 0. Broadcasts with ``m``.
    m : array_like
        Relative width (dimensionless), > 0.
    n : float, default 1.0
        Volume-effect parameter, > 0 (n = 1 mean dose / parallel; n → 0 maximum dose / serial).
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape as the doses), normalised to sum 1.
        Equal weights when omitted.

    Returns
    -------
    numpy.ndarray
        NTCP (0-d for scalar ``td50`` and ``m``).

    Notes
    -----
    :math:`NTCP = \Phi((D_{eff}-TD_{50})/(m\,TD_{50}))` (Lyman 1985, Radiat Res 104:S13; Kutcher
    & Burman 1989, Int J Radiat Oncol Biol Phys 16:1623) with the effective dose
    :math:`D_{eff} = (\sum_i v_i D_i^{1/n})^n`, the gEUD with :math:`a = 1/n` (Burman et al.
    1991, Int J Radiat Oncol Biol Phys 21:123; Niemierko 1999, Med Phys 26:1100).

    Examples
    --------
    >>> round(float(lkb([10.0, 20.0, 30.0], 28.0, 0.18, n=1.0, volumes=[0.3, 0.4, 0.3])), 10)
    0.056222178
    """
    n = check_scalar(n, "n", positive=True)
    d_eff = geud(dose_or_dvh, volumes, a=1.0 / n)
    return probit(d_eff, td50, m)


def poisson_tcp(
    doses_or_beds: ArrayLike | DVH,
    volumes: ArrayLike | None = None,
    *,
    n0: float,
    alpha: float,
) -> float:
    r"""Poisson TCP of one tumour with a non-uniform dose (or BED) distribution.

    Parameters
    ----------
    doses_or_beds : DVH or array_like
        Voxel or bin doses / BEDs (Gy or Gy BED), >= 0, any shape; a scalar is a uniform dose.
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape), normalised to sum 1; equal when omitted.
    n0 : float
        Number of clonogens in the whole tumour (dimensionless), > 0.
    alpha : float
        LQ α (1/Gy), > 0.

    Returns
    -------
    float
        Tumour control probability.

    Notes
    -----
    :math:`TCP = \exp(-N_0\sum_i v_i e^{-\alpha BED_i}) = \exp(-N_0 e^{-\alpha\,EUBED})` (Webb &
    Nahum 1993, Phys Med Biol 38:653). The sum is evaluated in log space,
    :math:`\ln(N_0) + \mathrm{logsumexp}(\ln v_i - \alpha BED_i)`, so that any :math:`N_0`
    (e.g. 10¹⁰) and any BED are safe from overflow and underflow.

    Examples
    --------
    >>> round(poisson_tcp(70.0, n0=1e7, alpha=0.25), 9)
    0.777944639
    """
    n0 = check_scalar(n0, "n0", positive=True)
    alpha = check_scalar(alpha, "alpha", positive=True, unit="1/Gy")
    doses, weights = _dose_distribution(doses_or_beds, volumes, "doses_or_beds")
    with np.errstate(divide="ignore"):
        log_terms = np.log(weights) - alpha * doses
    log_hazard = math.log(n0) + float(special.logsumexp(log_terms))
    return float(np.exp(-np.exp(log_hazard)))


def population_tcp(
    bed: ArrayLike,
    *,
    n0: float,
    alpha_mean: float,
    alpha_sd: float,
    n_nodes: int = 200,
) -> FloatArray:
    r"""Compute population TCP with normally distributed radiosensitivity α (Webb & Nahum 1993).

    Parameters
    ----------
    bed : array_like
        Uniform BED (Gy BED) or dose (Gy), >= 0; each element is a separate tumour / dose level.
    n0 : float
        Number of clonogens per tumour (dimensionless), > 0.
    alpha_mean : float
        Population mean of α (1/Gy), > 0.
    alpha_sd : float
        Population standard deviation of α (1/Gy), >= 0 (0 gives the Poisson TCP).
    n_nodes : int, default 200
        Minimum number of quadrature nodes, >= 20 (raised automatically for steep curves, see
        Notes).

    Returns
    -------
    numpy.ndarray
        Population-averaged TCP, same shape as ``bed``.

    Raises
    ------
    DoseResponseError
        If the normal α distribution puts more than 1e-6 of its mass below 0
        (``alpha_sd/alpha_mean`` above about 0.21): the untruncated model is then not
        physical. Use a smaller spread or model α with a positive distribution (e.g. log-normal,
        or explicitly as a patient-level random effect in a hierarchical model).

    Notes
    -----
    :math:`TCP_{pop}(BED) = \int \exp(-N_0 e^{-\alpha BED})\,\mathcal N(\alpha;\bar\alpha,
    \sigma_\alpha^2)\,\mathrm{d}\alpha` (Webb & Nahum 1993, Phys Med Biol 38:653). The normal is
    *not* truncated; instead the function refuses spreads with
    :math:`P(\alpha<0) = \Phi(-\bar\alpha/\sigma_\alpha) > 10^{-6}`, so the neglected mass is
    below the 1e-6 tolerance of the reference vectors (which use the untruncated normal).

    Quadrature: with :math:`\alpha = \bar\alpha + \sigma_\alpha z`, the integrand
    :math:`\exp(-e^{-u})\varphi(z)`, :math:`u = \alpha BED - \ln N_0`, is a Gumbel step of
    width ~1 in :math:`u`, i.e. of width :math:`1/(\sigma_\alpha BED)` in :math:`z`, which can be
    much narrower than the normal. Gauss–Hermite converges slowly on such steps (200 nodes are
    7e-7 off for TCP-060, and numpy's nodes break down above ~350). The trapezoid rule on
    :math:`z\in[-10, 10]` is spectrally accurate for this analytic, Gaussian-weighted integrand
    (Trefethen & Weideman 2014, SIAM Rev 56:385); its step is
    :math:`h \le \min(20/(n_{nodes}-1),\;0.5/(\sigma_\alpha\,\max BED))`, which agrees with
    adaptive quadrature to ~1e-13 on the reference cases. The mass beyond ±10 SD (1.5e-23) is
    ignored.

    Examples
    --------
    >>> round(float(population_tcp(70.0, n0=1e7, alpha_mean=0.25, alpha_sd=0.05)), 6)
    0.588384
    """
    bed = as_float_array(bed, "bed", nonnegative=True, unit="Gy")
    n0 = check_scalar(n0, "n0", positive=True)
    alpha_mean = check_scalar(alpha_mean, "alpha_mean", positive=True, unit="1/Gy")
    alpha_sd = check_scalar(alpha_sd, "alpha_sd", nonnegative=True, unit="1/Gy")
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 20:
        raise DoseResponseError(f"n_nodes must be an integer >= 20; got {n_nodes!r}.")
    negative_mass = float(special.ndtr(-alpha_mean / alpha_sd)) if alpha_sd > 0 else 0.0
    if negative_mass > NEGATIVE_ALPHA_TOLERANCE:
        raise DoseResponseError(
            f"alpha_sd/alpha_mean = {alpha_sd / alpha_mean:.3g} puts P(alpha < 0) = "
            f"{negative_mass:.2e} > {NEGATIVE_ALPHA_TOLERANCE:g} of the normal radiosensitivity "
            "distribution below zero; use alpha_sd <= 0.2 * alpha_mean, or model alpha with a "
            "positive distribution."
        )
    log_n0 = math.log(n0)
    if alpha_sd == 0.0 or bed.size == 0:
        return np.exp(-np.exp(np.minimum(log_n0 - alpha_mean * bed, 700.0)))
    width = 2.0 * _Z_RANGE
    steepest = alpha_sd * float(np.max(bed))
    n = max(int(n_nodes), math.ceil(width * steepest / 0.5) + 1)
    z = np.linspace(-_Z_RANGE, _Z_RANGE, n)
    weights = np.exp(-0.5 * z * z) * (width / (n - 1) / _SQRT_2PI)
    weights[[0, -1]] *= 0.5
    alphas = alpha_mean + alpha_sd * z
    # inner exponent ln N0 - alpha*BED, capped so exp() cannot overflow (TCP = 0 there)
    log_hazard = np.minimum(log_n0 - alphas * bed[..., None], 700.0)
    return np.exp(-np.exp(log_hazard)) @ weights


def relative_seriality(
    doses: ArrayLike | DVH,
    volumes: ArrayLike | None = None,
    *,
    d50: float,
    gamma: float,
    s: float,
) -> float:
    r"""Relative-seriality NTCP of one organ (Källman, Ågren & Brahme 1992).

    Parameters
    ----------
    doses : DVH or array_like
        Bin or voxel doses (Gy, or Gy EQD2), >= 0, any shape; a scalar is a uniform dose.
    volumes : array_like, optional
        Fractional volumes or mass weights (same shape), normalised to sum 1; equal when omitted.
    d50 : float
        Uniform dose giving 50 % response (Gy), > 0.
    gamma : float
        Källman's slope γ (dimensionless), > 0: the maximum of :math:`D_{50}\,dP/dD`.
    s : float
        Relative seriality (dimensionless), > 0 (1 = serial, → 0 parallel).

    Returns
    -------
    float
        NTCP.

    Notes
    -----
    Voxel response :math:`P(D) = 2^{-\exp(e\gamma(1-D/D_{50}))}` and
    :math:`NTCP = [1-\prod_i(1-P(D_i)^s)^{v_i}]^{1/s}` (Källman, Ågren & Brahme 1992, Int J
    Radiat Biol 62:249). Evaluated in log space: :math:`\ln P^s = -s\ln 2\,
    e^{e\gamma(1-D/D_{50})}`, :math:`\ln\prod = \sum v_i\,\mathrm{log1p}(-P_i^s)`,
    :math:`NTCP = (-\mathrm{expm1}(\ln\prod))^{1/s}`. A uniform dose returns :math:`P(D)`.

    Examples
    --------
    >>> round(relative_seriality([30.0], [1.0], d50=28.0, gamma=1.0, s=0.5), 9)
    0.565060141
    """
    d50 = check_scalar(d50, "d50", positive=True, unit="Gy")
    gamma = check_scalar(gamma, "gamma", positive=True)
    s = check_scalar(s, "s", positive=True)
    doses, weights = _dose_distribution(doses, volumes, "doses")
    with np.errstate(over="ignore"):
        log_p_s = -s * _LN2 * np.exp(math.e * gamma * (1.0 - doses / d50))
    with np.errstate(divide="ignore"):
        log_product = float(np.sum(weights * np.log1p(-np.exp(log_p_s))))
    if log_product == -math.inf:
        return 1.0
    return float((-math.expm1(log_product)) ** (1.0 / s))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def log_pair(
    curve: str, dose: ArrayLike, d50: ArrayLike, slope: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""Stable :math:`(\ln P, \ln(1-P))` of a family: the likelihood terms of every fit.

    Parameters
    ----------
    curve : str
        Family name or alias (see :data:`CURVE_FAMILIES`).
    dose, d50 : array_like
        Dose and D50 in the dose metric's unit (Gy); broadcast. No validation (callers pass
        model quantities).
    slope : array_like
        Slope parameter (γ50, or m for probit); broadcast.

    Returns
    -------
    log_p, log_q : numpy.ndarray
        Broadcast shape.

    Notes
    -----
    Evaluates the compiled family of ``doseresponse.models._curve_kernel`` (the formulas and
    sources are there), so the log-likelihood of checks and LOO is the sampler's to rounding.
    """
    family = get_curve_family(curve).name
    return _kernel_log_pair(
        family,
        np.asarray(dose, dtype=np.float64),
        np.asarray(d50, dtype=np.float64),
        np.asarray(slope, dtype=np.float64),
    )


def _kernel_log_pair(
    family: str, dose: FloatArray, d50: FloatArray, slope: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``(ln P, ln Q)`` from the compiled family code, broadcast over the three arrays."""
    from doseresponse.models._curve_kernel import FAMILY_CODES, log_pair_vector

    shape = np.broadcast_shapes(dose.shape, d50.shape, slope.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = [
            np.ascontiguousarray(np.broadcast_to(v, shape), dtype=np.float64).ravel()
            for v in (dose, np.log(d50), np.log(slope))
        ]
    pairs = log_pair_vector(FAMILY_CODES[family], *flat)
    return pairs[0].reshape(shape), pairs[1].reshape(shape)


def _kernel_probability(
    family: str, dose: FloatArray, d50: FloatArray, slope: FloatArray
) -> FloatArray:
    """Response probability of a family from its compiled log pair (validated inputs)."""
    log_p, _ = _kernel_log_pair(family, dose, d50, slope)
    return np.exp(log_p)


def _curve_args(
    dose: ArrayLike, d50: ArrayLike, slope: ArrayLike, slope_name: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    dose = as_float_array(dose, "dose", nonnegative=True, unit="Gy")
    d50 = as_float_array(d50, "d50", positive=True, unit="Gy")
    slope = as_float_array(slope, slope_name, positive=True)
    return _broadcast(dose, d50, slope, ("dose", "d50", slope_name))


def _inverse_args(
    p: ArrayLike, d50: ArrayLike, slope: ArrayLike, slope_name: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    p = check_probability(p, "p")
    d50 = as_float_array(d50, "d50", positive=True, unit="Gy")
    slope = as_float_array(slope, slope_name, positive=True)
    return _broadcast(p, d50, slope, ("p", "d50", slope_name))


def _broadcast(
    a: FloatArray, b: FloatArray, c: FloatArray, names: tuple[str, str, str]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    try:
        np.broadcast_shapes(a.shape, b.shape, c.shape)
    except ValueError:
        raise DoseResponseError(
            f"{names[0]}, {names[1]} and {names[2]} must broadcast together; got shapes "
            f"{a.shape}, {b.shape} and {c.shape}."
        ) from None
    return a, b, c


def _nonnegative_dose(dose: FloatArray, p: FloatArray, family: str) -> FloatArray:
    bad = dose < 0
    if np.any(bad):
        p_bad = np.broadcast_to(p, dose.shape)[bad].flat[0]
        raise DoseResponseError(
            f"p = {p_bad:g} is below the {family} curve's response at zero dose, so no dose >= 0 "
            "reaches it; ask for a larger p (this family has P(0) > 0)."
        )
    return dose
