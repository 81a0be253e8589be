r"""Nonparametric maximum-likelihood estimate of a distribution from interval-censored times.

:func:`turnbull_npmle` is Turnbull's self-consistency estimate for observations known only to
lie in :math:`(L_i, R_i]` (an event between two visits), exactly at :math:`t_i`
(:math:`L_i = R_i`) or after :math:`C_i` (:math:`R_i = \infty`, right-censored). It is the
data-side picture that
:meth:`~doseresponse.models.late_toxicity.LateToxicityFit.plot_cumulative_incidence` draws the
model over; with exact and right-censored times only it is the Kaplan–Meier estimate (tested
against statsmodels' ``SurvfuncRight``).

Times are in any unit (the data's ``time_unit``).

Notes
-----
Turnbull BW (1976) "The empirical distribution function with arbitrarily grouped, censored and
truncated data", J R Stat Soc B 38:290–295. The support of the estimate is the set of innermost
intervals (:math:`(q_j, p_j]`: a left end :math:`q_j` immediately followed, in the ordered
endpoints, by a right end :math:`p_j`); the masses solve the self-consistency equations
:math:`s_j = n^{-1}\sum_i \alpha_{ij}s_j / \sum_k \alpha_{ik}s_k` (an EM algorithm, iterated to a
change below ``tol``). Within an innermost interval the estimate is not determined; the returned
frame gives each interval and the plot joins its ends by a straight line.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from doseresponse.exceptions import DoseResponseError

__all__ = ["turnbull_npmle"]


def turnbull_npmle(
    lower: ArrayLike, upper: ArrayLike, *, tol: float = 1e-10, max_iter: int = 100_000
) -> pd.DataFrame:
    """Turnbull NPMLE of the event-time distribution from ``(lower, upper]`` observations.

    Parameters
    ----------
    lower : array_like
        Last time known event-free (>= 0); equal to ``upper`` for an exactly known time.
    upper : array_like
        First time the event was seen; ``inf`` for a patient censored at ``lower``.
    tol : float
        Stop when no mass changes by more than ``tol``.
    max_iter : int
        Iteration limit.

    Returns
    -------
    pandas.DataFrame
        One row per innermost interval: ``left``, ``right`` (``left == right`` for an exact
        time; ``right = inf`` for the mass beyond the last visit), ``mass`` and
        ``cumulative`` (the estimated :math:`F` at ``right``).

    Raises
    ------
    DoseResponseError
        Negative times, ``lower > upper``, no observation, or no convergence.

    Examples
    --------
    >>> frame = turnbull_npmle([0.0, 1.0, 2.0], [2.0, 3.0, np.inf])
    >>> frame[["left", "right", "mass"]].to_numpy().round(3).tolist()
    [[1.0, 2.0, 0.5], [2.0, 3.0, 0.5]]
    """
    lo = np.asarray(lower, dtype=np.float64).ravel()
    hi = np.asarray(upper, dtype=np.float64).ravel()
    if lo.size == 0 or lo.shape != hi.shape:
        raise DoseResponseError("lower and upper must be non-empty and of equal length.")
    if np.any(~np.isfinite(lo)) or np.any(lo < 0) or np.any(np.isnan(hi)):
        raise DoseResponseError("lower must be finite and >= 0 and upper not NaN.")
    if np.any(lo > hi):
        raise DoseResponseError("every lower must be <= upper (the event lies in (lower, upper]).")
    exact = lo == hi
    # ordering of endpoints at equal times: an exact time's left end, then right ends (closed),
    # then left ends (open): (a, t] and (t, b] do not overlap, [t, t] lies inside (a, t]
    left_key = np.where(exact, 0, 2)
    ends = sorted(
        [(v, int(k), "L") for v, k in zip(lo, left_key, strict=True)]
        + [(v, 1, "R") for v in hi]
    )
    intervals = []
    for a, b in itertools.pairwise(ends):
        if a[2] == "L" and b[2] == "R":
            intervals.append((a[0], a[1], b[0], b[1]))
    q = np.array([i[0] for i in intervals])
    q_key = np.array([i[1] for i in intervals])
    p = np.array([i[2] for i in intervals])
    # interval j lies in observation i when L_i <= q_j and p_j <= R_i in the endpoint order
    left_ok = (lo[:, None] < q[None, :]) | (
        (lo[:, None] == q[None, :]) & (left_key[:, None] <= q_key[None, :])
    )
    right_ok = p[None, :] <= hi[:, None]
    alpha = (left_ok & right_ok).astype(np.float64)
    if np.any(alpha.sum(axis=1) == 0):  # pragma: no cover - every observation holds one
        raise DoseResponseError("internal error: an observation contains no innermost interval.")
    mass = np.full(q.size, 1.0 / q.size)
    for _ in range(max_iter):
        weights = alpha * mass[None, :]
        new = (weights / weights.sum(axis=1, keepdims=True)).mean(axis=0)
        if np.max(np.abs(new - mass)) < tol:
            mass = new
            break
        mass = new
    else:
        raise DoseResponseError(f"Turnbull iterations did not converge in {max_iter} steps.")
    keep = mass > 1e-9
    mass = mass[keep] / mass[keep].sum()
    return pd.DataFrame({"left": q[keep], "right": p[keep], "mass": mass,
                         "cumulative": np.cumsum(mass)})
