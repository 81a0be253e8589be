"""voxel_maps and voxel_batch: per-organ summaries against numpy closed forms, the compiled BED
loop against the scalar implementation, dask batches against serial loops."""

from __future__ import annotations

import importlib
import math

import nibabel as nib
import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.bed import bed_exponential
from doseresponse.radiobiology.voxel_batch import batch_organ_dosimetry, bed_map_blocks
from doseresponse.radiobiology.voxel_io import LabelMap, VoxelMap, write_nifti
from doseresponse.radiobiology.voxel_maps import (
    bed_map,
    dose_from_dose_rate,
    organ_dosimetry,
    organ_dvh,
)

LQ = {"alpha_beta": 2.6, "repair_half_time": 2.8}  # kidney preset
AFFINE = np.diag([2.0, 2.5, 4.0, 1.0])  # voxel 2 × 2.5 × 4 mm = 0.02 mL


@pytest.fixture
def case():
    rng = np.random.default_rng(2026)
    shape = (10, 9, 8)
    dose = VoxelMap(rng.gamma(3.0, 4.0, size=shape), AFFINE)
    t_eff = VoxelMap(rng.uniform(20, 120, size=shape), AFFINE, quantity="half_life", unit="h")
    labels = np.zeros(shape, dtype=int)
    labels[1:5, 1:6, 2:7] = 1
    labels[6:9, 3:8, 1:4] = 2
    seg = LabelMap(labels, AFFINE, {"kidney": 1, "tumour": 2})
    return dose, t_eff, seg


def bed_module():
    return importlib.import_module("doseresponse.radiobiology.bed")


# ------------------------------------------------------------------------------ compiled BED loop


@pytest.mark.parametrize("uptake", [False, True])
def test_compiled_bed_loop_equals_the_scalar_implementation(uptake):
    rng = np.random.default_rng(7)
    n = 500
    dose = rng.gamma(2.0, 8.0, size=n)
    t_eff = rng.uniform(1.0, 300.0, size=n)
    t_up = rng.uniform(0.1, 20.0, size=n) if uptake else None
    got = bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **LQ)
    scalar = [
        bed_module()._bed_exponential_scalar(
            np.float64(dose[i]), np.float64(t_eff[i]),
            None if t_up is None else np.float64(t_up[i]), 2.6, 2.8,
        )
        for i in range(n)
    ]
    np.testing.assert_allclose(got, scalar, rtol=1e-12)


def test_compiled_bed_loop_on_broadcast_and_readonly_inputs():
    rng = np.random.default_rng(8)
    dose = rng.gamma(2.0, 8.0, size=(6, 7, 5))
    dose.flags.writeable = False
    t_eff = rng.uniform(10, 100, size=(1, 7, 1))  # genuine broadcasting (nditer chunks)
    t_up = 2.0  # stride-0 operand in the uptake loop
    got = bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **LQ)
    for i, j, k in [(0, 0, 0), (5, 6, 4), (3, 2, 1)]:
        expected = bed_exponential(dose[i, j, k], effective_half_life=t_eff[0, j, 0],
                                   uptake_half_life=t_up, **LQ)
        assert got[i, j, k] == pytest.approx(float(expected), rel=1e-12)


def test_compiled_bed_loop_keeps_fortran_order_in_one_pass():
    # maps straight from nibabel are Fortran-ordered: the output keeps that order (as numpy's
    # ufuncs do) and the values equal the C-ordered evaluation exactly
    rng = np.random.default_rng(9)
    dose = np.asfortranarray(rng.gamma(2.0, 8.0, size=(9, 8, 7)))
    t_eff = np.asfortranarray(rng.uniform(10, 100, size=(9, 8, 7)))
    got = bed_exponential(dose, effective_half_life=t_eff, **LQ)
    assert got.flags.f_contiguous
    c_order = bed_exponential(np.ascontiguousarray(dose),
                              effective_half_life=np.ascontiguousarray(t_eff), **LQ)
    np.testing.assert_array_equal(got, c_order)
    mixed = bed_exponential(dose, effective_half_life=np.ascontiguousarray(t_eff), **LQ)
    assert mixed.flags.c_contiguous  # mixed layouts: C output through the chunked route
    np.testing.assert_array_equal(mixed, c_order)
    dose[3, 4, 5] = -1.0
    with pytest.raises(DoseResponseError, match=r"dose must be >= 0 .* index \(3, 4, 5\)"):
        bed_exponential(dose, effective_half_life=t_eff, **LQ)


# ------------------------------------------------------------------------------ maps


def test_bed_map_matches_the_closed_form_per_voxel(case):
    dose, t_eff, _ = case
    result = bed_map(dose, effective_half_life=t_eff, **LQ)
    g = 2.8 / (2.8 + t_eff.values)  # Dale 1985: G = Trep / (Trep + Teff)
    np.testing.assert_allclose(result.values, dose.values * (1 + g * dose.values / 2.6), rtol=1e-14)
    assert result.quantity == "BED" and result.unit == "Gy"
    np.testing.assert_array_equal(result.affine, dose.affine)
    scalar = bed_map(dose, effective_half_life=50.0, uptake_half_life=t_eff, **LQ)
    np.testing.assert_allclose(
        scalar.values,
        bed_exponential(dose.values, effective_half_life=50.0, uptake_half_life=t_eff.values,
                        **LQ),
        rtol=0,
    )


def test_bed_map_argument_errors(case):
    dose, t_eff, _ = case
    other_grid = VoxelMap(t_eff.values, np.diag([1.0, 1.0, 1.0, 1.0]), quantity="half_life",
                          unit="h")
    with pytest.raises(DoseResponseError, match="another grid than the dose map"):
        bed_map(dose, effective_half_life=other_grid, **LQ)
    with pytest.raises(DoseResponseError, match="effective_half_life must be a half_life map"):
        bed_map(dose, effective_half_life=dose, **LQ)
    with pytest.raises(DoseResponseError, match="dose must be a dose map; got a half_life map"):
        bed_map(t_eff, effective_half_life=50.0, **LQ)
    with pytest.raises(DoseResponseError, match="effective_half_life must be > 0"):
        bed_map(dose, effective_half_life=-3.0, **LQ)
    with pytest.raises(DoseResponseError, match="dose must be a VoxelMap"):
        bed_map(dose.values, effective_half_life=50.0, **LQ)


def test_dose_from_dose_rate_is_the_mono_exponential_integral(case):
    _, t_eff, _ = case
    rng = np.random.default_rng(4)
    rate = VoxelMap(rng.uniform(0, 0.2, size=t_eff.shape), AFFINE, quantity="dose_rate",
                    unit="Gy/h")
    dose = dose_from_dose_rate(rate, time_h=24.0, effective_half_life=t_eff)
    # ∫_0^∞ R(t) 2^{-(s-t)/T} ds = R(t) 2^{t/T} T / ln 2
    expected = rate.values * 2.0 ** (24.0 / t_eff.values) * t_eff.values / math.log(2.0)
    np.testing.assert_allclose(dose.values, expected, rtol=1e-13)
    assert dose.quantity == "dose" and dose.unit == "Gy"
    with pytest.raises(DoseResponseError, match="time_h must be > 0"):
        dose_from_dose_rate(rate, time_h=0.0, effective_half_life=50.0)
    with pytest.raises(DoseResponseError, match="dose_rate must be a dose_rate map"):
        dose_from_dose_rate(dose, time_h=24.0, effective_half_life=50.0)
    with pytest.raises(DoseResponseError, match="dose_from_dose_rate first"):
        organ_dvh(rate, LabelMap(np.ones(rate.shape, int), AFFINE, {"body": 1}), "body")


def test_organ_dosimetry_against_numpy(case):
    dose, t_eff, seg = case
    bed = bed_map(dose, effective_half_life=t_eff, **LQ)
    table = organ_dosimetry(dose, seg, bed=bed, geud_a=-8.0, alpha=0.15)
    assert list(table["organ"]) == ["kidney", "tumour"]
    for _, row in table.iterrows():
        mask = seg.labels == row["label"]
        d, b = dose.values[mask], bed.values[mask]
        assert row["n_voxels"] == mask.sum()
        assert row["volume_ml"] == pytest.approx(mask.sum() * 2.0 * 2.5 * 4.0 / 1000, rel=1e-12)
        assert row["mean_dose_gy"] == pytest.approx(d.mean(), rel=1e-12)
        assert row["min_dose_gy"] == d.min() and row["max_dose_gy"] == d.max()
        assert row["geud_gy"] == pytest.approx(np.mean(d**-8.0) ** (-1 / 8.0), rel=1e-10)
        assert row["mean_bed_gy"] == pytest.approx(b.mean(), rel=1e-12)
        eubed = -np.log(np.mean(np.exp(-0.15 * b))) / 0.15  # Prideaux et al. 2007
        assert row["eubed_gy"] == pytest.approx(eubed, rel=1e-10)
        assert row["eubed_gy"] <= row["mean_bed_gy"]
        # D98 (dose to the hottest 98 %) lies between the minimum and the 5th percentile
        assert d.min() <= row["d98_gy"] <= np.quantile(d, 0.05)
    with pytest.raises(DoseResponseError, match=r"alpha .for EUBED. needs a BED map"):
        organ_dosimetry(dose, seg, alpha=0.15)
    with pytest.raises(DoseResponseError, match="unknown organ 'liver'"):
        organ_dosimetry(dose, seg, organs=["liver"])


def test_organ_dosimetry_resamples_labels_from_a_finer_grid(case):
    dose, _, seg = case
    # the same segmentation on a grid twice as fine (voxel centres offset by a quarter voxel)
    fine_affine = np.diag([1.0, 1.25, 2.0, 1.0])
    fine_affine[:3, 3] = [-0.5, -0.625, -1.0]
    fine = LabelMap(np.repeat(np.repeat(np.repeat(seg.labels, 2, 0), 2, 1), 2, 2), fine_affine,
                    seg.names)
    direct = organ_dosimetry(dose, seg)
    resampled = organ_dosimetry(dose, fine)
    np.testing.assert_allclose(resampled["mean_dose_gy"], direct["mean_dose_gy"], rtol=1e-12)
    np.testing.assert_array_equal(resampled["n_voxels"], direct["n_voxels"])


def test_organ_dvh_mass_weights(case):
    dose, _, seg = case
    density = VoxelMap(np.where(seg.labels == 1, 1.05, 1.0), AFFINE, quantity="density",
                       unit="g/mL")
    dvh = organ_dvh(dose, seg, "kidney", density=density)
    assert dvh.total == pytest.approx(1.05 * (seg.labels == 1).sum() * 0.02, rel=1e-12)
    assert dvh.mean == pytest.approx(dose.values[seg.labels == 1].mean(), rel=1e-12)


# ------------------------------------------------------------------------------ dask


def write_patients(tmp_path, n=3):
    rng = np.random.default_rng(99)
    cases, maps = {}, {}
    for p in range(n):
        shape = (8, 7, 6 + p)
        dose = rng.gamma(3.0, 4.0, size=shape)
        labels = np.zeros(shape, dtype=np.int16)
        labels[1:4, 1:5, 1:5] = 1
        labels[5:7, 2:6, 2:5] = 2
        nib.save(nib.Nifti1Image(dose, AFFINE), tmp_path / f"p{p}_dose.nii.gz")
        nib.save(nib.Nifti1Image(labels, AFFINE), tmp_path / f"p{p}_seg.nii.gz")
        case = {"dose": str(tmp_path / f"p{p}_dose.nii.gz"),
                "labels": str(tmp_path / f"p{p}_seg.nii.gz"),
                "names": {"kidney": 1, "tumour": 2}, "quantity": "dose", "unit": "Gy"}
        if p == 1:  # one patient with a half-life map
            t_eff = VoxelMap(rng.uniform(30, 90, size=shape), AFFINE, quantity="half_life",
                             unit="h")
            case["half_life"] = str(write_nifti(t_eff, tmp_path / "p1_teff.nii.gz"))
        if p == 2:  # one patient with a dose-rate map (mGy/h) at 24 h
            case.update(quantity="dose_rate", unit="mGy/h", time_h=24.0)
        cases[f"P{p}"] = case
        maps[f"P{p}"] = (dose, labels)
    return cases, maps


def test_batch_organ_dosimetry_equals_a_serial_loop(tmp_path):
    import dask  # noqa: F401  (the `dask` extra, also in `test`, so CI runs this)

    from doseresponse.radiobiology.voxel_io import read_dose_map, read_label_map

    cases, _ = write_patients(tmp_path)
    table = batch_organ_dosimetry(cases, effective_half_life=60.0, geud_a=-5.0, alpha=0.2,
                                  scheduler="threads", num_workers=2, **LQ)
    assert list(table["patient"].unique()) == ["P0", "P1", "P2"]
    for patient, case in cases.items():
        dose = read_dose_map(case["dose"], quantity=case["quantity"], unit=case["unit"])
        half = (read_dose_map(case["half_life"]) if "half_life" in case else 60.0)
        if "time_h" in case:
            dose = dose_from_dose_rate(dose, time_h=case["time_h"], effective_half_life=half)
        serial = organ_dosimetry(dose, read_label_map(case["labels"], case["names"]),
                                 bed=bed_map(dose, effective_half_life=half, **LQ),
                                 geud_a=-5.0, alpha=0.2)
        got = table[table["patient"] == patient].drop(columns="patient").reset_index(drop=True)
        np.testing.assert_allclose(got.drop(columns="organ").to_numpy(float),
                                   serial.drop(columns="organ").to_numpy(float), rtol=1e-13)
    synchronous = batch_organ_dosimetry(cases, effective_half_life=60.0, scheduler="synchronous",
                                        **LQ)
    np.testing.assert_allclose(synchronous["mean_bed_gy"], table["mean_bed_gy"], rtol=1e-13)


def test_batch_errors_name_the_patient(tmp_path):
    cases, _ = write_patients(tmp_path, n=2)
    with pytest.raises(DoseResponseError, match="case 'P0' has no 'half_life' map"):
        batch_organ_dosimetry(cases, **LQ)
    broken = dict(cases)
    broken["P0"] = {**cases["P0"], "names": {"liver": 7}}
    with pytest.raises(DoseResponseError, match="patient 'P0': organ 'liver' has label 7"):
        batch_organ_dosimetry(broken, effective_half_life=60.0, **LQ)
    with pytest.raises(DoseResponseError, match=r"lacks \['labels'\]"):
        batch_organ_dosimetry({"X": {"dose": cases["P0"]["dose"]}}, effective_half_life=6, **LQ)
    no_time = {"P0": {**cases["P0"], "quantity": "dose_rate", "unit": "Gy/h"}}
    with pytest.raises(DoseResponseError, match="patient 'P0': a dose-rate map needs 'time_h'"):
        batch_organ_dosimetry(no_time, effective_half_life=60.0, **LQ)
    with pytest.raises(DoseResponseError, match="scheduler must be"):
        batch_organ_dosimetry(cases, effective_half_life=60.0, scheduler="mine", **LQ)


def write_rtstruct_patient(folder, rng):
    """A CT series, an RTSTRUCT with kidney and tumour ROIs on it and a NIfTI dose map on the
    CT grid; returns the case and the expected masks in [i, j, k] order."""
    from rt_utils import RTStructBuilder  # the `rtstruct` extra (also in `test`)

    from tests.radiobiology.test_voxel_io import make_ct_series

    folder.mkdir()
    affine = make_ct_series(folder / "ct")  # 12 x 12 x 6 voxels of 2.0 x 1.5 x 3.0 mm
    kidney = np.zeros((12, 12, 6), dtype=bool)  # rt-utils layout: rows, columns, slices
    kidney[3:8, 2:6, 1:4] = True
    tumour = np.zeros_like(kidney)
    tumour[8:11, 7:10, 2:5] = True
    builder = RTStructBuilder.create_new(dicom_series_path=str(folder / "ct"))
    builder.add_roi(mask=kidney, name="Kidney_L")
    builder.add_roi(mask=tumour, name="Tumour")
    builder.save(str(folder / "rs.dcm"))
    dose = rng.gamma(3.0, 4.0, size=(12, 12, 6))
    nib.save(nib.Nifti1Image(dose, affine), folder / "dose.nii.gz")
    case = {"dose": str(folder / "dose.nii.gz"), "labels": str(folder / "rs.dcm"),
            "series": str(folder / "ct"), "quantity": "dose", "unit": "Gy"}
    masks = {"Kidney_L": kidney.transpose(1, 0, 2), "Tumour": tumour.transpose(1, 0, 2)}
    return case, dose, masks


def test_batch_organ_dosimetry_reads_rtstruct_segmentations(tmp_path):
    import dask  # noqa: F401

    from doseresponse.radiobiology.voxel_io import read_dose_map, read_rtstruct

    rng = np.random.default_rng(7)
    cases, _ = write_patients(tmp_path, n=1)  # P0: NIfTI label map
    rt_case, dose, masks = write_rtstruct_patient(tmp_path / "rt", rng)
    cases["RT"] = rt_case
    cases["RT_tumour"] = {**rt_case, "rois": ["Tumour"]}
    table = batch_organ_dosimetry(cases, effective_half_life=60.0, alpha=0.2, num_workers=2,
                                  **LQ)
    assert list(table["patient"].unique()) == ["P0", "RT", "RT_tumour"]
    rt = table[table["patient"] == "RT"].set_index("organ")
    assert list(rt.index) == ["Kidney_L", "Tumour"]
    for organ, mask in masks.items():  # independent reference: numpy over the drawn masks
        assert rt.loc[organ, "n_voxels"] == mask.sum()
        assert rt.loc[organ, "mean_dose_gy"] == pytest.approx(dose[mask].mean(), rel=1e-12)
        bed = dose[mask] * (1 + dose[mask] * (2.8 / (2.8 + 60.0)) / 2.6)
        assert rt.loc[organ, "mean_bed_gy"] == pytest.approx(bed.mean(), rel=1e-12)
    assert rt.loc["Kidney_L", "volume_ml"] == pytest.approx(masks["Kidney_L"].sum() * 9e-3)
    only = table[table["patient"] == "RT_tumour"]
    assert list(only["organ"]) == ["Tumour"]
    assert only["mean_dose_gy"].iloc[0] == rt.loc["Tumour", "mean_dose_gy"]
    dose_map = read_dose_map(rt_case["dose"], quantity="dose", unit="Gy")
    serial = organ_dosimetry(dose_map, read_rtstruct(rt_case["labels"], rt_case["series"]),
                             bed=bed_map(dose_map, effective_half_life=60.0, **LQ), alpha=0.2)
    np.testing.assert_allclose(rt.drop(columns="patient").reset_index()
                               .drop(columns="organ").to_numpy(float),
                               serial.drop(columns="organ").to_numpy(float), rtol=1e-13)


def test_batch_rtstruct_case_errors(tmp_path):
    rt_case, _, _ = write_rtstruct_patient(tmp_path / "rt", np.random.default_rng(1))
    kw = {"effective_half_life": 60.0, **LQ}
    no_series = {k: v for k, v in rt_case.items() if k != "series"}
    with pytest.raises(DoseResponseError, match="not a NIfTI label map; for a DICOM RTSTRUCT"):
        batch_organ_dosimetry({"A": no_series}, **kw)
    with pytest.raises(DoseResponseError, match="'names' maps NIfTI label values"):
        batch_organ_dosimetry({"A": {**rt_case, "names": {"kidney": 1}}}, **kw)
    with pytest.raises(DoseResponseError, match=r"series .* is not a folder"):
        batch_organ_dosimetry({"A": {**rt_case, "series": str(tmp_path / "none")}}, **kw)
    with pytest.raises(DoseResponseError, match="'rois' must be a non-empty list"):
        batch_organ_dosimetry({"A": {**rt_case, "rois": "Tumour"}}, **kw)
    with pytest.raises(DoseResponseError, match=r"patient 'A': .*\['Liver'\] not found"):
        batch_organ_dosimetry({"A": {**rt_case, "rois": ["Liver"]}}, **kw)
    nifti, _ = write_patients(tmp_path, n=1)
    with pytest.raises(DoseResponseError, match="'series' and 'rois' are for a DICOM RTSTRUCT"):
        batch_organ_dosimetry({"B": {**nifti["P0"], "rois": ["x"]}}, **kw)


def test_bed_map_blocks_equals_in_memory_bed_and_raises_package_errors():
    import dask.array as da
    rng = np.random.default_rng(5)
    stack = rng.gamma(2.0, 6.0, size=(4, 16, 12, 10))  # four patients' maps
    t_eff = rng.uniform(20, 100, size=(4, 16, 12, 10))
    lazy = bed_map_blocks(da.from_array(stack, chunks=(1, 8, 12, 10)),
                          effective_half_life=da.from_array(t_eff, chunks=(2, 16, 6, 10)), **LQ)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(
        lazy.compute(scheduler="threads"), bed_exponential(stack, effective_half_life=t_eff, **LQ)
    )
    up = bed_map_blocks(stack, effective_half_life=40.0, uptake_half_life=t_eff[0], **LQ)
    np.testing.assert_array_equal(
        up.compute(),
        bed_exponential(stack, effective_half_life=40.0, uptake_half_life=t_eff[0], **LQ),
    )
    bad = stack.copy()
    bad[2, 3, 4, 5] = -1.0
    with pytest.raises(DoseResponseError, match="dose must be >= 0"):
        bed_map_blocks(da.from_array(bad, chunks=(1, 16, 12, 10)), effective_half_life=50.0,
                       **LQ).compute()
    with pytest.raises(DoseResponseError, match="does not broadcast"):
        bed_map_blocks(stack, effective_half_life=np.ones(3), **LQ)
