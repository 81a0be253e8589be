r"""PyTensor twins of the numpy curve families, for use inside PyMC models.

Every family registered in :data:`doseresponse.models.curves.CURVE_FAMILIES` has a twin here under
the same name (aliases such as ``"lkb"`` and ``"weibull"`` resolve the same way). The primitive of
each twin is the pair :math:`(\ln P, \ln(1-P))`, written in log space so that the likelihood
stays finite and smooth far out in the tails (a Bernoulli row with :math:`P = 10^{-20}` must not
become :math:`\ln 0`). :func:`tensor_probability` and :func:`tensor_logit` are built from it.

Arguments are pytensor tensors (or numbers): ``dose`` and ``d50`` in the unit of the dose metric
(Gy, Gy BED, Gy EQD2), ``slope`` the family's slope parameter (``gamma50``, or ``m`` for probit).
Broadcasting follows numpy.

Notes
-----
Stable forms used (:math:`x` the linear predictor of each family):

* logistic / log-logistic: :math:`\ln P = -\operatorname{softplus}(-x)`,
  :math:`\ln(1-P) = \ln P - x`;
* probit: :math:`\ln\Phi(z) = \ln(\operatorname{erfcx}(-z/\sqrt2)/2) - z^2/2` for
  :math:`z < -1` (no underflow in the lower tail), :math:`\ln(1 - \operatorname{erfc}(z/\sqrt2)/2)`
  otherwise; agrees with ``scipy.special.log_ndtr`` to ~1e-13 (PyMC's ``normal_lcdf`` rounds
  :math:`\sqrt2` to float32 and is off by ~1e-8 relative);
* cloglog: :math:`\ln(1-P) = -H`, :math:`\ln P = \ln(1 - e^{-H})` with ``log1mexp``,
  :math:`H = \ln 2\,(D/D_{50})^k`;
* Poisson TCP: :math:`\ln P = -H`, :math:`\ln(1-P) = \ln(1-e^{-H})`,
  :math:`H = \ln 2\,\exp(-k(D/D_{50}-1))`.

Machler M (2012) "Accurately computing ``log(1 - exp(-|a|))``", Rmpfr vignette, for ``log1mexp``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytensor.tensor as pt

from doseresponse.models.curves import get_curve_family

__all__ = [
    "TENSOR_CURVES",
    "tensor_log_probabilities",
    "tensor_logit",
    "tensor_probability",
]

_LN2 = math.log(2.0)
_LOG_LN2 = math.log(_LN2)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
# Smallest dose used inside a logarithm: keeps log(0) and its gradient finite (P(0) stays 0 to
# double precision for every realistic slope).
_TINY_DOSE = 1e-300

TensorPair = tuple[pt.TensorVariable, pt.TensorVariable]
LogPairFunction = Callable[..., TensorPair]


def _log_dose_ratio(dose, d50):
    return pt.log(pt.maximum(dose, _TINY_DOSE)) - pt.log(d50)


def _logit_pair(x) -> TensorPair:
    # log P = -softplus(-x) and log(1 - P) = log P - x: one softplus per row (the absolute
    # error of log(1 - P) stays below one ulp of x)
    log_p = -pt.softplus(-x)
    return log_p, log_p - x


def _logistic(dose, d50, gamma50) -> TensorPair:
    return _logit_pair(4.0 * gamma50 * (dose / d50 - 1.0))


def _log_logistic(dose, d50, gamma50) -> TensorPair:
    return _logit_pair(4.0 * gamma50 * _log_dose_ratio(dose, d50))


def _log_normal_cdf(z):
    # erfcx branch for the lower tail (no underflow), log1p(-erfc/2) elsewhere
    lower = pt.log(pt.erfcx(-z * _INV_SQRT2) / 2.0) - pt.sqr(z) / 2.0
    upper = pt.log1p(-pt.erfc(z * _INV_SQRT2) / 2.0)
    return pt.switch(z < -1.0, lower, upper)


def _probit(dose, d50, m) -> TensorPair:
    z = (dose - d50) / (m * d50)
    return _log_normal_cdf(z), _log_normal_cdf(-z)


def _cloglog(dose, d50, gamma50) -> TensorPair:
    k = 2.0 * gamma50 / _LN2
    hazard = pt.exp(_LOG_LN2 + k * _log_dose_ratio(dose, d50))
    return pt.log1mexp(-hazard), -hazard


def _poisson(dose, d50, gamma50) -> TensorPair:
    k = 2.0 * gamma50 / _LN2
    hazard = pt.exp(_LOG_LN2 - k * (dose / d50 - 1.0))
    return -hazard, pt.log1mexp(-hazard)


TENSOR_CURVES: dict[str, LogPairFunction] = {
    "logistic": _logistic,
    "log-logistic": _log_logistic,
    "probit": _probit,
    "cloglog": _cloglog,
    "poisson": _poisson,
}
"""Registry of pytensor twins: name → ``f(dose, d50, slope) -> (log P, log(1 - P))``."""


def tensor_log_probabilities(name: str) -> LogPairFunction:
    r"""Return ``f(dose, d50, slope) -> (log P, log(1 - P))`` for a curve family.

    Parameters
    ----------
    name : str
        A family name or alias of :data:`~doseresponse.models.curves.CURVE_FAMILIES`
        (case-insensitive), e.g. ``"logistic"``, ``"lkb"``.

    Returns
    -------
    callable
        Function of pytensor tensors: dose and D50 in the dose-metric unit (Gy), slope the
        family's slope parameter; returns two tensors broadcast over the inputs.

    Raises
    ------
    UnknownNameError
        ``name`` is not a registered family; the message lists the valid names.
    """
    return TENSOR_CURVES[get_curve_family(name).name]


def tensor_probability(name: str) -> Callable[..., pt.TensorVariable]:
    """Return ``f(dose, d50, slope) -> P`` as a pytensor expression.

    Parameters
    ----------
    name : str
        Family name or alias (see :func:`tensor_log_probabilities`).

    Returns
    -------
    callable
        ``P = exp(log P)`` computed from the stable log form.
    """
    log_pair = tensor_log_probabilities(name)

    def probability(dose, d50, slope):
        return pt.exp(log_pair(dose, d50, slope)[0])

    return probability


def tensor_logit(name: str) -> Callable[..., pt.TensorVariable]:
    r"""Return ``f(dose, d50, slope) -> logit P = log P - log(1 - P)`` (stable).

    Parameters
    ----------
    name : str
        Family name or alias (see :func:`tensor_log_probabilities`).

    Returns
    -------
    callable
        The log-odds, suitable for ``pm.Bernoulli(logit_p=...)`` and
        ``pm.Binomial(logit_p=...)``.
    """
    log_pair = tensor_log_probabilities(name)

    def logit(dose, d50, slope):
        log_p, log_q = log_pair(dose, d50, slope)
        return log_p - log_q

    return logit
