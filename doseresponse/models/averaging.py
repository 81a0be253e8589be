r"""Model averaging across curve families and pooling choices: the mixture of posteriors.

:func:`average_models` weighs fits of the same data by stacking or pseudo-BMA+
(:mod:`doseresponse.models.model_weights`, from their PSIS-LOO — or K-fold — pointwise
predictive densities) and returns a :class:`ModelAverage`, whose curves, tolerance doses and
prescriptions come from the **mixture** of the fits' posteriors:
:math:`p(\tilde y \mid y) = \sum_k w_k\, p(\tilde y \mid y, M_k)`.

* Bands and per-draw doses use a seeded resample of the fits' draws in proportion to the
  weights (``n_draws`` draws; model *k* contributes ``round(w_k n_draws)`` by the largest
  remainder rule), the same resample for every call, so a curve, a dose and a prescription
  use the same draws.
* The ``mean`` curve and the ``"predictive"`` dose use the weights exactly:
  :math:`\bar P(d) = \sum_k w_k \bar P_k(d)` with :math:`\bar P_k` the posterior predictive
  risk of fit *k* (for a new centre, integrated over the centre effect); this is the risk a
  decision uses.

Each prediction says its quantity as the fits do (``which="population"``: the typical centre,
``"new_study"``: a new centre, or a study label). A :class:`ModelAverage` has the surface of
:class:`~doseresponse.models.results.FittedModel` where it makes sense (``curve``, ``dose_at``,
``probability_draws``, ``summary``, ``plot_curve``, ``save``) and is accepted by
:func:`doseresponse.prescribe.prescribe` wherever a fitted curve is. Saved averages are a
directory of one NetCDF file per fit plus a JSON manifest with digests
(:mod:`doseresponse.models.averaging_io`).

Notes
-----
Yao Y, Vehtari A, Simpson D, Gelman A (2018) "Using stacking to average Bayesian predictive
distributions" Bayesian Anal 13:917: the averaged predictive is the weighted mixture of the
models' posterior predictive distributions (their eq. 1 and section 3). Averaging model
*predictions* rather than parameters is what makes families with different slope parameters
(γ50, m) combinable. BMDS's Bayesian model averaging averages benchmark doses the same way
(US EPA 2020, *Benchmark Dose Software 3.2 User Guide*, "Bayesian model averaging").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize

from doseresponse._stats import check_ci_prob
from doseresponse._validation import check_probability
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models.checks import _named_fits, compare
from doseresponse.models.result_types import DEFAULT_CI_PROB, CurveBand, DoseAt
from doseresponse.models.results import _NEW_STUDY_SEED, FittedModel

__all__ = ["AVERAGE_METHODS", "DEFAULT_AVERAGE_DRAWS", "ModelAverage", "average_models"]

AVERAGE_METHODS = ("stacking", "pseudo-bma+")
"""Weightings :func:`average_models` offers (``"pseudo-bma"`` without bootstrap is not: it is
over-confident; Yao et al. 2018)."""
DEFAULT_AVERAGE_DRAWS = 4000
"""Draws of the resampled mixture."""
_MIXTURE_SEED = 20181001
_WEIGHT_COLUMN = {"stacking": "weight", "pseudo-bma+": "pseudo_bma_weight"}


def average_models(
    fits: Mapping[str, FittedModel] | Sequence[FittedModel],
    method: str = "stacking",
    *,
    ic: str = "auto",
    n_draws: int = DEFAULT_AVERAGE_DRAWS,
    random_seed: int = _MIXTURE_SEED,
    **compare_options: Any,
) -> ModelAverage:
    r"""Average fits of the same data by stacking or pseudo-BMA+ weights.

    Parameters
    ----------
    fits : mapping or sequence of FittedModel
        Two or more fits of the same data and the same kind (NTCP or TCP), dose metric and
        unit: different curve families, pooling choices or covariates. Named as in
        :func:`doseresponse.models.checks.compare`.
    method : {"stacking", "pseudo-bma+"}
        Weighting (:mod:`doseresponse.models.model_weights`).
    ic : {"loo", "kfold", "loso", "auto"}
        The pointwise predictive densities the weights are computed from
        (:func:`~doseresponse.models.checks.compare`); ``"auto"`` (the default): PSIS-LOO, or
        K-fold for every fit where PSIS-LOO is unreliable (Pareto k > 0.7; the table's
        ``attrs["ic_reason"]`` says which and why). (Leave-one-study-out weighs models by how
        they predict new centres.)
    n_draws : int
        Draws of the resampled mixture.
    random_seed : int
        Seed of the resample.
    **compare_options
        ``k=``, ``draws=``, ``tune=``, ``chains=`` for ``ic="kfold"``/``"loso"``/``"auto"``.

    Returns
    -------
    ModelAverage
        With the weights, the comparison table and the fits.

    Raises
    ------
    DoseResponseError
        Unknown ``method``, ``ic="waic"``, late-toxicity fits (not averaged: compare them with
        :func:`~doseresponse.models.checks.compare`), or fits of different kinds, dose metrics
        or units.
    ModelMismatchError
        Fits of different data.
    """
    if method not in AVERAGE_METHODS:
        raise DoseResponseError(
            f"unknown method={method!r}; use one of {', '.join(AVERAGE_METHODS)}."
        )
    if ic == "waic":
        raise DoseResponseError(
            "weights from WAIC are not offered; use ic='loo' (or 'kfold' where LOO is "
            "unreliable)."
        )
    named = _named_fits(fits)
    _check_same_quantity(named)
    table = compare(named, ic=ic, **compare_options)
    weights = {str(name): float(table.loc[name, _WEIGHT_COLUMN[method]]) for name in named}
    return ModelAverage(
        named, weights, method=method, ic=str(table.attrs["ic"]), comparison=table,
        n_draws=n_draws, random_seed=random_seed,
    )


class ModelAverage:
    """Posterior-predictive mixture of several fits of the same data (see the module docstring).

    Parameters
    ----------
    fits : mapping of str to FittedModel
        The fits by name.
    weights : mapping of str to float
        Weight of each fit (non-negative; normalised to sum to one).
    method : str
        How the weights were obtained (``"stacking"``, ``"pseudo-bma+"``, or a name of your
        own for weights you supply).
    ic : str
        The criterion the weights came from (``"loo"``, ``"kfold"``, ...; ``""`` if given).
    comparison : pandas.DataFrame, optional
        The :func:`~doseresponse.models.checks.compare` table the weights came from.
    n_draws : int
        Draws of the resampled mixture.
    random_seed : int
        Seed of the resample.

    Attributes
    ----------
    fits : dict of str to FittedModel
    weights : dict of str to float
    method, ic : str
    comparison : pandas.DataFrame or None
    kind, dose_metric, dose_unit : str
        Shared by every fit.
    curve_name : str
        ``"average(<name>, ...)"`` over the fits with non-zero weight.
    """

    def __init__(
        self,
        fits: Mapping[str, FittedModel],
        weights: Mapping[str, float],
        *,
        method: str,
        ic: str = "",
        comparison: pd.DataFrame | None = None,
        n_draws: int = DEFAULT_AVERAGE_DRAWS,
        random_seed: int = _MIXTURE_SEED,
    ) -> None:
        named = _named_fits(dict(fits))
        _check_same_quantity(named)
        if set(weights) != set(named):
            raise DoseResponseError(
                f"weights must name every fit exactly once: fits {sorted(named)}, weights "
                f"{sorted(weights)}."
            )
        w = np.array([_weight(weights[name], name) for name in named])
        if w.sum() <= 0:
            raise DoseResponseError("at least one weight must be positive.")
        if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
            raise DoseResponseError(f"n_draws must be a positive integer; got {n_draws!r}.")
        if isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer)) or (
            random_seed < 0
        ):
            raise DoseResponseError(f"random_seed must be an integer >= 0; got {random_seed!r}.")
        self.fits = dict(named)
        self.weights = dict(zip(named, (w / w.sum()).tolist(), strict=True))
        self.method = str(method)
        self.ic = str(ic)
        self.comparison = comparison
        self.n_draws = int(n_draws)
        self.random_seed = int(random_seed)
        first = next(iter(named.values())).spec
        self.kind, self.dose_metric, self.dose_unit = first.kind, first.dose_metric, first.dose_unit
        self.curve_name = "average(" + ", ".join(
            name for name, weight in self.weights.items() if weight > 0
        ) + ")"
        self._counts = _allocate(np.array(list(self.weights.values())), self.n_draws)
        rng = np.random.default_rng(self.random_seed)
        self._indices = {}
        for (name, fit), count in zip(self.fits.items(), self._counts, strict=True):
            n_fit = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
            self._indices[name] = rng.choice(n_fit, size=int(count), replace=bool(count > n_fit))

    # ------------------------------------------------------------------ description

    @property
    def data(self):
        """The data every fit was fitted to."""
        return next(iter(self.fits.values())).data

    @property
    def draw_counts(self) -> dict[str, int]:
        """Draws each fit contributes to the resampled mixture."""
        return dict(zip(self.fits, (int(c) for c in self._counts), strict=True))

    def summary_frame(self) -> pd.DataFrame:
        """The fits with their weights.

        Returns
        -------
        pandas.DataFrame
            Index: fit name; columns ``weight`` (the weight used), ``draws`` (draws in the
            resampled mixture), ``curve``, ``pooling`` and, when the weights came from
            :func:`average_models`, ``elpd``, ``elpd_diff``, ``dse``, ``verdict``, ``stacking``
            and ``pseudo_bma_plus`` (both weightings, for comparison).
        """
        frame = pd.DataFrame(
            {
                "weight": list(self.weights.values()),
                "draws": list(self.draw_counts.values()),
                "curve": [fit.spec.curve for fit in self.fits.values()],
                "pooling": [fit.spec.pooling for fit in self.fits.values()],
            },
            index=pd.Index(list(self.fits), name="model"),
        )
        if self.comparison is not None:
            table = self.comparison.reindex(frame.index)
            for column in ("elpd", "elpd_diff", "dse", "verdict"):
                frame[column] = table[column]
            frame["stacking"] = table["weight"]
            frame["pseudo_bma_plus"] = table["pseudo_bma_weight"]
        frame.attrs.update(method=self.method, ic=self.ic)
        return frame

    def summary(self) -> str:
        """Printable summary: the quantity averaged, the weights and what the comparison says.

        Returns
        -------
        str
            Several lines of plain text: the method and criterion, the data, the table of
            :meth:`summary_frame` and the comparison's verdict in words.
        """
        data = self.data
        lines = [
            f"{self.kind} model average ({self.method} weights"
            + (f" from {self.ic.upper()}" if self.ic else "") + f") of {len(self.fits)} fits",
            f"dose metric: {self.dose_metric} [{self.dose_unit}]; data: {len(data.studies)} "
            f"studies, {data.n_patients} patients, {data.n_events} events",
            "curves and doses come from the mixture of the fits' posteriors "
            f"({self.n_draws} resampled draws; mean curve and predictive dose use the weights "
            "exactly)",
            "",
            self.summary_frame().to_string(float_format=lambda v: f"{v:.3g}"),
        ]
        if self.comparison is not None and "verdict" in self.comparison.attrs:
            lines += ["", self.comparison.attrs["verdict"]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}: {w:.2f}" for name, w in self.weights.items())
        return f"ModelAverage({self.kind}, {self.method}, {{{shown}}})"

    # ------------------------------------------------------------------ predictions

    def probability_draws(
        self,
        dose: ArrayLike,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        *,
        new_study: str = "spread",
        random_seed: int = _NEW_STUDY_SEED,
    ) -> np.ndarray:
        """Response probability per draw of the resampled mixture at each dose.

        Parameters
        ----------
        dose : array_like
            1-D doses (>= 0, dose unit).
        which : str
            ``"population"`` (typical centre), ``"new_study"`` (a new centre) or a study label.
        covariates : mapping, optional
            Covariate values (a covariate a fit does not use is ignored by that fit).
        new_study : {"spread", "averaged"}
            The new-centre view (:meth:`FittedModel.probability_draws`).
        random_seed : int
            Seed of the new-centre effects of ``"spread"``.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_draws, n_dose)``; rows are the resampled draws, fit by fit.
        """
        self._check_covariates(covariates)
        parts = [
            fit.probability_draws(
                dose, which, _covariates_for(fit, covariates), new_study=new_study,
                random_seed=random_seed,
            )[self._indices[name]]
            for name, fit in self._active()
        ]
        return np.concatenate(parts, axis=0)

    def curve(
        self,
        dose_grid: ArrayLike,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        random_seed: int = _NEW_STUDY_SEED,
        *,
        new_study: str = "spread",
    ) -> CurveBand:
        """Averaged dose-response curve with a credible band.

        Parameters
        ----------
        dose_grid : array_like
            Doses (>= 0, dose unit).
        which, covariates, random_seed, new_study
            As in :meth:`probability_draws`.
        ci_prob : float
            Probability of the equal-tailed band (quantiles of the resampled mixture).

        Returns
        -------
        CurveBand
            ``mean`` is the weighted mean of the fits' posterior predictive risks (exact
            weights); ``median``/``lower``/``upper`` are quantiles of the mixture draws.
        """
        ci_prob = check_ci_prob(ci_prob)
        prob = self.probability_draws(
            dose_grid, which, covariates, new_study=new_study, random_seed=random_seed
        )
        dose = np.atleast_1d(np.asarray(dose_grid, dtype=np.float64))
        mean = self._mean_risk(dose, which, covariates, new_study, random_seed)
        q = np.quantile(prob, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
        return CurveBand(
            dose=dose, mean=mean, median=q[1], lower=q[0], upper=q[2], which=str(which),
            metric=self.dose_metric, unit=self.dose_unit, ci_prob=ci_prob,
            covariates=dict(covariates or {}), kind=self.kind,
            method=f"equal-tailed quantiles of the {self.method} mixture of posteriors",
            new_study_view=new_study if which == "new_study" else "",
        )

    def dose_at(
        self,
        p: float,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        random_seed: int = _NEW_STUDY_SEED,
        *,
        new_study: str = "spread",
    ) -> DoseAt:
        r"""Dose giving response probability ``p`` under the model average (TDp / TCDp).

        Parameters
        ----------
        p : float
            Response probability in (0, 1).
        which, covariates, ci_prob, random_seed, new_study
            As in :meth:`curve`.

        Returns
        -------
        DoseAt
            Per-draw doses from the resampled mixture (``mean``, ``median``, ``lower``,
            ``upper``, ``draws``); ``predictive`` is the dose where the averaged posterior
            predictive risk :math:`\sum_k w_k \bar P_k(d)` equals ``p`` (for a new centre,
            with the centre effect integrated out) — the dose a decision uses.
        """
        p = float(check_probability(p, "p"))
        ci_prob = check_ci_prob(ci_prob)
        self._check_covariates(covariates)
        results = {  # every fit with weight: the predictive dose is bracketed by all of them
            name: fit.dose_at(p, which, _covariates_for(fit, covariates), ci_prob, random_seed,
                              new_study=new_study)
            for name, fit in self.fits.items() if self.weights[name] > 0
        }
        draws = np.concatenate(
            [np.asarray(results[name].draws)[self._indices[name]] for name, _ in self._active()]
        )
        lower, median, upper = np.quantile(draws, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
        first = next(iter(results.values()))
        return DoseAt(
            p=p, which=str(which), metric=self.dose_metric, unit=self.dose_unit,
            ci_prob=ci_prob, label=first.label, mean=float(draws.mean()), median=float(median),
            lower=float(lower), upper=float(upper), draws=draws,
            covariates=dict(covariates or {}), n_at_zero=int(np.sum(draws == 0.0)),
            method=f"equal-tailed quantiles of the {self.method} mixture of posteriors",
            predictive=self._predictive_dose(
                p, [r.predictive for r in results.values()], which, covariates, random_seed
            ),
            new_study_view=new_study if which == "new_study" else "",
        )

    def plot_curve(
        self,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        *,
        dose_grid: ArrayLike | None = None,
        show_fits: bool = True,
        ax=None,
    ):
        """The averaged curve with its band, and each fit's mean curve (matplotlib).

        Parameters
        ----------
        which, covariates, ci_prob
            As in :meth:`curve`.
        dose_grid : array_like, optional
            Doses (default: 0 to 1.5 × the largest dose in the data, 200 points).
        show_fits : bool
            Also draw each fit's mean curve (dashed), labelled with its weight.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if dose_grid is None:
            data = self.data
            top = max([*data.ipd["dose"].tolist(), *data.aggregate["dose"].tolist(), 1.0])
            dose_grid = np.linspace(0.0, 1.5 * top, 200)
        band = self.curve(dose_grid, which, covariates, ci_prob)
        if ax is None:
            _, ax = plt.subplots()
        ax.fill_between(band.dose, band.lower, band.upper, alpha=0.3,
                        label=f"{100 * ci_prob:g}% band ({self.method} average)")
        ax.plot(band.dose, band.mean, color="k", label="averaged predictive risk")
        if show_fits:
            for name, fit in self._active():
                own = fit.curve(dose_grid, which, _covariates_for(fit, covariates), ci_prob)
                ax.plot(own.dose, own.mean, "--", lw=1,
                        label=f"{name} (weight {self.weights[name]:.2f})")
        ax.set_xlabel(f"{self.dose_metric} [{self.dose_unit}]")
        ax.set_ylabel(f"{self.kind} ({which})")
        ax.set_ylim(0.0, 1.0)
        ax.legend(fontsize="small")
        return ax

    # ------------------------------------------------------------------ persistence

    def report(self, path: str | PathLike[str], **kwargs):
        """Write the physician report of the average: one self-contained HTML file.

        Parameters
        ----------
        path : str or path-like
            Destination ``.html`` file.
        **kwargs
            ``tcp=``, ``plan=``, ``overwrite=``, ``figures=``, ``ci_prob=``, ... as in
            :func:`doseresponse.report.write_report` (curves, tolerance doses and plan from
            the mixture; weights, method and member models shown).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from doseresponse.report import write_report

        return write_report(self, path, **kwargs)

    def save(self, path: str | PathLike[str], *, overwrite: bool = False):
        """Write the average to a directory (:func:`doseresponse.models.averaging_io.save_average`).

        Parameters
        ----------
        path : str or path-like
            Destination directory (must not exist unless ``overwrite``).
        overwrite : bool
            Replace an existing saved average.

        Returns
        -------
        pathlib.Path
            The directory written.
        """
        from doseresponse.models.averaging_io import save_average

        return save_average(self, path, overwrite=overwrite)

    # ------------------------------------------------------------------ internals

    def _check_covariates(self, covariates: Mapping[str, float] | None) -> None:
        if covariates is None:
            return
        if not isinstance(covariates, Mapping):
            raise DoseResponseError(
                f"covariates must be a mapping name -> value; got {type(covariates).__name__}."
            )
        known = {n for fit in self.fits.values() for n in fit.spec.all_covariates}
        unknown = sorted(set(covariates) - known)
        if unknown:
            raise DoseResponseError(
                f"unknown covariates {unknown}; the averaged fits use "
                f"{sorted(known) or 'none'}."
            )

    def _active(self):
        return [(name, fit) for (name, fit), count in zip(self.fits.items(), self._counts,
                                                           strict=True) if count > 0]

    def _mean_risk(self, dose, which, covariates, new_study, random_seed) -> np.ndarray:
        r""":math:`\sum_k w_k \bar P_k(d)` (exact weights, all draws of each fit)."""
        total = np.zeros(np.atleast_1d(dose).shape, dtype=np.float64)
        for name, fit in self.fits.items():
            if self.weights[name] > 0:
                prob = fit.probability_draws(
                    dose, which, _covariates_for(fit, covariates), new_study=new_study,
                    random_seed=random_seed,
                )
                total += self.weights[name] * prob.mean(axis=0)
        return total

    def _predictive_dose(self, p, per_fit, which, covariates, random_seed) -> float:
        r"""Root of :math:`\sum_k w_k \bar P_k(d) = p` (new centre: averaged view).

        Each :math:`\bar P_k` is increasing and reaches ``p`` at fit *k*'s own predictive
        dose, so the root lies between the smallest and largest of those (Brent's method).
        """
        low, high = float(min(per_fit)), float(max(per_fit))
        if math.isclose(low, high, rel_tol=1e-12, abs_tol=0.0):
            return low
        view = "averaged"

        def excess(dose: float) -> float:
            return float(
                self._mean_risk(np.array([dose]), which, covariates, view, random_seed)[0]
            ) - p

        if excess(low) >= 0.0:
            return low
        return float(optimize.brentq(excess, low, high, xtol=1e-12 * max(high, 1.0), rtol=1e-12))


# ---------------------------------------------------------------------------- helpers


def _allocate(weights: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder rounding of ``weights * n`` to integers summing to ``n``."""
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(np.int64)
    rest = n - int(counts.sum())
    if rest:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:rest]] += 1
    return counts


def _weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DoseResponseError(f"weights[{name!r}] must be a number; got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise DoseResponseError(f"weights[{name!r}] must be finite and >= 0; got {value!r}.")
    return value


def _covariates_for(fit: FittedModel, covariates: Mapping[str, float] | None):
    """The covariates a fit uses (fits of different covariate sets can be averaged)."""
    if covariates is None:
        return None
    names = set(fit.spec.all_covariates)
    return {k: v for k, v in covariates.items() if k in names} or None


def _check_same_quantity(named: Mapping[str, FittedModel]) -> None:
    from doseresponse.models.late_toxicity import LateToxicityFit

    late = [name for name, fit in named.items() if isinstance(fit, LateToxicityFit)]
    if late:
        raise DoseResponseError(
            f"fit(s) {', '.join(map(repr, late))} are late-toxicity fits, which average_models "
            "does not combine (it averages binary NTCP/TCP fits). Rank late-toxicity fits with "
            "dr.compare(fits) (PSIS-LOO or K-fold, e.g. Weibull against log-normal onset) and "
            "prescribe from the chosen fit at a stated horizon (fit.at_horizon(months))."
        )
    fits = list(named.items())
    first_name, first = fits[0]
    for name, fit in fits[1:]:
        for attr in ("kind", "dose_metric", "dose_unit"):
            a, b = getattr(first.spec, attr), getattr(fit.spec, attr)
            if a != b:
                raise DoseResponseError(
                    f"fits {first_name!r} and {name!r} differ in {attr} ({a!r} vs {b!r}); only "
                    "fits of the same quantity can be averaged."
                )
        if not fit.data == first.data:
            raise ModelMismatchError(
                f"fit {name!r} was fitted to different data than fit {first_name!r}; average "
                "fits of one DoseResponseData."
            )

