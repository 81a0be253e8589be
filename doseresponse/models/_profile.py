r"""Likelihood machinery shared by :mod:`doseresponse.models.ml`.

Numerical derivatives, a Newton polish of an optimum, and profile-likelihood and delta-method
intervals for a dose :math:`T` at which the fitted curve reaches a (possibly
parameter-dependent) probability.

Every curve family in :data:`doseresponse.models.curves.CURVE_FAMILIES` is a *scale family* in
dose: :math:`P(D; D_{50}, s) = F(D/D_{50}; s)`. Hence any dose defined by a probability level,
:math:`T = D_{50}\,r(s)` with :math:`r(s)` the same dose on a curve with :math:`D_{50} = 1`. The
profile likelihood of :math:`T` is obtained by the reparametrisation
:math:`(\ln D_{50}, \ln s, \beta) \to (\ln T, \ln s, \beta)` and maximisation over the nuisance
parameters :math:`(\ln s, \beta)` at fixed :math:`\ln T` (Venzon & Moolgavkar 1988, Appl Stat
37:87).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from doseresponse.exceptions import ConvergenceWarning

__all__ = [
    "ProfileResult",
    "central_gradient",
    "central_hessian",
    "minimise",
    "newton_polish",
    "profile_interval",
]

FloatArray = NDArray[np.float64]

#: Relative step of the central differences (on the log / linear-predictor scale).
_STEP = 1e-4
#: Value returned instead of +inf by objectives so that line searches stay finite.
_BIG = 1e100
#: Profile intervals are searched within this many natural-log units of the estimate.
_MAX_LOG_SPAN = np.log(1e4)


def central_gradient(fun: Callable[[FloatArray], float], x: FloatArray) -> FloatArray:
    """Central-difference gradient of ``fun`` at ``x`` (step ``1e-4`` per coordinate)."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = _STEP
        grad[i] = (fun(x + e) - fun(x - e)) / (2.0 * _STEP)
    return grad


def central_hessian(fun: Callable[[FloatArray], float], x: FloatArray) -> FloatArray:
    r"""Central-difference Hessian of ``fun`` at ``x`` (step ``1e-4`` per coordinate).

    Notes
    -----
    Diagonal terms use the three-point second difference, off-diagonal terms the four-point
    cross difference; the truncation error is :math:`O(h^2)` and the rounding error about
    :math:`\epsilon|f|/h^2 \approx 10^{-8}|f|`, ample for standard errors.
    """
    x = np.asarray(x, dtype=np.float64)
    k = x.size
    f0 = fun(x)
    hess = np.empty((k, k))
    h = _STEP
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h
        hess[i, i] = (fun(x + ei) - 2.0 * f0 + fun(x - ei)) / h**2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h
            val = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4.0 * h**2)
            hess[i, j] = hess[j, i] = val
    return hess


def minimise(fun: Callable[[FloatArray], float], x0: FloatArray) -> tuple[FloatArray, float]:
    """Minimise a smooth objective by BFGS; if BFGS fails, continue with Nelder-Mead.

    Returns
    -------
    x, f : numpy.ndarray, float
        The best point found and the objective there.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(fun, x0, method="BFGS", options={"gtol": 1e-7, "maxiter": 500})
        best_x, best_f = np.asarray(res.x, dtype=np.float64), float(res.fun)
        if not np.isfinite(best_f) or best_f > fun(x0):
            best_x, best_f = x0, float(fun(x0))
        if res.success and best_f < _BIG:
            return best_x, best_f
        nm = optimize.minimize(
            fun,
            best_x,
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000, "maxfev": 8000},
        )
    if np.isfinite(nm.fun) and nm.fun < best_f:
        best_x, best_f = np.asarray(nm.x, dtype=np.float64), float(nm.fun)
    return best_x, best_f


def newton_polish(
    fun: Callable[[FloatArray], float], x: FloatArray, *, max_iter: int = 20
) -> tuple[FloatArray, FloatArray, float]:
    """Refine a minimum of ``fun`` by damped Newton steps with numerical derivatives.

    Returns
    -------
    x : numpy.ndarray
        The refined minimiser.
    hessian : numpy.ndarray
        Central-difference Hessian at ``x``.
    decrement : float
        Newton decrement :math:`g^T H^{-1} g` at ``x`` (twice the predicted further decrease of
        ``fun``); ``inf`` when the Hessian is not positive definite.
    """
    x = np.asarray(x, dtype=np.float64).copy()
    with np.errstate(all="ignore"):
        f = fun(x)
        decrement = np.inf
        hess = central_hessian(fun, x)
        for _ in range(max_iter):
            grad = central_gradient(fun, x)
            try:
                chol = np.linalg.cholesky(hess)
            except np.linalg.LinAlgError:
                return x, hess, np.inf
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
            decrement = float(grad @ step)
            if not np.isfinite(decrement):
                return x, hess, np.inf
            if decrement < 1e-12:
                break
            t = 1.0
            while t > 1e-6:
                x_new = x - t * step
                f_new = fun(x_new)
                if f_new <= f:
                    break
                t *= 0.5
            else:
                break
            x, f = x_new, f_new
            hess = central_hessian(fun, x)
        grad = central_gradient(fun, x)
        try:
            decrement = float(grad @ np.linalg.solve(hess, grad))
        except np.linalg.LinAlgError:
            decrement = np.inf
        if np.any(np.linalg.eigvalsh(hess) <= 0):
            decrement = np.inf
    return x, hess, decrement


@dataclass(frozen=True)
class ProfileResult:
    """A profile-likelihood interval for a positive quantity on the log scale.

    Attributes
    ----------
    estimate, lower, upper : float
        Point estimate and limits (natural scale). A limit the profile never reached within
        four decades of the estimate is reported as ``0.0`` (lower) or ``inf`` (upper).
    """

    estimate: float
    lower: float
    upper: float


def profile_interval(
    negloglik_at: Callable[[float, FloatArray], float],
    t_hat: float,
    nuisance_hat: FloatArray,
    min_negloglik: float,
    ci_prob: float,
    se_guess: float,
) -> ProfileResult:
    r"""Profile-likelihood interval for a log-scale quantity :math:`t = \ln T`.

    Parameters
    ----------
    negloglik_at : callable
        ``negloglik_at(t, nuisance)`` → negative log-likelihood with :math:`t` held fixed.
    t_hat : float
        The maximum-likelihood estimate of :math:`t`.
    nuisance_hat : numpy.ndarray
        The nuisance parameters at the maximum likelihood.
    min_negloglik : float
        The minimum of the negative log-likelihood.
    ci_prob : float
        Two-sided coverage; the limits solve
        :math:`2(\ell(\hat\theta) - \ell_p(t)) = \chi^2_{1}(\mathrm{ci\_prob})`.
    se_guess : float
        Approximate standard error of :math:`t` (delta method), used to bracket the limits.

    Returns
    -------
    ProfileResult
        Estimate and limits on the natural (exponentiated) scale.

    Notes
    -----
    Venzon & Moolgavkar (1988, Appl Stat 37:87); with ``ci_prob = 0.90`` each limit is a
    one-sided 95 % bound, the US EPA BMDS convention for BMDL/BMDU (Crump 1984, Fundam Appl
    Toxicol 4:854).
    """
    cutoff = float(stats.chi2.ppf(ci_prob, df=1))
    cache: list[tuple[float, FloatArray]] = [(t_hat, np.asarray(nuisance_hat, dtype=np.float64))]

    def deviance(t: float) -> float:
        start = min(cache, key=lambda item: abs(item[0] - t))[1]
        if start.size == 0:
            value = negloglik_at(t, start)
            best = start
        else:
            best, value = minimise(lambda z: negloglik_at(t, z), start)
        if np.isfinite(value) and value < _BIG:
            cache.append((t, best))
        gap = 2.0 * (value - min_negloglik) - cutoff
        return float(np.clip(gap, -1e10, 1e10)) if np.isfinite(gap) else 1e10

    limits = []
    step0 = float(se_guess) if np.isfinite(se_guess) and se_guess > 1e-6 else 0.05
    for sign in (-1.0, 1.0):
        inner, step, found = t_hat, min(step0, _MAX_LOG_SPAN / 8), None
        while True:
            outer = t_hat + sign * min(step, _MAX_LOG_SPAN)
            if deviance(outer) > 0:
                found = outer
                break
            if step >= _MAX_LOG_SPAN:
                break
            inner = outer
            step *= 2.0
        if found is None:
            warnings.warn(
                "the profile likelihood does not reach the cut-off within four decades of the "
                f"estimate on the {'lower' if sign < 0 else 'upper'} side; the interval is "
                "unbounded there (the data do not constrain it).",
                ConvergenceWarning,
                stacklevel=3,
            )
            limits.append(0.0 if sign < 0 else np.inf)
            continue
        lo, hi = sorted((inner, found))
        root = optimize.brentq(deviance, lo, hi, xtol=1e-8, rtol=1e-10)
        limits.append(float(np.exp(root)))
    return ProfileResult(estimate=float(np.exp(t_hat)), lower=limits[0], upper=limits[1])
