"""Fits shared by the report tests: one small MCMC fit with covariates, and fits derived from it.

``covariate_fit`` is the only sampling in these tests (sim_kidney_prrt, log-logistic NTCP with
hypertension and diabetes, 2 chains × 200 draws after 200 tuning steps, seed 1: a few seconds).
``family_fit(curve)`` reuses its posterior under another curve family (probit gets
m = 1/(γ50 √(2π)), the LKB slope with the same steepness at D50) so every family's in-page
kernel is checked without more sampling; ``"log-logistic+pool_slope"`` adds a between-study SD
of the log slope to check the two-dimensional Gauss–Hermite rule, and ``"cloglog+complete"``
drops the between-study SD (complete pooling).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import doseresponse as dr
from doseresponse import _arviz_compat
from doseresponse.models.results import FittedModel

FITS = Path(__file__).resolve().parents[1] / "data" / "fits"


@pytest.fixture(scope="session")
def covariate_fit():
    """Log-logistic NTCP fit of sim_kidney_prrt with two covariates (tiny, seeded)."""
    data = dr.load_dataset("sim_kidney_prrt")
    model = dr.NTCPModel(curve="log-logistic", covariates=["hypertension", "diabetes"])
    with warnings.catch_warnings():  # 200 draws: ESS warnings are expected
        warnings.simplefilter("ignore")
        return model.fit(data, draws=200, tune=200, chains=2, random_seed=1,
                         progressbar=False, check=False)


@pytest.fixture(scope="session")
def saved_fit():
    """The committed cross-stack fixture fit of the running stack (no covariates)."""
    name = "ntcp_pymc6_arviz1.nc" if _arviz_compat.ARVIZ_MAJOR >= 1 else "ntcp_pymc5_arviz0.nc"
    with warnings.catch_warnings():  # the fixture predates full-content digests
        warnings.simplefilter("ignore")
        return dr.load(FITS / name)


def derived_fit(fit: FittedModel, curve: str, *, pool_slope: bool = False,
                pooling: str = "partial") -> FittedModel:
    """``fit``'s posterior under another curve family (optionally a pooled slope, or complete
    pooling: no between-study SD, so a new centre is the typical centre)."""
    post = fit.posterior.copy()
    spec = dataclasses.replace(fit.spec, curve=curve, pool_slope=pool_slope, pooling=pooling)
    if pooling == "complete":
        post = post.drop_vars([n for n in ("tau", "z_d50", "d50_study") if n in post])
    if spec.slope_name != "gamma50":
        post = post.rename({"gamma50": spec.slope_name})
        post[spec.slope_name] = 1.0 / (post[spec.slope_name] * math.sqrt(2.0 * math.pi))
    if pool_slope:
        rng = np.random.default_rng(11)
        post["tau_slope"] = post["tau"].copy(data=np.abs(rng.normal(0.25, 0.1, post["tau"].shape)))
    return FittedModel({"posterior": post}, spec, fit.data)


def probit_hypertension_only(fit: FittedModel) -> FittedModel:
    """``fit`` under probit with the hypertension covariate only (drops diabetes's factor)."""
    probit = derived_fit(fit, "probit")
    post = probit.posterior.sel(covariate=["hypertension"])
    spec = dataclasses.replace(probit.spec, covariates=("hypertension",))
    return FittedModel({"posterior": post}, spec, probit.data)


@pytest.fixture(scope="session")
def family_fits(covariate_fit):
    """Every curve family (and a pooled slope) on the covariate fit's draws."""
    fits = {name: derived_fit(covariate_fit, name)
            for name in ("logistic", "probit", "cloglog", "poisson")}
    fits["log-logistic"] = covariate_fit
    fits["log-logistic+pool_slope"] = derived_fit(covariate_fit, "log-logistic", pool_slope=True)
    fits["cloglog+complete"] = derived_fit(covariate_fit, "cloglog", pooling="complete")
    return fits
