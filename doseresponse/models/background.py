r"""Background (zero-dose) risk: :math:`P(D) = b + (1 - b)\,F(D)` for every curve family.

Many endpoints have a baseline rate that is not caused by the therapy (chronic kidney disease
in an elderly cohort, xerostomia, marrow suppression after earlier chemotherapy). Forcing
:math:`P(0) = 0` then pushes the curve's lower tail up and biases low tolerance doses. The
background model (Abbott WS 1925 J Econ Entomol 18:265; the "background" parameter of every
dichotomous model in US EPA BMDS) mixes a dose-independent risk :math:`b` with the family's
curve :math:`F`:

.. math::

    P(D) = b + (1 - b)\,F(D; D_{50}, s).

Tolerance doses are then **extra risk** (the BMDS convention): TD\ :sub:`p` is the dose with

.. math::

    \frac{P(D) - b}{1 - b} = p \iff F(D) = p,

i.e. the dose at which a fraction :math:`p` of the patients who would *not* have had the event
anyway have it because of the dose. :math:`D_{50}` and the slope keep their meaning for
:math:`F`; the curve's own midpoint :math:`P = 0.5` lies lower when :math:`b > 0`.

The default prior is :math:`b \sim \mathrm{Beta}(1, 9)` (:data:`DEFAULT_BACKGROUND_PRIOR`):
mean 0.10, median 0.074, 95th percentile 0.28, and a density that decreases from :math:`b = 0`,
so "no background" is the most plausible single value while baseline rates of a few to ~30 %,
as reported for late renal and salivary endpoints before therapy, remain well supported. Untreated
or very-low-dose patients inform :math:`b` directly; without them :math:`b` is identified only
through the curve's shape and its posterior stays close to the prior (say so when reporting).
The sampler works on :math:`\theta = \operatorname{logit} b`, whose density (with the
log-Jacobian) is :math:`a\ln b + \beta\ln(1-b) - \ln B(a, \beta)` — PyMC's Beta with its
default log-odds transform, which is the oracle of the compiled kernel.

Units: probabilities dimensionless; doses in the unit of the dose metric (Gy, Gy BED).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from doseresponse._validation import as_float_array, check_probability, check_scalar
from doseresponse.exceptions import DoseResponseError

__all__ = [
    "DEFAULT_BACKGROUND_PRIOR",
    "background_log_pair",
    "background_note",
    "background_prior",
    "beta_parameters",
    "describe_prior",
    "extra_risk",
    "log_beta_function",
    "spec_background",
    "total_risk",
]

DEFAULT_BACKGROUND_PRIOR: dict[str, Any] = {"dist": "beta", "alpha": 1.0, "beta": 9.0}
"""Default prior of the background risk: Beta(1, 9) (mean 0.1, 95th percentile 0.28)."""

_BETA_KEYS = {"dist", "alpha", "beta"}


def background_prior(setting: bool | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Normalise a background setting to a Beta prior dict (``None``: no background).

    Parameters
    ----------
    setting : bool or mapping or None
        ``False``/``None``: no background parameter; ``True``: the default prior
        :data:`DEFAULT_BACKGROUND_PRIOR`; a mapping ``{"alpha": a, "beta": b}`` (both > 0):
        a Beta(a, b) prior on the background risk.

    Returns
    -------
    dict or None
        ``{"dist": "beta", "alpha": a, "beta": b}``, or ``None``.

    Raises
    ------
    DoseResponseError
        A mapping with unknown keys, a non-Beta ``dist`` or non-positive parameters.

    Examples
    --------
    >>> background_prior(True)
    {'dist': 'beta', 'alpha': 1.0, 'beta': 9.0}
    >>> background_prior({"alpha": 2, "beta": 18})
    {'dist': 'beta', 'alpha': 2.0, 'beta': 18.0}
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return dict(DEFAULT_BACKGROUND_PRIOR)
    if not isinstance(setting, Mapping):
        raise DoseResponseError(
            "background must be True/False or a Beta prior such as {'alpha': 1, 'beta': 9}; "
            f"got {setting!r}."
        )
    unknown = sorted(set(setting) - _BETA_KEYS)
    if unknown:
        raise DoseResponseError(
            f"background prior has unknown setting(s) {unknown}; a Beta prior accepts "
            "'alpha' and 'beta' (both > 0)."
        )
    if "dist" in setting and str(setting["dist"]).lower() != "beta":
        raise DoseResponseError(
            f"the background prior must be a Beta distribution; got dist={setting['dist']!r}."
        )
    a = check_scalar(setting.get("alpha", DEFAULT_BACKGROUND_PRIOR["alpha"]),
                     "background.alpha", positive=True)
    b = check_scalar(setting.get("beta", DEFAULT_BACKGROUND_PRIOR["beta"]),
                     "background.beta", positive=True)
    return {"dist": "beta", "alpha": float(a), "beta": float(b)}


def beta_parameters(prior: Mapping[str, Any]) -> tuple[float, float]:
    """``(alpha, beta)`` of a normalised background prior (see :func:`background_prior`).

    Parameters
    ----------
    prior : mapping
        ``{"dist": "beta", "alpha": a, "beta": b}``.

    Returns
    -------
    tuple of float
        The two Beta shape parameters.
    """
    return float(prior["alpha"]), float(prior["beta"])


def log_beta_function(a: float, b: float) -> float:
    r"""Logarithm of the Beta function, :math:`\ln B(a, b)` (the Beta prior's normaliser).

    Parameters
    ----------
    a, b : float
        Shape parameters, > 0.

    Returns
    -------
    float
        :math:`\ln\Gamma(a) + \ln\Gamma(b) - \ln\Gamma(a + b)`.

    Notes
    -----
    Abramowitz M, Stegun IA 1964 *Handbook of Mathematical Functions*, 6.2.2.
    """
    return float(special.betaln(a, b))


def extra_risk(probability: ArrayLike, background: ArrayLike) -> NDArray[np.float64]:
    r"""Extra risk over background, :math:`(P - b)/(1 - b)` (BMDS convention).

    Parameters
    ----------
    probability : array_like
        Total response probability :math:`P(D)` in [0, 1].
    background : array_like
        Background risk :math:`b` in [0, 1); broadcasts with ``probability``.

    Returns
    -------
    numpy.ndarray
        Extra risk (negative where :math:`P < b`).

    Notes
    -----
    US EPA 2012 *Benchmark Dose Technical Guidance* (EPA/100/R-12/001), §2.1.1: extra risk
    :math:`[P(d) - P(0)]/[1 - P(0)]`; with :math:`P = b + (1-b)F` and :math:`F(0) = 0` it is
    :math:`F(d)`.

    Examples
    --------
    >>> round(float(extra_risk(0.28, 0.2)), 12)
    0.1
    """
    p = check_probability(probability, "probability", open_interval=False)
    b = _background_array(background)
    return (p - b) / (1.0 - b)


def total_risk(extra: ArrayLike, background: ArrayLike) -> NDArray[np.float64]:
    r"""Total risk :math:`b + (1 - b)\,F` from a curve (extra-risk) probability :math:`F`.

    Parameters
    ----------
    extra : array_like
        Curve probability :math:`F(D)` (the extra risk) in [0, 1].
    background : array_like
        Background risk :math:`b` in [0, 1); broadcasts with ``extra``.

    Returns
    -------
    numpy.ndarray
        :math:`P(D) = b + (1 - b)F(D)`.

    Notes
    -----
    Abbott WS 1925 J Econ Entomol 18:265 (the inverse of :func:`extra_risk`).

    Examples
    --------
    >>> round(float(total_risk(0.1, 0.2)), 12)
    0.28
    """
    f = check_probability(extra, "extra", open_interval=False)
    b = _background_array(background)
    return b + (1.0 - b) * f


def _background_array(background: ArrayLike) -> NDArray[np.float64]:
    b = as_float_array(background, "background", nonnegative=True)
    if np.any(b >= 1.0):
        raise DoseResponseError(
            f"background must be below 1; got max {float(np.max(b)):g}."
        )
    return b


def describe_prior(prior: Mapping[str, Any]) -> str:
    """One-line description of a Beta background prior, with its mean and 95 % range.

    Parameters
    ----------
    prior : mapping
        Normalised prior (:func:`background_prior`).

    Returns
    -------
    str
        E.g. ``"Beta(1, 9): mean 0.1, 95 % range 0.0028-0.34"``.
    """
    from scipy import stats

    a, b = beta_parameters(prior)
    lo, hi = stats.beta.ppf([0.025, 0.975], a, b)
    return f"Beta({a:g}, {b:g}): mean {a / (a + b):.2g}, 95 % range {lo:.2g}-{hi:.2g}"



def spec_background(spec: Any) -> bool:
    """Whether a model spec has a background risk (``False`` for specs without the field).

    Parameters
    ----------
    spec : ModelSpec
        A :class:`~doseresponse.models.spec.ModelSpec`.

    Returns
    -------
    bool
    """
    return bool(getattr(spec, "background", False))


def background_note(fit: Any) -> list[str]:
    """Summary lines stating the background risk of a fitted model (empty without one).

    Parameters
    ----------
    fit : FittedModel
        A :class:`~doseresponse.models.results.FittedModel`.

    Returns
    -------
    list of str
        The background's posterior median and 95 % interval, its prior, the extra-risk
        definition of TDp, and a warning when the posterior barely moved from the prior.
    """
    if not spec_background(fit.spec):
        return []
    draws = np.asarray(fit.posterior["background"]).ravel()
    lo, med, hi = np.quantile(draws, [0.025, 0.5, 0.975])
    prior = fit.spec.priors["background"]
    a, b = beta_parameters(prior)
    prior_sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    lines = [
        f"background risk b: median {med:.3g} (95 % interval {lo:.3g}-{hi:.3g}); prior "
        f"{describe_prior(prior)}; P(D) = b + (1 - b) F(D), and TDp is EXTRA risk: "
        "(P(D) - b)/(1 - b) = p (US EPA BMDS convention)",
    ]
    if float(np.std(draws)) > 0.8 * prior_sd:
        prior_mean = a / (a + b)
        lines.append(
            f"WARNING: the data say little about the background risk (posterior SD "
            f"{float(np.std(draws)):.3g} vs prior SD {prior_sd:.3g}, prior mean "
            f"{prior_mean:.3g}): its estimate comes mostly from the prior; untreated or "
            "low-dose patients would inform it"
        )
    return lines


def background_log_pair(
    log_f: NDArray[np.float64], log_g: NDArray[np.float64], background: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""``(ln P, ln(1 - P))`` of :math:`P = b + (1 - b)F` from ``(ln F, ln(1 - F))`` per draw.

    Parameters
    ----------
    log_f, log_g : numpy.ndarray
        :math:`\ln F` and :math:`\ln(1 - F)`, shape ``(*draw_shape, ...)``.
    background : array_like
        Background risk per draw, shape ``draw_shape`` (e.g. ``(chain, draw)``).

    Returns
    -------
    tuple of numpy.ndarray
        :math:`\operatorname{logaddexp}(\ln b, \ln(1-b) + \ln F)` and
        :math:`\ln(1-b) + \ln(1-F)` (the numpy twin of
        ``doseresponse.models._curve_kernel.add_background``, for the pointwise
        log-likelihood of LOO and the predictive checks).
    """
    b = np.asarray(background, dtype=np.float64)
    b = b.reshape(b.shape + (1,) * (np.ndim(log_f) - b.ndim))
    with np.errstate(divide="ignore"):
        log_b, log_rest = np.log(b), np.log1p(-b)
    return np.logaddexp(log_b, log_rest + log_f), log_rest + log_g
