r"""Specification and default priors of the late-toxicity (mixture cure) model.

:class:`LateToxicitySpec` is the complete, JSON-serialisable description of one
:class:`~doseresponse.models.late_toxicity.LateToxicityModel` fit: the curve family of the
eventual probability, the onset distribution, the pooling, covariates, the reference dose of the
onset dose effect, units and the resolved priors. Saved fits store it as canonical JSON with its
SHA-256.

Priors of the onset distribution (times in the data's ``time_unit``):

=======================  ============  ==========================================================
key                      distribution  default
=======================  ============  ==========================================================
``onset_median``         log-normal    median = median time of every patient's last visit
                                       (event or not), 95 % range median ×/÷ 10
``onset_shape``          log-normal    Weibull shape k (log-normal: 1/σ of ln T), median 1.5,
                                       95 % range 0.5–4.5
``onset_dose_slope``     normal        ψ in :math:`t_{50}(D) = t_{50}(D/D_{ref})^{\psi}`, mean 0,
                                       SD 1 (only with ``onset_dose_effect=True``)
=======================  ============  ==========================================================

The curve priors (``d50``, ``slope``, ``tau``, ``factor``, ``factor:<covariate>``) are the binary
model's defaults (:func:`doseresponse.models.priors.default_priors`) and are overridden the same
way.

Notes
-----
A Weibull shape k > 1 means a rising hazard of onset among patients who will develop the
toxicity (typical of late radiation injury, which appears after a latent period); k = 1 is a
constant hazard. The default range 0.5–4.5 covers both.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from doseresponse._validation import check_scalar, lookup_name
from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models.curves import get_curve_family
from doseresponse.models.priors import default_priors, lognormal_prior, resolve_priors
from doseresponse.models.spec import MEASUREMENT_ERROR, _choice

__all__ = [
    "LATE_SPEC_FORMAT_VERSION",
    "NTCP_FAMILIES",
    "ONSET_DISTRIBUTIONS",
    "ONSET_PRIOR_KEYS",
    "LateToxicitySpec",
    "late_default_priors",
]

LATE_SPEC_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1: no measurement_error field (read as "none")
ONSET_DISTRIBUTIONS = {
    "weibull": "Weibull onset, S(t) = exp(-ln2 (t/t50)^k)",
    "lognormal": "log-normal onset, ln T ~ Normal(ln t50, 1/k)",
}
"""Onset-time distributions given toxicity, with their survival functions."""
NTCP_FAMILIES = ("logistic", "log-logistic", "probit", "cloglog")
"""Curve families allowed for the eventual probability (those rising with dose)."""
POOLINGS = ("partial", "complete", "none")
ONSET_PRIOR_KEYS = ("onset_median", "onset_shape", "onset_dose_slope")
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class LateToxicitySpec:
    r"""Everything that defines a late-toxicity model (JSON-serialisable).

    Attributes
    ----------
    curve : str
        Curve family of the eventual probability P(toxicity ever | dose).
    onset : {"weibull", "lognormal"}
        Onset-time distribution given toxicity.
    pooling : {"partial", "complete", "none"}
        Pooling of log D50 across studies (the slope is shared, or per study with ``"none"``).
    onset_dose_effect : bool
        Whether the median onset time scales with dose, :math:`t_{50}(D/D_{ref})^{\psi}`.
    covariates : tuple of str
        Patient-level covariates, each a dose-modifying factor on D50.
    measurement_error : {"none", "lognormal"}
        Dose measurement-error model of the patient rows, the binary model's
        (:data:`doseresponse.models.spec.MEASUREMENT_ERROR`): with ``"lognormal"`` each dose
        with a ``dose_se`` is a noisy measurement of a latent true dose, which the eventual
        probability and the onset dose effect see.
    priors : dict
        Resolved priors (curve keys as in :mod:`doseresponse.models.priors` plus
        :data:`ONSET_PRIOR_KEYS`).
    dose_reference : float
        :math:`D_{ref}` of the onset dose effect (dose unit): the median patient dose.
    dose_metric, dose_unit, time_unit, outcome_name : str
        Labels carried from the data.
    format_version : int
        Version of this spec's layout in saved files.
    """

    curve: str = "log-logistic"
    onset: str = "weibull"
    pooling: str = "partial"
    onset_dose_effect: bool = False
    covariates: tuple[str, ...] = ()
    measurement_error: str = "none"
    priors: dict[str, Any] = field(default_factory=dict)
    dose_reference: float = 1.0
    dose_metric: str = "dose"
    dose_unit: str = "Gy"
    time_unit: str = "months"
    outcome_name: str = "outcome"
    format_version: int = LATE_SPEC_FORMAT_VERSION

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        family = get_curve_family(self.curve).name
        if family not in NTCP_FAMILIES:
            raise DoseResponseError(
                f"curve={self.curve!r} cannot describe a toxicity that rises with dose; use one "
                f"of {', '.join(NTCP_FAMILIES)}."
            )
        set_(self, "curve", family)
        set_(self, "onset", lookup_name(str(self.onset), {k: k for k in ONSET_DISTRIBUTIONS},
                                        "onset distribution",
                                        aliases={"log-normal": "lognormal"}))
        set_(self, "pooling", lookup_name(str(self.pooling), {k: k for k in POOLINGS}, "pooling"))
        if not isinstance(self.onset_dose_effect, bool):
            raise DoseResponseError(
                f"onset_dose_effect must be True or False; got {self.onset_dose_effect!r}."
            )
        set_(self, "covariates", tuple(str(c) for c in self.covariates))
        set_(self, "measurement_error",
             _choice(self.measurement_error, MEASUREMENT_ERROR, "measurement_error"))
        set_(self, "dose_reference",
             check_scalar(self.dose_reference, "dose_reference", positive=True))

    @property
    def family(self):
        """The curve family (:class:`doseresponse.models.curves.CurveFamily`)."""
        return get_curve_family(self.curve)

    @property
    def pool_slope(self) -> bool:
        """False: the slope is shared across studies (per study only with pooling ``"none"``)."""
        return False

    @property
    def slope_name(self) -> str:
        """Name of the slope parameter: ``"gamma50"`` or ``"m"``."""
        return self.family.slope_name

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of every field (tuples become lists).

        Returns
        -------
        dict
            Field name → JSON-compatible value.
        """
        payload = asdict(self)
        payload["covariates"] = list(self.covariates)
        return payload

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace): the input of :meth:`sha256`.

        Returns
        -------
        str
            The spec as canonical JSON text.
        """
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def sha256(self) -> str:
        """SHA-256 hex digest of :meth:`to_json`.

        Returns
        -------
        str
            64 hexadecimal characters.
        """
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> LateToxicitySpec:
        """Rebuild a spec from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            JSON text written by :meth:`to_json`.

        Returns
        -------
        LateToxicitySpec
            The spec, validated.

        Raises
        ------
        ModelMismatchError
            Not valid JSON, an unknown format version, or unknown/missing fields.
        """
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelMismatchError(f"late-toxicity spec is not valid JSON: {exc}.") from None
        if not isinstance(payload, dict):
            raise ModelMismatchError("late-toxicity spec JSON must be an object.")
        if payload.get("format_version") not in _READABLE_VERSIONS:
            raise ModelMismatchError(
                f"late-toxicity spec format version {payload.get('format_version')!r} is not "
                f"supported by doseresponse {__version__} (it reads version "
                f"{LATE_SPEC_FORMAT_VERSION}); upgrade doseresponse or refit."
            )
        if payload["format_version"] == 1:  # written before the measurement-error option
            payload.setdefault("measurement_error", "none")
            payload["format_version"] = LATE_SPEC_FORMAT_VERSION
        names = set(cls.__dataclass_fields__)
        if set(payload) != names:
            raise ModelMismatchError(
                "late-toxicity spec fields do not match this version: unknown "
                f"{sorted(set(payload) - names)}, missing {sorted(names - set(payload))}."
            )
        payload["covariates"] = tuple(payload["covariates"])
        return cls(**payload)


def late_default_priors(
    doses: np.ndarray,
    event_times: np.ndarray,
    follow_up: np.ndarray,
    slope_name: str,
    covariates: tuple[str, ...],
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolved priors of the late-toxicity model (defaults in the module docstring).

    Parameters
    ----------
    doses : numpy.ndarray
        Patient doses (dose unit, Gy).
    event_times : numpy.ndarray
        Observed event times (upper bounds, ``time_unit``); may be empty.
    follow_up : numpy.ndarray
        Follow-up of the patients without the event (``time_unit``); with ``event_times``
        the patients' last informative visits, whose median centres the onset prior.
    slope_name : {"gamma50", "m"}
        The curve family's slope parameter.
    covariates : tuple of str
        Covariates in the model.
    overrides : mapping, optional
        User priors by key (curve keys of :mod:`doseresponse.models.priors`,
        ``onset_median`` / ``onset_shape`` as log-normals, ``onset_dose_slope`` as
        ``{"sigma": ...}`` and optionally ``"mean"``).

    Returns
    -------
    dict
        Normalised priors.

    Raises
    ------
    UnknownNameError
        An unknown prior key.
    DoseResponseError
        Invalid prior settings, or no positive time to centre the onset prior on.
    """
    overrides = dict(overrides or {})
    onset_overrides = {k: overrides.pop(k) for k in ONSET_PRIOR_KEYS if k in overrides}
    try:
        priors = resolve_priors(default_priors(doses, slope_name), overrides, covariates)
    except UnknownNameError as err:
        raise UnknownNameError(
            f"{err} The onset priors are {', '.join(ONSET_PRIOR_KEYS)}."
        ) from None
    # centred on the follow-up, not on the observed event times: with short follow-up the
    # events seen so far are the early ones, and centring on them would favour short onsets
    times = np.concatenate([np.asarray(follow_up, dtype=np.float64).ravel(),
                            np.asarray(event_times, dtype=np.float64).ravel()])
    times = times[np.isfinite(times) & (times > 0)]
    if times.size == 0:
        raise DoseResponseError(
            "cannot centre the default onset prior: no positive event or follow-up time; give "
            "priors={'onset_median': {'median': ..., 'sigma': ...}} in the data's time unit."
        )
    centre = float(np.median(times))
    defaults = {
        "onset_median": lognormal_prior(centre, sigma=math.log(100.0) / (2.0 * _Z95)),
        "onset_shape": lognormal_prior(1.5, sigma=math.log(9.0) / (2.0 * _Z95)),
        "onset_dose_slope": {"dist": "normal", "mean": 0.0, "sigma": 1.0},
    }
    for key in ("onset_median", "onset_shape"):
        given = onset_overrides.get(key)
        if given is not None:
            settings = _settings(given, key, {"median", "sigma", "lower", "upper", "dist"})
            settings.pop("dist", None)
            if "median" not in settings and "lower" not in settings:
                settings["median"] = defaults[key]["median"]
            if "sigma" not in settings and "lower" not in settings:
                settings["sigma"] = defaults[key]["sigma"]
            defaults[key] = lognormal_prior(name=key, **settings)
    given = onset_overrides.get("onset_dose_slope")
    if given is not None:
        settings = _settings(given, "onset_dose_slope", {"mean", "sigma", "dist"})
        defaults["onset_dose_slope"] = {
            "dist": "normal",
            "mean": check_scalar(settings.get("mean", 0.0), "onset_dose_slope.mean"),
            "sigma": check_scalar(settings.get("sigma", 1.0), "onset_dose_slope.sigma",
                                  positive=True),
        }
    priors.update(defaults)
    return priors


def _settings(given: Any, key: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise DoseResponseError(f"prior {key!r} must be a dict of settings; got {given!r}.")
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise DoseResponseError(
            f"prior {key!r}: unknown settings {unknown}; allowed are {sorted(allowed)}."
        )
    return dict(given)
