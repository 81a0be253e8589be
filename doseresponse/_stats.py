r"""Small statistics helpers shared by checks and plots: Wilson intervals and observed rates.

Observed response rates are events/n in dose bins (patients binned per study into dose quantile
bins; aggregate rows as reported). Doses are in the unit of the data's dose metric (e.g. Gy BED).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from doseresponse._validation import as_float_array, check_scalar
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError

__all__ = ["check_ci_prob", "observed_rates", "quantile_bins", "wilson_interval"]


def wilson_interval(
    events: ArrayLike, n: ArrayLike, ci_prob: float = 0.94
) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval of a binomial proportion.

    Parameters
    ----------
    events : array_like
        Number of events (responders), ``0 <= events <= n``.
    n : array_like
        Number at risk, > 0. Broadcasts with ``events``.
    ci_prob : float
        Interval probability in (0, 1), e.g. 0.94.

    Returns
    -------
    lower, upper : numpy.ndarray
        Interval limits (proportions in [0, 1]).

    Raises
    ------
    DoseResponseError
        Negative events, non-positive ``n``, ``events > n`` or ``ci_prob`` outside (0, 1).

    Notes
    -----
    With :math:`\hat p = x/n` and :math:`z = \Phi^{-1}((1+c)/2)`,

    .. math::
        \frac{\hat p + z^2/(2n) \pm z\sqrt{\hat p(1-\hat p)/n + z^2/(4n^2)}}{1 + z^2/n},

    the interval obtained by inverting the score test (Wilson EB 1927 J Am Stat Assoc 22:209).
    Unlike the Wald interval it stays inside [0, 1] and keeps close to nominal coverage for
    small *n* and rates near 0 or 1 (Brown, Cai & DasGupta 2001 Stat Sci 16:101).

    Examples
    --------
    >>> lower, upper = wilson_interval(3, 10, ci_prob=0.95)
    >>> round(float(lower), 4), round(float(upper), 4)
    (0.1078, 0.6032)
    """
    x = as_float_array(events, "events", nonnegative=True)
    n = as_float_array(n, "n", positive=True)
    x, n = np.broadcast_arrays(x, n)
    if (x > n).any():
        raise DoseResponseError("events must not exceed n (the number at risk).")
    z = special.ndtri((1.0 + check_ci_prob(ci_prob)) / 2.0)
    p = x / n
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z**2 / (4.0 * n**2)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def quantile_bins(dose: ArrayLike, n_bins: int, weights: ArrayLike | None = None) -> np.ndarray:
    """Index (0, 1, ...) of the dose-quantile bin of each dose.

    Parameters
    ----------
    dose : array_like
        Doses (dose-metric unit).
    n_bins : int
        Requested number of bins (>= 1); fewer are made when doses tie.
    weights : array_like, optional
        Frequency weight of each dose (e.g. ``n`` of an aggregate row); quantiles are taken of
        the doses repeated by their weights.

    Returns
    -------
    numpy.ndarray
        Integer bin index per dose; bins are ``[edge_k, edge_{k+1})``, the last one closed.
    """
    n_bins = check_n_bins(n_bins)
    dose = np.asarray(dose, dtype=np.float64)
    if dose.size == 0:
        return np.zeros(0, dtype=np.int64)
    pool = dose if weights is None else np.repeat(dose, np.asarray(weights, dtype=np.int64))
    edges = np.unique(np.quantile(pool, np.linspace(0.0, 1.0, n_bins + 1)))
    return np.searchsorted(edges[1:-1], dose, side="right").astype(np.int64)


def observed_rates(
    data: DoseResponseData, n_bins: int = 4, ci_prob: float = 0.94
) -> pd.DataFrame:
    """Observed response rates with Wilson intervals, per study and dose bin.

    Parameters
    ----------
    data : DoseResponseData
        The cohort.
    n_bins : int
        Dose-quantile bins per study for patient rows (fewer when a study has fewer patients or
        tied doses). Aggregate rows are kept as reported.
    ci_prob : float
        Probability of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``study``, ``source`` (``"ipd"``/``"aggregate"``), ``dose`` (median
        patient dose of the bin, or the reported dose), ``dose_low``, ``dose_high``,
        ``events``, ``n``, ``rate``, ``lower``, ``upper``.
    """
    if not isinstance(data, DoseResponseData):
        raise DoseResponseError(f"data must be a DoseResponseData; got {type(data).__name__}.")
    ci_prob = check_ci_prob(ci_prob)
    rows = []
    ipd, agg = data.ipd, data.aggregate
    for study in data.studies:
        part = ipd.loc[ipd["study"] == study]
        if len(part):
            dose = part["dose"].to_numpy(dtype=np.float64)
            outcome = part["outcome"].to_numpy(dtype=np.float64)
            index = quantile_bins(dose, min(n_bins, len(part)))
            for k in np.unique(index):
                sel = index == k
                rows.append(
                    (study, "ipd", float(np.median(dose[sel])), float(dose[sel].min()),
                     float(dose[sel].max()), float(outcome[sel].sum()), float(sel.sum()))
                )
        for row in agg.loc[agg["study"] == study].itertuples():
            low = getattr(row, "dose_low", np.nan)
            high = getattr(row, "dose_high", np.nan)
            rows.append((study, "aggregate", float(row.dose), _num(low), _num(high),
                         float(row.events), float(row.n)))
    frame = pd.DataFrame(
        rows, columns=["study", "source", "dose", "dose_low", "dose_high", "events", "n"]
    )
    frame["rate"] = frame["events"] / frame["n"]
    lower, upper = wilson_interval(frame["events"], frame["n"], ci_prob)
    frame["lower"], frame["upper"] = lower, upper
    frame.attrs.update({"ci_prob": ci_prob, "dose_unit": data.dose_unit})
    return frame


def check_ci_prob(ci_prob: float) -> float:
    """Validate an interval probability strictly inside (0, 1)."""
    value = check_scalar(ci_prob, "ci_prob")
    if not 0.0 < value < 1.0:
        raise DoseResponseError(f"ci_prob must lie in (0, 1), e.g. 0.94; got {ci_prob!r}.")
    return value


def check_n_bins(n_bins: int) -> int:
    """Validate a number of bins (integer >= 1)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise DoseResponseError(f"n_bins must be an integer >= 1, e.g. 4; got {n_bins!r}.")
    return int(n_bins)


def _num(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out
