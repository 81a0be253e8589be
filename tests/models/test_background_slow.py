"""Slow: the background-risk model by MCMC — recovery, interval calibration, divergences.

Cohorts: 6 patient-level studies of 80 patients, log-logistic D50 = 40 Gy, γ50 = 1.5, τ = 0.2,
background b = 0.10, doses log-normal around 30 Gy (log-SD 0.7, so a few low-dose patients inform
b). Each replicate is fitted with the default model and sampler settings (Beta(1, 9) prior on b,
target_accept 0.95, study effects sampled as mean and contrasts), 4 chains × (1000 tune + 2000
draws).

Calibration: 16 replicates with seeds 900–915 fixed in advance; the 90 % intervals of b, D50
and γ50 must each cover the truth in at least 11 of 16 (P(X ≤ 10 | 16, 0.9) = 0.0033 per
parameter, so a false alarm over the three has probability < 0.01). The TD10 (extra risk) of the
model without background is biased low on the same data (the flattening that ignoring b causes).

Divergences: none at the defaults, on every replicate, on both stacks. History: sampled in the
model's own non-centred coordinates at target_accept 0.95, Python 3.11 / nutpie 0.16.8 gave one
divergent transition in each of replicates 900, 905 and 909 (in 128 000 draws), on the
partially pooled ridge log D50_s = log D50 + τ z_s (the start of 909's divergent trajectory:
τ ≈ 1.1, every z_s ≈ −0.6); nutpie's low-rank mass matrix still gave 4; target_accept 0.99
removed them at about 2.5 times the cost. Sampling the study effects as their mean and
orthonormal contrasts (:mod:`doseresponse.models.sampler_coordinates`) removes that ridge: no
divergent transition in the 16 at 0.95 (Python 3.11). The test requires zero divergent
transitions and R-hat <= 1.01 on every replicate.
"""

from __future__ import annotations

import numpy as np
import pytest

from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort

pytestmark = pytest.mark.slow

TRUTH = {"d50": 40.0, "gamma50": 1.5, "background": 0.10}


def _cohort(seed: int):
    return simulate_cohort(
        curve="log-logistic", d50=TRUTH["d50"], slope=TRUTH["gamma50"], n_studies=6,
        patients_per_study=80, tau=0.2, background=TRUTH["background"],
        dose_distribution=(30.0, 0.7), random_seed=seed,
    )


def test_background_intervals_cover_at_their_nominal_rate_without_divergences():
    covered = dict.fromkeys(TRUTH, 0)
    n = 16
    divergent = {}
    for seed in range(900, 900 + n):
        # 4 x 2000 draws (as test_recovery_slow): at 4 x 1000 R-hat's own sampling spread
        # decided the test (tau 1.0103 on replicate 911, Python 3.13 / nutpie 0.16.11)
        fit = NTCPModel(curve="log-logistic", background=True).fit(
            _cohort(seed).data, random_seed=seed, check=False, draws=2000
        )
        diag = fit.diagnostics().set_index("check")
        divergent[seed] = int(diag.loc["divergences", "value"])
        summary = fit.summary_frame(ci_prob=0.90)
        assert summary["r_hat"].max() <= 1.01, seed
        for name, value in TRUTH.items():
            lower, upper = summary.loc[name, ["lower", "upper"]]
            covered[name] += int(lower <= value <= upper)
    print("divergent transitions by replicate:", divergent)
    assert sum(divergent.values()) == 0, divergent
    for name, count in covered.items():
        assert count >= 11, f"{name}: the 90 % interval covered the truth in {count}/{n}"


def test_ignoring_the_background_biases_the_tolerance_dose_low():
    sim = _cohort(950)
    truth_td10 = sim.truth.td(0.1)  # extra risk: F(D) = 0.1
    with_bg = NTCPModel(curve="log-logistic", background=True).fit(sim.data, random_seed=1,
                                                                   check=False)
    without = NTCPModel(curve="log-logistic").fit(sim.data, random_seed=1, check=False)
    td_bg, td_plain = with_bg.dose_at(0.1), without.dose_at(0.1)
    # one replicate: coverage is the calibration test's job (on this seed the background
    # model's 95 % interval, 14.0-26.9 Gy, narrowly misses the truth 27.7 Gy); what must hold
    # here is the bias of the model without background and the improvement with it
    assert td_plain.upper < truth_td10
    assert abs(np.log(td_bg.median / truth_td10)) < abs(np.log(td_plain.median / truth_td10))
