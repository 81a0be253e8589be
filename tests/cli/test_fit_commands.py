"""``fit``, ``curve``, ``dose-at``, ``summary``, ``compare`` and ``plot`` on two tiny saved fits.

Each command runs once through the installed entry point; its other variants run in this process
(:func:`tests.cli.conftest.in_process`, the same code without the start-up cost). The numbers
the commands print are compared with the Python API on the same saved fit: ``--json`` output
exactly (rtol 1e-12: JSON keeps every digit of a float), the text tables to their 6 significant
digits (rtol 1e-5).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import doseresponse as dr
from tests.cli.conftest import TINY, in_process, run

JSON_RTOL = 1e-12
TEXT_RTOL = 1e-5  # the text tables print 6 significant digits
DOSES = ("20", "23", "30")


@pytest.fixture(scope="module")
def api_fit(fitted):
    return dr.load(fitted["loglogistic"])


def test_fit_prints_summary_and_diagnostics_and_saves(fitted, api_fit):
    out = fitted["run"].stdout
    assert "NTCP model: log-logistic curve, partial pooling" in out
    assert "convergence diagnostics:" in out
    assert f"fit saved to {fitted['loglogistic']}" in out
    # tiny settings: the diagnostics fail, and the command says so on stdout and stderr
    assert not api_fit.diagnostics()["ok"].all()
    assert "FAILED" in out and "fix: refit with more --draws" in out
    assert "diagnostics FAILED" in fitted["run"].stderr
    assert "Traceback" not in fitted["run"].stderr
    assert api_fit.spec.curve == "log-logistic" and api_fit.spec.dose_metric == "BED"
    assert api_fit.spec.covariates == ("htn",)
    assert api_fit.posterior.sizes["chain"] == 2 and api_fit.posterior.sizes["draw"] == 100


def test_fit_refuses_to_overwrite(fitted, cohort_csv):
    before = fitted["logistic"].read_bytes()
    completed = run("fit", cohort_csv, "--dose", "bed", "--outcome", "tox", "--study", "study",
                    *TINY, "-o", fitted["logistic"])
    assert completed.returncode == 1
    assert "already exists" in completed.stderr and "--overwrite" in completed.stderr
    assert len(completed.stderr.splitlines()) == 1
    assert fitted["logistic"].read_bytes() == before


def test_fit_json_and_quiet(fitted, cohort_csv, tmp_path, capsys):
    out = tmp_path / "complete.nc"
    code, stdout, stderr = in_process(
        ["fit", cohort_csv, "--dose", "bed", "--outcome", "tox", "--study", "study",
         "--pooling", "complete", "--seed", "2", *TINY, "--json", "--quiet", "-o", out], capsys)
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["output"] == str(out) and record["model"]["pooling"] == "complete"
    assert {"parameters", "diagnostics", "diagnostics_ok", "data"} <= set(record)
    assert record["data"]["n_patients"] == 60
    # --quiet: no progress or notes; only the one-line warning that the diagnostics failed
    assert all(line.startswith("doseresponse: warning:") for line in stderr.splitlines())
    assert dr.load(out).spec.pooling == "complete"


@pytest.mark.parametrize(
    ("which", "covariates"),
    [("population", {}), ("new_study", {"htn": 1.0}), ("B", {})],
)
def test_curve_json_equals_the_api(fitted, api_fit, which, covariates, capsys):
    cov_args = ["--covariate", *(f"{k}={v:g}" for k, v in covariates.items())] if covariates else []
    args = ["curve", fitted["loglogistic"], "--dose", *DOSES, "--which", which, *cov_args,
            "--json"]
    if which == "population":
        out = run(*args, check=True).stdout
    else:
        code, out, _ = in_process(args, capsys)
        assert code == 0
    records = json.loads(out)
    expected = api_fit.curve([float(d) for d in DOSES], which=which,
                             covariates=covariates or None).to_frame()
    assert list(records[0]) == list(expected.columns)
    got = pd.DataFrame.from_records(records)
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=JSON_RTOL)


def test_curve_text_header_and_table(fitted, api_fit, capsys):
    code, out, _ = in_process(["curve", fitted["loglogistic"], "--dose", *DOSES, "--which",
                               "new_study", "--covariate", "htn=1", "--ci-prob", "0.9"], capsys)
    assert code == 0
    header, table = out.split("\n", 1)
    band = api_fit.curve([float(d) for d in DOSES], which="new_study", covariates={"htn": 1},
                         ci_prob=0.9)
    assert header == band.header()
    assert "new centre" in header and "BED in Gy" in header and "90 %" in header
    got = pd.read_csv(io.StringIO(table), sep=r"\s+")
    expected = band.to_frame()
    assert list(got.columns) == ["dose", "mean", "median", "lower", "upper"]
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=TEXT_RTOL)


def test_dose_at_json_equals_the_api(fitted, api_fit):
    completed = run("dose-at", fitted["loglogistic"], "0.05", "--which", "new_study",
                    "--covariate", "htn=1", "--json", check=True)
    record = json.loads(completed.stdout)
    expected = api_fit.dose_at(0.05, which="new_study", covariates={"htn": 1})
    promised = [k for k in expected if k != "draws"]
    assert "draws" not in record
    for key in promised:
        np.testing.assert_allclose(record[key], expected[key], rtol=JSON_RTOL)
    for name in ("p", "which", "metric", "unit", "ci_prob", "label"):
        assert record[name] == getattr(expected, name)
    assert record["label"] == "TD5" and record["which"] == "new_study"


def test_dose_at_text_equals_the_api(fitted, api_fit, capsys):
    code, out, _ = in_process(["dose-at", fitted["loglogistic"], "0.1"], capsys)
    assert code == 0
    header, *rows = out.strip().splitlines()
    expected = api_fit.dose_at(0.1)
    assert header.startswith("TD10: ") and "typical centre" in header and "95 %" in header
    values = dict(row.split() for row in rows if not row.startswith("note:"))
    assert set(values) == {k for k in expected if k != "draws"}
    for key, text in values.items():
        np.testing.assert_allclose(float(text), expected[key], rtol=TEXT_RTOL)


def test_summary_text_and_json(fitted, api_fit, capsys):
    text = run("summary", fitted["loglogistic"], check=True).stdout
    assert text.startswith(api_fit.summary().splitlines()[0])
    assert "convergence diagnostics:" in text
    code, out, _ = in_process(["summary", fitted["loglogistic"], "--json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert {"model", "data", "sampling", "ci_prob", "parameters", "diagnostics",
            "diagnostics_ok"} <= set(record)
    frame = api_fit.summary_frame()
    by_name = {row["parameter"]: row for row in record["parameters"]}
    assert list(by_name) == list(frame.index)
    np.testing.assert_allclose(by_name["d50"]["median"], frame.loc["d50", "median"],
                               rtol=JSON_RTOL)
    assert record["diagnostics_ok"] is bool(api_fit.diagnostics()["ok"].all())


@pytest.mark.filterwarnings("ignore:PSIS-LOO is unreliable")  # tiny fits: a few large Pareto k
def test_compare_ranks_both_fits(fitted, capsys):
    completed = run("compare", fitted["loglogistic"], fitted["logistic"], "--ic", "loo", "--json",
                    check=True)
    records = json.loads(completed.stdout)
    expected = dr.compare({"loglogistic": dr.load(fitted["loglogistic"]),
                           "logistic": dr.load(fitted["logistic"])}, ic="loo")
    assert [r["name"] for r in records] == list(expected.index)
    assert set(records[0]) == {"name", *expected.columns}
    np.testing.assert_allclose([r["elpd"] for r in records], expected["elpd"], rtol=JSON_RTOL)
    code, text, _ = in_process(["compare", fitted["loglogistic"], fitted["logistic"], "--ic",
                                "loo"], capsys)
    assert code == 0
    assert "loglogistic" in text and "logistic" in text and "elpd" in text


def test_plot_writes_png_and_refuses_to_overwrite(fitted, tmp_path, capsys):
    out = tmp_path / "curve.png"
    run("plot", fitted["loglogistic"], "--which", "new_study", "-o", out, "--quiet",
        check=True)
    assert out.read_bytes().startswith(b"\x89PNG")
    before = out.read_bytes()
    code, _, err = in_process(["plot", fitted["loglogistic"], "-o", out], capsys)
    assert code == 1 and "--overwrite" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == before
    code, _, _ = in_process(["plot", fitted["loglogistic"], "-o", out, "--overwrite"], capsys)
    assert code == 0


@pytest.mark.parametrize(("suffix", "magic"), [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_plot_format_follows_the_extension(fitted, tmp_path, suffix, magic, capsys):
    out = tmp_path / f"curve.{suffix.upper()}"
    code, _, err = in_process(["plot", fitted["loglogistic"], "--covariate", "htn=1", "-o", out],
                              capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(magic)


def test_fit_of_aggregate_rows_from_a_shipped_dataset(tmp_path, capsys):
    # events/n per dose bin: the Bliss beetles, one study, written by the datasets command
    table, out = tmp_path / "beetles.csv", tmp_path / "beetles.nc"
    assert in_process(["datasets", "bliss_beetles", "--csv", table, "--quiet"], capsys)[0] == 0
    code, stdout, err = in_process(
        ["fit", table, "--dose", "dose", "--events", "events", "--n", "n", "--study", "study",
         "--pooling", "complete", "--dose-unit", "mg/L", "--seed", "3", *TINY, "-o", out],
        capsys)
    assert code == 0, err
    assert "1 studies" in stdout or "1 study" in stdout
    fit = dr.load(out)
    assert fit.data.n_aggregate_rows == len(pd.read_csv(table))
    code, stdout, _ = in_process(["dose-at", out, "0.5", "--json"], capsys)
    assert json.loads(stdout)["unit"] == "mg/L"
