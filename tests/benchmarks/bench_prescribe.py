"""Prescription benchmark (a script, not a test).

Run:  python tests/benchmarks/bench_prescribe.py [--draws 4000] [--repeats 5]

A patient with three regions (tumour TCP on absorbed dose, kidney NTCP on BED with 15 %
dosimetry uncertainty, red-marrow NTCP on absorbed dose), curves given as ``--draws`` seeded
posterior draws (ResponseCurve), 4 cycles. Prints the best-of-N wall time of each objective
(target: well under 1 s for 4000 draws), and of one prescription with the cross-stack fixture
fit (a FittedModel, 200 draws) in both new-centre views, whose cost is its probability_draws,
and ``compare_strategies`` for 10 000 simulated patients (target: seconds).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import doseresponse as dr
from doseresponse import prescribe as rx
from doseresponse.models.response_curve import ResponseCurve


def _best(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(20261201)
    n = args.draws
    tumour = ResponseCurve("log-logistic", d50=rng.lognormal(np.log(100.0), 0.2, n),
                           slope=rng.lognormal(np.log(1.5), 0.1, n),
                           dose_metric="absorbed dose", dose_unit="Gy", kind="TCP")
    kidney = ResponseCurve("lkb", d50=rng.lognormal(np.log(40.0), 0.12, n),
                           slope=rng.lognormal(np.log(0.12), 0.1, n),
                           dose_metric="BED", dose_unit="Gy")
    marrow = ResponseCurve("log-logistic", d50=rng.lognormal(np.log(3.5), 0.15, n),
                           slope=2.0, dose_metric="absorbed dose", dose_unit="Gy")
    regions = {
        "tumour": rx.Region(3.2, effective_half_life=90.0, tissue="tumour"),
        "kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney", rel_se=0.15),
        "red marrow": rx.Region(0.04, effective_half_life=60.0, alpha_beta=15.0,
                                repair_half_time=1.5),
    }
    curves = {"tcp": {"tumour": tumour}, "ntcp": {"kidney": kidney, "red marrow": marrow}}
    cases = {
        "ntcp-limit (expected)": {"objective": "ntcp-limit"},
        "ntcp-limit (risk 0.10)": {"objective": "ntcp-limit", "risk": 0.10},
        "max-p-plus (risk 0.10)": {"objective": "max-p-plus", "risk": 0.10},
        "target-tcp 0.5": {"objective": "target-tcp", "target_tcp": 0.5},
        "cycles, 7.4 GBq, max 9": {"objective": "ntcp-limit", "activity_per_cycle": 7.4,
                                   "max_cycles": 9, "cycles": None},
    }
    print(f"prescription, 3 regions, {n} posterior draws, best of {args.repeats}")
    for name, kw in cases.items():
        kw = {"cycles": 4, **kw}
        seconds, plan = _best(lambda kw=kw: rx.prescribe(regions, **curves, **kw), args.repeats)
        print(f"  {name:26s} {seconds * 1000:8.1f} ms   -> {plan.activity_gbq:.3f} GBq x "
              f"{plan.cycles}, limiting {plan.limiting}")
    fixture = Path(__file__).resolve().parents[1] / "data" / "fits" / "ntcp_pymc6_arviz1.nc"
    if fixture.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = dr.load(fixture)
        region = {"kidney": regions["kidney"]}
        for view in ("spread", "averaged"):
            seconds, plan = _best(
                lambda view=view: rx.prescribe(region, cycles=4, ntcp={"kidney": fit},
                                               risk=0.10, new_study=view), args.repeats)
            print(f"  FittedModel (200 draws), new_study={view:8s} {seconds * 1000:8.1f} ms"
                  f"   -> {plan.activity_gbq:.3f} GBq")

    n_pat = 10_000
    population = pd.DataFrame({
        "kidney": rng.lognormal(np.log(0.46), 0.3, n_pat),
        "red marrow": rng.lognormal(np.log(0.04), 0.3, n_pat),
        "tumour": rng.lognormal(np.log(3.2), 0.6, n_pat),
    })
    population["kidney measured"] = population["kidney"] * rng.lognormal(0.0, 0.13, n_pat)
    strategies = {"fixed 4 x 7.4": rx.fixed(7.4, 4), "activity": rx.activity_to_limit(4),
                  "cycles": rx.cycles_to_limit(7.4, 9)}
    seconds, frame = _best(lambda: rx.compare_strategies(
        population, strategies, regions=regions, **curves), max(1, args.repeats // 2))
    print(f"compare_strategies, {n_pat} patients, 3 strategies, 1000 draws: "
          f"{seconds:.2f} s")
    print(frame[["strategy", "total_activity_mean", "TCP tumour mean", "NTCP kidney mean",
                 "over-treated", "under-treated"]].to_string(index=False))


if __name__ == "__main__":
    main()
