"""Interrupted, failed and badly configured fits never return (or save) a partial posterior.

Fast tests check the guards with stand-ins; the slow ones interrupt real fits in a subprocess
(SIGINT with nutpie and with PyMC, SIGTERM with PyMC's chain processes) and check the exit, the
message, that nothing was saved and that no worker process survives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import doseresponse as dr
from doseresponse.exceptions import DoseResponseError, FitError
from doseresponse.models import sampling
from doseresponse.models.sampling import (
    finite_draws_per_chain,
    interrupt_watch,
    require_complete_posterior,
    run_settings,
)
from doseresponse.simulate import simulate_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(curve="logistic", d50=40.0, slope=1.5, n_studies=2,
                           patients_per_study=30, tau=0.3, random_seed=1).data


# ------------------------------------------------------------------ run settings


@pytest.mark.parametrize("setting, value, fix", [
    ("tune", 0, "warm-up iterations adapt the step size"),
    ("tune", -5, "warm-up"),
    ("tune", 10.5, "warm-up"),
    ("draws", 0, "kept draws per chain"),
    ("draws", "100", "kept draws per chain"),
    ("chains", 0, "4 chains"),
    ("chains", True, "4 chains"),
    ("random_seed", -1, "any integer seed"),
    ("target_accept", 1.0, "e.g. 0.95"),
    ("target_accept", 0.0, "e.g. 0.95"),
    ("target_accept", float("nan"), "e.g. 0.95"),
    ("target_accept", "high", "e.g. 0.95"),
    ("target_accept", None, "e.g. 0.95"),
    ("target_accept", True, "e.g. 0.95"),
])
def test_run_settings_are_refused_before_sampling_naming_argument_and_fix(setting, value, fix):
    settings = dict(draws=100, tune=100, chains=2, random_seed=1, progressbar=False,
                    target_accept=0.9)
    settings[setting] = value
    with pytest.raises(DoseResponseError, match=setting) as info:
        run_settings(**settings)
    assert fix in str(info.value)


@pytest.mark.parametrize("sampler", ["nutpie", "nutpie-python", "pymc"])
def test_fit_with_tune_0_is_a_package_error_not_a_rust_panic(cohort, sampler, monkeypatch):
    def never(*args, **kwargs):  # the settings must be refused before any sampler starts
        raise AssertionError("a sampler was started")

    monkeypatch.setattr(sampling, "_run_nutpie", never)
    with pytest.raises(DoseResponseError, match=r"tune must be an integer >= 1; got 0"):
        dr.NTCPModel().fit(cohort, tune=0, draws=10, chains=2, sampler=sampler)


def test_a_rust_panic_inside_nutpie_becomes_a_fit_error(cohort):
    """nutpie panics (``assertion failed: early_end < num_tune``) when asked for tune=0; the
    panic is a BaseException that would escape ``except Exception``."""
    from doseresponse.models._nutpie_callbacks import compiled_model
    from doseresponse.models.density import LogDensity

    compiled = compiled_model(LogDensity(dr.NTCPModel().spec_for(cohort), cohort))
    with pytest.raises(FitError, match="nutpie failed inside its sampler") as info:
        sampling._run_nutpie(compiled, draws=5, tune=0, chains=1, seed=1, progressbar=False,
                             target_accept=0.9)
    assert "PanicException" in str(info.value) and "sampler='pymc'" in str(info.value)
    assert type(info.value.__cause__).__name__ == "PanicException"


# ------------------------------------------------------------------ incomplete posteriors


def _posterior(values: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"d50": (("chain", "draw"), values),
                       "slope": (("chain", "draw"), np.ones_like(values))})


def test_a_nan_padded_posterior_is_refused_with_the_draw_counts():
    values = np.ones((2, 10))
    values[1, 6:] = np.nan  # nutpie pads an unfinished chain with NaN
    assert finite_draws_per_chain(_posterior(values)) == [10, 6]
    with pytest.raises(FitError, match=r"finite draws per chain 10, 6 of 10") as info:
        require_complete_posterior({"posterior": _posterior(values)}, 10, 2, "nutpie")
    assert "run the fit again" in str(info.value)


@pytest.mark.parametrize("shape, chains, draws", [((2, 7), 2, 10), ((1, 10), 2, 10)])
def test_a_short_posterior_is_refused(shape, chains, draws):
    with pytest.raises(FitError, match="incomplete posterior"):
        require_complete_posterior({"posterior": _posterior(np.ones(shape))}, draws, chains,
                                   "pymc")


def test_a_complete_posterior_passes():
    require_complete_posterior({"posterior": _posterior(np.ones((2, 10)))}, 10, 2, "pymc")


class _InterruptedSampler:
    """Stand-in for nutpie's background sampler: Ctrl-C while waiting, then a partial trace."""

    def __init__(self):
        self.aborted = self.cancelled = False

    def wait(self):
        raise KeyboardInterrupt

    def abort(self):
        self.aborted = True
        values = np.ones((2, 50))
        values[0, 30:] = np.nan
        values[1, 41:] = np.nan
        return {"posterior": _posterior(values)}

    def cancel(self):
        self.cancelled = True


def test_ctrl_c_while_nutpie_samples_raises_with_progress_and_returns_nothing(monkeypatch):
    import nutpie

    stand_in = _InterruptedSampler()
    calls = {}

    def fake_sample(compiled, **kwargs):
        calls.update(kwargs)
        return stand_in

    monkeypatch.setattr(nutpie, "sample", fake_sample)
    with pytest.raises(KeyboardInterrupt) as info:
        sampling._run_nutpie(object(), draws=50, tune=10, chains=2, seed=1, progressbar=False,
                             target_accept=0.9)
    assert calls["blocking"] is False  # nutpie's blocking sample() would return the draws
    assert stand_in.aborted
    message = str(info.value)
    assert "after 30-41 of 50 draws per chain" in message
    assert "nothing was returned or saved" in message and "Run fit() again" in message


def test_interrupt_watch_notes_a_swallowed_sigint_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with interrupt_watch() as watch:
        try:
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.01)  # let the handler run
        except KeyboardInterrupt:
            pass  # what pymc.sample does
    assert watch["interrupted"]
    assert signal.getsignal(signal.SIGINT) is before


# ------------------------------------------------------------------ real fits, interrupted

_CHILD = textwrap.dedent('''
    import sys, warnings
    warnings.simplefilter("ignore")
    import doseresponse as dr
    from doseresponse.simulate import simulate_cohort

    sampler, out = sys.argv[1], sys.argv[2]
    data = simulate_cohort(curve="logistic", d50=40.0, slope=1.5, n_studies=2,
                           patients_per_study=30, tau=0.3, random_seed=1).data
    model = dr.NTCPModel()
    settings = dict(random_seed=1, progressbar=False, check=False, sampler=sampler)
    model.fit(data, draws=5, tune=5, chains=2, **settings)  # compile before the timed run
    print("ready", flush=True)
    fit = model.fit(data, draws=2_000_000, tune=100, chains=2, **settings)
    print("fit returned", flush=True)
    fit.save(out)
    print("saved", flush=True)
''')


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


def _start(tmp_path, sampler):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    out = tmp_path / "fit.nc"
    child = subprocess.Popen([sys.executable, str(script), sampler, str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    return child, out


def _wait_for_workers(child, count: int, timeout: float = 120.0) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        workers = _children(child.pid)
        if len(workers) >= count:
            return workers
        time.sleep(0.2)
    raise AssertionError("PyMC's chain processes did not start")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_ctrl_c_during_a_real_fit_raises_and_saves_nothing(tmp_path, sampler):
    child, out = _start(tmp_path, sampler)
    workers = []
    if sampler == "pymc":
        workers = _wait_for_workers(child, 2)
    time.sleep(3.0)  # well into sampling: warm-up is 100 iterations
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGINT, stderr  # ended by the uncaught interrupt
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("KeyboardInterrupt: fit interrupted "), stderr[-2000:]
    assert "of 2000000 draws per chain" in last or "during warm-up" in last
    assert "nothing was returned or saved" in last
    assert "fit returned" not in stdout and not out.exists()
    time.sleep(1.0)
    assert not [pid for pid in workers if _alive(pid)]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_to_a_pymc_fit_ends_its_chain_processes(tmp_path):
    child, out = _start(tmp_path, "pymc")
    workers = _wait_for_workers(child, 2)
    time.sleep(2.0)
    child.send_signal(signal.SIGTERM)
    try:
        # the orphans used to hold the pipes open, so this timed out as well
        child.communicate(timeout=60)
    finally:
        survivors = [pid for pid in workers if _alive(pid)]
        for pid in survivors:  # clean up what this test started before failing
            os.kill(pid, signal.SIGKILL)
    assert child.returncode == -signal.SIGTERM
    assert survivors == [], "PyMC chain processes outlived the fit's process"
    assert not out.exists()
