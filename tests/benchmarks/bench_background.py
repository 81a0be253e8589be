"""Benchmark: the partially pooled log-logistic NTCP fit with and without a background risk.

Simulated cohort: 500 patients in 8 studies (τ = 0.3 on log D50), log-logistic D50 = 40 Gy,
γ50 = 1.5, background b = 0.1, doses log-normal around 35 Gy (log-SD 0.6); 4 chains × 1000
tune × 1000 draws on the default route (nutpie on the compiled density). Each configuration runs
in a fresh Python process with the numba cache of the previous one ("warm": what a user sees
from the second fit on; the first, "cold" row also compiles the kernel). Printed side by side:
sampling time, first-fit time (build + compile + sample), minimum bulk ESS, ESS per second,
leapfrog steps per draw (the cost measure that does not depend on the machine's load), R-hat and
divergences. The background model runs in the sampler's mean-and-contrast coordinates of the
study effects (the default, :mod:`doseresponse.models.sampler_coordinates`) and, side by side,
in the model's own non-centred coordinates (what the sampler used before), each at
target_accept 0.95 (the default) and 0.99 (the default background models had before the
contrast coordinates). Not a test (no timed assertions).

Run: ``python tests/benchmarks/bench_background.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

PATIENTS = [63, 63, 63, 63, 62, 62, 62, 62]  # 500 patients, 8 studies


def one_run(background: bool, target_accept: float, contrasts: bool = True) -> dict:
    """Fit once in this process and return the measured figures."""
    import arviz as az

    from doseresponse.models.density import LogDensity
    from doseresponse.models.model import NTCPModel
    from doseresponse.models.sampling import sample_density
    from doseresponse.simulate import simulate_cohort

    sim = simulate_cohort(
        curve="log-logistic", d50=40.0, slope=1.5, n_studies=8, patients_per_study=PATIENTS,
        tau=0.3, background=0.1, dose_distribution=(35.0, 0.6), dose_metric="BED",
        random_seed=2024,
    )
    t0 = time.perf_counter()
    spec = NTCPModel(curve="log-logistic", background=background).spec_for(sim.data)
    density = LogDensity(spec, sim.data)
    if not contrasts:
        from _coordinates import in_model_coordinates  # beside this script

        density = in_model_coordinates(density)
    build_s = time.perf_counter() - t0
    groups, info = sample_density(density, draws=1000, tune=1000, chains=4, random_seed=1,
                                  progressbar=False, target_accept=target_accept)
    names = ["d50", "gamma50", "tau", "d50_study"] + (["background"] if background else [])
    posterior = groups["posterior"]
    ess = az.ess(posterior[names], method="bulk")
    min_ess = float(min(float(ess[n].min()) for n in names))
    rhat = az.rhat(posterior[names])
    return {
        "background": background,
        "target_accept": target_accept,
        "coordinates": "contrasts" if contrasts else "model",
        "steps_per_draw": float(groups["sample_stats"]["n_steps"].mean()),
        "build_s": build_s,
        "compile_s": info.compile_seconds,
        "sample_s": info.sampling_seconds,
        "first_fit_s": build_s + info.compile_seconds + info.sampling_seconds,
        "min_bulk_ess": min_ess,
        "ess_per_s": min_ess / info.sampling_seconds,
        "ess_per_1000_steps": 1000.0 * min_ess / float(groups["sample_stats"]["n_steps"].sum()),
        "max_rhat": float(max(float(rhat[n].max()) for n in names)),
        "divergences": int(groups["sample_stats"]["diverging"].sum()),
    }


def main() -> None:
    """Run without then with background (cold, warm, warm), each in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="dr-bench-bg-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=f"{cache}/numba")
        runs = (("cold", "0", "0.95", "1"), ("warm", "0", "0.95", "1"),
                ("warm", "1", "0.95", "1"), ("warm", "1", "0.99", "1"),
                ("warm", "0", "0.95", "0"), ("warm", "1", "0.95", "0"), ("warm", "1", "0.99", "0"))
        for state, flag, accept, contrasts in runs:
            out = subprocess.run([sys.executable, __file__, "--one", flag, accept, contrasts],
                                 env=env,
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{state:>4} background={row['background']!s:5} {row['coordinates']:>9} "
                f"coordinates, target_accept {row['target_accept']:.2f}: build "
                f"{row['build_s']:4.2f} s | "
                f"compile {row['compile_s']:5.1f} s | sample {row['sample_s']:5.1f} s | "
                f"first fit {row['first_fit_s']:5.1f} s | min bulk ESS "
                f"{row['min_bulk_ess']:6.0f} | ESS/s {row['ess_per_s']:6.0f} | steps/draw "
                f"{row['steps_per_draw']:4.1f} | ESS per 1000 steps "
                f"{row['ess_per_1000_steps']:5.2f} | R-hat "
                f"{row['max_rhat']:.3f} | divergences {row['divergences']}",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        print(json.dumps(one_run(sys.argv[2] == "1", float(sys.argv[3]), sys.argv[4] == "1")))
    else:
        main()
