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

Named dims: ``study``, ``covariate``, ``ipd_row``, ``agg_row``. Named variables: ``log_d50``
and ``d50`` (population), ``log_slope`` and ``gamma50``/``m``, ``tau``, ``z_d50``, ``d50_study``,
``tau_slope``, ``z_slope``, ``<slope>_study``, ``log_factor`` and ``factor``; observed
``y_ipd`` and ``y_agg``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy import special

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.spec import ModelSpec
from doseresponse.models.tensor_curves import tensor_log_probabilities

__all__ = ["ModelInputs", "bin_log_normal", "build_model", "model_inputs"]


@dataclass(frozen=True)
class ModelInputs:
    r"""The numeric arrays a model is built from (no PyMC objects).

    Attributes
    ----------
    studies : tuple of str
        Study labels (the ``study`` dim).
    covariates : tuple of str
        Patient-level then study-level covariates (the ``covariate`` dim).
    ipd_dose, ipd_study, ipd_outcome : numpy.ndarray
        Patient dose (dose-metric unit, Gy), study code, 0/1 outcome.
    ipd_x : numpy.ndarray
        Covariate values of each patient, shape ``(n_ipd, n_covariates)``.
    agg_nodes : numpy.ndarray
        Doses (Gy) of the quadrature nodes of each aggregate bin, shape ``(n_agg, K)``.
    log_weights : numpy.ndarray
        Log quadrature weights, shape ``(K,)``; they sum to one.
    agg_study, agg_events, agg_n : numpy.ndarray
        Study code, events and number at risk of each aggregate row.
    agg_x : numpy.ndarray
        Covariate values of each bin (missing values replaced by the covariate's mean over the
        rows that report it), shape ``(n_agg, n_covariates)``.
    ipd_dose_log_sd : numpy.ndarray
        Log-scale SD of each patient's dose measurement,
        :math:`\sigma_i = \sqrt{\ln(1 + (\mathrm{SE}_i/d_i)^2)}` from ``dose_se``; 0 where
        no uncertainty is given (the dose is then taken as exact).
    """

    studies: tuple[str, ...]
    covariates: tuple[str, ...]
    ipd_dose: np.ndarray
    ipd_study: np.ndarray
    ipd_outcome: np.ndarray
    ipd_x: np.ndarray
    agg_nodes: np.ndarray
    log_weights: np.ndarray
    agg_study: np.ndarray
    agg_events: np.ndarray
    agg_n: np.ndarray
    agg_x: np.ndarray
    ipd_dose_log_sd: np.ndarray

    @property
    def me_rows(self) -> np.ndarray:
        """Indices of the patient rows whose dose carries measurement error."""
        return np.flatnonzero(self.ipd_dose_log_sd > 0)


def model_inputs(spec: ModelSpec, data: DoseResponseData) -> ModelInputs:
    """Extract the arrays of :class:`ModelInputs` from a cohort.

    Parameters
    ----------
    spec : ModelSpec
        Model description (covariates, aggregate integration settings).
    data : DoseResponseData
        The cohort; its dose metric and unit must match the spec's.

    Returns
    -------
    ModelInputs

    Raises
    ------
    DoseResponseError
        A covariate named in the spec is absent from the data, or the dose metric differs.
    """
    _check_compatible(spec, data)
    covariates = spec.all_covariates
    ipd, agg = data.ipd, data.aggregate
    ipd_x = _covariate_matrix(ipd, covariates)
    agg_x = _covariate_matrix(agg, covariates)
    if covariates and agg_x.size and np.isnan(agg_x).any():
        both = np.vstack([ipd_x, agg_x])
        means = np.nanmean(both, axis=0)
        agg_x = np.where(np.isnan(agg_x), means[None, :], agg_x)
    nodes, log_w = _aggregate_nodes(spec, data)
    return ModelInputs(
        studies=tuple(data.studies),
        covariates=covariates,
        ipd_dose=ipd["dose"].to_numpy(dtype=np.float64),
        ipd_study=data.study_codes("ipd"),
        ipd_outcome=ipd["outcome"].to_numpy(dtype=np.int64),
        ipd_x=ipd_x,
        agg_nodes=nodes,
        log_weights=log_w,
        agg_study=data.study_codes("aggregate"),
        agg_events=agg["events"].to_numpy(dtype=np.int64),
        agg_n=agg["n"].to_numpy(dtype=np.int64),
        agg_x=agg_x,
        ipd_dose_log_sd=_dose_log_sd(ipd),
    )


def _dose_log_sd(ipd: pd.DataFrame) -> np.ndarray:
    """Log-scale SD of each patient dose from its absolute SE (moment matching)."""
    dose = ipd["dose"].to_numpy(dtype=np.float64)
    if "dose_se" not in ipd:
        return np.zeros_like(dose)
    se = ipd["dose_se"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.log1p((se / dose) ** 2))
    return np.where(np.isfinite(sd) & (dose > 0), sd, 0.0)


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
            log_p, log_q = log_pair(dose, d50_i, slope_i)
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
            slope_j = slope_j[:, None] if slope_j.ndim else slope_j
            log_p, log_q = log_pair(nodes, d50_j[:, None], slope_j)
            if inputs.log_weights.size > 1:
                log_w = pt.as_tensor_variable(inputs.log_weights)[None, :]
                log_p = pt.logsumexp(log_p + log_w, axis=1)
                log_q = pt.logsumexp(log_q + log_w, axis=1)
            else:
                log_p, log_q = log_p[:, 0], log_q[:, 0]
            log_choose = pm.Data("agg_log_choose", _log_choose(inputs.agg_n, inputs.agg_events))
            pm.CustomDist(
                "y_agg", n, log_p, log_q, log_choose, logp=_binomial_logp,
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


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


# ---------------------------------------------------------------------------- helpers


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


def _check_compatible(spec: ModelSpec, data: DoseResponseData) -> None:
    if not isinstance(data, DoseResponseData):
        raise DoseResponseError(
            f"data must be a DoseResponseData (build it with DoseResponseData.from_frame); "
            f"got {type(data).__name__}."
        )
    missing = [c for c in spec.covariates if c not in data.covariates]
    missing += [c for c in spec.study_covariates if c not in data.study_covariates]
    if missing:
        raise DoseResponseError(
            f"covariates {missing} are not in the data; the data has patient covariates "
            f"{list(data.covariates)} and study covariates {list(data.study_covariates)}."
        )
    if (spec.dose_metric, spec.dose_unit) != (data.dose_metric, data.dose_unit):
        raise DoseResponseError(
            f"the model was specified for dose metric {spec.dose_metric!r} in "
            f"{spec.dose_unit!r} but the data has {data.dose_metric!r} in {data.dose_unit!r}; "
            "convert the doses or respecify the model."
        )


def _covariate_matrix(frame: pd.DataFrame, covariates: tuple[str, ...]) -> np.ndarray:
    if not covariates:
        return np.zeros((len(frame), 0))
    return frame[list(covariates)].to_numpy(dtype=np.float64, na_value=np.nan)


def _aggregate_nodes(spec: ModelSpec, data: DoseResponseData) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature doses per aggregate bin and log weights (see :func:`bin_log_normal`)."""
    agg = data.aggregate
    k = spec.quadrature_nodes if spec.aggregate_integration == "gauss-hermite" else 1
    x, w = np.polynomial.hermite_e.hermegauss(k)
    log_w = np.log(w / w.sum())
    dose = agg["dose"].to_numpy(dtype=np.float64)
    if k == 1 or dose.size == 0:
        return np.repeat(dose[:, None], k, axis=1), log_w
    mu, sigma = bin_log_normal(agg, median_reported=data.dose_summary != "mean")
    spread = sigma > 0
    nodes = np.repeat(dose[:, None], k, axis=1)
    nodes[spread] = np.exp(mu[spread, None] + sigma[spread, None] * x[None, :])
    return nodes, log_w


def bin_log_normal(agg: pd.DataFrame, *, median_reported: bool) -> tuple[np.ndarray, np.ndarray]:
    r"""Log-normal dose distribution (μ, σ of log dose) of each aggregate bin.

    Parameters
    ----------
    agg : pandas.DataFrame
        Aggregate rows with ``dose``, ``dose_sd``, ``dose_low``, ``dose_high``, ``n``.
    median_reported : bool
        True when ``dose`` is a median or midpoint (then :math:`\mu = \ln d`), False when it is a
        mean (then :math:`\mu = \ln d - \sigma^2/2`).

    Returns
    -------
    mu, sigma : numpy.ndarray
        ``sigma = 0`` where no spread is reported (the curve is then evaluated at ``dose``).

    Notes
    -----
    From an SD: :math:`\sigma^2 = \ln(1 + (\mathrm{SD}/d)^2)` (moments of the log-normal).
    From a range [low, high] of *n* patients (both > 0):
    :math:`\sigma = (\ln\text{high} - \ln\text{low})/\xi(n)`,
    :math:`\xi(n) = 2\Phi^{-1}((n - 0.375)/(n + 0.25))`, the expected range of *n* standard
    normal draws (Wan X, Wang W, Liu J, Tong T 2014 BMC Med Res Methodol 14:135), applied to
    log dose.
    """
    dose = agg["dose"].to_numpy(dtype=np.float64)
    sd = agg["dose_sd"].to_numpy(dtype=np.float64, na_value=np.nan)
    low = agg["dose_low"].to_numpy(dtype=np.float64, na_value=np.nan)
    high = agg["dose_high"].to_numpy(dtype=np.float64, na_value=np.nan)
    n = agg["n"].to_numpy(dtype=np.float64)
    sigma = np.zeros_like(dose)
    with np.errstate(divide="ignore", invalid="ignore"):
        from_sd = np.isfinite(sd) & (sd > 0) & (dose > 0)
        sigma[from_sd] = np.sqrt(np.log1p((sd[from_sd] / dose[from_sd]) ** 2))
        from_range = ~from_sd & np.isfinite(low) & np.isfinite(high) & (low > 0) & (high > low)
        n_eff = np.maximum(n[from_range], 2.0)
        xi = 2.0 * special.ndtri((n_eff - 0.375) / (n_eff + 0.25))
        sigma[from_range] = (np.log(high[from_range]) - np.log(low[from_range])) / xi
        mu = np.log(np.where(dose > 0, dose, np.nan))
    if not median_reported:
        mu = mu - sigma**2 / 2.0
    return mu, sigma
