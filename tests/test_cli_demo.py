"""The ``doseresponse`` command and its demo job.

Fast tests check the pieces (example-patient radiobiology, cohort dosimetry against the
simulation's truth, the prescription regions, the refusal to overwrite); the slow test runs the
whole demo once through the installed entry point and checks its outputs against the Python API
on the same (saved) fits.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from doseresponse import _demo_cohort as demo_cohort
from doseresponse import cli
from doseresponse.demo import (
    OUTPUT_FILES,
    example_dosimetry,
    load_example_patient,
    run_demo,
    summary_lines,
    tumour_voxel_summary,
)
from doseresponse.exceptions import DoseResponseError
from tests._compare import assert_csv_files_close, assert_json_files_close
from tests.cli.conftest import run

LU177_MEAN_BETA_MEV = 0.1479  # mean beta energy per decay of 177Lu (MeV), as the S value uses
MEV_TO_J = 1.602176634e-13
MBQ_H_DECAYS = 3.6e9


@pytest.fixture(scope="module")
def example():
    return example_dosimetry()


def test_example_dosimetry_recovers_the_generating_kinetics(example):
    # The example patient is simulated from known kinetics (5 % noise); the fitted kidney dose per
    # cycle must be within 10 % of the true local-deposition dose A0*T_eff/ln2 * S.
    _, meta, dosimetry = example
    s_kidney = LU177_MEAN_BETA_MEV * MEV_TO_J * MBQ_H_DECAYS / meta["masses_kg"]["kidneys"]
    truth = [
        c["amplitude_mbq"] * c["effective_half_life_h"] / np.log(2) * s_kidney
        for c in meta["truth"]["kidneys"]
    ]
    per_cycle = dosimetry.per_cycle
    fitted = per_cycle[per_cycle["region"] == "kidneys"].sort_values("cycle")["dose_gy"]
    np.testing.assert_allclose(fitted.to_numpy(), truth, rtol=0.10)


def test_example_multicycle_bed_is_sum_of_cycle_beds(example):
    per_cycle = example[2].per_cycle
    per_region = example[2].per_region.set_index("region")
    for region, rows in per_cycle.groupby("region"):
        assert per_region.loc[region, "bed_gy"] == pytest.approx(rows["bed_gy"].sum(), rel=1e-12)
        assert per_region.loc[region, "bed_gy"] > per_region.loc[region, "dose_gy"]


def test_example_tumour_eud_below_mean_dose(example):
    table = tumour_voxel_summary(example[2]).set_index("quantity")["value_gy"]
    mean_dose = table["mean absorbed dose"]
    geud = table[next(q for q in table.index if q.startswith("gEUD"))]
    assert 0 < geud < mean_dose  # a < 0: the cold voxels dominate (Niemierko 1999)


def test_example_regions_are_the_cycle_one_dosimetry(example):
    _, meta, dosimetry = example
    regions = demo_cohort.example_regions(dosimetry, meta)
    cycle1 = dosimetry.per_cycle.set_index(["region", "cycle"])
    gbq = meta["administered_activity_mbq"][0] / 1000.0
    for name, region in regions.items():
        row = cycle1.loc[(name, 1)]
        assert region.gy_per_gbq[0] == pytest.approx(row["dose_gy"] / gbq, rel=1e-12)
        assert region.rel_se == pytest.approx(row["dose_se_gy"] / row["dose_gy"], rel=1e-12)
    # the lesion's uptake-washout fit keeps both half-lives; the generating values are 5 h
    # uptake and 90 h washout (datasets/example_lu177_patient/build.py), 5 % noise
    assert regions["tumour"].uptake_half_life == pytest.approx(5.0, rel=0.5)
    assert regions["tumour"].effective_half_life == pytest.approx(90.0, rel=0.15)
    assert regions["kidneys"].uptake_half_life is None
    assert regions["kidneys"].effective_half_life == pytest.approx(45.0, rel=0.15)


def test_cohort_dosimetry_recovers_the_true_bed():
    samples = demo_cohort.load_cohort_samples()
    first = samples["patient"].drop_duplicates().iloc[:8]
    doses = demo_cohort.cohort_doses(samples[samples["patient"].isin(first)])
    assert list(doses["patient"]) == list(first)
    # Mono-exponential fit of cycle 1 rescaled through single 96 h scans in cycles 2-4, 7 %
    # noise per scan: the cycle-1 half-life error carries into every cycle, so a patient's
    # course BED is off by up to ~13 % (3 SD); the kidneys' true curve also has a 20 % fast
    # phase the fit cannot see (a few per cent high). Per patient within 20 %, median within
    # -5 %/+8 %.
    for region in demo_cohort.COHORT_TISSUES:
        ratio = doses[f"{region}_bed_gy"] / doses[f"{region}_true_bed_gy"]
        assert ((ratio > 0.8) & (ratio < 1.2)).all(), ratio
        assert 0.95 < ratio.median() < 1.08
        assert (doses[f"{region}_bed_se_gy"] > 0).all()
        assert (doses[f"{region}_bed_gy"] > doses[f"{region}_dose_gy"]).all()
    data = demo_cohort.cohort_data(doses)
    assert data["ntcp"].dose_metric == "kidney BED" and data["tcp"].dose_metric == "lesion BED"
    assert data["ntcp"].n_patients == 8 and data["ntcp"].covariates == ("hypertension",)


def test_summary_lines_say_which_quantity_each_number_is():
    dose = {"label": "TD5", "metric": "kidney BED", "unit": "Gy", "median": 24.0,
            "predictive": 19.5, "lower": 13.0, "upper": 44.0, "ci_prob": 0.95,
            "covariates": {"hypertension": 0.0}}
    fit = {"kind": "NTCP", "outcome": "renal toxicity", "n_events": 15, "n_patients": 84,
           "n_studies": 4, "diagnostics": {"ok": False, "failed": ["ess_bulk"]},
           "doses": [{**dose, "which": "population", "quantity": "typical centre"},
                     {**dose, "which": "new_study",
                      "quantity": "new centre (posterior predictive)"}]}
    results = {
        "example_patient": {"per_region": [{"region": "kidneys", "dose_gy": 17.3,
                                            "bed_gy": 18.9, "eqd2_gy": 10.7}]},
        "cohort": {"dataset": "x", "n_patients": 84, "n_centres": 4,
                   "median_estimated_over_true_bed": {"kidneys": 1.03}},
        "sampler": {"name": "nutpie", "chains": 4, "tune": 1000, "draws": 1000},
        "fits": {"ntcp": fit},
        "prescription": {"activity_gbq_per_cycle": 7.19, "cycles": 4, "limiting": "kidneys",
                         "covariates": {"hypertension": 0.0}, "ci_prob": 0.95,
                         "quantity": "expected probability for a patient at a NEW centre",
                         "curves": {"kidneys": {"kind": "NTCP", "mean": 0.05, "lower": 0.0,
                                                "upper": 0.5}}},
    }
    text = "\n".join(summary_lines(results))
    assert "TD5 typical centre, hypertension=0: median 24.0 Gy kidney BED" in text
    assert "TD5 new centre (posterior predictive)" in text
    assert "predictive dose (for decisions) 19.5" in text
    assert "FAILED: ess_bulk" in text  # a failed diagnostic is said loudly
    assert "7.19 GBq per cycle x 4 cycles, limited by kidneys" in text
    assert "NTCP kidneys: 5.0% expected for a new centre" in text
    assert text.startswith("SIMULATED data")


def test_demo_refuses_to_overwrite_before_any_work(tmp_path):
    existing = tmp_path / OUTPUT_FILES["report_html"]
    existing.write_text("mine")
    with pytest.raises(DoseResponseError, match="already exist"):
        run_demo(tmp_path)
    assert existing.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing.name]
    with pytest.raises(DoseResponseError, match="random_seed"):
        run_demo(tmp_path / "new", random_seed=-1)
    assert not (tmp_path / "new").exists()


def test_demo_command_refuses_to_overwrite_with_one_line(tmp_path, capsys):
    (tmp_path / OUTPUT_FILES["html"]).write_text("mine")
    code = cli.main(["demo", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "already exist" in err and "--overwrite" in err
    with pytest.raises(SystemExit) as stop:
        cli.main(["demo", "--seed", "-1"])
    assert stop.value.code == 2


def test_example_patient_files_are_consistent():
    samples, meta = load_example_patient()
    assert set(samples["region"]) == set(meta["masses_kg"]) == set(meta["truth"])
    assert sorted(samples["cycle"].unique()) == [1, 2, 3, 4]
    assert meta["synthetic"] is True
    folder = resources.files("doseresponse") / "examples"
    assert json.loads((folder / "lu177_dotatate_patient.json").read_text())["seed"] == meta["seed"]


def test_cli_bed_with_tissue_preset(capsys):
    # BED-015 reference: kidney 5 Gy, T_eff 50 h, T_rep 2.8 h, alpha/beta 2.6 -> 5.50990675991 Gy.
    code = cli.main(["bed", "--dose", "5", "--effective-half-life", "50",
                     "--alpha-beta", "2.6", "--repair-half-time", "2.8"])
    assert code == 0
    assert "BED  = 5.51 Gy" in capsys.readouterr().out


def test_cli_reports_bad_input_without_traceback(capsys):
    code = cli.main(["bed", "--dose", "-1", "--effective-half-life", "50", "--tissue", "kidney"])
    assert code == 2
    assert "dose" in capsys.readouterr().err


def test_cli_tables_and_version(capsys):
    assert cli.main(["tissues"]) == 0
    assert "kidney" in capsys.readouterr().out.lower()
    assert cli.main(["nuclides"]) == 0
    assert "Lu-177" in capsys.readouterr().out


def test_example_patient_rebuilds_to_the_shipped_files(tmp_path):
    build = Path(__file__).resolve().parents[1] / "datasets" / "example_lu177_patient" / "build.py"
    subprocess.run([sys.executable, str(build), "--out", str(tmp_path)], check=True)
    shipped = resources.files("doseresponse") / "examples"
    # floats to rtol 1e-12, not bytes: another CPU's libm changes last digits (tests/_compare.py)
    assert_csv_files_close(tmp_path / "lu177_dotatate_patient.csv",
                           shipped / "lu177_dotatate_patient.csv")
    assert_json_files_close(tmp_path / "lu177_dotatate_patient.json",
                            shipped / "lu177_dotatate_patient.json")


# ------------------------------------------------------------- the whole demo (slow, ~1 min)

SEED = 11


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    completed = run("demo", "--out", out, "--seed", SEED, "--json")
    return out, completed


@pytest.mark.slow
def test_demo_entry_point_writes_every_output(demo_run):
    out, completed = demo_run
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    for key, name in OUTPUT_FILES.items():
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, path
        assert printed["files"][key] == str(path)
    saved = json.loads((out / OUTPUT_FILES["results_json"]).read_text())
    assert saved["fits"] == printed["fits"] and saved["prescription"] == printed["prescription"]
    assert printed["random_seed"] == SEED and printed["synthetic"] is True
    # progress lines on standard error, one per step, with the elapsed time
    progress = [line for line in completed.stderr.splitlines() if " s] " in line]
    assert len(progress) >= 6 and any("fitting kidney NTCP" in line for line in progress)
    # what the files claim: the cohort table is the dataset's 84 patients with the true BED,
    # the report embeds the plan, the summary page links every other file
    cohort = pd.read_csv(out / OUTPUT_FILES["cohort_csv"])
    assert len(cohort) == 84 and cohort["study"].nunique() == 4
    for region in demo_cohort.COHORT_TISSUES:
        ratio = cohort[f"{region}_bed_gy"] / cohort[f"{region}_true_bed_gy"]
        assert 0.95 < ratio.median() < 1.06
    per_region = pd.read_csv(out / OUTPUT_FILES["per_region_csv"])
    assert list(per_region["region"]) == ["kidneys", "red_marrow", "tumour"]
    summary = (out / OUTPUT_FILES["html"]).read_text(encoding="utf-8")
    for key, name in OUTPUT_FILES.items():
        if key != "html":
            assert f'href="{name}"' in summary
    assert "typical centre" in summary and "new centre (posterior predictive)" in summary


@pytest.mark.slow
def test_demo_numbers_agree_with_the_python_api_on_the_saved_fits(demo_run):
    import doseresponse as dr
    from doseresponse.prescribe import load_plan

    out, completed = demo_run
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    fits = {"ntcp": dr.load(out / OUTPUT_FILES["ntcp_fit"]),
            "tcp": dr.load(out / OUTPUT_FILES["tcp_fit"])}
    # tolerance doses: recomputed from the saved fits with the same seed
    again = demo_cohort.fit_numbers(fits, random_seed=SEED)
    for key in ("ntcp", "tcp"):
        assert again[key]["diagnostics"] == printed["fits"][key]["diagnostics"]
        for mine, theirs in zip(again[key]["doses"], printed["fits"][key]["doses"], strict=True):
            assert mine["which"] == theirs["which"] and mine["label"] == theirs["label"]
            for field in ("median", "predictive", "lower", "upper"):
                assert mine[field] == pytest.approx(theirs[field], rel=1e-9), (key, field)
    # the prescription: the same regions and saved fits give the same activity and risks
    _, meta, dosimetry = example_dosimetry()
    plan = demo_cohort.prescribe_example(demo_cohort.example_regions(dosimetry, meta), fits,
                                         random_seed=SEED)
    rx = printed["prescription"]
    assert plan.activity_gbq == pytest.approx(rx["activity_gbq_per_cycle"], rel=1e-9)
    assert plan.limiting == rx["limiting"] == "kidneys"
    for c in plan.curves:
        assert c["mean"] == pytest.approx(rx["curves"][c["region"]]["mean"], rel=1e-9)
    # the saved plan and the report show that activity; the report states the decision
    assert load_plan(out / OUTPUT_FILES["plan_json"]).activity_gbq == pytest.approx(
        plan.activity_gbq, rel=1e-12)
    report = (out / OUTPUT_FILES["report_html"]).read_text(encoding="utf-8")
    assert f"{plan.activity_gbq:.2f} GBq per cycle × {plan.cycles} cycles" in report
    # the kidney NTCP of the plan meets the 5 % limit it was prescribed for
    kidney = next(c for c in plan.curves if c["region"] == "kidneys")
    assert kidney["mean"] <= demo_cohort.NTCP_LIMIT + 1e-6
    assert not math.isnan(rx["curves"]["tumour"]["mean"])


@pytest.mark.slow
def test_demo_entry_point_refuses_a_second_run_without_overwrite(demo_run):
    out, completed = demo_run
    assert completed.returncode == 0, completed.stderr
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run("demo", "--out", out)
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1 and "--overwrite" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
