r"""Compiled (numba) likelihood kernels: per-row log-likelihood and its (η, λ) derivatives.

These are the fast twins of :mod:`doseresponse.models.curve_gradients` and of the numpy row
likelihoods of :mod:`doseresponse.models.density` (which stay the reference: the tests compare
the two to 1e-12). One loop per call computes the log-likelihood of every row and accumulates
its derivatives straight into per-study and per-covariate gradients, with two or three
transcendental functions per row instead of numpy's many temporary arrays.

Compiled once per machine: ``cache=True`` stores the machine code in numba's cache (beside this
file when writable, else ``NUMBA_CACHE_DIR`` or the user cache directory).

Notes
-----
The formulas and their sources are those of :mod:`doseresponse.models.curve_gradients`.
:math:`\ln\Phi(z)` uses :math:`\ln(1 - \tfrac12\operatorname{erfc}(z/\sqrt2))` for
:math:`z > -1`, :math:`\ln(\tfrac12\operatorname{erfc}(-z/\sqrt2))` for :math:`-37 < z \le -1`
and the asymptotic series
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
    "LAYOUT_FIELDS",
    "binomial_rows",
    "log_pair_gradient_vector",
    "log_posterior",
]

FAMILY_CODES = {"logistic": 0, "log-logistic": 1, "probit": 2, "cloglog": 3, "poisson": 4}
"""Integer code of each curve family inside the kernels."""

_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_LOG_HALF_NORMAL = 0.5 * math.log(2.0 / math.pi)
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


@_helper
def _pair(family, dose, log_dose, eta, inv_d50, slope):
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
    """:func:`_pair` over equal-length 1-D arrays of dose, η and λ; returns ``(6, n)``."""
    out = np.empty((6, dose.size))
    for i in range(dose.size):
        log_dose = math.log(max(dose[i], _TINY_DOSE))
        values = _pair(family, dose[i], log_dose, eta[i], math.exp(-eta[i]), math.exp(lam[i]))
        for j in range(6):
            out[j, i] = values[j]
    return out


@_helper
def _group_parameters(group_study, group_x, eta_s, lam_s, beta):
    """η, 1/D50 and slope of each (study, covariate pattern) group."""
    n_group = group_study.size
    eta = np.empty(n_group)
    inv_d50 = np.empty(n_group)
    slope = np.empty(n_group)
    for g in range(n_group):
        s = group_study[g]
        value = eta_s[s]
        for c in range(beta.size):
            value += group_x[g, c] * beta[c]
        eta[g] = value
        inv_d50[g] = math.exp(-value)
        slope[g] = math.exp(lam_s[s])
    return eta, inv_d50, slope


@_helper
def _scatter_groups(group_study, group_x, g_eta_g, g_lam_g, g_eta_s, g_lam_s, g_beta):
    """Add group gradients into the per-study and per-covariate gradients."""
    for g in range(group_study.size):
        s = group_study[g]
        g_eta_s[s] += g_eta_g[g]
        g_lam_s[s] += g_lam_g[g]
        for c in range(g_beta.size):
            g_beta[c] += g_eta_g[g] * group_x[g, c]


@_helper
def binomial_rows(
    family, nodes, log_nodes, log_w, events, rest, group, group_study, group_x, eta_s, lam_s,
    beta, g_eta_s, g_lam_s, g_beta, shift, g_row,
):
    """Binomial log-likelihood (without log C(n, k)) of rows integrated over their dose nodes.

    Patient rows are the case of one node (the dose), ``events`` the 0/1 outcome and ``rest``
    = 1 − outcome; aggregate bins have K Gauss–Hermite nodes (``nodes``, ``log_nodes`` of shape
    ``(n_rows, K)``, ``log_w`` the K log weights). Rows share D50 and slope within a group
    (``group``; the groups' study codes and covariate values are ``group_study`` and
    ``group_x``), so those are exponentiated once per group. Row log D50 =
    ``eta_s[study] + x @ beta``; ``lam_s`` is the per-study log slope. Adds the gradient into
    the ``g_*`` arrays and returns the summed log-likelihood.

    One-node rows may be given a latent log-dose ``shift`` (true = observed · e^shift; empty
    array: none), which every family sees as log D50 − shift; ``g_row`` (empty: not wanted)
    receives each row's ∂ log-likelihood / ∂ log D50.
    """
    eta, inv_d50, slope = _group_parameters(group_study, group_x, eta_s, lam_s, beta)
    n_rows, n_nodes = nodes.shape
    g_eta_g = np.zeros(eta.size)
    g_lam_g = np.zeros(eta.size)
    terms = np.empty((6, n_nodes))
    total = 0.0
    for j in range(n_rows):
        g = group[j]
        if n_nodes == 1:  # a point dose: no quadrature
            row_eta, row_inv = eta[g], inv_d50[g]
            if shift.size > 0 and shift[j] != 0.0:
                row_eta -= shift[j]
                row_inv *= math.exp(shift[j])
            log_p, log_q, dp_eta, dq_eta, dp_lam, dq_lam = _pair(
                family, nodes[j, 0], log_nodes[j, 0], row_eta, row_inv, slope[g]
            )
            d_eta = 0.0
            if events[j] > 0.0:
                total += events[j] * log_p
                d_eta += events[j] * dp_eta
                g_lam_g[g] += events[j] * dp_lam
            if rest[j] > 0.0:
                total += rest[j] * log_q
                d_eta += rest[j] * dq_eta
                g_lam_g[g] += rest[j] * dq_lam
            g_eta_g[g] += d_eta
            if g_row.size > 0:
                g_row[j] = d_eta
            continue
        top_p = -math.inf
        top_q = -math.inf
        for k in range(n_nodes):
            values = _pair(family, nodes[j, k], log_nodes[j, k], eta[g], inv_d50[g], slope[g])
            for m in range(6):
                terms[m, k] = values[m]
            terms[0, k] += log_w[k]
            terms[1, k] += log_w[k]
            top_p = max(top_p, terms[0, k])
            top_q = max(top_q, terms[1, k])
        if events[j] > 0.0:
            log_bin, d_eta, d_lam = _softmax_mean(terms, 0, 2, 4, top_p)
            total += events[j] * log_bin
            g_eta_g[g] += events[j] * d_eta
            g_lam_g[g] += events[j] * d_lam
        if rest[j] > 0.0:
            log_bin, d_eta, d_lam = _softmax_mean(terms, 1, 3, 5, top_q)
            total += rest[j] * log_bin
            g_eta_g[g] += rest[j] * d_eta
            g_lam_g[g] += rest[j] * d_lam
    _scatter_groups(group_study, group_x, g_eta_g, g_lam_g, g_eta_s, g_lam_s, g_beta)
    return total


@_helper
def _softmax_mean(terms, row, row_eta, row_lam, top):
    """Log Σ_k exp(terms[row, k]) and the softmax-weighted means of two derivative rows."""
    if top == -math.inf:
        return -math.inf, 0.0, 0.0
    total = 0.0
    d_eta = 0.0
    d_lam = 0.0
    for k in range(terms.shape[1]):
        weight = math.exp(terms[row, k] - top)
        total += weight
        if weight > 0.0:
            d_eta += weight * terms[row_eta, k]
            d_lam += weight * terms[row_lam, k]
    return math.log(total) + top, d_eta / total, d_lam / total


LAYOUT_FIELDS = (
    "pooling", "n_study", "n_cov", "log_d50", "log_slope", "tau_log__", "z_d50",
    "tau_slope_log__", "z_slope", "log_d50_study", "log_slope_study", "log_factor", "family",
    "exposure_log_median", "exposure_sd_log__", "dose_error_z",
)
"""Fields of the integer ``layout`` vector of :func:`log_posterior`: pooling code (0 complete,
1 partial, 2 none), sizes, the start of each parameter block in the unconstrained vector (−1 if
absent), and the family code (:data:`FAMILY_CODES`)."""

KERNEL_ARRAYS = (
    ("layout", "i8", 1), ("normal_index", "i8", 1), ("normal_mu", "f8", 1),
    ("normal_inv_sd", "f8", 1), ("half_index", "i8", 1), ("half_sigma", "f8", 1),
    ("constants", "f8", 1), ("ipd_dose", "f8", 2), ("ipd_log_dose", "f8", 2),
    ("ipd_event", "f8", 1), ("ipd_rest", "f8", 1), ("ipd_group", "i8", 1),
    ("ipd_group_study", "i8", 1), ("ipd_group_x", "f8", 2), ("agg_nodes", "f8", 2),
    ("agg_log_nodes", "f8", 2), ("agg_log_w", "f8", 1), ("agg_events", "f8", 1),
    ("agg_rest", "f8", 1), ("agg_group", "i8", 1), ("agg_study", "i8", 1), ("agg_x", "f8", 2),
    ("me_index", "i8", 1), ("me_sigma", "f8", 1), ("me_study", "i8", 1), ("me_log_obs", "f8", 1),
)
"""Name, dtype and rank of each data argument of :func:`log_posterior` after ``x``, in order."""


@_helper
def log_posterior(
    x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
    ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study, ipd_group_x,
    agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group, agg_study, agg_x,
    me_index, me_sigma, me_study, me_log_obs,
):
    """Log posterior and gradient of the hierarchical model in one compiled call.

    Same density as :meth:`doseresponse.models.density.LogDensity.logp_and_grad` with
    ``backend="numpy"`` (normal priors of the ``normal_index`` coordinates, half-normal scales
    sampled on the log scale at ``half_index`` with their log-Jacobian, Bernoulli patient rows,
    Binomial aggregate rows). ``layout`` is described by :data:`LAYOUT_FIELDS`; ``constants``
    holds the normal priors' normalising constant and the aggregate rows' Σ log C(n, k).
    """
    family = layout[12]
    normal_const, agg_constant = constants[0], constants[1]
    n_study, n_cov = layout[1], layout[2]
    grad = np.zeros(x.size)
    total = normal_const
    for i in range(normal_index.size):
        j = normal_index[i]
        scaled = (x[j] - normal_mu[i]) * normal_inv_sd[i]
        total -= 0.5 * scaled * scaled
        grad[j] = -scaled * normal_inv_sd[i]
    for i in range(half_index.size):
        j = half_index[i]
        ratio = math.exp(x[j]) / half_sigma[i]
        total += _LOG_HALF_NORMAL - math.log(half_sigma[i]) - 0.5 * ratio * ratio + x[j]
        grad[j] += 1.0 - ratio * ratio
    eta_s = np.empty(n_study)
    lam_s = np.empty(n_study)
    tau = 0.0
    tau_slope = 0.0
    for s in range(n_study):
        if layout[0] == 2:
            eta_s[s] = x[layout[9] + s]
            lam_s[s] = x[layout[10] + s]
        else:
            eta_s[s] = x[layout[3]]
            lam_s[s] = x[layout[4]]
            if layout[0] == 1:
                tau = math.exp(x[layout[5]])
                eta_s[s] += tau * x[layout[6] + s]
                if layout[7] >= 0:
                    tau_slope = math.exp(x[layout[7]])
                    lam_s[s] += tau_slope * x[layout[8] + s]
    beta = x[layout[11]:layout[11] + n_cov] if n_cov > 0 else np.zeros(0)
    g_eta_s = np.zeros(n_study)
    g_lam_s = np.zeros(n_study)
    g_beta = np.zeros(n_cov)
    n_me = me_index.size
    shift = np.zeros(ipd_dose.shape[0] if n_me > 0 else 0)
    g_row = np.zeros(shift.size)
    for m in range(n_me):  # latent true log dose = observed + sigma * e
        shift[me_index[m]] = me_sigma[m] * x[layout[15] + m]
    if ipd_dose.shape[0] > 0:
        total += binomial_rows(
            family, ipd_dose, ipd_log_dose, np.zeros(1), ipd_event, ipd_rest, ipd_group,
            ipd_group_study, ipd_group_x, eta_s, lam_s, beta, g_eta_s, g_lam_s, g_beta,
            shift, g_row,
        )
    if agg_nodes.shape[0] > 0:
        total += agg_constant + binomial_rows(
            family, agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group,
            agg_study, agg_x, eta_s, lam_s, beta, g_eta_s, g_lam_s, g_beta,
            np.zeros(0), np.zeros(0),
        )
    for m in range(n_me):  # exposure density N(u; mu_s, omega_s) of the latent log doses
        s = me_study[m]
        omega = math.exp(x[layout[14] + s])
        scaled = (me_log_obs[m] + shift[me_index[m]] - x[layout[13] + s]) / omega
        total += -0.5 * scaled * scaled - math.log(omega) - _LOG_SQRT_2PI
        # d/du: exposure -scaled/omega, likelihood -d/d(log D50)
        grad[layout[15] + m] += me_sigma[m] * (-scaled / omega - g_row[me_index[m]])
        grad[layout[13] + s] += scaled / omega
        grad[layout[14] + s] += scaled * scaled - 1.0
    for s in range(n_study):
        if layout[0] == 2:
            grad[layout[9] + s] += g_eta_s[s]
            grad[layout[10] + s] += g_lam_s[s]
        else:
            grad[layout[3]] += g_eta_s[s]
            grad[layout[4]] += g_lam_s[s]
            if layout[0] == 1:
                grad[layout[6] + s] += tau * g_eta_s[s]
                grad[layout[5]] += tau * x[layout[6] + s] * g_eta_s[s]
                if layout[7] >= 0:
                    grad[layout[8] + s] += tau_slope * g_lam_s[s]
                    grad[layout[7]] += tau_slope * x[layout[8] + s] * g_lam_s[s]
    for c in range(n_cov):
        grad[layout[11] + c] += g_beta[c]
    if not math.isfinite(total):
        return -math.inf, np.zeros(x.size)
    return total, grad
