"""Benchmark: first fit of the late-toxicity mixture cure model, 1 000 patients / 8 studies.

Simulated cohort (``simulate_late_toxicity``): log-logistic eventual NTCP (D50 30 Gy, γ50 2,
τ 0.2), Weibull onset (median 24 months, shape 1.5), visits every 3 months, follow-up 6–30 or
12–48 months by centre; 4 chains × 1000 tune × 1000 draws. Each configuration runs in a fresh
Python process with its own empty numba cache (``cold``: the kernels are compiled) and then
again reusing it (``warm``: what a user sees from the second fit on). Side by side:

* ``late``        — ``LateToxicityModel`` through nutpie's C callbacks (the default);
* ``late-python`` — the same density through nutpie's public Python callbacks (the fallback);
* ``late-me``     — ``LateToxicityModel(measurement_error="lognormal")`` on the same design with
  20 % dosimetry error (``dose_rel_sd=0.2``): 1 000 latent true doses and the exposure model
  (the cost of the measurement-error model);
* ``binary``      — ``NTCPModel`` on the outcome seen by the last visit (the analysis it
  replaces; a smaller model, for scale);
* ``late-model``, ``binary-model`` — ``late`` and ``binary`` sampled in the model's own
  non-centred coordinates instead of the default mean-and-contrast coordinates of the study
  effects (:mod:`doseresponse.models.sampler_coordinates`; ``_coordinates.py`` beside this
  script), the comparison for that change.

Printed per run: compile time, sampling time, first fit (build + compile + sampling), minimum
bulk ESS over the reported parameters, ESS per second of sampling, R-hat, divergences.

Run: ``python tests/benchmarks/bench_late_toxicity.py`` (several minutes on 2 cores).

Measured 2026-12-01, Python 3.11 stack (nutpie 0.16.8), 2 cores shared with other jobs (load
average ≈ 11, so absolute times are inflated; the ratios are the information), one run each:

===========  =====  =========  ========  =========  ============  =====  ===========
config       cache  compile s  sample s  first fit  min bulk ESS  ESS/s  divergences
===========  =====  =========  ========  =========  ============  =====  ===========
late         cold   31.6       43.0      74.6       751           17.4   0
late         warm   2.1        43.4      45.4       751           17.3   0
late-python  cold   2.1        83.2      85.3       751           9.0    0
late-python  warm   2.5        62.5      65.1       751           12.0   0
binary       cold   12.2       8.5       20.7       829           97.9   0
binary       warm   1.9        7.7       9.6        829           107.7  0
===========  =====  =========  ========  =========  ============  =====  ===========

The cold C-callback compile includes the binary model's callbacks (imported with the shared
helpers of ``_nutpie_callbacks``) as well as the late-toxicity kernel and callback.

Measured 2026-12-02 with the measurement-error model added, Python 3.11 stack, warm cache only
(``--one late`` then ``--one late-me``), 2 cores shared with other jobs (absolute times again
inflated), one run each:

===========  =====  =========  ========  =========  ============  =====  ======  ===========
config       cache  compile s  sample s  first fit  min bulk ESS  ESS/s  R-hat   divergences
===========  =====  =========  ========  =========  ============  =====  ======  ===========
late         warm   1.7        55.5      57.2       565           10.2   1.015   0
late-me      warm   2.2        76.4      78.7       628           8.2    1.005   0
===========  =====  =========  ========  =========  ============  =====  ======  ===========

The 1 000 latent true doses cost about 40 % more sampling time per draw. Note the R-hat of the
plain model at these 1000 draws per chain (1.015, above the 1.01 gate): the reason
``LateToxicityModel.fit`` now defaults to 2000 draws.

Measured 2026-12-02 after the study effects were sampled as mean and contrasts, Python 3.11,
warm cache, otherwise idle 2 cores (``--one CONFIG``), one run each; the ``-model`` rows are
the same fits in the model's coordinates, run side by side:

============  ========  ============  =====  ==========  ======  ===========
config        sample s  min bulk ESS  ESS/s  steps/draw  R-hat   divergences
============  ========  ============  =====  ==========  ======  ===========
late          8.8       832           94.7   16.4        1.003   0
late-model    12.6      565           44.7   24.0        1.015   0
late-me       22.4      795           35.5   —           1.003   0
binary        2.6       857           324.3  14.5        1.003   0
binary-model  3.1       827           263.8  18.7        1.005   0
============  ========  ============  =====  ==========  ======  ===========

The contrast coordinates double the late model's ESS per second and bring its R-hat at 1000
draws per chain from 1.015 to 1.003 (the default stays 2000 draws).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CONFIGS = ("late", "late-python", "late-me", "binary", "late-model", "binary-model")
PATIENTS = [125] * 8  # 1 000 patients, 8 studies


def one_run(config: str) -> dict:
    """Fit once in this process and return the measured figures."""
    start = time.perf_counter()
    from doseresponse import _arviz_compat
    from doseresponse.models.density import LogDensity
    from doseresponse.models.late_density import LateToxicityDensity
    from doseresponse.models.late_toxicity import LateToxicityModel
    from doseresponse.models.model import NTCPModel
    from doseresponse.models.sampling import sample_density
    from doseresponse.simulate_late import simulate_late_toxicity

    import_s = time.perf_counter() - start
    sim = simulate_late_toxicity(
        n_studies=8, patients_per_study=PATIENTS, onset_median=24.0,
        follow_up=[(6.0, 30.0), (12.0, 48.0)] * 4, random_seed=2026,
        dose_rel_sd=0.2 if config == "late-me" else 0.0,
    )
    t0 = time.perf_counter()
    settings = dict(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    if config.startswith("late"):
        error = "lognormal" if config == "late-me" else "none"
        model = LateToxicityModel(measurement_error=error)
        density = LateToxicityDensity(model.spec_for(sim.data), sim.data)
        names = ["d50", "gamma50", "tau", "d50_study", "onset_median", "onset_shape"]
    else:
        density = LogDensity(NTCPModel("log-logistic").spec_for(sim.data), sim.data)
        names = ["d50", "gamma50", "tau", "d50_study"]
    if config.endswith("-model"):  # the comparison: the model's own non-centred coordinates
        from _coordinates import in_model_coordinates  # beside this script

        density = in_model_coordinates(density)
    build_s = time.perf_counter() - t0
    route = "python-callbacks" if config == "late-python" else "auto"
    groups, info = sample_density(density, route=route, **settings)
    posterior = groups["posterior"][names]
    ess = _arviz_compat.ess(posterior, method="bulk")
    rhat = _arviz_compat.rhat(posterior)
    min_ess = float(min(float(ess[n].min()) for n in names))
    return {
        "config": config, "route": info.route,
        "stack": f"py{sys.version_info.major}.{sys.version_info.minor}",
        "import_s": import_s, "build_s": build_s, "compile_s": info.compile_seconds,
        "sample_s": info.sampling_seconds,
        "first_fit_s": build_s + info.compile_seconds + info.sampling_seconds,
        "min_bulk_ess": min_ess, "ess_per_s": min_ess / info.sampling_seconds,
        "max_rhat": float(max(float(rhat[n].max()) for n in names)),
        "divergences": int(groups["sample_stats"]["diverging"].sum()),
        "steps_per_draw": float(groups["sample_stats"]["n_steps"].mean()),
    }


def main() -> None:
    """Run every configuration cold then warm, each in a fresh process, and print a table."""
    for config in CONFIGS:
        with tempfile.TemporaryDirectory(prefix="dr-bench-late-") as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=f"{cache}/numba")
            for state in ("cold", "warm"):
                out = subprocess.run([sys.executable, __file__, "--one", config], env=env,
                                     capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"[{row['stack']}] {config:>11} ({row['route']}) {state:>4}: "
                    f"compile {row['compile_s']:5.1f} s | sample {row['sample_s']:5.1f} s | "
                    f"first fit {row['first_fit_s']:5.1f} s | min bulk ESS "
                    f"{row['min_bulk_ess']:6.0f} | ESS/s {row['ess_per_s']:6.1f} | steps/draw "
                    f"{row['steps_per_draw']:4.1f} | R-hat "
                    f"{row['max_rhat']:.3f} | divergences {row['divergences']}",
                    flush=True,
                )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one_run(sys.argv[2])))
    else:
        main()
