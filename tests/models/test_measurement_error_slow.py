"""Slow: the measurement-error model removes regression dilution on simulated data.

Cohort: 8 studies × 100 patients, logistic NTCP in BED with γ50 = 4 and D50 = 49 Gy (TD5 = 40 Gy,
the ``sim_kidney_prrt`` scenario), doses recorded with 20 % log-normal dosimetry error and
``dose_rel_se = 0.2``. Taking the recorded doses as exact flattens the curve: the 94 % intervals
of γ50 and TD5 exclude the truth. The ``measurement_error="lognormal"`` model must contain it,
sample cleanly, and say nothing false about D50. Seeds (27 for the cohort, 1 for the sampler)
were fixed before the first run.
"""

from __future__ import annotations

import pytest

from doseresponse.models.curves import dose_at
from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort

pytestmark = pytest.mark.slow

D50, GAMMA50 = 49.0, 4.0


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(
        curve="logistic", d50=D50, slope=GAMMA50, n_studies=8, patients_per_study=100, tau=0.0,
        dose_distribution=(35.0, 0.35), dose_rel_sd=0.2, dose_metric="BED", random_seed=27,
    ).data


def _interval(fit, name):
    row = fit.summary_frame(ci_prob=0.94).loc[name]
    return row["lower"], row["upper"]


def test_naive_fit_is_diluted_and_the_measurement_error_fit_is_not(cohort):
    td5 = float(dose_at(0.05, "logistic", D50, GAMMA50))
    naive = NTCPModel(curve="logistic").fit(cohort, random_seed=1, progressbar=False)
    lower, upper = _interval(naive, "gamma50")
    assert upper < GAMMA50, f"naive gamma50 interval [{lower}, {upper}] should be diluted"
    assert naive.dose_at(0.05, which="population")["upper"] < td5

    fit = NTCPModel(curve="logistic", measurement_error="lognormal").fit(
        cohort, random_seed=1, progressbar=False
    )
    diag = fit.diagnostics().set_index("check")
    assert diag.loc["divergences", "value"] == 0
    assert diag.loc["r_hat", "value"] <= 1.01
    for name, truth in (("gamma50", GAMMA50), ("d50", D50)):
        lower, upper = _interval(fit, name)
        assert lower <= truth <= upper, f"{name}: truth {truth} outside [{lower}, {upper}]"
    result = fit.dose_at(0.05, which="population")
    assert result["lower"] <= td5 <= result["upper"]
    # the latent true doses are reported, one per patient with a dose uncertainty
    assert fit.idata.posterior["true_dose"].sizes["me_row"] == 800
