"""``dosimetry``: tidy time-activity samples → per-cycle and course TIA, dose, BED and EQD2.

Runs on the shipped example patient (``doseresponse/examples/lu177_dotatate_patient.csv``: 3
regions x 4 cycles x 5 scans); the numbers are compared with
:func:`doseresponse.radiobiology.multicycle_dosimetry` on the same samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import doseresponse as dr
from doseresponse.radiobiology import multicycle_dosimetry, tissue_parameters
from tests.cli.conftest import in_process, run

SAMPLES = Path(dr.__file__).resolve().parent / "examples" / "lu177_dotatate_patient.csv"
MASSES = {"kidneys": 0.3, "red_marrow": 1.17, "tumour": 0.02}
MASS_ARGS = ["--mass", *(f"{k}={v}" for k, v in MASSES.items())]


@pytest.fixture(scope="module")
def api():
    samples = pd.read_csv(SAMPLES)
    tissues = {r: tissue_parameters(r) for r in MASSES}
    return multicycle_dosimetry(samples, masses_kg=MASSES, tissues=tissues, nuclide="Lu-177")


def test_dosimetry_writes_per_cycle_and_course_rows(api, tmp_path):
    out = tmp_path / "doses.csv"
    completed = run("dosimetry", SAMPLES, "--nuclide", "Lu-177", *MASS_ARGS, "-o", out,
                    check=True)
    assert f"doses saved to {out}" in completed.stdout
    frame = pd.read_csv(out, dtype={"cycle": str})
    assert len(frame) == 3 * 5  # 4 cycles + the course per region
    course = frame[frame["cycle"] == "course"].set_index("region")
    expected = api.per_region.set_index("region")
    for column in ("dose_gy", "dose_se_gy", "bed_gy", "bed_se_gy", "eqd2_gy"):
        np.testing.assert_allclose(course.loc[expected.index, column], expected[column],
                                   rtol=1e-12)
    cycles = frame[frame["cycle"] != "course"]
    np.testing.assert_allclose(cycles["tia_mbq_h"], api.per_cycle["tia_mbq_h"], rtol=1e-12)
    np.testing.assert_allclose(cycles["tia_se_mbq_h"], api.per_cycle["tia_se_mbq_h"],
                               rtol=1e-12)
    assert cycles["eqd2_gy"].notna().all() and course["tia_se_mbq_h"].isna().all()


def test_dosimetry_maps_columns_and_units(api, tmp_path, capsys):
    table = pd.read_csv(SAMPLES).rename(columns={"cycle": "c", "region": "organ"})
    table["days"] = table.pop("time_h") / 24.0
    table["kbq"] = table.pop("activity_mbq") * 1000.0
    table.to_csv(tmp_path / "scans.csv", index=False)
    code, out, err = in_process(
        ["dosimetry", tmp_path / "scans.csv", *MASS_ARGS, "--cycle-col", "c", "--region-col",
         "organ", "--time-col", "days", "--time-unit", "d", "--activity-col", "kbq",
         "--activity-unit", "kBq", "--tissue", "tumour=tumour", "--json", "-q"], capsys)
    assert code == 0, err
    record = json.loads(out)
    assert record["output"] is None
    course = {r["region"]: r for r in record["rows"] if r["cycle"] == "course"}
    for row in api.per_region.itertuples():
        assert course[row.region]["bed_gy"] == pytest.approx(row.bed_gy, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--mass", "kidneys=0.3"], 2, "--mass red_marrow=KG"),
        ([*MASS_ARGS, "--tissue", "tumour=nope"], 2, "--tissue"),
        ([*MASS_ARGS, "--mass", "liver=1.5"], 2, "'liver' is not in"),
        ([*MASS_ARGS, "--time-col", "t"], 1, "--time-col COL"),
        ([*MASS_ARGS, "--nuclide", "Xx-1"], 2, "Xx-1"),
    ],
)
def test_dosimetry_errors_are_one_line(args, code, needle, tmp_path, capsys):
    status, out, err = in_process(["dosimetry", SAMPLES, *args, "-o", tmp_path / "d.csv"],
                                  capsys)
    assert status == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("doseresponse dosimetry: error: ")
    assert needle in lines[0]
    assert out == "" and not (tmp_path / "d.csv").exists()


def test_dosimetry_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "doses.csv"
    out.write_text("keep")
    code, _, err = in_process(["dosimetry", SAMPLES, *MASS_ARGS, "-o", out], capsys)
    assert code == 1 and "--overwrite" in err and len(err.splitlines()) == 1
    assert out.read_text() == "keep"


# ------------------------------------------------------------- reader options (issue 12)

INJECTED = {1: 7400.0, 2: 7400.0, 3: 7200.0, 4: 7400.0}  # MBq per cycle


def _cohort(tmp_path):
    """The example patient as P07 of a two-patient table in %IA, minutes and grams, with an
    activity SD column (5 % of the activity) and per-region mass columns; P08 is decoy rows."""
    base = pd.read_csv(SAMPLES)
    inj = base["cycle"].map(INJECTED)
    p07 = pd.DataFrame({
        "id": "P07", "cyc": base["cycle"], "organ": base["region"],
        "minutes": base["time_h"] * 60.0,
        "pct": base["activity_mbq"] / inj * 100.0,
        "pct_sd": 0.05 * base["activity_mbq"] / inj * 100.0,
        "inj_gbq": inj / 1000.0,
        "mass_g": base["region"].map(MASSES) * 1000.0,
    })
    p08 = p07.assign(id="P08", pct=p07["pct"] * 1.7)
    path = tmp_path / "cohort.csv"
    pd.concat([p08, p07], ignore_index=True).to_csv(path, index=False)
    return path


COHORT_COLUMNS = ["--patient-col", "id", "--cycle-col", "cyc", "--region-col", "organ",
                  "--time-col", "minutes", "--time-unit", "min", "--activity-col", "pct",
                  "--activity-unit", "%IA", "--activity-sd-col", "pct_sd"]


@pytest.fixture(scope="module")
def api_with_sd():
    samples = pd.read_csv(SAMPLES)
    samples["activity_sd_mbq"] = 0.05 * samples["activity_mbq"]
    tissues = {r: tissue_parameters(r) for r in MASSES}
    return multicycle_dosimetry(samples, masses_kg=MASSES, tissues=tissues, nuclide="Lu-177")


@pytest.mark.parametrize(
    "injected",
    [["--injected-activity", *(f"{c}={a}" for c, a in INJECTED.items())],
     ["--injected-activity-col", "inj_gbq", "--injected-activity-unit", "GBq"]],
    ids=["per-cycle values", "column in GBq"],
)
def test_dosimetry_percent_ia_minutes_mass_column_patient_and_sd(api_with_sd, tmp_path, capsys,
                                                                  injected):
    code, out, err = in_process(
        ["dosimetry", _cohort(tmp_path), *COHORT_COLUMNS, *injected, "--patient", "P07",
         "--mass-col", "mass_g", "--mass-unit", "g", "--tissue", "tumour=tumour", "--json",
         "-q"], capsys)
    assert code == 0, err
    rows = json.loads(out)["rows"]
    cycles = pd.DataFrame([r for r in rows if r["cycle"] != "course"])
    expected = api_with_sd.per_cycle
    assert len(cycles) == len(expected) == 12
    for column in ("tia_mbq_h", "tia_se_mbq_h", "dose_gy", "bed_gy"):
        np.testing.assert_allclose(cycles[column].to_numpy(float),
                                   expected[column].to_numpy(float), rtol=1e-8)
    course = {r["region"]: r for r in rows if r["cycle"] == "course"}
    for row in api_with_sd.per_region.itertuples():
        assert course[row.region]["bed_se_gy"] == pytest.approx(row.bed_se_gy, rel=1e-8)


def test_dosimetry_per_cycle_masses_from_a_column(tmp_path, capsys):
    table = pd.read_csv(SAMPLES)
    shrink = {1: 1.0, 2: 0.95, 3: 0.9, 4: 0.85}  # e.g. a tumour shrinking over the course
    table["mass_kg"] = table["region"].map(MASSES) * table["cycle"].map(shrink)
    table.to_csv(tmp_path / "masses.csv", index=False)
    code, out, err = in_process(["dosimetry", tmp_path / "masses.csv", "--mass-col", "mass_kg",
                                 "--tissue", "tumour=tumour", "--json", "-q"], capsys)
    assert code == 0, err
    per_cycle = {r: {c: MASSES[r] * shrink[c] for c in shrink} for r in MASSES}
    api = multicycle_dosimetry(pd.read_csv(SAMPLES), masses_kg=per_cycle, nuclide="Lu-177",
                               tissues={r: tissue_parameters(r) for r in MASSES})
    rows = pd.DataFrame([r for r in json.loads(out)["rows"] if r["cycle"] != "course"])
    np.testing.assert_allclose(rows["dose_gy"].to_numpy(float),
                               api.per_cycle["dose_gy"].to_numpy(float), rtol=1e-10)
    # dose scales as 1/mass at a fixed TIA: cycle 4 of each region is 1/0.85 of constant mass
    constant = multicycle_dosimetry(pd.read_csv(SAMPLES), masses_kg=MASSES, nuclide="Lu-177",
                                    tissues={r: tissue_parameters(r) for r in MASSES})
    ratio = rows["dose_gy"].to_numpy(float) / constant.per_cycle["dose_gy"].to_numpy(float)
    np.testing.assert_allclose(ratio, [1 / shrink[c] for c in constant.per_cycle["cycle"]],
                               rtol=1e-10)


def test_dosimetry_one_region_one_cycle_table(tmp_path, capsys):
    table = pd.read_csv(SAMPLES)
    kidney = table[(table["region"] == "kidneys") & (table["cycle"] == 1)]
    kidney[["time_h", "activity_mbq"]].to_csv(tmp_path / "k.csv", index=False)
    code, out, err = in_process(["dosimetry", tmp_path / "k.csv", "--one-cycle", "--region",
                                 "kidneys", "--mass", "kidneys=0.3", "--json", "-q"], capsys)
    assert code == 0, err
    api = multicycle_dosimetry(kidney, masses_kg={"kidneys": 0.3}, nuclide="Lu-177",
                               tissues={"kidneys": tissue_parameters("kidneys")})
    row = next(r for r in json.loads(out)["rows"] if r["cycle"] == "1")
    assert row["tia_mbq_h"] == pytest.approx(api.per_cycle["tia_mbq_h"].iloc[0], rel=1e-10)
    assert row["region"] == "kidneys"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        ([*COHORT_COLUMNS, "--patient", "P07", "--mass-col", "mass_g"], 2,
         "--activity-unit %IA needs the administered activity"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--mass-col", "mass_g"], 2,
         "holds 2 patients (P08, P07); choose one with --patient"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--patient", "P99", "--mass-col",
          "mass_g"], 2, "--patient 'P99' is not in the 'id' column"),
        ([*COHORT_COLUMNS, "--injected-activity", "1=7400", "2=7400", "--patient", "P07",
          "--mass-col", "mass_g"], 2, "no value for cycle 3"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "2=7400", "--patient", "P07",
          "--mass-col", "mass_g"], 2, "not a mix"),
        ([*COHORT_COLUMNS, "--injected-activity", "0=7400"], 2, "CYCLE=A with a cycle >= 1"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--injected-activity-col", "inj_gbq",
          "--mass-col", "mass_g"], 2, "not both"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--patient", "P07"], 2,
         "--mass REGION=KG ... or --mass-col COL"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--patient", "P07", "--mass-col",
          "mass_g", "--mass", "kidneys=0.3"], 2, "not both"),
        ([*COHORT_COLUMNS, "--injected-activity", "7400", "--patient", "P07", "--mass-col",
          "grams"], 1, "name the mass column with --mass-col COL"),
        (["--time-col", "minutes", "--activity-col", "pct", "--mass-col", "mass_g",
          "--patient", "P07"], 2, "--patient needs the patient column"),
        (["--time-col", "minutes", "--activity-col", "pct", "--mass-col", "mass_g"], 1,
         "name the cycle column with --cycle-col COL (or --one-cycle"),
    ],
)
def test_dosimetry_reader_option_errors_are_one_line(args, code, needle, tmp_path, capsys):
    status, out, err = in_process(["dosimetry", _cohort(tmp_path), *args, "-o",
                                   tmp_path / "d.csv"], capsys)
    assert status == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("doseresponse dosimetry: error: ")
    assert needle in lines[0]
    assert out == "" and not (tmp_path / "d.csv").exists()


def test_dosimetry_conflicting_per_cycle_masses_name_region_and_cycle(tmp_path, capsys):
    table = pd.read_csv(SAMPLES)
    table["mass_kg"] = table["region"].map(MASSES)
    table.loc[1, "mass_kg"] = 0.31  # a second kidney mass in cycle 1
    table.to_csv(tmp_path / "m.csv", index=False)
    code, _, err = in_process(["dosimetry", tmp_path / "m.csv", "--mass-col", "mass_kg"], capsys)
    assert code == 1 and "region 'kidneys', cycle 1: several masses" in err


def test_dosimetry_unit_choices_are_the_readers():
    from doseresponse import cli
    from doseresponse.radiobiology import samples as reader

    assert set(cli._TIME_UNITS) == set(reader.TIME_UNITS)
    assert set(cli._ACTIVITY_UNITS) == set(reader.ACTIVITY_UNITS)
    assert set(cli._INJECTED_UNITS) == {u for u, f in reader.ACTIVITY_UNITS.items() if f}
    assert set(cli._MASS_UNITS) == set(reader.MASS_UNITS)


def _hybrid_schedule():
    """The hybrid kidney course of docs/howto/sparse_imaging_schedules.md §2."""
    import math

    rows = [(1, t, 60 * math.exp(-math.log(2) / 45 * t)) for t in (4, 24, 96, 168)]
    rows += [(2, t, 55 * math.exp(-math.log(2) / 42 * t)) for t in (24, 96, 168)]
    rows += [(3, 96.0, 13.0), (4, 96.0, 12.5)]
    rng = np.random.default_rng(2026)
    samples = pd.DataFrame(rows, columns=["cycle", "time_h", "activity_mbq"])
    samples["region"] = "kidneys"
    samples["activity_mbq"] *= 1 + 0.03 * rng.standard_normal(len(samples))
    samples["activity_sd_mbq"] = 0.03 * samples["activity_mbq"]
    return samples


@pytest.mark.parametrize(
    ("cli_args", "api_kwargs"),
    [
        (["--half-life-rel-sd", "0.15", "--calibration-rel-sd", "0.05",
          "--partial-volume-rel-sd", "0.08"],
         {"half_life_rel_sd": 0.15, "calibration_rel_sd": 0.05, "partial_volume_rel_sd": 0.08}),
        (["--single-time-point", "madsen", "--population-half-life", "kidneys=50:10",
          "--calibration-rel-sd", "0.05", "--independent-systematics"],
         {"single_time_point": "madsen", "population_half_life_h": {"kidneys": (50.0, 10.0)},
          "calibration_rel_sd": 0.05, "systematic_correlated_across_cycles": False}),
    ],
    ids=["reference + stated SDs", "madsen + independent systematics"],
)
def test_dosimetry_single_scan_and_uncertainty_options(cli_args, api_kwargs, tmp_path, capsys):
    samples = _hybrid_schedule()
    samples.to_csv(tmp_path / "k.csv", index=False)
    code, out, err = in_process(["dosimetry", tmp_path / "k.csv", "--mass", "kidneys=0.30",
                                 "--tissue", "kidneys=kidney", "--activity-sd-col",
                                 "activity_sd_mbq", *cli_args, "--json", "-q"], capsys)
    assert code == 0, err
    api = multicycle_dosimetry(samples, masses_kg={"kidneys": 0.30},
                               tissues={"kidneys": "kidney"}, **api_kwargs)
    rows = json.loads(out)["rows"]
    course = next(r for r in rows if r["cycle"] == "course")
    expected = api.per_region.iloc[0]
    assert course["bed_gy"] == pytest.approx(expected["bed_gy"], rel=1e-10)
    assert course["bed_se_gy"] == pytest.approx(expected["bed_se_gy"], rel=1e-10)
    cycles = pd.DataFrame([r for r in rows if r["cycle"] != "course"])
    np.testing.assert_allclose(cycles["tia_se_mbq_h"].to_numpy(float),
                               api.per_cycle["tia_se_mbq_h"].to_numpy(float), rtol=1e-10)
    if "half_life_rel_sd" in api_kwargs:  # the numbers printed in the how-to
        assert round(course["bed_gy"], 3) == 4.197 and round(course["bed_se_gy"], 3) == 0.429
    plain = multicycle_dosimetry(samples, masses_kg={"kidneys": 0.30},
                                 tissues={"kidneys": "kidney"})
    assert course["bed_se_gy"] > plain.per_region["bed_se_gy"].iloc[0]  # the options count


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--calibration-rel-sd", "-0.1"], "expected a relative SD >= 0"),
        (["--population-half-life", "kidneys=-5"], "REGION=H or REGION=H:SD"),
        (["--population-half-life", "liver=50"], "region 'liver' is not in"),
        (["--single-time-point", "guess"], "invalid choice"),
    ],
)
def test_dosimetry_uncertainty_option_errors(args, needle, tmp_path, capsys):
    _hybrid_schedule().to_csv(tmp_path / "k.csv", index=False)
    code, out, err = in_process(["dosimetry", tmp_path / "k.csv", "--mass", "kidneys=0.3",
                                 "--tissue", "kidneys=kidney", *args], capsys)
    assert code == 2 and needle in err and out == ""
