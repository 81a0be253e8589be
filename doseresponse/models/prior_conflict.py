r"""Prior–data conflict check: whether the data disagree with the priors on D50 and slope.

An informative prior (for instance one transferred from external-beam radiotherapy,
:mod:`doseresponse.models.literature_priors`) can disagree with the RPT data. The check here is
Box's prior predictive p-value (Box GEP 1980 J R Stat Soc A 143:383) for a statistic that
carries the data's information on the curve: the maximum-likelihood estimate
:math:`\hat\theta = (\ln\hat D_{50}, \ln\hat s)` of the pooled data (complete pooling, the
model's covariates and background included). Under the prior predictive distribution, to the
normal (large-sample) approximation,

.. math::

    \hat\theta \sim N(\mu_0,\ \Sigma_0 + \hat V), \qquad
    M = (\hat\theta - \mu_0)^\top (\Sigma_0 + \hat V)^{-1} (\hat\theta - \mu_0)
    \sim \chi^2_2,

with :math:`\mu_0, \Sigma_0` the log-normal priors' medians and variances (plus the prior mean
of :math:`\tau^2/S` on :math:`\ln D_{50}` under partial pooling over :math:`S` studies, since the
pooled estimate averages the study effects) and :math:`\hat V` the inverse observed
information. The p-value is :math:`P(\chi^2_2 \ge M)`; small values (< 0.05) flag a conflict.
The per-parameter versions are :math:`z = (\hat\theta_j - \mu_{0j})/\sqrt{\Sigma_{0jj} +
\hat V_{jj}}` with two-sided normal p-values. This is the conflict measure of Evans M,
Moshonov H 2006 Bayesian Anal 1:893 with the ML estimate as the (asymptotically sufficient)
statistic, and the "conflict p-value" comparing two independent sources of evidence of
Presanis AM, Ohlssen D, Spiegelhalter DJ, De Angelis D 2013 Stat Sci 28:376.

With an estimated literature weight (the normalised power prior,
:mod:`doseresponse.models.power_prior`) the prior checked is the literature at face value,
:math:`\theta \mid a_0 = 1` (historical estimate combined with the initial prior): the check
then asks whether the data disagree with the literature curve, and the posterior of
:math:`a_0`, reported on the next line, says how much the fit discounted it.

Limitations (stated in every report): the normal approximation needs an ML estimate that
exists (events at more than one dose, no complete separation); the check uses the pooled
curve, not the study-level structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from doseresponse.exceptions import DoseResponseError, FitError
from doseresponse.models.power_prior import POWER_PRIOR_KEY, conditional_normal, power_prior_note

__all__ = ["CONFLICT_LEVEL", "PriorDataConflict", "conflict_note", "prior_data_conflict"]

CONFLICT_LEVEL = 0.05
"""p-values below this are reported as a prior–data conflict."""

METHOD = (
    "Box (1980) prior predictive p-value of the ML estimate (ln D50, ln slope), normal "
    "approximation, chi-squared with 2 df"
)


@dataclass(frozen=True)
class PriorDataConflict:
    r"""Result of :func:`prior_data_conflict`.

    Attributes
    ----------
    statistic : float
        Mahalanobis statistic :math:`M` (dimensionless).
    df : int
        Degrees of freedom (2: ln D50 and ln slope).
    p_value : float
        :math:`P(\chi^2_{df} \ge M)`.
    table : pandas.DataFrame
        Per parameter (index ``d50``, slope name): ``prior_median``, ``data_estimate`` (ML),
        ``z`` and ``p_value`` (two-sided).
    method : str
        How it was computed.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    method: str = METHOD

    @property
    def conflict(self) -> bool:
        """Whether ``p_value`` is below :data:`CONFLICT_LEVEL`."""
        return self.p_value < CONFLICT_LEVEL

    def describe(self) -> str:
        """One-line verdict with the p-values, naming the parameter that conflicts most.

        Returns
        -------
        str
        """
        worst = self.table["p_value"].idxmin()
        row = self.table.loc[worst]
        head = "PRIOR-DATA CONFLICT" if self.conflict else "no prior-data conflict"
        return (
            f"{head}: prior predictive p = {self.p_value:.3g} (M = {self.statistic:.3g}, "
            f"{self.df} df); {worst}: prior median {row['prior_median']:.4g}, data (ML) "
            f"{row['data_estimate']:.4g}, p = {row['p_value']:.3g}"
            + (" - the posterior is a compromise between sources that disagree; check the "
               "prior's transfer assumptions or discount it more (smaller a0)"
               if self.conflict else "")
        )


def prior_data_conflict(spec: Any, data: Any) -> PriorDataConflict:
    """Prior predictive check of the model's D50 and slope priors against the data.

    Parameters
    ----------
    spec : ModelSpec
        The model (:class:`~doseresponse.models.spec.ModelSpec`) with its resolved priors.
    data : DoseResponseData
        The data the model is fitted to.

    Returns
    -------
    PriorDataConflict

    Raises
    ------
    FitError
        The pooled maximum-likelihood estimate does not exist or did not converge.
    DoseResponseError
        Pooling ``"none"`` (no population prior to check).

    Notes
    -----
    See the module docstring (Box 1980; Evans & Moshonov 2006; Presanis et al. 2013).
    """
    if spec.pooling == "none":
        raise DoseResponseError(
            "the prior-data conflict check needs population parameters; the model has "
            "pooling='none'."
        )
    covariates = list(spec.all_covariates)
    from doseresponse.models.ml import fit_ml

    fit = fit_ml(data, spec.curve, covariates=covariates or None,
                 background=bool(getattr(spec, "background", False)))
    theta = fit.theta.to_numpy()[:2]
    v_hat = fit.covariance.to_numpy()[:2, :2]
    if not np.all(np.isfinite(v_hat)):
        raise FitError("the pooled maximum-likelihood fit has no finite covariance.")
    priors = spec.priors
    mu = np.array([math.log(priors["d50"]["median"]), math.log(priors["slope"]["median"])])
    var = np.array([priors["d50"]["sigma"] ** 2, priors["slope"]["sigma"] ** 2])
    method = METHOD
    power = priors.get(POWER_PRIOR_KEY)
    if power is not None:  # estimated a0: check the literature at face value (a0 = 1)
        for j, key in enumerate(("d50", "slope")):
            mean, sd = conditional_normal(1.0, math.log(power[key]["median"]),
                                          power[key]["sigma"], mu[j], math.sqrt(var[j]))
            mu[j], var[j] = float(mean), float(sd) ** 2
        method = METHOD + "; prior: the literature curve at face value (a0 = 1)"
    n_study = max(len(data.studies), 1)
    if spec.pooling == "partial":
        var[0] += priors["tau"]["sigma"] ** 2 / n_study  # E[tau^2] of a half-normal = sigma^2
    total = np.diag(var) + v_hat
    diff = theta - mu
    statistic = float(diff @ np.linalg.solve(total, diff))
    p_value = float(stats.chi2.sf(statistic, df=2))
    z = diff / np.sqrt(np.diag(total))
    table = pd.DataFrame(
        {
            "prior_median": np.exp(mu),
            "data_estimate": np.exp(theta),
            "z": z,
            "p_value": 2.0 * stats.norm.sf(np.abs(z)),
        },
        index=pd.Index(["d50", spec.slope_name], name="parameter"),
    )
    return PriorDataConflict(statistic=statistic, df=2, p_value=p_value, table=table,
                             method=method)


def conflict_note(fit: Any) -> list[str]:
    """Summary line of the prior–data conflict check of a fitted model.

    Parameters
    ----------
    fit : FittedModel
        A :class:`~doseresponse.models.results.FittedModel`.

    Returns
    -------
    list of str
        The verdict, or why the check could not be made; with an estimated literature weight
        a second line with the posterior of a0
        (:func:`~doseresponse.models.power_prior.power_prior_note`).
    """
    weight = power_prior_note(fit)
    try:
        result = prior_data_conflict(fit.spec, fit.data)
    except (DoseResponseError, FitError, np.linalg.LinAlgError) as exc:
        # the summary must not fail because the check cannot be made; it says why instead
        return [f"prior-data conflict check not available: {exc}", *weight]
    source = fit.spec.priors.get("d50", {}).get("source")
    against = " (against the literature at face value, a0 = 1)" if weight else ""
    return [result.describe() + against + (f" [D50 prior: {source}]" if source else ""),
            *weight]
