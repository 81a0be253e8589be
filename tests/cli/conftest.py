"""Fixtures of the command-line tests: the installed entry point and two tiny fits made with it.

The fits use tiny sampler settings (2 chains x 100 draws after 100 warm-up iterations): they
exercise the commands, not the statistics, so their convergence diagnostics are expected to fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TINY = ("--draws", "100", "--tune", "100", "--chains", "2")


def entry_point() -> list[str]:
    """The installed ``doseresponse`` script next to this interpreter (else ``python -m``)."""
    script = shutil.which("doseresponse", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "doseresponse"]


def run(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run the installed command with ``args``; text output captured, never raising on failure."""
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "120"}
    completed = subprocess.run(
        [*entry_point(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
        check=False, timeout=300,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def in_process(args, capsys) -> tuple[int, str, str]:
    """``doseresponse.cli.main(args)`` in this process (no start-up cost): status, stdout, stderr.

    The installed entry point is tested by :func:`run`; this runs the same code faster, for the
    variants of a command.
    """
    from doseresponse import cli

    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as stop:  # argparse's usage errors, --help and --version
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory, three_centre_ipd_frame):
    """The three-centre IPD table of ``tests/conftest.py`` (columns study, bed, tox, htn)."""
    path = tmp_path_factory.mktemp("cli_data") / "cohort.csv"
    three_centre_ipd_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(cohort_csv):
    """Two fits of the cohort written by ``doseresponse fit``: log-logistic and logistic.

    Returns a dict with the paths (``"loglogistic"``, ``"logistic"``) and the completed process of
    the first fit (``"run"``, the installed entry point); the second runs in this process.
    """
    folder = cohort_csv.parent
    common = ("--dose", "bed", "--outcome", "tox", "--study", "study", "--covariate", "htn",
              "--dose-metric", "BED", "--dose-unit", "Gy", "--seed", "1", *TINY)
    first = run("fit", cohort_csv, *common, "--curve", "log-logistic",
                "-o", folder / "loglogistic.nc")
    assert first.returncode == 0, first.stderr
    from doseresponse import cli

    args = ["fit", cohort_csv, *common, "--curve", "logistic", "--quiet", "-o",
            folder / "logistic.nc"]
    assert cli.main([str(a) for a in args]) == 0
    return {"loglogistic": folder / "loglogistic.nc", "logistic": folder / "logistic.nc",
            "run": first}
