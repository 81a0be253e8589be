"""The report in a real headless browser (Debian's ``chromium``).

The page must load from disk without a single console message (errors, warnings or logs: the
page writes none), and its in-page lookup must give the numbers of the Python API on the same
embedded draws (:func:`doseresponse.report.embedded_fit`) for every curve family, both centre
views and each covariate, and for a model average
(:func:`doseresponse.report.embedded_average`). Chromium's test mode is the URL hash
``#selftest=...`` (see ``doseresponse/report/static/lookup.js``). A screenshot of the page is
written to the pytest temporary folder and its path printed.

Skipped only when no chromium is installed *and* the ``CI`` environment variable is unset; in CI
a missing browser fails the test.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from doseresponse import prescribe as rx
from doseresponse.models.averaging import ModelAverage
from doseresponse.report import embedded_average, embedded_fit, write_report
from tests.report.conftest import probit_hypertension_only

DOSES = (5.0, 20.0, 23.0, 30.0, 61.5)
ACTIVITY = (7.4, 0.46, 4, 2.6, 2.8, 50.0)  # GBq/cycle, Gy/GBq, cycles, α/β, T_rep, T_eff
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
)
_CONSOLE = re.compile(r":CONSOLE[:(]")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the chromium executable; skip locally without it, fail in CI."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("CI is set but no chromium was found on PATH: install Debian's chromium "
                    "(apt-get install -y chromium) so the report's browser test runs.")
    pytest.skip("chromium is not installed (apt-get install -y chromium); set CI=1 to fail")


def run_chromium(chromium: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    """Run headless chromium on ``url`` with a fresh profile; return the finished process."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium, *_FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True, text=True, timeout=180, check=False,
        )
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def console_messages(stderr: str) -> list[str]:
    """Every console message chromium logged (uncaught errors are console messages too)."""
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def selftest(chromium: str, page: Path, doses=DOSES, activity=ACTIVITY) -> tuple[dict, str]:
    """The page's lookup results at ``doses`` (its selftest JSON) and chromium's stderr.

    The dumped DOM (after the scripts ran) is also returned inside the dict as ``"_dom"``.
    """
    url = page.resolve().as_uri() + "#selftest=" + ",".join(f"{d:g}" for d in doses)
    url += "&activity=" + ",".join(f"{a:g}" for a in activity)
    proc = run_chromium(chromium, url, "--dump-dom")
    match = re.search(r'<pre id="selftest">(.*?)</pre>', proc.stdout, re.S)
    assert match, "the page did not run its selftest (JavaScript failed?)\n" + proc.stderr[-2000:]
    result = json.loads(html.unescape(match.group(1)))
    result["_dom"] = proc.stdout
    return result, proc.stderr


def python_lookup(fit, view: str, covariates: dict) -> list[dict]:
    """The lookup's numbers from the Python API on the page's embedded draws."""
    sub = embedded_fit(fit)
    if view == "population":
        band = sub.curve(list(DOSES), "population", covariates=covariates)
    else:
        band = sub.curve(list(DOSES), "new_study", covariates=covariates, new_study="averaged")
    return [{"mean": m, "median": q, "lower": lo, "upper": hi}
            for m, q, lo, hi in zip(band.mean, band.median, band.lower, band.upper, strict=True)]


def assert_same_numbers(page_numbers: dict, fit) -> None:
    for view in ("population", "new_study"):
        settings = {"": {}} | {f"{c}=1": {c: 1.0} for c in fit.spec.all_covariates}
        assert set(page_numbers[view]) == set(settings)
        for label, cov in settings.items():
            expected = python_lookup(fit, view, cov)
            for got, want, dose in zip(page_numbers[view][label], expected, DOSES, strict=True):
                for key in ("mean", "median", "lower", "upper"):
                    assert got[key] == pytest.approx(want[key], abs=5e-4), (view, label, dose)
                    # far tighter in fact: the same draws and the same arithmetic
                    assert abs(got[key] - want[key]) < 1e-9, (view, label, dose, key)


def test_console_detector_sees_errors(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    messages = console_messages(run_chromium(chromium, bad.as_uri(), "--dump-dom").stderr)
    assert any("undefinedFunction" in m for m in messages)


def test_page_loads_without_console_errors_and_screenshot(chromium, covariate_fit, tmp_path):
    page = write_report(covariate_fit, tmp_path / "kidney_report.html")
    shot = tmp_path / "kidney_report.png"
    proc = run_chromium(chromium, page.as_uri(), f"--screenshot={shot}",
                        "--window-size=1280,5000", "--hide-scrollbars")
    assert console_messages(proc.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    print(f"\nreport screenshot: {shot}")

    numbers, stderr = selftest(chromium, page)
    assert console_messages(stderr) == []
    assert numbers["doses"] == list(DOSES)
    assert_same_numbers(numbers["models"]["ntcp"], covariate_fit)

    # what a reader sees: the lookup panel filled at its default dose (23 Gy) on load
    panel = re.search(r'<div class="lookup-result"[^>]*>(.*?)</div>', numbers["_dom"], re.S)
    cells = re.findall(r"<tr><td>([^<]+)</td><td><b>([0-9.]+) %</b>", panel.group(1))
    sub = embedded_fit(covariate_fit)
    want = {
        "typical centre": sub.curve([23.0], "population").mean[0],
        "new centre (population-averaged)":
            sub.curve([23.0], "new_study", new_study="averaged").mean[0],
    }
    assert dict(cells) == {k: f"{100 * v:.1f}" for k, v in want.items()}


@pytest.mark.parametrize(
    ("first", "second"),
    [("logistic", "probit"), ("cloglog", "poisson"), ("log-logistic", "log-logistic+pool_slope"),
     ("cloglog+complete", "probit")],
)
def test_lookup_equals_python_for_every_family(chromium, family_fits, tmp_path, first, second):
    page = write_report(family_fits[first], tmp_path / "r.html", tcp=family_fits[second])
    numbers, stderr = selftest(chromium, page)
    assert console_messages(stderr) == []
    assert_same_numbers(numbers["models"]["ntcp"], family_fits[first])
    assert_same_numbers(numbers["models"]["tcp"], family_fits[second])


def test_activity_converts_like_the_prescription_regions(chromium, saved_fit, tmp_path):
    page = write_report(saved_fit, tmp_path / "r.html")
    numbers, _ = selftest(chromium, page, doses=(20.0,))
    activity, gy_per_gbq, cycles, alpha_beta, repair, half_life = ACTIVITY
    region = rx.Region(gy_per_gbq, effective_half_life=half_life, alpha_beta=alpha_beta,
                       repair_half_time=repair)
    course = numbers["course_dose"]
    for kind, metric in (("dose", "absorbed dose"), ("BED", "BED"), ("EQD2", "EQD2")):
        want = float(np.asarray(region.course_dose(activity, cycles, metric)))
        assert course[kind] == pytest.approx(want, rel=1e-12), kind


def test_lookup_of_a_model_average_equals_its_python_twin(chromium, covariate_fit, tmp_path):
    # log-logistic with both covariates and probit with hypertension only, given weights (no
    # LOO): the page mixes the members' embedded draws as embedded_average does in Python
    average = ModelAverage(
        {"log-logistic": covariate_fit, "probit": probit_hypertension_only(covariate_fit)},
        {"log-logistic": 0.7, "probit": 0.3}, method="given",
    )
    page = write_report(average, tmp_path / "average.html")
    print(f"\naverage report: {page.stat().st_size / 1024:.0f} KB")
    numbers, stderr = selftest(chromium, page)
    assert console_messages(stderr) == []
    sub = embedded_average(average)
    got = numbers["models"]["ntcp"]
    for view in ("population", "new_study"):
        settings = {"": {}, "hypertension=1": {"hypertension": 1.0},
                    "diabetes=1": {"diabetes": 1.0}}
        assert set(got[view]) == set(settings)
        for label, cov in settings.items():
            new_study = "averaged" if view == "new_study" else "spread"
            band = sub.curve(list(DOSES), view, covariates=cov, new_study=new_study)
            for i, dose in enumerate(DOSES):
                for key in ("mean", "median", "lower", "upper"):
                    want = getattr(band, key)[i]
                    assert abs(got[view][label][i][key] - want) < 1e-9, (view, label, dose, key)

    # what a reader sees on load (23 Gy): both centres, labelled, from the mixture
    panel = re.search(r'<div class="lookup-result"[^>]*>(.*?)</div>', numbers["_dom"], re.S)
    assert "predictive risk of the model average" in panel.group(1)
    assert "diabetes (in log-logistic only)" in numbers["_dom"]  # probit ignores diabetes
    assert "probit (weight 0.3, 300 draws)" in numbers["_dom"]
    cells = re.findall(r"<tr><td>([^<]+)</td><td><b>([0-9.]+) %</b>", panel.group(1))
    want = {
        "typical centre": sub.curve([23.0], "population").mean[0],
        "new centre (population-averaged)":
            sub.curve([23.0], "new_study", new_study="averaged").mean[0],
    }
    assert dict(cells) == {k: f"{100 * v:.1f}" for k, v in want.items()}
