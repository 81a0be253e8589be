"""Benchmark: cost of K-fold and leave-one-study-out cross-validation against one fit (not a test).

Simulated cohort: 500 patients in 8 studies (logistic, τ = 0.3), the package default sampler
(nutpie on the analytic density), 4 chains × 1000 tune × 1000 draws. Printed side by side, in
one process after a warm-up fit (compilation excluded; the kernel is compiled once per machine):

* one fit of the full cohort, and PSIS-LOO from it (no refit);
* 10-fold cross-validation by patient (10 refits), and leave-one-study-out (8 refits);
* their ELPD ± SE, so cost and answer can be read together.

Run: ``python tests/benchmarks/bench_kfold.py`` (several minutes on 2 cores). ``--quick``
uses 2 chains × 300 draws for a smoke run.
"""

from __future__ import annotations

import sys
import time
import warnings


def main(quick: bool = False) -> None:
    """Run the benchmark and print the table."""
    import doseresponse as dr

    draws, tune, chains = (300, 300, 2) if quick else (1000, 1000, 4)
    patients = [63, 63, 63, 63, 62, 62, 62, 62]
    sim = dr.simulate_cohort(curve="logistic", d50=40.0, slope=1.5, n_studies=8,
                             patients_per_study=patients, tau=0.3, dose_metric="BED",
                             random_seed=2024)
    model = dr.NTCPModel("logistic")
    settings = dict(draws=draws, tune=tune, chains=chains, progressbar=False, check=False)
    model.fit(sim.data, random_seed=0, **settings)  # warm-up: compile / load the kernel cache
    rows = []
    start = time.perf_counter()
    fit = model.fit(sim.data, random_seed=1, **settings)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loo = fit.loo()
    rows.append(("one fit", fit_s, None))
    rows.append(("PSIS-LOO (from the fit)", time.perf_counter() - start, loo))
    for label, run in (
        ("10-fold CV (10 refits)", lambda: dr.kfold(fit, k=10, tune=tune)),
        ("leave-one-study-out (8 refits)", lambda: dr.leave_one_study_out(fit, tune=tune)),
    ):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = run()
        rows.append((label, time.perf_counter() - start, result))
    print(f"500 patients / 8 studies, {chains} chains x ({tune} tune + {draws} draws), "
          "2-core machine, warm kernel cache")
    print(f"{'computation':34s} {'seconds':>8s} {'x one fit':>10s}  elpd (SE)")
    for label, seconds, result in rows:
        answer = "" if result is None else f"{result.elpd:.1f} ({result.se:.1f})"
        print(f"{label:34s} {seconds:8.2f} {seconds / fit_s:10.1f}  {answer}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
