"""The in-page lookup of a model average: its payload, its Python twin and lookup.js under node.

The average mixes four members built on the covariate fit's draws (conftest): log-logistic with
both covariates, probit with hypertension only (so the members' covariates differ), cloglog
with complete pooling and the log-logistic with a pooled slope, under given weights chosen so
that one member earns too little weight for a mixture draw (mean only) and one has weight 0
(not embedded). No LOO or sampling beyond the shared covariate fit.

lookup.js is run by node (``/usr/bin/node``) with a two-object stand-in for the DOM (the page's
selftest mode writes its JSON into the ``selftest`` element); the headless-browser test of a
whole average report is in test_browser.py.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.averaging import ModelAverage
from doseresponse.models.results import FittedModel
from doseresponse.report import MAX_EMBEDDED_DRAWS, embedded_average, lookup_payload
from tests.report.conftest import probit_hypertension_only

DOSES = (5.0, 20.0, 23.0, 30.0, 61.5)
WEIGHTS = {"log-logistic": 0.55, "probit": 0.3, "cloglog": 0.1497, "pooled-slope": 3e-4,
           "unused": 0.0}
_HARNESS = """
const fs = require("fs");
const draws = fs.readFileSync(process.argv[2], "utf8");
const script = fs.readFileSync(process.argv[3], "utf8");
const pre = {textContent: "", hidden: true};
globalThis.window = {location: {hash: process.argv[4]}};
globalThis.document = {
  readyState: "complete",
  getElementById: (id) => id === "report-draws" ? {textContent: draws}
    : id === "selftest" ? pre : null,
};
(0, eval)(script);
process.stdout.write(pre.textContent);
"""


@pytest.fixture(scope="module")
def average(covariate_fit, family_fits):
    fits = {
        "log-logistic": covariate_fit,
        "probit": probit_hypertension_only(covariate_fit),
        "cloglog": family_fits["cloglog+complete"],
        "pooled-slope": family_fits["log-logistic+pool_slope"],
        "unused": family_fits["poisson"],
    }
    return ModelAverage(fits, WEIGHTS, method="given", n_draws=4000)


def python_lookup(embedded: ModelAverage, view: str, covariates: dict) -> list[dict]:
    """The page's numbers from the Python API on the embedded average."""
    new_study = "averaged" if view == "new_study" else "spread"
    band = embedded.curve(list(DOSES), view, covariates=covariates, new_study=new_study)
    return [{"mean": m, "median": q, "lower": lo, "upper": hi}
            for m, q, lo, hi in zip(band.mean, band.median, band.lower, band.upper, strict=True)]


def test_embedded_average_allocates_the_page_draws_by_weight(average):
    embedded = embedded_average(average)
    counts = embedded.draw_counts
    assert sum(counts.values()) == MAX_EMBEDDED_DRAWS == embedded.n_draws
    # largest-remainder shares of 1000: 550, 300, 150 (149.7 rounded up), 0 (0.3), 0
    assert counts == {"log-logistic": 550, "probit": 300, "cloglog": 150, "pooled-slope": 0,
                      "unused": 0}
    sizes = {name: fit.posterior.sizes["draw"] for name, fit in embedded.fits.items()}
    # a share larger than the member's 400 draws repeats draws evenly; no share: 10 for the mean
    assert sizes == {"log-logistic": 550, "probit": 300, "cloglog": 150, "pooled-slope": 10,
                     "unused": 10}
    assert embedded.weights == pytest.approx(average.weights, rel=1e-15)
    # the resampled mixture is every embedded draw of the members with a share, once
    prob = embedded.probability_draws([23.0], "population", {"hypertension": 1.0})[:, 0]
    pooled = np.concatenate([
        fit.probability_draws([23.0], "population", {"hypertension": 1.0}
                              if "hypertension" in fit.spec.all_covariates else None)[:, 0]
        for name, fit in embedded.fits.items() if counts[name] > 0
    ])
    np.testing.assert_array_equal(np.sort(prob), np.sort(pooled))


def test_embedded_average_approximates_the_full_average(average):
    # a subsample of the mixture: the predictive risk within 0.01 of the full average's (the
    # members' 400 draws vs the embedded ones). The 95 % band ends are quantiles of about 850
    # distinct draws, so they are compared on the probability scale of the full mixture: each
    # end must sit at the full mixture's 2.5 % (97.5 %) level within 0.02, about 3.7 Monte Carlo
    # SDs (sqrt(0.975 * 0.025 / 850) = 0.0054). Their values themselves can differ by more than
    # 0.03 where the band's tail is long (0.883 vs 0.916 at 61.5 Gy on one set of draws).
    full = average.curve(list(DOSES), "new_study", new_study="averaged")
    page = embedded_average(average).curve(list(DOSES), "new_study", new_study="averaged")
    np.testing.assert_allclose(page.mean, full.mean, atol=0.01)
    draws = average.probability_draws(list(DOSES), "new_study", new_study="averaged")
    lower_level = (draws <= page.lower).mean(axis=0)
    upper_level = (draws <= page.upper).mean(axis=0)
    np.testing.assert_allclose(lower_level, 0.025, atol=0.02)
    np.testing.assert_allclose(upper_level, 0.975, atol=0.02)


def test_average_payload_members_weights_and_size(average):
    payload = lookup_payload(average, "ntcp")
    assert payload["id"] == "ntcp" and payload["kind"] == "NTCP"
    assert payload["method"] == "given" and payload["n_draws"] == MAX_EMBEDDED_DRAWS
    assert payload["covariates"] == ["hypertension", "diabetes"]  # union of the members'
    members = {m["name"]: m for m in payload["members"]}
    assert list(members) == ["log-logistic", "probit", "cloglog", "pooled-slope"]  # no weight 0
    assert {n: m["in_mixture"] for n, m in members.items()} == {
        "log-logistic": True, "probit": True, "cloglog": True, "pooled-slope": False}
    assert sum(m["weight"] for m in members.values()) == pytest.approx(1.0, abs=1e-15)
    assert members["probit"]["covariates"] == ["hypertension"]
    assert members["cloglog"]["tau"] is None and members["pooled-slope"]["tau_slope"]
    embedded = embedded_average(average)
    np.testing.assert_allclose(np.exp(members["probit"]["log_d50"]),
                               embedded.fits["probit"].posterior["d50"].values.ravel(),
                               rtol=1e-15)
    size_kb = len(json.dumps(payload)) / 1024
    single_kb = len(json.dumps(lookup_payload(average.fits["log-logistic"], "x"))) / 1024
    print(f"\naverage payload {size_kb:.0f} KB vs one 400-draw fit {single_kb:.0f} KB")
    assert size_kb < 250  # 1010 draws in all, like a single 1000-draw fit


def test_average_payload_refuses_bad_input(average):
    with pytest.raises(DoseResponseError, match="max_draws must be an integer"):
        lookup_payload(average, "ntcp", max_draws=5)
    with pytest.raises(DoseResponseError, match="average must be a ModelAverage"):
        embedded_average(average.fits["probit"])
    fits = dict(average.fits)
    fits["probit"] = FittedModel(
        {"posterior": fits["probit"].posterior},
        dataclasses.replace(fits["probit"].spec, pooling="none"), fits["probit"].data)
    no_pool = ModelAverage(fits, WEIGHTS, method="given")
    with pytest.raises(DoseResponseError, match="member 'probit' of the average has pooling"):
        lookup_payload(no_pool, "ntcp")


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if not found:
        pytest.skip("node is not installed; the browser test checks lookup.js in chromium")
    return found


def test_lookup_js_under_node_equals_the_python_twin(node, average, tmp_path):
    payload = lookup_payload(average, "ntcp")
    draws = tmp_path / "draws.json"
    draws.write_text(json.dumps({"models": [payload]}), encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(_HARNESS, encoding="utf-8")
    script = resources.files("doseresponse.report").joinpath("static/lookup.js")
    hash_ = "#selftest=" + ",".join(f"{d:g}" for d in DOSES)
    proc = subprocess.run([node, str(harness), str(draws), str(script), hash_],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads(proc.stdout)["models"]["ntcp"]
    embedded = embedded_average(average)
    for view in ("population", "new_study"):
        settings = {"": {}, "hypertension=1": {"hypertension": 1.0},
                    "diabetes=1": {"diabetes": 1.0}}
        assert set(numbers[view]) == set(settings)
        for label, cov in settings.items():
            want = python_lookup(embedded, view, cov)
            for got, expected, dose in zip(numbers[view][label], want, DOSES, strict=True):
                for key in ("mean", "median", "lower", "upper"):
                    # the same draws and the same arithmetic: agreement to rounding
                    assert abs(got[key] - expected[key]) < 1e-9, (view, label, dose, key)
