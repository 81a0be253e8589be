"""Population time-activity fit benchmark (a script, not a test).

Run:  python tests/benchmarks/bench_population_kinetics.py [--patients 50] [--cycles 4]
      [--model uptake-mono]

A simulated 177Lu-DOTATATE kidney cohort (``analyses/population_kinetics/run.py``): ``--patients``
patients, of whom 10 are imaged at 4/24/96/168 h in every cycle and the others in cycle 1 and
once (96 h) in later cycles (without fully imaged patients the between-cycle variation of the
clearance is barely identified and the sampler mixes poorly; ``--no-reference`` shows that).
Prints, side by side, the wall time of the hierarchical population fit (nutpie NUTS, public
Python-callback route, 4 chains × (1000 tune + 1000 draws)) and of the alternative the package
offered before — one ``fit_time_activity`` per multi-point patient-cycle plus ``madsen_tia`` per
single-point cycle — with the fraction of TIAs off by more than 10 % for each. With
``--model uptake-mono`` the cohort is the rise-then-washout (tumour-like) cohort of the analysis,
fitted with the population uptake-mono model, and the alternative is ``fit_time_activity``
(``model="auto"``) per multi-point cycle plus ``madsen_tia`` (T_eff 80 h). The first
population fit in a fresh environment also compiles the numba kernel (cached on disk afterwards).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from pathlib import Path

import numpy as np

import doseresponse.radiobiology as rb

ROOT = Path(__file__).resolve().parents[2]


def _analysis():
    path = ROOT / "analyses" / "population_kinetics" / "run.py"
    spec = importlib.util.spec_from_file_location("analyses_population_kinetics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--no-reference", action="store_true",
                        help="no fully imaged patients (every patient on the hybrid schedule)")
    parser.add_argument("--model", default="mono-exponential",
                        choices=["mono-exponential", "uptake-mono"])
    args = parser.parse_args()
    run = _analysis()
    schedule = [run.REFERENCE_TIMES] + [(96.0,)] * (args.cycles - 1)
    n_ref = 0 if args.no_reference else min(10, args.patients)
    simulate = run.simulate_uptake_cohort if args.model == "uptake-mono" else run.simulate_cohort
    per_model, madsen_teff = (("auto", 80.0) if args.model == "uptake-mono"
                              else ("mono-exponential", 50.0))
    samples, truth = simulate(schedule, n_reference=n_ref, n_study=args.patients - n_ref,
                              noise_log_sd=0.05, seed=11)
    samples = samples.drop(columns="group")
    print(f"{args.patients} patients x {args.cycles} cycles ({n_ref} fully imaged), "
          f"{len(samples)} samples")

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 10-draw warm-up cannot converge
        rb.fit_time_activity_population(samples.iloc[:40], draws=10, tune=10, chains=1,
                                        model=args.model, random_seed=1,
                                        progressbar=False)  # compile / cache
    warm = time.perf_counter() - t0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        fit = rb.fit_time_activity_population(samples, draws=args.draws, tune=args.draws,
                                              chains=4, model=args.model, random_seed=2,
                                              progressbar=False)
        pop_s = time.perf_counter() - t0
    merged = fit.per_cycle.merge(truth, on=["patient", "cycle"])
    pop_off = float((np.abs(merged["tia_mbq_h"] / merged["true_tia_mbq_h"] - 1) > 0.1).mean())

    t0 = time.perf_counter()
    estimates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for (p, c), g in samples.groupby(["patient", "cycle"]):
            if len(g) > 1:
                tia = rb.fit_time_activity(g["time_h"], g["activity_mbq"],
                                           model=per_model,
                                           nuclide="Lu-177").time_integrated_activity
            else:
                tia = rb.madsen_tia(float(g["activity_mbq"].iloc[0]),
                                    float(g["time_h"].iloc[0]), madsen_teff, 10.0
                                    ).time_integrated_activity
            estimates.append((p, c, tia))
    per_s = time.perf_counter() - t0
    est = dict(((p, c), t) for p, c, t in estimates)
    per_err = np.array([est[(r.patient, r.cycle)] / r.true_tia_mbq_h - 1
                        for r in truth.itertuples()])
    print(f"{'method':<52}{'wall time':>12}{'TIAs off >10 %':>16}")
    print(f"model {args.model}")
    print(f"{'population fit (nutpie, 4 chains x 2x' + str(args.draws) + ')':<52}"
          f"{pop_s:>10.1f} s{100 * pop_off:>15.1f}%")
    label = f"per-cycle fit_time_activity({per_model}) + Madsen (T_eff {madsen_teff:.0f} h)"
    print(f"{label:<52}{per_s:>10.2f} s"
          f"{100 * float((np.abs(per_err) > 0.1).mean()):>15.1f}%")
    print(f"(kernel compile / cache load + tiny warm-up fit: {warm:.1f} s; diagnostics "
          f"max R-hat {fit.diagnostics['max_rhat']:.3f}, min bulk ESS "
          f"{fit.diagnostics['min_ess_bulk']:.0f}, {len(caught)} warning(s))")


if __name__ == "__main__":
    main()
