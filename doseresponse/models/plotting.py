r"""Matplotlib figures of fitted dose-response models and their data.

Every function draws on ``ax`` (a new figure when omitted) and returns the Axes; nothing calls
``plt.show()``, so figures compose and test without a display. Doses are in the unit of the fitted
dose metric (axis labels say which, e.g. "kidney BED [Gy]").

=================================  ===========================================================
:func:`plot_curve`                 posterior curve with its credible band over the observed
                                   rates (dose bins per study, Wilson intervals, study colours)
:func:`plot_study_forest`          D50 per study, of the population and of a new study
:func:`plot_prior_posterior`       prior density versus posterior density per parameter
:func:`plot_prior_predictive`      dose-response curves implied by the priors alone
:func:`wilson_interval`            the binomial interval used for observed rates
=================================  ===========================================================

Notes
-----
Showing the fitted curve over binned observed rates with their uncertainty, and prior-predictive
curves before the fit, follows Gabry J, Simpson D, Vehtari A, Betancourt M, Gelman A (2019)
"Visualization in Bayesian workflow" J R Stat Soc A 182:389. Observed rates carry Wilson score
intervals (Wilson EB 1927 J Am Stat Assoc 22:209).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from doseresponse._stats import check_ci_prob, check_n_bins, observed_rates, wilson_interval
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.prior_predictive import prior_predictive_curves
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.results import FittedModel

__all__ = [
    "plot_curve",
    "plot_prior_posterior",
    "plot_prior_predictive",
    "plot_study_forest",
    "wilson_interval",
]

_BAND_COLOUR = "0.25"
_PRIOR_COLOUR = "tab:gray"
_POSTERIOR_COLOUR = "tab:blue"


def plot_curve(
    fit: FittedModel,
    which: str = "population",
    covariates: Mapping[str, float] | None = None,
    ci_prob: float = DEFAULT_CI_PROB,
    show_data: bool = True,
    n_bins: int = 4,
    *,
    dose_grid: ArrayLike | None = None,
    ax=None,
):
    """Posterior dose-response curve with its credible band over the observed rates.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    which : str
        ``"population"``, ``"new_study"`` or a study label (see
        :meth:`~doseresponse.models.results.FittedModel.curve`).
    covariates : mapping, optional
        Covariate values of the curve (default 0 for each).
    ci_prob : float
        Probability of the credible band and of the Wilson intervals of the data.
    show_data : bool
        Overlay observed rates: patients binned per study into ``n_bins`` dose-quantile bins
        (marker at the bin's median dose, horizontal bar over its dose range), aggregate rows as
        reported; one colour per study; marker area grows with the bin's patient count.
    n_bins : int
        Dose bins per study for patient rows.
    dose_grid : array_like, optional
        Doses of the curve (dose-metric unit). Default: 200 doses from 0 to 1.05 × the largest
        observed dose.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The observed rates pool patients with every covariate value while the curve is for the
    covariates given, so with strong covariate effects the points may sit off the curve.
    """
    fit = _check_fit(fit)
    ci_prob = check_ci_prob(ci_prob)
    n_bins = check_n_bins(n_bins)
    data = fit.data
    if dose_grid is None:
        dose_grid = np.linspace(0.0, 1.05 * _max_dose(data), 200)
    band = fit.curve(dose_grid, which=which, covariates=covariates, ci_prob=ci_prob)
    ax = _axes(ax)
    label = _curve_label(band.which, band.covariates)
    ax.fill_between(band.dose, band.lower, band.upper, color=_BAND_COLOUR, alpha=0.2, lw=0,
                    label=f"{ci_prob:.0%} credible band")
    ax.plot(band.dose, band.median, color=_BAND_COLOUR, lw=2, label=f"{label} (median)")
    if show_data:
        _plot_rates(ax, data, n_bins, ci_prob)
    return _finish_probability_axes(
        ax, data, fit.spec.kind, band.dose,
        f"{fit.spec.curve} {fit.spec.kind} curve, {fit.spec.pooling} pooling",
    )


def plot_study_forest(fit: FittedModel, ci_prob: float = DEFAULT_CI_PROB, *, ax=None):
    """Forest plot of D50 per study, of the population and of a new study.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    ci_prob : float
        Probability of the equal-tailed credible intervals.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        Studies top to bottom in data order (labelled with patients and events), then
        ``population`` and ``new study`` (diamonds; absent with ``pooling="none"``). Points are
        posterior medians, bars the credible intervals, on a log dose axis.

    Notes
    -----
    D50 of a study is the dose at 50 % response of that study's curve with covariates at 0
    (study-level covariates at the study's values). The new-study interval includes the
    between-study spread τ, so it is wider than the population one.
    """
    fit = _check_fit(fit)
    ci_prob = check_ci_prob(ci_prob)
    data = fit.data
    counts = data.summary()
    rows = []
    for study in data.studies:
        n, events = int(counts.loc[study, "patients"]), int(counts.loc[study, "events"])
        label = f"{study} (n={n}, {events} events)"
        rows.append((label, fit.dose_at(0.5, which=study, ci_prob=ci_prob), "o", "tab:blue"))
    if fit.spec.pooling != "none":
        rows.append(("population", fit.dose_at(0.5, which="population", ci_prob=ci_prob), "D",
                     "black"))
        rows.append(("new study", fit.dose_at(0.5, which="new_study", ci_prob=ci_prob), "D",
                     "tab:red"))
    ax = _axes(ax)
    y = np.arange(len(rows))[::-1]
    for pos, (_, value, marker, colour) in zip(y, rows, strict=True):
        ax.plot([value.lower, value.upper], [pos, pos], color=colour, lw=2)
        ax.plot([value.median], [pos], marker=marker, color=colour, ms=7, ls="none")
    if fit.spec.pooling != "none":
        ax.axhline(y[len(data.studies) - 1] - 0.5, color="0.7", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([row[0] for row in rows])
    ax.set_xscale("log")
    prefix = "TD50" if fit.spec.kind == "NTCP" else "TCD50"
    ax.set_xlabel(f"{prefix}, {data.dose_label} (median, {ci_prob:.0%} CrI)")
    ax.set_title(f"{prefix} per study: {fit.spec.curve}, {fit.spec.pooling} pooling")
    return ax


def plot_prior_posterior(fit: FittedModel, params: str | Sequence[str] | None = None, *, ax=None):
    """Prior density (from the spec) against the posterior density of each parameter.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    params : str or sequence of str, optional
        Parameters: ``"d50"``, the slope (``"gamma50"`` or ``"m"``), ``"tau"``,
        ``"tau_slope"`` and ``"factor:<covariate>"``. Default: every one in the model. With
        ``pooling="none"``, ``"d50"`` and the slope show each study's posterior against the
        common prior.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        One Axes per parameter; a new figure with one panel per parameter when omitted.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of Axes
        The Axes for a single parameter name, else an array of Axes (one per parameter).

    Notes
    -----
    Posterior densities are Gaussian kernel density estimates (Scott's bandwidth) of the draws;
    prior densities are exact: log-normal for D50, slope and factors, half-normal for τ. A
    posterior that merely reproduces its prior means the data say little about that parameter.
    """
    fit = _check_fit(fit)
    single = isinstance(params, str)
    names = _prior_params(fit) if params is None else ([params] if single else list(params))
    if not names:
        raise DoseResponseError("params is empty; name at least one parameter, e.g. 'd50'.")
    resolved = [_prior_and_draws(fit, name) for name in names]
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object))
        if axes.size != len(names):
            raise DoseResponseError(
                f"ax must hold one Axes per parameter ({len(names)}: {names}); got {axes.size}."
            )
    for axis, name, (prior, draws, unit) in zip(axes, names, resolved, strict=True):
        lo = min(float(np.quantile(draws, 0.001)), float(prior.ppf(0.005)))
        hi = max(float(np.quantile(draws, 0.999)), float(prior.ppf(0.995)))
        grid = np.linspace(max(lo, 0.0), hi, 300)
        axis.plot(grid, prior.pdf(grid), color=_PRIOR_COLOUR, ls="--", label="prior")
        for k in range(draws.shape[1]):
            column = draws[:, k]
            density = stats.gaussian_kde(column)(grid) if np.ptp(column) > 0 else 0 * grid
            axis.plot(grid, density, color=_POSTERIOR_COLOUR, lw=1.5 if k == 0 else 0.8,
                      label="posterior" if k == 0 else None)
        axis.set_xlabel(f"{name} [{unit}]" if unit else name)
        axis.set_yticks([])
        axis.legend(fontsize="small")
    axes[0].set_ylabel("density")
    return axes[0] if single else axes


def plot_prior_predictive(
    model,
    data: DoseResponseData,
    *,
    n_draws: int = 100,
    random_seed: int = 0,
    which: str = "population",
    covariates: Mapping[str, float] | None = None,
    dose_grid: ArrayLike | None = None,
    show_data: bool = True,
    ax=None,
):
    """Dose-response curves implied by the priors alone (the prior-predictive check).

    Parameters
    ----------
    model : NTCPModel, TCPModel or ModelSpec
        The unfitted model (default priors derived from ``data``) or a complete spec.
    data : DoseResponseData
        The cohort; its observed rates are overlaid when ``show_data``.
    n_draws : int
        Number of prior curves.
    random_seed : int
        Seed of the prior draws.
    which : {"population", "new_study"}
        Typical-study curves, or new-study curves (with a prior τ draw).
    covariates : mapping, optional
        Covariate values of the curves.
    dose_grid : array_like, optional
        Doses (dose-metric unit); default 0 to 1.2 × the largest observed dose.
    show_data : bool
        Overlay the observed rates (as in :func:`plot_curve`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        One thin line per prior draw, the pointwise prior median (thick) and the data.

    Notes
    -----
    Draws come from :func:`doseresponse.models.prior_predictive.prior_predictive_curves`.
    Priors are reasonable when the curves cover every plausible dose-response relation and few
    implausible ones (Gabry et al. 2019 J R Stat Soc A 182:389).
    """
    curves = prior_predictive_curves(
        model, data, dose_grid, n_draws, random_seed, which=which, covariates=covariates
    )
    ax = _axes(ax)
    ax.plot(curves.dose, curves.probability.T, color=_PRIOR_COLOUR, lw=0.6, alpha=0.35)
    ax.plot(curves.dose, np.median(curves.probability, axis=0), color="black", lw=2,
            label=f"prior median ({n_draws} draws)")
    if show_data:
        _plot_rates(ax, data, 4, DEFAULT_CI_PROB)
    return _finish_probability_axes(
        ax, data, curves.kind, curves.dose,
        f"prior predictive: {_curve_label(which, curves.covariates)}",
    )


# ---------------------------------------------------------------------------- helpers


def _check_fit(fit) -> FittedModel:
    if not isinstance(fit, FittedModel):
        raise DoseResponseError(
            f"fit must be a FittedModel (from NTCPModel(...).fit or doseresponse.models.io.load); "
            f"got {type(fit).__name__}."
        )
    return fit


def _finish_probability_axes(ax, data: DoseResponseData, kind: str, dose: np.ndarray, title: str):
    """Label a P(outcome)-vs-dose axes, fit its x range to ``dose``, add the legend; return it."""
    ax.set_xlabel(data.dose_label)
    ax.set_ylabel(f"{kind}: P({data.outcome_name})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(float(dose.min()), float(dose.max()))
    ax.set_title(title)
    ax.legend(fontsize="small", loc="best")
    return ax


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6.4, 4.4))
    return ax


def _max_dose(data: DoseResponseData) -> float:
    doses = np.concatenate(
        [data.ipd["dose"].to_numpy(dtype=float), data.aggregate["dose"].to_numpy(dtype=float)]
    )
    for column in ("dose_high",):
        if column in data.aggregate.columns:
            high = data.aggregate[column].to_numpy(dtype=float, na_value=np.nan)
            doses = np.concatenate([doses, high[np.isfinite(high)]])
    return float(np.nanmax(doses)) if doses.size else 1.0


def _curve_label(which: str, covariates: Mapping[str, float]) -> str:
    name = {"population": "population (typical study)", "new_study": "new study"}.get(
        which, f"study {which}"
    )
    set_ = [f"{k}={v:g}" for k, v in covariates.items() if v]
    return name + (f", {', '.join(set_)}" if set_ else "")


def _study_colours(studies: Sequence[str]) -> dict[str, object]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(studies) <= 10 else "tab20"]
    return {s: cmap(i % cmap.N) for i, s in enumerate(studies)}


def _plot_rates(ax, data: DoseResponseData, n_bins: int, ci_prob: float) -> None:
    """Observed rates per study with Wilson intervals; one errorbar container per study."""
    rates = observed_rates(data, n_bins=n_bins, ci_prob=ci_prob)
    colours = _study_colours(data.studies)
    for study in data.studies:
        part = rates.loc[rates["study"] == study]
        if part.empty:
            continue
        x = part["dose"].to_numpy()
        low = part["dose_low"].to_numpy(dtype=float)
        high = part["dose_high"].to_numpy(dtype=float)
        xerr = np.vstack([np.where(np.isfinite(low), x - low, 0.0),
                          np.where(np.isfinite(high), high - x, 0.0)])
        # clip: rounding can put a Wilson limit 1e-17 on the wrong side of a 0 or 1 rate
        yerr = np.clip(np.vstack([part["rate"] - part["lower"], part["upper"] - part["rate"]]),
                       0.0, None)
        ax.errorbar(x, part["rate"], yerr=yerr, xerr=np.clip(xerr, 0.0, None), fmt="none",
                    ecolor=colours[study], elinewidth=0.8, alpha=0.7)
        ax.scatter(x, part["rate"], s=6.0 + 6.0 * np.sqrt(part["n"].to_numpy()),
                   color=colours[study], edgecolor="white", linewidth=0.5, zorder=3,
                   label=study)


def _prior_params(fit: FittedModel) -> list[str]:
    spec, post = fit.spec, fit.posterior
    names = ["d50", spec.slope_name]
    if "tau" in post:
        names.append("tau")
    if "tau_slope" in post:
        names.append("tau_slope")
    names += [f"factor:{c}" for c in spec.all_covariates]
    return names


def _prior_and_draws(fit: FittedModel, name: str):
    """(scipy frozen prior, posterior draws (n_samples, k), unit) of a parameter name."""
    spec, post = fit.spec, fit.posterior
    unit = spec.dose_unit
    slope = spec.slope_name
    if name == "d50" or name == slope:
        key = "d50" if name == "d50" else "slope"
        variable = name if name in post else f"{name}_study"
        unit = unit if name == "d50" else ""
    elif name in ("tau", "tau_slope"):
        key, variable, unit = name, name, ""
    elif name.startswith("factor:") and name[len("factor:"):] in spec.all_covariates:
        key, variable, unit = name, "factor", ""
    else:
        valid = _prior_params(fit)
        raise UnknownNameError(
            f"unknown parameter {name!r} for a prior/posterior plot; valid names are: "
            f"{', '.join(valid)}."
        )
    if variable not in post:
        raise UnknownNameError(
            f"parameter {name!r} is not in this fit's posterior (pooling={spec.pooling!r})."
        )
    prior = spec.priors[key]
    if prior["dist"] == "lognormal":
        frozen = stats.lognorm(s=prior["sigma"], scale=prior["median"])
    else:
        frozen = stats.halfnorm(scale=prior["sigma"])
    values = post[variable]
    if variable == "factor":
        values = values.sel(covariate=name[len("factor:"):])
    extra = [d for d in values.dims if d not in ("chain", "draw")]
    arr = np.asarray(values.transpose("chain", "draw", *extra), dtype=np.float64)
    return frozen, arr.reshape(arr.shape[0] * arr.shape[1], -1), unit
