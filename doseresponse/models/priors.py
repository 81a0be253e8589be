r"""Default priors of the hierarchical dose-response model, on scales a physicist can check.

Every prior is a small JSON-able dict, so a user overrides one parameter without subclassing::

    {"d50": {"median": 40, "lower": 20, "upper": 80},   # Gy; 95 % prior range
     "tau": {"sigma": 0.3},
     "factor:htn": {"median": 0.7, "sigma": 0.3}}

Parameters and their default priors (``D`` in the unit of the dose metric, e.g. Gy BED):

========================  =================  ==============================================
key                       distribution       default
========================  =================  ==============================================
``d50``                   log-normal         median = geometric mid-point of the observed
                                             dose range (5th–95th percentile, ``lo``–``hi``),
                                             95 % prior range ``[lo/2, 2·hi]``
``slope``                 log-normal         γ50: median 1.5, 95 % range ≈ 0.38–6
                                             (probit ``m``: median 0.27, 95 % range ≈ 0.07–1.1)
``tau``                   half-normal        σ = 0.5 on the log-D50 scale
``tau_slope``             half-normal        σ = 0.3 on the log-slope scale
``factor``                log-normal         median 1, σ = 0.5: a dose-modifying factor per
                                             unit of a covariate, 95 % range 0.38–2.66
``factor:<covariate>``    log-normal         overrides ``factor`` for one covariate
========================  =================  ==============================================

An estimated-discount literature prior (``literature_prior(..., a0="estimate")``) adds a
``power_prior`` entry (historical estimates of D50 and slope, Beta prior of the weight a0;
:mod:`doseresponse.models.power_prior`); ``d50`` and ``slope`` are then its initial priors.

A log-normal is given by ``median`` and either ``sigma`` (SD of the log) or a central 95 % range
``lower``/``upper`` (converted with :math:`\sigma = \ln(\text{upper}/\text{lower})/(2\cdot1.96)`;
the median defaults to :math:`\sqrt{\text{lower}\cdot\text{upper}}`). A half-normal is given by
``sigma``.

Notes
-----
The between-study SD τ acts on log D50, so τ is a multiplicative spread: centres one SD apart
differ by a factor :math:`e^{\tau}` in D50 (τ = 0.5 ≈ a factor 1.65). The half-normal(0.5) prior
puts 95 % of its mass below τ = 0.98 (a factor 2.7) and, unlike inverse-gamma priors, does not
push τ away from zero when there are few studies (Gelman A 2006 Bayesian Anal 1:515; Röver C et
al. 2021 Res Synth Methods 12:448 on weakly informative heterogeneity priors).

The γ50 default spans the normalised slopes reported for radiotherapy and RPT endpoints
(γ50 ≈ 1–4 for external-beam NTCP, Bentzen & Tucker 1997 Int J Radiat Biol 71:531; shallower,
≈ 0.5–2, in RPT series). The probit default is the same prior mapped through
:math:`m = 1/(\gamma_{50}\sqrt{2\pi})`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from doseresponse._validation import check_scalar
from doseresponse.exceptions import DoseResponseError, UnknownNameError

__all__ = [
    "DEFAULT_GAMMA50_MEDIAN",
    "DEFAULT_SLOPE_SIGMA",
    "PRIOR_KEYS",
    "default_priors",
    "lognormal_prior",
    "resolve_priors",
]

_Z95 = 1.959963984540054
_SQRT_2PI = math.sqrt(2.0 * math.pi)

DEFAULT_GAMMA50_MEDIAN = 1.5
"""Median of the default γ50 prior (dimensionless)."""
DEFAULT_SLOPE_SIGMA = math.log(4.0) / _Z95
"""SD of log γ50 (and log m) in the default slope prior: 95 % range median ×/÷ 4."""
DEFAULT_TAU_SIGMA = 0.5
DEFAULT_TAU_SLOPE_SIGMA = 0.3
DEFAULT_FACTOR_SIGMA = 0.5

PRIOR_KEYS = ("d50", "slope", "tau", "tau_slope", "factor")
"""Parameter keys accepted in a prior spec (plus ``factor:<covariate>``)."""

_LOGNORMAL_KEYS = {"dist", "median", "sigma", "lower", "upper", "source"}
_HALFNORMAL_KEYS = {"dist", "sigma"}
_DISTRIBUTION = {
    "d50": "lognormal",
    "slope": "lognormal",
    "tau": "halfnormal",
    "tau_slope": "halfnormal",
    "factor": "lognormal",
}


def lognormal_prior(
    median: float | None = None,
    sigma: float | None = None,
    *,
    lower: float | None = None,
    upper: float | None = None,
    name: str = "prior",
) -> dict[str, Any]:
    r"""Normalise a log-normal prior to ``{"dist": "lognormal", "median": ..., "sigma": ...}``.

    Parameters
    ----------
    median : float, optional
        Prior median (same unit as the parameter, e.g. Gy for D50), > 0.
    sigma : float, optional
        SD of the logarithm, > 0.
    lower, upper : float, optional
        Central 95 % prior range (> 0); used when ``sigma`` is not given.
    name : str
        Parameter name for error messages.

    Returns
    -------
    dict
        The normalised prior.

    Raises
    ------
    DoseResponseError
        Missing or inconsistent values (e.g. ``lower >= upper``, median outside the range).
    """
    if sigma is None:
        if lower is None or upper is None:
            raise DoseResponseError(
                f"prior for {name!r} needs 'sigma' or both 'lower' and 'upper' (95 % range)."
            )
        lower = check_scalar(lower, f"{name}.lower", positive=True)
        upper = check_scalar(upper, f"{name}.upper", positive=True)
        if lower >= upper:
            raise DoseResponseError(
                f"prior for {name!r}: lower ({lower:g}) must be below upper ({upper:g})."
            )
        sigma = math.log(upper / lower) / (2.0 * _Z95)
        if median is None:
            median = math.sqrt(lower * upper)
        elif not lower < median < upper:
            raise DoseResponseError(
                f"prior for {name!r}: median {median:g} must lie inside [lower, upper] = "
                f"[{lower:g}, {upper:g}]."
            )
    elif lower is not None or upper is not None:
        raise DoseResponseError(
            f"prior for {name!r}: give either 'sigma' or 'lower'/'upper', not both."
        )
    if median is None:
        raise DoseResponseError(f"prior for {name!r} needs a 'median'.")
    median = check_scalar(median, f"{name}.median", positive=True)
    sigma = check_scalar(sigma, f"{name}.sigma", positive=True)
    return {"dist": "lognormal", "median": median, "sigma": sigma}


def default_priors(doses: Sequence[float] | np.ndarray, slope_name: str) -> dict[str, Any]:
    """Default priors derived from the observed doses.

    Parameters
    ----------
    doses : array_like
        Observed doses (patient doses and aggregate bin doses) in the dose-metric unit (Gy).
        Non-positive values are ignored.
    slope_name : {"gamma50", "m"}
        The curve family's slope parameter.

    Returns
    -------
    dict
        Normalised priors for ``d50``, ``slope``, ``tau``, ``tau_slope`` and ``factor``.

    Raises
    ------
    DoseResponseError
        If no dose is positive.
    """
    arr = np.asarray(doses, dtype=np.float64)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        raise DoseResponseError(
            "cannot derive a default D50 prior: no positive dose in the data; give "
            "priors={'d50': {'median': ..., 'lower': ..., 'upper': ...}} in dose units."
        )
    lo, hi = np.quantile(arr, [0.05, 0.95])
    median = math.sqrt(lo * hi)
    d50 = lognormal_prior(median, lower=lo / 2.0, upper=2.0 * hi, name="d50")
    gamma_median = DEFAULT_GAMMA50_MEDIAN
    slope_median = 1.0 / (gamma_median * _SQRT_2PI) if slope_name == "m" else gamma_median
    return {
        "d50": d50,
        "slope": {"dist": "lognormal", "median": slope_median, "sigma": DEFAULT_SLOPE_SIGMA},
        "tau": {"dist": "halfnormal", "sigma": DEFAULT_TAU_SIGMA},
        "tau_slope": {"dist": "halfnormal", "sigma": DEFAULT_TAU_SLOPE_SIGMA},
        "factor": {"dist": "lognormal", "median": 1.0, "sigma": DEFAULT_FACTOR_SIGMA},
    }


def resolve_priors(
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    covariates: Sequence[str],
    *,
    allow_power_prior: bool = False,
) -> dict[str, Any]:
    """Merge user overrides into the defaults and expand one prior per covariate.

    Parameters
    ----------
    defaults : mapping
        Output of :func:`default_priors`.
    overrides : mapping or None
        User spec: parameter key → dict of prior settings (see module docstring). Keys are
        ``d50``, ``slope``, ``tau``, ``tau_slope``, ``factor`` and ``factor:<covariate>``.
    covariates : sequence of str
        Covariate names in the model (patient-level then study-level).
    allow_power_prior : bool
        Accept a ``"power_prior"`` entry (an estimated-discount literature prior,
        :mod:`doseresponse.models.power_prior`), for models whose samplers implement it.

    Returns
    -------
    dict
        Normalised priors; per-covariate entries ``factor:<name>`` for every covariate.

    Raises
    ------
    UnknownNameError
        An override names an unknown parameter or covariate (the message lists valid keys).
    DoseResponseError
        An override has unknown settings or invalid values.
    """
    from doseresponse.models.power_prior import POWER_PRIOR_KEY, normalise_power_prior

    valid = [*PRIOR_KEYS, *(f"factor:{c}" for c in covariates)]
    if allow_power_prior:
        valid.append(POWER_PRIOR_KEY)
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in valid:
            raise UnknownNameError(
                f"unknown prior parameter {key!r}; valid names are: {', '.join(valid)}."
            )
    result: dict[str, Any] = {}
    for key in PRIOR_KEYS:
        result[key] = _merge(key, _DISTRIBUTION[key], defaults[key], overrides.get(key))
    for covariate in covariates:
        key = f"factor:{covariate}"
        result[key] = _merge(key, "lognormal", result["factor"], overrides.get(key))
    if POWER_PRIOR_KEY in overrides:
        result[POWER_PRIOR_KEY] = normalise_power_prior(overrides[POWER_PRIOR_KEY])
    return result


def _merge(
    key: str, dist: str, default: Mapping[str, Any], override: Mapping[str, Any] | None
) -> dict[str, Any]:
    merged = _merge_values(key, dist, default, override)
    if isinstance(override, Mapping) and override.get("source") is not None:
        # where an informative prior came from (e.g. a literature_priors transfer), kept for
        # the summary and the report
        merged["source"] = str(override["source"])
    return merged


def _merge_values(
    key: str, dist: str, default: Mapping[str, Any], override: Mapping[str, Any] | None
) -> dict[str, Any]:
    if override is None:
        return dict(default)
    if not isinstance(override, Mapping):
        raise DoseResponseError(
            f"prior for {key!r} must be a dict such as {{'median': 1.0, 'sigma': 0.5}}; "
            f"got {override!r}."
        )
    allowed = _LOGNORMAL_KEYS if dist == "lognormal" else _HALFNORMAL_KEYS
    unknown = sorted(set(override) - allowed - {"source"})
    if unknown:
        raise DoseResponseError(
            f"prior for {key!r} has unknown setting(s) {unknown}; a {dist} prior accepts "
            f"{sorted(allowed - {'dist', 'source'})} (and a 'source' text)."
        )
    if "dist" in override and str(override["dist"]).lower().replace("-", "") != dist:
        raise DoseResponseError(
            f"prior for {key!r} must be {dist} (the model is parametrised for it); "
            f"got dist={override['dist']!r}."
        )
    if dist == "halfnormal":
        sigma = override.get("sigma", default["sigma"])
        return {"dist": dist, "sigma": check_scalar(sigma, f"{key}.sigma", positive=True)}
    if "sigma" not in override and not ({"lower", "upper"} & set(override)):
        return lognormal_prior(
            override.get("median", default["median"]), default["sigma"], name=key
        )
    median = override.get("median")
    if median is None and "sigma" in override:
        median = default["median"]
    return lognormal_prior(
        median,
        override.get("sigma"),
        lower=override.get("lower"),
        upper=override.get("upper"),
        name=key,
    )
