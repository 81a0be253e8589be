"""ModelSpec: the full, JSON-serialisable description of a hierarchical dose-response model.

A spec plus a :class:`~doseresponse.data.DoseResponseData` determine the PyMC model exactly
(:func:`doseresponse.models.hierarchical.build_model`). Saved fits store the spec as canonical
JSON with its SHA-256, so a file whose spec was edited is detected on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from doseresponse._validation import lookup_name
from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError, ModelMismatchError
from doseresponse.models.curves import CurveFamily, get_curve_family

__all__ = [
    "AGGREGATE_INTEGRATION",
    "KINDS",
    "MEASUREMENT_ERROR",
    "POOLING",
    "SPEC_FORMAT_VERSION",
    "ModelSpec",
]

SPEC_FORMAT_VERSION = 1
"""Version of the spec's JSON layout; bumped when a field changes meaning."""

KINDS = {"NTCP": "normal-tissue complication probability", "TCP": "tumour control probability"}
POOLING = {
    "partial": "log D50 per study ~ Normal(log D50, tau) (non-centred); the default",
    "complete": "one D50 and slope shared by every study",
    "none": "an independent D50 and slope per study, no population parameters",
}
AGGREGATE_INTEGRATION = {
    "gauss-hermite": "integrate the curve over a log-normal dose distribution in each bin",
    "dose": "evaluate the curve at the bin's reported dose",
}
MEASUREMENT_ERROR = {
    "none": "doses are taken as exact",
    "lognormal": "observed patient dose ~ LogNormal(log true dose, sigma from dose_se); "
    "log true dose ~ Normal(exposure median, exposure SD) per study",
}


@dataclass(frozen=True)
class ModelSpec:
    """Complete description of a Bayesian hierarchical TCP/NTCP model.

    Parameters
    ----------
    kind : {"NTCP", "TCP"}
        What the outcome is; affects labels only (both rise with dose).
    curve : str
        Curve family (canonical registry name, see
        :data:`~doseresponse.models.curves.CURVE_FAMILIES`).
    pooling : {"partial", "complete", "none"}
        How D50 (and optionally the slope) is shared across studies.
    pool_slope : bool
        With ``pooling="partial"``, also pool the log slope across studies (SD ``tau_slope``).
    covariates : tuple of str
        Patient-level covariates acting as dose-modifying factors on D50.
    study_covariates : tuple of str
        Study-level covariates acting as dose-modifying factors on D50.
    priors : dict
        Normalised priors (see :mod:`doseresponse.models.priors`), including one
        ``factor:<name>`` entry per covariate.
    dose_metric, dose_unit : str
        The dose metric (e.g. ``"BED"``) and its unit (e.g. ``"Gy"``).
    aggregate_integration : {"gauss-hermite", "dose"}
        How an aggregate bin's probability is computed.
    quadrature_nodes : int
        Gauss–Hermite nodes per bin (odd, 1–41).
    measurement_error : {"none", "lognormal"}
        Dose measurement-error model of patient rows (see
        :data:`MEASUREMENT_ERROR`; ``docs/theory/hierarchical_model.md``).
    background : bool
        With ``True``, the response probability is :math:`b + (1 - b)F(D)` with a background
        (zero-dose) risk ``b`` shared by every study, Beta prior ``priors["background"]``
        (:mod:`doseresponse.models.background`); tolerance doses are then extra risk. Left
        out of the JSON when ``False``, so specs written before the field existed keep their
        digest.
    package_version : str
        Version of doseresponse that wrote the spec.
    format_version : int
        Layout version of the spec (:data:`SPEC_FORMAT_VERSION`).
    """

    kind: str
    curve: str
    pooling: str = "partial"
    pool_slope: bool = False
    covariates: tuple[str, ...] = ()
    study_covariates: tuple[str, ...] = ()
    priors: dict[str, Any] = field(default_factory=dict)
    dose_metric: str = "dose"
    dose_unit: str = "Gy"
    aggregate_integration: str = "gauss-hermite"
    quadrature_nodes: int = 9
    measurement_error: str = "none"
    background: bool = False
    package_version: str = __version__
    format_version: int = SPEC_FORMAT_VERSION

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kind", _choice(str(self.kind).upper(), KINDS, "kind"))
        set_(self, "curve", get_curve_family(self.curve).name)
        set_(self, "pooling", _choice(self.pooling, POOLING, "pooling"))
        set_(self, "aggregate_integration",
             _choice(self.aggregate_integration, AGGREGATE_INTEGRATION, "aggregate_integration"))
        set_(self, "measurement_error",
             _choice(self.measurement_error, MEASUREMENT_ERROR, "measurement_error"))
        set_(self, "covariates", tuple(str(c) for c in self.covariates))
        set_(self, "study_covariates", tuple(str(c) for c in self.study_covariates))
        if not isinstance(self.background, bool):
            raise DoseResponseError(
                f"background must be True or False; got {self.background!r}."
            )
        if "power_prior" in self.priors and self.pooling == "none":
            raise DoseResponseError(
                "an estimated-discount literature prior (priors['power_prior']) acts on the "
                "population D50 and slope; use pooling='partial' or 'complete' (got 'none')."
            )
        if not isinstance(self.pool_slope, bool):
            raise DoseResponseError(f"pool_slope must be True or False; got {self.pool_slope!r}.")
        if self.pool_slope and self.pooling != "partial":
            raise DoseResponseError(
                f"pool_slope=True needs pooling='partial' (got pooling={self.pooling!r})."
            )
        nodes = self.quadrature_nodes
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= 41:
            raise DoseResponseError(
                f"quadrature_nodes must be an integer from 1 to 41; got {nodes!r}."
            )
        overlap = set(self.covariates) & set(self.study_covariates)
        if overlap:
            raise DoseResponseError(
                f"covariates {sorted(overlap)} are listed both as patient-level and study-level "
                "covariates; list each once."
            )

    # ------------------------------------------------------------------ derived

    @property
    def family(self) -> CurveFamily:
        """The numpy curve family of the model."""
        return get_curve_family(self.curve)

    @property
    def slope_name(self) -> str:
        """Name of the slope parameter: ``"gamma50"`` or ``"m"``."""
        return self.family.slope_name

    @property
    def all_covariates(self) -> tuple[str, ...]:
        """Patient-level then study-level covariates (the model's ``covariate`` dimension)."""
        return (*self.covariates, *self.study_covariates)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict of every field (tuples become lists).

        Returns
        -------
        dict
            Field name → value, read back by :meth:`from_dict`.
        """
        payload = asdict(self)
        payload["covariates"] = list(self.covariates)
        payload["study_covariates"] = list(self.study_covariates)
        if not self.background:  # the layout of specs written before the option existed
            del payload["background"]
        return payload

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace): the input of :meth:`sha256`.

        Returns
        -------
        str
            The JSON text, read back by :meth:`from_json`.
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
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from :meth:`to_dict` output.

        Parameters
        ----------
        payload : mapping
            Output of :meth:`to_dict`.

        Returns
        -------
        ModelSpec
            The spec.

        Raises
        ------
        ModelMismatchError
            Unknown format version or unknown/missing fields.
        """
        version = payload.get("format_version")
        if version != SPEC_FORMAT_VERSION:
            raise ModelMismatchError(
                f"model spec format version {version!r} is not supported by doseresponse "
                f"{__version__} (it reads version {SPEC_FORMAT_VERSION}); upgrade doseresponse "
                "or refit the model."
            )
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(payload) - names)
        missing = sorted(names - set(payload) - _OPTIONAL_FIELDS)
        if unknown or missing:
            raise ModelMismatchError(
                f"model spec fields do not match this version: unknown {unknown}, "
                f"missing {missing}."
            )
        values = dict(payload)
        values["covariates"] = tuple(values["covariates"])
        values["study_covariates"] = tuple(values["study_covariates"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        """Rebuild a spec from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            Output of :meth:`to_json`.

        Returns
        -------
        ModelSpec
            The spec.
        """
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelMismatchError(f"model spec is not valid JSON: {exc}.") from None
        if not isinstance(payload, dict):
            raise ModelMismatchError("model spec JSON must be an object.")
        return cls.from_dict(payload)


_OPTIONAL_FIELDS = {"background"}
"""Fields a spec JSON may omit (added after format version 1 was fixed; default ``False``)."""


def _choice(value: Any, table: Mapping[str, str], name: str) -> str:
    return lookup_name(str(value), {key: key for key in table}, name)
