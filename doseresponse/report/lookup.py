r"""The posterior draws embedded in a report for its in-page lookup, and their Python twin.

A report carries a subsample of at most :data:`MAX_EMBEDDED_DRAWS` posterior draws of each fit
(the per-draw :math:`\ln D_{50}`, :math:`\ln` slope, :math:`\tau`, :math:`\tau_s` and covariate
:math:`\ln f_c`) and the Gauss–Hermite nodes and weights of
:mod:`doseresponse.models.predictive`, so the page computes NTCP/TCP at any dose without a
server. :func:`embedded_fit` returns the same subsample as a
:class:`~doseresponse.models.results.FittedModel`, so the page's numbers can be reproduced
(and are tested) with the Python API: ``embedded_fit(fit).curve(doses, ...)``.

A model average (:class:`~doseresponse.models.averaging.ModelAverage`) embeds at most
:data:`MAX_EMBEDDED_DRAWS` draws **in total**, allocated to its members in proportion to the
weights exactly as the average allocates its resampled mixture (largest-remainder rounding),
plus the weights; :func:`embedded_average` returns the average over those draws, whose
``curve`` gives the page's numbers: the predictive risk is the weighted mean of the members'
mean risks (exact weights), the median and interval are quantiles of the pooled draws.

Doses are in the unit of the fit's dose metric (e.g. Gy BED).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.averaging import ModelAverage
from doseresponse.models.predictive import QUADRATURE_NODES
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.results import FittedModel

__all__ = ["MAX_EMBEDDED_DRAWS", "embedded_average", "embedded_fit", "lookup_payload"]

MAX_EMBEDDED_DRAWS = 1000
"""Largest number of posterior draws embedded per fit, or in total over the members of a model
average (keeps the page small and fast)."""

_MEAN_ONLY_DRAWS = 10  # a member whose weight earns no mixture draw: draws for its mean risk

_POOLED_SLOPE_NODES = 20  # per axis with pool_slope, as in doseresponse.models.predictive


def embedded_fit(fit: FittedModel, max_draws: int = MAX_EMBEDDED_DRAWS) -> FittedModel:
    """The fit restricted to the draws a report embeds (evenly spaced over chains and draws).

    Parameters
    ----------
    fit : FittedModel
        A fitted model.
    max_draws : int
        Largest number of draws kept (>= 10). All draws are kept when there are fewer.

    Returns
    -------
    FittedModel
        One chain holding the kept draws, with the same spec and data; its predictions are the
        Python twin of the report's in-page lookup.

    Raises
    ------
    DoseResponseError
        ``fit`` is not a FittedModel or ``max_draws`` is not an integer >= 10.
    """
    _check_fit(fit)
    _check_max_draws(max_draws)
    post = fit.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    return _subsample(fit, _kept_indices(total, int(max_draws)))


def embedded_average(average: ModelAverage, max_draws: int = MAX_EMBEDDED_DRAWS) -> ModelAverage:
    r"""The model average over the draws a report embeds for it (its in-page lookup's twin).

    Parameters
    ----------
    average : doseresponse.models.averaging.ModelAverage
        A model average of fits with population parameters.
    max_draws : int
        Draws embedded in total (>= 10), allocated to the members in proportion to the weights
        as :class:`~doseresponse.models.averaging.ModelAverage` allocates its resampled mixture
        (``draw_counts`` of an average of ``max_draws`` draws).

    Returns
    -------
    doseresponse.models.averaging.ModelAverage
        The same weights, method and seed over one-chain members holding the embedded draws
        (evenly spaced over each member's chains and draws; repeated evenly when a member has
        fewer draws than its share), with ``n_draws = max_draws``. Its resampled mixture is
        therefore every embedded draw of every member with a share, so ``curve(...).median``,
        ``lower`` and ``upper`` are quantiles of the pooled embedded draws and ``mean`` is the
        weighted mean of the members' mean risks over their embedded draws: the numbers the
        page computes. A member whose weight is positive but too small to earn a draw of the
        mixture keeps 10 draws for its share of the mean.

    Raises
    ------
    DoseResponseError
        ``average`` is not a ModelAverage, a member is not a FittedModel, or ``max_draws`` is
        not an integer >= 10.

    Notes
    -----
    The mixture is that of :mod:`doseresponse.models.averaging` (Yao et al. 2018, Bayesian
    Anal 13:917, eq. 1): :math:`\bar P(d) = \sum_k w_k \bar P_k(d)` for the predictive risk,
    draws allocated by weight for the quantiles. Doses are in the average's dose unit.
    """
    if not isinstance(average, ModelAverage):
        raise DoseResponseError(
            f"average must be a ModelAverage (from doseresponse.average_models or "
            f"doseresponse.load_average); got {type(average).__name__}."
        )
    _check_max_draws(max_draws)
    for fit in average.fits.values():
        _check_fit(fit)
    counts = _mixture_counts(average, int(max_draws))
    members = {}
    for name, fit in average.fits.items():
        post = fit.posterior
        total = post.sizes["chain"] * post.sizes["draw"]
        n_kept = counts[name] or _MEAN_ONLY_DRAWS
        members[name] = _subsample(fit, np.linspace(0, total - 1, n_kept).round().astype(int))
    embedded = ModelAverage(
        members, average.weights, method=average.method, ic=average.ic,
        comparison=average.comparison, n_draws=int(max_draws), random_seed=average.random_seed,
    )
    if embedded.draw_counts != counts:  # the allocation is a function of weights and n_draws
        raise DoseResponseError(
            f"internal error: the embedded average allocates {embedded.draw_counts} draws, "
            f"the page {counts}; please report this."
        )
    return embedded


def lookup_payload(
    fit: FittedModel | ModelAverage, model_id: str, max_draws: int = MAX_EMBEDDED_DRAWS
) -> dict:
    """What the page's lookup needs of one fit or model average, as JSON-ready data.

    Parameters
    ----------
    fit : FittedModel or doseresponse.models.averaging.ModelAverage
        A fitted model with population parameters (``pooling`` ``"partial"`` or
        ``"complete"``), or a model average of such fits.
    model_id : str
        Identifier of the model in the page (e.g. ``"ntcp"``).
    max_draws : int
        Largest number of draws embedded: per fit (see :func:`embedded_fit`), in total for an
        average (see :func:`embedded_average`).

    Returns
    -------
    dict
        Of a fit: ``id``, ``kind``, ``curve``, ``family_code``, ``metric``, ``metric_kind``
        (``"dose"``, ``"BED"`` or ``"EQD2"``: how activity converts), ``unit``, ``ci_prob``,
        ``covariates``, ``n_draws``, ``log_d50``, ``log_slope``, ``tau``, ``tau_slope``,
        ``log_factor`` (draw × covariate), ``background`` (per draw, or ``None``),
        ``quadrature`` (64 probabilists' Hermite nodes and normalised weights),
        ``quadrature_2d`` (20 per axis, with a pooled slope) and ``members`` (``None``).
        Of an average: ``id``, ``kind``, ``curve`` (the average's ``curve_name``),
        ``method``, ``ic``, ``metric``, ``metric_kind``, ``unit``, ``ci_prob``,
        ``covariates`` (those of any member), ``n_draws`` (draws of the mixture) and
        ``members``: per member with positive weight, the fit's entries plus ``name``,
        ``weight`` (normalised) and ``in_mixture`` (whether its draws join the quantiles).

    Raises
    ------
    DoseResponseError
        The fit (or a member) was made with ``pooling="none"`` (no typical or new centre to
        look up).
    """
    if isinstance(fit, ModelAverage):
        return _average_payload(fit, str(model_id), max_draws)
    _check_fit(fit)
    _check_pooling(fit, "the fit")
    return _fit_payload(embedded_fit(fit, max_draws), str(model_id))


def _average_payload(average: ModelAverage, model_id: str, max_draws: int) -> dict:
    for name, fit in average.fits.items():
        _check_fit(fit)
        _check_pooling(fit, f"member {name!r} of the average")
    embedded = embedded_average(average, max_draws)
    counts = embedded.draw_counts
    members = []
    for name, sub in embedded.fits.items():
        weight = embedded.weights[name]
        if weight > 0:
            member = _fit_payload(sub, f"{model_id}-{name}")
            member.update(name=name, weight=weight, in_mixture=counts[name] > 0)
            members.append(member)
    covariates = []
    for fit in embedded.fits.values():
        covariates += [c for c in fit.spec.all_covariates if c not in covariates]
    return {
        "id": model_id,
        "kind": embedded.kind,
        "curve": embedded.curve_name,
        "method": embedded.method,
        "ic": embedded.ic,
        "metric": embedded.dose_metric,
        "metric_kind": metric_kind(embedded.dose_metric),
        "unit": embedded.dose_unit,
        "ci_prob": DEFAULT_CI_PROB,
        "covariates": covariates,
        "n_draws": int(sum(counts.values())),
        "has_population": True,
        "members": members,
    }


def _fit_payload(sub: FittedModel, model_id: str) -> dict:
    """The JSON-ready draws of an already embedded (one-chain) fit."""
    spec = sub.spec
    post = sub.posterior

    def flat(name: str) -> np.ndarray:
        values = post[name]
        extra = [d for d in values.dims if d not in ("chain", "draw")]
        return np.asarray(values.transpose("chain", "draw", *extra))[0]

    covariates = list(spec.all_covariates)
    log_factor = None
    if covariates:
        log_factor = np.log(flat("factor")).reshape(-1, len(covariates)).tolist()
    tau = flat("tau").tolist() if "tau" in post else None
    tau_slope = flat("tau_slope").tolist() if "tau_slope" in post else None
    from doseresponse.models._curve_kernel import FAMILY_CODES  # numba: imported on use

    return {
        "id": model_id,
        "kind": spec.kind,
        "curve": spec.curve,
        "family_code": FAMILY_CODES[spec.curve],
        "metric": spec.dose_metric,
        "metric_kind": metric_kind(spec.dose_metric),
        "unit": spec.dose_unit,
        "ci_prob": DEFAULT_CI_PROB,
        "covariates": covariates,
        "n_draws": int(post.sizes["draw"]),
        "has_population": True,
        "log_d50": np.log(flat("d50")).tolist(),
        "log_slope": np.log(flat(spec.slope_name)).tolist(),
        "tau": tau,
        "tau_slope": tau_slope,
        "log_factor": log_factor,
        # background risk b per draw (None without one): the page shows b + (1 - b) F
        "background": flat("background").tolist() if spec.background else None,
        "quadrature": _hermite(QUADRATURE_NODES),
        "quadrature_2d": _hermite(_POOLED_SLOPE_NODES),
        "members": None,
    }


def metric_kind(dose_metric: str) -> str:
    """How an activity converts to the dose metric: ``"BED"``, ``"EQD2"`` or ``"dose"``."""
    name = str(dose_metric).upper()
    if "EQD" in name:
        return "EQD2"
    if "BED" in name:
        return "BED"
    return "dose"


def _hermite(n: int) -> dict[str, list[float]]:
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return {"nodes": x.tolist(), "weights": (w / w.sum()).tolist()}


def _kept_indices(total: int, max_draws: int) -> np.ndarray:
    if total <= max_draws:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, max_draws).round().astype(int))


def _subsample(fit: FittedModel, keep: np.ndarray) -> FittedModel:
    """One chain holding the flattened draws ``keep`` of ``fit`` (same spec and data)."""
    post = fit.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    variables = {}
    for name, values in post.data_vars.items():
        extra = [d for d in values.dims if d not in ("chain", "draw")]
        arr = np.asarray(values.transpose("chain", "draw", *extra))
        flat = arr.reshape(total, *arr.shape[2:])[keep]
        coords = {d: values.coords[d].values for d in extra if d in values.coords}
        variables[name] = xr.DataArray(
            flat[None, ...], dims=("chain", "draw", *extra), coords=coords
        )
    sub = xr.Dataset(variables, attrs=dict(post.attrs))
    sub = sub.assign_coords(chain=[0], draw=np.arange(keep.size))
    return FittedModel({"posterior": sub}, fit.spec, fit.data)


def _mixture_counts(average: ModelAverage, n_draws: int) -> dict[str, int]:
    """Draws per member of the average's mixture of ``n_draws`` draws (its own allocation)."""
    sized = ModelAverage(
        average.fits, average.weights, method=average.method, n_draws=n_draws,
        random_seed=average.random_seed,
    )
    return sized.draw_counts


def _check_max_draws(max_draws) -> None:
    integer = isinstance(max_draws, (int, np.integer)) and not isinstance(max_draws, bool)
    if not integer or max_draws < 10:
        raise DoseResponseError(
            f"max_draws must be an integer of at least 10; got {max_draws!r}."
        )


def _check_pooling(fit: FittedModel, what: str) -> None:
    if fit.spec.pooling == "none":
        raise DoseResponseError(
            f"the in-page lookup needs population parameters, but {what} has pooling='none'; "
            "refit with pooling='partial' (or 'complete')."
        )


def _check_fit(fit) -> None:
    if not isinstance(fit, FittedModel):
        raise DoseResponseError(
            f"fit must be a FittedModel (from Model.fit or doseresponse.load); got "
            f"{type(fit).__name__}."
        )
