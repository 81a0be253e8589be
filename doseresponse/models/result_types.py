"""Result types shared by every fit: a curve with its band, and a tolerance dose with its interval.

Both the maximum-likelihood fits (:mod:`doseresponse.models.ml`) and the Bayesian hierarchical
fits (:class:`doseresponse.models.results.FittedModel`) return these, so downstream code (plots, the
prescription, reports) handles one type. This module is a leaf: it imports nothing else from
the package but the exception types.

Each result says what it is. ``interval`` is ``"credible"`` (Bayesian: equal-tailed posterior
quantiles) or ``"confidence"`` (maximum likelihood: delta method or profile likelihood, named
in ``method``). ``estimate`` is the point estimate shown: the posterior median for a credible
result, the maximum-likelihood estimate (MLE) for a confidence result.

Interval levels are ``ci_prob`` (``alpha`` is the LQ parameter); the one default everywhere is
:data:`DEFAULT_CI_PROB`. Doses are in ``unit`` (the fit's dose unit, e.g. Gy or Gy BED);
probabilities are dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from doseresponse.exceptions import DoseResponseError, UnknownNameError

__all__ = [
    "CREDIBLE_METHOD",
    "DEFAULT_CI_PROB",
    "INTERVAL_TYPES",
    "ML_POOLED",
    "BenchmarkDose",
    "CurveBand",
    "DoseAt",
    "describe_which",
]

DEFAULT_CI_PROB = 0.95
"""Default probability of every interval the package reports (credible or confidence)."""

INTERVAL_TYPES = ("credible", "confidence")
"""Valid values of the ``interval`` field."""

CREDIBLE_METHOD = "equal-tailed posterior quantiles"
"""Default ``method`` of a credible result."""

ML_POOLED = "pooled (maximum likelihood)"
"""``which`` of a maximum-likelihood result: one curve for all studies (complete pooling)."""

_ESTIMATE_LABEL = {"credible": "posterior median", "confidence": "maximum-likelihood estimate"}
_ESTIMATE_SHORT = {"credible": "median", "confidence": "MLE"}
_INTERVAL_SHORT = {"credible": "CrI", "confidence": "CI"}


def describe_which(which: str, new_study_view: str = "") -> str:
    """Plain-language name of the curve a result describes.

    Parameters
    ----------
    which : str
        ``"population"``, ``"new_study"``, :data:`ML_POOLED` or a study label.
    new_study_view : {"", "spread", "averaged"}
        For ``which="new_study"``: a new centre's own curve (``"spread"``) or the
        population-averaged curve (``"averaged"``).

    Returns
    -------
    str
        ``"typical centre (population)"``, ``"new centre, own-curve spread (new_study)"``,
        ``"new centre, averaged over centres (new_study)"``, ``"all studies, complete pooling
        (maximum likelihood)"`` or ``"study <label>"``.
    """
    if which == "new_study":
        view = {
            "spread": ", own-curve spread",
            "averaged": ", averaged over centres: a patient's risk there",
        }.get(new_study_view, "")
        return f"new centre{view} (new_study)"
    return {
        "population": "typical centre (population)",
        ML_POOLED: "all studies, complete pooling (maximum likelihood)",
    }.get(which, f"study {which}")


def _check_common(interval: str, ci_prob: float) -> None:
    if interval not in INTERVAL_TYPES:
        raise UnknownNameError(
            f"unknown interval {interval!r}; valid names are: {', '.join(INTERVAL_TYPES)}."
        )
    if not (isinstance(ci_prob, (int, float, np.floating)) and 0.0 < float(ci_prob) < 1.0):
        raise DoseResponseError(f"ci_prob must lie in (0, 1), e.g. 0.95; got {ci_prob!r}.")


def _percent(ci_prob: float) -> str:
    return f"{100.0 * ci_prob:g} %"


@dataclass(frozen=True)
class CurveBand:
    r"""A dose-response curve with its pointwise band (credible or confidence).

    Attributes
    ----------
    dose : numpy.ndarray
        Dose grid, in ``unit``.
    mean, median, lower, upper : numpy.ndarray
        Credible result: posterior mean, median and equal-tailed ``ci_prob`` interval of the
        response probability at each dose. Confidence result: ``median`` holds the MLE curve
        (under the large-sample normal approximation on the link scale that the band uses, the
        MLE is the median of the estimator's sampling distribution), ``mean`` is NaN (not
        defined), ``lower``/``upper`` are the pointwise ``ci_prob`` confidence limits.
    which : str
        ``"population"`` (typical centre), ``"new_study"`` (new centre), a study label, or
        :data:`ML_POOLED` (maximum likelihood, complete pooling).
    metric, unit : str
        Dose metric (e.g. ``"BED"``) and unit (e.g. ``"Gy"``).
    ci_prob : float
        Probability of the band (pointwise), in (0, 1).
    covariates : dict
        Covariate values the curve is for.
    kind : str
        ``"NTCP"`` or ``"TCP"``; ``"response"`` when the fit does not know (maximum likelihood).
    interval : {"credible", "confidence"}
        Bayesian credible band or frequentist confidence band.
    method : str
        How the band was computed, e.g. ``"equal-tailed posterior quantiles"`` or
        ``"delta method (logit link)"``.
    new_study_view : {"", "spread", "averaged"}
        For ``which="new_study"``: a new centre's own curve with one new-centre effect per
        draw (``"spread"``), or the curve averaged over new centres per draw (``"averaged"``:
        the risk for a patient there, parameter uncertainty only in the band). ``mean`` is the
        posterior predictive risk in both.

    Notes
    -----
    :attr:`estimate` is the curve to show: the posterior median for a credible band, the MLE
    for a confidence band. ``str(band)`` (:meth:`summary`) prints a table; :meth:`to_frame`
    gives it as a DataFrame.
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
    interval: str = "credible"
    method: str = CREDIBLE_METHOD
    new_study_view: str = ""

    def __post_init__(self) -> None:
        _check_common(self.interval, self.ci_prob)

    @property
    def estimate(self) -> np.ndarray:
        """Point-estimate curve: posterior median (credible) or MLE (confidence)."""
        return self.median

    @property
    def estimate_label(self) -> str:
        """``"posterior median"`` or ``"maximum-likelihood estimate"``."""
        return _ESTIMATE_LABEL[self.interval]

    def to_frame(self) -> pd.DataFrame:
        """Tidy frame, one row per dose.

        Returns
        -------
        pandas.DataFrame
            Credible band: columns ``dose``, ``mean``, ``median``, ``lower``, ``upper``.
            Confidence band: ``dose``, ``estimate`` (the MLE), ``lower``, ``upper``. ``attrs``
            records ``kind``, ``which``, ``metric``, ``unit``, ``interval``, ``ci_prob``,
            ``method``, ``estimate`` (what the point estimate is) and ``covariates``.
        """
        if self.interval == "credible":
            columns = {"dose": self.dose, "mean": self.mean, "median": self.median}
        else:
            columns = {"dose": self.dose, "estimate": self.median}
        frame = pd.DataFrame({**columns, "lower": self.lower, "upper": self.upper})
        frame.attrs.update(
            kind=self.kind,
            which=self.which,
            metric=self.metric,
            unit=self.unit,
            interval=self.interval,
            ci_prob=self.ci_prob,
            method=self.method,
            estimate=self.estimate_label,
            covariates=dict(self.covariates),
            new_study_view=self.new_study_view,
        )
        return frame

    def header(self) -> str:
        """One line saying kind, curve, metric and unit, interval type, level and method.

        Returns
        -------
        str
            The line.
        """
        cov = ", ".join(f"{k}={v:g}" for k, v in self.covariates.items())
        return (
            f"{self.kind} curve, {describe_which(self.which, self.new_study_view)}"
            + (f" ({cov})" if cov else "")
            + f"; {self.metric} in {self.unit}; {self.estimate_label} with "
            f"{_percent(self.ci_prob)} pointwise {self.interval} band, {self.method}"
        )

    def summary(self, max_rows: int = 25) -> str:
        """Readable table: a header line, then dose, estimate (and mean), lower, upper.

        Parameters
        ----------
        max_rows : int, default 25
            Longer grids are shown with their middle rows elided.

        Returns
        -------
        str
        """
        frame = pd.DataFrame({f"dose ({self.unit})": self.dose})
        frame[_ESTIMATE_SHORT[self.interval]] = self.median
        if self.interval == "credible":
            frame["mean"] = self.mean
        level = f"{100.0 * self.ci_prob:g}%"
        frame[f"{level} {_INTERVAL_SHORT[self.interval]} lower"] = self.lower
        frame[f"{level} {_INTERVAL_SHORT[self.interval]} upper"] = self.upper
        table = frame.to_string(
            index=False, max_rows=max_rows, float_format=lambda v: f"{v:.4g}"
        )
        return f"{self.header()}\n{table}"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"CurveBand({self.kind}, {self.which}: {self.dose.size} doses "
            f"{self.dose.min():g}–{self.dose.max():g} {self.unit} {self.metric}; "
            f"{_ESTIMATE_SHORT[self.interval]} with {_percent(self.ci_prob)} {self.interval} "
            f"band, {self.method})"
        )


@dataclass(frozen=True)
class DoseAt(Mapping):
    """The dose at which the response probability is ``p`` (TDp / TCDp), with its interval.

    Behaves as a read-only mapping. Credible result (Bayesian): keys ``"mean"``, ``"median"``,
    ``"lower"``, ``"upper"`` (floats, in ``unit``) and ``"draws"`` (array of posterior draws).
    Confidence result (maximum likelihood): keys ``"estimate"`` (the MLE), ``"lower"``,
    ``"upper"``. The attribute :attr:`estimate` exists for both.

    Attributes
    ----------
    p : float
        Response probability.
    which : str
        ``"population"``, ``"new_study"``, a study label, or :data:`ML_POOLED`.
    metric, unit : str
        Dose metric and unit.
    ci_prob : float
        Probability of ``lower``/``upper``: equal-tailed credible interval, or two-sided
        confidence interval.
    label : str
        ``"TD5"``, ``"TCD50"``, ... (``"D(P=0.05)"`` when the kind is not known).
    mean, median, lower, upper : float
        Dose (``unit``). Confidence result: ``median`` is the MLE (the median of the
        large-sample normal approximation on the log-dose scale) and ``mean`` is NaN.
    draws : numpy.ndarray
        Posterior draws of the dose (``unit``); empty for a confidence result.
    covariates : dict
        Covariate values the dose is for.
    n_at_zero : int
        Draws whose curve already exceeds ``p`` at zero dose (their dose is 0); 0 for a
        confidence result.
    interval : {"credible", "confidence"}
        Interval type.
    method : str
        How the interval was computed: ``"equal-tailed posterior quantiles"``,
        ``"profile likelihood"`` or ``"delta method (log dose)"``.
    predictive : float
        Credible result: the dose (``unit``) at which the posterior predictive risk (mean over
        draws of the curve) equals ``p`` — what a decision uses; NaN for a confidence result.
        ``median`` is the median of per-draw doses, a different quantity.
    new_study_view : {"", "spread", "averaged"}
        For ``which="new_study"``: the new-centre view of the per-draw doses (see
        :class:`CurveBand`); ``predictive`` always uses the averaged curve.
    extra_risk : bool
        ``True`` when the model has a background risk b: the dose is where the *extra* risk
        :math:`(P(D) - b)/(1 - b)` equals ``p`` (US EPA BMDS convention), not the total risk.
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
    interval: str = "credible"
    method: str = CREDIBLE_METHOD
    predictive: float = math.nan
    new_study_view: str = ""
    extra_risk: bool = False

    _CREDIBLE_KEYS = ("mean", "median", "lower", "upper", "predictive", "draws")
    _CONFIDENCE_KEYS = ("estimate", "lower", "upper")

    def __post_init__(self) -> None:
        _check_common(self.interval, self.ci_prob)

    @property
    def estimate(self) -> float:
        """Point estimate of the dose (``unit``): posterior median or MLE."""
        return self.median

    @property
    def estimate_label(self) -> str:
        """``"posterior median"`` or ``"maximum-likelihood estimate"``."""
        return _ESTIMATE_LABEL[self.interval]

    def _keys(self) -> tuple[str, ...]:
        return self._CREDIBLE_KEYS if self.interval == "credible" else self._CONFIDENCE_KEYS

    def __getitem__(self, key: str) -> Any:
        keys = self._keys()
        if key not in keys:
            raise UnknownNameError(
                f"unknown key {key!r} for a {self.interval} result; valid keys are: "
                f"{', '.join(keys)} (every result also has the attribute .estimate)."
            )
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def _where(self) -> str:
        cov = ", ".join(f"{k}={v:g}" for k, v in self.covariates.items())
        which = describe_which(self.which, self.new_study_view)
        return which + (f", {cov}" if cov else "")

    def _interval_text(self) -> str:
        detail = "" if self.interval == "credible" else f" ({self.method})"
        return f"{_percent(self.ci_prob)} {_INTERVAL_SHORT[self.interval]}{detail}"

    def __repr__(self) -> str:
        predictive = (
            f"; predictive {self.predictive:.4g} {self.unit} (posterior predictive risk = p)"
            if self.interval == "credible" and math.isfinite(self.predictive)
            else ""
        )
        return (
            f"{self.label} ({self._where()}): {_ESTIMATE_SHORT[self.interval]}"
            f"{' of draws' if self.interval == 'credible' else ''} "
            f"{self.median:.4g} {self.unit} {self.metric} "
            f"[{self._interval_text()} {self.lower:.4g}–{self.upper:.4g}]{predictive}"
            + ("; p is extra risk over background, (P - b)/(1 - b)" if self.extra_risk else "")
        )


@dataclass(frozen=True, repr=False)
class BenchmarkDose(DoseAt):
    r"""Benchmark dose (BMD) with its confidence limits BMDL and BMDU (US EPA BMDS).

    A :class:`DoseAt` (confidence result) whose dose is defined by a benchmark response over
    background instead of an absolute probability. Mapping keys: ``"estimate"``, ``"lower"``,
    ``"upper"`` and the BMDS names ``"bmd"``, ``"bmdl"``, ``"bmdu"`` (the same three doses,
    ``unit``), ``"bmr"``, ``"risk"``, ``"background"``.

    Attributes
    ----------
    p : float
        Fitted response probability at the BMD, :math:`P(0) + \mathrm{BMR}(1-P(0))` (extra
        risk) or :math:`P(0) + \mathrm{BMR}` (added risk).
    bmr : float
        Benchmark response.
    risk : {"extra", "added"}
        Risk definition.
    background : float
        Fitted response at zero dose, :math:`P(0)`.

    Notes
    -----
    BMDS reports BMDL/BMDU at ``ci_prob = 0.90`` two-sided, i.e. each limit is a one-sided 95 %
    bound (US EPA Benchmark Dose Technical Guidance 2012, EPA/100/R-12/001).
    """

    bmr: float = math.nan
    risk: str = "extra"
    background: float = math.nan

    _CONFIDENCE_KEYS = ("estimate", "lower", "upper", "bmd", "bmdl", "bmdu", "bmr", "risk",
                        "background")

    @property
    def bmd(self) -> float:
        """Benchmark dose, the MLE (``unit``)."""
        return self.median

    @property
    def bmdl(self) -> float:
        """Lower confidence limit of the BMD (``unit``)."""
        return self.lower

    @property
    def bmdu(self) -> float:
        """Upper confidence limit of the BMD (``unit``)."""
        return self.upper

    def __repr__(self) -> str:
        return (
            f"{self.label} ({self.risk} risk, background {self.background:.4g}; "
            f"{self._where()}): BMD {self.bmd:.4g} {self.unit} {self.metric} "
            f"[{self._interval_text()} BMDL {self.bmdl:.4g}, BMDU {self.bmdu:.4g}]"
        )
