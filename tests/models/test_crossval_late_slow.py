"""Slow checks of K-fold / leave-one-study-out refits of late-toxicity fits (tens of fits).

* Exact leave-one-patient-out by refitting (K = n) agrees with PSIS-LOO row by row where
  Pareto k < 0.5 (there PSIS-LOO is accurate: Vehtari, Gelman & Gabry 2017 Stat Comput
  27:1413), on a small simulated interval-censored cohort.
* 5-fold ELPD is close to PSIS-LOO on a 200-patient, 4-study cohort (numbers in the test).
* Leave-one-study-out runs and predicts each study as a new centre.
* With dose measurement error, 5-fold (held-out latent doses integrated out) runs and is close
  to PSIS-LOO.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import doseresponse as dr
from doseresponse.simulate_late import simulate_late_toxicity

pytestmark = pytest.mark.slow


def _fit(data, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dr.LateToxicityModel().fit(data, draws=1000, tune=1000, chains=2,
                                          random_seed=seed, progressbar=False, check=False)


@pytest.fixture(scope="module")
def cohort_fit():
    sim = simulate_late_toxicity(n_studies=4, patients_per_study=50, random_seed=11)
    return _fit(sim.data, 3)


def test_five_fold_elpd_is_close_to_psis_loo(cohort_fit):
    psis = cohort_fit.loo()
    assert psis.pareto_k.max() < 0.7  # PSIS-LOO is reliable here: the reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kf = dr.kfold(cohort_fit, k=5)
    diff = kf.elpd_i - psis.elpd_i
    se_diff = np.sqrt(diff.size) * np.std(diff, ddof=1)
    # measured, default fold seed: 3.11 stack PSIS-LOO -185.31 ± 19.96 nats, 5-fold -184.30
    # (difference +1.01 ± 1.02); 3.13 stack (nutpie 0.16.11, other draws) -185.35 and -184.28
    # (+1.07 ± 1.00). Other fold seeds on 3.11: -185.68 (-0.37 ± 1.35), -188.17 (-2.86 ± 1.10)
    assert kf.observations == psis.observations
    assert abs(kf.elpd - psis.elpd) < 3.0 * se_diff
    assert abs(kf.elpd - psis.elpd) < 0.02 * abs(psis.elpd)
    assert not kf.warning and np.isfinite(kf.elpd_i).all()


def test_leave_one_study_out_runs(cohort_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loso = dr.leave_one_study_out(cohort_fit)
    # measured: 3.11 stack -189.40 nats, per study -47.5, -32.6, -31.9, -77.5, p 9.38;
    # 3.13 stack -189.59 (-47.5, -32.6, -31.8, -77.7), p 9.62
    assert loso.kind == "loso" and loso.observations == ("study:S1", "study:S2", "study:S3",
                                                         "study:S4")
    assert np.isfinite(loso.elpd_i).all()
    assert loso.p > 0  # the full fit's lppd of each study exceeds its new-centre prediction
    assert abs(loso.elpd - cohort_fit.loo().elpd) < 0.05 * abs(loso.elpd)


def test_exact_loo_by_refitting_matches_psis_loo_row_by_row():
    sim = simulate_late_toxicity(n_studies=2, patients_per_study=20, random_seed=4)
    fit = _fit(sim.data, 5)
    psis = fit.loo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        exact = dr.kfold(fit, k=sim.data.n_ipd)
    reliable = psis.pareto_k < 0.5
    assert reliable.sum() >= 30
    gap = np.abs(exact.elpd_i - psis.elpd_i)[reliable]
    # measured: 3.11 stack 35 rows with k < 0.5; |exact - PSIS| median 0.011 nats, 95th
    # percentile 0.039, worst 0.20 (some of the 40 refits had divergent transitions);
    # totals PSIS-LOO -52.01, exact LOO -52.28. 3.13 stack: 40 rows, median 0.005, 95th
    # percentile 0.027, worst 0.051; totals -52.12 and -52.09
    assert np.median(gap) < 0.05
    assert np.quantile(gap, 0.95) < 0.1
    assert gap.max() < 0.5
    assert abs(exact.elpd - psis.elpd) < 1.0


def test_measurement_error_five_fold_runs_and_is_close_to_psis_loo():
    sim = simulate_late_toxicity(n_studies=3, patients_per_study=40, dose_rel_sd=0.2,
                                 random_seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = dr.LateToxicityModel(measurement_error="lognormal").fit(
            sim.data, draws=1000, tune=1000, chains=2, random_seed=2, progressbar=False,
            check=False)
        psis = fit.loo()  # conditional on each draw's latent doses: a sanity reference only
        kf = dr.kfold(fit, k=5)  # held-out latent doses integrated out given recorded doses
    diff = kf.elpd_i - psis.elpd_i
    se_diff = np.sqrt(diff.size) * np.std(diff, ddof=1)
    # measured (3.11 stack): PSIS-LOO -197.50 ± 14.99 nats, 5-fold -196.51 ± 15.14
    # (difference +0.99 ± 0.76); leave-one-study-out of the same fit -197.54 (not run here:
    # 3 refits plus the new-centre x latent-dose integral over 2000 draws took 205 s)
    assert np.isfinite(kf.elpd_i).all() and kf.elpd_i.size == 120
    assert abs(kf.elpd - psis.elpd) < 3.0 * se_diff
    assert abs(kf.elpd - psis.elpd) < 0.02 * abs(psis.elpd)
