"""Errors that are not the user's input: a narrow terminal, a full disk, an unwritable output.

Every command either works or ends with one line on standard error and exit status 1 (never a
traceback). The streams are real ``io.TextIOWrapper`` objects (ASCII-only, or over a device that
is full), so the command meets them as it would on a terminal or a redirect.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from doseresponse import cli
from doseresponse.models.io import save
from tests.cli.conftest import entry_point
from tests.test_io_integrity import make_fit

HELP_COMMANDS = ["fit", "curve", "dose-at", "summary", "compare", "plot", "dosimetry",
                 "prescribe", "report", "datasets", "demo", "bed", "tissues", "nuclides"]


class _FullDevice(io.RawIOBase):
    """A writable raw stream that fails like ``/dev/full`` (ENOSPC on every write)."""

    full = True

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)  # emptied after the test, so closing the stream does not fail


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("output_failures") / "fit.nc"
    save(make_fit(), path)
    return path


def _commands(fit_file: Path) -> dict[str, list[str]]:
    return {
        "tissues": ["tissues"],
        "nuclides": ["nuclides"],
        "datasets": ["datasets"],
        "bed": ["bed", "--dose", "5", "--effective-half-life", "50", "--tissue", "kidney"],
        "summary": ["summary", str(fit_file)],
        "curve": ["curve", str(fit_file), "--dose", "20", "40"],
        "dose-at": ["dose-at", str(fit_file), "0.05"],
    }


def _call(args, stdout, stderr, monkeypatch) -> tuple[int, str]:
    """``cli.main(args)`` with the given streams; (status, standard error as text)."""
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    try:
        code = cli.main(args)
    except SystemExit as stop:
        code = stop.code
    with contextlib.suppress(OSError):
        stdout.flush()
    stderr.flush()
    return code, stderr.buffer.getvalue().decode("ascii", "replace")


def _ascii():
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii")


def _one_line(err: str, command: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"doseresponse {command}: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", HELP_COMMANDS)
def test_help_of_every_command_works_on_an_ascii_only_terminal(command, monkeypatch):
    out = _ascii()
    code, err = _call([command, "--help"], out, _ascii(), monkeypatch)
    assert code == 0 and err == ""
    text = out.buffer.getvalue().decode("ascii")
    assert f"usage: doseresponse {command}" in text


@pytest.mark.parametrize("name", ["tissues", "nuclides", "datasets", "bed", "summary", "curve",
                                  "dose-at"])
def test_output_works_on_an_ascii_only_terminal(name, fit_file, monkeypatch):
    out = _ascii()
    code, err = _call(_commands(fit_file)[name], out, _ascii(), monkeypatch)
    assert code == 0, err
    assert out.buffer.getvalue()  # printed, with escapes (\u03b1) where ASCII has no letter
    assert sys.stdout is out and out.errors == "strict"  # the stream is given back unchanged


def test_non_ascii_characters_are_escaped_not_lost(monkeypatch):
    out = _ascii()
    code, _ = _call(["tissues"], out, _ascii(), monkeypatch)
    assert code == 0
    assert "\\u03b1/\\u03b2" in out.buffer.getvalue().decode("ascii")  # alpha/beta


def test_errors_on_an_ascii_only_terminal_are_one_line(monkeypatch, tmp_path):
    # a message with non-ASCII text (a unit in the error) must not crash the error line itself
    code, err = _call(["summary", str(tmp_path / "m\u00e4ssig.nc")], _ascii(), _ascii(),
                      monkeypatch)
    assert code == 1
    line = _one_line(err, "summary")
    assert "no such file" in line and "\\xe4" in line


@pytest.mark.parametrize("name", ["tissues", "nuclides", "datasets", "bed", "summary", "curve",
                                  "dose-at"])
def test_a_full_disk_on_standard_output_is_one_line_exit_1(name, fit_file, monkeypatch):
    device = _FullDevice()
    out = io.TextIOWrapper(io.BufferedWriter(device), encoding="utf-8")
    err_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    code, err = _call(_commands(fit_file)[name], out, err_stream, monkeypatch)
    device.full = False
    assert code == 1
    line = _one_line(err, name)
    assert "no space left" in line and "free disk space or write elsewhere" in line


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_when_writing_a_file_is_one_line_exit_1(monkeypatch):
    err_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    code, err = _call(["datasets", "bliss_beetles", "--csv", "/dev/full", "--overwrite"],
                      io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), err_stream, monkeypatch)
    assert code == 1, err
    line = _one_line(err, "datasets")
    assert "no space left" in line and "free disk space" in line


def test_an_unwritable_output_is_one_line_exit_1(fit_file, tmp_path, monkeypatch):
    # permissions do not stop root, so the refusal of the file system is simulated
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "curve.png"))

    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", refuse)
    err_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    code, err = _call(["plot", str(fit_file), "-o", str(tmp_path / "curve.png")],
                      io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), err_stream, monkeypatch)
    assert code == 1
    line = _one_line(err, "plot")
    assert "permission denied" in line and "choose a file or folder you can" in line


@pytest.mark.parametrize("env", [
    {"PYTHONIOENCODING": "ascii"},
    pytest.param({"LC_ALL": "C", "LANG": "C"}, marks=pytest.mark.slow),  # Python coerces C
])
def test_the_installed_command_on_a_narrow_terminal(env):
    completed = subprocess.run([*entry_point(), "tissues"], capture_output=True,
                               env={**os.environ, **env}, check=False, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == b""
    assert completed.stdout.split()[0] == b"name"


def test_an_interrupted_fit_prints_how_far_it_got_and_writes_nothing(tmp_path, monkeypatch,
                                                                      three_centre_ipd_frame):
    import doseresponse as dr

    def interrupted(self, data, **settings):
        raise KeyboardInterrupt(
            "fit interrupted after 120 of 1000 draws per chain (4 chains); the partial "
            "posterior was discarded and nothing was returned or saved."
        )

    monkeypatch.setattr(dr.NTCPModel, "fit", interrupted)
    table = tmp_path / "cohort.csv"
    three_centre_ipd_frame.to_csv(table, index=False)
    out = tmp_path / "fit.nc"
    err_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    code, err = _call(["fit", str(table), "--dose", "bed", "--outcome", "tox", "--study",
                       "study", "-o", str(out)],
                      io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), err_stream, monkeypatch)
    assert code == 130
    lines = err.splitlines()
    assert lines[-1].startswith("doseresponse fit: interrupted: fit interrupted after 120 of")
    assert "Traceback" not in err and not out.exists()
