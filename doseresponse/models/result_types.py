"""Result types shared by every fit: a curve with its band, and a tolerance dose with its interval.

Both the maximum-likelihood fits (:mod:`doseresponse.models.ml`) and the Bayesian hierarchical
fits (:class:`doseresponse.results.FittedModel`) return these, so downstream code (plots, the
prescription, reports) handles one type. This module is a leaf: it imports nothing else from
the package but the exception types.

Interval levels are ``ci_prob`` (``alpha`` is the LQ parameter); the one default everywhere is
:data:`DEFAULT_CI_PROB`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from doseresponse.exceptions import UnknownNameError

__all__ = ["DEFAULT_CI_PROB", "CurveBand", "DoseAt"]

DEFAULT_CI_PROB = 0.95
"""Default probability of every interval the package reports (credible or confidence)."""


@dataclass(frozen=True)
class CurveBand:
    """A posterior dose-response curve with its credible band.

    Attributes
    ----------
    dose : numpy.ndarray
        Dose grid, in ``unit``.
    mean, median, lower, upper : numpy.ndarray
        Posterior mean, median and equal-tailed ``ci_prob`` interval of the response
        probability at each dose.
    which : str
        ``"population"``, ``"new_study"`` or a study label.
    metric, unit : str
        Dose metric and unit.
    ci_prob : float
        Credible-interval probability.
    covariates : dict
        Covariate values the curve is for.
    kind : str
        ``"NTCP"`` or ``"TCP"``.
    """

    dose: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    which: str
    metric: str
    unit: str
    ci_prob: float
    covariates: dict[str, float] = field(default_factory=dict)
    kind: str = "NTCP"

    def to_frame(self) -> pd.DataFrame:
        """Tidy frame: one row per dose, columns dose, mean, median, lower, upper."""
        return pd.DataFrame(
            {
                "dose": self.dose,
                "mean": self.mean,
                "median": self.median,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    def __repr__(self) -> str:
        return (
            f"CurveBand({self.kind} {self.which}, {self.dose.size} doses "
            f"{self.dose.min():g}–{self.dose.max():g} {self.unit} {self.metric}, "
            f"{self.ci_prob:.0%} band)"
        )


@dataclass(frozen=True)
class DoseAt(Mapping):
    """Posterior of the dose at which the response probability is ``p`` (TDp / TCDp).

    Behaves as a read-only mapping with keys ``"mean"``, ``"median"``, ``"lower"``,
    ``"upper"`` (floats, in ``unit``) and ``"draws"`` (array of posterior draws).

    Attributes
    ----------
    p : float
        Response probability.
    which : str
        ``"population"``, ``"new_study"`` or a study label.
    metric, unit : str
        Dose metric and unit.
    ci_prob : float
        Credible-interval probability of ``lower``/``upper`` (equal-tailed).
    label : str
        ``"TD5"``, ``"TCD50"``, ...
    n_at_zero : int
        Draws whose curve already exceeds ``p`` at zero dose (their dose is 0).
    """

    p: float
    which: str
    metric: str
    unit: str
    ci_prob: float
    label: str
    mean: float
    median: float
    lower: float
    upper: float
    draws: np.ndarray = field(repr=False)
    covariates: dict[str, float] = field(default_factory=dict)
    n_at_zero: int = 0

    _KEYS = ("mean", "median", "lower", "upper", "draws")

    def __getitem__(self, key: str) -> Any:
        if key not in self._KEYS:
            raise UnknownNameError(
                f"unknown key {key!r}; valid keys are: {', '.join(self._KEYS)}."
            )
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)

    def __repr__(self) -> str:
        cov = ", ".join(f"{k}={v:g}" for k, v in self.covariates.items())
        where = f"{self.which}" + (f", {cov}" if cov else "")
        return (
            f"{self.label} ({where}): median {self.median:.4g} {self.unit} {self.metric} "
            f"[{self.ci_prob:.0%} CrI {self.lower:.4g}–{self.upper:.4g}]"
        )
