r"""Maximum-likelihood fits with a background risk: :math:`P(D) = b + (1 - b)\,F(D)`.

:func:`fit_ml_background` fits any registered curve family :math:`F` together with a
dose-independent background risk :math:`b \in [0, 1)` (Abbott WS 1925 J Econ Entomol 18:265;
the background parameter of US EPA BMDS's dichotomous models) by maximum likelihood, with
complete pooling and optional dose-modifying covariates on D50, as
:func:`~doseresponse.models.ml.fit_ml` does for the families without a background.
Tolerance and benchmark doses are **extra risk** (BMDS): TD\ :sub:`p` solves
:math:`(P(D) - b)/(1 - b) = F(D) = p`; their confidence limits come from the profile
likelihood, as in BMDS.

Parametrisation: :math:`\theta = (\ln D_{50}, \ln s, \varphi, \beta)` with
:math:`b = \varphi^2/(1 + \varphi^2)`, so that the boundary :math:`b = 0` (a common MLE when the
control group has no events) is an interior point of the optimisation and needs no constraint.
When :math:`\hat b = 0` the background is "at its bound": as BMDS does, it is not counted in
the AIC and has no standard error.

Units: doses in the unit of the dose metric (Gy, Gy BED, Gy EQD2); probabilities dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from doseresponse._stats import check_ci_prob
from doseresponse._validation import as_float_array, check_probability
from doseresponse.exceptions import DoseResponseError, FitError
from doseresponse.models._profile import _BIG, minimise, newton_polish, profile_interval
from doseresponse.models.curves import CurveFamily, get_curve_family, log_pair
from doseresponse.models.result_types import DEFAULT_CI_PROB, ML_POOLED, DoseAt

__all__ = ["BackgroundMLFit", "fit_ml_background"]

FloatArray = NDArray[np.float64]
_AT_BOUND = 1e-8
"""Background estimates below this are reported as 0 (at the boundary)."""


def _background(phi: float) -> float:
    return phi * phi / (1.0 + phi * phi)


def _loglik(family: CurveFamily, dose, events, n, log_d50, slope: float, b: float) -> float:
    """Binomial kernel log-likelihood of b + (1 - b) F (no binomial coefficients)."""
    with np.errstate(all="ignore"):
        log_f, log_g = log_pair(family.name, dose, np.exp(log_d50), slope)
        if b > 0.0:
            log_p = np.logaddexp(math.log(b), math.log1p(-b) + log_f)
            log_q = math.log1p(-b) + log_g
        else:
            log_p, log_q = log_f, log_g
        rest = n - events
        terms = np.where(events > 0, events * log_p, 0.0) + np.where(rest > 0, rest * log_q, 0.0)
    return float(np.sum(terms))


@dataclass(frozen=True, eq=False)
class BackgroundMLFit:
    r"""Result of :func:`fit_ml_background`.

    Attributes
    ----------
    family : CurveFamily
        The curve family :math:`F`.
    params : pandas.Series
        ``"d50"`` (dose unit) and the slope of :math:`F`, ``"background"`` (b) and
        ``"factor_<covariate>"``.
    theta : pandas.Series
        Estimation scale: ``"log_d50"``, ``"log_<slope>"``, ``"phi"``
        (:math:`b = \varphi^2/(1+\varphi^2)`), ``"beta_<cov>"``.
    covariance : pandas.DataFrame
        Inverse observed information of ``theta``.
    loglik : float
        Maximised binomial kernel log-likelihood (no binomial coefficients, as BMDS).
    aic : float
        :math:`-2\ell + 2k`, with :math:`k` not counting a background at its bound (BMDS).
    at_bound : bool
        Whether :math:`\hat b = 0` (the background is at its lower bound).
    dose_unit, dose_metric : str
        Unit and metric of the doses.
    """

    family: CurveFamily
    params: pd.Series
    theta: pd.Series
    covariance: pd.DataFrame
    loglik: float
    aic: float
    at_bound: bool
    dose_unit: str
    dose_metric: str
    _rows: tuple = field(repr=False)

    @property
    def background(self) -> float:
        """The estimated background risk b (dimensionless)."""
        return float(self.params["background"])

    def __repr__(self) -> str:
        p = self.params
        return (
            f"BackgroundMLFit({self.family.name}: d50={p['d50']:.4g} {self.dose_unit}, "
            f"{self.family.slope_name}={p[self.family.slope_name]:.4g}, background="
            f"{self.background:.4g}{' (at bound)' if self.at_bound else ''}, "
            f"loglik={self.loglik:.4f})"
        )

    def probability(self, dose: ArrayLike) -> FloatArray:
        """Total response probability :math:`b + (1-b)F(D)` at covariates 0.

        Parameters
        ----------
        dose : array_like
            Doses (dose unit), >= 0.

        Returns
        -------
        numpy.ndarray
        """
        dose = as_float_array(dose, "dose", nonnegative=True, unit=self.dose_unit)
        f = self.family.probability(dose, self.params["d50"], self.params[self.family.slope_name])
        return self.background + (1.0 - self.background) * f

    def dose_at(
        self, p: float, ci_prob: float = DEFAULT_CI_PROB, *, method: str = "profile"
    ) -> DoseAt:
        r"""Dose at extra risk ``p`` (TDp, or the BMD at BMR ``p``) with a confidence interval.

        Parameters
        ----------
        p : float
            Extra risk :math:`(P(D) - b)/(1 - b)` in (0, 1), e.g. 0.1 for BMDS's BMR 10 %.
        ci_prob : float
            Two-sided confidence level (BMDS reports BMDL/BMDU at 0.90).
        method : {"profile", "delta"}
            Profile likelihood (BMDS) or the delta method on log dose.

        Returns
        -------
        DoseAt
            A confidence result (``interval="confidence"``, ``extra_risk=True``).

        Notes
        -----
        Every family is a scale family in :math:`D/D_{50}`, so :math:`TD_p = D_{50}\,r_p(s)`
        with :math:`r_p(s)` = the family's dose at ``p`` for :math:`D_{50} = 1`; the profile
        fixes :math:`t = \ln TD_p` and maximises over the slope, background and covariates
        (Venzon DJ, Moolgavkar SH 1988 Appl Stat 37:87; US EPA 2012 Benchmark Dose Technical
        Guidance §2.3).
        """
        p = float(check_probability(p, "p"))
        ci_prob = check_ci_prob(ci_prob)
        if method not in ("profile", "delta"):
            raise DoseResponseError(f"method must be 'profile' or 'delta'; got {method!r}.")
        family, theta = self.family, self.theta.to_numpy()

        def log_ratio(log_slope: float) -> float:
            return float(np.log(family.dose_at(p, 1.0, math.exp(log_slope))))

        t_hat = theta[0] + log_ratio(theta[1])
        grad = np.zeros(theta.size)
        h = 1e-6
        grad[0] = 1.0
        grad[1] = (log_ratio(theta[1] + h) - log_ratio(theta[1] - h)) / (2 * h)
        cov = self.covariance.to_numpy()
        se = float(math.sqrt(max(grad @ cov @ grad, 0.0))) if np.all(np.isfinite(cov)) else 0.1
        if method == "delta":
            z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
            estimate, lower, upper = (math.exp(t_hat), math.exp(t_hat - z * se),
                                      math.exp(t_hat + z * se))
        else:
            negloglik = _negloglik(family, *self._rows)

            def negloglik_at(t: float, nuisance: FloatArray) -> float:
                log_slope = nuisance[0]
                try:
                    log_d50 = t - log_ratio(log_slope)
                except DoseResponseError:
                    return _BIG
                return negloglik(np.concatenate([[log_d50], nuisance]))

            result = profile_interval(
                negloglik_at, t_hat, theta[1:], -self.loglik, ci_prob, max(se, 1e-3)
            )
            estimate, lower, upper = result.estimate, result.lower, result.upper
        return DoseAt(
            p=p, which=ML_POOLED, metric=self.dose_metric, unit=self.dose_unit,
            ci_prob=ci_prob, label=f"TD{100 * p:g}", mean=math.nan, median=estimate,
            lower=lower, upper=upper, draws=np.empty(0), covariates={},
            interval="confidence",
            method="profile likelihood" if method == "profile" else "delta method (log dose)",
            extra_risk=True,
        )


def _negloglik(family: CurveFamily, dose, events, n, x):
    def negloglik(theta: FloatArray) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        if not np.all(np.isfinite(theta)) or abs(theta[1]) > 50 or abs(theta[2]) > 1e4:
            return _BIG
        log_d50 = theta[0] + x @ theta[3:]
        value = -_loglik(family, dose, events, n, log_d50, math.exp(theta[1]),
                         _background(theta[2]))
        return value if np.isfinite(value) else _BIG

    return negloglik


def fit_ml_background(
    data: Any = None,
    curve: str = "log-logistic",
    *,
    dose: ArrayLike | None = None,
    events: ArrayLike | None = None,
    n: ArrayLike | None = None,
    covariates: Sequence[str] | Mapping[str, ArrayLike] | None = None,
    strict: bool = True,
) -> BackgroundMLFit:
    r"""Maximum-likelihood fit of :math:`b + (1 - b)F(D)` for a curve family :math:`F`.

    Parameters
    ----------
    data : DoseResponseData, optional
        Patient rows and/or dose-group rows (all studies pooled); or give arrays.
    curve : str
        A registered family (``"log-logistic"`` default; ``"cloglog"`` is BMDS's Weibull).
    dose, events, n : array_like, optional
        Array input: dose per row (dose unit, >= 0), responders, number at risk (default 1).
    covariates : sequence of str or mapping, optional
        Dose-modifying covariates on D50 (as :func:`~doseresponse.models.ml.fit_ml`).
    strict : bool, default True
        Raise :class:`~doseresponse.exceptions.FitError` when the optimum fails the
        convergence checks; else return it with an infinite covariance.

    Returns
    -------
    BackgroundMLFit

    Raises
    ------
    DoseResponseError
        Invalid data (as :func:`~doseresponse.models.ml.fit_ml`).
    FitError
        The optimum was not found or is not a proper maximum.

    Notes
    -----
    Likelihood :math:`\ell = \sum_i y_i\ln P_i + (n_i - y_i)\ln(1 - P_i)` with
    :math:`\ln P = \operatorname{logaddexp}(\ln b, \ln(1-b) + \ln F)` and
    :math:`\ln(1 - P) = \ln(1 - b) + \ln(1 - F)`; :math:`\ln F`, :math:`\ln(1-F)` are the
    package's one implementation of each family (``doseresponse.models._curve_kernel``).
    Starting values: D50 and slope of the fit without a background
    (:func:`~doseresponse.models.ml.fit_ml`) or the median dose, with :math:`b = 0.01` or the
    lowest-dose group's observed rate (never :math:`\varphi = 0`, a stationary point).

    Examples
    --------
    >>> fit = fit_ml_background(dose=[0, 50, 100, 150, 200], events=[0, 5, 30, 65, 90],
    ...                         n=[100] * 5, curve="log-logistic")
    >>> round(fit.dose_at(0.1).estimate, 1)  # US EPA BMDS log-logistic BMD: 68.361 (+/- 0.5)
    68.2
    """
    from doseresponse.models.ml import _as_design, fit_ml

    family = get_curve_family(curve)
    design = _as_design(data, dose, events, n, covariates)
    rows = (design.dose, design.events, design.n, design.x)
    negloglik = _negloglik(family, *rows)
    k = design.x.shape[1]
    starts = []
    try:
        base = fit_ml(dose=design.dose, events=design.events, n=design.n, curve=family.name,
                      strict=False) if k == 0 else None
    except (DoseResponseError, FitError):
        base = None
    low = design.dose <= np.min(design.dose) + 1e-12
    rate0 = float(np.clip(design.events[low].sum() / design.n[low].sum(), 0.0, 0.9))
    d50_guess = float(np.median(design.dose[design.dose > 0])) if np.any(design.dose > 0) else 1.0
    centres = [] if base is None else [base.theta.to_numpy()[:2]]
    slope_guess = 0.4 if family.slope_name == "m" else 1.0
    centres += [np.array([math.log(d50_guess), math.log(slope_guess)])]
    for centre in centres:
        # phi = 0 is a stationary point of the even likelihood (the optimiser would never leave
        # it), so every start has phi > 0: b = 0.01 and the lowest-dose group's rate
        for phi in (0.1, math.sqrt(rate0 / (1.0 - rate0)) if rate0 > 0 else 0.3):
            starts.append(np.concatenate([centre, [phi], np.zeros(k)]))
    best = min(starts, key=negloglik)
    theta, _ = minimise(negloglik, best)
    theta, hess, decrement = newton_polish(negloglik, theta)
    value = negloglik(theta)
    b_hat = _background(theta[2])
    at_bound = b_hat < _AT_BOUND
    if at_bound:  # exactly at the bound: phi = 0 (the likelihood is even in phi)
        theta[2] = 0.0
        value = negloglik(theta)
        b_hat = 0.0
    converged = bool(value < _BIG and np.isfinite(decrement) and decrement < 1e-6)
    cov = np.full((theta.size, theta.size), np.nan)
    if converged:
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        message = (
            f"the maximum-likelihood fit of the {family.name} curve with a background did not "
            f"converge (D50 = {math.exp(theta[0]):.4g}, background = {b_hat:.4g}, Newton "
            f"decrement {decrement:.3g}); the data may not identify the background (no "
            "low-dose rows) or the slope (complete separation). Try the Bayesian fit, "
            "NTCPModel(background=True), whose prior regularises b."
        )
        if strict:
            raise FitError(message)
    slope = family.slope_name
    names = ["log_d50", f"log_{slope}", "phi"] + [f"beta_{c}" for c in design.covariate_names]
    params = pd.Series(
        [math.exp(theta[0]), math.exp(theta[1]), b_hat, *np.exp(theta[3:])],
        index=["d50", slope, "background"] + [f"factor_{c}" for c in design.covariate_names],
        name="estimate",
    )
    loglik = -float(value)
    n_params = theta.size - (1 if at_bound else 0)
    return BackgroundMLFit(
        family=family,
        params=params,
        theta=pd.Series(theta, index=names, name="estimate"),
        covariance=pd.DataFrame(cov, index=names, columns=names),
        loglik=loglik,
        aic=-2.0 * loglik + 2.0 * n_params,
        at_bound=at_bound,
        dose_unit=design.dose_unit,
        dose_metric=design.dose_metric or "dose",
        _rows=rows,
    )
