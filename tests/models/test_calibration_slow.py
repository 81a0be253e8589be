"""Slow: interval calibration of the default sampler, simulation-based (Talts et al. 2018).

A fixed-truth recovery test (``test_recovery_slow.py``) checks one cohort per family; whether a
94 % interval really covers the truth 94 % of the time is a property of many data sets. Here the
truth is drawn from the model's own prior, data are simulated from the model's exact generative
process (patient rows, random study effects, a binary covariate), and the model is fitted with
the package's default sampler. When the density, its gradient and the sampler are right, each
parameter's central 94 % interval misses the truth with probability exactly 0.06 (simulation-based
calibration: Cook, Gelman & Rubin 2006 J Comput Graph Stat 15:675; Talts, Betancourt, Simpson,
Vehtari & Gelman 2018 arXiv:1804.06788). The test counts misses over 20 replicates × 4
parameters per family and fails when the count is improbable under that rate (binomial tail
< 0.001), e.g. an error in the gradient or the likelihood. Because a sampler that ignored the
data would also be calibrated, it also requires the data to shrink the posterior of log D50 well
inside its prior.

Replicates use seeds 0–19, fixed in advance (not selected).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from doseresponse.data import DoseResponseData
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family
from doseresponse.models.density import LogDensity
from doseresponse.models.model import NTCPModel
from doseresponse.models.sampling import sample_density

pytestmark = pytest.mark.slow

REPLICATES = 20
CI_PROB = 0.94
N_STUDIES, PER_STUDY = 6, 40


def _design(seed: int):
    rng = np.random.default_rng([seed, 1])
    study = np.repeat(np.arange(N_STUDIES), PER_STUDY)
    dose = rng.lognormal(math.log(30.0), 0.45, study.size)
    htn = rng.binomial(1, 0.4, study.size).astype(float)
    return rng, study, dose, htn


def _replicate(curve: str, seed: int):
    """Truth drawn from the spec's prior and data simulated from the model; returns both."""
    rng, study, dose, htn = _design(seed)
    frame_stub = DoseResponseData.from_frame(
        _frame(study, dose, htn, np.zeros(study.size, dtype=int)),
        dose="dose", outcome="y", study="study", covariates=["htn"],
    )
    spec = NTCPModel(curve=curve).spec_for(frame_stub)  # priors depend on the doses only
    priors = spec.priors
    truth = {
        "log_d50": rng.normal(math.log(priors["d50"]["median"]), priors["d50"]["sigma"]),
        "log_slope": rng.normal(math.log(priors["slope"]["median"]), priors["slope"]["sigma"]),
        "tau": abs(rng.normal(0.0, priors["tau"]["sigma"])),
        "log_factor": rng.normal(
            math.log(priors["factor:htn"]["median"]), priors["factor:htn"]["sigma"]
        ),
    }
    z = rng.normal(size=N_STUDIES)
    log_d50 = truth["log_d50"] + truth["tau"] * z[study] + truth["log_factor"] * htn
    p = get_curve_family(curve).probability(dose, np.exp(log_d50), math.exp(truth["log_slope"]))
    y = rng.binomial(1, np.clip(p, 0.0, 1.0))
    data = DoseResponseData.from_frame(
        _frame(study, dose, htn, y), dose="dose", outcome="y", study="study", covariates=["htn"],
    )
    return spec, data, truth


def _frame(study, dose, htn, y):
    import pandas as pd

    return pd.DataFrame({"study": [f"s{s}" for s in study], "dose": dose, "htn": htn, "y": y})


@pytest.mark.parametrize("curve", sorted(CURVE_FAMILIES))
def test_credible_intervals_are_calibrated(curve):
    misses, shrinkage = 0, []
    lower_q, upper_q = (1 - CI_PROB) / 2, 1 - (1 - CI_PROB) / 2
    for seed in range(REPLICATES):
        spec, data, truth = _replicate(curve, seed)
        groups, _ = sample_density(
            LogDensity(spec, data), draws=500, tune=500, chains=2, random_seed=seed,
            progressbar=False,
        )
        post = groups["posterior"]
        draws = {
            "log_d50": np.log(post["d50"].values).ravel(),
            "log_slope": np.log(post[spec.slope_name].values).ravel(),
            "tau": post["tau"].values.ravel(),
            "log_factor": post["log_factor"].values.ravel(),
        }
        for name, values in draws.items():
            lo, hi = np.quantile(values, [lower_q, upper_q])
            misses += not lo <= truth[name] <= hi
        shrinkage.append(np.std(draws["log_d50"]) / spec.priors["d50"]["sigma"])
    n = 4 * REPLICATES
    print(f"{curve}: {misses}/{n} misses; median posterior/prior SD of log D50 "
          f"{np.median(shrinkage):.2f}")
    # P(X >= misses) under Binomial(n, 0.06) (80 intervals: fails from 13 misses on; too few
    # misses cannot be told from chance at this n, since P(0 misses) = 0.007)
    upper_tail = stats.binom.sf(misses - 1, n, 1 - CI_PROB)
    assert upper_tail > 1e-3, f"{curve}: {misses}/{n} intervals missed (expected ~{0.06 * n:.1f})"
    # the data inform D50: the posterior SD is a fraction of the prior SD
    assert np.median(shrinkage) < 0.5, f"{curve}: median posterior/prior SD {np.median(shrinkage)}"
