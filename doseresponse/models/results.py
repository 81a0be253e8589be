r"""Fitted hierarchical dose-response models and their result objects.

:class:`FittedModel` holds the posterior groups (plain :class:`xarray.Dataset` objects, the
same with ArviZ 0.x and 1.x), the :class:`ModelSpec` and the data it was fitted to;
:attr:`FittedModel.idata` gives the groups as the installed ArviZ's container (``InferenceData``
or ``xarray.DataTree``). It reports parameters (:meth:`FittedModel.summary_frame`),
convergence (:meth:`FittedModel.diagnostics`), dose-response curves with credible bands
(:meth:`FittedModel.curve` → :class:`CurveBand`) and tolerance doses such as TD5 or TCD50
(:meth:`FittedModel.dose_at` → :class:`DoseAt`).

Predictions say which curve they describe (``which=``):

``"population"``
    the typical study (study random effect 0);
``"new_study"``
    a centre not in the data, in one of two views (``new_study=``, see
    :mod:`doseresponse.models.predictive`): ``"spread"`` (default for curves) gives each
    posterior draw a fresh random effect :math:`u \sim N(0, \tau^2)` from a seeded generator,
    so the band shows where a new centre's own curve may lie; ``"averaged"`` integrates the
    new-centre effect out per draw (the risk for a patient at a new centre, with only parameter
    uncertainty in the band). Both have the same mean: the posterior predictive risk, which
    :meth:`FittedModel.dose_at` inverts as its ``"predictive"`` dose and decisions use;
a study label
    that study, with its own random effect (and its study-level covariates).

Doses are in the unit of the fitted dose metric (e.g. Gy BED).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from os import PathLike
from types import MappingProxyType

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from doseresponse import _arviz_compat
from doseresponse._stats import check_ci_prob
from doseresponse._validation import (
    as_float_array,
    check_probability,
    check_scalar,
    known_covariates,
)
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, UnknownNameError
from doseresponse.models.background import background_note, spec_background
from doseresponse.models.degenerate import prior_driven_causes
from doseresponse.models.predictive import NEW_STUDY_VIEWS, DrawParameters, draw_parameters
from doseresponse.models.result_types import DEFAULT_CI_PROB, CurveBand, DoseAt
from doseresponse.models.spec import ModelSpec

__all__ = ["ESS_MIN", "RHAT_MAX", "CurveBand", "DoseAt", "FittedModel"]

RHAT_MAX = 1.01
"""Largest acceptable rank-normalised split R-hat (Vehtari et al. 2021)."""
ESS_MIN = 400
"""Smallest acceptable bulk and tail effective sample size (Vehtari et al. 2021)."""

_NEW_STUDY_SEED = 20240917
_ROW_DIMS = {"ipd_row", "agg_row"}


class FittedModel:
    """A fitted Bayesian hierarchical TCP/NTCP model.

    Parameters
    ----------
    idata : arviz.InferenceData, xarray.DataTree or mapping of str to xarray.Dataset
        Posterior draws (``posterior`` group, named dims) and ``sample_stats``: what a sampler
        returned on either ArviZ stack, or the groups as Datasets.
    spec : ModelSpec
        The model that was fitted.
    data : DoseResponseData
        The data it was fitted to.

    Attributes
    ----------
    groups : dict of str to xarray.Dataset
        The stored groups (read-only view; every result is computed from these).
    posterior : xarray.Dataset
        The ``posterior`` group.
    idata : arviz.InferenceData or xarray.DataTree
        The groups in the installed ArviZ's container, for ArviZ functions.

    Notes
    -----
    Convergence thresholds follow Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner P-C
    (2021) "Rank-normalization, folding, and localization: an improved R-hat" Bayesian Anal
    16:667: R-hat < 1.01 and bulk/tail ESS > 400 (100 per chain for 4 chains); any divergent
    transition signals a posterior geometry the sampler could not explore (Betancourt M 2017,
    arXiv:1701.02434).
    """

    def __init__(self, idata, spec: ModelSpec, data: DoseResponseData) -> None:
        if not isinstance(spec, ModelSpec):
            raise DoseResponseError(f"spec must be a ModelSpec; got {type(spec).__name__}.")
        if not isinstance(data, DoseResponseData):
            raise DoseResponseError(
                f"data must be a DoseResponseData; got {type(data).__name__}."
            )
        try:
            groups = _arviz_compat.as_groups(idata)
        except TypeError as exc:
            raise DoseResponseError(f"idata: {exc}") from None
        if "posterior" not in groups:
            raise DoseResponseError("idata has no posterior group; it is not a fitted model.")
        for name, values in groups["posterior"].data_vars.items():
            if values.dims[:2] != ("chain", "draw"):
                raise DoseResponseError(
                    f"posterior variable {name!r} has dims {values.dims}; every posterior "
                    "variable must start with ('chain', 'draw') (it is not a set of MCMC draws)."
                )
        self._groups = groups
        self.spec = spec
        self.data = data

    @property
    def groups(self) -> Mapping[str, xr.Dataset]:
        """The stored groups by name (``posterior``, ``sample_stats``, ...), read-only."""
        return MappingProxyType(self._groups)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws (dims ``chain``, ``draw``, ...); D50 values in the dose unit."""
        return self._groups["posterior"]

    @property
    def idata(self):
        """The groups as the installed ArviZ's container, for ArviZ functions.

        ``arviz.InferenceData`` with ArviZ 0.x, ``xarray.DataTree`` with ArviZ 1.x. A new
        container is built on every access; changing it does not change the fit.
        """
        return _arviz_compat.to_native(self._groups)

    def __repr__(self) -> str:
        post = self.posterior
        return (
            f"FittedModel({self.spec.kind}, curve={self.spec.curve!r}, "
            f"pooling={self.spec.pooling!r}, {len(self.data.studies)} studies, "
            f"{post.sizes['chain']} chains × {post.sizes['draw']} draws)"
        )

    # ------------------------------------------------------------------ summaries

    @property
    def parameter_names(self) -> list[str]:
        """Interpretable parameters reported by :meth:`summary_frame`."""
        s = self.spec.slope_name
        names = ["d50", s, "tau", "tau_slope", "factor", "background", "d50_study",
                 f"{s}_study"]
        return [n for n in names if n in self.posterior]

    def summary_frame(
        self, ci_prob: float = DEFAULT_CI_PROB, var_names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Posterior summary of the parameters.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed credible interval, in (0, 1).
        var_names : sequence of str, optional
            Posterior variables to report; default :attr:`parameter_names`.

        Returns
        -------
        pandas.DataFrame
            Index: parameter (``"d50_study[A]"`` style for vector parameters); columns
            ``mean``, ``sd``, ``median``, ``lower``, ``upper``, ``r_hat``, ``ess_bulk``,
            ``ess_tail``. D50 values are in the dose unit.
        """
        ci_prob = check_ci_prob(ci_prob)
        names = list(var_names) if var_names is not None else self.parameter_names
        unknown = [n for n in names if n not in self.posterior]
        if unknown:
            raise UnknownNameError(
                f"unknown posterior variables {unknown}; available: "
                f"{', '.join(self.posterior.data_vars)}."
            )
        post = self.posterior[names]
        q = [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2]
        rhat = _arviz_compat.rhat(post)
        ess_bulk = _arviz_compat.ess(post, method="bulk")
        ess_tail = _arviz_compat.ess(post, method="tail")
        rows = []
        for name in names:
            values = post[name]
            extra = [d for d in values.dims if d not in ("chain", "draw")]
            flat = values.stack(sample=("chain", "draw")).transpose(*extra, "sample")
            arr = np.asarray(flat).reshape(-1, flat.sizes["sample"])
            labels = _labels(name, values, extra)
            stats = {
                "mean": arr.mean(axis=1),
                "sd": arr.std(axis=1, ddof=1),
                "median": np.quantile(arr, q[1], axis=1),
                "lower": np.quantile(arr, q[0], axis=1),
                "upper": np.quantile(arr, q[2], axis=1),
                "r_hat": np.ravel(rhat[name].values),
                "ess_bulk": np.ravel(ess_bulk[name].values),
                "ess_tail": np.ravel(ess_tail[name].values),
            }
            rows.append(pd.DataFrame(stats, index=labels))
        frame = pd.concat(rows)
        frame.index.name = "parameter"
        frame.attrs.update({"ci_prob": ci_prob, "dose_unit": self.spec.dose_unit})
        return frame

    def summary(self, ci_prob: float = DEFAULT_CI_PROB) -> str:
        """Printable summary: model, data, diagnostics and the parameter table.

        Parameters
        ----------
        ci_prob : float, default 0.95
            Probability of the credible intervals of the parameter table.

        Returns
        -------
        str
            The summary text.
        """
        spec, data = self.spec, self.data
        diag = self.diagnostics()
        failed = diag.loc[~diag["ok"], "check"].tolist()
        lines = [
            f"{spec.kind} model: {spec.curve} curve, {spec.pooling} pooling"
            + (" (slope pooled too)" if spec.pool_slope else ""),
            f"dose metric: {spec.dose_metric} [{spec.dose_unit}]; outcome: {data.outcome_name}",
            f"data: {len(data.studies)} studies, {data.n_patients} patients, "
            f"{data.n_events} events",
            "diagnostics: " + ("all passed" if not failed else "FAILED " + ", ".join(failed)),
            *(f"PRIOR-DRIVEN: {cause}" for cause in prior_driven_causes(spec, data)),
            *background_note(self),
            *_prior_conflict_note(self),
            "",
            self.summary_frame(ci_prob).to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self) -> pd.DataFrame:
        """Convergence checks as data.

        Returns
        -------
        pandas.DataFrame
            One row per check (``divergences``, ``r_hat``, ``ess_bulk``, ``ess_tail``) with
            columns ``value`` (worst value over all sampled parameters), ``threshold``,
            ``ok`` (bool), ``worst_parameter`` and ``fix`` (the usual remedy).
        """
        post = self.posterior
        names = [n for n in post.data_vars if not _ROW_DIMS & set(post[n].dims)]
        post = post[names]
        n_div = 0
        stats = self._groups.get("sample_stats")
        if stats is not None and "diverging" in stats:
            n_div = int(np.asarray(stats["diverging"]).sum())
        rhat = _worst(_arviz_compat.rhat(post), max)
        bulk = _worst(_arviz_compat.ess(post, method="bulk"), min)
        tail = _worst(_arviz_compat.ess(post, method="tail"), min)
        rows = [
            ("divergences", float(n_div), 0.0, n_div == 0, "",
             "raise target_accept (e.g. fit(..., target_accept=0.98)); if they persist, "
             "tighten the tau prior or simplify pooling"),
            ("r_hat", rhat[0], RHAT_MAX, rhat[0] <= RHAT_MAX, rhat[1],
             "run longer chains (more tune and draws); check for multimodality"),
            ("ess_bulk", bulk[0], ESS_MIN, bulk[0] >= ESS_MIN, bulk[1],
             "draw more samples (increase draws) or reparametrise"),
            ("ess_tail", tail[0], ESS_MIN, tail[0] >= ESS_MIN, tail[1],
             "draw more samples (increase draws); tail intervals are unreliable until then"),
        ]
        return pd.DataFrame(
            rows, columns=["check", "value", "threshold", "ok", "worst_parameter", "fix"]
        )

    def check(self) -> bool:
        """Warn (:class:`ConvergenceWarning`) for every failed diagnostic; True if all pass.

        Returns
        -------
        bool
            Whether every diagnostic passed.
        """
        diag = self.diagnostics()
        for row in diag.itertuples():
            if row.ok:
                continue
            if row.check == "divergences":
                what = f"{int(row.value)} divergent transitions after warm-up"
            elif row.check == "r_hat":
                what = f"R-hat {row.value:.3f} > {RHAT_MAX} for {row.worst_parameter}"
            else:
                label = "bulk" if row.check == "ess_bulk" else "tail"
                what = (
                    f"{label} ESS {row.value:.0f} < {ESS_MIN} for {row.worst_parameter}"
                )
            warnings.warn(f"{what}: {row.fix}.", ConvergenceWarning, stacklevel=2)
        return bool(diag["ok"].all())

    # ------------------------------------------------------------------ predictions

    @property
    def kind(self) -> str:
        """``"NTCP"`` or ``"TCP"``."""
        return self.spec.kind

    @property
    def dose_metric(self) -> str:
        """Dose metric of the fit (e.g. ``"BED"``)."""
        return self.spec.dose_metric

    @property
    def dose_unit(self) -> str:
        """Unit of the dose metric (e.g. ``"Gy"``)."""
        return self.spec.dose_unit

    @property
    def curve_name(self) -> str:
        """Curve family name (e.g. ``"log-logistic"``)."""
        return self.spec.curve

    def probability_draws(
        self,
        dose: ArrayLike,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        *,
        new_study: str = "spread",
        random_seed: int = _NEW_STUDY_SEED,
    ) -> np.ndarray:
        """Response probability per posterior draw at each dose.

        Parameters
        ----------
        dose : array_like
            1-D doses (>= 0, in the fitted dose unit, e.g. Gy BED).
        which : str
            ``"population"`` (typical centre), ``"new_study"`` (a new centre) or a study label.
        covariates : mapping, optional
            Covariate values; a covariate not given is 0 (a named study's study-level
            covariates default to that study's values).
        new_study : {"spread", "averaged"}
            With ``which="new_study"``: one new-centre effect per draw, or the effect
            integrated out per draw (:mod:`doseresponse.models.predictive`). Both have the
            same mean over draws (the posterior predictive risk).
        random_seed : int
            Seed of the new-centre effects of ``"spread"`` (fixed, so repeated calls agree).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_draws, n_dose)``; its mean over draws is the predictive risk.
        """
        dose = self._dose_grid(dose)
        params, _ = self._parameters(which, covariates, random_seed, new_study)
        return params.probability(dose)

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
        """Posterior dose-response curve with a credible band.

        Parameters
        ----------
        dose_grid : array_like
            Doses (>= 0, in the fitted dose unit).
        which : str
            ``"population"``, ``"new_study"`` or a study label (see module docstring).
        covariates : mapping, optional
            Covariate values; a covariate not given is 0 (study covariates of a named study
            default to that study's values).
        ci_prob : float
            Probability of the equal-tailed band.
        random_seed : int
            Seed of the new-study random effects (fixed, so repeated calls agree).
        new_study : {"spread", "averaged"}
            The new-centre view with ``which="new_study"`` (see :meth:`probability_draws`).
            The ``mean`` column is the posterior predictive risk in both views.

        Returns
        -------
        CurveBand
        """
        dose = self._dose_grid(dose_grid)
        ci_prob = check_ci_prob(ci_prob)
        params, cov = self._parameters(which, covariates, random_seed, new_study)
        prob = params.probability(dose)
        q = np.quantile(prob, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
        return CurveBand(
            dose=dose,
            mean=prob.mean(axis=0),
            median=q[1],
            lower=q[0],
            upper=q[2],
            which=str(which),
            metric=self.spec.dose_metric,
            unit=self.spec.dose_unit,
            ci_prob=ci_prob,
            covariates=cov,
            kind=self.spec.kind,
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
        """Posterior of the dose giving response probability ``p`` (TDp for NTCP, TCDp for TCP).

        Parameters
        ----------
        p : float
            Response probability in (0, 1), e.g. 0.05 for TD5.
        which, covariates, ci_prob, random_seed, new_study
            As in :meth:`curve`.

        Returns
        -------
        DoseAt
            Mapping with ``"mean"``, ``"median"``, ``"lower"``, ``"upper"`` (per-draw doses,
            dose unit), ``"predictive"`` and ``"draws"``. ``"predictive"`` is the dose at which
            the posterior predictive risk (the mean over draws of the curve; for a new centre,
            the population-averaged curve) equals ``p`` — the dose a decision should use; the
            median of per-draw doses is a different quantity. Draws whose curve exceeds ``p``
            already at zero dose count as dose 0 (reported in ``n_at_zero``). With a background
            risk b (``spec.background``), ``p`` is the *extra* risk
            :math:`(P(D) - b)/(1 - b)` (US EPA BMDS convention; ``extra_risk=True``).
        """
        p = float(check_probability(p, "p"))
        ci_prob = check_ci_prob(ci_prob)
        params, cov = self._parameters(which, covariates, random_seed, new_study)
        draws, at_zero = params.dose_at_draws(p)
        predictive_params = params
        if which == "new_study" and new_study != "averaged":
            predictive_params, _ = self._parameters(which, covariates, random_seed, "averaged")
        lower, median, upper = np.quantile(draws, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
        prefix = "TD" if self.spec.kind == "NTCP" else "TCD"
        return DoseAt(
            p=p,
            which=str(which),
            metric=self.spec.dose_metric,
            unit=self.spec.dose_unit,
            ci_prob=ci_prob,
            label=f"{prefix}{100 * p:g}",
            mean=float(draws.mean()),
            median=float(median),
            lower=float(lower),
            upper=float(upper),
            draws=draws,
            covariates=cov,
            n_at_zero=int(at_zero.sum()),
            predictive=predictive_params.predictive_dose(p),
            new_study_view=new_study if which == "new_study" else "",
            extra_risk=spec_background(self.spec),
        )

    def _dose_grid(self, dose_grid: ArrayLike) -> np.ndarray:
        dose = as_float_array(dose_grid, "dose_grid", nonnegative=True, unit=self.spec.dose_unit)
        dose = np.atleast_1d(dose)
        if dose.ndim != 1:
            raise DoseResponseError(f"dose_grid must be 1-dimensional; got shape {dose.shape}.")
        return dose

    # ------------------------------------------------------------------ checks and plots
    # thin delegates to models.checks / models.plotting / models.io (imported on use: results
    # stays the leaf they depend on)

    def ppc_table(
        self,
        by: str = "study",
        n_bins: int = 4,
        ci_prob: float = DEFAULT_CI_PROB,
        random_seed: int | None = None,
    ) -> pd.DataFrame:
        """Posterior predictive check table; see :func:`doseresponse.models.checks.ppc_table`."""
        from doseresponse.models import checks

        seed = checks._DEFAULT_SEED if random_seed is None else random_seed
        return checks.ppc_table(self, by=by, n_bins=n_bins, ci_prob=ci_prob, random_seed=seed)

    def loo(self, *, pointwise: bool = True):
        """PSIS-LOO of the fit; see :func:`doseresponse.models.checks.loo`."""
        from doseresponse.models.checks import loo

        return loo(self, pointwise=pointwise)

    def waic(self, *, pointwise: bool = True):
        """WAIC of the fit; see :func:`doseresponse.models.checks.waic`."""
        from doseresponse.models.checks import waic

        return waic(self, pointwise=pointwise)

    def plot_curve(
        self,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        show_data: bool = True,
        n_bins: int = 4,
        *,
        dose_grid: ArrayLike | None = None,
        ax=None,
    ):
        """Curve with band over the data; see :func:`doseresponse.models.plotting.plot_curve`."""
        from doseresponse.models.plotting import plot_curve

        return plot_curve(self, which, covariates, ci_prob, show_data, n_bins,
                          dose_grid=dose_grid, ax=ax)

    def plot_forest(self, ci_prob: float = DEFAULT_CI_PROB, *, ax=None):
        """D50 per study; see :func:`doseresponse.models.plotting.plot_study_forest`."""
        from doseresponse.models.plotting import plot_study_forest

        return plot_study_forest(self, ci_prob, ax=ax)

    def plot_prior_posterior(self, params: str | Sequence[str] | None = None, *, ax=None):
        """Priors vs posteriors; see :func:`doseresponse.models.plotting.plot_prior_posterior`."""
        from doseresponse.models.plotting import plot_prior_posterior

        return plot_prior_posterior(self, params, ax=ax)

    # ------------------------------------------------------------------ persistence

    def save(
        self, path: str | PathLike[str], *, overwrite: bool = False, key: bytes | None = None
    ) -> None:
        """Write the fit to a self-describing NetCDF file (:func:`doseresponse.models.io.save`).

        Parameters
        ----------
        path : str or path-like
            Destination (conventionally ``.nc``); never overwritten unless ``overwrite``.
        overwrite : bool
            Replace an existing file.
        key : bytes, optional
            Sign the file (HMAC-SHA256) for exchange between centres; load it with the same key.
        """
        from doseresponse.models.io import save

        save(self, path, overwrite=overwrite, key=key)

    def report(self, path: str | PathLike[str], **kwargs):
        """Write the physician report: one self-contained HTML file.

        Parameters
        ----------
        path : str or path-like
            Destination ``.html`` file.
        **kwargs
            ``tcp=``, ``plan=``, ``overwrite=``, ``figures=``, ``ci_prob=``, ... as in
            :func:`doseresponse.report.write_report`.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from doseresponse.report import write_report

        return write_report(self, path, **kwargs)

    # ------------------------------------------------------------------ internals

    def _flat(self, name: str) -> np.ndarray:
        values = self.posterior[name]
        extra = [d for d in values.dims if d not in ("chain", "draw")]
        arr = np.asarray(values.transpose("chain", "draw", *extra))
        return arr.reshape(-1, *arr.shape[2:])

    def _parameters(
        self,
        which: str,
        covariates: Mapping[str, float] | None,
        random_seed: int,
        new_study: str = "spread",
    ) -> tuple[DrawParameters, dict[str, float]]:
        """Per-draw curve parameters of a prediction (:func:`~.predictive.draw_parameters`)."""
        spec = self.spec
        slope_name = spec.slope_name
        which = str(which)
        studies = list(self.data.studies)
        study = None
        if new_study not in NEW_STUDY_VIEWS:
            raise UnknownNameError(
                f"unknown new_study={new_study!r}; use one of {', '.join(NEW_STUDY_VIEWS)}."
            )
        tau = tau_slope = None
        if which in ("population", "new_study"):
            if spec.pooling == "none":
                raise DoseResponseError(
                    f"which={which!r} needs population parameters, but the model was fitted "
                    f"with pooling='none'; pass a study label ({', '.join(studies)}) or refit "
                    "with pooling='partial'."
                )
            log_d50 = np.log(self._flat("d50"))
            log_slope = np.log(self._flat(slope_name))
            if which == "new_study":
                tau = self._flat("tau") if "tau" in self.posterior else None
                tau_slope = self._flat("tau_slope") if "tau_slope" in self.posterior else None
        elif which in studies:
            study = studies.index(which)
            if "d50_study" in self.posterior:
                log_d50 = np.log(self._flat("d50_study")[:, study])
            else:
                log_d50 = np.log(self._flat("d50"))
            if f"{slope_name}_study" in self.posterior:
                log_slope = np.log(self._flat(f"{slope_name}_study")[:, study])
            else:
                log_slope = np.log(self._flat(slope_name))
        else:
            raise UnknownNameError(
                f"unknown which={which!r}; use 'population', 'new_study' or a study label: "
                f"{', '.join(studies)}."
            )
        values = self._covariate_values(covariates, study)
        shift = None
        if values:
            x = np.array([values[n] for n in spec.all_covariates])
            shift = np.log(self._flat("factor")) @ x
        params = draw_parameters(
            spec.family,
            log_d50=log_d50,
            log_slope=log_slope,
            tau=tau,
            tau_slope=tau_slope,
            new_study=new_study if which == "new_study" else None,
            log_shift=shift,
            rng=np.random.default_rng(random_seed),
            background=self._flat("background") if spec.background else None,
        )
        return params, values

    def _covariate_values(
        self, covariates: Mapping[str, float] | None, study: int | None
    ) -> dict[str, float]:
        names = self.spec.all_covariates
        given = known_covariates(covariates, names)
        values = {name: 0.0 for name in names}
        if study is not None and self.spec.study_covariates:
            label = self.data.studies[study]
            rows = pd.concat([self.data.ipd, self.data.aggregate])
            first = rows.loc[rows["study"] == label].iloc[0]
            for name in self.spec.study_covariates:
                values[name] = float(first[name])
        for name, value in given.items():
            values[name] = check_scalar(value, f"covariates[{name!r}]")
        return values


# ---------------------------------------------------------------------------- helpers


def _prior_conflict_note(fit: FittedModel) -> list[str]:
    """The prior-data conflict line of the summary (:mod:`doseresponse.models.prior_conflict`)."""
    from doseresponse.models.prior_conflict import conflict_note

    return conflict_note(fit)


def _labels(name: str, values, extra: list[str]) -> list[str]:
    """Row labels ``name[a,b]`` in C order over the ``extra`` dims."""
    if not extra:
        return [name]
    coords = [[str(c) for c in values.coords[d].values] for d in extra]
    return [f"{name}[{','.join(combo)}]" for combo in itertools.product(*coords)]


def _worst(dataset, pick) -> tuple[float, str]:
    """Worst (``pick`` = max or min) finite value over every variable element, with its label."""
    candidates = []
    for name, values in dataset.data_vars.items():
        arr = np.asarray(values, dtype=float).ravel()
        labels = _labels(name, values, list(values.dims))
        candidates += [(v, lab) for v, lab in zip(arr, labels, strict=True) if np.isfinite(v)]
    if not candidates:
        return math.nan, ""
    value, label = pick(candidates, key=lambda item: item[0])
    return float(value), label
