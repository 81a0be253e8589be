"""User-facing model classes: :class:`NTCPModel` and :class:`TCPModel`.

Settings go in ``__init__``; data go in :meth:`DoseResponseModel.fit`, which returns a
:class:`~doseresponse.models.results.FittedModel`. :meth:`DoseResponseModel.build` returns the PyMC
model for inspection without sampling.

Examples
--------
>>> import doseresponse as dr                                          # doctest: +SKIP
>>> model = dr.NTCPModel(curve="log-logistic", pooling="partial")       # doctest: +SKIP
>>> fit = model.fit(data, random_seed=1)                                # doctest: +SKIP
>>> fit.dose_at(0.05, which="new_study")["median"]                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DegenerateDataWarning, DoseResponseError
from doseresponse.models.background import background_prior
from doseresponse.models.curves import get_curve_family
from doseresponse.models.degenerate import prior_driven_causes
from doseresponse.models.density import LogDensity
from doseresponse.models.priors import default_priors, resolve_priors
from doseresponse.models.sampling import (
    DENSITY_SAMPLERS,
    resolve_sampler,
    run_settings,
    sample_density,
)
from doseresponse.models.spec import ModelSpec

if TYPE_CHECKING:  # PyMC is imported only to build the model or sample it with PyMC
    import pymc as pm

__all__ = [
    "DEFAULT_TARGET_ACCEPT",
    "POWER_PRIOR_TARGET_ACCEPT",
    "DoseResponseModel",
    "NTCPModel",
    "TCPModel",
    "default_target_accept",
]

DEFAULT_TARGET_ACCEPT = 0.95
"""Default NUTS target acceptance of :meth:`DoseResponseModel.fit`."""

POWER_PRIOR_TARGET_ACCEPT = 0.99
"""Default NUTS target acceptance of models with an estimated literature weight.

An estimated weight (``literature_prior(..., a0="estimate")``, the normalised power prior)
brings the external-beam curve's steep slope (γ50 ≈ 4 for the Burman kidney curve) and, with
it, small cohorts whose studies each pin their own log D50 closely while τ is small. The
posterior of τ then has its mass near 0 (where the non-centred study effects are right) and a
thin tail to τ ≈ 0.6, where the data squeeze the standardised contrasts to width ∝ 1/τ: the
non-centred funnel's far end. Measured on the 6 cohorts of
``tests/models/test_power_prior_slow.py`` (4 × 2000 draws, Python 3.11 / nutpie 0.16.8), with
the study effects sampled as mean and contrasts
(:mod:`doseresponse.models.sampler_coordinates`): 2, 1, 2, 0, 2, 0 divergent transitions at
0.95 (the plain model without the literature prior on the same cohorts: 0, 0, 6, 0, 0, 1), none
at 0.99 (``divergence_start`` at τ 0.47–0.78, above τ's 99th posterior percentile 0.34).

Background models no longer need it: their divergences at 0.95 (one each in 3 of 16
calibration replicates) sat on the ridge of the population log D50 against the mean study
effect, which the mean-and-contrast coordinates remove (none in the 16 at 0.95).
"""


def default_target_accept(priors: Mapping[str, Any]) -> float:
    """The default NUTS target acceptance of a model with these priors.

    Parameters
    ----------
    priors : mapping
        The model's priors; an estimated literature weight is the key ``"power_prior"``.

    Returns
    -------
    float
        :data:`POWER_PRIOR_TARGET_ACCEPT` with an estimated literature weight (see that
        constant), otherwise :data:`DEFAULT_TARGET_ACCEPT`. Used by
        :meth:`DoseResponseModel.fit` and by the refits of :mod:`doseresponse.models.crossval`,
        so a refit samples as its fit did.
    """
    return POWER_PRIOR_TARGET_ACCEPT if "power_prior" in priors else DEFAULT_TARGET_ACCEPT


class DoseResponseModel:
    r"""Bayesian hierarchical dose-response model (base of :class:`NTCPModel`/:class:`TCPModel`).

    Parameters
    ----------
    curve : str
        Curve family: ``"logistic"``, ``"log-logistic"``, ``"probit"`` (``"lkb"``),
        ``"cloglog"`` (``"weibull"``) or ``"poisson"``.
    pooling : {"partial", "complete", "none"}
        ``"partial"`` (default): log D50 per study drawn around the population log D50 with
        between-study SD τ (non-centred). ``"complete"``: one curve for all studies.
        ``"none"``: an independent curve per study.
    pool_slope : bool
        With partial pooling, also pool the log slope across studies (SD ``tau_slope``).
    covariates : sequence of str, optional
        Patient-level covariates used as dose-modifying factors on D50; ``None`` uses every
        covariate of the data.
    study_covariates : sequence of str, optional
        Study-level covariates (radionuclide, dosimetry method, ... encoded numerically) used as
        dose-modifying factors; ``None`` uses every study covariate of the data.
    priors : dict or str, optional
        Prior overrides (dict or JSON text), e.g. ``{"d50": {"median": 40, "lower": 20,
        "upper": 80}, "tau": {"sigma": 0.3}, "factor:htn": {"median": 0.7, "sigma": 0.3}}``.
        See :mod:`doseresponse.models.priors` for keys and defaults.
    aggregate_integration : {"gauss-hermite", "dose"}
        Aggregate bins: integrate the curve over the bin's dose distribution (default) or
        evaluate it at the bin's dose.
    quadrature_nodes : int
        Gauss–Hermite nodes per aggregate bin.
    measurement_error : {"none", "lognormal"}
        ``"lognormal"``: each patient dose with a ``dose_se`` is a noisy measurement of a latent
        true dose, :math:`\ln d^{obs} \sim N(\ln d^{true}, \sigma)` with
        :math:`\sigma = \sqrt{\ln(1 + (\mathrm{SE}/d)^2)}`, and the curve uses the true dose;
        true log doses follow a normal exposure distribution per study (median prior:
        geometric mean of the observed doses, log-SD 1; SD prior half-normal(1)). Ignoring
        10–30 % dosimetry error flattens fitted curves (``analyses/regression_dilution.py``).
    background : bool or dict, default False
        ``True``: a background (zero-dose) risk b with the default Beta(1, 9) prior,
        :math:`P(D) = b + (1 - b)F(D)`; a dict ``{"alpha": a, "beta": b}``: the same with a
        Beta(a, b) prior (also accepted as ``priors={"background": {...}}``). Tolerance doses
        (TDp) are then extra risk, :math:`(P(D) - b)/(1 - b) = p`
        (:mod:`doseresponse.models.background`).

    Notes
    -----
    The model, its priors and the pooling options are stated in
    ``docs/theory/hierarchical_model.md``.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        curve: str = "logistic",
        pooling: str = "partial",
        *,
        pool_slope: bool = False,
        covariates: Iterable[str] | None = None,
        study_covariates: Iterable[str] | None = None,
        priors: Mapping[str, Any] | str | None = None,
        aggregate_integration: str = "gauss-hermite",
        quadrature_nodes: int = 9,
        measurement_error: str = "none",
        background: bool | Mapping[str, Any] = False,
    ) -> None:
        self.curve = get_curve_family(curve).name
        self.pooling = pooling
        self.pool_slope = pool_slope
        self.covariates = None if covariates is None else _names(covariates, "covariates")
        self.study_covariates = (
            None if study_covariates is None else _names(study_covariates, "study_covariates")
        )
        self.priors = _prior_overrides(priors)
        background_override = self.priors.pop("background", None)
        if background_override is not None:
            background = background_override
        self.background = background_prior(background)
        self.aggregate_integration = aggregate_integration
        self.quadrature_nodes = quadrature_nodes
        # validate the settings now (with placeholder priors) rather than at fit time
        self.measurement_error = ModelSpec(
            kind=self.kind, curve=self.curve, pooling=pooling, pool_slope=pool_slope,
            aggregate_integration=aggregate_integration, quadrature_nodes=quadrature_nodes,
            measurement_error=measurement_error,
        ).measurement_error

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(curve={self.curve!r}, pooling={self.pooling!r}, "
            f"pool_slope={self.pool_slope})"
        )

    def spec_for(self, data: DoseResponseData) -> ModelSpec:
        """The complete :class:`ModelSpec` (with data-derived default priors) for ``data``.

        Parameters
        ----------
        data : DoseResponseData
            The cohort.

        Returns
        -------
        ModelSpec
        """
        if not isinstance(data, DoseResponseData):
            raise DoseResponseError(
                "data must be a DoseResponseData (build it with DoseResponseData.from_frame); "
                f"got {type(data).__name__}."
            )
        covariates = data.covariates if self.covariates is None else self.covariates
        study_covariates = (
            data.study_covariates if self.study_covariates is None else self.study_covariates
        )
        doses = np.concatenate(
            [data.ipd["dose"].to_numpy(dtype=float), data.aggregate["dose"].to_numpy(dtype=float)]
        )
        family = get_curve_family(self.curve)
        priors = resolve_priors(
            default_priors(doses, family.slope_name),
            self.priors,
            (*covariates, *study_covariates),
            allow_power_prior=True,
        )
        if self.measurement_error == "lognormal":
            priors.update(_exposure_priors(data))
        if self.background is not None:
            priors["background"] = dict(self.background)
        return ModelSpec(
            kind=self.kind,
            curve=self.curve,
            pooling=self.pooling,
            pool_slope=self.pool_slope,
            covariates=tuple(covariates),
            study_covariates=tuple(study_covariates),
            priors=priors,
            dose_metric=data.dose_metric,
            dose_unit=data.dose_unit,
            aggregate_integration=self.aggregate_integration,
            quadrature_nodes=self.quadrature_nodes,
            measurement_error=self.measurement_error,
            background=self.background is not None,
        )

    def build(self, data: DoseResponseData) -> pm.Model:
        """Build the PyMC model for ``data`` without sampling (for inspection and tests).

        The PyMC model is the independent autodiff twin of the analytic density the default
        sampler uses (the two agree to 1e-9; ``tests/models/test_density.py``).

        Parameters
        ----------
        data : DoseResponseData
            The cohort to model.

        Returns
        -------
        pymc.Model
            The model graph (imports PyMC).
        """
        from doseresponse.models.hierarchical import build_model

        return build_model(self.spec_for(data), data)

    def fit(
        self,
        data: DoseResponseData,
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        random_seed: int | None = None,
        sampler: str = "auto",
        progressbar: bool | None = None,
        target_accept: float | None = None,
        check: bool = True,
    ):
        """Sample the posterior and return a fitted model.

        Parameters
        ----------
        data : DoseResponseData
            The cohort.
        draws, tune, chains : int
            Kept draws per chain, warm-up iterations per chain, number of chains.
        random_seed : int, optional
            Seed of the sampler; ``None`` draws one from the OS (recorded in the fit).
        sampler : {"auto", "nutpie", "nutpie-python", "nutpie-pytensor", "nutpie-numba", "pymc"}
            See :mod:`doseresponse.models.sampling`. ``"auto"`` (and ``"nutpie"``) run nutpie
            on the package's analytic log density (:class:`~doseresponse.models.density.LogDensity`,
            identical to the PyMC model's) without importing PyMC;
            ``"nutpie-python"`` does so through nutpie's public Python-callback route only; the
            others sample the PyMC model (:mod:`doseresponse.models.pymc_sampling`).
        progressbar : bool, optional
            Show progress (default: when running in a terminal).
        target_accept : float, optional
            NUTS target acceptance. Default :data:`DEFAULT_TARGET_ACCEPT` (0.95: on the
            simulators' default scenarios 0.9 left a single divergent transition in 4 of 30
            runs, 0.95 in none; about 20 % slower), and :data:`POWER_PRIOR_TARGET_ACCEPT` (0.99)
            for models with an estimated literature weight (see there).
            Raise to 0.98–0.99 if divergences are reported.
        check : bool
            Run :meth:`~doseresponse.models.results.FittedModel.diagnostics` and warn
            (:class:`~doseresponse.exceptions.ConvergenceWarning`) on any failed check.

        Returns
        -------
        FittedModel

        Warns
        -----
        DegenerateDataWarning
            Before sampling, once per cause that makes part of the answer prior-driven (no
            events, only events, a constant covariate, one study under partial pooling; see
            :func:`doseresponse.models.degenerate.prior_driven_causes`).

        Raises
        ------
        DoseResponseError
            Invalid data or run settings (checked before anything is compiled or sampled).
        FitError
            The sampler failed or returned an incomplete posterior; nothing is returned.
        KeyboardInterrupt
            The fit was interrupted (Ctrl-C); the partial posterior is discarded and the
            message says how far the chains got.
        """
        from doseresponse.models.results import FittedModel

        if target_accept is None:
            target_accept = default_target_accept(self.priors)
        draws, tune, chains, random_seed, progressbar = run_settings(
            draws, tune, chains, random_seed, progressbar, target_accept
        )
        spec = self.spec_for(data)
        for cause in prior_driven_causes(spec, data):
            warnings.warn(f"prior-driven fit: {cause}.", DegenerateDataWarning, stacklevel=2)
        settings = dict(
            draws=draws, tune=tune, chains=chains, random_seed=random_seed,
            progressbar=progressbar, target_accept=target_accept,
        )
        name = resolve_sampler(sampler)
        if name in DENSITY_SAMPLERS:
            route = "python-callbacks" if name == "nutpie-python" else "auto"
            groups, _ = sample_density(LogDensity(spec, data), route=route, **settings)
        else:
            from doseresponse.models.hierarchical import build_model
            from doseresponse.models.pymc_sampling import sample_model

            groups, _ = sample_model(build_model(spec, data), sampler=name, **settings)
        fit = FittedModel(groups, spec, data)
        if check:
            fit.check()
        return fit


class NTCPModel(DoseResponseModel):
    """Hierarchical normal-tissue complication probability model (see :class:`DoseResponseModel`).

    D50 is reported as TD50 and ``dose_at(p)`` gives TDp (e.g. TD5).
    """

    kind = "NTCP"


class TCPModel(DoseResponseModel):
    """Hierarchical tumour control (or response) probability model.

    D50 is reported as TCD50 and ``dose_at(p)`` gives TCDp. See :class:`DoseResponseModel`.
    """

    kind = "TCP"


def _exposure_priors(data: DoseResponseData) -> dict[str, Any]:
    """Priors of the per-study exposure model (true log dose) of the measurement-error model."""
    ipd = data.ipd
    if "dose_se" not in ipd or not (ipd["dose_se"].fillna(0.0) > 0).any():
        raise DoseResponseError(
            "measurement_error='lognormal' needs a dose uncertainty for at least one patient: "
            "build the data with dose_se= (absolute SE) or dose_rel_se= (fraction) in "
            "DoseResponseData.from_frame."
        )
    dose = ipd["dose"].to_numpy(dtype=np.float64)
    median = float(np.exp(np.mean(np.log(dose[dose > 0]))))
    return {
        "exposure": {"dist": "lognormal", "median": median, "sigma": 1.0},
        "exposure_sd": {"dist": "halfnormal", "sigma": 1.0},
    }


def _names(values: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out = tuple(str(v) for v in values)
    if len(set(out)) != len(out):
        raise DoseResponseError(f"{name} lists a name twice: {list(out)}.")
    return out


def _prior_overrides(priors: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if priors is None:
        return {}
    if isinstance(priors, str):
        try:
            priors = json.loads(priors)
        except json.JSONDecodeError as exc:
            raise DoseResponseError(f"priors is not valid JSON: {exc}.") from None
    if not isinstance(priors, Mapping):
        raise DoseResponseError(
            f"priors must be a dict (or JSON object) of parameter -> settings; got {priors!r}."
        )
    return {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in priors.items()}
