r"""Build the PyMC model of a hierarchical TCP/NTCP analysis from a spec and a cohort.

The model (``docs/theory/hierarchical_model.md`` states it in full, with every prior):

.. math::

    \log D_{50,s} &= \log D_{50} + \tau z_s, \quad z_s \sim N(0, 1)
        \qquad\text{(partial pooling, non-centred)}\\
    \log D_{50,i} &= \log D_{50,s[i]} + \textstyle\sum_c \beta_c x_{ic}
        \qquad\text{(covariates multiply } D_{50} \text{ by } e^{\beta_c x_{ic}})\\
    y_i &\sim \text{Bernoulli}(P(d_i; D_{50,i}, \text{slope}_{s[i]}))
        \qquad\text{(patient rows)}\\
    r_j &\sim \text{Binomial}\Big(n_j, \textstyle\int P(d; D_{50,j}, \text{slope})\,
        f_j(d)\,\mathrm{d}d\Big) \qquad\text{(aggregate rows)}

where :math:`f_j` is a log-normal dose distribution of bin *j* reconstructed from its reported
SD or range, integrated by Gauss–Hermite quadrature (or a point mass at the reported dose when
no spread is reported).

With ``spec.background``, every row's probability is :math:`b + (1 - b)P` (after the
quadrature for aggregate rows), :math:`b \sim \mathrm{Beta}(a, \beta)` named ``background``
(:mod:`doseresponse.models.background`). With ``spec.priors["power_prior"]`` the population
``log_d50`` and ``log_slope`` have the normalised power prior given the literature weight
``a0`` ~ Beta (:mod:`doseresponse.models.power_prior`).

Named dims: ``study``, ``covariate``, ``ipd_row``, ``agg_row``. Named variables: ``log_d50``
and ``d50`` (population), ``log_slope`` and ``gamma50``/``m``, ``tau``, ``z_d50``, ``d50_study``,
``tau_slope``, ``z_slope``, ``<slope>_study``, ``log_factor`` and ``factor``; observed
``y_ipd`` and ``y_agg``.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from doseresponse.data import DoseResponseData
from doseresponse.models.design import ModelInputs, log_choose, model_inputs
from doseresponse.models.spec import ModelSpec
from doseresponse.models.tensor_curves import tensor_log_probabilities

__all__ = ["build_model"]








def build_model(spec: ModelSpec, data: DoseResponseData) -> pm.Model:
    r"""Build the PyMC model described by ``spec`` for ``data``.

    Parameters
    ----------
    spec : ModelSpec
        Complete model description, with resolved priors.
    data : DoseResponseData
        The cohort (patient rows and/or aggregate rows).

    Returns
    -------
    pymc.Model
        Model with named dims/coords (see module docstring). Data enter through ``pm.Data``
        containers, so compiled functions are reusable across cohorts of other sizes.

    Notes
    -----
    Random effects are non-centred (:math:`\log D_{50,s} = \log D_{50} + \tau z_s`), which
    removes the funnel geometry that makes the centred form diverge when τ is small
    (Papaspiliopoulos, Roberts & Sköld 2007 Stat Sci 22:59; Betancourt & Girolami 2015, in
    Current Trends in Bayesian Methodology, CRC).
    """
    inputs = model_inputs(spec, data)
    priors = spec.priors
    log_pair = tensor_log_probabilities(spec.curve)
    slope_name = spec.slope_name
    coords = {
        "study": list(inputs.studies),
        "covariate": list(inputs.covariates),
        "ipd_row": np.arange(inputs.ipd_dose.size),
        "agg_row": np.arange(inputs.agg_n.size),
    }
    if spec.measurement_error == "lognormal":
        coords["me_row"] = inputs.me_rows
    with pm.Model(coords=coords) as model:
        log_d50_study, log_slope_study = _study_parameters(spec, slope_name)
        beta = None
        if inputs.covariates:
            mu = [math.log(priors[f"factor:{c}"]["median"]) for c in inputs.covariates]
            sd = [priors[f"factor:{c}"]["sigma"] for c in inputs.covariates]
            beta = pm.Normal("log_factor", mu=np.array(mu), sigma=np.array(sd), dims="covariate")
            pm.Deterministic("factor", pt.exp(beta), dims="covariate")

        background = None
        if spec.background:
            background = pm.Beta(
                "background", alpha=priors["background"]["alpha"],
                beta=priors["background"]["beta"],
            )

        def with_background(log_p, log_q):
            if background is None:
                return log_p, log_q
            log_rest = pt.log1p(-background)
            return pt.logaddexp(pt.log(background), log_rest + log_p), log_rest + log_q

        def row_parameters(study, x):
            log_d50 = log_d50_study[study] if log_d50_study.ndim else log_d50_study
            if beta is not None:
                log_d50 = log_d50 + (x * beta[None, :]).sum(axis=1)
            log_slope = log_slope_study[study] if log_slope_study.ndim else log_slope_study
            return pt.exp(log_d50), pt.exp(log_slope)

        if inputs.ipd_dose.size:
            dose = pm.Data("ipd_dose", inputs.ipd_dose)
            if spec.measurement_error == "lognormal":
                dose = _latent_true_dose(spec, inputs, dose)
            study = pm.Data("ipd_study", inputs.ipd_study)
            x = pm.Data("ipd_covariates", inputs.ipd_x)
            outcome = pm.Data("ipd_outcome", inputs.ipd_outcome)
            d50_i, slope_i = row_parameters(study, x)
            log_p, log_q = with_background(*log_pair(dose, d50_i, slope_i))
            pm.CustomDist(
                "y_ipd", log_p, log_q, logp=_bernoulli_logp, random=_bernoulli_random,
                observed=outcome, dims="ipd_row",
            )
        if inputs.agg_n.size:
            nodes = pm.Data("agg_dose_nodes", inputs.agg_nodes)
            study = pm.Data("agg_study", inputs.agg_study)
            x = pm.Data("agg_covariates", inputs.agg_x)
            n = pm.Data("agg_n", inputs.agg_n)
            events = pm.Data("agg_events", inputs.agg_events)
            d50_j, slope_j = row_parameters(study, x)
            if d50_j.ndim == 0:  # complete pooling without covariates: one D50 for every bin
                d50_j = pt.broadcast_to(d50_j, n.shape)
            slope_j = slope_j[:, None] if slope_j.ndim else slope_j
            log_p, log_q = log_pair(nodes, d50_j[:, None], slope_j)
            if inputs.log_weights.size > 1:
                log_w = pt.as_tensor_variable(inputs.log_weights)[None, :]
                log_p = pt.logsumexp(log_p + log_w, axis=1)
                log_q = pt.logsumexp(log_q + log_w, axis=1)
            else:
                log_p, log_q = log_p[:, 0], log_q[:, 0]
            log_p, log_q = with_background(log_p, log_q)
            choose = pm.Data("agg_log_choose", log_choose(inputs.agg_n, inputs.agg_events))
            pm.CustomDist(
                "y_agg", n, log_p, log_q, choose, logp=_binomial_logp,
                random=_binomial_random, observed=events, dims="agg_row",
            )
    return model


def _latent_true_dose(spec: ModelSpec, inputs: ModelInputs, observed):
    r"""Classical measurement-error model: the curve sees the latent true dose.

    For patient *i* with dose log-SD :math:`\sigma_i > 0` (study *s*):
    :math:`\ln d^{obs}_i \sim N(u_i, \sigma_i)`, :math:`u_i \sim N(\mu_s, \omega_s)`,
    sampled as :math:`u_i = \ln d^{obs}_i + \sigma_i e_i` (``dose_error_z`` = :math:`e_i`),
    whose density is :math:`N(e_i; 0, 1)\,N(u_i; \mu_s, \omega_s)`; the exposure model's
    :math:`\mu_s` (``exposure_log_median``) and :math:`\omega_s` (``exposure_sd``) are learnt
    per study. Returns the dose vector with the latent doses substituted.
    """
    rows = inputs.me_rows
    priors = spec.priors
    mu = pm.Normal(
        "exposure_log_median", math.log(priors["exposure"]["median"]),
        priors["exposure"]["sigma"], dims="study",
    )
    omega = pm.HalfNormal("exposure_sd", sigma=priors["exposure_sd"]["sigma"], dims="study")
    e = pm.Normal("dose_error_z", 0.0, 1.0, dims="me_row")
    log_obs = np.log(inputs.ipd_dose[rows])
    log_true = log_obs + inputs.ipd_dose_log_sd[rows] * e
    me_study = inputs.ipd_study[rows]
    pm.Potential(
        "exposure", pm.logp(pm.Normal.dist(mu[me_study], omega[me_study]), log_true).sum()
    )
    true_dose = pm.Deterministic("true_dose", pt.exp(log_true), dims="me_row")
    return pt.set_subtensor(observed[rows], true_dose)


# ---------------------------------------------------------------------------- likelihoods
# Written directly in (log P, log(1 - P)) so each row costs one evaluation of the curve; PyMC's
# Bernoulli/Binomial would recompute a sigmoid from the logit and check 0 <= p <= 1 on every call.


def _bernoulli_logp(value, log_p, log_q):
    return pt.switch(pt.eq(value, 1), log_p, log_q)


def _bernoulli_random(log_p, log_q, rng=None, size=None):
    return rng.binomial(1, np.exp(log_p), size=size)


def _binomial_logp(value, n, log_p, log_q, log_choose):
    # log C(n, k) is data (agg_log_choose); 0 * -inf terms are avoided with switches
    events_term = pt.switch(pt.eq(value, 0), 0.0, value * log_p)
    rest_term = pt.switch(pt.eq(value, n), 0.0, (n - value) * log_q)
    return log_choose + events_term + rest_term


def _binomial_random(n, log_p, log_q, log_choose, rng=None, size=None):
    return rng.binomial(n, np.exp(log_p), size=size)




# ---------------------------------------------------------------------------- helpers


def _power_conditional(a0, historical, mu0: float, sd0: float):
    r"""Mean and SD of :math:`\theta \mid a_0` under the normalised power prior (PyTensor).

    :math:`P = a_0/\sigma_h^2 + 1/\sigma_0^2`, :math:`m = (a_0\mu_h/\sigma_h^2 +
    \mu_0/\sigma_0^2)/P` (Ibrahim & Chen 2000 Stat Sci 15:46; Duan, Ye & Smith 2006
    Environmetrics 17:95; :mod:`doseresponse.models.power_prior`).
    """
    mu_h, h = math.log(historical["median"]), historical["sigma"] ** -2.0
    h0 = sd0**-2.0
    precision = a0 * h + h0
    return (a0 * h * mu_h + h0 * mu0) / precision, 1.0 / pt.sqrt(precision)


def _study_parameters(spec: ModelSpec, slope_name: str):
    """Create the D50/slope parameters; return log D50 and log slope per study (or scalars)."""
    priors = spec.priors
    d50_mu, d50_sd = math.log(priors["d50"]["median"]), priors["d50"]["sigma"]
    slope_mu, slope_sd = math.log(priors["slope"]["median"]), priors["slope"]["sigma"]
    if spec.pooling == "none":
        log_d50_study = pm.Normal("log_d50_study", d50_mu, d50_sd, dims="study")
        log_slope_study = pm.Normal("log_slope_study", slope_mu, slope_sd, dims="study")
        pm.Deterministic("d50_study", pt.exp(log_d50_study), dims="study")
        pm.Deterministic(f"{slope_name}_study", pt.exp(log_slope_study), dims="study")
        return log_d50_study, log_slope_study
    power = priors.get("power_prior")
    if power is not None:  # normalised power prior: the priors depend on the estimated a0
        a0 = pm.Beta("a0", alpha=power["a0_alpha"], beta=power["a0_beta"])
        d50_mu, d50_sd = _power_conditional(a0, power["d50"], d50_mu, d50_sd)
        slope_mu, slope_sd = _power_conditional(a0, power["slope"], slope_mu, slope_sd)
    log_d50 = pm.Normal("log_d50", d50_mu, d50_sd)
    pm.Deterministic("d50", pt.exp(log_d50))
    log_slope = pm.Normal("log_slope", slope_mu, slope_sd)
    pm.Deterministic(slope_name, pt.exp(log_slope))
    if spec.pooling == "complete":
        return log_d50, log_slope
    tau = pm.HalfNormal("tau", sigma=priors["tau"]["sigma"])
    z = pm.Normal("z_d50", 0.0, 1.0, dims="study")
    log_d50_study = log_d50 + tau * z
    pm.Deterministic("d50_study", pt.exp(log_d50_study), dims="study")
    log_slope_study = log_slope
    if spec.pool_slope:
        tau_slope = pm.HalfNormal("tau_slope", sigma=priors["tau_slope"]["sigma"])
        z_slope = pm.Normal("z_slope", 0.0, 1.0, dims="study")
        log_slope_study = log_slope + tau_slope * z_slope
        pm.Deterministic(f"{slope_name}_study", pt.exp(log_slope_study), dims="study")
    return log_d50_study, log_slope_study








