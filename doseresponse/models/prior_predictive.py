r"""Prior-predictive dose-response curves: what the priors say before the data are seen.

Each draw takes D50, the slope and (optionally) τ and the dose-modifying factors from the model's
priors (:mod:`doseresponse.models.priors`) and evaluates the curve on a dose grid. If most drawn
curves are absurd (all of them at P ≈ 1 over the observed dose range, or a 50 % dose far outside
any clinical experience), the priors need rethinking before the fit is trusted.

Doses are in the unit of the data's dose metric (e.g. Gy BED).

Notes
-----
A prior-predictive check simulates from the prior and compares the implied outcomes with domain
knowledge (Gabry J, Simpson D, Vehtari A, Betancourt M, Gelman A 2019 "Visualization in Bayesian
workflow" J R Stat Soc A 182:389; Gelman A et al. 2020 "Bayesian workflow", arXiv:2011.01808).
The draws here are exact draws from the same priors
:func:`~doseresponse.models.hierarchical.build_model` uses:
:math:`\ln D_{50} \sim N(\ln m_D, \sigma_D)`,
:math:`\ln s \sim N(\ln m_s, \sigma_s)`, :math:`\tau \sim \text{HalfNormal}(\sigma_\tau)` and
:math:`\ln f_c \sim N(\ln m_c, \sigma_c)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from doseresponse._validation import as_float_array, check_scalar, known_covariates
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.predictive import draw_parameters
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.spec import ModelSpec

__all__ = ["PriorCurves", "prior_predictive_curves"]

_WHICH = ("population", "new_study")


@dataclass(frozen=True)
class PriorCurves:
    """Dose-response curves implied by prior draws.

    Attributes
    ----------
    dose : numpy.ndarray
        Dose grid, shape ``(n_doses,)``, in ``unit``.
    probability : numpy.ndarray
        Response probability of each draw at each dose, shape ``(n_draws, n_doses)``.
    d50, slope : numpy.ndarray
        The drawn D50 (dose unit, including covariate factors and the new-study effect) and
        slope per draw, shape ``(n_draws,)``.
    slope_name : str
        ``"gamma50"`` or ``"m"``.
    which : str
        ``"population"`` (typical study) or ``"new_study"`` (τ included).
    metric, unit : str
        Dose metric and unit.
    kind : str
        ``"NTCP"`` or ``"TCP"``.
    covariates : dict
        Covariate values of the curves.
    """

    dose: np.ndarray
    probability: np.ndarray
    d50: np.ndarray
    slope: np.ndarray
    slope_name: str
    which: str
    metric: str
    unit: str
    kind: str
    covariates: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Long frame: one row per draw and dose (``draw``, ``dose``, ``probability``).

        Returns
        -------
        pandas.DataFrame
            Columns ``draw``, ``dose`` and ``probability``.
        """
        n_draws, n_doses = self.probability.shape
        return pd.DataFrame(
            {
                "draw": np.repeat(np.arange(n_draws), n_doses),
                "dose": np.tile(self.dose, n_draws),
                "probability": self.probability.ravel(),
            }
        )

    def quantiles(self, probs: ArrayLike | None = None) -> pd.DataFrame:
        """Pointwise quantiles of the prior curves: one row per dose, one column per prob.

        Parameters
        ----------
        probs : array_like, optional
            Probabilities in [0, 1]; default the equal-tailed
            :data:`~doseresponse.models.result_types.DEFAULT_CI_PROB` interval and the median,
            ``(0.025, 0.5, 0.975)``.

        Returns
        -------
        pandas.DataFrame
            Index ``dose`` (dose unit); columns the probabilities; values response
            probabilities.
        """
        if probs is None:
            tail = (1.0 - DEFAULT_CI_PROB) / 2.0
            probs = (tail, 0.5, 1.0 - tail)
        probs = np.atleast_1d(np.asarray(probs, dtype=np.float64))
        if probs.ndim != 1 or not np.all((probs >= 0.0) & (probs <= 1.0)):
            raise DoseResponseError(f"probs must be probabilities in [0, 1]; got {probs!r}.")
        q = np.quantile(self.probability, probs, axis=0)
        return pd.DataFrame(q.T, index=pd.Index(self.dose, name="dose"), columns=list(probs))

    def __repr__(self) -> str:
        return (
            f"PriorCurves({self.kind} {self.which}, {self.probability.shape[0]} draws × "
            f"{self.dose.size} doses {self.dose.min():g}–{self.dose.max():g} {self.unit})"
        )


def prior_predictive_curves(
    model,
    data: DoseResponseData,
    dose_grid: ArrayLike | None = None,
    n_draws: int = 100,
    random_seed: int | np.random.Generator = 0,
    *,
    which: str = "population",
    covariates: Mapping[str, float] | None = None,
) -> PriorCurves:
    """Draw dose-response curves from the priors of a model.

    Parameters
    ----------
    model : NTCPModel, TCPModel or ModelSpec
        The unfitted model (its default priors are derived from ``data``) or a complete spec.
    data : DoseResponseData
        The cohort (sets the default priors and the default dose grid).
    dose_grid : array_like, optional
        Doses (>= 0, dose-metric unit). Default: 100 doses from 0 to 1.2 × the largest
        observed dose.
    n_draws : int
        Number of prior draws (curves).
    random_seed : int or numpy.random.Generator
        Seed of the draws.
    which : {"population", "new_study"}
        Curve of a typical study, or of a new study (a random effect drawn with the prior τ).
    covariates : mapping, optional
        Covariate values; each given covariate multiplies D50 by a factor drawn from its prior
        raised to the covariate value. Covariates not given are 0.

    Returns
    -------
    PriorCurves

    Raises
    ------
    DoseResponseError
        Invalid arguments; ``which="new_study"`` with a model without between-study spread.
    UnknownNameError
        Unknown ``which`` or covariate.

    Examples
    --------
    >>> import doseresponse as dr
    >>> from doseresponse.models.model import NTCPModel
    >>> data = dr.load_dataset("sim_kidney_prrt")
    >>> curves = prior_predictive_curves(NTCPModel("log-logistic"), data, n_draws=50,
    ...                                  random_seed=1)
    >>> curves.probability.shape
    (50, 100)
    """
    spec = _spec(model, data)
    n_draws = _positive_int(n_draws, "n_draws")
    rng = (
        random_seed
        if isinstance(random_seed, np.random.Generator)
        else np.random.default_rng(_positive_int(random_seed, "random_seed", minimum=0))
    )
    if which not in _WHICH:
        raise UnknownNameError(
            f"unknown which={which!r} for prior curves; use 'population' or 'new_study'."
        )
    if which == "new_study" and spec.pooling != "partial":
        raise DoseResponseError(
            f"which='new_study' needs between-study spread, but the model has "
            f"pooling={spec.pooling!r}; use which='population' or pooling='partial'."
        )
    dose = _dose_grid(dose_grid, data)
    priors = spec.priors
    log_d50 = rng.normal(math.log(priors["d50"]["median"]), priors["d50"]["sigma"], n_draws)
    log_slope = rng.normal(
        math.log(priors["slope"]["median"]), priors["slope"]["sigma"], n_draws
    )
    if "power_prior" in priors:  # estimated literature weight: a0 first, then theta | a0
        log_d50, log_slope = _power_prior_draws(priors, rng, n_draws)
    tau = tau_slope = None
    if which == "new_study":
        tau = np.abs(rng.normal(0.0, priors["tau"]["sigma"], n_draws))
        if spec.pool_slope:
            tau_slope = np.abs(rng.normal(0.0, priors["tau_slope"]["sigma"], n_draws))
    values = _covariates(covariates, spec)
    shift = np.zeros(n_draws)
    for name, x in values.items():
        prior = priors[f"factor:{name}"]
        shift = shift + x * rng.normal(math.log(prior["median"]), prior["sigma"], n_draws)
    params = draw_parameters(
        spec.family, log_d50=log_d50, log_slope=log_slope, tau=tau, tau_slope=tau_slope,
        new_study="spread" if which == "new_study" else None, log_shift=shift, rng=rng,
    )
    d50, slope = np.exp(params.log_d50[:, 0]), np.exp(params.log_slope[:, 0])
    probability = spec.family.probability(dose[None, :], d50[:, None], slope[:, None])
    if getattr(spec, "background", False):  # P = b + (1 - b) F, b from its Beta prior
        prior = priors["background"]
        b = rng.beta(prior["alpha"], prior["beta"], n_draws)[:, None]
        probability = b + (1.0 - b) * probability
    return PriorCurves(
        dose=dose,
        probability=np.asarray(probability, dtype=np.float64),
        d50=d50,
        slope=slope,
        slope_name=spec.slope_name,
        which=which,
        metric=spec.dose_metric,
        unit=spec.dose_unit,
        kind=spec.kind,
        covariates=values,
    )


def _power_prior_draws(priors, rng, n_draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Log D50 and log slope from the normalised power prior (a0 ~ Beta, then normal)."""
    from doseresponse.models.power_prior import conditional_normal

    power = priors["power_prior"]
    a0 = rng.beta(power["a0_alpha"], power["a0_beta"], n_draws)
    out = []
    for key in ("d50", "slope"):
        mean, sd = conditional_normal(
            a0, math.log(power[key]["median"]), power[key]["sigma"],
            math.log(priors[key]["median"]), priors[key]["sigma"],
        )
        out.append(rng.normal(mean, sd))
    return out[0], out[1]


def _spec(model, data: DoseResponseData) -> ModelSpec:
    if not isinstance(data, DoseResponseData):
        raise DoseResponseError(
            f"data must be a DoseResponseData (e.g. from load_dataset); got {type(data).__name__}."
        )
    if isinstance(model, ModelSpec):
        return model
    spec_for = getattr(model, "spec_for", None)
    if spec_for is None:
        raise DoseResponseError(
            "model must be an NTCPModel/TCPModel or a ModelSpec; got "
            f"{type(model).__name__}."
        )
    return spec_for(data)


def _dose_grid(dose_grid: ArrayLike | None, data: DoseResponseData) -> np.ndarray:
    if dose_grid is None:
        doses = np.concatenate(
            [data.ipd["dose"].to_numpy(dtype=float), data.aggregate["dose"].to_numpy(dtype=float)]
        )
        top = float(np.nanmax(doses)) if doses.size else 1.0
        return np.linspace(0.0, 1.2 * top, 100)
    dose = np.atleast_1d(as_float_array(dose_grid, "dose_grid", nonnegative=True))
    if dose.ndim != 1 or dose.size == 0:
        raise DoseResponseError(
            f"dose_grid must be a non-empty 1-D array of doses; got shape {dose.shape}."
        )
    return dose


def _covariates(covariates: Mapping[str, float] | None, spec: ModelSpec) -> dict[str, float]:
    given = known_covariates(covariates, spec.all_covariates)
    return {k: check_scalar(v, f"covariates[{k!r}]") for k, v in given.items()}


def _positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DoseResponseError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)
