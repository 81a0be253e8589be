"""Voxel-map benchmark of bed_exponential and geud (a script, not a test).

Run:  python tests/benchmarks/bench_voxel_maps.py [--size 256] [--repeats 5]

Builds a seeded size³ float64 dose map (Gy) and effective-half-life map (h) and reports, for one
thread, the best-of-N wall time of each operation and its ratio to a plain ``arr.copy()`` of the
dose map, plus the peak extra memory (tracemalloc, which traces numpy's data allocations) as a
multiple of the dose map's size. Targets for bed_exponential: <= 2x the copy time, < 3x memory.
"""

from __future__ import annotations

import os

for _var in (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from doseresponse.radiobiology.bed import bed_exponential  # noqa: E402

ALPHA_BETA, REPAIR_HALF_TIME = 2.6, 2.8  # kidney preset (radiobiology notes §5.1)


def best_time(func: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and CPU time (s) of `repeats` calls (each result dropped before the next)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    return min(wall), min(cpu)


def peak_extra_memory(func: Callable[[], object]) -> int:
    """Peak bytes allocated during the call (including the returned array)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    result = func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="edge length of the cubic map")
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (best of, >= 5)")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    repeats = max(args.repeats, 5)

    rng = np.random.default_rng(args.seed)
    shape = (args.size,) * 3
    dose = rng.gamma(2.0, 5.0, size=shape)  # Gy
    t_eff = rng.uniform(20.0, 150.0, size=shape)  # h
    t_up = rng.uniform(0.5, 10.0, size=shape)  # h
    nbytes = dose.nbytes
    lq = {"alpha_beta": ALPHA_BETA, "repair_half_time": REPAIR_HALF_TIME}

    cases: list[tuple[str, Callable[[], object]]] = [
        ("arr.copy()", dose.copy),
        (
            "bed_exponential(map, T_eff map)",
            lambda: bed_exponential(dose, effective_half_life=t_eff, **lq),
        ),
        (
            "bed_exponential(map, T_eff scalar)",
            lambda: bed_exponential(dose, effective_half_life=50.0, **lq),
        ),
        (
            "bed_exponential(map, T_eff + T_up maps)",
            lambda: bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **lq),
        ),
        (
            "naive numpy D*(1+D*G/ab), T_eff map",
            lambda: (
                dose * (1 + dose * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff)) / ALPHA_BETA)
            ),
        ),
    ]
    try:
        from doseresponse.radiobiology.eud import geud
    except ImportError as exc:
        print(f"note: geud not available yet ({exc}); skipping the gEUD timings")
    else:
        for a in (-10.0, 0.5, 1.0, 4.0):
            cases.append((f"geud(map, a={a:g})", lambda a=a: geud(dose, a=a)))

    # sanity: the fast path agrees with the naive formula
    check = bed_exponential(dose[:8], effective_half_life=t_eff[:8], **lq)
    naive = dose[:8] * (1 + dose[:8] * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff[:8])) / 2.6)
    np.testing.assert_allclose(check, naive, rtol=1e-13)

    print(f"map {shape}, float64, {nbytes / 2**20:.0f} MiB per array, best of {repeats}, 1 thread")
    print("(CPU time is shown too: on a shared machine it is less disturbed by other processes)")
    copy_wall = copy_cpu = None
    header = f"{'operation':42s} {'wall ms':>8s} {'x copy':>7s} {'cpu ms':>8s} {'x copy':>7s}"
    print(f"{header} {'peak extra mem':>15s}")
    for name, func in cases:
        func()  # warm-up
        wall, cpu = best_time(func, repeats)
        if copy_wall is None:
            copy_wall, copy_cpu = wall, cpu
        memory = peak_extra_memory(func) / nbytes
        print(
            f"{name:42s} {wall * 1e3:8.1f} {wall / copy_wall:7.2f} {cpu * 1e3:8.1f} "
            f"{cpu / copy_cpu:7.2f} {memory:14.2f}x"
        )


if __name__ == "__main__":
    main()
