"""Slow: the estimated literature weight a0 (normalised power prior) by MCMC.

The Burman 1991 kidney curve converted to BED (α/β 2.6 Gy: D50 49.5 Gy BED, γ50 3.99) is the
literature prior, a0 ~ Beta(1, 1) (prior mean 0.5). Small RPT cohorts (4 studies × 50
patients, doses log-normal around 70 Gy BED, log-SD 0.4; τ = 0.1) are simulated either
from the literature curve itself ("agree") or from a curve with twice its D50 and a shallower
slope (D50 99 Gy BED, γ50 1.5: "conflict"). What must hold: with agreeing data the posterior
of a0 stays up (mean above its prior mean 0.5), with conflicting data it goes down (mean below
0.25), on each of 3 replicates fixed in advance (seeds 70–72), and the conflict check's
p-value is lower for the conflicting data (with 200 patients it need not fall below
0.05). Default sampler settings (target_accept 0.99), 4 × 2000 draws. Divergences: measured 1
in 8000 draws on seed 71 "agree" (Python 3.11), starting at τ ≈ 0.58 (above τ's 99th posterior
percentile, 0.28) with log D50 in its lower tail: the non-centred partial-pooling ridge
log D50_s = log D50 + τ z_s with only 4 studies and the literature's steep slope (γ50 ≈ 4), not
the a0 coordinate (logit a0 = −1.3, central). The test allows at most 0.1 % divergent
transitions, requires them to be flagged by ``diagnostics()``, and R-hat <= 1.01 otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from doseresponse.models.literature_priors import literature_prior
from doseresponse.models.model import NTCPModel
from doseresponse.models.prior_conflict import prior_data_conflict
from doseresponse.simulate import simulate_cohort

pytestmark = pytest.mark.slow

LITERATURE = literature_prior("kidney-burman1991", curve="log-logistic", metric="BED",
                              a0="estimate")
TRUTHS = {
    "agree": (LITERATURE.d50_converted, LITERATURE.slope_converted),
    "conflict": (2.0 * LITERATURE.d50_converted, 1.5),
}


def _fit(scenario: str, seed: int):
    d50, slope = TRUTHS[scenario]
    sim = simulate_cohort(curve="log-logistic", d50=d50, slope=slope, n_studies=4,
                          patients_per_study=50, tau=0.1, dose_distribution=(70.0, 0.4),
                          dose_metric="BED", random_seed=seed)
    model = NTCPModel(curve="log-logistic", priors=LITERATURE.priors)
    return model.fit(sim.data, random_seed=seed, check=False, draws=2000), sim


@pytest.mark.parametrize("seed", [70, 71, 72])
def test_estimated_weight_stays_up_with_agreeing_data_and_drops_with_conflict(seed):
    means, p_values = {}, {}
    for scenario in TRUTHS:
        fit, sim = _fit(scenario, seed)
        diag = fit.diagnostics().set_index("check")
        divergent = int(diag.loc["divergences", "value"])
        draws = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
        assert divergent <= 0.001 * draws, (scenario, seed, divergent)
        if divergent:
            assert not diag.loc["divergences", "ok"], (scenario, seed)  # reported loudly
        else:
            assert fit.summary_frame()["r_hat"].max() <= 1.01, (scenario, seed)
        means[scenario] = float(np.mean(np.asarray(fit.posterior["a0"])))
        text = fit.summary()
        assert "literature weight a0" in text
        p_values[scenario] = prior_data_conflict(fit.spec, sim.data).p_value
    print(f"seed {seed}: posterior mean a0 {means}, conflict p-values {p_values}")
    assert p_values["conflict"] < p_values["agree"], p_values
    assert means["agree"] > 0.5, means
    assert means["conflict"] < 0.25, means
