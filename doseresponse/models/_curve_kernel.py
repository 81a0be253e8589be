r"""The curve families, written once: stable :math:`(\ln P, \ln(1-P))` and their derivatives.

Every family is a function of :math:`D/D_{50}` and a slope; here it is written in terms of
:math:`\eta = \ln D_{50}` and :math:`\lambda = \ln\text{slope}` (the parameters the hierarchical
model samples). :func:`pair` (compiled, scalar) returns

.. math::

    \ln P,\ \ln(1-P),\ \partial_\eta \ln P,\ \partial_\eta \ln(1-P),\
    \partial_\lambda \ln P,\ \partial_\lambda \ln(1-P).

It is the **one implementation** of each family on the fast path: the log-density kernel
(:mod:`doseresponse.models._row_kernels`, called by nutpie), the curve functions of
:mod:`doseresponse.models.curves` (and so fitted curves, tolerance doses, plots, prior
predictive curves and the ML fits), and the pointwise log-likelihood of
:mod:`doseresponse.models.checks` all evaluate it, through :func:`log_pair_vector` and
:func:`log_pair_gradient_vector`. The PyMC graph's PyTensor twins
(:mod:`doseresponse.models.tensor_curves`) stay as the independent autodiff oracle in tests.

Units: ``dose`` and :math:`D_{50}` in the dose metric's unit (Gy, Gy BED, Gy EQD2); the slope is
:math:`\gamma_{50}` (dimensionless) or, for probit, the LKB :math:`m` (dimensionless). Doses
below 1e-300 are evaluated at 1e-300 (the families that vanish at zero dose give 0 there to
double precision for every realistic slope), as in the PyMC twin.

Compiled once per machine: ``cache=True`` keeps the machine code in numba's cache (beside this
file when writable, else ``NUMBA_CACHE_DIR``); nothing is compiled at import.

Notes
-----
Derivatives (with :math:`r = D/D_{50}`, :math:`g = e^\lambda`):

* logistic, :math:`x = 4g(r - 1)`: :math:`\partial_x \ln P = 1 - P`,
  :math:`\partial_x \ln(1-P) = -P`, :math:`\partial_\eta x = -4gr`, :math:`\partial_\lambda x = x`
  (Niemierko A 1999 Int J Radiat Oncol Biol Phys 44:227, for the γ50 form; Bentzen SM, Tucker SL
  1997 Int J Radiat Biol 71:531);
* log-logistic, :math:`x = 4g(\ln D - \eta)`: as logistic with :math:`\partial_\eta x = -4g`;
* probit (LKB), :math:`z = (r - 1)/m`: :math:`\partial_z \ln\Phi(z) = \phi(z)/\Phi(z)` (the
  inverse Mills ratio), :math:`\partial_\eta z = -r/m`, :math:`\partial_\lambda z = -z`
  (Lyman JT 1985 Radiat Res 104:S13; Kutcher GJ, Burman C 1989 Int J Radiat Oncol Biol Phys
  16:1623);
* cloglog, :math:`H = \ln 2\, e^{L}`, :math:`L = k(\ln D - \eta)`, :math:`k = 2g/\ln 2`,
  :math:`\ln(1-P) = -H`: :math:`\partial_H \ln P = 1/\operatorname{expm1}(H)`,
  :math:`\partial_\eta H = -kH`, :math:`\partial_\lambda H = HL`;
* Poisson TCP, :math:`H = \ln 2\, e^{L}`, :math:`L = -k(r - 1)`, :math:`\ln P = -H`:
  :math:`\partial_\eta H = kHr`, :math:`\partial_\lambda H = HL`
  (Munro TR, Gilbert CW 1961 Br J Radiol 34:246; Brahme A 1984 Acta Radiol Oncol 23:379).

The factor :math:`H/\operatorname{expm1}(H)` is evaluated as :math:`1 - H/2` for
:math:`H < 10^{-8}` and as 0 for :math:`H > 700`. :math:`\ln\Phi(z)` uses
:math:`\ln(1 - \tfrac12\operatorname{erfc}(z/\sqrt2))` for :math:`z > -1`,
:math:`\ln(\tfrac12\operatorname{erfc}(-z/\sqrt2))` for :math:`-37 < z \le -1` and the
asymptotic series
:math:`-z^2/2 - \ln(-z) - \tfrac12\ln 2\pi + \ln(1 - z^{-2} + 3z^{-4} - 15z^{-6} + 105z^{-8})`
below (Abramowitz M, Stegun IA 1964 *Handbook of Mathematical Functions*, 26.2.12), where the
next term is below 1e-14 relative.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "FAMILY_CODES",
    "add_background",
    "log_pair_gradient_vector",
    "log_pair_vector",
    "mixture_probability",
    "mixture_probability_rows",
    "pair",
]

FAMILY_CODES = {"logistic": 0, "log-logistic": 1, "probit": 2, "cloglog": 3, "poisson": 4}
"""Integer code of each curve family inside the compiled code."""

_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_TINY_DOSE = 1e-300

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
# helpers only called from compiled code need no Python entry point (saves compile time)
_helper = numba.njit(cache=True, nogil=True, error_model="numpy", no_cpython_wrapper=True)


@_helper
def _log_ndtr(z):
    if z > -1.0:
        return math.log1p(-0.5 * math.erfc(z * _INV_SQRT2))
    if z > -37.0:
        return math.log(0.5 * math.erfc(-z * _INV_SQRT2))
    w = 1.0 / (z * z)
    series = 1.0 - w + 3.0 * w * w - 15.0 * w * w * w + 105.0 * w * w * w * w
    return -0.5 * z * z - math.log(-z) - _LOG_SQRT_2PI + math.log(series)


@_helper
def _h_over_expm1(hazard):
    if hazard < 1e-8:
        return 1.0 - 0.5 * hazard
    if hazard > 700.0:
        return 0.0  # h / (e^h - 1) underflows; also avoids inf / inf
    return hazard / math.expm1(hazard)


@_helper
def _logistic_from_x(x, dx_deta):
    # one exp and one log1p: log P = -log1p(e^-x), P = 1/(1 + e^-x) (and the mirror for x < 0)
    if x >= 0.0:
        e = math.exp(-x)
        log_p = -math.log1p(e)
        log_q = log_p - x
        p = 1.0 / (1.0 + e)
        q = e * p
    else:
        e = math.exp(x)
        log_q = -math.log1p(e)
        log_p = log_q + x
        q = 1.0 / (1.0 + e)
        p = e * q
    return log_p, log_q, q * dx_deta, -p * dx_deta, q * x, -p * x


@_jit  # with a Python entry point: the closed-form tests call it directly
def add_background(log_p, log_q, dp_eta, dp_lam, log_b, log_1mb):
    r"""Background-mixed log pair: :math:`P = b + (1-b)F` from the pair of the curve :math:`F`.

    ``log_p``, ``log_q`` are :math:`\ln F`, :math:`\ln(1-F)`; ``dp_eta``, ``dp_lam`` their
    :math:`\partial \ln F` (:math:`\partial \ln(1-F)` is unchanged, since
    :math:`\ln Q = \ln(1-b) + \ln(1-F)`); ``log_b`` and ``log_1mb`` are :math:`\ln b`,
    :math:`\ln(1-b)`. Returns :math:`(\ln P, \ln Q, \partial_\eta \ln P,
    \partial_\lambda \ln P, \partial_\theta \ln P, \partial_\theta \ln Q)` with
    :math:`\theta = \operatorname{logit} b`: :math:`\partial \ln P = w\,\partial \ln F`,
    :math:`w = (1-b)F/P`; :math:`\partial_\theta \ln P = b(1-b)(1-F)/P`,
    :math:`\partial_\theta \ln Q = -b` (Abbott WS 1925 J Econ Entomol 18:265 for the
    background model).
    """
    a = log_1mb + log_p
    top = max(log_b, a)
    if top == -math.inf:
        return -math.inf, log_1mb + log_q, 0.0, 0.0, 0.0, -math.exp(log_b)
    log_total = top + math.log(math.exp(log_b - top) + math.exp(a - top))
    w = math.exp(a - log_total)
    d_theta_p = math.exp(log_b + log_1mb + log_q - log_total)
    return log_total, log_1mb + log_q, w * dp_eta, w * dp_lam, d_theta_p, -math.exp(log_b)


@_helper
def pair(family, dose, log_dose, eta, inv_d50, slope):
    """(ln P, ln Q, ∂η ln P, ∂η ln Q, ∂λ ln P, ∂λ ln Q) of one dose.

    ``log_dose`` = ln max(dose, 1e-300), ``eta`` = ln D50, ``inv_d50`` = 1/D50 and ``slope`` =
    e^λ are passed precomputed (they are shared by many rows).
    """
    if family == 0:
        gamma4 = 4.0 * slope
        ratio = dose * inv_d50
        return _logistic_from_x(gamma4 * (ratio - 1.0), -gamma4 * ratio)
    if family == 1:
        gamma4 = 4.0 * slope
        return _logistic_from_x(gamma4 * (log_dose - eta), -gamma4)
    if family == 2:
        inv_m = 1.0 / slope
        ratio = dose * inv_d50
        z = (ratio - 1.0) * inv_m
        log_p = _log_ndtr(z)
        log_q = _log_ndtr(-z)
        log_phi = -0.5 * z * z - _LOG_SQRT_2PI
        mills_p = math.exp(log_phi - log_p)
        mills_q = math.exp(log_phi - log_q)
        dz = -ratio * inv_m
        return log_p, log_q, mills_p * dz, -mills_q * dz, -mills_p * z, mills_q * z
    k = (2.0 / _LN2) * slope
    if family == 3:
        exponent = k * (log_dose - eta)
        hazard = _LN2 * math.exp(exponent)
        ratio = _h_over_expm1(hazard)
        log_p = math.log(-math.expm1(-hazard)) if hazard > 0.0 else -math.inf
        return log_p, -hazard, -k * ratio, k * hazard, exponent * ratio, -hazard * exponent
    dose_ratio = dose * inv_d50
    exponent = -k * (dose_ratio - 1.0)
    hazard = _LN2 * math.exp(exponent)
    ratio = _h_over_expm1(hazard)
    log_q = math.log(-math.expm1(-hazard)) if hazard > 0.0 else -math.inf
    return (
        -hazard, log_q, -hazard * k * dose_ratio, k * dose_ratio * ratio,
        -hazard * exponent, exponent * ratio,
    )


@_jit
def log_pair_gradient_vector(family, dose, eta, lam):
    """:func:`pair` over equal-length 1-D arrays of dose, η and λ; returns shape ``(6, n)``."""
    out = np.empty((6, dose.size))
    for i in range(dose.size):
        log_dose = math.log(max(dose[i], _TINY_DOSE))
        values = pair(family, dose[i], log_dose, eta[i], math.exp(-eta[i]), math.exp(lam[i]))
        for j in range(6):
            out[j, i] = values[j]
    return out


@_jit
def log_pair_vector(family, dose, eta, lam):
    """(ln P, ln(1 − P)) of :func:`pair` over equal-length 1-D arrays; shape ``(2, n)``."""
    out = np.empty((2, dose.size))
    for i in range(dose.size):
        log_dose = math.log(max(dose[i], _TINY_DOSE))
        values = pair(family, dose[i], log_dose, eta[i], math.exp(-eta[i]), math.exp(lam[i]))
        out[0, i] = values[0]
        out[1, i] = values[1]
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def mixture_probability(family, dose, log_d50, log_slope, weights):
    """Σ_k w_k P(dose; e^{η_ik}, e^{λ_ik}) for every draw i and dose; shape ``(n_draws, n_dose)``.

    ``log_d50`` and ``log_slope`` have shape ``(n_draws, K)`` (K quadrature nodes of a random
    effect, or K = 1), ``weights`` shape ``(K,)``; no ``(n_draws, K, n_dose)`` temporary.
    """
    n, k = log_d50.shape
    out = np.zeros((n, dose.size))
    log_dose = np.empty(dose.size)
    for d in range(dose.size):
        log_dose[d] = math.log(max(dose[d], _TINY_DOSE))
    for i in numba.prange(n):  # draws are independent: rows in parallel threads
        for j in range(k):
            eta = log_d50[i, j]
            inv_d50 = math.exp(-eta)
            slope = math.exp(log_slope[i, j])
            w = weights[j]
            for d in range(dose.size):
                values = pair(family, dose[d], log_dose[d], eta, inv_d50, slope)
                out[i, d] += w * math.exp(values[0])
    return out


@_jit
def mixture_probability_rows(family, dose, log_d50, log_slope, weights):
    """As :func:`mixture_probability` with one dose per draw (``dose`` shape ``(n_draws,)``)."""
    n, k = log_d50.shape
    out = np.zeros(n)
    for i in range(n):
        log_dose = math.log(max(dose[i], _TINY_DOSE))
        for j in range(k):
            eta = log_d50[i, j]
            values = pair(family, dose[i], log_dose, eta, math.exp(-eta),
                          math.exp(log_slope[i, j]))
            out[i] += weights[j] * math.exp(values[0])
    return out
