r"""The posterior draws embedded in a report for its in-page lookup, and their Python twin.

A report carries a subsample of at most :data:`MAX_EMBEDDED_DRAWS` posterior draws of each fit
(the per-draw :math:`\ln D_{50}`, :math:`\ln` slope, :math:`\tau`, :math:`\tau_s` and covariate
:math:`\ln f_c`) and the Gauss–Hermite nodes and weights of
:mod:`doseresponse.models.predictive`, so the page computes NTCP/TCP at any dose without a
server. :func:`embedded_fit` returns the same subsample as a
:class:`~doseresponse.models.results.FittedModel`, so the page's numbers can be reproduced
(and are tested) with the Python API: ``embedded_fit(fit).curve(doses, ...)``.

Doses are in the unit of the fit's dose metric (e.g. Gy BED).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.predictive import QUADRATURE_NODES
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.results import FittedModel

__all__ = ["MAX_EMBEDDED_DRAWS", "embedded_fit", "lookup_payload"]

MAX_EMBEDDED_DRAWS = 1000
"""Largest number of posterior draws embedded per fit (keeps the page small and fast)."""

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
    integer = isinstance(max_draws, (int, np.integer)) and not isinstance(max_draws, bool)
    if not integer or max_draws < 10:
        raise DoseResponseError(
            f"max_draws must be an integer of at least 10; got {max_draws!r}."
        )
    post = fit.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    keep = _kept_indices(total, int(max_draws))
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


def lookup_payload(fit: FittedModel, model_id: str, max_draws: int = MAX_EMBEDDED_DRAWS) -> dict:
    """What the page's lookup needs of one fit, as JSON-ready data.

    Parameters
    ----------
    fit : FittedModel
        A fitted model with population parameters (``pooling`` ``"partial"`` or
        ``"complete"``).
    model_id : str
        Identifier of the model in the page (e.g. ``"ntcp"``).
    max_draws : int
        Largest number of draws embedded (see :func:`embedded_fit`).

    Returns
    -------
    dict
        ``id``, ``kind``, ``curve``, ``family_code``, ``metric``, ``metric_kind`` (``"dose"``,
        ``"BED"`` or ``"EQD2"``: how activity converts), ``unit``, ``ci_prob``, ``covariates``,
        ``n_draws``, ``log_d50``, ``log_slope``, ``tau``, ``tau_slope``, ``log_factor``
        (draw × covariate), ``background`` (per draw, or ``None``), ``quadrature`` (64
        probabilists' Hermite nodes and normalised weights) and ``quadrature_2d`` (20 per
        axis, with a pooled slope).

    Raises
    ------
    DoseResponseError
        The fit was made with ``pooling="none"`` (no typical or new centre to look up).
    """
    _check_fit(fit)
    spec = fit.spec
    if spec.pooling == "none":
        raise DoseResponseError(
            "the in-page lookup needs population parameters, but the fit has pooling='none'; "
            "refit with pooling='partial' (or 'complete')."
        )
    sub = embedded_fit(fit, max_draws)
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
        "id": str(model_id),
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


def _check_fit(fit) -> None:
    if not isinstance(fit, FittedModel):
        raise DoseResponseError(
            f"fit must be a FittedModel (from Model.fit or doseresponse.load); got "
            f"{type(fit).__name__}."
        )
