r"""Plot of a late-toxicity fit: cumulative incidence against time by dose group, over the data.

Patients are split into dose groups (quantiles of dose). For each group the figure shows the
Turnbull estimate of the cumulative incidence of the group's own patients
(:func:`doseresponse.models.turnbull.turnbull_npmle`; interval-censored events, censoring at the
last visit) and the model's cumulative incidence for the same patients — the posterior mean of
:math:`\pi(D_i)F(t \mid D_i)` averaged over the group's doses, for a typical centre — with its
credible band. Times in the data's ``time_unit``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from doseresponse._stats import check_ci_prob
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.late_density import late_rows
from doseresponse.models.turnbull import turnbull_npmle

__all__ = ["plot_cumulative_incidence"]


def plot_cumulative_incidence(
    fit,
    doses: ArrayLike | None = None,
    *,
    n_groups: int = 3,
    times: ArrayLike | None = None,
    ci_prob: float = 0.9,
    ax=None,
):
    """Model cumulative incidence against time by dose group, over the Turnbull estimate.

    Parameters
    ----------
    fit : LateToxicityFit
        The fit (:class:`doseresponse.models.late_toxicity.LateToxicityFit`).
    doses : array_like, optional
        Draw model curves at these doses (dose unit) instead of the dose groups; the data are
        then shown as one Turnbull estimate of all patients.
    n_groups : int
        Number of dose groups (quantiles of patient dose).
    times : array_like, optional
        Time grid (time unit); default 0 to the longest follow-up.
    ci_prob : float
        Probability of the credible band.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    ci_prob = check_ci_prob(ci_prob)
    if isinstance(n_groups, bool) or not isinstance(n_groups, int) or n_groups < 1:
        raise DoseResponseError(f"n_groups must be a positive integer; got {n_groups!r}.")
    rows = late_rows(fit.data, ())
    horizon_max = float(rows.upper.max())
    grid = np.linspace(0.0, horizon_max, 61) if times is None else np.asarray(times, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lo_q, hi_q = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    if doses is not None:
        groups = [(f"{d:g} {fit.spec.dose_unit}", np.array([float(d)]), None)
                  for d in np.atleast_1d(np.asarray(doses, dtype=float))]
        _draw_turnbull(ax, rows, np.ones(rows.dose.size, bool), "k", "data (Turnbull)")
    else:
        edges = np.quantile(rows.dose, np.linspace(0, 1, n_groups + 1))
        index = np.clip(np.searchsorted(edges, rows.dose, side="right") - 1, 0, n_groups - 1)
        groups = [
            (f"{edges[g]:.3g}–{edges[g + 1]:.3g} {fit.spec.dose_unit}", rows.dose[index == g],
             index == g)
            for g in range(n_groups) if np.any(index == g)
        ]
    for colour, (label, group_doses, members) in zip(colours * 3, groups, strict=False):
        curves = np.stack([fit.incidence_draws(group_doses, t).mean(axis=1) for t in grid],
                          axis=1)
        ax.plot(grid, curves.mean(axis=0), color=colour, label=f"model, {label}")
        ax.fill_between(grid, np.quantile(curves, lo_q, axis=0), np.quantile(curves, hi_q, axis=0),
                        color=colour, alpha=0.2, linewidth=0)
        if members is not None:
            _draw_turnbull(ax, rows, members, colour, f"Turnbull, {label}")
    ax.set_xlabel(f"time since treatment ({fit.time_unit})")
    ax.set_ylabel(f"cumulative incidence of {fit.spec.outcome_name}")
    ax.set_ylim(0.0, None)
    ax.set_title(f"{fit.spec.curve} × {fit.spec.onset} onset; typical centre, "
                 f"{100 * ci_prob:g} % band")
    ax.legend(fontsize="small")
    return ax


def _draw_turnbull(ax, rows, members, colour, label) -> None:
    lower = np.where(rows.kind == 2, rows.lower, rows.upper)[members]  # exact: lower = upper
    upper = np.where(rows.event, rows.upper, np.inf)[members]
    frame = turnbull_npmle(lower, upper)
    xs, ys, level = [0.0], [0.0], 0.0
    for left, right, cumulative in frame[["left", "right", "cumulative"]].itertuples(
            index=False):
        if not np.isfinite(right):
            break
        xs += [left, right]
        ys += [level, cumulative]
        level = cumulative
    xs.append(rows.upper[members].max())
    ys.append(level)
    ax.plot(xs, ys, color=colour, linestyle="--", linewidth=1.2, label=label)
