r"""Normalised power prior with an estimated discount :math:`a_0` for the D50 and slope priors.

A literature curve (:mod:`doseresponse.models.literature_priors`) is a historical estimate
:math:`\theta \approx N(\mu_h, \sigma_h^2)` of :math:`\theta = \ln D_{50}` (and of the log slope).
The power prior raises that historical likelihood to a power :math:`a_0 \in (0, 1]`; with a
*fixed* :math:`a_0` chosen in advance it is a normal prior. The **normalised power prior**
(Duan Y, Ye K, Smith EP 2006 Environmetrics 17:95; Neuenschwander B, Branson M, Spiegelhalter DJ
2009 Stat Med 28:3562; Ibrahim JG, Chen MH, Gwon Y, Chen F 2015 Stat Med 34:3724) instead gives
:math:`a_0` its own prior and learns it from the agreement between the literature and the new
data:

.. math::

    \pi(\theta, a_0 \mid D_0) = \frac{L(\theta \mid D_0)^{a_0}\,\pi_0(\theta)}
        {\int L(\vartheta \mid D_0)^{a_0}\,\pi_0(\vartheta)\,d\vartheta}\,
        \mathrm{Beta}(a_0;\, a, \beta).

With the normal (approximated) historical likelihood and the package's vague log-normal initial
prior :math:`\pi_0 = N(\mu_0, \sigma_0^2)` the normalised conditional prior is normal in closed
form (the product of two normal kernels, normalised):

.. math::

    \theta \mid a_0 \sim N\big(m(a_0),\, P(a_0)^{-1}\big), \qquad
    P(a_0) = \frac{a_0}{\sigma_h^2} + \frac{1}{\sigma_0^2}, \qquad
    m(a_0) = \frac{a_0\mu_h/\sigma_h^2 + \mu_0/\sigma_0^2}{P(a_0)},

the fixed-:math:`a_0` prior of :func:`~doseresponse.models.literature_priors.literature_prior`
at every :math:`a_0` (:func:`conditional_normal` is that one formula). The normaliser
:math:`C(a_0)` is exact here — the reason the normalised power prior, not the unnormalised
joint power prior (whose :math:`a_0` is pushed to 0 regardless of the data; Neuenschwander et
al. 2009), is used. D50 and slope share one :math:`a_0`; the historical estimates are
independent. Data that agree with the literature pull :math:`a_0` up, data in conflict push it
towards 0 (the posterior of :math:`a_0` is reported in ``summary()`` and beside the
prior–data conflict check). With only two historical numbers the data can move :math:`a_0`
only so far from its prior: the default Beta(1, 1) (uniform) states no preference.

In the samplers :math:`a_0` is the Beta variable ``a0`` on the log-odds scale (PyMC's default
transform, value variable ``a0_logodds__``): its prior with the log-Jacobian is
:math:`a\ln a_0 + \beta\ln(1-a_0) - \ln B(a, \beta)`.

Units: :math:`\theta` on the natural-log scale of D50 (Gy, Gy BED) or of the slope;
:math:`a_0` dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse._validation import check_scalar
from doseresponse.exceptions import DoseResponseError

__all__ = [
    "DEFAULT_A0_PRIOR",
    "POWER_PRIOR_KEY",
    "conditional_normal",
    "normalise_power_prior",
    "power_prior_constants",
    "power_prior_note",
]

POWER_PRIOR_KEY = "power_prior"
"""Key of the estimated-discount power prior in a model's ``priors``."""

DEFAULT_A0_PRIOR = {"alpha": 1.0, "beta": 1.0}
"""Default Beta prior of the estimated discount a0: uniform on (0, 1)."""

_KEYS = {"dist", "a0_alpha", "a0_beta", "d50", "slope", "source"}


def conditional_normal(
    a0: ArrayLike, mu_hist: float, sd_hist: float, mu0: float, sd0: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Mean and SD of the normalised power prior :math:`\theta \mid a_0` (normal case).

    Parameters
    ----------
    a0 : array_like
        Discount(s) in (0, 1] (dimensionless).
    mu_hist, sd_hist : float
        Historical estimate and its SD, on the log scale of the parameter.
    mu0, sd0 : float
        Mean and SD of the initial (vague) normal prior :math:`\pi_0`, same scale.

    Returns
    -------
    mean, sd : numpy.ndarray
        :math:`m(a_0)` and :math:`P(a_0)^{-1/2}` (module docstring), shaped like ``a0``.

    Notes
    -----
    Ibrahim JG, Chen MH 2000 Stat Sci 15:46 (normal case of the power prior); Duan Y, Ye K,
    Smith EP 2006 Environmetrics 17:95 (its normalisation). :math:`P = a_0\sigma_h^{-2} +
    \sigma_0^{-2}`, :math:`m = (a_0\mu_h\sigma_h^{-2} + \mu_0\sigma_0^{-2})/P`.

    Examples
    --------
    >>> mean, sd = conditional_normal(1.0, 0.0, 1.0, 2.0, 1.0)
    >>> float(mean), round(float(sd) ** 2, 12)
    (1.0, 0.5)
    """
    a0 = np.asarray(a0, dtype=np.float64)
    precision = a0 / sd_hist**2 + 1.0 / sd0**2
    mean = (a0 * mu_hist / sd_hist**2 + mu0 / sd0**2) / precision
    return mean, 1.0 / np.sqrt(precision)


def normalise_power_prior(setting: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an estimated-discount power prior (as written by ``literature_prior``).

    Parameters
    ----------
    setting : mapping
        ``{"d50": {"median": ..., "sigma": ...}, "slope": {"median": ..., "sigma": ...},
        "a0_alpha": a, "a0_beta": b}``: the historical (undiscounted) log-normal estimates
        of D50 (dose unit) and slope, and the Beta(a, b) prior of a0 (default Beta(1, 1));
        optionally a ``source`` text.

    Returns
    -------
    dict
        The normalised setting with ``"dist": "normalised-power"``.

    Raises
    ------
    DoseResponseError
        Not a mapping, unknown keys, a missing historical estimate or non-positive values.
    """
    if not isinstance(setting, Mapping):
        raise DoseResponseError(
            f"priors['{POWER_PRIOR_KEY}'] must be a dict as written by "
            f"literature_prior(..., a0='estimate'); got {setting!r}."
        )
    unknown = sorted(set(setting) - _KEYS)
    if unknown:
        raise DoseResponseError(
            f"priors['{POWER_PRIOR_KEY}'] has unknown setting(s) {unknown}; it accepts "
            f"{sorted(_KEYS - {'dist'})}."
        )
    if str(setting.get("dist", "normalised-power")) != "normalised-power":
        raise DoseResponseError(
            f"priors['{POWER_PRIOR_KEY}'] must have dist='normalised-power'; "
            f"got {setting['dist']!r}."
        )
    out: dict[str, Any] = {"dist": "normalised-power"}
    for key in ("d50", "slope"):
        hist = setting.get(key)
        if not isinstance(hist, Mapping) or not {"median", "sigma"} <= set(hist):
            raise DoseResponseError(
                f"priors['{POWER_PRIOR_KEY}'] needs the historical estimate '{key}' as "
                "{'median': ..., 'sigma': ...} (median in the parameter's unit, sigma the SD "
                "of its log)."
            )
        out[key] = {
            "median": check_scalar(hist["median"], f"{POWER_PRIOR_KEY}.{key}.median",
                                   positive=True),
            "sigma": check_scalar(hist["sigma"], f"{POWER_PRIOR_KEY}.{key}.sigma",
                                  positive=True),
        }
    for key, default in (("a0_alpha", "alpha"), ("a0_beta", "beta")):
        out[key] = check_scalar(setting.get(key, DEFAULT_A0_PRIOR[default]),
                                f"{POWER_PRIOR_KEY}.{key}", positive=True)
    if setting.get("source") is not None:
        out["source"] = str(setting["source"])
    return out


def power_prior_constants(priors: Mapping[str, Any]) -> tuple[float, ...]:
    r"""Constants of the compiled kernel's estimated-discount block (11 numbers).

    Parameters
    ----------
    priors : mapping
        A spec's resolved priors with a :data:`POWER_PRIOR_KEY` entry.

    Returns
    -------
    tuple of float
        :math:`a, \beta, \ln B(a, \beta)` of the a0 prior, then for D50 and for the slope
        :math:`\mu_h, \sigma_h^{-2}, \mu_0, \sigma_0^{-2}` (log scale).
    """
    from scipy import special

    power = priors[POWER_PRIOR_KEY]
    a, b = float(power["a0_alpha"]), float(power["a0_beta"])
    values = [a, b, float(special.betaln(a, b))]
    for key in ("d50", "slope"):
        hist, initial = power[key], priors[key]
        values += [
            math.log(hist["median"]), hist["sigma"] ** -2.0,
            math.log(initial["median"]), initial["sigma"] ** -2.0,
        ]
    return tuple(values)


def power_prior_note(fit: Any) -> list[str]:
    """Summary line with the posterior of the estimated discount a0 (empty without one).

    Parameters
    ----------
    fit : FittedModel
        A :class:`~doseresponse.models.results.FittedModel`.

    Returns
    -------
    list of str
        The posterior median and 95 % interval of a0, its prior mean, and what a low or a
        high value means.
    """
    priors = getattr(fit.spec, "priors", {})
    if POWER_PRIOR_KEY not in priors or "a0" not in fit.posterior:
        return []
    power = priors[POWER_PRIOR_KEY]
    draws = np.asarray(fit.posterior["a0"]).ravel()
    lo, med, hi = np.quantile(draws, [0.025, 0.5, 0.975])
    a, b = power["a0_alpha"], power["a0_beta"]
    return [
        f"literature weight a0 (normalised power prior, estimated): posterior median "
        f"{med:.3g} (95 % interval {lo:.3g}-{hi:.3g}, mean {float(np.mean(draws)):.3g}); prior "
        f"Beta({a:g}, {b:g}), mean {a / (a + b):.3g}. a0 near 1: the data agree with the "
        "literature curve and borrow it at face value; near 0: they conflict and the "
        "literature is discounted away"
    ]
