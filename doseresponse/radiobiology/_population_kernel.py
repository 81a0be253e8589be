r"""Compiled log posterior and analytic gradient of the population time-activity model.

One numba function, :func:`log_posterior`, evaluates the log density of the hierarchical
mono-exponential and uptake-mono models of :mod:`doseresponse.radiobiology.population_kinetics`
and its gradient with respect to the unconstrained parameter vector. It is compiled lazily (on
the first fit) and cached on disk by numba, so importing :mod:`doseresponse.radiobiology`
compiles nothing.

Parameter vector (unconstrained), with P patients and C patient-cycles::

    [mu_a, mu_l, log omega_a, log omega_l, log omega_a_cycle, log omega_l_cycle, log sigma,
     b_a (P), b_l (P), z_a_cycle (C), z_l_cycle (C)]

followed, for the uptake-mono model only, by ``[mu_u, log omega_u, b_u (P)]`` (the patients'
log uptake-rate excess δ = λ_u − λ_w, centred where ``uptake_centred`` is 1).

with ``b`` the patients' log amplitude and log biological rate — parametrised centred (the
value itself, ~ N(mu, omega^2)) for patients with a cycle of >= 2 samples, which inform it, and
non-centred (standard-normal, b = mu + omega z) otherwise — and the cycle effects parametrised
centred
(the effect itself, ~ N(0, omega^2)) for cycles with >= 3 samples in a patient with two such
cycles, which inform them, and
non-centred (standard-normal ``z``, effect = omega z) for sparser cycles, which hardly do
(Papaspiliopoulos, Roberts and Sköld 2007, Stat Sci 22:59).

Notes
-----
Model (per patient-cycle c of patient p, sample k at time t_k, h):

.. math::

    b_{a,p} \sim N(\mu_a, \omega_a^2), \quad b_{l,p} \sim N(\mu_l, \omega_l^2), \qquad
    \log A_c = o_c + b_{a,p} + \omega_{a,c} z_{a,c}, \qquad
    \lambda_c = \lambda_{phys} + \exp(b_{l,p} + \omega_{l,c} z_{l,c}),

    \log y_k \sim N\big(\log A_c - \lambda_c t_k,\; \sigma^2 + v_k\big),

and for the uptake-mono model (the parametrisation of ``"uptake-mono"`` in
:mod:`doseresponse.radiobiology.kinetics`, :math:`A(t) = A_0(e^{-\lambda_w t} - e^{-\lambda_u t})`
with :math:`\lambda_w = \lambda_c` and :math:`\lambda_u = \lambda_c + \delta_p`,
:math:`\log\delta_p = b_{u,p} \sim N(\mu_u, \omega_u^2)`)

.. math::

    \log y_k \sim N\big(\log A_c - \lambda_c t_k + \log(1 - e^{-\delta_p t_k}),\;
    \sigma^2 + v_k\big), \qquad
    \frac{\partial \log(1 - e^{-\delta t})}{\partial \log \delta}
    = \frac{\delta t}{e^{\delta t} - 1},

with :math:`o_c` the log injected activity (0 when not given), :math:`v_k` a stated per-sample
log-variance, standard-normal :math:`z` (non-centred cycle effects; Papaspiliopoulos, Roberts
and Sköld 2007, Stat Sci 22:59), normal priors on :math:`\mu_a, \mu_l` and half-normal priors on
the :math:`\omega`'s and :math:`\sigma` (sampled on the log scale, log-Jacobian added).
Constants independent of the parameters are dropped.
"""

from __future__ import annotations

import math

import numba
import numpy as np

N_GLOBAL = 7
"""Number of population-level entries at the start of the parameter vector."""

N_UPTAKE_GLOBAL = 2
"""Population-level uptake entries (``mu_u``, ``log omega_u``) after the mono block."""

GLOBAL_NAMES = (
    "mu_log_amplitude",
    "mu_log_biological_rate",
    "omega_log__amplitude",
    "omega_log__rate",
    "omega_log__amplitude_cycle",
    "omega_log__rate_cycle",
    "sigma_log__",
)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_posterior(x, obs_cycle, t, log_y, known_var, cycle_patient, patient_centred,
                  cycle_centred, log_offset, lam_phys, priors,
                  uptake_centred):  # pragma: no cover - compiled
    """Log posterior and gradient at unconstrained ``x`` (see the module docstring).

    ``priors`` holds ``[mu_a_loc, mu_a_scale, mu_l_loc, mu_l_scale, scale_omega_a,
    scale_omega_l, scale_omega_a_cycle, scale_omega_l_cycle, scale_sigma]`` and, for the
    uptake-mono model, ``[mu_u_loc, mu_u_scale, scale_omega_u]``. ``uptake_centred`` is empty
    for the mono-exponential model and holds one 0/1 flag per patient for the uptake-mono model.
    """
    n_patients = cycle_patient.max() + 1  # the caller guarantees >= 1 cycle
    n_cycles = cycle_patient.size
    grad = np.zeros(x.size)
    mu_a = x[0]
    mu_l = x[1]
    w = np.empty(4)
    for j in range(4):
        w[j] = math.exp(x[2 + j])
    sigma = math.exp(x[6])
    za0 = N_GLOBAL
    zl0 = za0 + n_patients
    zac0 = zl0 + n_patients
    zlc0 = zac0 + n_cycles
    uptake = uptake_centred.size > 0
    mu_u0 = zlc0 + n_cycles  # uptake block: mu_u, log omega_u, b_u (P)
    bu0 = mu_u0 + N_UPTAKE_GLOBAL

    # --- priors
    lp = 0.0
    d = (mu_a - priors[0]) / priors[1]
    lp -= 0.5 * d * d
    grad[0] -= d / priors[1]
    d = (mu_l - priors[2]) / priors[3]
    lp -= 0.5 * d * d
    grad[1] -= d / priors[3]
    for j in range(4):  # half-normal on omega, sampled as log omega (+ log-Jacobian)
        r = w[j] / priors[4 + j]
        lp += -0.5 * r * r + x[2 + j]
        grad[2 + j] += -r * r + 1.0
    r = sigma / priors[8]
    lp += -0.5 * r * r + x[6]
    grad[6] += -r * r + 1.0
    for p in range(n_patients):  # patient effects: centred b ~ N(mu, omega^2) or z ~ N(0, 1)
        for j in range(2):
            mu = mu_a if j == 0 else mu_l
            idx = za0 + p if j == 0 else zl0 + p
            if patient_centred[p]:
                r = (x[idx] - mu) / w[j]
                lp -= 0.5 * r * r + x[2 + j]
                grad[idx] -= r / w[j]
                grad[j] += r / w[j]
                grad[2 + j] += r * r - 1.0
            else:
                lp -= 0.5 * x[idx] * x[idx]
                grad[idx] -= x[idx]
    for c in range(n_cycles):  # cycle effects: centred e ~ N(0, omega^2) or z ~ N(0, 1)
        for j in range(2):
            idx = zac0 + c if j == 0 else zlc0 + c
            if cycle_centred[c]:
                r = x[idx] / w[2 + j]
                lp -= 0.5 * r * r + x[4 + j]
                grad[idx] -= r / w[2 + j]
                grad[4 + j] += r * r - 1.0
            else:
                lp -= 0.5 * x[idx] * x[idx]
                grad[idx] -= x[idx]

    delta = np.zeros(n_patients)  # uptake-rate excess (1/h) per patient
    w_u = 0.0
    mu_u = 0.0
    if uptake:
        mu_u = x[mu_u0]
        w_u = math.exp(x[mu_u0 + 1])
        d = (mu_u - priors[9]) / priors[10]
        lp -= 0.5 * d * d
        grad[mu_u0] -= d / priors[10]
        r = w_u / priors[11]
        lp += -0.5 * r * r + x[mu_u0 + 1]
        grad[mu_u0 + 1] += -r * r + 1.0
        for p in range(n_patients):
            idx = bu0 + p
            if uptake_centred[p]:
                r = (x[idx] - mu_u) / w_u
                lp -= 0.5 * r * r + x[mu_u0 + 1]
                grad[idx] -= r / w_u
                grad[mu_u0] += r / w_u
                grad[mu_u0 + 1] += r * r - 1.0
                delta[p] = math.exp(x[idx])
            else:
                lp -= 0.5 * x[idx] * x[idx]
                grad[idx] -= x[idx]
                delta[p] = math.exp(mu_u + w_u * x[idx])

    # --- per patient-cycle curve
    log_a = np.empty(n_cycles)
    lam_bio = np.empty(n_cycles)
    b_a = np.empty(n_patients)
    b_l = np.empty(n_patients)
    for p in range(n_patients):
        if patient_centred[p]:
            b_a[p] = x[za0 + p]
            b_l[p] = x[zl0 + p]
        else:
            b_a[p] = mu_a + w[0] * x[za0 + p]
            b_l[p] = mu_l + w[1] * x[zl0 + p]
    for c in range(n_cycles):
        p = cycle_patient[c]
        sa = 1.0 if cycle_centred[c] else w[2]
        sl = 1.0 if cycle_centred[c] else w[3]
        log_a[c] = log_offset[c] + b_a[p] + sa * x[zac0 + c]
        lam_bio[c] = math.exp(b_l[p] + sl * x[zlc0 + c])

    # --- likelihood: d(logp)/d(log A_c) and d(logp)/d(log lambda_bio_c) accumulated per cycle
    g_log_a = np.zeros(n_cycles)
    g_log_lb = np.zeros(n_cycles)
    g_log_d = np.zeros(n_patients)
    g_var = 0.0
    s2 = sigma * sigma
    dt = 0.0
    for k in range(t.size):
        c = obs_cycle[k]
        lam = lam_phys + lam_bio[c]
        mean = log_a[c] - lam * t[k]
        if uptake:  # A0 (e^{-λw t} - e^{-λu t}) = A0 e^{-λw t} (1 - e^{-δ t})
            dt = delta[cycle_patient[c]] * t[k]
            mean += math.log(-math.expm1(-dt))
        resid = log_y[k] - mean
        var = s2 + known_var[k]
        lp -= 0.5 * (resid * resid / var + math.log(var))
        dr = -resid / var  # d logp / d resid
        g_log_a[c] -= dr
        g_log_lb[c] += dr * t[k] * lam_bio[c]
        if uptake:  # d mean / d log δ = δt / (e^{δt} - 1)
            g_log_d[cycle_patient[c]] -= dr * dt / math.expm1(dt)
        g_var += 0.5 * (resid * resid / (var * var) - 1.0 / var)
    grad[6] += g_var * 2.0 * s2
    if uptake:
        for p in range(n_patients):
            if uptake_centred[p]:
                grad[bu0 + p] += g_log_d[p]
            else:
                grad[mu_u0] += g_log_d[p]
                grad[mu_u0 + 1] += g_log_d[p] * w_u * x[bu0 + p]
                grad[bu0 + p] += g_log_d[p] * w_u

    for c in range(n_cycles):
        p = cycle_patient[c]
        ga = g_log_a[c]
        gl = g_log_lb[c]
        if patient_centred[p]:
            grad[za0 + p] += ga
            grad[zl0 + p] += gl
        else:
            grad[0] += ga
            grad[1] += gl
            grad[2] += ga * w[0] * x[za0 + p]
            grad[3] += gl * w[1] * x[zl0 + p]
            grad[za0 + p] += ga * w[0]
            grad[zl0 + p] += gl * w[1]
        if cycle_centred[c]:
            grad[zac0 + c] += ga
            grad[zlc0 + c] += gl
        else:
            grad[4] += ga * w[2] * x[zac0 + c]
            grad[5] += gl * w[3] * x[zlc0 + c]
            grad[zac0 + c] += ga * w[2]
            grad[zlc0 + c] += gl * w[3]
    return lp, grad


def curves(draws: np.ndarray, cycle_patient: np.ndarray, patient_centred: np.ndarray,
           cycle_centred: np.ndarray, log_offset: np.ndarray,
           lam_phys: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes (MBq) and effective rates (1/h) of every patient-cycle for many draws.

    Parameters
    ----------
    draws : numpy.ndarray
        Unconstrained draws, shape ``(..., ndim)``.
    cycle_patient : numpy.ndarray
        Patient index of each patient-cycle, shape ``(C,)``.
    patient_centred : numpy.ndarray
        1 where the patient effects are parametrised centred, 0 where non-centred, ``(P,)``.
    cycle_centred : numpy.ndarray
        1 where the cycle effects are parametrised centred, 0 where non-centred, shape ``(C,)``.
    log_offset : numpy.ndarray
        Log injected activity of each patient-cycle (0 when not given), shape ``(C,)``.
    lam_phys : float
        Physical decay constant (1/h).

    Returns
    -------
    amplitude, rate : numpy.ndarray
        Shape ``(..., C)`` each.
    """
    n_patients = int(cycle_patient.max()) + 1
    n_cycles = cycle_patient.size
    za0 = N_GLOBAL
    zl0, zac0 = za0 + n_patients, za0 + 2 * n_patients
    zlc0 = zac0 + n_cycles
    w = np.exp(draws[..., 2:6])
    centred = np.asarray(cycle_centred, dtype=bool)
    scale_a = np.where(centred, 1.0, w[..., 2:3])
    scale_l = np.where(centred, 1.0, w[..., 3:4])
    pc = np.asarray(patient_centred, dtype=bool)
    raw_a, raw_l = draws[..., za0:za0 + n_patients], draws[..., zl0:zl0 + n_patients]
    b_a = np.where(pc, raw_a, draws[..., 0:1] + w[..., 0:1] * raw_a)
    b_l = np.where(pc, raw_l, draws[..., 1:2] + w[..., 1:2] * raw_l)
    log_a = (log_offset + b_a[..., cycle_patient]
             + scale_a * draws[..., zac0:zac0 + n_cycles])
    log_lb = b_l[..., cycle_patient] + scale_l * draws[..., zlc0:zlc0 + n_cycles]
    return np.exp(log_a), lam_phys + np.exp(log_lb)


def uptake_excess(draws: np.ndarray, n_patients: int, n_cycles: int,
                  uptake_centred: np.ndarray, cycle_patient: np.ndarray) -> np.ndarray:
    """Uptake-rate excess δ = λ_u − λ_w (1/h) of every patient-cycle for many draws.

    Parameters
    ----------
    draws : numpy.ndarray
        Unconstrained draws of the uptake-mono model, shape ``(..., ndim)``.
    n_patients, n_cycles : int
        Numbers of patients P and patient-cycles C.
    uptake_centred : numpy.ndarray
        1 where the patient's log δ is parametrised centred, 0 where non-centred, ``(P,)``.
    cycle_patient : numpy.ndarray
        Patient index of each patient-cycle, shape ``(C,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., C)``; the uptake rate is λ_u = λ_w + δ.
    """
    mu0 = N_GLOBAL + 2 * n_patients + 2 * n_cycles
    mu_u, w_u = draws[..., mu0:mu0 + 1], np.exp(draws[..., mu0 + 1:mu0 + 2])
    raw = draws[..., mu0 + N_UPTAKE_GLOBAL:mu0 + N_UPTAKE_GLOBAL + n_patients]
    log_d = np.where(np.asarray(uptake_centred, dtype=bool), raw, mu_u + w_u * raw)
    return np.exp(log_d[..., cycle_patient])
