r"""A dose-response curve with given parameters (fixed values or posterior draws).

:class:`ResponseCurve` is a curve source for everything that accepts a fitted model (the
prescription in :mod:`doseresponse.prescribe`, plots): a literature curve (e.g. the Burman et
al. 1991 LKB fits to the Emami tolerance data) or the posterior draws of a fit made elsewhere.

Units: doses in ``dose_unit`` (Gy) of the ``dose_metric`` (``"absorbed dose"``, ``"BED"``,
``"EQD2"``...); probabilities dimensionless.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.curves import get_curve_family
from doseresponse.models.predictive import DrawParameters, draw_parameters
from doseresponse.models.result_types import CREDIBLE_METHOD, DEFAULT_CI_PROB, CurveBand, DoseAt

__all__ = ["ResponseCurve"]

_KINDS = ("NTCP", "TCP")
_WHICH = ("population", "new_study")
_NEW_STUDY = ("spread", "averaged")


class ResponseCurve:
    r"""A dose-response curve with fixed parameters or with arrays of posterior draws.

    Parameters
    ----------
    curve : str
        Curve family: ``"logistic"``, ``"log-logistic"``, ``"probit"`` (alias ``"lkb"``),
        ``"cloglog"`` or ``"poisson"`` (see :data:`doseresponse.models.curves.CURVE_FAMILIES`).
    d50 : float or array_like
        Dose at 50 % response (``dose_unit``, > 0): one value, or a 1-D array of posterior
        draws.
    slope : float or array_like
        The family's slope: γ50 (dimensionless) or, for ``"probit"``, the relative width m
        (dimensionless), > 0; one value or a 1-D array of draws of the same length as ``d50``.
    dose_metric : str
        What the dose is, e.g. ``"absorbed dose"``, ``"BED"``, ``"EQD2"``.
    dose_unit : str
        Unit of the dose, e.g. ``"Gy"``.
    kind : {"NTCP", "TCP"}, default "NTCP"
        Toxicity or tumour-control curve.
    label : str, optional
        Where the curve comes from (shown in outputs), e.g. ``"Burman 1991 kidney"``.

    Attributes
    ----------
    kind, dose_metric, dose_unit, curve_name, label : str
        As given (``curve_name`` is the family's registry name).
    n_draws : int
        Number of parameter draws (1 for fixed parameters).
    d50, slope : numpy.ndarray
        Parameter draws, shape ``(n_draws,)``.

    Notes
    -----
    The curve has no study structure: ``which="population"`` and ``which="new_study"`` give
    the same curve (and ``new_study="spread"`` / ``"averaged"`` too); a study label or a
    covariate is refused. With fixed parameters every interval collapses to the curve itself.
    Curve formulas and their sources: ``docs/theory/curves.md``.

    Examples
    --------
    >>> kidney = ResponseCurve("lkb", d50=28.0, slope=0.10, dose_metric="absorbed dose",
    ...                        dose_unit="Gy", label="Burman 1991 kidney")
    >>> round(kidney.dose_at(0.05)["median"], 2)
    23.39
    """

    def __init__(
        self,
        curve: str,
        *,
        d50: ArrayLike,
        slope: ArrayLike,
        dose_metric: str,
        dose_unit: str,
        kind: str = "NTCP",
        label: str | None = None,
    ) -> None:
        family = get_curve_family(curve)
        d50_arr = _draw_array(d50, "d50")
        slope_arr = _draw_array(slope, "slope")
        if d50_arr.size != slope_arr.size:
            if d50_arr.size == 1:
                d50_arr = np.full(slope_arr.size, d50_arr[0])
            elif slope_arr.size == 1:
                slope_arr = np.full(d50_arr.size, slope_arr[0])
            else:
                raise DoseResponseError(
                    "d50 and slope must have the same number of draws (or one of them a single "
                    f"value); got {d50_arr.size} and {slope_arr.size}."
                )
        for name, value in (("dose_metric", dose_metric), ("dose_unit", dose_unit)):
            if not isinstance(value, str) or not value.strip():
                raise DoseResponseError(
                    f"{name} must be a non-empty string, e.g. 'BED' or 'Gy'; got {value!r}."
                )
        if kind not in _KINDS:
            raise DoseResponseError(f"kind must be 'NTCP' or 'TCP'; got {kind!r}.")
        if label is not None and not isinstance(label, str):
            raise DoseResponseError(f"label must be a string or None; got {label!r}.")
        d50_arr.setflags(write=False)
        slope_arr.setflags(write=False)
        self._family = family
        self.curve_name: str = family.name
        self.d50 = d50_arr
        self.slope = slope_arr
        self.dose_metric: str = dose_metric
        self.dose_unit: str = dose_unit
        self.kind: str = kind
        self.label: str | None = label

    @property
    def n_draws(self) -> int:
        """Number of parameter draws (1 for fixed parameters)."""
        return int(self.d50.size)

    def probability_draws(
        self,
        dose: ArrayLike,
        which: str = "population",
        covariates: dict[str, float] | None = None,
        *,
        new_study: str = "spread",
        random_seed: int | None = 20240917,
    ) -> np.ndarray:
        """Response probability per parameter draw at each dose.

        Parameters
        ----------
        dose : array_like
            Doses (``dose_unit``, >= 0), scalar or 1-D.
        which : {"population", "new_study"}, default "population"
            Accepted for the fitted-model contract; both give the same curve.
        covariates : dict, optional
            Must be empty or None (the curve has no covariates).
        new_study : {"spread", "averaged"}, default "spread"
            Accepted for the contract; no effect.
        random_seed : int, optional
            Accepted for the contract; no effect (nothing is random).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_draws, n_dose)``.
        """
        self._check_contract(which, covariates, new_study)
        return self._parameters().probability(_dose_array(dose, "dose"))

    def _parameters(self) -> DrawParameters:
        """The draws as :class:`~doseresponse.models.predictive.DrawParameters` (no effects)."""
        return draw_parameters(
            self._family, log_d50=np.log(self.d50), log_slope=np.log(self.slope)
        )

    def curve(
        self,
        dose_grid: ArrayLike,
        which: str = "population",
        covariates: dict[str, float] | None = None,
        *,
        ci_prob: float = DEFAULT_CI_PROB,
        new_study: str = "spread",
    ) -> CurveBand:
        """The curve with its pointwise band over the parameter draws.

        Parameters
        ----------
        dose_grid : array_like
            Doses (``dose_unit``, >= 0), 1-D.
        which, covariates, new_study
            As in :meth:`probability_draws`.
        ci_prob : float, default 0.95
            Probability of the equal-tailed band.

        Returns
        -------
        CurveBand
            Mean, median and band of the probability at each dose (fixed parameters: all
            equal to the curve).
        """
        _check_ci_prob(ci_prob)
        d = _dose_array(dose_grid, "dose_grid")
        p = self.probability_draws(d, which, covariates, new_study=new_study)
        lo, hi = (1.0 - ci_prob) / 2.0, (1.0 + ci_prob) / 2.0
        return CurveBand(
            dose=d,
            mean=p.mean(axis=0),
            median=np.median(p, axis=0),
            lower=np.quantile(p, lo, axis=0),
            upper=np.quantile(p, hi, axis=0),
            which=which,
            metric=self.dose_metric,
            unit=self.dose_unit,
            ci_prob=float(ci_prob),
            covariates={},
            kind=self.kind,
            interval="credible",
            method=self._method(),
        )

    def dose_at(
        self,
        p: float,
        which: str = "population",
        covariates: dict[str, float] | None = None,
        *,
        ci_prob: float = DEFAULT_CI_PROB,
        new_study: str = "spread",
    ) -> DoseAt:
        """Dose at which the response probability equals ``p`` (TDp / TCDp), per draw.

        Parameters
        ----------
        p : float
            Response probability in (0, 1).
        which, covariates, new_study
            As in :meth:`probability_draws`.
        ci_prob : float, default 0.95
            Probability of the equal-tailed interval.

        Returns
        -------
        DoseAt
            Mean, median and interval of the per-draw doses (``dose_unit``), the draws, and
            the ``"predictive"`` dose where the mean curve over the draws equals ``p``. Draws
            already above ``p`` at zero dose count as 0 (``n_at_zero``).
        """
        self._check_contract(which, covariates, new_study)
        _check_ci_prob(ci_prob)
        if not (isinstance(p, (int, float, np.floating)) and 0.0 < float(p) < 1.0):
            raise DoseResponseError(f"p must be a probability in (0, 1), e.g. 0.05; got {p!r}.")
        params = self._parameters()
        draws, at_zero = params.dose_at_draws(float(p))
        lo, hi = (1.0 - ci_prob) / 2.0, (1.0 + ci_prob) / 2.0
        prefix = "TD" if self.kind == "NTCP" else "TCD"
        return DoseAt(
            p=float(p),
            which=which,
            metric=self.dose_metric,
            unit=self.dose_unit,
            ci_prob=float(ci_prob),
            label=f"{prefix}{100.0 * float(p):g}",
            mean=float(draws.mean()),
            median=float(np.median(draws)),
            lower=float(np.quantile(draws, lo)),
            upper=float(np.quantile(draws, hi)),
            draws=draws,
            covariates={},
            n_at_zero=int(at_zero.sum()),
            interval="credible",
            method=self._method(),
            predictive=params.predictive_dose(float(p)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain description (JSON-ready): family, metric, unit, kind, label, parameter summary.

        Returns
        -------
        dict
            JSON-ready description.
        """
        return {
            "curve": self.curve_name,
            "dose_metric": self.dose_metric,
            "dose_unit": self.dose_unit,
            "kind": self.kind,
            "label": self.label,
            "n_draws": self.n_draws,
            "d50_median": float(np.median(self.d50)),
            "slope_median": float(np.median(self.slope)),
        }

    def __repr__(self) -> str:
        if self.n_draws == 1:
            params = f"d50={self.d50[0]:g} {self.dose_unit}, {self._family.slope_name}="
            params += f"{self.slope[0]:g}"
        else:
            params = (
                f"{self.n_draws} draws, median d50={np.median(self.d50):.4g} {self.dose_unit}, "
                f"median {self._family.slope_name}={np.median(self.slope):.4g}"
            )
        label = f", {self.label!r}" if self.label else ""
        return f"ResponseCurve({self.kind} {self.curve_name}, {self.dose_metric}: {params}{label})"

    # private -----------------------------------------------------------------------------

    def _method(self) -> str:
        if self.n_draws == 1:
            return "fixed parameters (no parameter uncertainty)"
        return f"{CREDIBLE_METHOD} of {self.n_draws} parameter draws"

    def _check_contract(
        self, which: str, covariates: dict[str, float] | None, new_study: str
    ) -> None:
        if which not in _WHICH:
            raise DoseResponseError(
                f"which must be 'population' or 'new_study' for a ResponseCurve (it has no "
                f"studies); got {which!r}."
            )
        if new_study not in _NEW_STUDY:
            raise DoseResponseError(
                f"new_study must be 'spread' or 'averaged'; got {new_study!r}."
            )
        if covariates:
            raise DoseResponseError(
                "a ResponseCurve has no covariates; pass covariates=None (or {}) for it, or "
                "give a curve whose d50 already includes the covariate effect; got "
                f"{covariates!r}."
            )


def _draw_array(value: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DoseResponseError(
            f"{name} must be a positive number or a 1-D array of posterior draws; got {value!r}."
        ) from None
    arr = np.atleast_1d(arr).copy()
    if arr.ndim != 1 or arr.size == 0:
        raise DoseResponseError(
            f"{name} must be a positive number or a non-empty 1-D array of draws; got shape "
            f"{arr.shape}."
        )
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DoseResponseError(
            f"{name} must be finite and > 0; draw {i} is {arr[i]!r}."
        )
    return arr


def _dose_array(value: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.array(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise DoseResponseError(f"{name} must be numbers (Gy); got {value!r}.") from None
    if arr.ndim != 1:
        raise DoseResponseError(f"{name} must be a scalar or 1-D; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr) & (arr >= 0.0)):
        raise DoseResponseError(f"{name} must be finite and >= 0 (Gy); got {arr!r}.")
    return arr


def _check_ci_prob(ci_prob: float) -> None:
    if not (isinstance(ci_prob, (int, float, np.floating)) and 0.0 < float(ci_prob) < 1.0):
        raise DoseResponseError(f"ci_prob must lie in (0, 1), e.g. 0.95; got {ci_prob!r}.")
    if math.isnan(float(ci_prob)):
        raise DoseResponseError("ci_prob must not be NaN.")
