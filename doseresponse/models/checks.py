r"""Posterior predictive checks, pointwise log-likelihood, LOO/WAIC and model comparison.

Everything here is computed with numpy/scipy from the stored posterior, the
:class:`~doseresponse.models.spec.ModelSpec` and the fitted data, so it works identically on a
fit that was just sampled and on one read back with :func:`doseresponse.models.io.load` (nothing is
recompiled). Per-row response probabilities follow the model exactly
(:mod:`doseresponse.models.hierarchical`): a patient row uses its study's D50 times its
covariate factors; an aggregate row averages the curve over the bin's dose distribution with the
same Gauss–Hermite nodes as the model.

Observations are the model's likelihood terms: one Bernoulli term per patient row
(``ipd_row``) and one Binomial term per aggregate row (``agg_row``). Leave-one-out therefore
leaves out one patient, or one whole dose bin of a published table.

Notes
-----
PSIS-LOO and WAIC: Vehtari A, Gelman A, Gabry J (2017) "Practical Bayesian model evaluation using
leave-one-out cross-validation and WAIC" Stat Comput 27:1413 (Pareto k > 0.7 marks rows whose
importance weights are unreliable); Watanabe S (2010) J Mach Learn Res 11:3571. Posterior
predictive p-values: Gelman A, Meng X-L, Stern H (1996) "Posterior predictive assessment of model
fitness via realized discrepancies" Stat Sin 6:733. Graphical checks per group: Gabry J et al.
(2019) J R Stat Soc A 182:389.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from doseresponse import _arviz_compat
from doseresponse._stats import check_ci_prob, check_n_bins, quantile_bins
from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models.curves import log_pair
from doseresponse.models.design import model_inputs
from doseresponse.models.model_weights import pseudo_bma_weights, stacking_weights
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.results import FittedModel

__all__ = [
    "IC_CHOICES",
    "PARETO_K_MAX",
    "SMALL_ELPD_DIFF",
    "WAIC_VAR_MAX",
    "ELPDResult",
    "compare",
    "compare_verdict",
    "log_likelihood",
    "loo",
    "posterior_predictive",
    "ppc_table",
    "row_probabilities",
    "waic",
]

PARETO_K_MAX = 0.7
"""Pareto k above which a row's PSIS-LOO estimate is unreliable (Vehtari et al. 2017)."""
WAIC_VAR_MAX = 0.4
"""Posterior variance of a row's log density (nats²) above which WAIC is unreliable."""

_DEFAULT_SEED = 20170413
_BY = ("study", "dose_bin")
# rows whose log-likelihood varies by less than this over all draws (patients far in a tail,
# P ~ 1e-40) contribute exactly their value to LOO; PSIS smoothing of their (equal) weights
# returns NaN in ArviZ 0.23, so they are handled outside it (the same on ArviZ 1.x)
_FLAT_ROW_NATS = 1e-8
# a row's LOO density lies between the min and max of its log-likelihood draws, so rows that vary
# by less than this cannot be misestimated by more than this (their Pareto k, which is
# scale-free, may still be large: e.g. a toxicity at a dose where every draw has P > 0.999)
_HARMLESS_ROW_NATS = 0.01
_ARVIZ_K_WARNING = "Estimated shape parameter of Pareto"


@dataclass(frozen=True)
class ELPDResult:
    r"""Expected log pointwise predictive density of a fit (PSIS-LOO, WAIC or cross-validation).

    The same fields on every ArviZ version; the ArviZ object a LOO came from is kept as
    ``arviz``.

    Attributes
    ----------
    kind : {"loo", "waic", "kfold", "loso"}
        Criterion (``"kfold"``: K-fold cross-validation by patient; ``"loso"``:
        leave-one-study-out, one observation per study; :mod:`doseresponse.models.crossval`).
    elpd : float
        Estimated ELPD, in nats (log scale: higher is better).
    se : float
        Its standard error, :math:`\sqrt{n}\,\mathrm{sd}(\mathrm{elpd}_i)` (sd with
        ``ddof=1``, as R's ``loo``), in nats.
    p : float
        Effective number of parameters (``p_loo`` / ``p_waic``).
    n_samples : int
        Posterior draws used (chains × draws).
    warning : bool
        True when the estimate is flagged unreliable: some row has Pareto k >
        :data:`PARETO_K_MAX` (LOO, harmless rows excepted, see :func:`loo`), a row's
        log-density variance exceeds :data:`WAIC_VAR_MAX` (WAIC), or a refit reported
        divergent transitions (K-fold, leave-one-study-out).
    observations : tuple of str
        Row ids ``"ipd:<i>"`` (patient rows) then ``"agg:<j>"`` (aggregate rows);
        ``"study:<label>"`` for leave-one-study-out.
    labels : tuple of str
        Human-readable row descriptions (study, patient or dose bin).
    elpd_i : numpy.ndarray or None
        Per-row ELPD (nats), in the order of ``observations``; None when
        ``pointwise=False``.
    pareto_k : numpy.ndarray or None
        Per-row Pareto k (LOO only, with ``pointwise=True``).
    arviz : object
        ArviZ's own LOO result (``ELPDData`` on 0.x, ``ELPDDataLOO`` on 1.x) over the rows it
        was given; None for WAIC, which the package computes itself.
    """

    kind: str
    elpd: float
    se: float
    p: float
    n_samples: int
    warning: bool
    observations: tuple[str, ...]
    labels: tuple[str, ...] = field(repr=False)
    elpd_i: np.ndarray | None = field(default=None, repr=False)
    pareto_k: np.ndarray | None = field(default=None, repr=False)
    arviz: Any = field(default=None, repr=False, compare=False)

    @property
    def n_observations(self) -> int:
        """Number of likelihood rows."""
        return len(self.observations)

    def to_frame(self) -> pd.DataFrame:
        """Per-row table: index ``observation``; columns ``label``, ``elpd_i``, ``pareto_k``.

        Returns
        -------
        pandas.DataFrame
            One row per observation.
        """
        if self.elpd_i is None:
            raise DoseResponseError(
                f"this {self.kind.upper()} result was computed with pointwise=False; call it "
                "again with pointwise=True for per-row values."
            )
        frame = pd.DataFrame(
            {"label": list(self.labels), "elpd_i": self.elpd_i},
            index=pd.Index(list(self.observations), name="observation"),
        )
        if self.pareto_k is not None:
            frame["pareto_k"] = self.pareto_k
        return frame

    def __str__(self) -> str:
        lines = [
            f"{self.kind.upper()}: elpd {self.elpd:.2f} (SE {self.se:.2f}), p {self.p:.2f}; "
            f"{self.n_observations} rows, {self.n_samples} draws",
        ]
        if self.pareto_k is not None:
            n_bad = int((self.pareto_k > PARETO_K_MAX).sum())
            lines.append(f"Pareto k > {PARETO_K_MAX}: {n_bad} row(s)")
        if self.warning:
            lines.append("warning: the estimate is unreliable (see the warnings issued)")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- per-row quantities


def row_probabilities(fit: FittedModel) -> dict[str, np.ndarray]:
    r"""Posterior draws of each likelihood row's response probability.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.

    Returns
    -------
    dict
        ``"ipd"``: array ``(chain, draw, n_ipd_rows)``; ``"aggregate"``: array
        ``(chain, draw, n_aggregate_rows)`` (the curve averaged over the bin's dose
        distribution). Rows are in the order of ``fit.data.ipd`` / ``fit.data.aggregate``.
    """
    pairs = _log_pairs(_check_fit(fit))
    return {key: np.exp(log_p) for key, (log_p, _) in pairs.items()}


def log_likelihood(fit: FittedModel):
    r"""Pointwise log-likelihood of every observation, as an ArviZ ``log_likelihood`` group.

    Parameters
    ----------
    fit : FittedModel
        A fitted model (freshly sampled or loaded from a file).

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        A new container of the installed ArviZ (``InferenceData`` on 0.x, ``DataTree`` on 1.x)
        with the fit's ``posterior`` and a ``log_likelihood`` group holding ``y_ipd`` (dims
        ``chain, draw, ipd_row``) and/or ``y_agg`` (``chain, draw, agg_row``), in nats; the fit
        is left unchanged. ``log_likelihood(fit).log_likelihood["y_ipd"]`` works on both.

    Notes
    -----
    Patient rows: :math:`y\ln P + (1-y)\ln(1-P)`. Aggregate rows:
    :math:`\ln\binom{n}{r} + r\ln\bar P + (n-r)\ln(1-\bar P)` with :math:`\bar P` the curve
    averaged over the bin's dose distribution. :math:`\ln P` and :math:`\ln(1-P)` are computed
    in log space (``log_expit``, ``log_ndtr``, :math:`\ln(1-e^{-H})`) so that far-tail rows stay
    finite, mirroring the model's own likelihood.
    """
    fit = _check_elpd_fit(fit)
    return _arviz_compat.to_native(
        {"posterior": fit.posterior, "log_likelihood": _log_likelihood_dataset(fit)}
    )


def _log_likelihood_dataset(fit: FittedModel) -> xr.Dataset:
    """The ``log_likelihood`` group of :func:`log_likelihood` as a Dataset."""
    if _is_late(fit):  # one censored / exact / interval-censored term per patient
        return xr.Dataset({"y_ipd": fit.pointwise_log_likelihood()})
    pairs = _log_pairs(fit)
    inputs = model_inputs(fit.spec, fit.data)
    variables = {}
    if "ipd" in pairs:
        log_p, log_q = pairs["ipd"]
        y = inputs.ipd_outcome[None, None, :]
        variables["y_ipd"] = (("chain", "draw", "ipd_row"), np.where(y == 1, log_p, log_q))
    if "aggregate" in pairs:
        log_p, log_q = pairs["aggregate"]
        k, n = inputs.agg_events[None, None, :], inputs.agg_n[None, None, :]
        log_choose = (
            special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
        )
        with np.errstate(invalid="ignore"):
            events = np.where(k == 0, 0.0, k * log_p)
            rest = np.where(k == n, 0.0, (n - k) * log_q)
        variables["y_agg"] = (("chain", "draw", "agg_row"), log_choose + events + rest)
    return _dataset(variables, fit)


def posterior_predictive(
    fit: FittedModel, *, random_seed: int | np.random.Generator = _DEFAULT_SEED
):
    r"""Replicated outcomes drawn from the posterior (one replicate per posterior draw).

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    random_seed : int or numpy.random.Generator
        Seed of the replicates; the same seed gives the same replicates.

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        The installed ArviZ's container (``InferenceData`` on 0.x, ``DataTree`` on 1.x) with
        ``posterior_predictive``: ``y_ipd`` (0/1 per patient row) and/or ``y_agg`` (events per
        aggregate row), int64 with dims ``chain, draw, ipd_row``/``agg_row``;
        ``observed_data``: the observed ``y_ipd``/``y_agg``.

    Notes
    -----
    Replicates are drawn conditional on the posterior study effects (the same centres are
    re-observed): :math:`y^{rep}_i \sim \text{Bernoulli}(P_i^{(s)})`,
    :math:`r^{rep}_j \sim \text{Binomial}(n_j, \bar P_j^{(s)})` for posterior draw *s*
    (Gelman, Meng & Stern 1996 Stat Sin 6:733).
    """
    fit = _check_fit(fit)
    replicated, observed = _predictive_datasets(fit, random_seed)
    return _arviz_compat.to_native(
        {"posterior_predictive": replicated, "observed_data": observed}
    )


def _predictive_datasets(
    fit: FittedModel, random_seed: int | np.random.Generator
) -> tuple[xr.Dataset, xr.Dataset]:
    """``posterior_predictive`` and ``observed_data`` of :func:`posterior_predictive`."""
    rng = _rng(random_seed)
    probs = row_probabilities(fit)
    inputs = model_inputs(fit.spec, fit.data)
    replicated, observed = {}, {}
    if "ipd" in probs:
        p = probs["ipd"]
        replicated["y_ipd"] = (("chain", "draw", "ipd_row"), rng.binomial(1, p).astype(np.int64))
        observed["y_ipd"] = (("ipd_row",), inputs.ipd_outcome.astype(np.int64))
    if "aggregate" in probs:
        p = probs["aggregate"]
        n = np.broadcast_to(inputs.agg_n[None, None, :], p.shape)
        replicated["y_agg"] = (("chain", "draw", "agg_row"), rng.binomial(n, p).astype(np.int64))
        observed["y_agg"] = (("agg_row",), inputs.agg_events.astype(np.int64))
    return _dataset(replicated, fit), _dataset(observed, fit)


# ---------------------------------------------------------------------------- PPC table


def ppc_table(
    fit: FittedModel,
    by: str = "study",
    n_bins: int = 4,
    ci_prob: float = DEFAULT_CI_PROB,
    random_seed: int | np.random.Generator = _DEFAULT_SEED,
) -> pd.DataFrame:
    r"""Observed versus posterior-predicted events per study or per dose bin.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    by : {"study", "dose_bin"}
        Group rows by study, or by dose-quantile bin over all studies (aggregate rows are
        placed by their reported dose; quantiles weight them by their ``n``).
    n_bins : int
        Number of dose bins for ``by="dose_bin"`` (fewer when doses tie).
    ci_prob : float
        Probability of the central predictive interval of the replicated event count.
    random_seed : int or numpy.random.Generator
        Seed of the replicates (see :func:`posterior_predictive`).

    Returns
    -------
    pandas.DataFrame
        Indexed by study label or dose-bin label (``"[lo, hi)"`` in the dose unit). Columns:
        ``n`` (patients), ``events`` (observed), ``rate`` (observed events/n),
        ``expected`` (posterior predictive mean of the events), ``expected_rate``,
        ``lower``/``upper`` (central ``ci_prob`` interval of the replicated events),
        ``p_value`` (:math:`\Pr(y^{rep} \ge y^{obs})`) and ``outside`` (True when the observed
        count lies outside the interval); ``by="dose_bin"`` adds ``dose_low``, ``dose_high``
        and ``dose_median``.

    Notes
    -----
    The test statistic is the event count of the group, so :math:`\Pr(T(y^{rep}) \ge
    T(y^{obs}))` is a posterior predictive p-value (Gelman, Meng & Stern 1996 Stat Sin 6:733):
    values near 0 mean more events were observed than the model predicts, values near 1 fewer.
    Counts are discrete, so a group with 0 events always has p = 1. These p-values are not
    uniformly distributed under a correct model (they concentrate near 0.5); use them to find
    groups the model misfits, not as significance tests. Interval flags are expected in about
    ``1 - ci_prob`` of groups by chance.
    """
    fit = _check_fit(fit)
    if by not in _BY:
        raise UnknownNameError(f"unknown by={by!r}; valid values are: {', '.join(_BY)}.")
    ci_prob = check_ci_prob(ci_prob)
    n_bins = check_n_bins(n_bins)
    replicated, _ = _predictive_datasets(fit, random_seed)
    inputs = model_inputs(fit.spec, fit.data)
    parts_obs, parts_n, parts_rep, parts_dose = [], [], [], []
    if "y_ipd" in replicated:
        parts_obs.append(inputs.ipd_outcome.astype(np.float64))
        parts_n.append(np.ones(inputs.ipd_outcome.size))
        parts_rep.append(_flat_rows(replicated["y_ipd"]))
        parts_dose.append(inputs.ipd_dose)
    if "y_agg" in replicated:
        parts_obs.append(inputs.agg_events.astype(np.float64))
        parts_n.append(inputs.agg_n.astype(np.float64))
        parts_rep.append(_flat_rows(replicated["y_agg"]))
        parts_dose.append(fit.data.aggregate["dose"].to_numpy(dtype=np.float64))
    obs, n = np.concatenate(parts_obs), np.concatenate(parts_n)
    rep, dose = np.concatenate(parts_rep, axis=1), np.concatenate(parts_dose)
    if by == "study":
        studies = np.asarray(fit.data.studies, dtype=object)
        codes = np.concatenate(
            [c for c, key in ((inputs.ipd_study, "y_ipd"), (inputs.agg_study, "y_agg"))
             if key in replicated]
        )
        labels, group = list(studies), codes
        extra = None
    else:
        group = quantile_bins(dose, n_bins, weights=n)
        k = int(group.max()) + 1 if group.size else 0
        lows = [float(dose[group == g].min()) for g in range(k)]
        highs = [float(dose[group == g].max()) for g in range(k)]
        unit = fit.spec.dose_unit
        labels = [f"[{lo:.4g}, {hi:.4g}] {unit}" for lo, hi in zip(lows, highs, strict=True)]
        medians = [
            float(np.median(np.repeat(dose[group == g], n[group == g].astype(np.int64))))
            for g in range(k)
        ]
        extra = {"dose_low": lows, "dose_high": highs, "dose_median": medians}
    q = [(1.0 - ci_prob) / 2.0, (1.0 + ci_prob) / 2.0]
    rows = []
    for g in range(len(labels)):
        sel = group == g
        observed = float(obs[sel].sum())
        total = float(n[sel].sum())
        draws = rep[:, sel].sum(axis=1)
        lower, upper = np.quantile(draws, q, method="inverted_cdf")
        expected = float(draws.mean())
        rows.append(
            {
                "n": total,
                "events": observed,
                "rate": observed / total,
                "expected": expected,
                "expected_rate": expected / total,
                "lower": float(lower),
                "upper": float(upper),
                "p_value": float(np.mean(draws >= observed)),
                "outside": bool(observed < lower or observed > upper),
            }
        )
    frame = pd.DataFrame(rows, index=pd.Index(labels, name="study" if by == "study" else by))
    if extra is not None:
        for position, (key, values) in enumerate(extra.items()):
            frame.insert(position, key, values)
    frame.attrs.update({"ci_prob": ci_prob, "by": by, "dose_unit": fit.spec.dose_unit})
    return frame


# ---------------------------------------------------------------------------- LOO / WAIC


def loo(fit: FittedModel, *, pointwise: bool = True) -> ELPDResult:
    r"""PSIS leave-one-out cross-validation of a fit (Pareto smoothing by :func:`arviz.loo`).

    Parameters
    ----------
    fit : FittedModel or doseresponse.models.late_toxicity.LateToxicityFit
        A fitted model; for a late-toxicity fit each patient is one observation, its censored,
        exact or interval-censored likelihood term
        (:meth:`~doseresponse.models.late_toxicity.LateToxicityFit.pointwise_log_likelihood`).
    pointwise : bool
        Keep the per-row ELPD and Pareto k (needed by :func:`compare` for the SE of
        differences).

    Returns
    -------
    ELPDResult
        ``kind="loo"``: ``elpd`` (nats), ``se``, ``p`` (``p_loo``), ``warning``, and with
        ``pointwise=True`` ``elpd_i`` and ``pareto_k`` per row (ids ``"ipd:<i>"`` /
        ``"agg:<j>"`` in ``observations``); ArviZ's own result is ``.arviz``.

    Warns
    -----
    UserWarning
        Rows with Pareto k > 0.7, named by study and patient (or dose bin): their LOO estimates
        are unreliable; refit without them (exact LOO) or use K-fold cross-validation. Rows
        whose log-likelihood varies by less than 0.01 nats over the draws are not flagged (their
        LOO term is within 0.01 of exact whatever k is); rows that do not vary at all (< 1e-8)
        get their exact LOO term and k = 0.

    Notes
    -----
    Vehtari, Gelman & Gabry 2017 Stat Comput 27:1413. ArviZ supplies the smoothed per-row LOO
    densities :math:`\mathrm{elpd}_i` and Pareto k; the totals are the package's own, the same
    on every ArviZ version: :math:`\mathrm{elpd} = \sum_i \mathrm{elpd}_i`,
    :math:`\mathrm{se} = \sqrt{n}\,\mathrm{sd}(\mathrm{elpd}_i)` (``ddof=1``) and
    :math:`p = \mathrm{lppd} - \mathrm{elpd}` with
    :math:`\mathrm{lppd} = \sum_i \log \frac1S \sum_s e^{\ell_{is}}`.
    """
    fit = _check_elpd_fit(fit)
    values, labels = _joined_log_likelihood(fit)
    ll = _rows_by_draws(values)
    spread = ll.max(axis=1) - ll.min(axis=1)
    flat = spread < _FLAT_ROW_NATS
    lppd_i = special.logsumexp(ll, axis=1) - math.log(ll.shape[1])
    elpd_i = lppd_i.copy()  # a row with equal importance weights: LOO density = lppd_i, k = 0
    pareto_k = np.zeros(flat.size)
    psis = None
    if not flat.all():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_ARVIZ_K_WARNING)
            psis = _arviz_compat.psis_loo(fit.posterior, values.isel(observation=~flat))
        elpd_i[~flat] = psis.elpd_i
        pareto_k[~flat] = psis.pareto_k
    bad = np.flatnonzero((pareto_k > PARETO_K_MAX) & (spread >= _HARMLESS_ROW_NATS))
    if bad.size:
        shown = "; ".join(f"{labels[i]} (k={pareto_k[i]:.2f})" for i in bad[:10])
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        remedy = (
            "refit leaving them out (exact LOO) or use K-fold cross-validation "
            "(doseresponse.kfold(fit), or compare(..., ic='kfold'))"
        )
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad.size} row(s) with Pareto k > {PARETO_K_MAX}: "
            f"{shown}{more}. These rows are highly influential; check them for data errors, "
            f"{remedy}.",
            UserWarning,
            stacklevel=2,
        )
    return _elpd_result(
        "loo", elpd_i, float(lppd_i.sum() - elpd_i.sum()), ll.shape[1], bool(bad.size),
        values, labels, pointwise, pareto_k=pareto_k, arviz=None if psis is None else psis.arviz,
    )


def waic(fit: FittedModel, *, pointwise: bool = True) -> ELPDResult:
    r"""Widely applicable information criterion of a fit.

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    pointwise : bool
        Keep the per-row values (needed by :func:`compare`).

    Returns
    -------
    ELPDResult
        ``kind="waic"``: ``elpd`` (``elpd_waic``, nats), ``se``, ``p`` (``p_waic``),
        ``warning``, and with ``pointwise=True`` ``elpd_i`` per row.

    Warns
    -----
    UserWarning
        When the posterior variance of some row's log density exceeds :data:`WAIC_VAR_MAX`
        (0.4 nats²), a sign that WAIC is unreliable (the check ArviZ 0.x made; ArviZ 1.x has no
        WAIC, so the package computes it).

    Notes
    -----
    Watanabe S 2010 J Mach Learn Res 11:3571, in the form of Vehtari, Gelman & Gabry 2017 Stat
    Comput 27:1413 (eqs. 11-13): :math:`\mathrm{elpd}_i = \log \frac1S \sum_s e^{\ell_{is}} -
    \mathrm{Var}_s(\ell_{is})` (variance with ``ddof=1``), :math:`p = \sum_i
    \mathrm{Var}_s(\ell_{is})`, SE as in :func:`loo`. PSIS-LOO (:func:`loo`) is preferred: it
    has a diagnostic (Pareto k) and is more robust with weak priors or influential rows.
    """
    fit = _check_elpd_fit(fit)
    values, labels = _joined_log_likelihood(fit)
    ll = _rows_by_draws(values)
    lppd_i = special.logsumexp(ll, axis=1) - math.log(ll.shape[1])
    var_i = np.var(ll, axis=1, ddof=1)
    unreliable = bool((var_i > WAIC_VAR_MAX).any())
    if unreliable:
        warnings.warn(
            f"WAIC is unreliable: for {int((var_i > WAIC_VAR_MAX).sum())} row(s) the posterior "
            f"variance of the log predictive density exceeds {WAIC_VAR_MAX}; use loo() "
            "instead.",
            UserWarning,
            stacklevel=2,
        )
    return _elpd_result(
        "waic", lppd_i - var_i, float(var_i.sum()), ll.shape[1], unreliable, values, labels,
        pointwise,
    )


IC_CHOICES = ("loo", "waic", "kfold", "loso", "auto")
"""Criteria :func:`compare` ranks by (``"auto"``, the default: LOO, or K-fold where LOO is
unreliable)."""
SMALL_ELPD_DIFF = 4.0
"""ELPD difference (nats) below which two models' predictive accuracy is not told apart."""
_VERDICTS = {
    "best": "best",
    "indistinguishable": "cannot be told apart from the best",
    "uncertain": "worse, but by less than two standard errors",
    "worse": "worse",
}


def compare(
    fits: Mapping[str, FittedModel] | Sequence[FittedModel],
    *,
    ic: str = "auto",
    k: int = 10,
    random_seed: int = _DEFAULT_SEED,
    **refit: Any,
) -> pd.DataFrame:
    r"""Rank fits of the same data by expected log predictive density.

    Parameters
    ----------
    fits : mapping or sequence of FittedModel or of LateToxicityFit
        ``{name: fit}``, or a sequence named ``"<curve>/<pooling>"`` (e.g.
        ``"logistic/partial"``; late-toxicity fits ``"<curve>/<onset>/<pooling>"``; repeated
        names get ``#2``, ``#3``, ...). Late-toxicity fits
        (:class:`~doseresponse.models.late_toxicity.LateToxicityFit`, e.g. Weibull against
        log-normal onset) are compared with each other only, by any ``ic``: K-fold and
        leave-one-study-out refit them with their censored likelihood
        (:mod:`doseresponse.models.crossval_late`).
    ic : {"loo", "waic", "kfold", "loso", "auto"}
        Criterion: PSIS-LOO, WAIC, K-fold cross-validation by patient
        (:func:`doseresponse.models.crossval.kfold`), leave-one-study-out (each study
        predicted as a new centre), or ``"auto"`` (the default): PSIS-LOO — one pass over the
        stored draws, no refit — unless it is unreliable for some fit (Pareto k > 0.7 on a row
        that matters), then K-fold for every fit (``k`` refits each), with a warning saying
        so. ``attrs["ic"]`` and ``attrs["ic_reason"]`` say which was used and why.
    k : int
        Folds of ``ic="kfold"`` / ``"auto"``.
    random_seed : int
        Seed of the folds and refits (the same folds for every fit) and of the Bayesian
        bootstrap of the pseudo-BMA+ weights.
    **refit
        ``draws=``, ``tune=``, ``chains=`` of the refits of K-fold / leave-one-study-out.

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first (index: the names). Columns ``rank`` (0 = best), ``elpd``
        (nats), ``p`` (effective number of parameters), ``elpd_diff`` (best minus this, >= 0),
        ``se``, ``dse`` (SE of the difference, 0 for the best), ``weight`` (stacking weight),
        ``pseudo_bma_weight`` (pseudo-BMA+ weight), ``verdict`` (``"best"``,
        ``"indistinguishable"``, ``"uncertain"`` or ``"worse"``, see Notes), ``warning`` (the
        criterion flagged the fit unreliable), ``curve``, ``pooling``. ``attrs``: ``ic`` (the
        criterion used: ``"loo"``, ``"waic"``, ``"kfold"`` or ``"loso"``, never ``"auto"``),
        ``ic_reason`` (why, in words: with ``"auto"``, the Pareto k verdict), ``scale="log"``
        and ``verdict`` (the comparison in words, naming the criterion, also
        :func:`compare_verdict`); ``late_toxicity=True`` for late-toxicity fits. The same
        columns on every ArviZ version.

    Raises
    ------
    DoseResponseError
        Fewer than two fits, an unknown ``ic``, or an element that is not a FittedModel.
    ModelMismatchError
        The fits were not fitted to the same data (ELPDs of different data are not
        comparable), or late-toxicity and binary fits are mixed.

    Warns
    -----
    UserWarning
        With ``ic="auto"``, when K-fold replaces an unreliable PSIS-LOO.

    Notes
    -----
    :math:`\mathrm{dse} = \sqrt{n}\,\mathrm{sd}(\mathrm{elpd}_{i,\mathrm{best}} -
    \mathrm{elpd}_{i})` (``ddof=1``). The verdict follows Vehtari's cross-validation FAQ
    (https://users.aalto.fi/~ave/CV-FAQ.html, "How to interpret in Standard error (SE) of elpd
    difference") and Sivula T, Magnusson M, Matamoros AA, Vehtari A (2022) "Uncertainty in
    Bayesian leave-one-out cross-validation based model comparison" arXiv:2008.10296: a
    difference below :data:`SMALL_ELPD_DIFF` = 4 nats is small — the data cannot tell the
    models apart, whatever its SE (the SE is unreliable there) — ``"indistinguishable"``; a
    larger difference below two of its standard errors is ``"uncertain"``; otherwise
    ``"worse"``. Stacking weights maximise :math:`\sum_i \log \sum_k w_k e^{\mathrm{elpd}_{ik}}`
    (Yao Y, Vehtari A, Simpson D, Gelman A 2018 Bayesian Anal 13:917): they choose the best
    *combination* and may put all weight on one of several models that predict alike, so they
    are not evidence for a model; pseudo-BMA+ weights (same paper, Bayesian bootstrap) carry
    the uncertainty of the ELPDs and stay comparable for indistinguishable models
    (:mod:`doseresponse.models.model_weights`).
    """
    if ic not in IC_CHOICES:
        raise DoseResponseError(f"ic must be one of {', '.join(IC_CHOICES)}; got {ic!r}.")
    named = _named_fits(fits)
    names = list(named)
    first = named[names[0]]
    late = [name for name in names if _is_late(named[name])]
    if late and len(late) < len(names):
        raise ModelMismatchError(
            f"{', '.join(late)} {'is a' if len(late) == 1 else 'are'} late-toxicity fit"
            f"{'' if len(late) == 1 else 's'} and the others binary fits: their likelihoods "
            "describe different observations (time to event vs toxicity yes/no), so their "
            "ELPDs are not comparable. Compare late-toxicity fits with each other."
        )
    for name in names[1:]:
        if not named[name].data == first.data:
            raise ModelMismatchError(
                f"fit {name!r} was fitted to different data than fit {names[0]!r}; LOO/WAIC "
                "can only compare models of the same observations. Refit both on one "
                "DoseResponseData."
            )
    results, ic, reason = _criteria(named, ic, k, random_seed, refit)
    order = sorted(names, key=lambda name: -results[name].elpd)  # stable: ties keep input order
    best = results[order[0]]
    pointwise = np.stack([results[name].elpd_i for name in order], axis=1)
    n_rows = pointwise.shape[0]
    diffs = best.elpd_i[:, None] - pointwise
    dse = np.sqrt(n_rows) * np.std(diffs, axis=0, ddof=1) if n_rows > 1 else np.full(
        len(order), math.nan
    )
    dse[0] = 0.0
    elpd_diff = np.array([best.elpd - results[name].elpd for name in order])
    table = pd.DataFrame(
        {
            "rank": np.arange(len(order)),
            "elpd": [results[name].elpd for name in order],
            "p": [results[name].p for name in order],
            "elpd_diff": elpd_diff,
            "se": [results[name].se for name in order],
            "dse": dse,
            "weight": stacking_weights(pointwise),
            "pseudo_bma_weight": pseudo_bma_weights(pointwise, random_seed=random_seed),
            "verdict": [_verdict(d, s) for d, s in zip(elpd_diff, dse, strict=True)],
            "warning": [results[name].warning for name in order],
            "curve": [named[name].spec.curve for name in order],
            "pooling": [named[name].spec.pooling for name in order],
        },
        index=pd.Index(order, name="model"),
    )
    table.iloc[0, table.columns.get_loc("verdict")] = "best"
    table.attrs.update({"ic": ic, "ic_reason": reason, "scale": "log"})
    if late:
        table.attrs["late_toxicity"] = True
    table.attrs["verdict"] = compare_verdict(table)
    return table


def compare_verdict(table: pd.DataFrame) -> str:
    """The outcome of :func:`compare` in words: which models the data can tell apart.

    Parameters
    ----------
    table : pandas.DataFrame
        A table returned by :func:`compare`.

    Returns
    -------
    str
        One sentence per model after the best, then what the weights mean (see the Notes of
        :func:`compare`).
    """
    needed = {"elpd_diff", "dse", "weight", "pseudo_bma_weight", "verdict", "warning"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise DoseResponseError("table must be a DataFrame returned by compare().")
    ic = str(table.attrs.get("ic", "loo")).upper()
    names = list(table.index)
    reason = table.attrs.get("ic_reason")
    lines = [f"Best by {ic}: {names[0]}." + (f" (Criterion: {reason}.)" if reason else "")]
    for name in names[1:]:
        row = table.loc[name]
        diff = f"elpd difference {row['elpd_diff']:.2f} ± {row['dse']:.2f} (SE) nats"
        if row["verdict"] == "indistinguishable":
            lines.append(
                f"{name}: {diff} — smaller than {SMALL_ELPD_DIFF:g}: the data cannot tell it "
                "apart from the best."
            )
        elif row["verdict"] == "uncertain":
            lines.append(
                f"{name}: {diff} — less than two standard errors: the data do not clearly "
                "favour the best."
            )
        else:
            lines.append(f"{name}: {diff} — the best predicts clearly better.")
    if (table["verdict"] == "indistinguishable").any():
        lines.append(
            "Stacking weights choose the best combination and may give all weight to one of "
            "models that predict alike: they are not evidence against the others. Pseudo-BMA+ "
            "weights: " + ", ".join(
                f"{n} {w:.2f}" for n, w in zip(names, table["pseudo_bma_weight"], strict=True)
            ) + ". Prefer averaging these models (average_models) to choosing one."
        )
    flagged = [str(n) for n, bad in zip(names, table["warning"], strict=True) if bad]
    if flagged:
        lines.append(
            f"{ic} is flagged unreliable for {', '.join(flagged)}"
            + ("; use compare(..., ic='kfold') (K-fold cross-validation)."
               if ic == "LOO" else ".")
        )
    return "\n".join(lines)


def _verdict(diff: float, dse: float) -> str:
    if diff < SMALL_ELPD_DIFF:
        return "indistinguishable"
    if not math.isfinite(dse) or diff < 2.0 * dse:
        return "uncertain"
    return "worse"


def _criteria(
    named: Mapping[str, FittedModel], ic: str, k: int, random_seed: int, refit: Mapping
) -> tuple[dict[str, ELPDResult], str, str]:
    """The ELPD of every fit under ``ic`` (``"auto"`` resolved), the criterion used and why."""
    if refit and ic not in ("kfold", "loso", "auto"):
        raise DoseResponseError(
            f"{', '.join(refit)} only apply to ic='kfold', 'loso' or 'auto' (refits)."
        )
    reasons = {
        "loo": "PSIS-LOO, as requested (ic='loo')",
        "waic": "WAIC, as requested (ic='waic')",
        "kfold": f"{k}-fold cross-validation by patient, as requested (ic='kfold')",
        "loso": "leave-one-study-out, each study predicted as a new centre, as requested "
                "(ic='loso')",
    }
    if ic in ("loo", "waic", "auto"):
        criterion = waic if ic == "waic" else loo
        with warnings.catch_warnings():
            if ic == "auto":
                warnings.filterwarnings("ignore", message="PSIS-LOO is unreliable")
            results = {name: criterion(fit, pointwise=True) for name, fit in named.items()}
        flagged = [name for name, r in results.items() if r.warning]
        if ic != "auto":
            return results, ic, reasons[ic]
        if not flagged:
            return results, "loo", (
                f"PSIS-LOO (ic='auto'): every fit has Pareto k <= {PARETO_K_MAX} on the rows "
                "that matter, so no refit was needed"
            )
        counts = ", ".join(f"{name} ({_n_bad_rows(results[name])} row(s))" for name in flagged)
        warnings.warn(
            f"PSIS-LOO is unreliable (Pareto k > {PARETO_K_MAX}) for {counts}; comparing "
            f"every fit by {k}-fold cross-validation instead (each model refitted {k} times, "
            "seeded).",
            UserWarning,
            stacklevel=3,
        )
        reason = (
            f"{k}-fold cross-validation (ic='auto'): PSIS-LOO was unreliable, Pareto k > "
            f"{PARETO_K_MAX} for {counts}"
        )
        ic = "kfold"
    else:
        reason = reasons[ic]
    from doseresponse.models.crossval import kfold, leave_one_study_out

    if ic == "kfold":
        return {
            name: kfold(fit, k=k, random_seed=random_seed, **refit) for name, fit in named.items()
        }, ic, reason
    return {
        name: leave_one_study_out(fit, random_seed=random_seed, **refit)
        for name, fit in named.items()
    }, ic, reason


def _n_bad_rows(result: ELPDResult) -> int:
    """Rows of a LOO result with Pareto k above the threshold."""
    if result.pareto_k is None:  # pragma: no cover - compare asks for pointwise values
        return 0
    return int((result.pareto_k > PARETO_K_MAX).sum())


# ---------------------------------------------------------------------------- helpers


def _check_fit(fit: Any) -> FittedModel:
    if not isinstance(fit, FittedModel):
        raise DoseResponseError(
            f"fit must be a FittedModel (from NTCPModel(...).fit or doseresponse.models.io.load); "
            f"got {type(fit).__name__}."
        )
    return fit


def _is_late(fit: Any) -> bool:
    """Whether ``fit`` is a late-toxicity fit (imported on call: checks stays a leaf)."""
    from doseresponse.models.late_toxicity import LateToxicityFit

    return isinstance(fit, LateToxicityFit)


def _check_elpd_fit(fit: Any):
    """A fit whose pointwise log-likelihood LOO/WAIC can use: binary or late toxicity."""
    if _is_late(fit):
        return fit
    return _check_fit(fit)


def _rng(random_seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(random_seed, np.random.Generator):
        return random_seed
    if (
        isinstance(random_seed, bool)
        or not isinstance(random_seed, (int, np.integer))
        or random_seed < 0
    ):
        raise DoseResponseError(
            f"random_seed must be an integer >= 0 or a numpy Generator; got {random_seed!r}."
        )
    return np.random.default_rng(int(random_seed))


def _flat(fit: FittedModel, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as ``(chain, draw, ...)`` in a fixed dim order."""
    values = fit.posterior[name]
    extra = [d for d in values.dims if d not in ("chain", "draw")]
    return np.asarray(values.transpose("chain", "draw", *extra), dtype=np.float64)


def _study_arrays(fit: FittedModel) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Log D50 and slope per study, ``(chain, draw, n_study)``, and log factors or None."""
    post = fit.posterior
    n_study = len(fit.data.studies)
    slope_name = fit.spec.slope_name
    if "d50_study" in post:
        log_d50 = np.log(_flat(fit, "d50_study"))
    else:
        log_d50 = np.log(_flat(fit, "d50"))[..., None]
    if f"{slope_name}_study" in post:
        slope = _flat(fit, f"{slope_name}_study")
    else:
        slope = _flat(fit, slope_name)[..., None]
    shape = (*log_d50.shape[:2], n_study)
    log_factor = None
    if fit.spec.all_covariates:
        if "factor" not in post:
            raise ModelMismatchError(
                "the model has covariates but the posterior has no 'factor' variable; the fit "
                "is incomplete."
            )
        log_factor = np.log(_flat(fit, "factor"))
    return np.broadcast_to(log_d50, shape), np.broadcast_to(slope, shape), log_factor


def _ipd_curve_parameters(fit: FittedModel, inputs) -> tuple[np.ndarray, np.ndarray]:
    """D50 (its study's times its covariate factors) and slope of each patient row, per draw.

    Arrays ``(chain, draw, n_ipd_rows)``; the one construction of a patient's curve parameters
    (used by :func:`_log_pairs` and by the held-out latent-dose integral of cross-validation).
    """
    log_d50_s, slope_s, log_factor = _study_arrays(fit)
    log_d50 = log_d50_s[..., inputs.ipd_study]
    if log_factor is not None:
        log_d50 = log_d50 + log_factor @ inputs.ipd_x.T
    return np.exp(log_d50), slope_s[..., inputs.ipd_study]


def _log_pairs(fit: FittedModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(log P, log(1 - P)) per draw and row for patient rows and aggregate rows."""
    inputs = model_inputs(fit.spec, fit.data)
    log_d50_s, slope_s, log_factor = _study_arrays(fit)
    curve = fit.spec.curve
    out = {}
    if inputs.ipd_dose.size:
        d50, slope = _ipd_curve_parameters(fit, inputs)
        dose = inputs.ipd_dose
        if "true_dose" in fit.posterior:  # measurement-error model: latent true doses
            dose = np.broadcast_to(dose, d50.shape).copy()
            dose[..., inputs.me_rows] = _flat(fit, "true_dose")
        out["ipd"] = log_pair(curve, dose, d50, slope)
    if inputs.agg_n.size:
        log_d50 = log_d50_s[..., inputs.agg_study]
        if log_factor is not None:
            log_d50 = log_d50 + log_factor @ inputs.agg_x.T
        slope = slope_s[..., inputs.agg_study]
        log_p, log_q = log_pair(
            curve, inputs.agg_nodes, np.exp(log_d50)[..., None], slope[..., None]
        )
        log_w = inputs.log_weights
        out["aggregate"] = (
            special.logsumexp(log_p + log_w, axis=-1),
            special.logsumexp(log_q + log_w, axis=-1),
        )
    if getattr(fit.spec, "background", False):  # P = b + (1 - b) F per draw
        from doseresponse.models.background import background_log_pair

        b = _flat(fit, "background")
        out = {key: background_log_pair(*pair, b) for key, pair in out.items()}
    return out


def _coords(fit: FittedModel) -> dict[str, np.ndarray]:
    post = fit.posterior
    return {
        "chain": post["chain"].values,
        "draw": post["draw"].values,
        "ipd_row": np.arange(fit.data.n_ipd),
        "agg_row": np.arange(fit.data.n_aggregate_rows),
    }


def _dataset(variables: Mapping[str, tuple], fit: FittedModel) -> xr.Dataset:
    used = {d for dims, _ in variables.values() for d in dims}
    return xr.Dataset(variables, coords={k: v for k, v in _coords(fit).items() if k in used})


def _flat_rows(values: xr.DataArray) -> np.ndarray:
    arr = np.asarray(values.transpose("chain", "draw", ...), dtype=np.float64)
    return arr.reshape(-1, arr.shape[-1])


def _row_labels(fit: FittedModel) -> list[str]:
    data = fit.data
    labels = []
    ipd = data.ipd
    patient = ipd["patient"] if "patient" in ipd.columns else None
    for i, study in enumerate(ipd["study"]):
        who = f", patient {patient.iloc[i]}" if patient is not None else ""
        labels.append(f"ipd_row {i} (study {study}{who})")
    for j, row in enumerate(data.aggregate.itertuples()):
        labels.append(
            f"agg_row {j} (study {row.study}, dose {row.dose:g} {data.dose_unit}, "
            f"{int(row.events)}/{int(row.n)})"
        )
    return labels


def _joined_log_likelihood(fit: FittedModel) -> tuple[xr.DataArray, list[str]]:
    """One log-likelihood ``(chain, draw, observation)`` over patient then aggregate rows."""
    group = _log_likelihood_dataset(fit)
    parts, ids = [], []
    if "y_ipd" in group:
        parts.append(np.asarray(group["y_ipd"].transpose("chain", "draw", "ipd_row")))
        ids += [f"ipd:{i}" for i in range(fit.data.n_ipd)]
    if "y_agg" in group:
        parts.append(np.asarray(group["y_agg"].transpose("chain", "draw", "agg_row")))
        ids += [f"agg:{j}" for j in range(fit.data.n_aggregate_rows)]
    values = xr.DataArray(
        np.concatenate(parts, axis=-1),
        dims=("chain", "draw", "observation"),
        coords={"chain": group["chain"].values, "draw": group["draw"].values,
                "observation": ids},
        name="obs",
    )
    return values, _row_labels(fit)


def _rows_by_draws(values: xr.DataArray) -> np.ndarray:
    """Log-likelihood as ``(observation, chain·draw)`` float64."""
    ll = np.asarray(values.transpose("observation", "chain", "draw"), dtype=np.float64)
    return ll.reshape(ll.shape[0], -1)


def _elpd_result(
    kind: str,
    elpd_i: np.ndarray,
    p: float,
    n_samples: int,
    warning: bool,
    values: xr.DataArray,
    labels: list[str],
    pointwise: bool,
    *,
    pareto_k: np.ndarray | None = None,
    arviz: Any = None,
) -> ELPDResult:
    n = elpd_i.size
    se = float(math.sqrt(n) * np.std(elpd_i, ddof=1)) if n > 1 else math.nan
    return ELPDResult(
        kind=kind,
        elpd=float(elpd_i.sum()),
        se=se,
        p=p,
        n_samples=int(n_samples),
        warning=warning,
        observations=tuple(str(v) for v in values["observation"].values),
        labels=tuple(labels),
        elpd_i=elpd_i if pointwise else None,
        pareto_k=pareto_k if pointwise else None,
        arviz=arviz,
    )


def _named_fits(fits) -> dict[str, FittedModel]:
    if isinstance(fits, FittedModel) or _is_late(fits):
        raise DoseResponseError("compare needs at least two fits; pass a dict or a list of fits.")
    if isinstance(fits, Mapping):
        named = {str(k): v for k, v in fits.items()}
    elif isinstance(fits, Sequence) and not isinstance(fits, str):
        named = {}
        for fit in fits:
            spec = getattr(fit, "spec", None)
            base = f"{spec.curve}/{spec.pooling}" if spec is not None else "fit"
            if _is_late(fit):
                base = f"{spec.curve}/{spec.onset}/{spec.pooling}"
            name, counter = base, 1
            while name in named:
                counter += 1
                name = f"{base}#{counter}"
            named[name] = fit
    else:
        raise DoseResponseError(
            f"fits must be a dict {{name: FittedModel}} or a list of FittedModel; got "
            f"{type(fits).__name__}."
        )
    for name, fit in named.items():
        if not isinstance(fit, FittedModel) and not _is_late(fit):
            raise DoseResponseError(
                f"fits[{name!r}] is a {type(fit).__name__}, not a FittedModel or a "
                "LateToxicityFit."
            )
    if len(named) < 2:
        raise DoseResponseError(f"compare needs at least two fits; got {len(named)}.")
    return named
