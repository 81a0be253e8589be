r"""Numeric design of a hierarchical TCP/NTCP model: arrays from a spec and a cohort (numpy).

Everything the fast path (the log density of :mod:`doseresponse.models.density`), the pointwise
log-likelihood and posterior predictive checks (:mod:`doseresponse.models.checks`) and the PyMC
oracle (:mod:`doseresponse.models.hierarchical`) need from the data is computed here once:
patient doses, study codes, outcomes and covariates; the Gauss–Hermite dose nodes of aggregate
bins (:func:`bin_log_normal`); the log-scale SD of each measured dose. This module imports
neither PyMC nor PyTensor, so fitting with the default sampler and checking a loaded fit stay
free of them.

Units: doses in the dose metric's unit (Gy, Gy BED, Gy EQD2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.spec import ModelSpec

__all__ = ["ModelInputs", "bin_log_normal", "log_choose", "model_inputs"]


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


def log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""Log binomial coefficient :math:`\ln\binom{n}{k}` via :func:`scipy.special.gammaln`.

    Parameters
    ----------
    n, k : numpy.ndarray
        Number at risk and number of events (counts).

    Returns
    -------
    numpy.ndarray
    """
    return special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)


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
