"""``doseresponse demo`` benchmark (a script, not a test).

Run:  python tests/benchmarks/bench_demo.py [--cold] [--policies PASSIVE ACTIVE]

Runs the installed ``doseresponse demo`` in a subprocess once per OpenMP wait policy
(``OMP_WAIT_POLICY``; the command sets PASSIVE unless the environment says otherwise) and prints,
side by side, the wall-clock and CPU seconds of each step from the run's ``results.json`` and the
whole process's wall, user and system time. ``--cold`` first removes the package's
``__pycache__`` folders (byte code and numba's compiled kernels) and points matplotlib at an empty
configuration folder, so every run includes the compilation. The machine's load average is
printed before and after: on a shared machine wall time measures the neighbours as much as the
demo; CPU time does not.

Measured with /usr/bin/time on the whole process (2 cores shared with ~8 other jobs, load
average 10-17; Python 3.11, nutpie 0.16.8, a fresh virtual environment installed with
``pip install .``): cold, PASSIVE: wall 81 s, CPU 27.4 s (user + sys); warm, PASSIVE: wall 76 s,
CPU 21.8 s; warm, ACTIVE (spinning threads, the OpenMP default): wall 110 s, CPU 27.4 s. Cold
minus warm: ~6 s CPU of numba compiling the log-density kernel in the fit step, the rest byte
compilation and imports. The physician report alone (same fits, in-process): PASSIVE wall 27 s /
CPU 6.6 s, ACTIVE 56 s / 13.7 s, one numba thread 27 s / 7.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import doseresponse


def _entry_point() -> list[str]:
    script = shutil.which("doseresponse", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "doseresponse"]


def _clear_caches() -> int:
    root = Path(doseresponse.__file__).resolve().parent
    folders = list(root.rglob("__pycache__"))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


def _run(policy: str, cold: bool, workdir: Path) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": policy, "MPLBACKEND": "Agg"}
    if cold:
        print(f"  removed {_clear_caches()} __pycache__ folders of the package")
        env["MPLCONFIGDIR"] = tempfile.mkdtemp(dir=workdir)
    out = workdir / f"demo-{policy.lower()}-{time.monotonic_ns()}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*_entry_point(), "demo", "--out", str(out), "--quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = json.loads((out / "results.json").read_text())
    return {"wall": wall, "user": after.ru_utime - before.ru_utime,
            "sys": after.ru_stime - before.ru_stime, "steps": results["timings_s"],
            "cpu_steps": results["cpu_times_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="clear the caches before each run")
    parser.add_argument("--policies", nargs="+", default=["PASSIVE", "ACTIVE"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in args.policies:
            print(f"running doseresponse demo with OMP_WAIT_POLICY={policy}"
                  + (" (cold)" if args.cold else ""))
            runs[policy] = _run(policy, args.cold, Path(tmp))
    print(f"load average after: {os.getloadavg()}")
    header = f"{'':<28}" + "".join(f"{p:>22}" for p in runs)
    print(header)
    for key in ("wall", "user", "sys"):
        print(f"{'process ' + key + ' (s)':<28}" + "".join(f"{r[key]:>22.1f}"
                                                        for r in runs.values()))
    for step in next(iter(runs.values()))["steps"]:
        cells = "".join(f"{r['steps'][step]:>11.1f}{r['cpu_steps'][step]:>11.1f}"
                        for r in runs.values())
        print(f"{'end of ' + step + ' (wall, cpu)':<28}{cells}")


if __name__ == "__main__":
    main()
