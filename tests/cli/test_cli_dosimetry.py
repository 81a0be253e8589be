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
