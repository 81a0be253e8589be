"""voxel_io: synthetic DICOM RTDOSE / RTSTRUCT and NIfTI files written here, read back, compared.

The reference files are built directly with pydicom / nibabel / rt-utils in this module (not with
the package's writers), so each reader is checked against geometry computed by hand from the
DICOM standard (PS3.3 C.7.6.2.1.1 Image Position / Orientation, C.8.8.3 RT Dose) and the NIfTI
affine.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology import voxel_io
from doseresponse.radiobiology.voxel_io import (
    LabelMap,
    VoxelMap,
    read_dose_map,
    read_label_map,
    read_rtstruct,
    resample_labels,
    write_nifti,
    write_rtdose,
)

RTDOSE = "1.2.840.10008.5.1.4.1.1.481.2"
CT = "1.2.840.10008.5.1.4.1.1.2"


def _dataset(path, sop_class, modality):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID, ds.PatientName = "P001", "Test^Patient"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    return ds


def make_rtdose(path, pixels, *, scaling=1e-4, position=(-100.0, -50.0, 30.0),
                orientation=(1, 0, 0, 0, 1, 0), spacing=(2.0, 3.0), offsets=None,
                units="GY", modality="RTDOSE"):
    """RTDOSE with pixels[k, j, i] (frames, rows, columns) as uint32, written by pydicom."""
    frames, rows, cols = pixels.shape
    ds = _dataset(path, RTDOSE if modality == "RTDOSE" else CT, modality)
    ds.ImagePositionPatient = list(position)
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = list(spacing)
    ds.GridFrameOffsetVector = list(offsets if offsets is not None else 4.0 * np.arange(frames))
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x3004, 0x000C)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits, ds.DoseType, ds.DoseSummationType = units, "PHYSICAL", "PLAN"
    if scaling is not None:
        ds.DoseGridScaling = scaling
    ds.PixelData = np.ascontiguousarray(pixels.astype(np.uint32)).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def pixels():
    rng = np.random.default_rng(12)
    return rng.integers(0, 200000, size=(4, 5, 6)).astype(np.uint32)  # frames, rows, columns


def world(affine, i, j, k):
    return (affine @ np.array([i, j, k, 1.0]))[:3]


# ------------------------------------------------------------------------------ RTDOSE


def test_rtdose_values_scaling_and_geometry(tmp_path, pixels):
    path = make_rtdose(tmp_path / "dose.dcm", pixels, scaling=2.5e-4)
    dmap = read_dose_map(path)
    assert dmap.quantity == "dose" and dmap.unit == "Gy" and dmap.shape == (6, 5, 4)
    np.testing.assert_allclose(dmap.values, pixels.transpose(2, 1, 0) * 2.5e-4, rtol=1e-15)
    assert dmap.voxel_size_mm == pytest.approx((3.0, 2.0, 4.0), rel=1e-12)
    assert dmap.voxel_volume_ml == pytest.approx(0.024, rel=1e-12)
    # by hand: LPS = P + i*3*(1,0,0) + j*2*(0,1,0) + offset_k*(0,0,1); RAS flips x and y
    for i, j, k in [(0, 0, 0), (5, 4, 3), (2, 1, 3)]:
        lps = np.array([-100.0 + 3 * i, -50.0 + 2 * j, 30.0 + 4 * k])
        np.testing.assert_allclose(world(dmap.affine, i, j, k), lps * [-1, -1, 1], atol=1e-12)
    assert dmap.metadata["PatientID"] == "P001"


def test_rtdose_absolute_frame_offsets_and_rotated_orientation(tmp_path, pixels):
    # absolute GridFrameOffsetVector (starts at the first frame's z) gives the same grid
    relative = read_dose_map(make_rtdose(tmp_path / "rel.dcm", pixels))
    absolute = read_dose_map(
        make_rtdose(tmp_path / "abs.dcm", pixels, offsets=30.0 + 4.0 * np.arange(4))
    )
    np.testing.assert_allclose(absolute.affine, relative.affine, atol=1e-12)
    # rows along -y, columns along +x (a 90° in-plane rotation): normal = r x c = (0,0,1)
    rotated = read_dose_map(
        make_rtdose(tmp_path / "rot.dcm", pixels, orientation=(0, -1, 0, 1, 0, 0))
    )
    lps = np.array([-100.0, -50.0, 30.0]) + 2 * 3.0 * np.array([0, -1, 0]) \
        + 3 * 2.0 * np.array([1, 0, 0]) + 4.0 * 1 * np.array([0, 0, 1])
    np.testing.assert_allclose(world(rotated.affine, 2, 3, 1), lps * [-1, -1, 1], atol=1e-12)
    # frames stored head to feet (decreasing offsets): z = 30 - 4k, and back through the writer
    downward = read_dose_map(
        make_rtdose(tmp_path / "down.dcm", pixels, offsets=-4.0 * np.arange(4))
    )
    np.testing.assert_allclose(world(downward.affine, 1, 2, 3), [100.0 - 3, 50.0 - 4, 18.0],
                               atol=1e-12)
    again = read_dose_map(write_rtdose(downward, tmp_path / "down_again.dcm"))
    np.testing.assert_allclose(again.affine, downward.affine, atol=1e-9)
    assert pydicom.dcmread(tmp_path / "down_again.dcm").GridFrameOffsetVector[1] == -4.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"offsets": [0.0, 4.0, 9.0, 12.0]}, "not equally spaced"),
        ({"offsets": [5.0, 9.0, 13.0, 17.0]}, "neither 0 .relative."),
        ({"units": "RELATIVE"}, "RELATIVE"),
        ({"scaling": None}, "DoseGridScaling"),
        ({"modality": "CT"}, "not RTDOSE"),
        ({"orientation": (1, 0, 0, 1, 0, 0)}, "orthogonal unit"),
    ],
)
def test_rtdose_bad_files_name_the_file_and_the_fix(tmp_path, pixels, kwargs, match):
    path = make_rtdose(tmp_path / "bad.dcm", pixels, **kwargs)
    with pytest.raises(DoseResponseError, match=match) as info:
        read_dose_map(path)
    assert "bad.dcm" in str(info.value)


def test_unreadable_truncated_and_missing_files(tmp_path, pixels):
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"this is not DICOM")
    with pytest.raises(DoseResponseError, match=r"garbage.dcm: not a readable DICOM"):
        read_dose_map(garbage)
    good = make_rtdose(tmp_path / "full.dcm", pixels)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(DoseResponseError, match=r"truncated.dcm"):
        read_dose_map(truncated)
    with pytest.raises(DoseResponseError, match=r"does not exist"):
        read_dose_map(tmp_path / "nothing.dcm")
    bad_nifti = tmp_path / "broken.nii.gz"
    bad_nifti.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DoseResponseError, match=r"broken.nii.gz: not a readable NIfTI"):
        read_dose_map(bad_nifti, quantity="dose", unit="Gy")


# ------------------------------------------------------------------------------ NIfTI


def nifti_affine():
    # oblique affine with anisotropic voxels: rotation about z by 30° times diag(1.5, 2, 3)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([1.5, 2.0, 3.0])
    affine[:3, 3] = [10.0, -20.0, 5.0]
    return affine


def test_nifti_values_affine_units_and_scaling(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.uniform(0, 5, size=(7, 6, 5))
    affine = nifti_affine()
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "rate.nii.gz")
    rate = read_dose_map(tmp_path / "rate.nii.gz", quantity="dose_rate", unit="mGy/h")
    np.testing.assert_allclose(rate.values, data * 1e-3, rtol=1e-15)
    assert rate.unit == "Gy/h"
    np.testing.assert_allclose(rate.affine, affine, atol=1e-6)  # qform/sform stored as float32
    assert rate.voxel_size_mm == pytest.approx((1.5, 2.0, 3.0), rel=1e-6)
    # integer storage with scl_slope / scl_inter: nibabel applies them
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    img.header.set_slope_inter(0.25, 1.0)
    nib.save(img, tmp_path / "scaled.nii")
    scaled = read_dose_map(tmp_path / "scaled.nii", quantity="dose", unit="Gy")
    np.testing.assert_allclose(scaled.values, np.arange(24).reshape(2, 3, 4) * 0.25 + 1.0)
    # a 4-D file with one volume is accepted, a true 4-D series is not
    nib.save(nib.Nifti1Image(data[..., None], affine), tmp_path / "one.nii")
    assert read_dose_map(tmp_path / "one.nii", quantity="dose", unit="Gy").shape == (7, 6, 5)
    nib.save(nib.Nifti1Image(np.stack([data, data], -1), affine), tmp_path / "series.nii")
    with pytest.raises(DoseResponseError, match=r"series.nii: expected one 3-D volume"):
        read_dose_map(tmp_path / "series.nii", quantity="dose", unit="Gy")


@pytest.mark.parametrize(
    ("fill", "kwargs", "match"),
    [
        (None, {}, "pass quantity= .* and unit="),
        (None, {"quantity": "dose", "unit": "rad"}, "unit 'rad' is not supported"),
        (None, {"quantity": "dose", "unit": "Gy/h"}, "a dose map must be in Gy"),
        (np.nan, {"quantity": "dose", "unit": "Gy"}, r"NaN or infinite voxels .*index \(1, 2, 3\)"),
        (-0.5, {"quantity": "dose", "unit": "Gy"}, r"negative values .*index \(1, 2, 3\)"),
    ],
)
def test_nifti_bad_content_is_a_package_error(tmp_path, fill, kwargs, match):
    data = np.ones((3, 4, 5))
    if fill is not None:
        data[1, 2, 3] = fill
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "map.nii")
    with pytest.raises(DoseResponseError, match=match) as info:
        read_dose_map(tmp_path / "map.nii", **kwargs)
    assert "map.nii" in str(info.value)


# ------------------------------------------------------------------------------ label maps


def test_label_map_names_masks_and_errors(tmp_path):
    labels = np.zeros((6, 5, 4), dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 1
    labels[4, :, 2] = 3
    nib.save(nib.Nifti1Image(labels, nifti_affine()), tmp_path / "seg.nii.gz")
    seg = read_label_map(tmp_path / "seg.nii.gz", {"kidney": 1, "tumour": 3})
    assert seg.mask("kidney").sum() == 8 and seg.mask("tumour").sum() == 5
    np.testing.assert_array_equal(seg.mask("tumour"), labels == 3)
    default = read_label_map(tmp_path / "seg.nii.gz")
    assert default.names == {"label_1": 1, "label_3": 3}
    with pytest.raises(DoseResponseError, match=r"organ 'liver' has label 2, which no voxel"):
        read_label_map(tmp_path / "seg.nii.gz", {"liver": 2})
    with pytest.raises(DoseResponseError, match=r"unknown organ 'spleen'"):
        seg.mask("spleen")
    nib.save(nib.Nifti1Image(labels + 0.5, np.eye(4)), tmp_path / "prob.nii")
    with pytest.raises(DoseResponseError, match=r"non-integer values .in .*prob.nii"):
        read_label_map(tmp_path / "prob.nii")
    with pytest.raises(DoseResponseError, match=r"must be a NIfTI file .* read_rtstruct"):
        read_label_map(make_rtdose(tmp_path / "d.dcm", np.ones((2, 2, 2), np.uint32)))


def test_resample_labels_nearest_neighbour_onto_a_finer_grid():
    # labels on a 2 mm grid, dose on a 1 mm grid offset by 0.5 mm: each dose voxel centre
    # x = 0.5 + i (mm) falls in label voxel round((0.5 + i) / 2) (ties cannot occur here)
    coarse = np.zeros((4, 4, 4), dtype=int)
    coarse[1, 2, 3] = 1
    coarse[2:, :, :2] = 2
    labels = LabelMap(coarse, np.diag([2.0, 2.0, 2.0, 1.0]), {"a": 1, "b": 2})
    fine_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    fine_affine[:3, 3] = 0.5
    grid = VoxelMap(np.zeros((7, 7, 7)), fine_affine)
    on_grid = resample_labels(labels, grid)
    idx = np.indices((7, 7, 7))
    source = np.rint((0.5 + idx) / 2.0).astype(int)
    inside = np.all(source <= 3, axis=0)
    expected = np.zeros((7, 7, 7), dtype=int)
    expected[inside] = coarse[tuple(s[inside] for s in source)]
    np.testing.assert_array_equal(on_grid.labels, expected)
    assert resample_labels(labels, VoxelMap(np.zeros((4, 4, 4)), labels.affine)) is labels
    far = np.eye(4)
    far[:3, 3] = 500.0
    with pytest.raises(DoseResponseError, match=r"no voxel on the grid"):
        resample_labels(labels, VoxelMap(np.zeros((3, 3, 3)), far))


# ------------------------------------------------------------------------------ writers


def test_nifti_round_trip_keeps_values_geometry_and_quantity(tmp_path):
    rng = np.random.default_rng(5)
    bed = VoxelMap(rng.gamma(2.0, 10.0, size=(5, 6, 7)), nifti_affine(), quantity="BED")
    path = write_nifti(bed, tmp_path / "bed.nii.gz")
    back = read_dose_map(path)  # quantity and unit come from the header
    assert back.quantity == "BED" and back.unit == "Gy"
    np.testing.assert_array_equal(back.values, bed.values)  # float64 storage: exact
    np.testing.assert_allclose(back.affine, bed.affine, atol=1e-5)
    with pytest.raises(DoseResponseError, match=r"exists; pass overwrite=True"):
        write_nifti(bed, path)
    write_nifti(bed.with_values(bed.values * 2, quantity="BED", unit="Gy"), path, overwrite=True)
    np.testing.assert_allclose(read_dose_map(path).values, bed.values * 2)
    assert not list(tmp_path.glob(".partial-*"))  # no temporary file left behind
    with pytest.raises(DoseResponseError, match=r"must end in .nii or .nii.gz"):
        write_nifti(bed, tmp_path / "bed.img")


def test_rtdose_round_trip_within_half_a_quantisation_step(tmp_path, pixels):
    source = read_dose_map(
        make_rtdose(tmp_path / "in.dcm", pixels, orientation=(0, 1, 0, -1, 0, 0))
    )
    bed = source.with_values(source.values * 1.3 + 0.01, quantity="BED", unit="Gy")
    path = write_rtdose(bed, tmp_path / "bed.dcm")
    back = read_dose_map(path)
    ds = pydicom.dcmread(path)
    step = float(ds.DoseGridScaling)
    assert ds.DoseType == "EFFECTIVE" and ds.PatientID == "P001"
    assert step <= bed.values.max() / (2**32 - 1) * (1 + 1e-9)
    assert back.quantity == "BED"
    np.testing.assert_allclose(back.values, bed.values, rtol=0, atol=0.5 * step * (1 + 1e-9))
    np.testing.assert_allclose(back.affine, source.affine, atol=1e-9)
    # a NIfTI-born map (RAS axes, no DICOM metadata) writes to RTDOSE with the same geometry,
    # taking the patient identifiers of a reference file
    ras = VoxelMap(np.ones((3, 4, 2)) * 7.0, np.diag([2.0, 3.0, 4.0, 1.0]))
    assert ras.metadata == {}
    ras_path = write_rtdose(ras, tmp_path / "ras.dcm", reference=tmp_path / "in.dcm")
    reference = pydicom.dcmread(tmp_path / "in.dcm")
    written = pydicom.dcmread(ras_path)
    assert written.PatientID == "P001"
    assert written.FrameOfReferenceUID == reference.FrameOfReferenceUID
    assert written.DoseType == "PHYSICAL"
    again = read_dose_map(ras_path)
    np.testing.assert_allclose(again.affine, ras.affine, atol=1e-9)
    np.testing.assert_allclose(again.values, 7.0, rtol=1e-9)


def test_rtdose_writer_rejects_what_rtdose_cannot_hold(tmp_path):
    rate = VoxelMap(np.ones((2, 2, 2)), np.eye(4), quantity="dose_rate", unit="Gy/h")
    with pytest.raises(DoseResponseError, match=r"write_nifti"):
        write_rtdose(rate, tmp_path / "rate.dcm")
    sheared = np.eye(4)
    sheared[0, 2] = 0.5  # slices not stacked along the plane normal
    with pytest.raises(DoseResponseError, match=r"sheared or oblique"):
        write_rtdose(VoxelMap(np.ones((2, 2, 2)), sheared), tmp_path / "shear.dcm")
    (tmp_path / "taken.dcm").write_bytes(b"user data")
    with pytest.raises(DoseResponseError, match=r"exists"):
        write_rtdose(VoxelMap(np.ones((2, 2, 2)), np.eye(4)), tmp_path / "taken.dcm")
    assert (tmp_path / "taken.dcm").read_bytes() == b"user data"


def test_voxel_map_is_read_only_c_ordered_and_leaves_the_callers_arrays_alone():
    data = np.asfortranarray(np.arange(24.0).reshape(2, 3, 4))
    own = np.arange(24.0).reshape(2, 3, 4)
    for array in (data, own):
        vmap = VoxelMap(array, np.eye(4))
        assert vmap.values.flags.c_contiguous and not vmap.values.flags.writeable
        assert array.flags.writeable
        np.testing.assert_array_equal(vmap.values, array)
    labels = np.zeros((2, 3, 4), dtype=np.int64)
    labels[0, 0, 0] = 1
    LabelMap(labels, np.eye(4), {"a": 1})
    assert labels.flags.writeable


def test_voxel_map_validation():
    with pytest.raises(DoseResponseError, match=r"3-D array"):
        VoxelMap(np.ones((2, 2)), np.eye(4))
    with pytest.raises(DoseResponseError, match=r"singular"):
        VoxelMap(np.ones((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(DoseResponseError, match=r"quantity must be one of"):
        VoxelMap(np.ones((2, 2, 2)), np.eye(4), quantity="activity")


# ------------------------------------------------------------------------------ RTSTRUCT


def make_ct_series(folder, *, shape=(12, 12, 6), spacing=(1.5, 2.0), thickness=3.0):
    """CT slices (rows, cols, n) written in scrambled order; returns the expected RAS affine."""
    rows, cols, n = shape
    folder.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in (3, 0, 5, 1, 4, 2)[:n]:
        ds = _dataset(folder / f"ct{k}.dcm", CT, "CT")
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20261201", "120000", "1"
        ds.ImagePositionPatient = [-20.0, -10.0, 50.0 + thickness * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = list(spacing)
        ds.SliceThickness = thickness
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.PixelData = np.zeros((rows, cols), np.int16).tobytes()
        ds.save_as(folder / f"ct{k}.dcm", enforce_file_format=True)
    lps = np.eye(4)
    lps[:3, 0] = [spacing[1], 0, 0]
    lps[:3, 1] = [0, spacing[0], 0]
    lps[:3, 2] = [0, 0, thickness]
    lps[:3, 3] = [-20.0, -10.0, 50.0]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def test_rtstruct_masks_through_rt_utils_round_trip(tmp_path):
    from rt_utils import RTStructBuilder  # the `rtstruct` extra (also in `test`)

    expected_affine = make_ct_series(tmp_path / "ct")
    kidney = np.zeros((12, 12, 6), dtype=bool)  # rt-utils layout: rows, columns, slices
    kidney[3:8, 2:6, 1:4] = True
    tumour = np.zeros_like(kidney)
    tumour[6:10, 5:9, 3:5] = True  # overlaps the kidney: the first ROI named wins
    builder = RTStructBuilder.create_new(dicom_series_path=str(tmp_path / "ct"))
    builder.add_roi(mask=kidney, name="kidney")
    builder.add_roi(mask=tumour, name="tumour")
    builder.save(str(tmp_path / "rs.dcm"))

    seg = read_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", roi_names=["kidney", "tumour"])
    assert seg.shape == (12, 12, 6)
    np.testing.assert_allclose(seg.affine, expected_affine, atol=1e-9)
    np.testing.assert_array_equal(seg.mask("kidney"), kidney.transpose(1, 0, 2))
    np.testing.assert_array_equal(
        seg.mask("tumour"), (tumour & ~kidney).transpose(1, 0, 2)
    )
    with pytest.raises(DoseResponseError, match=r"\['liver'\] not found; the file has"):
        read_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", roi_names=["liver"])
    with pytest.raises(DoseResponseError, match=r"is not a folder"):
        read_rtstruct(tmp_path / "rs.dcm", tmp_path / "nowhere")
    make_ct_series(tmp_path / "other")  # another series (new UIDs): rt-utils refuses it
    with pytest.raises(DoseResponseError, match=r"rs.dcm: could not read as an RTSTRUCT"):
        read_rtstruct(tmp_path / "rs.dcm", tmp_path / "other")


def test_rtstruct_on_non_square_slices_is_refused(tmp_path):
    from rt_utils import RTStructBuilder

    make_ct_series(tmp_path / "ct", shape=(12, 10, 3))
    builder = RTStructBuilder.create_new(dicom_series_path=str(tmp_path / "ct"))
    builder.save(str(tmp_path / "rs.dcm"))
    with pytest.raises(DoseResponseError, match=r"non-square.*read_label_map"):
        read_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct")


def test_rtstruct_without_rt_utils_says_which_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_rt_utils(name, *args, **kwargs):
        if name.startswith("rt_utils"):
            raise ImportError("No module named 'rt_utils'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rt_utils)
    with pytest.raises(DoseResponseError, match=r"doseresponse\[rtstruct\]"):
        read_rtstruct(tmp_path / "rs.dcm", tmp_path)


def test_module_all_is_complete():
    assert set(voxel_io.__all__) <= set(dir(voxel_io))
