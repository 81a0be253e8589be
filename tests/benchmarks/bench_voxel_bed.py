"""Voxel BED map with a half-life map against a plain copy of the map (a script, not a test).

Run:  python tests/benchmarks/bench_voxel_bed.py [--repeats 7]

For 128³ and 256×256×128 float64 maps (seeded dose in Gy, effective half-life in h) it prints,
side by side, the best-of-N wall and CPU time of ``arr.copy()`` of the dose map, of
``bed_exponential`` (the compiled one-pass kernel) with a half-life map, with a scalar half-life
and with uptake + washout maps, and of the naive numpy expression, each as a multiple of the
copy. Target (issue 12): BED with a half-life map within 1.5× the copy. One thread; the first
call (numba compile or cache load) is excluded as a warm-up and timed separately. For context the
table also shows ``np.add(map, T_eff map)``: any operation that reads two maps and writes one new
map moves 1.5× the bytes of a copy, so on maps far larger than the CPU caches that row is the
memory-bandwidth floor for the BED with a half-life map; ``np.full`` shows that merely writing
a new map with ordinary stores can cost more than ``arr.copy()`` (whose memcpy avoids reading
the destination into the cache first).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from doseresponse.radiobiology.bed import bed_exponential  # noqa: E402

ALPHA_BETA, REPAIR_HALF_TIME = 2.6, 2.8  # kidney preset (radiobiology notes §5.1)


def best_time(func: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and CPU time (s) of `repeats` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    return min(wall), min(cpu)


def run(shape: tuple[int, ...], repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dose = rng.gamma(2.0, 5.0, size=shape)  # Gy
    t_eff = rng.uniform(20.0, 150.0, size=shape)  # h
    t_up = rng.uniform(0.5, 10.0, size=shape)  # h
    lq = {"alpha_beta": ALPHA_BETA, "repair_half_time": REPAIR_HALF_TIME}
    cases: list[tuple[str, Callable[[], object]]] = [
        ("arr.copy()", dose.copy),
        ("bed_exponential(map, T_eff map)",
         lambda: bed_exponential(dose, effective_half_life=t_eff, **lq)),
        ("bed_exponential(map, T_eff scalar)",
         lambda: bed_exponential(dose, effective_half_life=50.0, **lq)),
        ("bed_exponential(map, T_eff + T_up maps)",
         lambda: bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **lq)),
        ("np.add(map, T_eff map) (2-in/1-out floor)", lambda: np.add(dose, t_eff)),
        ("np.full(shape, 1.0) (write-only new map)", lambda: np.full(shape, 1.0)),
        ("naive numpy D*(1+D*G/ab), T_eff map",
         lambda: dose * (1 + dose * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff)) / ALPHA_BETA)),
    ]
    start = time.perf_counter()
    bed_exponential(dose[:2], effective_half_life=t_eff[:2], **lq)
    first = time.perf_counter() - start
    got = bed_exponential(dose, effective_half_life=t_eff, **lq)
    naive = dose * (1 + dose * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff)) / ALPHA_BETA)
    np.testing.assert_allclose(got, naive, rtol=1e-13)  # sanity: same numbers

    print(f"\nmap {shape}, float64, {dose.nbytes / 2**20:.0f} MiB per array, best of {repeats}, "
          f"1 thread (first call incl. compile/cache load: {first * 1e3:.0f} ms)")
    print(f"{'operation':42s} {'wall ms':>8s} {'x copy':>7s} {'cpu ms':>8s} {'x copy':>7s}")
    copy_wall = copy_cpu = None
    for name, func in cases:
        func()  # warm-up
        wall, cpu = best_time(func, repeats)
        if copy_wall is None:
            copy_wall, copy_cpu = wall, cpu
        print(f"{name:42s} {wall * 1e3:8.1f} {wall / copy_wall:7.2f} {cpu * 1e3:8.1f} "
              f"{cpu / copy_cpu:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (best of, >= 5)")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    for shape in ((128, 128, 128), (256, 256, 128)):
        run(shape, max(args.repeats, 5), args.seed)


if __name__ == "__main__":
    main()
