r"""Posterior predictive checks, pointwise log-likelihood, LOO/WAIC and model comparison.

Everything here is computed with numpy/scipy from the stored posterior, the
:class:`~doseresponse.models.spec.ModelSpec` and the fitted data, so it works identically on a
fit that was just sampled and on one read back with :func:`doseresponse.io.load` (nothing is
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
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from doseresponse._stats import check_ci_prob, check_n_bins, quantile_bins
from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models.curve_gradients import log_pair
from doseresponse.models.design import model_inputs
from doseresponse.results import FittedModel

__all__ = [
    "PARETO_K_MAX",
    "compare",
    "log_likelihood",
    "loo",
    "posterior_predictive",
    "ppc_table",
    "row_probabilities",
    "waic",
]

PARETO_K_MAX = 0.7
"""Pareto k above which a row's PSIS-LOO estimate is unreliable (Vehtari et al. 2017)."""

_DEFAULT_SEED = 20170413
_BY = ("study", "dose_bin")
# rows whose log-likelihood varies by less than this over all draws (patients far in a tail,
# P ~ 1e-40) contribute exactly their value to LOO; PSIS smoothing of their (equal) weights
# returns NaN in ArviZ 0.23, so they are handled outside it
_FLAT_ROW_NATS = 1e-8
# a row's LOO density lies between the min and max of its log-likelihood draws, so rows that vary
# by less than this cannot be misestimated by more than this (their Pareto k, which is
# scale-free, may still be large: e.g. a toxicity at a dose where every draw has P > 0.999)
_HARMLESS_ROW_NATS = 0.01
_ARVIZ_K_WARNING = re.compile(r"Estimated shape parameter of Pareto", re.IGNORECASE)


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


def log_likelihood(fit: FittedModel) -> az.InferenceData:
    r"""Pointwise log-likelihood of every observation, as an ArviZ ``log_likelihood`` group.

    Parameters
    ----------
    fit : FittedModel
        A fitted model (freshly sampled or loaded from a file).

    Returns
    -------
    arviz.InferenceData
        A new object with the fit's ``posterior`` and a ``log_likelihood`` group holding
        ``y_ipd`` (dims ``chain, draw, ipd_row``) and/or ``y_agg`` (``chain, draw, agg_row``),
        in nats; ``fit.idata`` is left unchanged.

    Notes
    -----
    Patient rows: :math:`y\ln P + (1-y)\ln(1-P)`. Aggregate rows:
    :math:`\ln\binom{n}{r} + r\ln\bar P + (n-r)\ln(1-\bar P)` with :math:`\bar P` the curve
    averaged over the bin's dose distribution. :math:`\ln P` and :math:`\ln(1-P)` are computed
    in log space (``log_expit``, ``log_ndtr``, :math:`\ln(1-e^{-H})`) so that far-tail rows stay
    finite, mirroring the model's own likelihood.
    """
    fit = _check_fit(fit)
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
    dataset = _dataset(variables, fit)
    return az.InferenceData(posterior=fit.idata.posterior, log_likelihood=dataset)


def posterior_predictive(
    fit: FittedModel, *, random_seed: int | np.random.Generator = _DEFAULT_SEED
) -> az.InferenceData:
    r"""Replicated outcomes drawn from the posterior (one replicate per posterior draw).

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    random_seed : int or numpy.random.Generator
        Seed of the replicates; the same seed gives the same replicates.

    Returns
    -------
    arviz.InferenceData
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
    return az.InferenceData(
        posterior_predictive=_dataset(replicated, fit), observed_data=_dataset(observed, fit)
    )


# ---------------------------------------------------------------------------- PPC table


def ppc_table(
    fit: FittedModel,
    by: str = "study",
    n_bins: int = 4,
    ci_prob: float = 0.94,
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
    replicated = posterior_predictive(fit, random_seed=random_seed).posterior_predictive
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


def loo(fit: FittedModel, *, pointwise: bool = True):
    """PSIS leave-one-out cross-validation of a fit (:func:`arviz.loo`).

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    pointwise : bool
        Keep the per-row ELPD and Pareto k (needed by :func:`compare` for the SE of
        differences).

    Returns
    -------
    arviz ELPDData
        ``elpd_loo``, ``se``, ``p_loo``, ``pareto_k`` (one per row, coordinate ``observation``
        = ``"ipd:<i>"`` or ``"agg:<j>"``), ...

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
    Vehtari, Gelman & Gabry 2017 Stat Comput 27:1413.
    """
    fit = _check_fit(fit)
    idata, labels = _joined_log_likelihood(fit)
    values = idata.log_likelihood["obs"]
    spread = np.asarray(values.max(("chain", "draw")) - values.min(("chain", "draw")))
    flat = spread < _FLAT_ROW_NATS
    varying = idata if not flat.any() else az.InferenceData(
        posterior=idata.posterior, log_likelihood=idata.log_likelihood.isel(observation=~flat)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ARVIZ_K_WARNING.pattern)
        result = az.loo(varying, pointwise=True)
    if flat.any():
        result = _with_flat_rows(result, values, flat)
    k = np.asarray(result.pareto_k, dtype=np.float64)
    bad = np.flatnonzero((k > PARETO_K_MAX) & (spread >= _HARMLESS_ROW_NATS))
    if bad.size:
        shown = "; ".join(f"{labels[i]} (k={k[i]:.2f})" for i in bad[:10])
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad.size} row(s) with Pareto k > {PARETO_K_MAX}: "
            f"{shown}{more}. These rows are highly influential; check them for data errors, "
            "refit leaving them out (exact LOO) or use K-fold cross-validation.",
            UserWarning,
            stacklevel=2,
        )
    if not pointwise:
        for key in ("loo_i", "pareto_k"):
            if key in result:
                result = result.drop(key)
    return result


def waic(fit: FittedModel, *, pointwise: bool = True):
    """Widely applicable information criterion of a fit (:func:`arviz.waic`).

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    pointwise : bool
        Keep the per-row values (needed by :func:`compare`).

    Returns
    -------
    arviz ELPDData
        ``elpd_waic``, ``se``, ``p_waic``, ...

    Notes
    -----
    Watanabe S 2010 J Mach Learn Res 11:3571. PSIS-LOO (:func:`loo`) is preferred: it has a
    diagnostic (Pareto k) and is more robust with weak priors or influential rows (Vehtari,
    Gelman & Gabry 2017 Stat Comput 27:1413). ArviZ warns when the posterior variance of a
    row's log density exceeds 0.4, a sign that WAIC is unreliable.
    """
    fit = _check_fit(fit)
    idata, _ = _joined_log_likelihood(fit)
    return az.waic(idata, pointwise=pointwise)


def compare(
    fits: Mapping[str, FittedModel] | Sequence[FittedModel], *, ic: str = "loo"
) -> pd.DataFrame:
    """Rank fits of the same data by expected log predictive density (:func:`arviz.compare`).

    Parameters
    ----------
    fits : mapping or sequence of FittedModel
        ``{name: fit}``, or a sequence named ``"<curve>/<pooling>"`` (e.g.
        ``"logistic/partial"``; repeated names get ``#2``, ``#3``, ...).
    ic : {"loo", "waic"}
        Information criterion.

    Returns
    -------
    pandas.DataFrame
        :func:`arviz.compare` output (best model first: ``rank``, ELPD, effective number of
        parameters, ``elpd_diff``, stacking ``weight``, ``se``, ``dse`` (SE of the
        difference), ``warning``, ``scale``), plus ``curve`` and ``pooling`` columns.

    Raises
    ------
    DoseResponseError
        Fewer than two fits, an unknown ``ic``, or an element that is not a FittedModel.
    ModelMismatchError
        The fits were not fitted to the same data (ELPDs of different data are not
        comparable).

    Notes
    -----
    A difference smaller than about two of its standard errors (``dse``) does not favour
    either model (Vehtari, Gelman & Gabry 2017 Stat Comput 27:1413; Sivula T, Magnusson M,
    Matamoros AA, Vehtari A 2020 arXiv:2008.10296). Stacking weights: Yao Y, Vehtari A,
    Simpson D, Gelman A 2018 Bayesian Anal 13:917.
    """
    if ic not in ("loo", "waic"):
        raise DoseResponseError(f"ic must be 'loo' or 'waic'; got {ic!r}.")
    named = _named_fits(fits)
    names = list(named)
    first = named[names[0]]
    for name in names[1:]:
        if not named[name].data == first.data:
            raise ModelMismatchError(
                f"fit {name!r} was fitted to different data than fit {names[0]!r}; LOO/WAIC "
                "can only compare models of the same observations. Refit both on one "
                "DoseResponseData."
            )
    criterion = loo if ic == "loo" else waic
    elpd = {name: criterion(fit, pointwise=True) for name, fit in named.items()}
    table = az.compare(elpd, ic=ic)
    table["curve"] = [named[name].spec.curve for name in table.index]
    table["pooling"] = [named[name].spec.pooling for name in table.index]
    return table


# ---------------------------------------------------------------------------- helpers


def _check_fit(fit: Any) -> FittedModel:
    if not isinstance(fit, FittedModel):
        raise DoseResponseError(
            f"fit must be a FittedModel (from NTCPModel(...).fit or doseresponse.io.load); "
            f"got {type(fit).__name__}."
        )
    return fit


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
    values = fit.idata.posterior[name]
    extra = [d for d in values.dims if d not in ("chain", "draw")]
    return np.asarray(values.transpose("chain", "draw", *extra), dtype=np.float64)


def _study_arrays(fit: FittedModel) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Log D50 and slope per study, ``(chain, draw, n_study)``, and log factors or None."""
    post = fit.idata.posterior
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


def _log_pairs(fit: FittedModel) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(log P, log(1 - P)) per draw and row for patient rows and aggregate rows."""
    inputs = model_inputs(fit.spec, fit.data)
    log_d50_s, slope_s, log_factor = _study_arrays(fit)
    curve = fit.spec.curve
    out = {}
    if inputs.ipd_dose.size:
        log_d50 = log_d50_s[..., inputs.ipd_study]
        if log_factor is not None:
            log_d50 = log_d50 + log_factor @ inputs.ipd_x.T
        slope = slope_s[..., inputs.ipd_study]
        dose = inputs.ipd_dose
        if "true_dose" in fit.idata.posterior:  # measurement-error model: latent true doses
            dose = np.broadcast_to(dose, log_d50.shape).copy()
            dose[..., inputs.me_rows] = _flat(fit, "true_dose")
        out["ipd"] = log_pair(curve, dose, np.exp(log_d50), slope)
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
    return out


def _coords(fit: FittedModel) -> dict[str, np.ndarray]:
    post = fit.idata.posterior
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


def _joined_log_likelihood(fit: FittedModel) -> tuple[az.InferenceData, list[str]]:
    """One ``obs`` log-likelihood variable over patient rows then aggregate rows."""
    group = log_likelihood(fit).log_likelihood
    parts, ids = [], []
    if "y_ipd" in group:
        parts.append(np.asarray(group["y_ipd"].transpose("chain", "draw", "ipd_row")))
        ids += [f"ipd:{i}" for i in range(fit.data.n_ipd)]
    if "y_agg" in group:
        parts.append(np.asarray(group["y_agg"].transpose("chain", "draw", "agg_row")))
        ids += [f"agg:{j}" for j in range(fit.data.n_aggregate_rows)]
    values = np.concatenate(parts, axis=-1)
    dataset = xr.Dataset(
        {"obs": (("chain", "draw", "observation"), values)},
        coords={"chain": group["chain"].values, "draw": group["draw"].values,
                "observation": ids},
    )
    return az.InferenceData(posterior=fit.idata.posterior, log_likelihood=dataset), _row_labels(fit)


def _with_flat_rows(result, values: xr.DataArray, flat: np.ndarray):
    r"""Merge rows with a constant log-likelihood into an ``az.loo`` result of the other rows.

    For such a row the importance weights are equal, so its LOO density is exactly
    :math:`\log \frac1S\sum_s e^{\ell_s}` and its Pareto k is 0.
    """
    ll = np.asarray(values.transpose("observation", "chain", "draw"), dtype=np.float64)
    ll = ll.reshape(ll.shape[0], -1)
    lppd_i = special.logsumexp(ll, axis=1) - math.log(ll.shape[1])
    loo_i = lppd_i.copy()
    loo_i[~flat] = np.asarray(result.loo_i, dtype=np.float64)
    pareto_k = np.zeros(flat.size)
    pareto_k[~flat] = np.asarray(result.pareto_k, dtype=np.float64)
    coords = {"observation": values["observation"].values}
    out = result.copy()
    out["elpd_loo"] = float(loo_i.sum())
    out["se"] = float(math.sqrt(flat.size * np.var(loo_i)))
    out["p_loo"] = float(lppd_i.sum() - loo_i.sum())
    out["n_data_points"] = int(flat.size)
    out["loo_i"] = xr.DataArray(loo_i, dims="observation", coords=coords, name="loo_i")
    out["pareto_k"] = xr.DataArray(pareto_k, dims="observation", coords=coords, name="pareto_k")
    return out


def _named_fits(fits) -> dict[str, FittedModel]:
    if isinstance(fits, FittedModel):
        raise DoseResponseError("compare needs at least two fits; pass a dict or a list of fits.")
    if isinstance(fits, Mapping):
        named = {str(k): v for k, v in fits.items()}
    elif isinstance(fits, Sequence) and not isinstance(fits, str):
        named = {}
        for fit in fits:
            spec = getattr(fit, "spec", None)
            base = f"{spec.curve}/{spec.pooling}" if spec is not None else "fit"
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
        if not isinstance(fit, FittedModel):
            raise DoseResponseError(f"fits[{name!r}] is a {type(fit).__name__}, not a FittedModel.")
    if len(named) < 2:
        raise DoseResponseError(f"compare needs at least two fits; got {len(named)}.")
    return named
