r"""Read and write voxel maps: DICOM RTDOSE, NIfTI, NIfTI label maps and DICOM RTSTRUCT.

Every map is returned as a :class:`VoxelMap`: a 3-D float64 array indexed ``[i, j, k]`` with a
4×4 affine from voxel indices to patient coordinates in **RAS+ millimetres** (the NIfTI
convention; DICOM's LPS coordinates are converted with :math:`\mathrm{diag}(-1,-1,1)`), the
quantity it holds (``"dose"``, ``"dose_rate"``, ``"BED"``, ``"half_life"``...) and its unit
(``"Gy"``, ``"Gy/h"``, ``"h"``). For DICOM images ``i`` runs along a row (column index), ``j``
down the columns (row index) and ``k`` over the frames or slices in increasing position along
the slice normal, as in nibabel's DICOM notes; the voxel size is the column norms of the
affine (mm).

Readers: :func:`read_dose_map` (RTDOSE ``.dcm`` or NIfTI ``.nii``/``.nii.gz`` by suffix),
:func:`read_label_map` (NIfTI segmentation), :func:`read_rtstruct` (RTSTRUCT contours turned
into masks by rt-utils on the referenced image series; optional extra ``rtstruct``). Writers:
:func:`write_nifti` and :func:`write_rtdose` (never overwrite without ``overwrite=True``; the
file appears only when completely written). :func:`resample_labels` brings a label map onto a
dose grid by nearest neighbour.

pydicom, nibabel and rt-utils are imported inside the functions that need them, so
``import doseresponse.radiobiology`` does not load them. Units: dose Gy, dose rate Gy/h,
lengths mm, volumes mL (cm³).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse.exceptions import DoseResponseError

__all__ = [
    "LabelMap",
    "VoxelMap",
    "read_dose_map",
    "read_label_map",
    "read_rtstruct",
    "resample_labels",
    "write_nifti",
    "write_rtdose",
]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_UNITS: dict[str, tuple[str, float]] = {
    "Gy": ("Gy", 1.0),
    "cGy": ("Gy", 0.01),
    "mGy": ("Gy", 1e-3),
    "Gy/h": ("Gy/h", 1.0),
    "mGy/h": ("Gy/h", 1e-3),
    "h": ("h", 1.0),
    "g/mL": ("g/mL", 1.0),
    "g/cm3": ("g/mL", 1.0),
}
"""Accepted units of map values and the package unit (with factor) they are converted to."""
_QUANTITY_UNIT = {
    "dose": "Gy", "BED": "Gy", "EQD2": "Gy", "dose_rate": "Gy/h", "half_life": "h",
    "density": "g/mL",
}
_RTDOSE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.2"
_TAG = "doseresponse:"
"""Prefix of the NIfTI ``descrip`` / RTDOSE ``DoseComment`` that records quantity and unit."""
_GEOMETRY_TOLERANCE_MM = 1e-3


@dataclass(frozen=True, eq=False)
class VoxelMap:
    """A 3-D voxel map with its geometry, quantity and unit.

    Parameters
    ----------
    values : numpy.ndarray, shape (ni, nj, nk)
        Voxel values (float64) in ``unit``, indexed ``[i, j, k]``.
    affine : numpy.ndarray, shape (4, 4)
        Voxel index → RAS+ patient coordinates (mm).
    quantity : str
        What the values are: ``"dose"``, ``"dose_rate"``, ``"BED"``, ``"EQD2"``, ``"half_life"``,
        ``"density"``.
    unit : str
        Unit of the values: ``"Gy"`` (dose, BED, EQD2), ``"Gy/h"`` (dose rate), ``"h"``
        (half-life), ``"g/mL"`` (density).
    source : str, optional
        The file the map was read from (for messages).
    metadata : dict
        Format-specific facts kept for writing back (e.g. DICOM UIDs of the source RTDOSE).
    """

    values: NDArray[np.float64]
    affine: NDArray[np.float64]
    quantity: str = "dose"
    unit: str = "Gy"
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # C order (NIfTI data arrive in Fortran order): the BED loop then runs in one pass
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 3:
            raise DoseResponseError(
                f"VoxelMap values must be a 3-D array; got shape {values.shape}"
                + _from(self.source)
                + ". Pass one volume (a 4-D file must hold a single volume)."
            )
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
            raise DoseResponseError(
                f"VoxelMap affine must be a finite 4x4 matrix; got shape {affine.shape}"
                + _from(self.source)
                + "."
            )
        if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise DoseResponseError(
                "VoxelMap affine is singular (a zero voxel size or collinear axes)"
                + _from(self.source)
                + "; check the voxel spacing in the file."
            )
        expected = _QUANTITY_UNIT.get(self.quantity)
        if expected is None:
            raise DoseResponseError(
                f"quantity must be one of {sorted(_QUANTITY_UNIT)}; got {self.quantity!r}."
            )
        if self.unit != expected:
            raise DoseResponseError(
                f"a {self.quantity} map must be in {expected}; got unit {self.unit!r}"
                + _from(self.source)
                + ". Convert it, or read the file with the right unit= (mGy, cGy and mGy/h are "
                "converted on reading)."
            )
        values, affine = values.view(), affine.view()  # read-only views: the caller's arrays
        values.flags.writeable = False  # keep their own flags
        affine.flags.writeable = False
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "affine", affine)

    def __repr__(self) -> str:
        size = "×".join(f"{s:.4g}" for s in self.voxel_size_mm)
        return (
            f"VoxelMap({self.quantity} in {self.unit}, shape {self.shape}, voxel {size} mm"
            + (f", from {self.source}" if self.source else "")
            + ")"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along i, j, k."""
        return tuple(int(s) for s in self.values.shape)  # type: ignore[return-value]

    @property
    def voxel_size_mm(self) -> tuple[float, float, float]:
        """Voxel edge lengths (mm) along i, j, k: the column norms of the affine."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel (mL = cm³): absolute determinant of the affine's 3×3 part / 1000."""
        return float(abs(np.linalg.det(self.affine[:3, :3])) / 1000.0)

    def with_values(self, values: ArrayLike, *, quantity: str, unit: str) -> VoxelMap:
        """A map on the same grid holding other values (e.g. BED computed from this dose).

        Parameters
        ----------
        values : array_like
            New voxel values, the same shape as this map, in ``unit``.
        quantity : str
            What the new values are (e.g. ``"bed"``).
        unit : str
            Unit of the new values (e.g. ``"Gy"``).

        Returns
        -------
        VoxelMap
            The new map, with this map's affine and metadata and no source file.
        """
        return VoxelMap(
            values=np.asarray(values, dtype=np.float64),
            affine=self.affine,
            quantity=quantity,
            unit=unit,
            source=None,
            metadata=dict(self.metadata),
        )

    def same_grid(self, other: VoxelMap | LabelMap) -> bool:
        """Whether ``other`` has the same shape and affine (to 1e-3 mm).

        Parameters
        ----------
        other : VoxelMap or LabelMap
            The map to compare with.

        Returns
        -------
        bool
            True when the shapes are equal and the affines agree to 1e-3 mm.
        """
        return self.shape == other.shape and bool(
            np.allclose(self.affine, other.affine, rtol=0.0, atol=_GEOMETRY_TOLERANCE_MM)
        )


@dataclass(frozen=True, eq=False)
class LabelMap:
    """An integer segmentation on a voxel grid, with organ names.

    Parameters
    ----------
    labels : numpy.ndarray, shape (ni, nj, nk)
        Integer label of each voxel (0 = background).
    affine : numpy.ndarray, shape (4, 4)
        Voxel index → RAS+ patient coordinates (mm).
    names : dict of str to int
        Organ / lesion name → label value.
    source : str, optional
        The file the labels were read from.
    """

    labels: NDArray[np.int64]
    affine: NDArray[np.float64]
    names: dict[str, int]
    source: str | None = None

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim != 3:
            raise DoseResponseError(
                f"label map must be 3-D; got shape {labels.shape}" + _from(self.source) + "."
            )
        if labels.dtype.kind == "f":
            if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
                raise DoseResponseError(
                    "label map holds non-integer values" + _from(self.source) + "; a "
                    "segmentation must store integer labels (0 = background). Was a dose or "
                    "probability map passed as labels?"
                )
        elif labels.dtype.kind not in "iub":
            raise DoseResponseError(
                f"label map must hold integers; got dtype {labels.dtype}" + _from(self.source)
            )
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        names = {str(k): int(v) for k, v in dict(self.names).items()}
        present = set(np.unique(labels).tolist())
        for name, value in names.items():
            if value == 0:
                raise DoseResponseError(f"label 0 is background; organ {name!r} needs another.")
            if value not in present:
                raise DoseResponseError(
                    f"organ {name!r} has label {value}, which no voxel of the label map holds"
                    + _from(self.source)
                    + f"; labels present: {sorted(present - {0})}."
                )
        labels = labels.view()
        labels.flags.writeable = False
        affine = np.asarray(self.affine, dtype=np.float64).view()
        affine.flags.writeable = False
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "affine", affine)
        object.__setattr__(self, "names", names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along i, j, k."""
        return tuple(int(s) for s in self.labels.shape)  # type: ignore[return-value]

    def mask(self, name: str) -> NDArray[np.bool_]:
        """Boolean mask of one organ / lesion.

        Parameters
        ----------
        name : str
            Organ or lesion name, one of ``names``.

        Returns
        -------
        numpy.ndarray
            Boolean array of the label map's shape, True inside the organ.
        """
        if name not in self.names:
            raise DoseResponseError(f"unknown organ {name!r}; known: {sorted(self.names)}.")
        return self.labels == self.names[name]


# --------------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------------


def read_dose_map(
    path: str | os.PathLike[str],
    *,
    quantity: str | None = None,
    unit: str | None = None,
) -> VoxelMap:
    r"""Read an absorbed-dose or dose-rate map from DICOM RTDOSE or NIfTI.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM RTDOSE file (``.dcm`` or no suffix) or a NIfTI file (``.nii``, ``.nii.gz``).
    quantity : {"dose", "dose_rate", "BED", "EQD2", "half_life", "density"}, optional
        What the map holds. Default: the value recorded by :func:`write_nifti` /
        :func:`write_rtdose`, else ``"dose"`` for RTDOSE; required for other NIfTI files.
    unit : str, optional
        Unit of the stored values: ``"Gy"``, ``"cGy"``, ``"mGy"`` (converted to Gy), ``"Gy/h"``,
        ``"mGy/h"`` (converted to Gy/h), ``"h"`` or ``"g/mL"``. Default: RTDOSE ``DoseUnits``
        (GY), or the unit recorded by this package's writers; required for other NIfTI files
        (NIfTI has no field for it).

    Returns
    -------
    VoxelMap
        Values in Gy, Gy/h or h, with the RAS+ affine (mm).

    Raises
    ------
    DoseResponseError
        For a missing or unreadable file, a DICOM file that is not an RTDOSE, ``RELATIVE`` dose
        units, non-uniform frame spacing, a non-3-D volume, negative or non-finite values, or a
        NIfTI file without a stated quantity/unit. The message names the file and the fix.

    Notes
    -----
    RTDOSE (DICOM PS3.3 C.8.8.3): value = stored integer × ``DoseGridScaling`` (Gy); the voxel
    at column ``i``, row ``j``, frame ``k`` sits at (LPS, mm)

    .. math:: \mathbf{x} = \mathbf{P} + i\,\Delta_c\,\mathbf{r} + j\,\Delta_r\,\mathbf{c}
              + o_k\,(\mathbf{r}\times\mathbf{c}),

    with :math:`\mathbf{P}` = ImagePositionPatient, :math:`\mathbf{r}, \mathbf{c}` =
    ImageOrientationPatient, :math:`(\Delta_r, \Delta_c)` = PixelSpacing and :math:`o_k` =
    GridFrameOffsetVector (relative when its first element is 0, else absolute positions along
    the normal starting at :math:`\mathbf{P}`); frames must be equally spaced. NIfTI: nibabel's
    best affine (sform, else qform) and scaled data (``scl_slope``, ``scl_inter``).
    """
    p = _existing_file(path, "path")
    if _is_nifti(p):
        return _read_nifti_map(p, quantity, unit)
    return _read_rtdose(p, quantity, unit)


def read_label_map(
    path: str | os.PathLike[str], names: Mapping[str, int] | None = None
) -> LabelMap:
    """Read a NIfTI segmentation (integer label per voxel).

    Parameters
    ----------
    path : str or os.PathLike
        NIfTI file (``.nii`` / ``.nii.gz``) of integer labels, 0 = background.
    names : mapping of str to int, optional
        Organ / lesion name → label value. Default: ``"label_<n>"`` for every non-zero label.

    Returns
    -------
    LabelMap
        Labels with the RAS+ affine (mm).

    Raises
    ------
    DoseResponseError
        For a missing or unreadable file, a non-3-D image, non-integer values, or a named label
        that no voxel holds.
    """
    p = _existing_file(path, "path")
    if not _is_nifti(p):
        raise DoseResponseError(
            f"{p}: a label map must be a NIfTI file (.nii or .nii.gz); for DICOM RTSTRUCT "
            "contours use read_rtstruct()."
        )
    img = _load_nifti(p)
    data = np.asanyarray(img.dataobj)
    data = _squeeze_to_3d(data, p)
    if names is None:
        values = np.unique(data)
        names = {f"label_{int(v)}": int(v) for v in values if v != 0 and float(v).is_integer()}
    return LabelMap(labels=data, affine=img.affine, names=dict(names), source=str(p))


def read_rtstruct(
    rtstruct_path: str | os.PathLike[str],
    image_series_dir: str | os.PathLike[str],
    roi_names: Sequence[str] | None = None,
) -> LabelMap:
    """Turn DICOM RTSTRUCT contours into a label map on the referenced image series' grid.

    Parameters
    ----------
    rtstruct_path : str or os.PathLike
        The RTSTRUCT file.
    image_series_dir : str or os.PathLike
        Folder with the image series (CT/PET/SPECT slices) the contours were drawn on.
    roi_names : sequence of str, optional
        ROIs to read, in order of priority (a voxel in two ROIs takes the first's label).
        Default: every ROI in the file.

    Returns
    -------
    LabelMap
        Labels 1, 2, ... in the order of ``roi_names``, on the image series grid (RAS+ mm).
        Use :func:`resample_labels` to bring it onto a dose grid.

    Raises
    ------
    DoseResponseError
        When rt-utils is not installed (install ``doseresponse[rtstruct]``), a file is missing
        or not an RTSTRUCT for this series, or an ROI name is unknown (the message lists them).

    Notes
    -----
    The contour-to-mask conversion is rt-utils' (``RTStructBuilder.create_from`` and
    ``get_roi_mask_by_name``; Shrestha et al., rt-utils, https://github.com/qurit/rt-utils),
    which fills each planar contour on the slice it was drawn on (OpenCV polygon fill); it sizes
    the masks right only for square slices (as clinical 512×512 CT), so other series are
    refused with an error. Its mask
    axes (row, column, slice ascending along the normal) are transposed to this module's
    ``[i, j, k]``; the affine is built from the sorted series the same way (slice spacing =
    (last − first position) / (n − 1)).
    """
    try:
        from rt_utils import RTStructBuilder
    except ImportError as exc:
        raise DoseResponseError(
            "reading DICOM RTSTRUCT needs rt-utils: pip install 'doseresponse[rtstruct]' "
            f"(import failed: {exc}). Alternatively export the segmentation as a NIfTI label "
            "map and use read_label_map()."
        ) from None
    rt_path = _existing_file(rtstruct_path, "rtstruct_path")
    series_dir = Path(image_series_dir)
    if not series_dir.is_dir():
        raise DoseResponseError(
            f"image_series_dir {series_dir} is not a folder; pass the folder holding the image "
            "slices the RTSTRUCT refers to."
        )
    try:
        rtstruct = RTStructBuilder.create_from(
            dicom_series_path=str(series_dir), rt_struct_path=str(rt_path)
        )
    except Exception as exc:  # rt-utils raises bare Exceptions
        raise DoseResponseError(
            f"{rt_path}: could not read as an RTSTRUCT on the series in {series_dir} ({exc}). "
            "Check that the file is an RTSTRUCT and the folder holds the referenced series."
        ) from None
    available = list(rtstruct.get_roi_names())
    wanted = list(available if roi_names is None else roi_names)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise DoseResponseError(
            f"{rt_path}: ROI(s) {unknown} not found; the file has {available}."
        )
    series = rtstruct.series_data
    if int(series[0].Rows) != int(series[0].Columns):
        raise DoseResponseError(
            f"{rt_path}: the image series has {series[0].Rows}×{series[0].Columns} (non-square) "
            "slices; rt-utils builds masks of shape (Columns, Rows) and fills them as (Rows, "
            "Columns), which is only right for square slices. Export the segmentation as a "
            "NIfTI label map (read_label_map) instead."
        )
    affine = _series_affine(series, rt_path)
    shape = (int(series[0].Columns), int(series[0].Rows), len(series))
    labels = np.zeros(shape, dtype=np.int64)
    names: dict[str, int] = {}
    for value, name in enumerate(wanted, start=1):
        mask = np.asarray(rtstruct.get_roi_mask_by_name(name), dtype=bool).transpose(1, 0, 2)
        if not mask.any():
            raise DoseResponseError(
                f"{rt_path}: ROI {name!r} gives an empty mask on this series; check that the "
                "RTSTRUCT belongs to the series in image_series_dir."
            )
        labels[mask & (labels == 0)] = value
        names[name] = value
    return LabelMap(labels=labels, affine=affine, names=names, source=str(rt_path))


def resample_labels(labels: LabelMap, grid: VoxelMap) -> LabelMap:
    r"""Nearest-neighbour resampling of a label map onto the grid of a voxel map.

    Parameters
    ----------
    labels : LabelMap
        Segmentation on its own grid (e.g. the CT's).
    grid : VoxelMap
        Map whose grid (shape and affine) the labels are brought onto (e.g. the dose).

    Returns
    -------
    LabelMap
        Labels on ``grid``'s voxels (0 outside the original field of view). Returns ``labels``
        itself when the grids already agree.

    Raises
    ------
    DoseResponseError
        When an organ has no voxel on the new grid (the grids do not overlap there).

    Notes
    -----
    Each target voxel centre :math:`\mathbf{x} = A_g\,\mathbf{v}` takes the label of the source
    voxel nearest to :math:`A_l^{-1}\mathbf{x}` (``scipy.ndimage.map_coordinates``, order 0).
    Organ volumes change by up to about half a voxel layer of the coarser grid on the
    boundary; mass-weighted summaries use the resampled voxel count.
    """
    if grid.same_grid(labels):
        return labels
    from scipy import ndimage

    transform = np.linalg.solve(labels.affine, grid.affine)
    ni, nj, nk = grid.shape
    plane = np.indices((ni, nj), dtype=np.float64).reshape(2, -1)
    out = np.empty(grid.shape, dtype=np.int64)
    for k in range(nk):  # one plane at a time: coordinates cost 3 floats per plane voxel
        coords = transform[:3, :2] @ plane + (transform[:3, 2] * k + transform[:3, 3])[:, None]
        out[:, :, k] = ndimage.map_coordinates(
            labels.labels, np.rint(coords), order=0, mode="constant", cval=0, prefilter=False
        ).reshape(ni, nj)
    present = set(np.unique(out).tolist())
    lost = [name for name, value in labels.names.items() if value not in present]
    if lost:
        raise DoseResponseError(
            f"organ(s) {lost} have no voxel on the grid of {grid.source or 'the dose map'}; "
            "the segmentation and the map do not overlap there (check that both belong to the "
            "same patient and frame of reference)."
        )
    return LabelMap(labels=out, affine=grid.affine, names=labels.names, source=labels.source)


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------


def write_nifti(
    voxel_map: VoxelMap, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write a voxel map as NIfTI-1 (float64), recording quantity and unit.

    Parameters
    ----------
    voxel_map : VoxelMap
        The map (e.g. a BED map from :func:`doseresponse.radiobiology.voxel_maps.bed_map`).
    path : str or os.PathLike
        Target ``.nii`` or ``.nii.gz`` file.
    overwrite : bool, default False
        Replace an existing file; otherwise an existing file is an error.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DoseResponseError
        For a wrong suffix, or an existing file without ``overwrite=True``.

    Notes
    -----
    The affine is stored as both sform and qform (code 1, scanner); the header ``descrip``
    holds ``doseresponse: quantity=<q> unit=<u>`` so :func:`read_dose_map` reads it back
    without arguments; spatial units are mm. Written to a temporary file in the same folder
    and renamed into place, so an interrupted write leaves no partial file.
    """
    import nibabel as nib

    target = _writable_target(path, overwrite, nifti=True)
    img = nib.Nifti1Image(np.asarray(voxel_map.values, dtype=np.float64), voxel_map.affine)
    img.set_sform(voxel_map.affine, code=1)
    img.set_qform(voxel_map.affine, code=1)
    img.header.set_xyzt_units(xyz="mm")
    img.header["descrip"] = f"{_TAG} quantity={voxel_map.quantity} unit={voxel_map.unit}".encode()
    suffix = ".nii.gz" if target.name.endswith(".nii.gz") else ".nii"
    _atomic_write(target, suffix, lambda tmp: nib.save(img, tmp))
    return target


def write_rtdose(
    voxel_map: VoxelMap,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    reference: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a dose or BED map as a DICOM RTDOSE file (32-bit integers × DoseGridScaling).

    Parameters
    ----------
    voxel_map : VoxelMap
        A ``"dose"``, ``"BED"`` or ``"EQD2"`` map in Gy (RTDOSE stores Gy only).
    path : str or os.PathLike
        Target file (``.dcm``).
    overwrite : bool, default False
        Replace an existing file; otherwise an existing file is an error.
    reference : str or os.PathLike, optional
        An RTDOSE (or any DICOM file) of the same patient whose patient, study and frame of
        reference identifiers are copied, so that viewers show the map with the patient's
        images. Default: the identifiers of the RTDOSE the map was read from, else new ones.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DoseResponseError
        For a map that is not in Gy, negative or non-finite values, an oblique slice axis
        (RTDOSE frames must lie along the normal of the image plane), or an existing file
        without ``overwrite=True``.

    Notes
    -----
    DICOM PS3.3 C.8.8.3 (RT Dose module): ``DoseGridScaling`` = max / (2³² − 1), so the
    round-trip error is at most half a quantisation step, max·1.2e-10 (Gy). ``DoseType`` is
    ``PHYSICAL`` for dose and ``EFFECTIVE`` for BED/EQD2, ``DoseComment`` records the quantity
    and unit, ``GridFrameOffsetVector`` is relative (first element 0). The geometry is the
    inverse of :func:`read_dose_map`'s. Written to a temporary file and renamed into place.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if voxel_map.unit != "Gy":
        raise DoseResponseError(
            f"RTDOSE stores dose in Gy; this map is {voxel_map.quantity} in {voxel_map.unit}. "
            "Write it with write_nifti() instead."
        )
    values = voxel_map.values
    if not np.all(np.isfinite(values)) or values.min(initial=0.0) < 0:
        raise DoseResponseError(
            "RTDOSE values must be finite and >= 0 (Gy); the map has negative or non-finite "
            "voxels."
        )
    target = _writable_target(path, overwrite, nifti=False)
    lps = _LPS_TO_RAS @ voxel_map.affine  # the same flip maps RAS back to LPS
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    row_dir, col_dir, slice_vec = (lps[:3, n] / spacing[n] for n in range(3))
    normal = np.cross(row_dir, col_dir)
    if abs(float(row_dir @ col_dir)) > 1e-6 or np.linalg.norm(
        slice_vec - (slice_vec @ normal) * normal
    ) > 1e-6:
        raise DoseResponseError(
            "RTDOSE needs orthogonal in-plane axes and frames stacked along the plane normal; "
            "this map's affine is sheared or oblique. Write it with write_nifti() instead."
        )
    slice_step = float(spacing[2] * np.sign(slice_vec @ normal))

    peak = float(values.max(initial=0.0))
    scaling = peak / (2**32 - 1) if peak > 0 else 1.0

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _RTDOSE_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(target), {}, file_meta=meta, preamble=b"\0" * 128)
    ids = _reference_ids(reference, voxel_map)
    ds.SOPClassUID = _RTDOSE_SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTDOSE"
    ds.PatientID = ids.get("PatientID", "anonymous")
    ds.PatientName = ids.get("PatientName", "anonymous")
    ds.StudyInstanceUID = ids.get("StudyInstanceUID") or generate_uid()
    ds.FrameOfReferenceUID = ids.get("FrameOfReferenceUID") or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Manufacturer = "doseresponse"
    ds.ImagePositionPatient = [float(v) for v in lps[:3, 3]]
    ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
    ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]  # [row spacing, column spacing]
    ds.SliceThickness = float(abs(slice_step))
    ds.GridFrameOffsetVector = [float(k * slice_step) for k in range(values.shape[2])]
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x3004, 0x000C)
    ds.NumberOfFrames = values.shape[2]
    ds.Rows, ds.Columns = values.shape[1], values.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL" if voxel_map.quantity == "dose" else "EFFECTIVE"
    ds.DoseSummationType = "PLAN"
    ds.DoseGridScaling = f"{scaling:.10e}"[:16]
    ds.DoseComment = f"{_TAG} quantity={voxel_map.quantity} unit={voxel_map.unit}"[:64]
    # stored scaling is the 16-character decimal string; quantise with exactly that value
    scaling = float(ds.DoseGridScaling)
    stored = np.rint(np.minimum(values / scaling, 2**32 - 1)).astype(np.uint32)
    ds.PixelData = np.ascontiguousarray(stored.transpose(2, 1, 0)).tobytes()  # frames, rows, cols
    _atomic_write(target, ".dcm", lambda tmp: ds.save_as(tmp, enforce_file_format=True))
    return target


# --------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------


def _from(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _existing_file(path: Any, name: str) -> Path:
    try:
        p = Path(path)
    except TypeError:
        raise DoseResponseError(f"{name} must be a file path; got {type(path).__name__}.") from None
    if not p.is_file():
        raise DoseResponseError(f"{name}: file {p} does not exist; check the path.")
    return p


def _is_nifti(p: Path) -> bool:
    return p.name.endswith((".nii", ".nii.gz"))


def _load_nifti(p: Path) -> Any:
    import nibabel as nib

    try:
        img = nib.load(p)
        img.header  # noqa: B018  (force header parsing)
    except Exception as exc:  # nibabel raises several types for corrupt files
        raise DoseResponseError(
            f"{p}: not a readable NIfTI file ({type(exc).__name__}: {exc}). Check that the file "
            "is complete and really NIfTI (.nii/.nii.gz)."
        ) from None
    return img


def _squeeze_to_3d(data: np.ndarray, p: Path) -> np.ndarray:
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DoseResponseError(
            f"{p}: expected one 3-D volume; got an array of shape {data.shape}. Split a 4-D "
            "series into one file per time point."
        )
    return data


def _read_nifti_map(p: Path, quantity: str | None, unit: str | None) -> VoxelMap:
    img = _load_nifti(p)
    recorded = _parse_tag(bytes(img.header["descrip"]).decode("latin-1"))
    quantity = quantity or recorded.get("quantity")
    unit = unit or recorded.get("unit")
    if quantity is None or unit is None:
        raise DoseResponseError(
            f"{p}: a NIfTI file does not say what it holds; pass quantity= (e.g. 'dose' or "
            "'dose_rate') and unit= (e.g. 'Gy' or 'Gy/h') to read_dose_map."
        )
    try:
        data = np.asarray(img.get_fdata(dtype=np.float64))
    except Exception as exc:
        raise DoseResponseError(
            f"{p}: the image data could not be read ({type(exc).__name__}: {exc}); the file "
            "is probably truncated."
        ) from None
    data = _squeeze_to_3d(data, p)
    values, unit = _convert_unit(data, unit, p)
    _check_values(values, p)
    return VoxelMap(values, img.affine, quantity=quantity, unit=unit, source=str(p))


def _read_rtdose(p: Path, quantity: str | None, unit: str | None) -> VoxelMap:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(p)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DoseResponseError(
            f"{p}: not a readable DICOM file ({exc}). Pass an RTDOSE .dcm, or a NIfTI file "
            "named .nii/.nii.gz."
        ) from None
    modality = getattr(ds, "Modality", None)
    if ds.get("SOPClassUID") != _RTDOSE_SOP_CLASS and modality != "RTDOSE":
        raise DoseResponseError(
            f"{p}: DICOM modality {modality!r}, not RTDOSE. Pass the RTDOSE file of the dose "
            "grid (for contours use read_rtstruct)."
        )
    recorded = _parse_tag(str(ds.get("DoseComment", "")))
    file_unit = str(ds.get("DoseUnits", "")).upper()
    if unit is None:
        if file_unit == "RELATIVE":
            raise DoseResponseError(
                f"{p}: DoseUnits is RELATIVE (a normalised dose); pass unit= with the absolute "
                "unit only if you know the normalisation, e.g. after rescaling to Gy."
            )
        if file_unit != "GY":
            raise DoseResponseError(
                f"{p}: DoseUnits is {file_unit or 'missing'!r}; RTDOSE must state GY. Pass "
                "unit='Gy' (or 'Gy/h' for a dose-rate map) if you know it."
            )
        unit = recorded.get("unit", "Gy")
    quantity = quantity or recorded.get("quantity") or "dose"
    if "DoseGridScaling" not in ds:
        raise DoseResponseError(
            f"{p}: RTDOSE without DoseGridScaling (3004,000E); the stored integers cannot be "
            "turned into Gy. Re-export the dose from the treatment-planning system."
        )
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises several types for missing/short pixel data
        raise DoseResponseError(
            f"{p}: the RTDOSE pixel data could not be decoded ({type(exc).__name__}: {exc}); "
            "the file is probably truncated or compressed with a codec that is not installed."
        ) from None
    frames = int(ds.get("NumberOfFrames", 1))
    pixels = np.asarray(pixels).reshape(frames, int(ds.Rows), int(ds.Columns))
    values = pixels.transpose(2, 1, 0).astype(np.float64) * float(ds.DoseGridScaling)
    affine = _rtdose_affine(ds, frames, p)
    values, unit = _convert_unit(values, unit, p)
    _check_values(values, p)
    metadata = {
        key: str(ds.get(key))
        for key in ("PatientID", "PatientName", "StudyInstanceUID", "FrameOfReferenceUID")
        if key in ds
    }
    return VoxelMap(values, affine, quantity=quantity, unit=unit, source=str(p), metadata=metadata)


def _plane_axes(ds: Any, p: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row and column direction cosines, the normal and (row, column) spacing (mm), LPS."""
    try:
        orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
        spacing = np.asarray(ds.PixelSpacing, dtype=float)
        np.asarray(ds.ImagePositionPatient, dtype=float)
    except (AttributeError, ValueError, TypeError) as exc:
        raise DoseResponseError(
            f"{p}: missing or malformed geometry ({exc}); ImagePositionPatient, "
            "ImageOrientationPatient and PixelSpacing are required."
        ) from None
    row_dir, col_dir = orientation[:3], orientation[3:6]
    normal = np.cross(row_dir, col_dir)
    if (
        orientation.shape != (6,)
        or abs(row_dir @ col_dir) > 1e-3
        or abs(np.linalg.norm(normal) - 1.0) > 1e-3
    ):
        raise DoseResponseError(
            f"{p}: ImageOrientationPatient {orientation.tolist()} is not two orthogonal unit "
            "vectors."
        )
    if spacing.shape != (2,) or not np.all(spacing > 0):
        raise DoseResponseError(f"{p}: PixelSpacing must be two positive numbers (mm).")
    return row_dir, col_dir, normal, spacing


def _affine_lps_to_ras(
    position: np.ndarray, row_dir: np.ndarray, col_dir: np.ndarray, normal: np.ndarray,
    spacing: np.ndarray, slice_step: float,
) -> NDArray[np.float64]:
    lps = np.eye(4)
    lps[:3, 0] = row_dir * spacing[1]  # i runs along a row: column spacing
    lps[:3, 1] = col_dir * spacing[0]  # j runs down a column: row spacing
    lps[:3, 2] = normal * slice_step
    lps[:3, 3] = position
    return _LPS_TO_RAS @ lps


def _rtdose_affine(ds: Any, frames: int, p: Path) -> NDArray[np.float64]:
    row_dir, col_dir, normal, spacing = _plane_axes(ds, p)
    position = np.asarray(ds.ImagePositionPatient, dtype=float)
    if frames == 1:
        thickness = float(ds.get("SliceThickness") or 0.0)
        step = thickness if thickness > 0 else 1.0
    else:
        if "GridFrameOffsetVector" not in ds:
            raise DoseResponseError(
                f"{p}: multi-frame RTDOSE without GridFrameOffsetVector; the frame positions "
                "are unknown."
            )
        offsets = np.asarray(ds.GridFrameOffsetVector, dtype=float)
        if offsets.shape != (frames,):
            raise DoseResponseError(
                f"{p}: GridFrameOffsetVector has {offsets.size} entries for {frames} frames."
            )
        if offsets[0] != 0.0:  # absolute positions along the normal
            start = float(position @ normal)
            if abs(offsets[0] - start) > _GEOMETRY_TOLERANCE_MM:
                raise DoseResponseError(
                    f"{p}: GridFrameOffsetVector starts at {offsets[0]} mm, neither 0 (relative)"
                    f" nor the first frame's position {start:.4f} mm (absolute)."
                )
            offsets = offsets - offsets[0]
        steps = np.diff(offsets)
        step = float(steps.mean())
        if step == 0.0 or np.max(np.abs(steps - step)) > _GEOMETRY_TOLERANCE_MM:
            raise DoseResponseError(
                f"{p}: the dose frames are not equally spaced (GridFrameOffsetVector steps "
                f"{np.unique(np.round(steps, 4)).tolist()} mm); resample the dose to a regular "
                "grid in the planning system."
            )
    return _affine_lps_to_ras(position, row_dir, col_dir, normal, spacing, step)


def _series_affine(series: Sequence[Any], p: Path) -> NDArray[np.float64]:
    """Affine of an image series sorted by position along the normal (as rt-utils sorts it)."""
    row_dir, col_dir, normal, spacing = _plane_axes(series[0], p)
    positions = [float(np.asarray(s.ImagePositionPatient, dtype=float) @ normal) for s in series]
    step = (positions[-1] - positions[0]) / (len(series) - 1) if len(series) > 1 else 1.0
    origin = np.asarray(series[0].ImagePositionPatient, dtype=float)
    return _affine_lps_to_ras(origin, row_dir, col_dir, normal, spacing, step)


def _convert_unit(values: np.ndarray, unit: str, p: Path) -> tuple[np.ndarray, str]:
    if unit not in _UNITS:
        raise DoseResponseError(
            f"{p}: unit {unit!r} is not supported; use one of {sorted(_UNITS)}."
        )
    target, factor = _UNITS[unit]
    return (values * factor if factor != 1.0 else values), target


def _check_values(values: np.ndarray, p: Path) -> None:
    if not np.all(np.isfinite(values)):
        index = np.unravel_index(int(np.argmax(~np.isfinite(values))), values.shape)
        raise DoseResponseError(
            f"{p}: the map has NaN or infinite voxels (first at index {tuple(map(int, index))});"
            " set voxels outside the body to 0 before saving."
        )
    if values.size and values.min() < 0:
        index = np.unravel_index(int(np.argmin(values)), values.shape)
        raise DoseResponseError(
            f"{p}: the map has negative values (minimum {values.min():.4g} at index "
            f"{tuple(map(int, index))}); doses and dose rates must be >= 0 (was a noisy "
            "image, or a difference map, passed?)."
        )


def _parse_tag(text: str) -> dict[str, str]:
    text = text.strip("\x00 ").strip()
    if not text.startswith(_TAG):
        return {}
    pairs = (item.split("=", 1) for item in text[len(_TAG):].split() if "=" in item)
    return {k: v for k, v in pairs}


def _writable_target(path: Any, overwrite: bool, *, nifti: bool) -> Path:
    target = Path(path)
    if nifti and not _is_nifti(target):
        raise DoseResponseError(f"{target}: a NIfTI file name must end in .nii or .nii.gz.")
    if target.exists() and not overwrite:
        raise DoseResponseError(
            f"{target} exists; pass overwrite=True to replace it, or choose another name."
        )
    if not target.parent.is_dir():
        raise DoseResponseError(f"{target}: folder {target.parent} does not exist.")
    return target


def _atomic_write(target: Path, suffix: str, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _reference_ids(reference: Any, voxel_map: VoxelMap) -> dict[str, str]:
    if reference is None:
        return dict(voxel_map.metadata)
    import pydicom

    p = _existing_file(reference, "reference")
    try:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
    except Exception as exc:
        raise DoseResponseError(f"reference {p}: not a readable DICOM file ({exc}).") from None
    keys = ("PatientID", "PatientName", "StudyInstanceUID", "FrameOfReferenceUID")
    return {key: str(ds.get(key)) for key in keys if key in ds}
