"""Voxel BED map with a half-life map against a plain copy of the map (a script, not a test).

Run:  python tests/benchmarks/bench_voxel_bed.py [--repeats 15]

For 128³ and 256×256×128 float64 maps (seeded dose in Gy, effective half-life in h) it prints
the best-of-N wall and CPU time of each operation and its ratio to the row's fair reference:

* rows that return a **new** map are compared with ``arr.copy()`` of the dose map (which
  allocates a new map and copies into it with ``memcpy``);
* rows that write into an **existing** buffer (``out=buf``) are compared with
  ``np.copyto(buf, map)`` (copy into the same kind of reused buffer, no allocation).

Target (issue 12): ``bed_exponential`` with a half-life map within 1.5× of the copy. What the
rows measure:

* ``bed_exponential(map, T_eff map)``: the package function as a user calls it (argument
  checks, a new output, the compiled one-pass loop with ordinary stores);
* ``..., out=buf``: into a reused buffer (a caller looping over many maps); buffers of
  32 MiB or more are written with streaming stores;
* ``... streaming`` / ``... ordinary stores``: the same call with the streaming threshold
  lowered to 0 / raised to infinity, to show what the streaming stores do to each case;
* ``bed_exponential(work, T_eff map, out=work)``: in place (the dose array becomes the BED);
  ``work`` is refilled with the dose outside the timed call;
* ``np.add(map, T_eff map)``: any operation that reads two maps and writes a new one with
  ordinary stores (numpy's) moves at least 1.5× the bytes of a copy, and with the write's
  read-for-ownership 2×; on maps far larger than the caches it is the memory floor for ordinary
  stores;
* ``np.full(shape, 1.0)``: merely writing a new map with ordinary stores.

Everything runs on one thread (``NUMBA_NUM_THREADS=1`` etc.; the kernels are serial). The
cases are timed in interleaved rounds (each round calls every case ``CALLS_PER_ROUND`` times in
a row) and the best call of each is kept, so a burst of load on a shared machine does not
favour one row; the first call (numba cache load) is a warm-up, timed separately.

New maps and page faults: 64 MiB arrays are above glibc's mmap threshold, so every new
256×256×128 map is fresh memory whose pages the operating system zeroes on first touch. On the
development machine (a VM) that first touch cost ``memcpy`` (``arr.copy()``) about 1–2.5 ms of
CPU per 64 MiB but the other writers tried about 7 ms (``ndarray.fill``, numba copy loops
with ordinary or with streaming stores; the same number of page faults, counted), so at that
size the new-map rows are bounded by that first touch and ``np.add``, not by the copy; the
``out=buf`` rows, which write into memory already mapped, show the loop's own cost. The 128³
arrays (16 MiB) come from the reused heap and partly stay in the 32 MiB L3 cache between calls.

Measured on the shared 2-core AMD EPYC (Zen 4, AVX-512) development machine, 2 December 2026,
Python 3.11, numba 0.65: five runs of this script (``--repeats 9``) between 02:08 and 02:35 UTC
while other jobs kept the load average at 3–11, each run beside one of the same script on the
package before issue 12's ``out=`` change (commit c4f0327; the rows it has). Wall-time ratio
to the row's reference, median [range over the runs]; CPU-time ratio (median) after it:

===============================================  =======================  =======================
operation (reference)                            128³                     256×256×128
===============================================  =======================  =======================
before: bed_exponential(map, T_eff map) (copy)   1.55 [1.46–1.95], 1.55   1.84 [1.72–2.42], 1.82
bed_exponential(map, T_eff map) (copy)           1.54 [1.41–1.66], 1.53   2.19 [1.58–2.40], 1.80
np.add(map, T_eff map) (copy)                    1.41 [1.27–1.48], 1.40   1.70 [1.35–2.08], 1.68
bed_exponential(map, T_eff scalar) (copy)        0.98 [0.98–1.15], 0.98   1.57 [0.92–1.84], 1.50
bed_exponential(T_eff + T_up maps) (copy)        1.86 [1.67–2.21], 1.85   2.29 [0.98–2.73], 2.14
bed_exponential(..., out=buf) (copyto)           1.47 [1.27–2.12], 1.46   1.14 [1.04–1.77], 1.12
  ... streaming, out=buf (copyto)                1.54 [1.14–1.92], 1.53   1.15 [0.96–1.73], 1.14
  ... ordinary stores, out=buf (copyto)          1.45 [1.29–2.05], 1.44   1.20 [1.07–1.90], 1.24
bed_exponential(work, ..., out=work) (copyto)    1.07 [1.02–1.09], 1.06   0.93 [0.90–0.98], 0.95
===============================================  =======================  =======================

(The in-place row is from the last three runs, after its loop was added.) Reading: a new BED
map costs what it did before (the same loop; new maps get ordinary stores) — about 1.5× a copy
at 128³ and 1.8× (CPU) at 256×256×128, about the cost of ``np.add`` of the two maps: the
issue's 1.5× target for a new map is not met (1.54 at 128³ is on the edge). At 256×256×128 the
new map's first touch (see above) is most of the gap; into a reused buffer the BED costs 1.1×
``np.copyto`` and in place 0.9–1.1×. At 128³ a copy's 32 MiB of traffic largely stays in the
32 MiB L3 cache and the BED's 48 MiB does not, so a reused buffer does not help there (1.5×);
in place (32 MiB) does.
Streaming stores changed the CPU time into a 64 MiB buffer by −8 % and into a 16 MiB one by
+6 % (medians), hence the 32 MiB threshold.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from doseresponse.radiobiology.bed import bed_exponential  # noqa: E402

ALPHA_BETA, REPAIR_HALF_TIME = 2.6, 2.8  # kidney preset (radiobiology notes §5.1)
CALLS_PER_ROUND = 3
"""Consecutive calls of a case per round: the first may pay for the allocator's state left by
the previous case (glibc returns a freed 16 MiB heap top to the system, so the next new map
page-faults); the best of the following ones is the steady state of calling it repeatedly."""
_BED_MODULE = importlib.import_module("doseresponse.radiobiology.bed")  # `bed` is shadowed


def stream_threshold(func: Callable[[], object], threshold: float) -> Callable[[], object]:
    """``func`` run with the streaming-store threshold (bytes of ``out``) set to ``threshold``."""

    def run() -> object:
        saved = _BED_MODULE._STREAM_BYTES
        _BED_MODULE._STREAM_BYTES = threshold
        try:
            return func()
        finally:
            _BED_MODULE._STREAM_BYTES = saved

    return run


def run(shape: tuple[int, ...], rounds: int, seed: int) -> dict[str, float]:
    """Time every case on maps of ``shape``; print the table and return the wall ratios."""
    rng = np.random.default_rng(seed)
    dose = rng.gamma(2.0, 5.0, size=shape)  # Gy
    t_eff = rng.uniform(20.0, 150.0, size=shape)  # h
    t_up = rng.uniform(0.5, 10.0, size=shape)  # h
    buf = np.empty(shape)
    work = np.empty(shape)  # in place: refilled with the dose (untimed) before every call
    lq = {"alpha_beta": ALPHA_BETA, "repair_half_time": REPAIR_HALF_TIME}
    new, into = "arr.copy()", "np.copyto(buf, map)"
    cases: list[tuple[str, str, Callable[[], object]]] = [
        (new, new, dose.copy),
        ("bed_exponential(map, T_eff map)", new,
         lambda: bed_exponential(dose, effective_half_life=t_eff, **lq)),
        ("bed_exponential(map, T_eff scalar)", new,
         lambda: bed_exponential(dose, effective_half_life=50.0, **lq)),
        ("bed_exponential(map, T_eff + T_up maps)", new,
         lambda: bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **lq)),
        ("np.add(map, T_eff map)", new, lambda: np.add(dose, t_eff)),
        ("np.full(shape, 1.0)", new, lambda: np.full(shape, 1.0)),
        ("naive numpy D*(1+D*G/ab), T_eff map", new,
         lambda: dose * (1 + dose * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff)) / ALPHA_BETA)),
        (into, into, lambda: np.copyto(buf, dose)),
        ("bed_exponential(map, T_eff map, out=buf)", into,
         lambda: bed_exponential(dose, effective_half_life=t_eff, out=buf, **lq)),
        ("  ... streaming, out=buf", into, stream_threshold(
            lambda: bed_exponential(dose, effective_half_life=t_eff, out=buf, **lq), 0)),
        ("  ... ordinary stores, out=buf", into, stream_threshold(
            lambda: bed_exponential(dose, effective_half_life=t_eff, out=buf, **lq), math.inf)),
        ("bed_exponential(work, T_eff map, out=work)", into,
         lambda: bed_exponential(work, effective_half_life=t_eff, out=work, **lq)),
    ]
    setups = {"bed_exponential(work, T_eff map, out=work)": lambda: np.copyto(work, dose)}
    start = time.perf_counter()
    bed_exponential(dose[:2], effective_half_life=t_eff[:2], **lq)
    first = time.perf_counter() - start
    # sanity: every way of computing the BED with a T_eff map gives the same numbers
    naive = dose * (1 + dose * (REPAIR_HALF_TIME / (REPAIR_HALF_TIME + t_eff)) / ALPHA_BETA)
    streamed = bed_exponential(dose, effective_half_life=t_eff, **lq)  # new output
    np.testing.assert_allclose(streamed, naive, rtol=1e-13)
    for name, _, func in cases:
        if "out=buf" in name:
            buf[:] = np.nan
            func()
            np.testing.assert_array_equal(buf, streamed)
        if name in setups:
            setups[name]()
            func()
            np.testing.assert_array_equal(work, streamed)
    for _, _, func in cases:  # warm-up
        func()
    wall = {name: math.inf for name, _, _ in cases}
    cpu = dict(wall)
    for _ in range(rounds):
        for name, _, func in cases:
            for _ in range(CALLS_PER_ROUND):
                if name in setups:
                    setups[name]()
                start, start_cpu = time.perf_counter(), time.process_time()
                result = func()
                wall[name] = min(wall[name], time.perf_counter() - start)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
                del result

    print(f"\nmap {shape}, float64, {dose.nbytes / 2**20:.0f} MiB per array, best of {rounds} "
          f"interleaved rounds x {CALLS_PER_ROUND} calls, 1 thread (first call incl. cache "
          f"load: {first * 1e3:.0f} ms)")
    print(f"{'operation':42s} {'wall ms':>8s} {'cpu ms':>8s} {'x ref':>6s}  reference")
    ratios = {}
    for name, ref, _ in cases:
        ratios[name] = wall[name] / wall[ref]
        print(f"{name:42s} {wall[name] * 1e3:8.2f} {cpu[name] * 1e3:8.2f} {ratios[name]:6.2f}  "
              f"{'-' if name == ref else ref}")
    return ratios


def main() -> None:
    """Run the benchmark on both map sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15,
                        help="interleaved timing rounds (best of, >= 5)")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    for shape in ((128, 128, 128), (256, 256, 128)):
        run(shape, max(args.repeats, 5), args.seed)


if __name__ == "__main__":
    main()
