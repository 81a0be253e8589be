"""Benchmark: first fit of the partially pooled logistic NTCP model (not a test).

Simulated cohort: 500 patients in 8 studies (τ = 0.3 on log D50, one binary covariate with a
dose-modifying factor 0.7), 4 chains × 1000 tune × 1000 draws. Each configuration runs in a fresh
Python process so compilation is measured honestly:

* ``cold``  — empty PyTensor compile caches (``base_compiledir``, which also holds PyTensor's
  numba cache) and an empty numba cache (``NUMBA_CACHE_DIR``, where the package's compiled
  kernels go), in a temporary directory;
* ``warm``  — a second process reusing that cache (what a user sees from the second fit on).

For each sampler — the package default ``auto`` (nutpie on the analytic log density of
:class:`doseresponse.models.density.LogDensity`, through compiled C callbacks), the same density
through nutpie's public Python-callback route (``nutpie-python``, the fallback when the C route
is unavailable), and plain ``pymc.sample`` on the PyMC model — it prints model build time,
compile time, sampling time, first-fit total (build + compile + sample; Python/PyMC import time
is printed separately), minimum bulk ESS over the reported parameters, ESS per second of
sampling, maximum R-hat and divergences.

Run: ``python tests/benchmarks/bench_ntcp_fit.py`` (takes several minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

SAMPLERS = ("auto", "nutpie-python", "pymc")
PATIENTS = [63, 63, 63, 63, 62, 62, 62, 62]  # 500 patients, 8 studies


def one_run(sampler: str) -> dict:
    """Fit once in this process and return the measured figures."""
    start = time.perf_counter()
    import arviz as az

    from doseresponse.models.density import LogDensity
    from doseresponse.models.model import NTCPModel
    from doseresponse.models.sampling import sample_density
    from doseresponse.simulate import simulate_cohort

    import_s = time.perf_counter() - start
    sim = simulate_cohort(
        curve="logistic", d50=40.0, slope=1.5, n_studies=8, patients_per_study=PATIENTS,
        tau=0.3, covariates={"htn": (0.4, 0.7)}, dose_metric="BED", random_seed=2024,
    )
    t0 = time.perf_counter()
    spec = NTCPModel(curve="logistic", pooling="partial").spec_for(sim.data)
    settings = dict(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    if sampler in ("auto", "nutpie-python"):  # the analytic density, no PyMC graph
        density = LogDensity(spec, sim.data)
        build_s = time.perf_counter() - t0
        route = "python-callbacks" if sampler == "nutpie-python" else "auto"
        groups, info = sample_density(density, route=route, **settings)
    else:
        from doseresponse.models.hierarchical import build_model
        from doseresponse.models.pymc_sampling import sample_model

        model = build_model(spec, sim.data)
        build_s = time.perf_counter() - t0
        groups, info = sample_model(model, sampler=sampler, **settings)
    names = ["d50", "gamma50", "tau", "factor", "d50_study"]
    posterior = groups["posterior"]
    ess = az.ess(posterior[names], method="bulk")
    min_ess = float(min(float(ess[n].min()) for n in names))
    rhat = az.rhat(posterior[names])
    return {
        "sampler": f"{info.sampler}{'/' + info.route if info.route else ''}",
        "stack": f"py{sys.version_info.major}.{sys.version_info.minor} "
                 f"arviz {az.__version__}",
        "import_s": import_s,
        "build_s": build_s,
        "compile_s": info.compile_seconds,
        "sample_s": info.sampling_seconds,
        "first_fit_s": build_s + info.compile_seconds + info.sampling_seconds,
        "min_bulk_ess": min_ess,
        "ess_per_s": min_ess / info.sampling_seconds,
        "max_rhat": float(max(float(rhat[n].max()) for n in names)),
        "divergences": int(groups["sample_stats"]["diverging"].sum()),
    }


def main() -> None:
    """Run every sampler cold then warm, each in a fresh process, and print a table."""
    rows = []
    for sampler in SAMPLERS:
        with tempfile.TemporaryDirectory(prefix="dr-bench-") as cache:
            env = dict(os.environ)
            # base_compiledir, not compiledir: PyTensor's numba cache lives under the base
            env["PYTENSOR_FLAGS"] = f"base_compiledir={cache}/pytensor"
            env["NUMBA_CACHE_DIR"] = f"{cache}/numba"
            for state in ("cold", "warm"):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", sampler],
                    env=env, capture_output=True, text=True, check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row.update({"requested": sampler, "cache": state})
                rows.append(row)
                print(_format(row), flush=True)
    by = {(r["requested"], r["cache"]): r for r in rows}
    for state in ("cold", "warm"):
        default, public = by[("auto", state)], by[("nutpie-python", state)]
        plain = by[("pymc", state)]
        print(
            f"{state}: first fit default {default['first_fit_s']:.1f} s, public route "
            f"{public['first_fit_s']:.1f} s, plain pymc {plain['first_fit_s']:.1f} s; ESS/s "
            f"{default['ess_per_s']:.0f} / {public['ess_per_s']:.0f} / {plain['ess_per_s']:.0f}"
        )


def _format(row: dict) -> str:
    return (
        f"[{row['stack']}] {row['requested']:>13} ({row['sampler']}) {row['cache']:>4}: "
        f"import {row['import_s']:5.1f} s | build {row['build_s']:4.2f} s | "
        f"compile {row['compile_s']:5.1f} s | sample {row['sample_s']:5.1f} s | "
        f"first fit {row['first_fit_s']:5.1f} s | min bulk ESS {row['min_bulk_ess']:6.0f} | "
        f"ESS/s {row['ess_per_s']:6.0f} | R-hat {row['max_rhat']:.3f} | "
        f"divergences {row['divergences']}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one_run(sys.argv[2])))
    else:
        main()
