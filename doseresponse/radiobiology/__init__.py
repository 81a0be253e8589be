"""Radiobiology: from time-activity data to absorbed dose, BED, EQDx and EUD.

Pure numpy/scipy (no PyMC import). Units: time h, activity MBq, time-integrated activity MBq·h,
dose Gy, dose rate Gy/h, rate constants 1/h, α Gy⁻¹, α/β Gy, energies MeV, mass kg.

Modules
-------
nuclides   half-lives and mean energies per decay (ICRP 107 based), with sources
kinetics   time-activity fits (mono/bi/tri-exponential, uptake, trapezoid + tail), AICc selection
single_time_point  Hänscheid, Madsen and reference-curve TIA from one scan, with uncertainty
absorbed   MIRD D = Ã·S, local energy deposition, single-time-point TIA
doserate   dose-rate histories (sum of exponentials; piecewise linear + exponential tail)
bed        Lea–Catcheside G, BED (multi-cycle, two repair components, repopulation), EQDx, inverses
eud        DVH, gEUD, clonogen EUD, EUBED, O'Donoghue EUD
tissues    α/β, repair half-time and α presets with citations
population_kinetics  hierarchical Bayesian TAC fit across patients and cycles (nutpie)
samples    tidy time-activity tables: column mapping, units (MBq/kBq/GBq/%IA; h/min/d)
pipeline   multi-cycle organ/lesion dosimetry from time-activity samples in one call
voxel_io   DICOM RTDOSE / RTSTRUCT and NIfTI maps in and out (imported on use)
voxel_maps dose from dose-rate maps, voxel BED maps, per-organ DVH, mean dose, gEUD, EUBED
voxel_batch  many patients' maps with dask (optional extra ``dask``; imported on use)
"""

from doseresponse.radiobiology.absorbed import (
    absorbed_dose,
    dose_constant_gy_kg_per_gbq,
    hanscheid_factor,
    local_deposition_dose,
    local_deposition_s_value,
    rescale_s_value,
    single_time_point_tia,
)
from doseresponse.radiobiology.bed import (
    bed,
    bed_exponential,
    bed_fractionated,
    dose_for_bed,
    dose_for_bed_history,
    eqd,
    g_factor,
    lea_catcheside_integral,
    scale_for_bed,
)
from doseresponse.radiobiology.doserate import DoseRate, ExponentialDoseRate, PiecewiseDoseRate
from doseresponse.radiobiology.eud import DVH, clonogenic_eud, eubed, geud, odonoghue_eud
from doseresponse.radiobiology.kinetics import (
    AcceptanceCheck,
    PhysicalDecayBoundWarning,
    TimeActivityFit,
    exponential_tia,
    fit_time_activity,
    trapezoid_tail_tia,
)
from doseresponse.radiobiology.nuclides import Nuclide, get_nuclide, list_nuclides
from doseresponse.radiobiology.pipeline import (
    DosimetryWarning,
    MultiCycleDosimetry,
    multicycle_dosimetry,
)
from doseresponse.radiobiology.population_kinetics import (
    PopulationCycleTIA,
    PopulationKineticsFit,
    fit_time_activity_population,
)
from doseresponse.radiobiology.samples import (
    masses_by_region_and_cycle,
    read_time_activity_samples,
)
from doseresponse.radiobiology.single_time_point import (
    SingleTimePointTIA,
    hanscheid_tia,
    madsen_tia,
    reference_curve_tia,
)
from doseresponse.radiobiology.tissues import TissueParameters, list_tissues, tissue_parameters
from doseresponse.radiobiology.voxel_batch import batch_organ_dosimetry, bed_map_blocks
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
from doseresponse.radiobiology.voxel_maps import (
    bed_map,
    dose_from_dose_rate,
    organ_dosimetry,
    organ_dvh,
)

__all__ = [
    "DVH",
    "AcceptanceCheck",
    "DoseRate",
    "DosimetryWarning",
    "ExponentialDoseRate",
    "LabelMap",
    "MultiCycleDosimetry",
    "Nuclide",
    "PhysicalDecayBoundWarning",
    "PiecewiseDoseRate",
    "PopulationCycleTIA",
    "PopulationKineticsFit",
    "SingleTimePointTIA",
    "TimeActivityFit",
    "TissueParameters",
    "VoxelMap",
    "absorbed_dose",
    "batch_organ_dosimetry",
    "bed",
    "bed_exponential",
    "bed_fractionated",
    "bed_map",
    "bed_map_blocks",
    "clonogenic_eud",
    "dose_constant_gy_kg_per_gbq",
    "dose_for_bed",
    "dose_for_bed_history",
    "dose_from_dose_rate",
    "eqd",
    "eubed",
    "exponential_tia",
    "fit_time_activity",
    "fit_time_activity_population",
    "g_factor",
    "get_nuclide",
    "geud",
    "hanscheid_factor",
    "hanscheid_tia",
    "lea_catcheside_integral",
    "list_nuclides",
    "list_tissues",
    "local_deposition_dose",
    "local_deposition_s_value",
    "madsen_tia",
    "masses_by_region_and_cycle",
    "multicycle_dosimetry",
    "odonoghue_eud",
    "organ_dosimetry",
    "organ_dvh",
    "read_dose_map",
    "read_label_map",
    "read_rtstruct",
    "read_time_activity_samples",
    "reference_curve_tia",
    "resample_labels",
    "rescale_s_value",
    "scale_for_bed",
    "single_time_point_tia",
    "tissue_parameters",
    "trapezoid_tail_tia",
    "write_nifti",
    "write_rtdose",
]
