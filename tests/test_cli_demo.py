"""The ``doseresponse`` command and its demo job."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from doseresponse import cli
from doseresponse.demo import load_example_patient, run_demo
from tests._compare import assert_csv_files_close, assert_json_files_close


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_demo_writes_every_report_file(demo_result):
    for path in demo_result.files.values():
        assert path.exists() and path.stat().st_size > 0, path
    html = demo_result.files["html"].read_text()
    assert "Synthetic example" in html and "data:image/png;base64," in html
    assert demo_result.files["tac_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_recovers_the_generating_kinetics(demo_result):
    # The example patient is simulated from known kinetics (5 % noise); the fitted kidney dose per
    # cycle must be within 10 % of the true local-deposition dose A0*T_eff/ln2 * S.
    _, meta = load_example_patient()
    s_kidney = 0.1479 * 1.602176634e-13 * 3.6e9 / meta["masses_kg"]["kidneys"]  # Gy/(MBq h)
    truth = [
        c["amplitude_mbq"] * c["effective_half_life_h"] / np.log(2) * s_kidney
        for c in meta["truth"]["kidneys"]
    ]
    per_cycle = demo_result.dosimetry.per_cycle
    fitted = per_cycle[per_cycle["region"] == "kidneys"].sort_values("cycle")["dose_gy"]
    np.testing.assert_allclose(fitted.to_numpy(), truth, rtol=0.10)


def test_demo_multicycle_bed_is_sum_of_cycle_beds(demo_result):
    per_cycle = demo_result.dosimetry.per_cycle
    per_region = demo_result.dosimetry.per_region.set_index("region")
    for region, rows in per_cycle.groupby("region"):
        assert per_region.loc[region, "bed_gy"] == pytest.approx(rows["bed_gy"].sum(), rel=1e-12)
        assert per_region.loc[region, "bed_gy"] > per_region.loc[region, "dose_gy"]


def test_demo_refuses_to_overwrite(demo_result, tmp_path):
    out = demo_result.files["html"].parent
    before = demo_result.files["html"].read_bytes()
    with pytest.raises(ValueError, match="already exist"):
        run_demo(out)
    assert demo_result.files["html"].read_bytes() == before
    assert run_demo(out, overwrite=True).files["html"].exists()


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


def test_installed_entry_point_runs(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "doseresponse.cli", "demo", "--out", str(tmp_path / "d")],
        capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Report written to" in completed.stdout
    table = pd.read_csv(tmp_path / "d" / "per_region.csv")
    assert list(table["region"]) == ["kidneys", "red_marrow", "tumour"]


def test_example_patient_rebuilds_to_the_shipped_files(tmp_path):
    from pathlib import Path

    build = Path(__file__).resolve().parents[1] / "datasets" / "example_lu177_patient" / "build.py"
    subprocess.run([sys.executable, str(build), "--out", str(tmp_path)], check=True)
    shipped = resources.files("doseresponse") / "examples"
    # floats to rtol 1e-12, not bytes: another CPU's libm changes last digits (tests/_compare.py)
    assert_csv_files_close(tmp_path / "lu177_dotatate_patient.csv",
                           shipped / "lu177_dotatate_patient.csv")
    assert_json_files_close(tmp_path / "lu177_dotatate_patient.json",
                            shipped / "lu177_dotatate_patient.json")
