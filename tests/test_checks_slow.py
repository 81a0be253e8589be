"""Slow: LOO ranks the true curve family, and PPCs of the true model are unremarkable.

A cohort is simulated from a log-logistic curve (8 centres × 100 patients, τ = 0.2, a binary
risk factor with factor 0.7, log-normal doses with log-SD 0.5 so the curve's shape is visible)
and fitted with the logistic, log-logistic and probit families (2 chains × 500 + 500, fixed
seeds). ``compare`` must rank the log-logistic fit first or within one SE of the difference, and
no study or dose bin of the true model may have an extreme posterior predictive p-value.
"""

from __future__ import annotations

import warnings

import pytest

from doseresponse.exceptions import ConvergenceWarning
from doseresponse.models import checks
from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort

pytestmark = pytest.mark.slow

TRUE_CURVE = "log-logistic"


@pytest.fixture(scope="module")
def fits():
    sim = simulate_cohort(
        curve=TRUE_CURVE, d50=40.0, slope=2.0, n_studies=8, patients_per_study=100, tau=0.2,
        covariates={"htn": (0.35, 0.7)}, dose_distribution=(30.0, 0.5), dose_metric="BED",
        random_seed=2017,
    )
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for curve in ("logistic", TRUE_CURVE, "probit"):
            out[curve] = NTCPModel(curve=curve).fit(
                sim.data, chains=2, draws=500, tune=500, random_seed=11
            )
    return out


def test_loo_ranks_the_true_family_first_or_within_one_se(fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = checks.compare(fits)
    print(table[["rank", "elpd", "p", "elpd_diff", "dse", "weight"]])
    row = table.loc[TRUE_CURVE]
    assert row["rank"] == 0 or row["elpd_diff"] <= row["dse"]
    assert set(table["curve"]) == {"logistic", "log-logistic", "probit"}


@pytest.mark.parametrize("by", ["study", "dose_bin"])
def test_ppc_of_the_true_model_is_unremarkable(fits, by):
    table = checks.ppc_table(fits[TRUE_CURVE], by=by, n_bins=5, random_seed=3)
    print(table)
    assert table["p_value"].between(0.01, 0.99).all()
    assert table["outside"].sum() <= 1
