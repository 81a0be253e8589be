r"""Late toxicity with censored follow-up: the mixture cure model and its fitted result.

Kidney and marrow toxicity after radiopharmaceutical therapy appears months to years later and
is seen only at follow-up visits. A binary "toxicity yes/no" analysis of such data counts
patients who will develop it after their last visit as free of it, so it underestimates NTCP,
and it mixes studies with 1-year and 5-year follow-up. :class:`LateToxicityModel` models

.. math::

    P(\text{toxicity by } t \mid D) = \pi(D)\, F(t \mid D),

with :math:`\pi(D)` the eventual probability — a curve family pooled across studies exactly as
the binary NTCP model (partial pooling of :math:`\ln D_{50}`, covariates as dose-modifying
factors) — and :math:`F` the onset-time distribution given toxicity (Weibull or log-normal,
median :math:`t_{50}`, optionally :math:`t_{50}(D/D_{ref})^{\psi}`). Every patient row
contributes its censored, exact or interval-censored likelihood
(``doseresponse.models._late_kernel``). The fit runs nutpie on the compiled analytic density
(:class:`~doseresponse.models.late_density.LateToxicityDensity`); the PyMC model of
:mod:`doseresponse.models.late_hierarchical` is its autodiff oracle.

:class:`LateToxicityFit` answers at a user-chosen horizon (in the data's ``time_unit``):
``curve(doses, horizon=24)`` is the cumulative incidence by 24 months, ``curve(doses)`` the
eventual probability, ``dose_at(0.05, horizon=24)`` the dose with 5 % risk by 24 months; onset
summaries, a plot of cumulative incidence against time over the Turnbull estimate of the data,
diagnostics, and save/load.

Notes
-----
Mixture cure model: Boag JW (1949) J R Stat Soc B 11:15; Farewell VT (1982) Biometrics 38:1041.
Predictions for a new centre integrate the study effect on :math:`\ln D_{50}` as in
:mod:`doseresponse.models.predictive` (Gelman A et al. 2013 *Bayesian Data Analysis*, §5.5).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike
from scipy import optimize

from doseresponse import _arviz_compat
from doseresponse._stats import check_ci_prob
from doseresponse._validation import as_float_array, check_probability, check_scalar
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, UnknownNameError
from doseresponse.models.late_density import ONSET_DOSE_FLOOR, LateToxicityDensity, late_rows
from doseresponse.models.late_spec import LateToxicitySpec, late_default_priors
from doseresponse.models.predictive import NEW_STUDY_VIEWS, DrawParameters, draw_parameters
from doseresponse.models.result_types import DEFAULT_CI_PROB, CurveBand, DoseAt
from doseresponse.models.results import ESS_MIN, RHAT_MAX

__all__ = ["LateToxicityAtHorizon", "LateToxicityFit", "LateToxicityModel"]

_NEW_STUDY_SEED = 20240917
_SAMPLERS = ("auto", "nutpie", "nutpie-python")


class LateToxicityModel:
    r"""Mixture cure model of late toxicity with interval-censored follow-up.

    Parameters
    ----------
    curve : str
        Curve family of the eventual probability P(toxicity ever | dose): ``"log-logistic"``
        (default), ``"logistic"``, ``"probit"`` (LKB) or ``"cloglog"``.
    onset : {"weibull", "lognormal"}
        Distribution of the onset time given toxicity.
    pooling : {"partial", "complete", "none"}
        Pooling of ln D50 across studies (as :class:`~doseresponse.models.model.NTCPModel`).
    onset_dose_effect : bool
        Let the median onset scale with dose, :math:`t_{50}(D/D_{ref})^{\psi}` (D_ref = median
        patient dose; ψ < 0: earlier onset at higher dose).
    covariates : sequence of str, optional
        Patient covariates acting as dose-modifying factors on D50 (default: the data's).
    priors : mapping, optional
        Prior overrides (:mod:`doseresponse.models.priors` keys plus ``onset_median``,
        ``onset_shape``, ``onset_dose_slope``; see :mod:`doseresponse.models.late_spec`).
    measurement_error : {"none", "lognormal"}
        ``"lognormal"``: each patient dose with a ``dose_se`` is a noisy measurement of a latent
        true dose, exactly as in :class:`~doseresponse.models.model.NTCPModel`
        (:math:`\ln d^{obs} \sim N(\ln d^{true}, \sigma)`,
        :math:`\sigma = \sqrt{\ln(1 + (\mathrm{SE}/d)^2)}`; true log doses normal per study,
        median prior the geometric mean of the observed doses with log-SD 1, SD prior
        half-normal(1)); the eventual probability and the onset dose effect see the true dose.
        Curves and ``dose_at`` keep their meaning: risk against the true (delivered) dose.

    Examples
    --------
    >>> import doseresponse as dr
    >>> from doseresponse.simulate_late import simulate_late_toxicity
    >>> sim = simulate_late_toxicity(n_studies=3, patients_per_study=40, random_seed=1)
    >>> model = dr.LateToxicityModel(curve="log-logistic", onset="weibull")
    >>> model.spec_for(sim.data).onset
    'weibull'
    """

    def __init__(
        self,
        curve: str = "log-logistic",
        onset: str = "weibull",
        pooling: str = "partial",
        *,
        onset_dose_effect: bool = False,
        covariates: Iterable[str] | None = None,
        priors: Mapping[str, Any] | None = None,
        measurement_error: str = "none",
    ) -> None:
        checked = LateToxicitySpec(curve=curve, onset=onset, pooling=pooling,
                                   onset_dose_effect=onset_dose_effect,
                                   measurement_error=measurement_error)
        self.measurement_error = checked.measurement_error
        self.curve, self.onset, self.pooling = checked.curve, checked.onset, checked.pooling
        self.onset_dose_effect = onset_dose_effect
        self.covariates = None if covariates is None else tuple(str(c) for c in covariates)
        if priors is not None and not isinstance(priors, Mapping):
            raise DoseResponseError(f"priors must be a dict of prior settings; got {priors!r}.")
        self.priors = dict(priors or {})

    def __repr__(self) -> str:
        return (
            f"LateToxicityModel(curve={self.curve!r}, onset={self.onset!r}, "
            f"pooling={self.pooling!r}, onset_dose_effect={self.onset_dose_effect}, "
            f"measurement_error={self.measurement_error!r})"
        )

    def spec_for(self, data: DoseResponseData) -> LateToxicitySpec:
        """The complete spec (with data-derived default priors) for ``data``.

        Parameters
        ----------
        data : DoseResponseData
            Patient rows with ``follow_up`` / ``event_time`` (/ ``event_time_lower``).

        Returns
        -------
        LateToxicitySpec

        Raises
        ------
        DataValidationError
            The rows cannot be used (:func:`~doseresponse.models.late_density.late_rows`).
        UnknownNameError
            A covariate that is not in the data.
        """
        rows = late_rows(data, ())  # raises a DataValidationError for unusable data
        covariates = data.covariates if self.covariates is None else self.covariates
        unknown = [c for c in covariates if c not in data.covariates]
        if unknown:
            raise UnknownNameError(
                f"unknown covariates {unknown}; the data's patient covariates are: "
                f"{', '.join(data.covariates) or '(none)'}."
            )
        family_slope = LateToxicitySpec(curve=self.curve).slope_name
        priors = late_default_priors(
            rows.dose, rows.upper[rows.event], rows.upper[~rows.event], family_slope,
            tuple(covariates), self.priors,
        )
        if self.measurement_error == "lognormal":
            from doseresponse.models.model import _exposure_priors

            priors.update(_exposure_priors(data))  # the binary model's exposure priors
        positive = rows.dose[rows.dose > 0]
        return LateToxicitySpec(
            curve=self.curve, onset=self.onset, pooling=self.pooling,
            onset_dose_effect=self.onset_dose_effect, covariates=tuple(covariates),
            measurement_error=self.measurement_error, priors=priors,
            dose_reference=float(np.median(positive)) if positive.size else 1.0,
            dose_metric=data.dose_metric, dose_unit=data.dose_unit, time_unit=data.time_unit,
            outcome_name=data.outcome_name,
        )

    def build(self, data: DoseResponseData):
        """The PyMC model of the same density (the oracle; imports PyMC).

        Parameters
        ----------
        data : DoseResponseData
            The cohort.

        Returns
        -------
        pymc.Model
        """
        from doseresponse.models.late_hierarchical import build_late_model

        return build_late_model(self.spec_for(data), data)

    def fit(
        self,
        data: DoseResponseData,
        *,
        draws: int = 2000,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        sampler: str = "auto",
        progressbar: bool | None = None,
        target_accept: float = 0.95,
        check: bool = True,
    ) -> LateToxicityFit:
        """Sample the posterior with nutpie on the analytic density.

        Parameters
        ----------
        data : DoseResponseData
            The cohort.
        draws, tune, chains : int
            Kept draws per chain, warm-up iterations, chains. The default 2000 draws (twice
            the binary model's) is what the R-hat gate (<= 1.01) needs: on the simulated
            8-study cohorts of ``tests/models/test_late_recovery_slow.py`` 1000 draws gave
            R-hat 1.0135 for ln D50 (bulk ESS 627; the eventual probability trades off against
            a later onset when follow-up is short); 2000 draws pass on both supported stacks
            (R-hat <= 1.005) for about a third more run time (38.6 s to 50.7 s for that cohort
            on 2 shared cores; the warm-up is unchanged).
        random_seed : int, optional
            Seed (None: drawn from the OS and recorded in the fit).
        sampler : {"auto", "nutpie", "nutpie-python"}
            ``"auto"``/``"nutpie"``: nutpie through the C callbacks when available (else its
            public Python callbacks, with a warning); ``"nutpie-python"``: the public route.
        progressbar : bool, optional
            Show progress (default: in a terminal).
        target_accept : float
            NUTS target acceptance.
        check : bool
            Warn (:class:`~doseresponse.exceptions.ConvergenceWarning`) on failed diagnostics.

        Returns
        -------
        LateToxicityFit
        """
        from doseresponse.models.sampling import resolve_sampler, sample_density

        if sampler not in _SAMPLERS:
            raise UnknownNameError(
                f"unknown sampler {sampler!r} for the late-toxicity model; valid names are: "
                f"{', '.join(_SAMPLERS)}."
            )
        resolve_sampler("nutpie")  # clear error when nutpie is missing
        spec = self.spec_for(data)
        density = LateToxicityDensity(spec, data)
        groups, _ = sample_density(
            density, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
            progressbar=progressbar, target_accept=target_accept,
            route="python-callbacks" if sampler == "nutpie-python" else "auto",
        )
        fit = LateToxicityFit(groups, spec, data)
        if check:
            fit.check()
        return fit


class LateToxicityFit:
    """A fitted late-toxicity model: posterior draws, predictions at horizons, checks, save.

    Parameters
    ----------
    groups : mapping of str to xarray.Dataset
        ``posterior`` (and ``sample_stats``).
    spec : LateToxicitySpec
        The model.
    data : DoseResponseData
        The fitted cohort.

    Notes
    -----
    Predictions name their quantity: ``which="population"`` (a typical centre),
    ``"new_study"`` (a new centre, its study effect drawn per draw with ``new_study="spread"``
    or integrated out with ``"averaged"``; both have the same mean, the posterior predictive
    risk that :meth:`dose_at`'s ``predictive`` dose uses) or a study label.
    """

    def __init__(self, groups: Mapping[str, xr.Dataset], spec: LateToxicitySpec,
                 data: DoseResponseData) -> None:
        if "posterior" not in groups:
            raise DoseResponseError("groups must contain a 'posterior' dataset.")
        self._groups = dict(groups)
        self.spec = spec
        self.data = data

    # ------------------------------------------------------------------ basics

    @property
    def groups(self) -> Mapping[str, xr.Dataset]:
        """The posterior and sample-statistics datasets."""
        return dict(self._groups)

    @property
    def posterior(self) -> xr.Dataset:
        """Posterior draws (dims ``chain``, ``draw``, ...)."""
        return self._groups["posterior"]

    @property
    def time_unit(self) -> str:
        """Unit of horizons and onset times."""
        return self.spec.time_unit

    def __repr__(self) -> str:
        post = self.posterior
        return (
            f"LateToxicityFit({self.spec.curve} × {self.spec.onset} onset, "
            f"pooling={self.spec.pooling}, {self.data.n_ipd} patients in "
            f"{len(self.data.studies)} studies, {post.sizes['chain']}×{post.sizes['draw']} draws)"
        )

    def _flat(self, name: str) -> np.ndarray:
        values = self.posterior[name].transpose("chain", "draw", ...).to_numpy()
        return values.reshape(-1, *values.shape[2:])

    # ------------------------------------------------------------------ summaries

    def summary_frame(self, ci_prob: float = DEFAULT_CI_PROB) -> pd.DataFrame:
        """Posterior summary of the interpretable parameters.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed interval.

        Returns
        -------
        pandas.DataFrame
            Index: parameter (``d50`` in the dose unit, ``onset_median`` in the time unit,
            ``exposure_sd[<study>]`` with measurement error, ...; not the per-patient latent
            doses); columns ``mean``, ``sd``, ``lower``, ``median``, ``upper``, ``r_hat``,
            ``ess_bulk``.
        """
        ci_prob = check_ci_prob(ci_prob)
        hidden = ("dose_error_z", "true_dose", "exposure_log_median")  # per patient / log scale
        names = [n for n in self.posterior.data_vars
                 if not n.startswith(("log_", "z_")) and n not in hidden]
        post = self.posterior[names]
        rhat, ess = _arviz_compat.rhat(post), _arviz_compat.ess(post, method="bulk")
        rows = []
        for name in names:
            values = self._flat(name)
            flat = values.reshape(values.shape[0], -1)
            labels = [name] if values.ndim == 1 else [
                f"{name}[{c}]" for c in self.posterior[name].coords[self.posterior[name].dims[-1]]
                .values
            ]
            r = np.atleast_1d(np.asarray(rhat[name])).ravel()
            e = np.atleast_1d(np.asarray(ess[name])).ravel()
            q = np.quantile(flat, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
            for j, label in enumerate(labels):
                rows.append((label, flat[:, j].mean(), flat[:, j].std(ddof=1), q[0, j], q[1, j],
                             q[2, j], r[j], e[j]))
        return pd.DataFrame(
            rows, columns=["parameter", "mean", "sd", "lower", "median", "upper", "r_hat",
                           "ess_bulk"],
        ).set_index("parameter")

    def summary(self, ci_prob: float = DEFAULT_CI_PROB) -> str:
        """Printable summary: the model, the units and :meth:`summary_frame`.

        Parameters
        ----------
        ci_prob : float
            Probability of the equal-tailed interval.

        Returns
        -------
        str
            One line stating the model and units (a second one for the measurement-error
            model), then the rounded :meth:`summary_frame` table.
        """
        head = (
            f"Late toxicity ({self.spec.outcome_name}): P(by t | D) = π(D)·F(t | D); "
            f"π {self.spec.curve}, onset {self.spec.onset}, pooling {self.spec.pooling}. "
            f"Dose {self.spec.dose_metric} [{self.spec.dose_unit}], time [{self.time_unit}]."
        )
        if self.spec.measurement_error != "none":
            n_me = int(late_rows(self.data, ()).me_rows.size)
            head += (
                f"\nDose measurement error: {self.spec.measurement_error} (latent true doses "
                f"for the {n_me} patients with a dose_se; curves and doses are true doses)."
            )
        return head + "\n" + self.summary_frame(ci_prob).round(4).to_string()

    def diagnostics(self) -> pd.DataFrame:
        """Convergence checks (divergences, R-hat, bulk and tail ESS) as data.

        Returns
        -------
        pandas.DataFrame
            One row per check with ``value``, ``threshold``, ``ok`` and ``worst_parameter``.
        """
        post = self.posterior
        stats = self._groups.get("sample_stats")
        n_div = int(np.asarray(stats["diverging"]).sum()) if stats is not None and \
            "diverging" in stats else 0
        rhat = _worst(_arviz_compat.rhat(post), max)
        bulk = _worst(_arviz_compat.ess(post, method="bulk"), min)
        tail = _worst(_arviz_compat.ess(post, method="tail"), min)
        rows = [
            ("divergences", float(n_div), 0.0, n_div == 0, ""),
            ("r_hat", rhat[0], RHAT_MAX, rhat[0] <= RHAT_MAX, rhat[1]),
            ("ess_bulk", bulk[0], float(ESS_MIN), bulk[0] >= ESS_MIN, bulk[1]),
            ("ess_tail", tail[0], float(ESS_MIN), tail[0] >= ESS_MIN, tail[1]),
        ]
        return pd.DataFrame(rows, columns=["check", "value", "threshold", "ok",
                                           "worst_parameter"])

    def check(self) -> bool:
        """Warn (:class:`ConvergenceWarning`) for every failed diagnostic; True if all pass.

        Also warns when no event was observed: the eventual probability then comes from the
        prior and the onset distribution is not identified.

        Returns
        -------
        bool
            True when every diagnostic passes and at least one event was observed.
        """
        ok = True
        for row in self.diagnostics().itertuples():
            if not row.ok:
                ok = False
                warnings.warn(
                    f"{row.check} = {row.value:.4g} (threshold {row.threshold:g}"
                    f"{', ' + row.worst_parameter if row.worst_parameter else ''}): raise "
                    "target_accept or draws, or simplify the model.",
                    ConvergenceWarning, stacklevel=2,
                )
        if not late_rows(self.data, ()).event.any():
            ok = False
            warnings.warn(
                "no toxicity event in the data: the eventual probability and the onset "
                "distribution come from the prior, not the data.",
                ConvergenceWarning, stacklevel=2,
            )
        return ok

    # ------------------------------------------------------------------ predictions

    def _parameters(self, which: str, covariates: Mapping[str, float] | None,
                    new_study: str, random_seed: int = _NEW_STUDY_SEED,
                    ) -> tuple[DrawParameters, dict[str, float]]:
        spec, studies = self.spec, list(self.data.studies)
        which = str(which)
        if new_study not in NEW_STUDY_VIEWS:
            raise UnknownNameError(
                f"unknown new_study={new_study!r}; use one of {', '.join(NEW_STUDY_VIEWS)}."
            )
        tau = None
        if which in ("population", "new_study"):
            if spec.pooling == "none":
                raise DoseResponseError(
                    f"which={which!r} needs population parameters, but the model was fitted "
                    f"with pooling='none'; pass a study label ({', '.join(studies)})."
                )
            log_d50, log_slope = self._flat("log_d50"), self._flat("log_slope")
            if which == "new_study" and "tau" in self.posterior:
                tau = self._flat("tau")
        elif which in studies:
            s = studies.index(which)
            if spec.pooling == "none":
                log_d50 = self._flat("log_d50_study")[:, s]
                log_slope = self._flat("log_slope_study")[:, s]
            else:
                log_d50 = (np.log(self._flat("d50_study")[:, s]) if "d50_study" in self.posterior
                           else self._flat("log_d50"))
                log_slope = self._flat("log_slope")
        else:
            raise UnknownNameError(
                f"unknown which={which!r}; use 'population', 'new_study' or a study label: "
                f"{', '.join(studies)}."
            )
        values = {name: 0.0 for name in spec.covariates}
        for name, value in dict(covariates or {}).items():
            if name not in values:
                raise UnknownNameError(
                    f"unknown covariate {name!r}; the model's covariates are: "
                    f"{', '.join(spec.covariates) or '(none)'}."
                )
            values[name] = check_scalar(value, f"covariates[{name!r}]")
        shift = None
        if values:
            shift = self._flat("log_factor") @ np.array([values[c] for c in spec.covariates])
        params = draw_parameters(
            spec.family, log_d50=log_d50, log_slope=log_slope, tau=tau,
            new_study=new_study if which == "new_study" else None, log_shift=shift,
            rng=np.random.default_rng(random_seed),
        )
        return params, values

    def _onset_location(self, dose: np.ndarray) -> np.ndarray:
        """Ln t50 per draw and dose, shape ``(n_draws, n_dose)`` (time unit).

        ``dose`` is 1-D (the same doses for every draw) or ``(n_draws, n_dose)``.
        """
        theta = self._flat("log_onset_median")[:, None]
        dose = dose[None, :] if dose.ndim == 1 else dose
        if self.spec.onset_dose_effect:
            ref = self.spec.dose_reference
            log_ratio = np.log(np.maximum(dose, ONSET_DOSE_FLOOR * ref) / ref)
            theta = theta + self._flat("onset_dose_slope")[:, None] * log_ratio
        return np.broadcast_to(theta, (theta.shape[0], dose.shape[-1]))

    def onset_cdf_draws(self, dose: ArrayLike, time: float) -> np.ndarray:
        """P(onset by ``time`` | toxicity, dose) per draw, shape ``(n_draws, n_dose)``.

        Parameters
        ----------
        dose : array_like
            Doses (dose unit), >= 0.
        time : float
            Time since treatment (time unit), >= 0.

        Returns
        -------
        numpy.ndarray
        """
        from doseresponse.models._late_kernel import ONSET_CODES, onset_log_cdf_vector

        dose = self._doses(dose)
        time = check_scalar(time, "horizon", nonnegative=True)
        theta = self._onset_location(dose)
        log_k = np.broadcast_to(self._flat("log_onset_shape")[:, None], theta.shape)
        out = onset_log_cdf_vector(
            ONSET_CODES[self.spec.onset], np.full(theta.size, time),
            np.ascontiguousarray(theta, dtype=np.float64).ravel(),
            np.ascontiguousarray(log_k, dtype=np.float64).ravel(),
        )
        return np.exp(out).reshape(theta.shape)

    def incidence_draws(
        self,
        dose: ArrayLike,
        horizon: float | None = None,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        *,
        new_study: str = "spread",
        random_seed: int = _NEW_STUDY_SEED,
    ) -> np.ndarray:
        r"""Cumulative incidence by ``horizon`` per posterior draw, shape ``(n_draws, n_dose)``.

        Parameters
        ----------
        dose : array_like
            Doses (dose unit), >= 0.
        horizon : float, optional
            Time since treatment (time unit); None: the eventual probability π(D).
        which, covariates, new_study
            As in :meth:`curve`.
        random_seed : int
            Seed of the new-centre effects of ``new_study="spread"`` (fixed by default).

        Returns
        -------
        numpy.ndarray
            :math:`\pi(D)F(h \mid D)` per draw; its mean over draws is the predictive risk.
        """
        dose = self._doses(dose)
        params, _ = self._parameters(which, covariates, new_study, random_seed)
        prob = params.probability(dose)
        if horizon is None:
            return prob
        return prob * self.onset_cdf_draws(dose, horizon)

    def curve(
        self,
        doses: ArrayLike,
        horizon: float | None = None,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        *,
        new_study: str = "spread",
    ) -> CurveBand:
        """Cumulative incidence by ``horizon`` (or eventual probability) against dose.

        Parameters
        ----------
        doses : array_like
            Dose grid (dose unit), >= 0.
        horizon : float, optional
            Time since treatment in the data's time unit (e.g. 24 months): the band is
            P(toxicity by the horizon | dose). None: P(toxicity ever | dose).
        which : str
            ``"population"``, ``"new_study"`` or a study label.
        covariates : mapping, optional
            Covariate values (missing ones are 0).
        ci_prob : float
            Probability of the pointwise band.
        new_study : {"spread", "averaged"}
            New-centre view (see :mod:`doseresponse.models.predictive`).

        Returns
        -------
        CurveBand
            Its ``kind`` states the quantity, e.g. ``"NTCP by 24 months"``.
        """
        dose = self._doses(doses)
        ci_prob = check_ci_prob(ci_prob)
        prob = self.incidence_draws(dose, horizon, which, covariates, new_study=new_study)
        _, values = self._parameters(which, covariates, new_study)
        q = np.quantile(prob, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
        return CurveBand(
            dose=dose, mean=prob.mean(axis=0), median=q[1], lower=q[0], upper=q[2],
            which=str(which), metric=self.spec.dose_metric, unit=self.spec.dose_unit,
            ci_prob=ci_prob, covariates=values, kind=self._quantity(horizon),
            new_study_view=new_study if which == "new_study" else "",
        )

    def dose_at(
        self,
        p: float,
        horizon: float | None = None,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        ci_prob: float = DEFAULT_CI_PROB,
        *,
        new_study: str = "spread",
    ) -> DoseAt:
        r"""Dose with risk ``p`` by ``horizon`` (or eventually), per draw and predictive.

        Parameters
        ----------
        p : float
            Risk in (0, 1), e.g. 0.05.
        horizon : float, optional
            Time (time unit); None: the eventual probability.
        which, covariates, ci_prob, new_study
            As in :meth:`curve`.

        Returns
        -------
        DoseAt
            Per-draw doses (``mean``, ``median``, ``lower``, ``upper``, ``draws``; a draw whose
            incidence by the horizon never reaches ``p`` at any dose has dose ``inf``) and
            ``predictive``, the dose where the posterior predictive risk reaches ``p`` — the
            dose a decision uses. ``label`` states the quantity, e.g. ``"TD5 by 24 months"``.

        Notes
        -----
        With a horizon, each draw's incidence :math:`\pi(D)F(h\mid D)` is inverted by
        bisection on ln D (80 halvings), assuming it rises with dose (true without an onset
        dose effect or with ψ <= 0).
        """
        p = float(check_probability(p, "p"))
        ci_prob = check_ci_prob(ci_prob)
        params, values = self._parameters(which, covariates, new_study)
        if horizon is None:
            draws, at_zero = params.dose_at_draws(p)
        else:
            horizon = check_scalar(horizon, "horizon", positive=True)
            draws, at_zero = self._bisect_doses(params, p, horizon)
        averaged = params
        if which == "new_study" and new_study != "averaged":
            averaged, _ = self._parameters(which, covariates, "averaged")
        lower, median, upper = np.quantile(draws, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2])
        finite = np.isfinite(draws)
        return DoseAt(
            p=p, which=str(which), metric=self.spec.dose_metric, unit=self.spec.dose_unit,
            ci_prob=ci_prob, label=f"TD{100 * p:g}" + (
                "" if horizon is None else f" by {horizon:g} {self.time_unit}"),
            mean=float(draws.mean()) if finite.all() else math.inf,
            median=float(median), lower=float(lower), upper=float(upper), draws=draws,
            covariates=values, n_at_zero=int(at_zero.sum()),
            predictive=self._predictive_dose(averaged, p, horizon),
            new_study_view=new_study if which == "new_study" else "",
        )

    def _incidence(self, params: DrawParameters, dose: np.ndarray, horizon: float | None):
        prob = params.probability(dose)
        return prob if horizon is None else prob * self.onset_cdf_draws(dose, horizon)

    def _bisect_doses(self, params: DrawParameters, p: float, horizon: float):
        """Per-draw dose where π(D)F(h|D) = p (vectorised bisection on ln D)."""
        from doseresponse.models._curve_kernel import FAMILY_CODES, mixture_probability_rows
        from doseresponse.models._late_kernel import ONSET_CODES, onset_log_cdf_vector

        n = params.n_draws
        log_k = np.ascontiguousarray(self._flat("log_onset_shape"))
        theta0 = self._flat("log_onset_median")
        psi = self._flat("onset_dose_slope") if self.spec.onset_dose_effect else np.zeros(n)
        ref = self.spec.dose_reference
        code, onset = FAMILY_CODES[self.spec.curve], ONSET_CODES[self.spec.onset]
        times = np.full(n, horizon)

        def risk(log_dose: np.ndarray) -> np.ndarray:
            dose = np.exp(log_dose)
            prob = mixture_probability_rows(
                code, np.ascontiguousarray(dose), np.ascontiguousarray(params.log_d50),
                np.ascontiguousarray(params.log_slope), np.ascontiguousarray(params.weights),
            )
            theta = theta0 + psi * np.log(np.maximum(dose, ONSET_DOSE_FLOOR * ref) / ref)
            return prob * np.exp(onset_log_cdf_vector(onset, times, theta, log_k))

        at_zero = self._incidence(params, np.zeros(1), horizon)[:, 0] >= p
        low = params.log_d50.min(axis=1) + math.log(1e-6)
        high = params.log_d50.max(axis=1) + math.log(1e4)
        never = risk(high) < p
        for _ in range(80):
            mid = 0.5 * (low + high)
            above = risk(mid) >= p
            high = np.where(above, mid, high)
            low = np.where(above, low, mid)
        doses = np.exp(0.5 * (low + high))
        doses[never] = math.inf
        doses[at_zero] = 0.0
        return doses, at_zero

    def _predictive_dose(self, params: DrawParameters, p: float, horizon: float | None) -> float:
        def excess(dose: float) -> float:
            return float(self._incidence(params, np.array([dose]), horizon).mean()) - p

        if excess(0.0) >= 0.0:
            return 0.0
        high = float(np.exp(params.log_d50.max()))
        for _ in range(6):
            if excess(high) >= 0.0:
                return float(optimize.brentq(excess, 0.0, high, xtol=1e-10 * high, rtol=1e-12))
            high *= 10.0
        return math.inf  # the predictive incidence by this horizon never reaches p

    def onset_summary(
        self, doses: ArrayLike | None = None, ci_prob: float = DEFAULT_CI_PROB,
        quantiles: Iterable[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        r"""Onset time given toxicity: its quantiles (median onset first of all), by dose.

        Parameters
        ----------
        doses : array_like, optional
            Doses (dose unit); default the reference dose (the median patient dose).
        ci_prob : float
            Probability of the credible interval of each quantile.
        quantiles : sequence of float
            Onset-time quantiles to report, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            Rows per dose and quantile; columns ``dose``, ``quantile``, ``mean``, ``median``,
            ``lower``, ``upper`` (time unit), ``time_unit``.

        Notes
        -----
        Quantile q of the onset time: Weibull :math:`t_{50}(-\ln(1-q)/\ln 2)^{1/k}`,
        log-normal :math:`t_{50}\exp(\Phi^{-1}(q)/k)`.
        """
        from scipy import special

        ci_prob = check_ci_prob(ci_prob)
        dose = (np.array([self.spec.dose_reference]) if doses is None else self._doses(doses))
        theta = self._onset_location(dose)
        k = np.exp(self._flat("log_onset_shape"))[:, None]
        rows = []
        for q in quantiles:
            q = float(check_probability(q, "quantiles"))
            if self.spec.onset == "weibull":
                z = np.log(-math.log1p(-q) / math.log(2.0))
            else:
                z = float(special.ndtri(q))
            times = np.exp(theta + z / k)
            band = np.quantile(times, [(1 - ci_prob) / 2, 0.5, (1 + ci_prob) / 2], axis=0)
            for j, d in enumerate(dose):
                rows.append((float(d), q, float(times[:, j].mean()), band[1, j], band[0, j],
                             band[2, j], self.time_unit))
        return pd.DataFrame(rows, columns=["dose", "quantile", "mean", "median", "lower",
                                           "upper", "time_unit"])

    # ------------------------------------------------------------------ predictive accuracy

    def pointwise_log_likelihood(self) -> xr.DataArray:
        r"""Log-likelihood of each patient per posterior draw (nats).

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, ipd_row)``, rows in the order of ``data.ipd``: censored at
            :math:`C`: :math:`\ln(1 - \pi F(C))`; exact at :math:`t`: :math:`\ln \pi f(t)`;
            event in :math:`(L, R]`: :math:`\ln \pi (F(R) - F(L))` — the likelihood terms of
            the fitted density (``doseresponse.models._late_kernel``), summing to its
            likelihood. With measurement error, conditional on each draw's latent true doses
            (as the binary model's LOO).
        """
        from doseresponse.models._late_kernel import ONSET_CODES, late_row_log_likelihood
        from doseresponse.models.curves import log_pair

        spec, post = self.spec, self.posterior
        rows = late_rows(self.data, spec.covariates)
        n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
        if spec.pooling == "none":
            log_d50 = self._flat("log_d50_study")[:, rows.study]
            log_slope = self._flat("log_slope_study")[:, rows.study]
        else:
            log_d50 = (np.log(self._flat("d50_study"))[:, rows.study]
                       if spec.pooling == "partial" else self._flat("log_d50")[:, None])
            log_slope = self._flat("log_slope")[:, None]
        if spec.covariates:
            log_d50 = log_d50 + self._flat("log_factor") @ rows.covariates.T
        shape = (n_chain * n_draw, rows.dose.size)
        dose = np.broadcast_to(rows.dose, shape).copy()
        if "true_dose" in post:  # measurement-error model: each draw's latent true doses
            dose[:, rows.me_rows] = self._flat("true_dose")
        log_p, log_q = log_pair(spec.curve, dose, np.exp(log_d50), np.exp(log_slope))
        theta = self._onset_location(dose)
        log_k = np.broadcast_to(self._flat("log_onset_shape")[:, None], shape)

        def tiled(values):
            return np.ascontiguousarray(np.broadcast_to(values, shape)).ravel()

        values = late_row_log_likelihood(
            ONSET_CODES[spec.onset], tiled(rows.kind).astype(np.int64), tiled(rows.lower),
            tiled(rows.upper), tiled(theta), tiled(log_k), tiled(log_p), tiled(log_q),
        )
        return xr.DataArray(
            values.reshape(n_chain, n_draw, rows.dose.size),
            dims=("chain", "draw", "ipd_row"),
            coords={"chain": post["chain"].values, "draw": post["draw"].values,
                    "ipd_row": np.arange(rows.dose.size)},
            name="y_ipd",
        )

    def loo(self, *, pointwise: bool = True):
        """PSIS leave-one-patient-out cross-validation (:func:`doseresponse.models.checks.loo`).

        Parameters
        ----------
        pointwise : bool
            Keep the per-patient ELPD and Pareto k (needed by :func:`doseresponse.compare`).

        Returns
        -------
        doseresponse.models.checks.ELPDResult
            ``elpd`` (nats), ``se``, ``p``, ``pareto_k`` per patient; warns for unreliable
            rows (Pareto k > 0.7).
        """
        from doseresponse.models.checks import loo

        return loo(self, pointwise=pointwise)

    def _quantity(self, horizon: float | None) -> str:
        if horizon is None:
            return "NTCP (eventual)"
        return f"NTCP by {check_scalar(horizon, 'horizon', nonnegative=True):g} {self.time_unit}"

    def _doses(self, doses: ArrayLike) -> np.ndarray:
        dose = np.atleast_1d(as_float_array(doses, "doses", nonnegative=True,
                                            unit=self.spec.dose_unit))
        if dose.ndim != 1:
            raise DoseResponseError(f"doses must be 1-dimensional; got shape {dose.shape}.")
        return dose

    def at_horizon(self, horizon: float) -> LateToxicityAtHorizon:
        """The fit as an NTCP curve source at a stated horizon (for ``doseresponse.prescribe``).

        Parameters
        ----------
        horizon : float
            Time since treatment (time unit), > 0: the source's probability is the cumulative
            incidence by the horizon.

        Returns
        -------
        LateToxicityAtHorizon
        """
        return LateToxicityAtHorizon(self, horizon)

    # ------------------------------------------------------------------ plots and files

    def plot_cumulative_incidence(
        self,
        doses: ArrayLike | None = None,
        *,
        n_groups: int = 3,
        times: ArrayLike | None = None,
        ci_prob: float = 0.9,
        ax=None,
    ):
        """Cumulative incidence by dose group over the Turnbull estimate; see :func:`doseresponse.models.late_plotting.plot_cumulative_incidence`."""  # noqa: E501
        from doseresponse.models.late_plotting import plot_cumulative_incidence

        return plot_cumulative_incidence(
            self, doses, n_groups=n_groups, times=times, ci_prob=ci_prob, ax=ax
        )

    def save(self, path: str | PathLike[str], *, overwrite: bool = False,
             key: bytes | None = None):
        """Write the fit to NetCDF (see :func:`doseresponse.models.late_io.save_late_fit`)."""
        from doseresponse.models.late_io import save_late_fit

        return save_late_fit(self, path, overwrite=overwrite, key=key)

    @classmethod
    def load(cls, path: str | PathLike[str], *, key: bytes | None = None) -> LateToxicityFit:
        """Read a fit written by :meth:`save`; see :func:`doseresponse.models.late_io.load_late_fit`."""  # noqa: E501
        from doseresponse.models.late_io import load_late_fit

        return load_late_fit(path, key=key)


class LateToxicityAtHorizon:
    """A late-toxicity fit read as an NTCP curve: the cumulative incidence by one horizon.

    The curve-source contract of :mod:`doseresponse.prescribe` (``probability_draws`` plus
    ``kind``, ``dose_metric``, ``dose_unit``, ``curve_name``), so a prescription limits the
    risk *by the stated horizon*, e.g. ``rx.prescribe(..., ntcp={"kidney":
    fit.at_horizon(60)})`` for 5 % risk of nephrotoxicity within 5 years.

    Parameters
    ----------
    fit : LateToxicityFit
        The fit.
    horizon : float
        Time since treatment (the fit's time unit), > 0.
    """

    kind = "NTCP"

    def __init__(self, fit: LateToxicityFit, horizon: float) -> None:
        if not isinstance(fit, LateToxicityFit):
            raise DoseResponseError(f"fit must be a LateToxicityFit; got {type(fit).__name__}.")
        self.fit = fit
        self.horizon = check_scalar(horizon, "horizon", positive=True)
        self.dose_metric = fit.spec.dose_metric
        self.dose_unit = fit.spec.dose_unit
        self.curve_name = (f"{fit.spec.curve} x {fit.spec.onset} onset, risk by "
                           f"{self.horizon:g} {fit.time_unit}")

    def __repr__(self) -> str:
        return f"LateToxicityAtHorizon({self.curve_name})"

    def probability_draws(
        self,
        dose: ArrayLike,
        which: str = "population",
        covariates: Mapping[str, float] | None = None,
        *,
        new_study: str = "spread",
        random_seed: int = _NEW_STUDY_SEED,
    ) -> np.ndarray:
        """P(toxicity by the horizon | dose) per draw, shape ``(n_draws, n_dose)``.

        Parameters
        ----------
        dose : array_like
            Doses (dose unit), >= 0.
        which, covariates, new_study, random_seed
            As in :meth:`LateToxicityFit.incidence_draws`.

        Returns
        -------
        numpy.ndarray
        """
        return self.fit.incidence_draws(dose, self.horizon, which, covariates,
                                        new_study=new_study, random_seed=random_seed)


def _worst(dataset: xr.Dataset, pick) -> tuple[float, str]:
    candidates = []
    for name, values in dataset.data_vars.items():
        for index, value in np.ndenumerate(np.asarray(values, dtype=float)):
            if np.isfinite(value):
                label = name if not index else f"{name}{list(index)}"
                candidates.append((float(value), label))
    if not candidates:
        return math.nan, ""
    return pick(candidates, key=lambda item: item[0])
