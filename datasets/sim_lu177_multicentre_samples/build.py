"""Build ``sim_lu177_multicentre_samples``: SIMULATED 4-centre 177Lu-DOTATATE imaging samples.

Kidney and lesion time-activity samples of 84 simulated patients (4 centres, 4 cycles of
7.4 GBq, hybrid imaging schedule) with each patient's renal toxicity and lesion response, drawn
from known dose-response curves of the TRUE kidney and lesion BED. ``doseresponse demo`` runs the
whole loop on it: samples → TIA → absorbed dose → BED → pooled NTCP and TCP fits.

Run ``python datasets/sim_lu177_multicentre_samples/build.py [--out PATH]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from doseresponse.datasets._build import (
    SIMULATED_LICENCE,
    run_build,
    simulate_time_activity_from_params,
    simulation_entry,
)

NAME = "sim_lu177_multicentre_samples"
SEED = 20261201  # the date the dataset was built
GENERATOR = "doseresponse.simulate.simulate_time_activity_cohort"

#: Cycles 2-4 keep only this scan (h after administration): a hybrid schedule (full sampling in
#: cycle 1, one SPECT/CT per later cycle; Sundlöv et al. 2018, EJNMMI Phys 5:12; the
#: single-time-point idea of Hänscheid et al. 2018, J Nucl Med 59:75).
SINGLE_SCAN_H = 96.0

#: Shared by both regions: centres, patients, cycles, activity, imaging times and noise.
COMMON: dict[str, Any] = {
    "curve": "log-logistic",
    "n_studies": 4,
    "patients_per_study": [18, 24, 20, 22],
    "n_cycles": 4,
    "activity_per_cycle_mbq": 7400.0,
    "sample_times_h": [4.0, 24.0, 48.0, 96.0, 168.0],
    "noise_rel_sd": 0.07,
    "cycle_rel_sd": 0.1,
    "fit_model": "mono-exponential",
}

KIDNEY: dict[str, Any] = {
    **COMMON,
    "d50": 30.0,
    "slope": 3.0,
    "tau": 0.15,
    "covariates": {"hypertension": [0.30, 0.7]},
    "uptake_fraction": [0.035, 0.35],
    "effective_half_life_h": [50.0, 0.2],
    "fast_fraction": 0.2,
    "fast_half_life_h": 3.0,
    "kidney_mass_kg": [0.30, 0.15],
    "random_seed": SEED,
}

#: The lesion is drawn by the same generator: its ``kidney_mass_kg`` argument is the LESION mass
#: and ``alpha_beta``/``repair_half_time`` are those of the package's "tumour" preset.
TUMOUR: dict[str, Any] = {
    **COMMON,
    "d50": 100.0,
    "slope": 1.5,
    "tau": 0.2,
    "covariates": {},
    "uptake_fraction": [0.006, 0.4],
    "effective_half_life_h": [85.0, 0.15],
    "fast_fraction": 0.0,
    "fast_half_life_h": 3.0,
    "kidney_mass_kg": [0.02, 0.5],
    "alpha_beta": 10.0,
    "repair_half_time": 1.5,
    "random_seed": SEED + 1,
}

PARAMS: dict[str, Any] = {
    "random_seed": SEED,
    "single_scan_h": SINGLE_SCAN_H,
    "kidneys": KIDNEY,
    "tumour": TUMOUR,
}

DERIVATION = [
    "Generator: doseresponse.simulate.simulate_time_activity_cohort, called once for the kidneys "
    "(seed 20261201) and once for one lesion per patient (seed 20261202) with the same centres "
    "and patients; patient i of one call is patient i of the other. Kidney and lesion kinetics "
    "and outcomes are drawn independently given the doses.",
    "Kinetics per patient and cycle: activity A(t) = A0 [f exp(-ln2 t/T_fast) + (1-f) "
    "exp(-ln2 t/T_eff)] sampled at 4, 24, 48, 96, 168 h with 7 % log-normal noise; A0 = 7400 MBq "
    "x uptake fraction x a cycle factor (log-SD 0.1). Kidneys: uptake 3.5 % (log-SD 0.35), "
    "T_eff 50 h (log-SD 0.2), 20 % in a 3 h fast phase, mass 0.30 kg (log-SD 0.15), the order "
    "of magnitude of 177Lu-DOTATATE kidney dosimetry (about 0.6 Gy/GBq absorbed dose; the "
    "shipped example patient). Lesion: uptake 0.6 % (log-SD 0.4), T_eff 85 h (log-SD 0.15), "
    "mono-exponential (no uptake phase), mass 20 g (log-SD 0.5): about 3 Gy/GBq. ASSUMED values.",
    "True doses: local energy deposition (MIRD Pamphlet 21) of the true curves; true BED = sum "
    "over cycles of the exact Lea-Catcheside BED (kidney alpha/beta 2.6 Gy, T_rep 2.8 h, the "
    "'kidney' preset; lesion 10 Gy and 1.5 h, the 'tumour' preset).",
    "Renal toxicity: log-logistic in TRUE kidney BED, D50 = 30 Gy, gamma50 = 3, centre SD of "
    "log D50 tau = 0.15, hypertension (prevalence 30 %) a dose-modifying factor 0.7 on D50 "
    "(the 28/40 ratio of Bodei et al. 2008). ILLUSTRATIVE: D50 and gamma50 are chosen so that "
    "a cohort of 84 patients at standard activities has events (15 of 84 in this draw); they "
    "are lower "
    "than the Bodei 2008 thresholds (TD5 40 / 28 Gy BED) and are NOT a clinical estimate.",
    "Lesion response: log-logistic in TRUE lesion BED, D50 = 100 Gy, gamma50 = 1.5, tau = 0.2 "
    "(the illustrative tumour curve of doseresponse/examples/plan_example.json). ILLUSTRATIVE.",
    "Hybrid schedule: cycle 1 keeps all five scans; cycles 2-4 keep only the 96 h scan, so a "
    "dosimetry pipeline fits cycle 1 and rescales its curve through the later single scans.",
    "Seed 20261201 (the build date) for the kidneys, 20261202 for the lesions; centres are "
    "labelled centre01-centre04 and patients centreNN-MMMM.",
]

COLUMNS: dict[str, dict[str, str]] = {
    "study": {"description": "centre label", "unit": ""},
    "patient": {"description": "patient id (unique within the cohort)", "unit": ""},
    "region": {"description": "imaged region: 'kidneys' (both) or 'tumour' (one lesion)",
               "unit": ""},
    "cycle": {"description": "therapy cycle (7.4 GBq each, 1-4)", "unit": ""},
    "time_h": {"description": "scan time after that cycle's administration", "unit": "h"},
    "activity_mbq": {"description": "measured activity in the region (7 % noise)", "unit": "MBq"},
    "mass_kg": {"description": "region mass (kidneys or lesion), known exactly", "unit": "kg"},
    "hypertension": {"description": "hypertension (renal risk factor)", "unit": "0/1"},
    "renal_toxicity": {"description": "renal toxicity (1) or not (0) of the patient",
                       "unit": "0/1"},
    "tumour_response": {"description": "response (1) or not (0) of the patient's lesion",
                        "unit": "0/1"},
    "true_bed_gy": {"description": "TRUE course BED of the region (known truth, for checks)",
                    "unit": "Gy"},
}


def simulate() -> dict[str, Any]:
    """The two simulated cohorts (kidneys, tumour) of :data:`PARAMS`."""
    return {region: simulate_time_activity_from_params(PARAMS[region])
            for region in ("kidneys", "tumour")}


def _region_rows(cohort: Any, region: str) -> pd.DataFrame:
    samples = cohort.samples
    keep = (samples["cycle"] == 1) | (samples["time_h"] == SINGLE_SCAN_H)
    rows = samples.loc[keep, ["study", "patient", "cycle", "time_h", "activity_mbq"]].copy()
    patients = cohort.patients.set_index("patient")
    rows.insert(2, "region", region)
    rows["mass_kg"] = rows["patient"].map(patients["kidney_mass_kg"])
    rows["true_bed_gy"] = rows["patient"].map(patients["true_bed_gy"])
    return rows


def build_frame() -> pd.DataFrame:
    """Return the tidy sample table (same bytes for the same seed and numpy)."""
    cohorts = simulate()
    kidney, tumour = cohorts["kidneys"].patients, cohorts["tumour"].patients
    if not kidney["patient"].equals(tumour["patient"]):
        raise SystemExit(f"{NAME}: the kidney and lesion simulations disagree on the patients")
    frame = pd.concat([_region_rows(c, r) for r, c in cohorts.items()], ignore_index=True)
    outcomes = pd.DataFrame({
        "hypertension": kidney["hypertension"].to_numpy(),
        "renal_toxicity": kidney["outcome"].to_numpy(),
        "tumour_response": tumour["outcome"].to_numpy(),
    }, index=kidney["patient"])
    for col in outcomes:
        frame[col] = frame["patient"].map(outcomes[col]).astype(np.int64)
    order = {"kidneys": 0, "tumour": 1}
    frame = frame.sort_values(["patient", "region", "cycle", "time_h"],
                              key=lambda s: s.map(order) if s.name == "region" else s,
                              kind="stable")
    for col in ("study", "patient"):
        frame[col] = frame[col].str.replace("study", "centre", regex=False)
    frame["activity_mbq"] = frame["activity_mbq"].round(3)
    frame["mass_kg"] = frame["mass_kg"].round(5)
    frame["true_bed_gy"] = frame["true_bed_gy"].round(3)
    frame["cycle"] = frame["cycle"].astype(np.int64)
    return frame[list(COLUMNS)].reset_index(drop=True)


def truth_summary() -> dict[str, Any]:
    """Known true values a fit of the cohort should recover (TD5, D50, event rates...)."""
    cohorts = simulate()
    kidney, tumour = cohorts["kidneys"].truth, cohorts["tumour"].truth
    centre = {f"centre{k[len('study'):]}": v for k, v in kidney.study_d50.items()}
    lesion_centre = {f"centre{k[len('study'):]}": v for k, v in tumour.study_d50.items()}
    return {
        "kidney_d50_gy_bed": kidney.d50,
        "kidney_gamma50": kidney.slope,
        "kidney_td5_typical_centre": kidney.td(0.05),
        "kidney_td5_typical_centre_hypertension": kidney.td(0.05, {"hypertension": 1}),
        "kidney_td5_new_centre": kidney.td_new_study(0.05),
        "kidney_centre_d50": centre,
        "renal_toxicity_rate": float(cohorts["kidneys"].patients["outcome"].mean()),
        "tumour_d50_gy_bed": tumour.d50,
        "tumour_gamma50": tumour.slope,
        "tumour_td50_new_centre": tumour.td_new_study(0.5),
        "tumour_centre_d50": lesion_centre,
        "tumour_response_rate": float(cohorts["tumour"].patients["outcome"].mean()),
    }


CITATIONS = [
    "Bodei L, Cremonesi M, Ferrari M, et al. Long-term evaluation of renal toxicity after "
    "peptide receptor radionuclide therapy with 90Y-DOTATOC and 177Lu-DOTATATE: the role of "
    "associated risk factors. Eur J Nucl Med Mol Imaging 2008;35(10):1847-1856. "
    "doi:10.1007/s00259-008-0778-1.",
    "Bolch WE, Eckerman KF, Sgouros G, Thomas SR. MIRD Pamphlet No. 21: a generalized schema "
    "for radiopharmaceutical dosimetry. J Nucl Med 2009;50(3):477-484.",
    "Sundlöv A, Gustafsson J, Brolin G, et al. Feasibility of simplifying renal dosimetry in "
    "177Lu peptide receptor radionuclide therapy. EJNMMI Phys 2018;5:12.",
    "Hänscheid H, Lapa C, Buck AK, Lassmann M, Werner RA. Dose mapping after endoradiotherapy "
    "with 177Lu-DOTATATE/DOTATOC by a single measurement after 4 days. J Nucl Med "
    "2018;59(1):75-81.",
]

METADATA: dict[str, Any] = {
    "name": NAME,
    "title": "SIMULATED: 177Lu-DOTATATE kidney and lesion time-activity samples, 4 centres",
    "kind": "simulated",
    "level": "time-activity",
    "description": "Simulated multi-centre imaging data: 84 patients in 4 centres, 4 cycles of "
    "7.4 GBq 177Lu-DOTATATE, kidney and one-lesion activities at 4-168 h after cycle 1 and at "
    "96 h after cycles 2-4, with region masses, hypertension, renal toxicity and lesion "
    "response drawn at the TRUE BED from known (illustrative) log-logistic curves. The input "
    "of `doseresponse demo`.",
    "outcome": "renal toxicity; lesion response (two outcomes per patient)",
    "outcome_definition": "Simulated binary outcomes: renal toxicity from a log-logistic NTCP "
    "curve of the true course kidney BED, lesion response from a log-logistic TCP curve of the "
    "true course lesion BED (illustrative curves, see Simulation).",
    "dose_metric": "kidney and lesion BED, computed from the samples",
    "dose_unit": "Gy",
    "source": "simulated (doseresponse.simulate.simulate_time_activity_cohort); kinetics of "
    "the order of 177Lu-DOTATATE dosimetry, illustrative curves",
    "citations": CITATIONS,
    "licence": SIMULATED_LICENCE,
    "published_result": [
        "Known truth: kidney-BED NTCP log-logistic D50 = 30 Gy, gamma50 = 3, hypertension "
        "factor 0.7; lesion-BED TCP log-logistic D50 = 100 Gy, gamma50 = 1.5. Dosimetry of the "
        "samples (fit of cycle 1, rescaled through the 96 h scans) should recover true_bed_gy "
        "within a few per cent, and pooled fits of the outcomes on the estimated BED should "
        "cover the true D50 in their credible intervals. Exact values in 'Simulation' below.",
    ],
    "extraction_notes": [
        "One row per patient, region, cycle and scan; patient-level columns (hypertension, "
        "outcomes) and region-level ones (mass_kg, true_bed_gy) repeat on every row of that "
        "patient / region. Activities rounded to 0.001 MBq, masses to 0.01 g, true BED to "
        "0.001 Gy. true_bed_gy is the simulation truth, not something a clinic measures.",
        "Not loadable as DoseResponseData: each patient's kidney and lesion BED must first be "
        "computed from the samples (doseresponse.radiobiology.multicycle_dosimetry), as "
        "doseresponse.demo does.",
    ],
    "not_loadable_reason": "it holds time-activity samples, not one dose per patient; compute "
    "each patient's BED first with doseresponse.radiobiology.multicycle_dosimetry (as "
    "'doseresponse demo' does)",
    "mapping": None,
    "raw_files": [],
    "simulation": simulation_entry(
        seed=SEED,
        parameters=PARAMS,
        derivation=DERIVATION,
        truth=truth_summary(),
        generator=GENERATOR,
    ),
    "columns": COLUMNS,
}


if __name__ == "__main__":
    run_build(NAME, build_frame)
