"""Benchmark: cross-validation of the measurement-error model against the naive model (not a test).

Simulated cohort: 4 studies × 60 patients, logistic NTCP (D50 = 49 Gy, γ50 = 4), true doses
log-normal (median 35 Gy, log-SD 0.35) recorded with 20 % log-normal dosimetry error and
``dose_rel_se = 0.2``. Two models of the same data: ``measurement_error="lognormal"`` and the
naive model taking recorded doses as exact. Printed side by side: PSIS-LOO, 5-fold
cross-validation (5 refits each; the ME model's held-out latent doses integrated out, its
held-out recorded doses added to the exposure posterior by importance weights) and
leave-one-study-out (4 refits; held-out study exposure drawn from its recorded doses), with
the wall time of each (one process, after a warm-up fit: compilation excluded).

Run: ``python tests/benchmarks/bench_kfold_dose_error.py`` (minutes on 2 cores); ``--quick``
uses 2 chains × 300 draws.
"""

from __future__ import annotations

import sys
import time
import warnings


def main(quick: bool = False) -> None:
    """Run the benchmark and print the table."""
    import doseresponse as dr

    draws, tune, chains = (300, 300, 2) if quick else (1000, 1000, 2)
    sim = dr.simulate_cohort(
        curve="logistic", d50=49.0, slope=4.0, n_studies=4, patients_per_study=60, tau=0.1,
        dose_distribution=(35.0, 0.35), dose_rel_sd=0.2, dose_metric="BED", random_seed=27,
    )
    settings = dict(draws=draws, tune=tune, chains=chains, progressbar=False, check=False)
    rows = []
    for name, model in (("measurement error", dr.NTCPModel("logistic",
                                                           measurement_error="lognormal")),
                        ("naive (doses exact)", dr.NTCPModel("logistic"))):
        model.fit(sim.data, random_seed=0, **settings)  # warm-up
        start = time.perf_counter()
        fit = model.fit(sim.data, random_seed=1, **settings)
        fit_s = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            start = time.perf_counter()
            loo = dr.loo(fit)
            loo_s = time.perf_counter() - start
            start = time.perf_counter()
            kf = dr.kfold(fit, k=5, tune=tune)
            kf_s = time.perf_counter() - start
            start = time.perf_counter()
            loso = dr.leave_one_study_out(fit, tune=tune)
            loso_s = time.perf_counter() - start
        n_bad = int((loo.pareto_k > 0.7).sum())
        rows.append((name, fit_s, loo, loo_s, n_bad, kf, kf_s, loso, loso_s))
    print(f"{sim.data.n_ipd} patients, {len(sim.data.studies)} studies; "
          f"{chains} chains x {draws} draws ({tune} tune)")
    print(f"{'model':22s} {'fit s':>6s} {'PSIS-LOO':>16s} {'s':>5s} {'k>0.7':>5s} "
          f"{'5-fold':>16s} {'s':>6s} {'LOSO':>16s} {'s':>6s}")
    for name, fit_s, loo, loo_s, n_bad, kf, kf_s, loso, loso_s in rows:
        print(f"{name:22s} {fit_s:6.1f} {loo.elpd:8.2f} ± {loo.se:5.2f} {loo_s:5.1f} {n_bad:5d} "
              f"{kf.elpd:8.2f} ± {kf.se:5.2f} {kf_s:6.1f} {loso.elpd:8.2f} ± {loso.se:5.2f} "
              f"{loso_s:6.1f}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
