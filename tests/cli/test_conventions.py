"""Conventions every ``doseresponse`` command follows, checked on the installed entry point.

Help with an example, exit status 2 and one line for a usage error, status 1 and one line (no
traceback) for a missing or damaged file, ``--debug`` tracebacks, quiet closed pipes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from doseresponse import cli
from doseresponse.cli import build_parser
from tests.cli.conftest import entry_point, in_process, run

COMMANDS = ["fit", "curve", "dose-at", "summary", "compare", "plot", "dosimetry", "prescribe",
            "report", "datasets", "demo", "bed", "voxel", "tissues", "nuclides"]


def _one_line_error(stderr: str, command: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    prefix = f"doseresponse {command}: error: " if command else "doseresponse: error: "
    assert lines[0].startswith(prefix), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def test_every_command_is_tested():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


def test_help_of_every_command_shows_an_example():
    # the installed command, started for every sub-command at once (start-up dominates)
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = dict(zip(COMMANDS, pool.map(lambda c: run(c, "--help"), COMMANDS), strict=True))
    for command, completed in helps.items():
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.startswith(f"usage: doseresponse {command}")
        example = completed.stdout.split("\nexample", 1)[1]
        assert f"doseresponse {command}" in example, command
        assert "--json" in completed.stdout


def test_top_level_help_lists_the_commands():
    completed = run("--help")
    assert completed.returncode == 0
    for command in COMMANDS:
        assert command in completed.stdout


def test_python_dash_m_runs_the_same_command():
    completed = subprocess.run([sys.executable, "-m", "doseresponse", "--version"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("doseresponse ")


USAGE_ERRORS = [
    (["fit", "x.csv", "--dose", "d", "--outcome", "y", "--study", "s"], "-o"),
    (["fit", "x.csv", "--dose", "d", "--study", "s", "-o", "f.nc"], "--outcome"),
    (["fit", "x.csv", "--dose", "d", "--events", "e", "--study", "s", "-o", "f.nc"], "--n"),
    (["fit", "x.csv", "--dose", "d", "--outcome", "y", "--study", "s", "--draws", "0",
      "-o", "f.nc"], "--draws"),
    (["fit", "x.csv", "--dose", "d", "--outcome", "y", "--study", "s", "--curve", "nope",
      "-o", "f.nc"], "curve"),
    (["fit", "x.csv", "--dose", "d", "--outcome", "y", "--study", "s",
      "--measurement-error", "lognormal", "-o", "f.nc"], "--dose-se"),
    (["curve", "f.nc"], "--dose"),
    (["curve", "f.nc", "--dose", "-3"], "--dose"),
    (["curve", "f.nc", "--dose", "20", "--covariate", "htn"], "NAME=NUMBER"),
    (["dose-at", "f.nc", "1.5"], "probability"),
    (["dose-at", "f.nc", "0.05", "--ci-prob", "95"], "--ci-prob"),
    (["plot", "f.nc", "-o", "curve.jpg"], ".png"),
    (["compare", "a.nc"], "two"),
    (["datasets", "--csv", "out.csv"], "NAME"),
    (["bed", "--dose", "5", "--effective-half-life", "50"], "--tissue"),
    (["dosimetry", "s.csv"], "--mass"),
    (["dosimetry", "s.csv", "--mass", "kidneys=-1"], "REGION=KG"),
    (["dosimetry", "s.csv", "--mass", "kidneys=0.3", "--time-unit", "weeks"], "--time-unit"),
    (["prescribe"], "PLAN.json"),
    (["report", "f.nc"], "-o"),
    (["report", "f.nc", "-o", "report.txt"], ".html"),
    (["report", "f.nc", "-o", "r.html", "--figures", "gif"], "--figures"),
]


@pytest.mark.parametrize(("args", "needle"), USAGE_ERRORS)
def test_usage_errors_exit_2_with_one_line(args, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = in_process(args, capsys)
    assert code == 2, err
    assert needle in _one_line_error(err, args[0])
    assert out == ""
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(("args", "needle"), [USAGE_ERRORS[1], USAGE_ERRORS[7], (["nope"], "")])
def test_installed_command_exits_2_with_one_line(args, needle, tmp_path):
    completed = run(*args, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    command = args[0] if args[0] != "nope" else ""
    assert needle in _one_line_error(completed.stderr, command)
    assert completed.stdout == ""


MISSING = [
    ["fit", "missing.csv", "--dose", "d", "--outcome", "y", "--study", "s", "-o", "f.nc"],
    ["curve", "missing.nc", "--dose", "20"],
    ["dose-at", "missing.nc", "0.05"],
    ["summary", "missing.nc"],
    ["compare", "missing.nc", "other.nc"],
    ["plot", "missing.nc", "-o", "curve.png"],
    ["dosimetry", "missing.csv", "--mass", "kidneys=0.3"],
    ["prescribe", "missing.json"],
    ["report", "missing.nc", "-o", "report.html"],
]


@pytest.mark.parametrize("args", MISSING)
def test_missing_file_exits_1_with_one_line(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = in_process(args, capsys)
    assert code == 1, err
    line = _one_line_error(err, args[0])
    assert "missing." in line and "no such file" in line
    assert out == ""
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [MISSING[0], MISSING[2]])
def test_installed_command_missing_file_exits_1(args, tmp_path):
    completed = run(*args, cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "no such file" in _one_line_error(completed.stderr, args[0])


def test_a_file_that_is_not_a_fit_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fake.nc").write_text("not a NetCDF file\n")
    code, _, err = in_process(["summary", "fake.nc"], capsys)
    assert code == 1
    assert "fake.nc" in _one_line_error(err, "summary")


def test_bad_table_exits_1_naming_the_column(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("study,bed,tox\nA,10,0\nA,-5,1\nB,30,2\n")
    code, _, err = in_process(["fit", "bad.csv", "--dose", "bed", "--outcome", "tox", "--study",
                               "study", "--quiet", "-o", "f.nc"], capsys)
    assert code == 1
    line = _one_line_error(err, "fit")
    assert "tox" in line and "bed" in line  # every problem, in one line
    assert not (tmp_path / "f.nc").exists()


def test_missing_output_folder_exits_1_before_any_work(tmp_path, cohort_csv, capsys):
    code, _, err = in_process(["fit", cohort_csv, "--dose", "bed", "--outcome", "tox", "--study",
                               "study", "-o", tmp_path / "no" / "such" / "f.nc"], capsys)
    assert code == 1
    assert "does not exist" in _one_line_error(err, "fit")


def test_unexpected_errors_are_one_line_too(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "_cmd_table", broken)
    code, _, err = in_process(["tissues"], capsys)
    assert code == 1
    line = _one_line_error(err, "tissues")
    assert "RuntimeError: boom second line" in line and "--debug" in line


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = in_process(["summary", "missing.nc", "--debug"], capsys)
    assert code == 1
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("doseresponse summary: error: ")


@pytest.mark.parametrize("args", [["tissues"], ["datasets", "--json"], ["fit", "--help"]])
def test_closed_pipe_ends_quietly(args):
    # The reader closes the pipe before the command writes: the write fails with EPIPE.
    proc = subprocess.Popen([*entry_point(), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == b""


def test_pipe_into_head_keeps_the_first_line():
    command = " ".join(f"'{part}'" for part in entry_point()) + " tissues | head -1"
    completed = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.split()[0] == "name"


@pytest.mark.parametrize("command", ["tissues", "nuclides"])
def test_tables_print_json_records(command, capsys):
    code, out, _ = in_process([command, "--json"], capsys)
    assert code == 0
    records = json.loads(out)
    assert isinstance(records, list) and records and "name" in records[0]


def test_bed_json_matches_text(capsys):
    args = ["bed", "--dose", "5", "--effective-half-life", "50", "--tissue", "kidney"]
    record = json.loads(run(*args, "--json", check=True).stdout)
    code, text, _ = in_process(args, capsys)
    assert code == 0
    assert f"BED  = {record['bed_gy']:.4g} Gy" in text
    assert f"EQD2 = {record['eqd2_gy']:.4g} Gy" in text
