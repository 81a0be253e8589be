r"""Compiled (numba) log posterior and gradient of the late-toxicity mixture cure model.

A patient with dose :math:`D` (Gy, dose metric) develops the toxicity at some time with
probability :math:`\pi(D)` — the dose-response curve, evaluated by the one implementation of
every family, :func:`doseresponse.models._curve_kernel.pair` — and, given that, at a time
:math:`T` (``time_unit``) with onset distribution :math:`F` (Weibull or log-normal, median
:math:`t_{50}`, shape :math:`k`). A row contributes

* exact event at :math:`t`: :math:`\pi f(t)`;
* event in :math:`(L, R]`: :math:`\pi\,(F(R) - F(L)) = \pi\,(S(L) - S(R))`;
* no event by the last visit :math:`C`: :math:`1 - \pi F(C) = (1 - \pi) + \pi S(C)`.

The onset distribution is a location-scale family on log time, :math:`v = k(\ln t - \theta)`
with :math:`\theta = \ln t_{50}` (plus, with a dose effect, :math:`\psi \ln(D/D_{ref})`):

* Weibull: :math:`S = \exp(-\ln 2\, e^{v})` (shape :math:`k`, scale
  :math:`t_{50}/(\ln 2)^{1/k}`);
* log-normal: :math:`S = \Phi(-v)` (:math:`\sigma_{\ln T} = 1/k`).

Unconstrained parameters and their priors are laid out by
:class:`doseresponse.models.late_density.LateToxicityDensity`; this kernel reads positions from
the integer ``layout`` vector (:data:`LATE_LAYOUT_FIELDS`). Gradients are analytic (chain rule
below), checked against finite differences and against the PyMC oracle's autodiff
(``tests/models/test_late_density.py``).

Notes
-----
Mixture cure model: Boag JW (1949) J R Stat Soc B 11:15; Farewell VT (1982) Biometrics 38:1041.
Interval-censored likelihood: Turnbull BW (1976) J R Stat Soc B 38:290 (the
:math:`S(L) - S(R)` term). Derivatives, with :math:`\partial_\theta v = -k`,
:math:`\partial_{\ln k} v = v`:

* Weibull, :math:`H = \ln 2\, e^{v}`: :math:`\partial_v \ln S = -H`,
  :math:`\partial_v \ln F = H/\operatorname{expm1}(H)`,
  :math:`\ln f = \ln k - \ln t + \ln H - H`, :math:`\partial_v \ln f = 1 - H`;
* log-normal: :math:`\partial_v \ln S = -\phi(v)/\Phi(-v)`,
  :math:`\partial_v \ln F = \phi(v)/\Phi(v)`,
  :math:`\ln f = \ln k - \ln t - v^2/2 - \ln\sqrt{2\pi}`, :math:`\partial_v \ln f = -v`;
* interval, :math:`a = \ln S(L)`, :math:`b = \ln S(R)`, :math:`e = e^{b-a}`:
  :math:`\ln(S(L) - S(R)) = a + \ln(1 - e)`, derivative :math:`(\partial a - e\,\partial b)/(1-e)`;
* censored, :math:`\ell = \operatorname{logaddexp}(\ln(1-\pi), \ln\pi + \ln S(C))`: derivative
  the softmax-weighted mean of the two terms' derivatives.

The half-normal τ is sampled as :math:`u = \ln\tau` with the log-Jacobian :math:`u` (Stan
Development Team 2024, *Stan Reference Manual*, "Lower bounded scalar").
"""

from __future__ import annotations

import math

import numba
import numpy as np

from doseresponse.models._curve_kernel import _h_over_expm1, _log_ndtr, pair
from doseresponse.models._row_kernels import exposure_terms, latent_log_dose_shift, prior_terms
from doseresponse.models._study_coordinates import model_from_sampler, pull_back_gradient

__all__ = [
    "LATE_KERNEL_ARRAYS",
    "LATE_LAYOUT_FIELDS",
    "ONSET_CODES",
    "ROW_KINDS",
    "late_log_posterior",
    "late_model_log_posterior",
    "late_row_log_likelihood",
    "late_study_effect_blocks",
    "onset_log_cdf_vector",
]

ONSET_CODES = {"weibull": 0, "lognormal": 1}
"""Integer code of each onset distribution inside the compiled code."""

ROW_KINDS = {"censored": 0, "exact": 1, "interval": 2}
"""Integer code of each row's observation type."""

_LN2 = math.log(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LN2_LOG = math.log(_LN2)  # Weibull: ln H = ln ln 2 + v

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_helper = numba.njit(cache=True, nogil=True, error_model="numpy", no_cpython_wrapper=True)


@_helper
def _log_survival(onset, t, theta, k):
    """(ln S(t), ∂θ, ∂ln k); S = 1 at t <= 0."""
    if t <= 0.0:
        return 0.0, 0.0, 0.0
    v = k * (math.log(t) - theta)
    if onset == 0:
        hazard = _LN2 * math.exp(v)
        return -hazard, k * hazard, -hazard * v
    log_s = _log_ndtr(-v)
    mills = math.exp(-0.5 * v * v - _LOG_SQRT_2PI - log_s)
    return log_s, k * mills, -v * mills


@_helper
def _log_cdf(onset, t, theta, k):
    """(ln F(t), ∂θ, ∂ln k); F = 0 at t <= 0."""
    if t <= 0.0:
        return -math.inf, 0.0, 0.0
    v = k * (math.log(t) - theta)
    if onset == 0:
        hazard = _LN2 * math.exp(v)
        ratio = _h_over_expm1(hazard)
        log_f = math.log(-math.expm1(-hazard)) if hazard > 0.0 else -math.inf
        return log_f, -k * ratio, v * ratio
    log_f = _log_ndtr(v)
    mills = math.exp(-0.5 * v * v - _LOG_SQRT_2PI - log_f)
    return log_f, -k * mills, v * mills


@_helper
def _log_density(onset, t, theta, k):
    """(ln f(t), ∂θ, ∂ln k) of the onset density (per unit time) at t > 0."""
    log_t = math.log(t)
    v = k * (log_t - theta)
    if onset == 0:
        hazard = _LN2 * math.exp(v)
        value = math.log(k) - log_t + _LN2_LOG + v - hazard
        slope = 1.0 - hazard
        return value, -k * slope, 1.0 + v * slope
    value = math.log(k) - log_t - 0.5 * v * v - _LOG_SQRT_2PI
    return value, k * v, 1.0 - v * v


@_helper
def _log_interval(onset, lower, upper, theta, k):
    """(ln(F(upper) − F(lower)), ∂θ, ∂ln k) for 0 <= lower < upper."""
    if lower <= 0.0:
        return _log_cdf(onset, upper, theta, k)
    a, a_theta, a_k = _log_survival(onset, lower, theta, k)
    b, b_theta, b_k = _log_survival(onset, upper, theta, k)
    gap = b - a
    if not gap < 0.0:
        return -math.inf, 0.0, 0.0
    e = math.exp(gap)
    inv = 1.0 / (-math.expm1(gap))
    return (
        a + math.log(-math.expm1(gap)),
        (a_theta - e * b_theta) * inv,
        (a_k - e * b_k) * inv,
    )


LATE_LAYOUT_FIELDS = (
    "pooling", "n_study", "n_cov", "family", "onset", "log_d50", "log_slope", "tau_log__",
    "z_d50", "log_d50_study", "log_slope_study", "log_factor", "log_onset_median",
    "log_onset_shape", "onset_dose_slope", "exposure_log_median", "exposure_sd_log__",
    "dose_error_z", "sampler_coordinates",
)
"""Fields of the integer ``layout`` vector: pooling code (0 complete, 1 partial, 2 none), sizes,
curve family code, onset code (:data:`ONSET_CODES`), then the start of each parameter block in
the unconstrained vector (−1 if absent); ``sampler_coordinates`` is 1 when ``x`` holds the
partially pooled study effects as their mean and contrasts
(:mod:`doseresponse.models._study_coordinates`), 0 in the model's own coordinates."""

LATE_KERNEL_ARRAYS = (
    ("layout", "i8", 1), ("normal_index", "i8", 1), ("normal_mu", "f8", 1),
    ("normal_inv_sd", "f8", 1), ("half_index", "i8", 1), ("half_sigma", "f8", 1),
    ("constants", "f8", 1), ("dose", "f8", 1), ("log_dose", "f8", 1), ("study", "i8", 1),
    ("cov_x", "f8", 2), ("kind", "i8", 1), ("t_lower", "f8", 1), ("t_upper", "f8", 1),
    ("onset_x", "f8", 1), ("me_index", "i8", 1), ("me_sigma", "f8", 1), ("me_study", "i8", 1),
    ("me_log_obs", "f8", 1),
)
"""Name, dtype and rank of each data argument of :func:`late_log_posterior` after ``x``."""


@_helper
def late_study_effect_blocks(layout):
    """Row ``(i_mu, i_log_tau, i_z)`` of the partially pooled D50 block (none otherwise)."""
    if layout[0] != 1:
        return np.zeros((0, 3), dtype=np.int64)
    blocks = np.empty((1, 3), dtype=np.int64)
    blocks[0, 0], blocks[0, 1], blocks[0, 2] = layout[5], layout[7], layout[8]
    return blocks


@_jit
def late_log_posterior(
    x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
    dose, log_dose, study, cov_x, kind, t_lower, t_upper, onset_x, me_index, me_sigma, me_study,
    me_log_obs,
):
    """Log posterior and gradient at ``x`` in the model's or the sampler's coordinates.

    With ``layout`` field ``sampler_coordinates`` = 1 the partially pooled study effects in
    ``x`` are their mean and contrasts (:mod:`doseresponse.models._study_coordinates`): the
    point is mapped to the model's coordinates, :func:`late_model_log_posterior` is evaluated
    there (unit Jacobian) and the gradient is pulled back.
    """
    blocks = late_study_effect_blocks(layout)
    if layout[18] == 0 or blocks.shape[0] == 0:
        return late_model_log_posterior(
            x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma,
            constants, dose, log_dose, study, cov_x, kind, t_lower, t_upper, onset_x, me_index,
            me_sigma, me_study, me_log_obs,
        )
    model_x = x.copy().reshape((1, x.size))
    model_from_sampler(model_x, blocks, layout[1])
    total, grad = late_model_log_posterior(
        model_x[0], layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma,
        constants, dose, log_dose, study, cov_x, kind, t_lower, t_upper, onset_x, me_index,
        me_sigma, me_study, me_log_obs,
    )
    pull_back_gradient(x, grad, blocks, layout[1])
    return total, grad


@_helper
def late_model_log_posterior(
    x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
    dose, log_dose, study, cov_x, kind, t_lower, t_upper, onset_x, me_index, me_sigma, me_study,
    me_log_obs,
):
    r"""Log posterior (normalising constants included) and gradient (model coordinates).

    ``kind`` codes each row (:data:`ROW_KINDS`): censored at ``t_upper``, exact at ``t_upper``,
    or an event in ``(t_lower, t_upper]``. ``onset_x`` = ln(D/D_ref) multiplies the onset dose
    slope ψ (zeros when the model has none). Returns ``(-inf, zeros)`` where the density is
    not finite.

    With dose measurement error (``me_index`` not empty) the rows ``me_index`` see their
    latent true dose :math:`d^{obs} e^{\sigma e}` in the curve and in the onset dose effect
    (``constants[1]`` = ln D_ref, ``constants[2]`` = ln of the onset-dose floor ratio), and the
    exposure density of the latent doses is added — both by the binary kernel's helpers
    (:func:`doseresponse.models._row_kernels.latent_log_dose_shift`,
    :func:`doseresponse.models._row_kernels.exposure_terms`).
    """
    pooling, n_study, n_cov = layout[0], layout[1], layout[2]
    family, onset = layout[3], layout[4]
    grad = np.zeros(x.size)
    total = constants[0]
    total += prior_terms(x, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, grad)
    eta_s = np.empty(n_study)
    lam_s = np.empty(n_study)
    tau = 0.0
    for s in range(n_study):
        if pooling == 2:
            eta_s[s] = x[layout[9] + s]
            lam_s[s] = x[layout[10] + s]
        else:
            eta_s[s] = x[layout[5]]
            lam_s[s] = x[layout[6]]
            if pooling == 1:
                tau = math.exp(x[layout[7]])
                eta_s[s] += tau * x[layout[8] + s]
    theta0 = x[layout[12]]
    log_k = x[layout[13]]
    k = math.exp(log_k)
    psi = x[layout[14]] if layout[14] >= 0 else 0.0
    g_eta_s = np.zeros(n_study)
    g_lam_s = np.zeros(n_study)
    g_beta = np.zeros(n_cov)
    g_theta = 0.0
    g_log_k = 0.0
    g_psi = 0.0
    shift = latent_log_dose_shift(x, layout[17], me_index, me_sigma, dose.size)
    g_row = np.zeros(shift.size)
    for j in range(dose.size):
        s = study[j]
        eta = eta_s[s]
        for c in range(n_cov):
            eta += cov_x[j, c] * x[layout[11] + c]
        row_x = onset_x[j]
        moves_onset = 1.0
        if shift.size > 0:  # the latent true dose (shift 0 for rows without a dose error)
            eta -= shift[j]
            if layout[14] >= 0:
                row_x = log_dose[j] + shift[j] - constants[1]
                if row_x < constants[2]:
                    row_x = constants[2]
                    moves_onset = 0.0
        log_p, log_q, dp_eta, dq_eta, dp_lam, dq_lam = pair(
            family, dose[j], log_dose[j], eta, math.exp(-eta), math.exp(lam_s[s])
        )
        theta = theta0 + psi * row_x
        if kind[j] == 0:
            log_s, s_theta, s_k = _log_survival(onset, t_upper[j], theta, k)
            with_event = log_p + log_s
            top = max(log_q, with_event)
            if top == -math.inf:
                total = -math.inf
                break
            w_q = math.exp(log_q - top)
            w_p = math.exp(with_event - top)
            norm = w_q + w_p
            total += top + math.log(norm)
            w_q /= norm
            w_p /= norm
            d_eta = w_q * dq_eta + w_p * dp_eta
            d_lam = w_q * dq_lam + w_p * dp_lam
            d_theta = w_p * s_theta
            d_k = w_p * s_k
        else:
            if kind[j] == 1:
                value, d_theta, d_k = _log_density(onset, t_upper[j], theta, k)
            else:
                value, d_theta, d_k = _log_interval(onset, t_lower[j], t_upper[j], theta, k)
            total += log_p + value
            d_eta = dp_eta
            d_lam = dp_lam
        g_eta_s[s] += d_eta
        g_lam_s[s] += d_lam
        for c in range(n_cov):
            g_beta[c] += d_eta * cov_x[j, c]
        g_theta += d_theta
        g_log_k += d_k
        g_psi += d_theta * row_x
        if g_row.size > 0:  # d/d ln D50 = -d/d(latent log dose)
            g_row[j] = d_eta - d_theta * psi * moves_onset
    if math.isfinite(total) and me_index.size > 0:
        total += exposure_terms(
            x, layout[15], layout[16], layout[17], me_index, me_sigma, me_study, me_log_obs,
            shift, g_row, grad,
        )
    if not math.isfinite(total):
        return -math.inf, np.zeros(x.size)
    for s in range(n_study):
        if pooling == 2:
            grad[layout[9] + s] += g_eta_s[s]
            grad[layout[10] + s] += g_lam_s[s]
        else:
            grad[layout[5]] += g_eta_s[s]
            grad[layout[6]] += g_lam_s[s]
            if pooling == 1:
                grad[layout[8] + s] += tau * g_eta_s[s]
                grad[layout[7]] += tau * x[layout[8] + s] * g_eta_s[s]
    for c in range(n_cov):
        grad[layout[11] + c] += g_beta[c]
    grad[layout[12]] += g_theta
    grad[layout[13]] += g_log_k
    if layout[14] >= 0:
        grad[layout[14]] += g_psi
    return total, grad


@_jit
def onset_log_cdf_vector(onset, t, theta, log_k):
    """Ln F(t) of the onset distribution over equal-length 1-D arrays (t in ``time_unit``)."""
    out = np.empty(t.size)
    for i in range(t.size):
        out[i] = _log_cdf(onset, t[i], theta[i], math.exp(log_k[i]))[0]
    return out


@_jit
def late_row_log_likelihood(onset, kind, lower, upper, theta, log_k, log_p, log_q):
    """Each observation's log-likelihood term over equal-length 1-D arrays (the kernel's terms).

    Row ``i`` is of type ``kind[i]`` (:data:`ROW_KINDS`) with times ``lower[i]``, ``upper[i]``
    (``time_unit``), onset location ``theta[i]`` = ln t50 (with any dose effect), ln shape
    ``log_k[i]`` and the curve's ln π, ln(1 − π) in ``log_p[i]``, ``log_q[i]``: censored
    ln(1 − π F(C)), exact ln π f(t), interval ln π (F(R) − F(L)) — the same helpers as
    :func:`late_log_posterior`, so the terms sum to its likelihood part.
    """
    out = np.empty(kind.size)
    for i in range(kind.size):
        k = math.exp(log_k[i])
        if kind[i] == 0:
            with_event = log_p[i] + _log_survival(onset, upper[i], theta[i], k)[0]
            top = max(log_q[i], with_event)
            if top == -math.inf:
                out[i] = -math.inf
            else:
                out[i] = top + math.log(math.exp(log_q[i] - top) + math.exp(with_event - top))
        elif kind[i] == 1:
            out[i] = log_p[i] + _log_density(onset, upper[i], theta[i], k)[0]
        else:
            out[i] = log_p[i] + _log_interval(onset, lower[i], upper[i], theta[i], k)[0]
    return out
