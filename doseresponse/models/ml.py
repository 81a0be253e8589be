r"""Maximum-likelihood (frequentist) dose-response fits with complete pooling.

:func:`fit_ml` fits one registered curve family (:data:`~doseresponse.models.curves.CURVE_FAMILIES`)
to binomial data — patient-level outcomes, per-dose-group counts, or both — treating every study as
one population (complete pooling). Optional covariates act as dose-modifying factors on D50:
:math:`\ln D_{50,i} = \ln D_{50} + \sum_k \beta_k x_{ik}`, reported as factors :math:`e^{\beta_k}`.

The result, :class:`MLFit`, gives Wald summaries, delta-method confidence bands
(:meth:`MLFit.curve` → :class:`~doseresponse.models.result_types.CurveBand`), profile-likelihood
or delta-method intervals for the dose at a given response (:meth:`MLFit.dose_at` →
:class:`~doseresponse.models.result_types.DoseAt`), benchmark doses (BMD/BMDL/BMDU as in US EPA
BMDS, :meth:`MLFit.benchmark_dose` → :class:`~doseresponse.models.result_types.BenchmarkDose`),
and a Pearson goodness-of-fit test. :func:`compare_ml` tabulates AIC/BIC. The curve and dose
results are the types the Bayesian fits return, marked ``interval="confidence"`` with the
method named; their ``estimate`` is the MLE. Interval levels default to
:data:`~doseresponse.models.result_types.DEFAULT_CI_PROB` (0.95), except BMDL/BMDU, which follow
the BMDS convention 0.90 (two one-sided 95 % limits).

Where a family is a binomial GLM (logistic and probit in dose; log-logistic and Weibull/cloglog in
log dose; Poisson TCP as a complementary log-log model of *non*-response in dose) the fit is made
with :mod:`statsmodels`; otherwise (covariates with a dose-linear family) with :mod:`scipy`. The
two engines give the same optimum (the tests check it). Derivations are in
``docs/theory/maximum_likelihood.md``.

``fit_ml(..., background=True)`` adds a background (zero-dose) risk,
:math:`P(D) = b + (1 - b)F(D)`, fitted by
:func:`~doseresponse.models.ml_background.fit_ml_background` (tolerance doses are then extra
risk, as in US EPA BMDS).

Units: doses in the unit of the dose metric (Gy, Gy BED, Gy EQD2); probabilities dimensionless.
Dose measurement error (``dose_se``) is ignored here — the Bayesian models account for it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from doseresponse._stats import check_ci_prob
from doseresponse._validation import as_float_array, check_probability, check_scalar
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, FitError
from doseresponse.models._profile import (
    _BIG,
    minimise,
    newton_polish,
    profile_interval,
)
from doseresponse.models.curves import CurveFamily, get_curve_family
from doseresponse.models.ml_background import BackgroundMLFit, fit_ml_background
from doseresponse.models.result_types import (
    DEFAULT_CI_PROB,
    ML_POOLED,
    BenchmarkDose,
    CurveBand,
    DoseAt,
)

__all__ = ["BMDS_CI_PROB", "MLFit", "compare_ml", "fit_ml"]

FloatArray = NDArray[np.float64]
_LN2 = math.log(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: Families that are binomial GLMs, with their link, dose scale and whether the GLM models the
#: probability of *non*-response (see docs/theory/maximum_likelihood.md for the mappings).
_GLM_SPEC: dict[str, tuple[str, str, bool]] = {
    "logistic": ("logit", "dose", False),
    "probit": ("probit", "dose", False),
    "log-logistic": ("logit", "log", False),
    "cloglog": ("cloglog", "log", False),
    "poisson": ("cloglog", "dose", True),
}
#: Link scale used for delta-method confidence bands of the curve.
_BAND_LINK = {
    "logistic": "logit",
    "log-logistic": "logit",
    "probit": "probit",
    "cloglog": "cloglog",
    "poisson": "loglog",
}
#: ``kind`` of ML results: the fit is not told whether the response is a toxicity or a control.
_ML_KIND = "response"
#: ``method`` text of the dose intervals, by the ``method=`` argument.
_DOSE_METHOD = {"profile": "profile likelihood", "delta": "delta method (log dose)"}
#: BMDS convention: two-sided 90 % intervals, so BMDL and BMDU are one-sided 95 % limits.
BMDS_CI_PROB = 0.90


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    """Binomial rows used by the likelihood: dose, events, trials and covariates."""

    dose: FloatArray
    events: FloatArray
    n: FloatArray
    x: FloatArray  # (rows, K) covariate matrix
    covariate_names: tuple[str, ...]
    dose_unit: str
    dose_metric: str | None


def _as_design(
    data: Any,
    dose: ArrayLike | None,
    events: ArrayLike | None,
    n: ArrayLike | None,
    covariates: Sequence[str] | Mapping[str, ArrayLike] | None,
) -> _Design:
    if data is not None:
        if dose is not None or events is not None or n is not None:
            raise DoseResponseError(
                "pass either data= (a DoseResponseData) or the arrays dose=, events=, n=, not "
                "both."
            )
        return _design_from_data(data, covariates)
    if dose is None or events is None:
        raise DoseResponseError(
            "no data: pass a DoseResponseData as the first argument, or arrays dose= and events= "
            "(and n=, the number at risk per row; n defaults to 1, i.e. 0/1 outcomes)."
        )
    dose_arr = as_float_array(dose, "dose", nonnegative=True, unit="Gy", ndim=1)
    events_arr = as_float_array(events, "events", nonnegative=True, ndim=1)
    n_arr = (
        np.ones_like(events_arr)
        if n is None
        else as_float_array(n, "n", positive=True, ndim=1)
    )
    if not dose_arr.size == events_arr.size == n_arr.size:
        raise DoseResponseError(
            f"dose, events and n must have the same length; got {dose_arr.size}, "
            f"{events_arr.size} and {n_arr.size}."
        )
    if isinstance(covariates, Mapping):
        names = tuple(str(k) for k in covariates)
        cols = [
            as_float_array(v, f"covariates[{k!r}]", ndim=1) for k, v in covariates.items()
        ]
        for name, col in zip(names, cols, strict=True):
            if col.size != dose_arr.size:
                raise DoseResponseError(
                    f"covariates[{name!r}] has {col.size} values but dose has {dose_arr.size}; "
                    "give one value per row."
                )
        x = np.column_stack(cols) if cols else np.empty((dose_arr.size, 0))
    elif covariates is None or len(covariates) == 0:
        names, x = (), np.empty((dose_arr.size, 0))
    else:
        raise DoseResponseError(
            "with array input, covariates= must be a mapping {name: values per row}; got "
            f"{type(covariates).__name__}."
        )
    return _checked(_Design(dose_arr, events_arr, n_arr, x, names, "Gy", None))


def _design_from_data(data: Any, covariates: Any) -> _Design:
    if not (hasattr(data, "ipd") and hasattr(data, "aggregate")):
        raise DoseResponseError(
            f"data must be a DoseResponseData (see DoseResponseData.from_frame); got "
            f"{type(data).__name__}. For plain arrays use fit_ml(curve, dose=..., events=..., "
            "n=...)."
        )
    if covariates is None:
        names: tuple[str, ...] = ()
    elif isinstance(covariates, str):
        names = (covariates,)
    elif isinstance(covariates, Mapping):
        raise DoseResponseError(
            "with a DoseResponseData, covariates= must be a list of column names (from "
            "data.covariates), not a mapping."
        )
    else:
        names = tuple(str(c) for c in covariates)
    known = tuple(getattr(data, "covariates", ()) or ()) + tuple(
        getattr(data, "study_covariates", ()) or ()
    )
    missing = [c for c in names if c not in known]
    if missing:
        raise DoseResponseError(
            f"covariates {missing} are not covariates of the data; available: {list(known)}. "
            "Declare them with DoseResponseData.from_frame(..., covariates=[...]) or "
            "study_covariates=[...]."
        )
    parts = []
    ipd = data.ipd
    if ipd is not None and len(ipd) > 0:
        part = pd.DataFrame(
            {"dose": ipd["dose"].to_numpy(float), "events": ipd["outcome"].to_numpy(float)}
        )
        part["n"] = 1.0
        for c in names:
            part[c] = ipd[c].to_numpy(float)
        parts.append(part)
    agg = data.aggregate
    if agg is not None and len(agg) > 0:
        part = pd.DataFrame(
            {
                "dose": agg["dose"].to_numpy(float),
                "events": agg["events"].to_numpy(float),
                "n": agg["n"].to_numpy(float),
            }
        )
        for c in names:
            part[c] = agg[c].to_numpy(float)
        parts.append(part)
    if not parts:
        raise DoseResponseError("the DoseResponseData has no rows; there is nothing to fit.")
    frame = pd.concat(parts, ignore_index=True)
    for c in names:
        if frame[c].isna().any():
            raise DoseResponseError(
                f"covariate {c!r} has missing values in {int(frame[c].isna().sum())} rows; "
                "impute or drop them before an ML fit."
            )
    x = frame[list(names)].to_numpy(float) if names else np.empty((len(frame), 0))
    return _checked(
        _Design(
            as_float_array(frame["dose"].to_numpy(), "dose", nonnegative=True, unit="Gy"),
            as_float_array(frame["events"].to_numpy(), "events", nonnegative=True),
            as_float_array(frame["n"].to_numpy(), "n", positive=True),
            x,
            names,
            str(getattr(data, "dose_unit", "Gy") or "Gy"),
            getattr(data, "dose_metric", None),
        )
    )


def _checked(design: _Design) -> _Design:
    if design.dose.size == 0:
        raise DoseResponseError("the data are empty (0 rows); there is nothing to fit.")
    over = design.events > design.n * (1 + 1e-12)
    if over.any():
        i = int(np.argmax(over))
        raise DoseResponseError(
            f"events must not exceed n; row {i} has events = {design.events[i]:g} > "
            f"n = {design.n[i]:g}."
        )
    if np.unique(design.dose).size < 2:
        raise FitError(
            "all rows have the same dose; a dose-response curve needs at least two distinct "
            "doses."
        )
    if design.events.sum() <= 0 or np.all(design.events >= design.n):
        what = "no events" if design.events.sum() <= 0 else "only events"
        raise FitError(
            f"the data contain {what}; the maximum-likelihood estimate does not exist "
            "(D50 runs off to infinity or zero). Add data or use a Bayesian fit with priors."
        )
    for k, name in enumerate(design.covariate_names):
        if np.unique(design.x[:, k]).size < 2:
            raise FitError(
                f"covariate {name!r} is constant; its dose-modifying factor is not "
                "identifiable. Drop it from covariates=."
            )
    return design


# --------------------------------------------------------------------------------------------
# likelihood
# --------------------------------------------------------------------------------------------


def _probabilities(family: CurveFamily, dose: FloatArray, log_d50: FloatArray, slope: float):
    """Family probability, or ``None`` when the parameters are outside its domain."""
    with np.errstate(all="ignore"):
        d50 = np.exp(log_d50)
        if not np.all(np.isfinite(d50)) or np.any(d50 <= 0) or not (0 < slope < np.inf):
            return None
        try:
            return np.asarray(family.probability(dose, d50, slope), dtype=np.float64)
        except DoseResponseError:
            return None


def _kernel_loglik(p: FloatArray, events: FloatArray, n: FloatArray) -> float:
    with np.errstate(all="ignore"):
        return float(np.sum(special.xlogy(events, p) + special.xlogy(n - events, 1.0 - p)))


def _make_negloglik(family: CurveFamily, design: _Design):
    """Negative kernel log-likelihood of θ = (ln D50, ln slope, β1..βK)."""

    def negloglik(theta: FloatArray) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        if not np.all(np.isfinite(theta)) or abs(theta[1]) > 50:
            return _BIG
        log_d50 = theta[0] + design.x @ theta[2:]
        p = _probabilities(family, design.dose, log_d50, float(np.exp(theta[1])))
        if p is None:
            return _BIG
        value = -_kernel_loglik(p, design.events, design.n)
        return value if np.isfinite(value) else _BIG

    return negloglik


def _slope_from_gamma50(family: CurveFamily, gamma50: float) -> float:
    return 1.0 / (gamma50 * _SQRT_2PI) if family.slope_name == "m" else gamma50


def _start_values(family: CurveFamily, design: _Design) -> list[FloatArray]:
    frame = pd.DataFrame({"dose": design.dose, "events": design.events, "n": design.n})
    grouped = frame.groupby("dose", sort=True)[["events", "n"]].sum()
    doses = grouped.index.to_numpy(float)
    rate = (grouped["events"] / grouped["n"]).to_numpy()
    positive = doses[doses > 0]
    lo, hi = float(positive.min()), float(doses.max())
    if rate.max() < 0.5:
        d50 = 1.5 * hi
    elif rate.min() > 0.5:
        d50 = 0.5 * lo
    else:
        above = int(np.argmax(rate >= 0.5))
        if above == 0:
            d50 = doses[0] if doses[0] > 0 else 0.5 * lo
        else:
            d0, d1, r0, r1 = doses[above - 1], doses[above], rate[above - 1], rate[above]
            d50 = d0 + (0.5 - r0) * (d1 - d0) / (r1 - r0) if r1 > r0 else d1
        d50 = max(d50, 0.5 * lo)
    k = design.x.shape[1]
    starts = []
    for scale in (1.0, 0.5, 2.0):
        for gamma50 in (1.0, 0.3, 3.0):
            theta = np.zeros(2 + k)
            theta[0] = math.log(d50 * scale)
            theta[1] = math.log(_slope_from_gamma50(family, gamma50))
            starts.append(theta)
    return starts


def _glm_theta(family: CurveFamily, design: _Design) -> FloatArray:
    """MLE of θ via a statsmodels binomial GLM (only for the families in ``_GLM_SPEC``)."""
    import statsmodels.api as sm
    from statsmodels.genmod.families import links

    link_name, scale, flip = _GLM_SPEC[family.name]
    rows = np.ones(design.dose.size, dtype=bool)
    if scale == "log":
        # P(0) = 0 exactly: zero-dose rows without events add log(1) = 0 to the likelihood.
        rows = design.dose > 0
        dose_term = np.log(design.dose[rows])
    else:
        dose_term = design.dose
    exog = np.column_stack([np.ones(rows.sum()), dose_term, design.x[rows]])
    y, n = design.events[rows], design.n[rows]
    endog = np.column_stack([n - y, y]) if flip else np.column_stack([y, n - y])
    link = {"logit": links.Logit, "probit": links.Probit, "cloglog": links.CLogLog}[link_name]()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = sm.GLM(endog, exog, family=sm.families.Binomial(link=link)).fit(
            maxiter=200, tol=1e-12
        )
    if not result.converged or not np.all(np.isfinite(result.params)):
        raise FitError(
            f"the statsmodels GLM fit of the {family.name} curve did not converge; try "
            "method='scipy' or check the data for complete separation."
        )
    a, b = float(result.params[0]), float(result.params[1])
    c = np.asarray(result.params[2:], dtype=np.float64)
    try:
        with np.errstate(all="ignore"):
            slope, d50, beta = _glm_to_curve(family.name, a, b, c)
    except (ZeroDivisionError, OverflowError):
        slope = d50 = math.nan
        beta = np.zeros(0)
    if not (d50 > 0 and slope > 0):  # NaN too: a flat fit (b = 0) has no D50
        raise FitError(
            f"the GLM estimate corresponds to a decreasing or degenerate {family.name} curve "
            f"(D50 = {d50:.4g}, {family.slope_name} = {slope:.4g}); the data do not show an "
            "increasing dose response that this family can describe."
        )
    return np.concatenate([[math.log(d50), math.log(slope)], beta])


def _glm_to_curve(name: str, a: float, b: float, c: FloatArray):
    """GLM coefficients -> (slope, D50, beta); raises ZeroDivisionError/OverflowError if flat."""
    if name == "logistic":  # eta = -4g + (4g/D50) D
        gamma50, d50 = -a / 4.0, -a / b
        slope, beta = gamma50, np.zeros(0)
    elif name == "probit":  # eta = -1/m + D/(m D50)
        slope, d50, beta = -1.0 / a, -a / b, np.zeros(0)
    elif name == "log-logistic":  # eta = 4g (ln D - ln D50 - x beta)
        slope, d50, beta = b / 4.0, math.exp(-a / b) if b > 0 else -1.0, -c / b
    elif name == "cloglog":  # eta = ln ln2 + k (ln D - ln D50 - x beta), k = 2g/ln2
        slope = b * _LN2 / 2.0
        d50 = math.exp((math.log(_LN2) - a) / b) if b > 0 else -1.0
        beta = -c / b
    else:  # poisson: cloglog(1-P) = ln ln2 + k - (k/D50) D
        k = a - math.log(_LN2)
        slope, d50, beta = k * _LN2 / 2.0, -k / b, np.zeros(0)
    return slope, d50, beta


# --------------------------------------------------------------------------------------------
# fit result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MLFit:
    r"""Result of :func:`fit_ml`: a maximum-likelihood fit of one curve family.

    Attributes
    ----------
    family : CurveFamily
        The fitted curve family.
    params : pandas.Series
        Estimates on the natural scale: ``"d50"`` (dose unit), the slope (``"gamma50"`` or
        ``"m"``), and ``"factor_<covariate>"`` (dose-modifying factor :math:`e^{\beta}` per unit
        of the covariate; D50 refers to all covariates = 0).
    theta : pandas.Series
        The same on the estimation scale: ``"log_d50"``, ``"log_<slope>"``, ``"beta_<cov>"``.
    covariance : pandas.DataFrame
        Inverse observed information for ``theta``.
    loglik : float
        Maximised binomial *kernel* log-likelihood
        :math:`\sum_i [y_i\ln P_i + (n_i-y_i)\ln(1-P_i)]` (no binomial coefficients, as in EPA
        BMDS, so that grouped and patient-level data give the same value).
    aic, bic : float
        :math:`-2\ell + 2k` and :math:`-2\ell + k\ln N` with :math:`N` = ``n_obs``.
    n_obs : float
        Number of Bernoulli trials (patients), :math:`\sum_i n_i` (may be fractional).
    n_rows : int
        Number of binomial rows (patients and/or dose groups).
    converged : bool
        Whether the optimum passed the convergence checks (Newton decrement < 1e-6 and a
        positive-definite observed information).
    method : str
        ``"glm"`` (statsmodels) or ``"scipy"``.
    dose_unit : str
        Unit of dose and D50.
    """

    family: CurveFamily
    params: pd.Series
    theta: pd.Series
    covariance: pd.DataFrame
    loglik: float
    aic: float
    bic: float
    n_obs: float
    n_rows: int
    converged: bool
    method: str
    dose_unit: str
    _design: _Design = field(repr=False)

    # ----------------------------------------------------------------------------- basics
    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        return int(self.theta.size)

    @property
    def covariate_names(self) -> tuple[str, ...]:
        """Covariates used as dose-modifying factors on D50."""
        return self._design.covariate_names

    @property
    def dose_metric(self) -> str:
        """Dose metric of the data (e.g. ``"BED"``); ``"dose"`` for array input."""
        return self._design.dose_metric or "dose"

    def __repr__(self) -> str:
        est = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (
            f"MLFit({self.family.name}: {est}; loglik={self.loglik:.3f}, aic={self.aic:.2f}, "
            f"n_obs={self.n_obs:g}, method={self.method!r})"
        )

    def _covariate_matrix(
        self, covariates: Mapping[str, ArrayLike] | None, size: int
    ) -> FloatArray:
        """Covariate values per dose as a ``(size, K)`` matrix (omitted covariates are 0)."""
        x = np.zeros((size, len(self.covariate_names)))
        if not covariates:
            return x
        unknown = [c for c in covariates if c not in self.covariate_names]
        if unknown:
            raise DoseResponseError(
                f"covariates {unknown} were not in the fit; fitted covariates: "
                f"{list(self.covariate_names)}."
            )
        for k, name in enumerate(self.covariate_names):
            if name in covariates:
                value = as_float_array(covariates[name], f"covariates[{name!r}]")
                try:
                    x[:, k] = np.broadcast_to(value.reshape(-1), (size,))
                except ValueError:
                    raise DoseResponseError(
                        f"covariates[{name!r}] must be a scalar or have one value per dose "
                        f"({size}); got {value.size} values."
                    ) from None
        return x

    def _log_shift(self, covariates: Mapping[str, ArrayLike] | None, size: int) -> FloatArray:
        r""":math:`x\beta` for user-given covariate values (omitted covariates are 0)."""
        return self._covariate_matrix(covariates, size) @ self.theta.to_numpy()[2:]

    def probability(
        self, dose: ArrayLike, covariates: Mapping[str, ArrayLike] | None = None
    ) -> FloatArray:
        """Fitted response probability at ``dose``.

        Parameters
        ----------
        dose : array_like
            Dose (unit of the fit, e.g. Gy), >= 0.
        covariates : mapping, optional
            Covariate values ``{name: value}``; omitted covariates are 0 (the reference).

        Returns
        -------
        numpy.ndarray
            :math:`P(D)` with the maximum-likelihood parameters.
        """
        dose = as_float_array(dose, "dose", nonnegative=True, unit=self.dose_unit)
        flat = dose.reshape(-1)
        log_d50 = self.theta.iloc[0] + self._log_shift(covariates, flat.size)
        slope = float(np.exp(self.theta.iloc[1]))
        p = self.family.probability(flat, np.exp(log_d50), slope)
        return np.asarray(p, dtype=np.float64).reshape(dose.shape)

    # ----------------------------------------------------------------------------- summaries
    def summary_frame(self, ci_prob: float = DEFAULT_CI_PROB) -> pd.DataFrame:
        """Estimates with standard errors and Wald intervals on the log scale.

        Parameters
        ----------
        ci_prob : float, default :data:`~doseresponse.models.result_types.DEFAULT_CI_PROB`
            Two-sided coverage of the intervals, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            Index = parameter names of ``params``; columns ``estimate``, ``se`` (delta
            method on the natural scale), ``lower``, ``upper`` (``exp(log estimate ± z·SE_log)``,
            so limits stay positive) and ``se_log`` (SE on the estimation scale).
        """
        ci_prob = check_ci_prob(ci_prob)
        z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
        se_log = np.sqrt(np.clip(np.diag(self.covariance.to_numpy()), 0.0, None))
        theta = self.theta.to_numpy()
        estimate = np.exp(theta)
        return pd.DataFrame(
            {
                "estimate": estimate,
                "se": estimate * se_log,
                "lower": np.exp(theta - z * se_log),
                "upper": np.exp(theta + z * se_log),
                "se_log": se_log,
            },
            index=self.params.index,
        )

    def curve(
        self,
        dose_grid: ArrayLike,
        *,
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
    ) -> CurveBand:
        r"""Fitted curve (MLE) with a pointwise delta-method confidence band.

        Parameters
        ----------
        dose_grid : array_like
            Doses (unit of the fit, e.g. Gy), >= 0, 1-D.
        covariates : mapping, optional
            Covariate values ``{name: scalar}``; omitted covariates are 0 (the reference).
        ci_prob : float, default :data:`~doseresponse.models.result_types.DEFAULT_CI_PROB`
            Two-sided pointwise coverage, in (0, 1).

        Returns
        -------
        CurveBand
            ``interval="confidence"``, ``method="delta method (<link> link)"``,
            ``which=ML_POOLED`` (``"pooled (maximum likelihood)"``), ``kind="response"`` (the ML
            fit is not told whether the response is a toxicity or a tumour control).
            ``estimate`` (= ``median``) is the MLE curve, ``mean`` is NaN, ``lower``/``upper``
            the confidence limits of the response probability.

        Raises
        ------
        DoseResponseError
            Invalid ``dose_grid``, ``ci_prob`` or covariates.

        Notes
        -----
        The band is :math:`g^{-1}(\hat\eta \pm z\,\mathrm{SE}(\hat\eta))` on the family's
        link scale :math:`\eta = g(P)` (logit for the logistic families, probit, cloglog for
        Weibull, log-log for Poisson), with :math:`\mathrm{SE}` from the delta method
        :math:`\nabla\eta^T \Sigma \nabla\eta`. For the GLM families :math:`\eta` is linear
        in the GLM coefficients, so this is the usual GLM band.
        """
        ci_prob = check_ci_prob(ci_prob)
        grid = as_float_array(dose_grid, "dose_grid", nonnegative=True, ndim=1)
        covariate_values = self._covariate_values(covariates)
        z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
        link_name = _BAND_LINK.get(self.family.name, "logit")
        link, inverse = _links(link_name)
        theta = self.theta.to_numpy()
        xmat = self._covariate_matrix(covariates, grid.size)
        cov = self.covariance.to_numpy()
        p_hat = self.probability(grid, covariates)
        lower, upper = p_hat.copy(), p_hat.copy()
        interior = (p_hat > 0) & (p_hat < 1)
        if interior.any():
            g = grid[interior]
            xg = xmat[interior]

            def eta(th: FloatArray) -> FloatArray:
                log_d50 = th[0] + xg @ th[2:]
                with np.errstate(all="ignore"):
                    p = self.family.probability(g, np.exp(log_d50), float(np.exp(th[1])))
                    return link(np.clip(p, 1e-300, 1 - 1e-16))

            jac = np.empty((g.size, theta.size))
            h = 1e-6
            for j in range(theta.size):
                e = np.zeros(theta.size)
                e[j] = h
                jac[:, j] = (eta(theta + e) - eta(theta - e)) / (2 * h)
            se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, cov, jac), 0.0, None))
            centre = link(p_hat[interior])
            a, b = inverse(centre - z * se), inverse(centre + z * se)  # log-log link decreases
            lower[interior] = np.minimum(a, b)
            upper[interior] = np.maximum(a, b)
        return CurveBand(
            dose=grid,
            mean=np.full(grid.shape, np.nan),
            median=p_hat,
            lower=lower,
            upper=upper,
            which=ML_POOLED,
            metric=self.dose_metric,
            unit=self.dose_unit,
            ci_prob=ci_prob,
            covariates=covariate_values,
            kind=_ML_KIND,
            interval="confidence",
            method=f"delta method ({link_name.replace('loglog', 'log-log')} link)",
        )

    # ----------------------------------------------------------------------------- doses
    def dose_at(
        self,
        p: float,
        *,
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        method: Literal["profile", "delta"] = "profile",
    ) -> DoseAt:
        r"""Dose at which the fitted curve reaches probability ``p`` (TDp / TCDp), with interval.

        Parameters
        ----------
        p : float
            Response probability in (0, 1), e.g. 0.05 for TD5, 0.5 for D50.
        covariates : mapping, optional
            Covariate values ``{name: scalar}``; omitted covariates are 0.
        ci_prob : float, default :data:`~doseresponse.models.result_types.DEFAULT_CI_PROB`
            Two-sided coverage of the confidence interval, in (0, 1).
        method : {"profile", "delta"}
            ``"profile"``: profile-likelihood interval (reparametrise by TDp, maximise over the
            slope and covariate effects, :math:`\chi^2_1` cut-off). ``"delta"``: Wald interval
            for :math:`\ln TD_p` (delta method), exponentiated.

        Returns
        -------
        DoseAt
            A confidence result: ``estimate`` (the MLE, also in ``median``), ``lower``,
            ``upper`` in the fit's dose unit (``unit``), ``interval="confidence"``, ``method``
            ``"profile likelihood"`` or ``"delta method (log dose)"``, ``which=ML_POOLED``,
            ``label="D(P=<p>)"``; ``mean`` is NaN and ``draws`` is empty. Mapping keys
            ``"estimate"``, ``"lower"``, ``"upper"``. A limit the profile never reaches
            within four decades of the estimate is ``0.0`` or ``inf`` (with a
            :class:`ConvergenceWarning`).

        Raises
        ------
        DoseResponseError
            If ``p`` is below the fitted response at zero dose, or arguments are invalid.

        Notes
        -----
        Venzon & Moolgavkar (1988, Appl Stat 37:87) for profile-likelihood limits.
        """
        p = float(check_probability(p, "p"))
        ci_prob = check_ci_prob(ci_prob)
        covariate_values = self._covariate_values(covariates)
        if self.probability(0.0, covariates) >= p:
            raise DoseResponseError(
                f"p = {p:g} is not above the fitted response at zero dose "
                f"({float(self.probability(0.0, covariates)):.4g}); no dose reaches it. Ask "
                "for a larger p or use benchmark_dose() for risk over background."
            )
        interval = self._interval(lambda s: p, ci_prob, method, covariates)
        return self._dose_result(
            DoseAt, p, f"D(P={p:g})", interval, ci_prob, method, covariate_values
        )

    def benchmark_dose(
        self,
        bmr: float = 0.10,
        *,
        risk: Literal["extra", "added"] = "extra",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = BMDS_CI_PROB,
        method: Literal["profile", "delta"] = "profile",
    ) -> BenchmarkDose:
        r"""Benchmark dose (BMD) with lower and upper confidence limits (BMDL, BMDU).

        Parameters
        ----------
        bmr : float, default 0.10
            Benchmark response in (0, 1).
        risk : {"extra", "added"}
            ``"extra"``: :math:`(P(\mathrm{BMD})-P(0))/(1-P(0)) = \mathrm{BMR}`;
            ``"added"``: :math:`P(\mathrm{BMD})-P(0) = \mathrm{BMR}`.
        covariates : mapping, optional
            Covariate values ``{name: scalar}``; omitted covariates are 0.
        ci_prob : float, default 0.90
            Two-sided coverage. The default is the US EPA BMDS convention, not the package
            default :data:`~doseresponse.models.result_types.DEFAULT_CI_PROB`: at 0.90 BMDL
            and BMDU are each one-sided 95 % limits.
        method : {"profile", "delta"}
            Profile likelihood (as BMDS) or delta method on the log scale.

        Returns
        -------
        BenchmarkDose
            A :class:`DoseAt` confidence result with the BMDS names as attributes and mapping
            keys: ``bmd`` (= ``estimate``), ``bmdl`` (= ``lower``), ``bmdu`` (= ``upper``), all
            in the fit's dose unit; ``bmr``, ``risk``, and ``background`` (the fitted
            :math:`P(0)`). ``p`` is the fitted response at the BMD, ``label`` ``"BMD<100·bmr>"``.

        Raises
        ------
        DoseResponseError
            Invalid ``bmr``, ``risk``, ``ci_prob`` or ``method``, or an unreachable added risk.

        Notes
        -----
        Crump (1984, Fundam Appl Toxicol 4:854); US EPA Benchmark Dose Technical Guidance
        (2012, EPA/100/R-12/001). Because every family is a scale family in dose, :math:`P(0)`
        depends only on the slope, and the BMD is :math:`D_{50}\,r(s)`; its profile likelihood
        is computed exactly like that of a TDp.
        """
        bmr = float(check_probability(bmr, "bmr"))
        if risk not in ("extra", "added"):
            raise DoseResponseError(f"risk must be 'extra' or 'added'; got {risk!r}.")
        ci_prob = check_ci_prob(ci_prob)
        covariate_values = self._covariate_values(covariates)
        family = self.family

        def target(slope: float) -> float:
            with np.errstate(all="ignore"):
                p0 = float(family.probability(0.0, 1.0, slope))
            return p0 + bmr * (1.0 - p0) if risk == "extra" else p0 + bmr

        background = float(self.probability(0.0, covariates))
        if risk == "added" and background + bmr >= 1.0:
            raise DoseResponseError(
                f"added risk bmr = {bmr:g} is not reachable: the fitted background is "
                f"{background:.4g}. Use a smaller bmr or risk='extra'."
            )
        interval = self._interval(target, ci_prob, method, covariates)
        p_at_bmd = (
            background + bmr * (1.0 - background) if risk == "extra" else background + bmr
        )
        return self._dose_result(
            BenchmarkDose, p_at_bmd, f"BMD{100 * bmr:g}", interval, ci_prob, method,
            covariate_values, bmr=bmr, risk=risk, background=background,
        )

    def _covariate_values(self, covariates: Mapping[str, float] | None) -> dict[str, float]:
        """Scalar value of every fitted covariate (omitted ones are 0), for a result record."""
        given = dict(covariates or {})
        unknown = [c for c in given if c not in self.covariate_names]
        if unknown:
            raise DoseResponseError(
                f"covariates {unknown} were not in the fit; fitted covariates: "
                f"{list(self.covariate_names)}."
            )
        return {
            name: check_scalar(given.get(name, 0.0), f"covariates[{name!r}]")
            for name in self.covariate_names
        }

    def _dose_result(self, cls, p, label, interval, ci_prob, method, covariates, **extra):
        """A confidence :class:`DoseAt` (or subclass) from ``(estimate, lower, upper)``."""
        estimate, lower, upper = interval
        return cls(
            p=p,
            which=ML_POOLED,
            metric=self.dose_metric,
            unit=self.dose_unit,
            ci_prob=ci_prob,
            label=label,
            mean=math.nan,
            median=estimate,
            lower=lower,
            upper=upper,
            draws=np.empty(0),
            covariates=covariates,
            interval="confidence",
            method=_DOSE_METHOD[method],
            **extra,
        )

    def _interval(self, target, ci_prob, method, covariates) -> tuple[float, float, float]:
        """MLE and ``ci_prob`` limits of the dose where the curve reaches ``target(slope)``."""
        if method not in ("profile", "delta"):
            raise DoseResponseError(f"method must be 'profile' or 'delta'; got {method!r}.")
        family = self.family
        x_ref = self._covariate_matrix(covariates, 1)[0]
        shift = float(x_ref @ self.theta.to_numpy()[2:])

        def log_ratio(log_slope: float) -> float:
            """Return ln r(s) = ln(T/D50) at slope s (nan when the level is unreachable)."""
            slope = _exp(log_slope)
            level = target(slope)
            if not 0.0 < level < 1.0:
                return math.nan
            try:
                with np.errstate(all="ignore"):
                    r = float(family.dose_at(level, 1.0, slope))
            except DoseResponseError:
                return math.nan
            return math.log(r) if r > 0 and math.isfinite(r) else math.nan

        theta = self.theta.to_numpy()
        t_hat = theta[0] + shift + log_ratio(theta[1])
        if not math.isfinite(t_hat):
            raise DoseResponseError(
                "the requested response level is not reachable on the fitted curve."
            )
        # delta method: t = theta0 + x.beta + ln r(exp(theta1))
        h = 1e-5
        d_ratio = (log_ratio(theta[1] + h) - log_ratio(theta[1] - h)) / (2 * h)
        grad = np.concatenate([[1.0, d_ratio], x_ref])
        se = float(np.sqrt(max(grad @ self.covariance.to_numpy() @ grad, 0.0)))
        if method == "delta":
            z = float(stats.norm.ppf(0.5 + ci_prob / 2.0))
            lower, upper = math.exp(t_hat - z * se), math.exp(t_hat + z * se)
        else:
            negloglik = _make_negloglik(family, self._design)

            def negloglik_at(t: float, nuisance: FloatArray) -> float:
                lr = log_ratio(float(nuisance[0]))
                if not math.isfinite(lr):
                    return _BIG
                beta = nuisance[1:]
                theta0 = t - lr - float(x_ref @ beta)
                return negloglik(np.concatenate([[theta0, nuisance[0]], beta]))

            res = profile_interval(
                negloglik_at, t_hat, theta[1:], -self.loglik, ci_prob, se
            )
            lower, upper = res.lower, res.upper
        return math.exp(t_hat), lower, upper

    # ----------------------------------------------------------------------------- fit checks
    def goodness_of_fit(self) -> dict[str, Any]:
        r"""Pearson chi-square and deviance goodness-of-fit tests over dose groups.

        Rows with the same dose (and covariate values) are pooled into one group.

        Returns
        -------
        dict
            ``chi2`` (Pearson :math:`\sum (y-nP)^2/(nP(1-P))`), ``df`` (groups − parameters),
            ``p_value``, ``deviance`` (vs. the saturated model), ``deviance_p_value``,
            ``min_expected`` (smallest expected count, events or non-events), and ``table``, a
            DataFrame with ``dose``, covariates, ``n``, ``events``, ``probability``,
            ``expected`` and ``scaled_residual`` :math:`(y-nP)/\sqrt{nP(1-P)}`.

        Notes
        -----
        As in US EPA BMDS (Technical Guidance 2012). The chi-square reference distribution
        needs expected counts of about 5 or more; with patient-level data at distinct doses the
        groups are single patients and the test is not meaningful.
        """
        d = self._design
        frame = pd.DataFrame({"dose": d.dose, "events": d.events, "n": d.n})
        for k, name in enumerate(d.covariate_names):
            frame[name] = d.x[:, k]
        keys = ["dose", *d.covariate_names]
        table = frame.groupby(keys, sort=True, as_index=False)[["n", "events"]].sum()
        cov_values = {c: table[c].to_numpy() for c in d.covariate_names}
        prob = self.probability(table["dose"].to_numpy(), cov_values or None)
        n, y = table["n"].to_numpy(), table["events"].to_numpy()
        expected = n * prob
        with np.errstate(all="ignore"):
            var = expected * (1.0 - prob)
            resid = np.where(var > 0, (y - expected) / np.sqrt(var), 0.0)
            deviance = 2.0 * float(
                np.sum(
                    special.xlogy(y, y / expected)
                    + special.xlogy(n - y, (n - y) / (n - expected))
                )
            )
        table["probability"] = prob
        table["expected"] = expected
        table["scaled_residual"] = resid
        chi2 = float(np.sum(resid**2))
        df = int(len(table) - self.n_params)
        p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else math.nan
        dev_p = float(stats.chi2.sf(deviance, df)) if df > 0 else math.nan
        return {
            "chi2": chi2,
            "df": df,
            "p_value": p_value,
            "deviance": deviance,
            "deviance_p_value": dev_p,
            "min_expected": float(np.min(np.minimum(expected, n - expected))),
            "table": table,
        }


def _links(name: str):
    if name == "probit":
        return special.ndtri, special.ndtr
    if name == "cloglog":
        return (lambda p: np.log(-np.log1p(-p))), (lambda e: -np.expm1(-np.exp(e)))
    if name == "loglog":
        return (lambda p: np.log(-np.log(p))), (lambda e: np.exp(-np.exp(e)))
    return special.logit, special.expit


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def fit_ml(
    data: Any = None,
    curve: str | None = None,
    *,
    dose: ArrayLike | None = None,
    events: ArrayLike | None = None,
    n: ArrayLike | None = None,
    covariates: Sequence[str] | Mapping[str, ArrayLike] | None = None,
    method: Literal["auto", "glm", "scipy"] = "auto",
    strict: bool = True,
    background: bool = False,
) -> MLFit | BackgroundMLFit:
    r"""Maximum-likelihood fit of a dose-response curve family (complete pooling).

    Parameters
    ----------
    data : DoseResponseData, optional
        Patient-level rows (``outcome`` 0/1) and/or dose-group rows (``events`` of ``n``); all
        studies are pooled. Omit it to pass arrays instead; with array input the curve name may
        also be given first, ``fit_ml("probit", dose=..., events=..., n=...)``.
    curve : str, optional
        A registered family: ``"logistic"`` (default), ``"log-logistic"``, ``"probit"``
        (``"lkb"``), ``"cloglog"`` (``"weibull"``) or ``"poisson"``.
    dose : array_like, optional
        Dose per row (Gy or the unit of the dose metric), >= 0 — array input only.
    events : array_like, optional
        Responders per row, 0 <= events <= n (fractional "effective" counts are allowed).
    n : array_like, optional
        Number at risk per row, > 0 (fractional allowed); default 1 (0/1 outcomes).
    covariates : sequence of str or mapping, optional
        Dose-modifying covariates on D50: column names of ``data`` (from ``data.covariates``),
        or with array input a mapping ``{name: values per row}``.
    method : {"auto", "glm", "scipy"}
        ``"glm"``: statsmodels binomial GLM (families and covariate layouts where that is exact,
        see Notes); ``"scipy"``: direct optimisation of the likelihood in
        :math:`(\ln D_{50}, \ln s, \beta)`; ``"auto"``: GLM when possible, else scipy.
    strict : bool, default True
        Raise :class:`FitError` when the optimum fails the convergence checks; with ``False``
        return the fit with ``converged=False`` and a :class:`ConvergenceWarning`.
    background : bool, default False
        With ``True``, fit :math:`P(D) = b + (1 - b)F(D)` with a background (zero-dose) risk
        :math:`b \in [0, 1)` estimated alongside D50 and the slope (Abbott 1925; the background
        parameter of US EPA BMDS): the fit is
        :func:`~doseresponse.models.ml_background.fit_ml_background` and tolerance doses are
        extra risk. Needs ``method="auto"`` or ``"scipy"`` (the background model is not a GLM).

    Returns
    -------
    MLFit or doseresponse.models.ml_background.BackgroundMLFit
        The fitted model: :class:`MLFit`, or with ``background=True`` a
        :class:`~doseresponse.models.ml_background.BackgroundMLFit`.

    Raises
    ------
    UnknownNameError
        Unknown curve family.
    DoseResponseError
        Invalid data (negative dose, events > n, empty data, mismatched lengths).
    FitError
        The maximum-likelihood estimate does not exist (no or only events, a single dose,
        complete separation) or was not found; or zero-dose rows with events under a family with
        :math:`P(0)=0`.

    Notes
    -----
    The likelihood is binomial, :math:`\ell = \sum_i y_i\ln P_i + (n_i-y_i)\ln(1-P_i)`.
    GLM equivalences (derivations in ``docs/theory/maximum_likelihood.md``): logistic
    :math:`\mathrm{logit}\,P = a + bD` with :math:`D_{50} = -a/b`, :math:`\gamma_{50} = -a/4`;
    probit :math:`\Phi^{-1}(P) = a + bD` with :math:`D_{50} = -a/b`, :math:`m = -1/a`;
    log-logistic :math:`\mathrm{logit}\,P = a + b\ln D` with :math:`\gamma_{50} = b/4`,
    :math:`D_{50} = e^{-a/b}`; Weibull :math:`\mathrm{cloglog}\,P = a + b\ln D` with
    :math:`\gamma_{50} = b\ln 2/2`, :math:`D_{50} = e^{(\ln\ln 2 - a)/b}`; Poisson
    :math:`\mathrm{cloglog}(1-P) = a + bD` with :math:`k = a - \ln\ln 2`,
    :math:`\gamma_{50} = k\ln 2/2`, :math:`D_{50} = -k/b`. Covariates enter the GLM linearly only
    for the log-dose families; otherwise scipy is used. The covariance is the inverse of the
    observed information (numerical Hessian) at the optimum in every case.
    """
    if isinstance(data, str):
        if curve is not None:
            raise DoseResponseError(
                f"got two curve names ({data!r} and curve={curve!r}); the first argument is the "
                "data (a DoseResponseData) or, with array input, the curve name."
            )
        data, curve = None, data
    family = get_curve_family("logistic" if curve is None else curve)
    if method not in ("auto", "glm", "scipy"):
        raise DoseResponseError(f"method must be 'auto', 'glm' or 'scipy'; got {method!r}.")
    if not isinstance(background, bool):
        raise DoseResponseError(f"background must be True or False; got {background!r}.")
    if background:
        if method == "glm":
            raise DoseResponseError(
                "a curve with a background risk is not a GLM; use method='auto' or 'scipy' "
                "with background=True."
            )
        return fit_ml_background(data, family.name, dose=dose, events=events, n=n,
                                 covariates=covariates, strict=strict)
    design = _as_design(data, dose, events, n, covariates)
    zero_dose_events = (design.dose == 0) & (design.events > 0)
    with np.errstate(all="ignore"):
        p0 = float(family.probability(0.0, 1.0, 1.0))
    if p0 == 0.0 and zero_dose_events.any():
        n_zero = float(design.events[zero_dose_events].sum())
        raise FitError(
            f"the {family.name} curve has P(0) = 0 exactly, but {n_zero:g}"
            " events occur at zero dose, so the likelihood is zero for every parameter value. "
            "Use a family with a background response (logistic, probit, poisson) or remove the "
            "zero-dose events if they are unrelated to dose."
        )
    glm_ok = family.name in _GLM_SPEC and (
        design.x.shape[1] == 0 or _GLM_SPEC[family.name][1] == "log"
    )
    if method == "glm" and not glm_ok:
        raise DoseResponseError(
            f"the {family.name} curve with dose-modifying covariates is not a GLM; use "
            "method='scipy' or 'auto'."
        )
    negloglik = _make_negloglik(family, design)
    used = "glm" if (method == "glm" or (method == "auto" and glm_ok)) else "scipy"
    if used == "glm":
        theta = _glm_theta(family, design)
    else:
        starts = _start_values(family, design)
        best = min(starts, key=negloglik)
        theta, _ = minimise(negloglik, best)
    theta, hess, decrement = newton_polish(negloglik, theta)
    value = negloglik(theta)
    converged = bool(np.isfinite(decrement) and decrement < 1e-6 and value < _BIG)
    if converged:
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            converged = False
    if converged and not _plausible(family, design, theta):
        converged = False
    if not converged:
        message = (
            f"the maximum-likelihood fit of the {family.name} curve did not converge "
            f"(D50 = {_exp(theta[0]):.4g}, {family.slope_name} = {_exp(theta[1]):.4g}, "
            f"Newton decrement {decrement:.3g}). Common causes: complete separation (all "
            "responders at higher doses than all non-responders, so the slope is infinite), "
            "D50 far outside the dose range, or too few events. Try another family or a "
            "Bayesian fit with priors."
        )
        if strict:
            raise FitError(message)
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
        cov = np.full((theta.size, theta.size), np.nan)
    k = theta.size
    theta_names = ["log_d50", f"log_{family.slope_name}"] + [
        f"beta_{c}" for c in design.covariate_names
    ]
    param_names = ["d50", family.slope_name] + [f"factor_{c}" for c in design.covariate_names]
    loglik = -float(value)
    n_obs = float(design.n.sum())
    return MLFit(
        family=family,
        params=pd.Series(np.exp(theta), index=param_names, name="estimate"),
        theta=pd.Series(theta, index=theta_names, name="estimate"),
        covariance=pd.DataFrame(cov, index=theta_names, columns=theta_names),
        loglik=loglik,
        aic=-2.0 * loglik + 2.0 * k,
        bic=-2.0 * loglik + k * math.log(n_obs),
        n_obs=n_obs,
        n_rows=int(design.dose.size),
        converged=converged,
        method=used,
        dose_unit=design.dose_unit,
        _design=design,
    )


def _plausible(family: CurveFamily, design: _Design, theta: FloatArray) -> bool:
    """Reject optima that are really boundary solutions (infinite slope or far-away D50)."""
    positive = design.dose[design.dose > 0]
    d50 = _exp(theta[0])
    if not (positive.min() * 1e-3 < d50 < design.dose.max() * 1e3):
        return False
    with np.errstate(all="ignore"):
        gamma50 = float(family.normalised_slope(d50, _exp(theta[1])))
    return 1e-4 < gamma50 < 1e3


def _exp(x: float) -> float:
    """``exp(x)`` that overflows to ``inf`` (for comparisons and messages) instead of raising."""
    with np.errstate(over="ignore"):
        return float(np.exp(x))


def compare_ml(fits: Sequence[MLFit] | Mapping[str, MLFit]) -> pd.DataFrame:
    r"""AIC/BIC comparison table of maximum-likelihood fits to the same data.

    Parameters
    ----------
    fits : sequence of MLFit or mapping {label: MLFit}
        Fits to identical data (same doses, events, n); labels default to the family names.

    Returns
    -------
    pandas.DataFrame
        One row per fit, sorted by AIC: ``curve``, ``n_params``, ``loglik``, ``aic``,
        ``delta_aic``, ``aic_weight`` (Akaike weight :math:`\propto e^{-\Delta/2}`), ``bic``,
        ``d50``, ``gamma50`` (normalised slope, comparable across families).

    Raises
    ------
    DoseResponseError
        If ``fits`` is empty or the fits were made to different data.

    Notes
    -----
    Burnham & Anderson (2002), *Model Selection and Multimodel Inference*, 2nd ed., Springer.
    """
    items = list(fits.items()) if isinstance(fits, Mapping) else [(None, f) for f in fits]
    if not items:
        raise DoseResponseError("fits is empty; pass at least one MLFit.")
    ref = items[0][1]._design
    rows = []
    for label, fit in items:
        if not isinstance(fit, MLFit):
            raise DoseResponseError(f"fits must contain MLFit objects; got {type(fit).__name__}.")
        d = fit._design
        same = (
            d.dose.shape == ref.dose.shape
            and np.array_equal(d.dose, ref.dose)
            and np.array_equal(d.events, ref.events)
            and np.array_equal(d.n, ref.n)
        )
        if not same:
            raise DoseResponseError(
                "the fits were made to different data; AIC/BIC are only comparable on the same "
                "rows."
            )
        d50 = float(fit.params.iloc[0])
        rows.append(
            {
                "model": label if label is not None else fit.family.name,
                "curve": fit.family.name,
                "n_params": fit.n_params,
                "loglik": fit.loglik,
                "aic": fit.aic,
                "bic": fit.bic,
                "d50": d50,
                "gamma50": float(fit.family.normalised_slope(d50, float(fit.params.iloc[1]))),
            }
        )
    table = pd.DataFrame(rows).sort_values("aic", kind="stable").set_index("model")
    table.insert(4, "delta_aic", table["aic"] - table["aic"].min())
    weights = np.exp(-0.5 * table["delta_aic"].to_numpy())
    table.insert(5, "aic_weight", weights / weights.sum())
    return table
