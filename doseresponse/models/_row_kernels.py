r"""Compiled (numba) likelihood kernels: per-row log-likelihood and its (η, λ) derivatives.

Each row's curve terms come from the one implementation of every family,
:func:`doseresponse.models._curve_kernel.pair`; this module adds the likelihood terms (Bernoulli
patient rows, Binomial aggregate bins integrated over Gauss–Hermite dose nodes, the exposure
model of latent true doses), the priors and the per-study parameters, and accumulates the
gradient by the chain rule. Its independent check is the PyMC model's autodiff gradient
(``tests/models/test_density.py``, to 1e-9) and finite differences. One loop per call computes
the log-likelihood of every row and accumulates its derivatives straight into per-study and
per-covariate gradients.

Compiled once per machine: ``cache=True`` stores the machine code in numba's cache (beside this
file when writable, else ``NUMBA_CACHE_DIR`` or the user cache directory).

Notes
-----
The curve formulas and their sources are in :mod:`doseresponse.models._curve_kernel`; the
half-normal scales are sampled as :math:`u = \ln\tau` with the log-Jacobian :math:`u` (Stan
Development Team 2024, *Stan Reference Manual*, "Lower bounded scalar").
"""

from __future__ import annotations

import math

import numba
import numpy as np

from doseresponse.models._curve_kernel import FAMILY_CODES, add_background, pair
from doseresponse.models._study_coordinates import model_from_sampler, pull_back_gradient

__all__ = [
    "FAMILY_CODES",
    "KERNEL_ARRAYS",
    "LAYOUT_FIELDS",
    "N_POWER_CONSTANTS",
    "binomial_rows",
    "log_posterior",
    "model_log_posterior",
    "power_prior_terms",
    "study_effect_blocks",
]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_HALF_NORMAL = 0.5 * math.log(2.0 / math.pi)

# helpers only called from compiled code need no Python entry point (saves compile time)
_helper = numba.njit(cache=True, nogil=True, error_model="numpy", no_cpython_wrapper=True)


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
    beta, g_eta_s, g_lam_s, g_beta, shift, g_row, bg, g_bg,
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

    With a background risk, ``bg`` = (ln b, ln(1 − b)) (empty: none): each row's probability is
    b + (1 − b)·F with F the curve integrated over the row's nodes
    (:func:`doseresponse.models._curve_kernel.add_background`), and ``g_bg[0]`` receives
    ∂ log-likelihood / ∂ logit b.
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
            log_p, log_q, dp_eta, dq_eta, dp_lam, dq_lam = pair(
                family, nodes[j, 0], log_nodes[j, 0], row_eta, row_inv, slope[g]
            )
            if bg.size > 0:
                log_p, log_q, dp_eta, dp_lam, dp_bg, dq_bg = add_background(
                    log_p, log_q, dp_eta, dp_lam, bg[0], bg[1]
                )
                g_bg[0] += events[j] * dp_bg + rest[j] * dq_bg
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
            values = pair(family, nodes[j, k], log_nodes[j, k], eta[g], inv_d50[g], slope[g])
            for m in range(6):
                terms[m, k] = values[m]
            terms[0, k] += log_w[k]
            terms[1, k] += log_w[k]
            top_p = max(top_p, terms[0, k])
            top_q = max(top_q, terms[1, k])
        log_f, f_eta, f_lam = _softmax_mean(terms, 0, 2, 4, top_p)
        log_g, g_eta, g_lam = _softmax_mean(terms, 1, 3, 5, top_q)
        if bg.size > 0:
            log_f, log_g, f_eta, f_lam, dp_bg, dq_bg = add_background(
                log_f, log_g, f_eta, f_lam, bg[0], bg[1]
            )
            g_bg[0] += events[j] * dp_bg + rest[j] * dq_bg
        if events[j] > 0.0:
            total += events[j] * log_f
            g_eta_g[g] += events[j] * f_eta
            g_lam_g[g] += events[j] * f_lam
        if rest[j] > 0.0:
            total += rest[j] * log_g
            g_eta_g[g] += rest[j] * g_eta
            g_lam_g[g] += rest[j] * g_lam
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
    "exposure_log_median", "exposure_sd_log__", "dose_error_z", "background_logodds__",
    "a0_logodds__", "sampler_coordinates",
)
"""Fields of the integer ``layout`` vector of :func:`log_posterior`: pooling code (0 complete,
1 partial, 2 none), sizes, the start of each parameter block in the unconstrained vector (−1 if
absent), and the family code (:data:`FAMILY_CODES`). ``background_logodds__`` is the logit of
the background risk b (PyMC's name for a Beta variable's log-odds transform);
``a0_logodds__`` the logit of the estimated literature weight a0 (normalised power prior).
``sampler_coordinates`` is 1 when ``x`` is in the sampler's coordinates of partially pooled
study effects (mean and contrasts, :mod:`doseresponse.models._study_coordinates`), 0 when it
is in the model's own."""

N_POWER_CONSTANTS = 11
"""Trailing ``constants`` of the estimated-discount power prior (see :func:`power_prior_terms`)."""

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
def prior_terms(x, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, grad):
    """Normal priors and log-scale half-normal scale priors: log density, gradient added.

    The coordinates ``normal_index`` have N(``normal_mu``, 1/``normal_inv_sd``) priors without
    their normalising constant (the caller adds it); the coordinates ``half_index`` are ln σ of
    scales with HalfNormal(``half_sigma``) priors, with the log-Jacobian ln σ of the log
    transform (PyMC's ``HalfNormal`` with its default log transform). The gradient of each
    term is added to ``grad`` (which the caller zeroed). Shared by the binary and the
    late-toxicity kernels.
    """
    total = 0.0
    for i in range(normal_index.size):
        j = normal_index[i]
        scaled = (x[j] - normal_mu[i]) * normal_inv_sd[i]
        total -= 0.5 * scaled * scaled
        grad[j] += -scaled * normal_inv_sd[i]
    for i in range(half_index.size):
        j = half_index[i]
        ratio = math.exp(x[j]) / half_sigma[i]
        total += _LOG_HALF_NORMAL - math.log(half_sigma[i]) - 0.5 * ratio * ratio + x[j]
        grad[j] += 1.0 - ratio * ratio
    return total


@_helper
def latent_log_dose_shift(x, start, me_index, me_sigma, n_rows):
    r"""Latent true log dose minus observed log dose of each patient row (empty: no error model).

    Row ``me_index[m]`` has :math:`\ln d^{true} = \ln d^{obs} + \sigma_m e_m` with
    :math:`e_m` = ``x[start + m]`` (``dose_error_z``) and :math:`\sigma_m` = ``me_sigma[m]``
    (log-scale SD of the dose measurement); rows without a dose error get 0. Returns an empty
    array when no row has one. Shared by the binary and the late-toxicity kernels.
    """
    shift = np.zeros(n_rows if me_index.size > 0 else 0)
    for m in range(me_index.size):
        shift[me_index[m]] = me_sigma[m] * x[start + m]
    return shift


@_helper
def exposure_terms(
    x, mu_start, omega_start, e_start, me_index, me_sigma, me_study, me_log_obs, shift, g_row,
    grad,
):
    r"""Exposure density of the latent true log doses, with the likelihood's chain rule.

    Adds :math:`\sum_m \ln N(u_m; \mu_s, \omega_s)` (:math:`u_m` = ``me_log_obs[m]`` +
    ``shift[me_index[m]]``; :math:`\mu_s` at ``x[mu_start + s]``, :math:`\ln\omega_s` at
    ``x[omega_start + s]``) and its gradient into ``grad``, together with the likelihood's
    dependence on the latent doses: ``g_row[i]`` is the row's ∂ log-likelihood / ∂ ln D50,
    i.e. minus its derivative with respect to its latent log dose (a curve of
    :math:`D/D_{50}` sees :math:`\ln D_{50} - (u - \ln d^{obs})`). The N(0, 1) prior of
    :math:`e_m` is one of the normal priors of :func:`prior_terms`. Returns the summed log
    density. Shared by the binary and the late-toxicity kernels.
    """
    total = 0.0
    for m in range(me_index.size):  # exposure density N(u; mu_s, omega_s) of the latent log doses
        s = me_study[m]
        omega = math.exp(x[omega_start + s])
        scaled = (me_log_obs[m] + shift[me_index[m]] - x[mu_start + s]) / omega
        total += -0.5 * scaled * scaled - math.log(omega) - _LOG_SQRT_2PI
        # d/du: exposure -scaled/omega, likelihood -d/d(log D50)
        grad[e_start + m] += me_sigma[m] * (-scaled / omega - g_row[me_index[m]])
        grad[mu_start + s] += scaled / omega
        grad[omega_start + s] += scaled * scaled - 1.0
    return total


@_helper
def power_prior_terms(x, i_a0, i_d50, i_slope, c, grad):
    r"""Normalised power prior of (log D50, log slope) given a0, and a0's Beta prior.

    ``c`` = (a, β, ln B(a, β), then for D50 and slope: μ_h, 1/σ_h², μ_0, 1/σ_0²); a0 =
    logistic(x[i_a0]). Given a0, θ ~ N(m, 1/P) with P = a0/σ_h² + 1/σ_0², m = (a0 μ_h/σ_h² +
    μ_0/σ_0²)/P (:mod:`doseresponse.models.power_prior`); ∂/∂a0 of its log density is
    h/(2P) − h(θ − m)²/2 + h(θ − m)(μ_h − m) with h = 1/σ_h². Adds the gradient into ``grad``.
    """
    phi = x[i_a0]
    soft = math.log1p(math.exp(-abs(phi)))
    log_a0 = -soft if phi >= 0.0 else phi - soft
    log_rest = -phi - soft if phi >= 0.0 else -soft
    a0 = math.exp(log_a0)
    total = c[0] * log_a0 + c[1] * log_rest - c[2]
    g_a0 = 0.0
    for k in range(2):
        j = i_d50 if k == 0 else i_slope
        mu_h, h, mu0, h0 = c[3 + 4 * k], c[4 + 4 * k], c[5 + 4 * k], c[6 + 4 * k]
        precision = a0 * h + h0
        mean = (a0 * h * mu_h + h0 * mu0) / precision
        dev = x[j] - mean
        total += 0.5 * math.log(precision) - 0.5 * precision * dev * dev - _LOG_SQRT_2PI
        grad[j] += -precision * dev
        g_a0 += 0.5 * h / precision - 0.5 * h * dev * dev + h * dev * (mu_h - mean)
    grad[i_a0] += c[0] * (1.0 - a0) - c[1] * a0 + g_a0 * a0 * (1.0 - a0)
    return total


@_helper
def study_effect_blocks(layout):
    """Rows ``(i_mu, i_log_tau, i_z)`` of the partially pooled blocks (D50, and slope if pooled)."""
    if layout[0] != 1:
        return np.zeros((0, 3), dtype=np.int64)
    n_block = 2 if layout[7] >= 0 else 1
    blocks = np.empty((n_block, 3), dtype=np.int64)
    blocks[0, 0], blocks[0, 1], blocks[0, 2] = layout[3], layout[5], layout[6]
    if n_block == 2:
        blocks[1, 0], blocks[1, 1], blocks[1, 2] = layout[4], layout[7], layout[8]
    return blocks


@_helper
def log_posterior(
    x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
    ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study, ipd_group_x,
    agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group, agg_study, agg_x,
    me_index, me_sigma, me_study, me_log_obs,
):
    """Log posterior and gradient at ``x`` in the model's or the sampler's coordinates.

    With ``layout`` field ``sampler_coordinates`` = 1, ``x`` holds the partially pooled study
    effects as their mean and contrasts (:mod:`doseresponse.models._study_coordinates`): it is
    mapped to the model's coordinates, :func:`model_log_posterior` is evaluated there (the
    change of variables has unit Jacobian) and the gradient is pulled back. Otherwise this is
    :func:`model_log_posterior`.
    """
    blocks = study_effect_blocks(layout)
    if layout[18] == 0 or blocks.shape[0] == 0:
        return model_log_posterior(
            x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma,
            constants, ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study,
            ipd_group_x, agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group,
            agg_study, agg_x, me_index, me_sigma, me_study, me_log_obs,
        )
    model_x = x.copy().reshape((1, x.size))
    model_from_sampler(model_x, blocks, layout[1])
    total, grad = model_log_posterior(
        model_x[0], layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma,
        constants, ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study,
        ipd_group_x, agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group,
        agg_study, agg_x, me_index, me_sigma, me_study, me_log_obs,
    )
    pull_back_gradient(x, grad, blocks, layout[1])
    return total, grad


@_helper
def model_log_posterior(
    x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
    ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study, ipd_group_x,
    agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group, agg_study, agg_x,
    me_index, me_sigma, me_study, me_log_obs,
):
    """Log posterior and gradient of the hierarchical model (model coordinates), one call.

    The density of :meth:`doseresponse.models.density.LogDensity.logp_and_grad` and of the PyMC
    model (normal priors of the ``normal_index`` coordinates, half-normal scales
    sampled on the log scale at ``half_index`` with their log-Jacobian, Bernoulli patient rows,
    Binomial aggregate rows). ``layout`` is described by :data:`LAYOUT_FIELDS`; ``constants``
    holds the normal priors' normalising constant and the aggregate rows' Σ log C(n, k), then
    (with a background risk) the Beta(a, β) prior's a, β and ln B(a, β): the prior of
    θ = logit b with its log-Jacobian is a ln b + β ln(1 − b) − ln B(a, β); with an estimated
    literature weight (``layout`` field ``a0_logodds__`` >= 0) the last
    :data:`N_POWER_CONSTANTS` constants are those of :func:`power_prior_terms`.
    """
    family = layout[12]
    normal_const, agg_constant = constants[0], constants[1]
    n_study, n_cov = layout[1], layout[2]
    grad = np.zeros(x.size)
    total = normal_const
    total += prior_terms(x, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, grad)
    if layout[17] >= 0:
        total += power_prior_terms(
            x, layout[17], layout[3], layout[4], constants[constants.size - N_POWER_CONSTANTS:],
            grad,
        )
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
    bg = np.zeros(0)
    g_bg = np.zeros(1)
    if layout[16] >= 0:  # background risk b = 1 / (1 + e^-theta), Beta(a, beta) prior
        theta = x[layout[16]]
        bg = np.empty(2)
        soft = math.log1p(math.exp(-abs(theta)))  # stable softplus pieces
        bg[0] = -soft if theta >= 0.0 else theta - soft  # ln b
        bg[1] = -theta - soft if theta >= 0.0 else -soft  # ln(1 - b)
        b_prob = math.exp(bg[0])
        total += constants[2] * bg[0] + constants[3] * bg[1] - constants[4]
        grad[layout[16]] += constants[2] * (1.0 - b_prob) - constants[3] * b_prob
    g_eta_s = np.zeros(n_study)
    g_lam_s = np.zeros(n_study)
    g_beta = np.zeros(n_cov)
    shift = latent_log_dose_shift(x, layout[15], me_index, me_sigma, ipd_dose.shape[0])
    g_row = np.zeros(shift.size)
    if ipd_dose.shape[0] > 0:
        total += binomial_rows(
            family, ipd_dose, ipd_log_dose, np.zeros(1), ipd_event, ipd_rest, ipd_group,
            ipd_group_study, ipd_group_x, eta_s, lam_s, beta, g_eta_s, g_lam_s, g_beta,
            shift, g_row, bg, g_bg,
        )
    if agg_nodes.shape[0] > 0:
        total += agg_constant + binomial_rows(
            family, agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group,
            agg_study, agg_x, eta_s, lam_s, beta, g_eta_s, g_lam_s, g_beta,
            np.zeros(0), np.zeros(0), bg, g_bg,
        )
    total += exposure_terms(
        x, layout[13], layout[14], layout[15], me_index, me_sigma, me_study, me_log_obs, shift,
        g_row, grad,
    )
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
    if layout[16] >= 0:
        grad[layout[16]] += g_bg[0]
    if not math.isfinite(total):
        return -math.inf, np.zeros(x.size)
    return total, grad
