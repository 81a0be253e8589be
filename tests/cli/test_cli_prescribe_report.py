"""``prescribe`` (PLAN.json → prescription) and ``report`` (self-contained HTML) on small inputs.

The fitted curve is the committed fixture ``tests/data/fits/ntcp_pymc6_arviz1.nc`` (an NTCP fit
in Gy BED, 2 chains x 100 draws), re-saved into a temporary folder; the literature curves are
``ResponseCurve`` parameters. Each command runs once through the installed entry point; the other
variants run in this process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import doseresponse as dr
from doseresponse import prescribe as rx
from tests.cli.conftest import in_process, run

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fits" / "ntcp_pymc6_arviz1.nc"
EXAMPLE = Path(dr.__file__).resolve().parent / "examples" / "plan_example.json"
KIDNEY = {"curve": "probit", "d50": 28.0, "slope": 0.1, "dose_metric": "absorbed dose",
          "dose_unit": "Gy", "kind": "NTCP"}
KIDNEY_JSON = json.dumps(KIDNEY)


def _one_line_error(stderr: str, command: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"doseresponse {command}: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with the fixture fit (``kidney.nc``), a literature plan and a fitted-curve plan."""
    path = tmp_path_factory.mktemp("cli_plan")
    with pytest.warns(dr.exceptions.UnverifiedFitWarning):  # format-version-1 fixture
        fit = dr.load(FIXTURE)
    fit.save(path / "kidney.nc")
    literature = {"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50.0}},
                  "curves": {"kidney": KIDNEY}, "cycles": 4}
    (path / "literature.json").write_text(json.dumps(literature))
    fitted = {"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50.0,
                                     "tissue": "kidney", "rel_se": 0.1}},
              "curves": {"kidney": "kidney.nc"}, "cycles": 4, "which": "new_study",
              "random_seed": 3}
    (path / "fitted.json").write_text(json.dumps(fitted))
    return path


def test_prescribe_shipped_example_prints_the_decision_and_saves(tmp_path):
    out = tmp_path / "plan_result.json"
    completed = run("prescribe", EXAMPLE, "-o", out, check=True)
    text = completed.stdout
    plan = rx.load_plan(out)
    assert f"{plan.activity_gbq:.4g} GBq per cycle x 4 cycles" in text
    assert "limiting: kidney" in text and plan.limiting == "kidney"
    assert "prediction:" in text and "95 % interval" in text
    for quantity in ("course dose", "NTCP", "TCP", "P+"):
        assert quantity in text
    assert f"plan saved to {out}" in text


def test_prescribe_json_equals_the_api(capsys):
    code, out, err = in_process(["prescribe", EXAMPLE, "--json"], capsys)
    assert code == 0, err
    record = json.loads(out)
    spec = json.loads(EXAMPLE.read_text())
    regions = {name: rx.Region(r.pop("gy_per_gbq"), **r) for name, r in spec["regions"].items()}
    curves = {name: dr.ResponseCurve(c.pop("curve"), **c) for name, c in spec["curves"].items()}
    plan = rx.prescribe(regions, cycles=4, ntcp={k: v for k, v in curves.items()
                                                 if v.kind == "NTCP"},
                        tcp={"tumour": curves["tumour"]}, ntcp_limit=0.05,
                        random_seed=spec["random_seed"])
    assert record["activity_gbq"] == pytest.approx(plan.activity_gbq, rel=1e-12)
    assert record["cycles"] == 4 and record["limiting"] == plan.limiting
    assert [c["mean"] for c in record["curves"]] == pytest.approx(
        [c["mean"] for c in plan.curves], rel=1e-12)
    assert "draws" not in record["optimum"] and record["output"] is None


def test_prescribe_with_a_fit_file_relative_to_the_plan(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the fit path is relative to the plan's folder, not the cwd
    code, out, err = in_process(["prescribe", folder / "fitted.json", "--json", "-q"], capsys)
    assert code == 0, err
    record = json.loads(out)
    (curve,) = record["curves"]
    assert curve["kind"] == "NTCP" and curve["which"] == "new_study"
    assert curve["mean"] == pytest.approx(0.05, abs=1e-6)  # ntcp-limit default 0.05
    assert {r["dose_metric"] for r in record["regions"]} >= {"BED"}
    assert record["settings"]["random_seed"] == 3
    code, out, err = in_process(["prescribe", folder / "fitted.json", "--json", "-q",
                                 "--seed", "4"], capsys)
    assert code == 0, err
    assert json.loads(out)["settings"]["random_seed"] == 4


BAD_PLANS = [
    ('{"regions": ', "not valid JSON"),
    ('{"regions": {}, "curves": {}, "cylces": 4}', "cylces: unknown key"),
    ('{"curves": {}}', "regions: missing"),
    ('{"regions": {"kidney": {"gy_per_gbq": "x", "effective_half_life": 50}}, '
     '"curves": {"kidney": ' + KIDNEY_JSON + "}}", "regions.kidney.gy_per_gbq"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5}}, "curves": {}}',
     "regions.kidney.effective_half_life: missing"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50}}, '
     '"curves": {"liver": "liver.nc"}}', "curves.liver: no region 'liver'"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50}}, '
     '"curves": {"kidney": "nofit.nc"}}', "relative to the folder of the plan"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50}}, '
     '"curves": {"kidney": {"curve": "probit", "d50": 28}}}', "curves.kidney.slope: missing"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50}}, '
     '"curves": {"kidney": ' + KIDNEY_JSON + '}, "cycles": 4, "activity_per_cycle": 7.4}',
     "not both"),
    ('{"regions": {"kidney": {"gy_per_gbq": 0.5, "effective_half_life": 50}}, '
     '"curves": {"kidney": ' + KIDNEY_JSON + '}, "ntcp_limit": 2}', "ntcp_limit"),
]


@pytest.mark.parametrize(("content", "needle"), BAD_PLANS)
def test_bad_plan_exits_1_with_one_line_naming_the_key(content, needle, tmp_path, capsys):
    (tmp_path / "plan.json").write_text(content)
    code, out, err = in_process(["prescribe", tmp_path / "plan.json", "-o",
                                 tmp_path / "out.json"], capsys)
    assert code == 1, err
    line = _one_line_error(err, "prescribe")
    assert needle in line and "plan_schema" in line
    assert out == "" and not (tmp_path / "out.json").exists()


def test_installed_prescribe_bad_json_exits_1(tmp_path):
    (tmp_path / "plan.json").write_text("{not json")
    completed = run("prescribe", "plan.json", cwd=tmp_path)
    assert completed.returncode == 1
    assert "not valid JSON" in _one_line_error(completed.stderr, "prescribe")
    assert completed.stdout == ""


def test_prescribe_refuses_to_overwrite(folder, tmp_path, capsys):
    out = tmp_path / "plan_result.json"
    out.write_text("keep")
    code, _, err = in_process(["prescribe", folder / "literature.json", "-o", out], capsys)
    assert code == 1
    assert "--overwrite" in _one_line_error(err, "prescribe")
    assert out.read_text() == "keep"
    code, _, err = in_process(["prescribe", folder / "literature.json", "-o", out,
                               "--overwrite", "-q"], capsys)
    assert code == 0, err
    assert rx.load_plan(out).cycles == 4


def _check_self_contained(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html)


def test_report_with_a_plan_input_and_figures(folder, tmp_path):
    out = tmp_path / "report.html"
    completed = run("report", folder / "kidney.nc", "--plan", folder / "fitted.json",
                    "-o", out, "--figures", "png", check=True)
    assert f"report written to {out}" in completed.stdout
    _check_self_contained(out)
    pngs = sorted(p.name for p in tmp_path.glob("report_*.png"))
    assert "report_plan_activity.png" in pngs and len(pngs) >= 2
    assert "Traceback" not in completed.stderr


def test_report_with_a_saved_plan_json_and_overwrite(folder, tmp_path, capsys):
    plan_out = tmp_path / "plan_result.json"
    assert in_process(["prescribe", folder / "fitted.json", "-q", "-o", plan_out],
                      capsys)[0] == 0
    out = tmp_path / "r.html"
    args = ["report", folder / "kidney.nc", "--tcp", folder / "kidney.nc", "--plan", plan_out,
            "-o", out, "--json", "-q"]
    code, stdout, err = in_process(args, capsys)
    assert code == 0, err
    assert json.loads(stdout) == {"output": str(out), "figures": []}
    _check_self_contained(out)
    before = out.read_bytes()
    code, _, err = in_process(args, capsys)
    assert code == 1
    assert "--overwrite" in _one_line_error(err, "report")
    assert out.read_bytes() == before


def test_schema_page_shows_the_shipped_example():
    page = (Path(__file__).resolve().parents[2] / "docs" / "plan_schema.md").read_text()
    block = page.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads(EXAMPLE.read_text())
