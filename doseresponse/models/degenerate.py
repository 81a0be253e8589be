"""Cohorts whose Bayesian fit is decided by the priors, not the data: find them and say so.

A Bayesian fit always returns a posterior, even when the data cannot inform a parameter; the
answer then simply restates the prior. :func:`prior_driven_causes` lists, from the data and the
model settings alone (no sampling), the causes the maximum-likelihood fit refuses outright
(:func:`doseresponse.models.ml.fit_ml`) and the ones only a hierarchical model has:

* no events, or only events (D50 and the slope are bounded by the data from one side only);
* a covariate that is constant over the rows (its dose-modifying factor is not identifiable);
* a single study under partial pooling (the between-study SD τ has no data, so new-study
  predictions carry the prior's spread);
* under ``pooling="none"``, a study without events or with only events (its own curve is
  prior-driven).

:meth:`doseresponse.models.model.DoseResponseModel.fit` warns with
:class:`~doseresponse.exceptions.DegenerateDataWarning` for each cause, and
:meth:`doseresponse.models.results.FittedModel.summary` lists them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from doseresponse.data import DoseResponseData
from doseresponse.models.spec import ModelSpec

__all__ = ["prior_driven_causes"]


def prior_driven_causes(spec: ModelSpec, data: DoseResponseData) -> list[str]:
    """Reasons why parts of a Bayesian fit of ``data`` are set by the priors alone.

    Parameters
    ----------
    spec : ModelSpec
        The model (pooling and covariates used).
    data : DoseResponseData
        The cohort.

    Returns
    -------
    list of str
        One sentence per cause, naming it and the fix; empty when the data inform every
        parameter at least in principle.
    """
    events, n = _events_and_n(data, None)
    causes = []
    outcome = data.outcome_name
    if n > 0 and events == 0:
        causes.append(
            f"the data contain no events ({outcome}: 0 of {n:g} patients), so D50 and the "
            "slope are bounded from one side only and the answer restates their priors; add "
            "cohorts with events, or report the fit as prior-driven"
        )
    elif n > 0 and events == n:
        causes.append(
            f"the data contain only events ({outcome}: {events:g} of {n:g} patients), so D50 "
            "and the slope are bounded from one side only and the answer restates their "
            "priors; add cohorts without events, or report the fit as prior-driven"
        )
    for name in (*spec.covariates, *spec.study_covariates):
        values = _covariate_values(data, name)
        if values.size and np.unique(values).size < 2:
            causes.append(
                f"covariate {name!r} is constant (every row = {values[0]:g}), so its "
                "dose-modifying factor is set by its prior alone; drop it from covariates= "
                "(or study_covariates=)"
            )
    if spec.pooling == "partial" and len(data.studies) == 1:
        causes.append(
            f"there is one study ({data.studies[0]!r}) under pooling='partial', so the "
            "between-study SD tau is set by its prior alone and new-study predictions carry "
            "the prior's spread; use pooling='complete' or add studies"
        )
    if spec.pooling == "none" and len(data.studies) > 1:
        for study in data.studies:
            got, total = _events_and_n(data, study)
            if total > 0 and got in (0, total):
                what = "no events" if got == 0 else "only events"
                causes.append(
                    f"study {study!r} has {what} under pooling='none', so its own curve is "
                    "set by the priors; use pooling='partial' to borrow strength from the "
                    "other studies"
                )
    return causes


def _events_and_n(data: DoseResponseData, study: str | None) -> tuple[float, float]:
    ipd, agg = data.ipd, data.aggregate
    if study is not None:
        ipd = ipd[ipd["study"].astype(str) == study]
        agg = agg[agg["study"].astype(str) == study]
    events = float(ipd["outcome"].sum()) + float(agg["events"].sum())
    return events, float(len(ipd)) + float(agg["n"].sum())


def _covariate_values(data: DoseResponseData, name: str) -> np.ndarray:
    parts = [frame[name] for frame in (data.ipd, data.aggregate) if name in frame]
    if not parts:
        return np.empty(0)
    values = pd.concat(parts).dropna()
    return values.to_numpy(dtype=np.float64)
