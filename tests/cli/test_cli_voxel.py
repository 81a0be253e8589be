"""``voxel``: dose map + segmentation → per-organ table and BED map, compared with the API."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from doseresponse.radiobiology import (
    VoxelMap,
    bed_map,
    organ_dosimetry,
    read_dose_map,
    read_label_map,
    tissue_parameters,
    write_rtdose,
)
from tests.cli.conftest import in_process

AFFINE = np.diag([3.0, 3.0, 5.0, 1.0])


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(31)
    shape = (12, 10, 8)
    dose = rng.gamma(4.0, 3.0, size=shape)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[2:6, 2:7, 1:6] = 1
    labels[8:11, 3:8, 2:5] = 2
    dose_path = write_rtdose(VoxelMap(dose, AFFINE), tmp_path / "dose.dcm")
    nib.save(nib.Nifti1Image(labels, AFFINE), tmp_path / "seg.nii.gz")
    return dose_path, tmp_path / "seg.nii.gz"


def test_voxel_command_matches_the_api_and_writes_outputs(files, tmp_path, capsys):
    # in process (the installed entry point runs `voxel --help` in test_conventions)
    dose_path, seg_path = files
    out, bed_out = tmp_path / "organs.csv", tmp_path / "bed.nii.gz"
    code, stdout, _ = in_process(["voxel", dose_path, seg_path, "--names", "kidney=1",
                                  "tumour=2", "--effective-half-life", "50", "--tissue",
                                  "kidney", "--alpha", "0.15", "--geud-a", "-10", "-o", out,
                                  "--bed-out", bed_out], capsys)
    assert code == 0
    assert "α/β = 2.6 Gy, T_rep = 2.8 h" in stdout
    assert f"BED map saved to {bed_out}" in stdout
    dose = read_dose_map(dose_path)
    kidney = tissue_parameters("kidney")
    bed = bed_map(dose, effective_half_life=50.0, alpha_beta=kidney.alpha_beta,
                  repair_half_time=kidney.repair_half_time)
    expected = organ_dosimetry(dose, read_label_map(seg_path, {"kidney": 1, "tumour": 2}),
                               bed=bed, geud_a=-10.0, alpha=0.15)
    table = pd.read_csv(out)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12)
    written = read_dose_map(bed_out)
    assert written.quantity == "BED"
    np.testing.assert_array_equal(written.values, bed.values)


def test_voxel_json_and_rtdose_output(files, tmp_path, capsys):
    dose_path, seg_path = files
    code, stdout, _ = in_process(["voxel", dose_path, seg_path, "--effective-half-life", "40",
                                  "--alpha-beta", "3", "--repair-half-time", "1.5",
                                  "--bed-out", tmp_path / "bed.dcm", "--json"], capsys)
    assert code == 0
    record = json.loads(stdout)
    assert [r["organ"] for r in record["rows"]] == ["label_1", "label_2"]
    assert record["alpha_beta_gy"] == 3.0 and record["bed_map"] == str(tmp_path / "bed.dcm")
    assert read_dose_map(tmp_path / "bed.dcm").quantity == "BED"


@pytest.mark.parametrize(
    ("extra", "status", "needle"),
    [
        (["--tissue", "kidney"], 2, "give one of --effective-half-life H or --half-life-map"),
        (["--effective-half-life", "50"], 2, "give --tissue NAME, or both --alpha-beta"),
        (["--effective-half-life", "50", "--tissue", "kidney", "--names", "kidney=7"], 1,
         "organ 'kidney' has label 7, which no voxel"),
        (["--effective-half-life", "50", "--tissue", "kidney", "--quantity", "dose_rate"], 1,
         "a dose_rate map must be in Gy/h; got unit 'Gy'"),
        (["--effective-half-life", "50", "--tissue", "kidney", "--quantity", "dose_rate",
          "--unit", "Gy/h"], 2, "a dose-rate map needs --time-h"),
        (["--effective-half-life", "50", "--tissue", "kidney", "--names", "kidney=0"], 2,
         "expected ORGAN=LABEL with a label > 0"),
    ],
)
def test_voxel_errors_are_one_line(files, capsys, extra, status, needle):
    dose_path, seg_path = files
    code, _, stderr = in_process(["voxel", dose_path, seg_path, *extra], capsys)
    assert code == status
    assert stderr.startswith("doseresponse voxel: error: ") and needle in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_voxel_refuses_to_overwrite(files, tmp_path, capsys):
    dose_path, seg_path = files
    (tmp_path / "bed.nii.gz").write_bytes(b"keep me")
    code, _, stderr = in_process(["voxel", dose_path, seg_path, "--effective-half-life", "50",
                                  "--tissue", "kidney", "--bed-out", tmp_path / "bed.nii.gz"],
                                 capsys)
    assert code == 1 and "already exists; pass --overwrite" in stderr
    assert (tmp_path / "bed.nii.gz").read_bytes() == b"keep me"
