"""Build ``sim_kidney_prrt``: a SIMULATED 8-centre cohort, renal toxicity vs kidney BED after PRRT.

Run ``python datasets/sim_kidney_prrt/build.py [--out PATH]``. The mixed IPD + aggregate version
(``sim_kidney_prrt_mixed``) draws the very same patients (same parameters and seed) and reports
the last three centres only as aggregate rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from doseresponse.datasets._build import (
    SIMULATED_LICENCE,
    json_mapping,
    run_build,
    simulate_from_params,
    simulation_entry,
)
from doseresponse.simulate import SimulatedCohort

NAME = "sim_kidney_prrt"
SEED = 20081847  # Bodei et al. 2008, Eur J Nucl Med Mol Imaging 35:1847

#: gamma50 from the Burman et al. 1991 LKB kidney width m = 0.10: 1/(m*sqrt(2*pi)) = 3.99.
GAMMA50 = 4.0
#: Bodei 2008 kidney-BED threshold without risk factors, read as TD5 (Gy).
TD5_NO_RISK = 40.0
#: Bodei 2008 threshold with risk factors (Gy); the dose-modifying factor is 28/40 = 0.7.
TD5_RISK = 28.0
#: log-logistic: TD5 = D50 * 19^(-1/(4 gamma50))  =>  D50 = TD5 * 19^(1/(4 gamma50)) = 48.08 Gy.
D50 = TD5_NO_RISK * 19.0 ** (1.0 / (4.0 * GAMMA50))

PARAMS: dict[str, Any] = {
    "curve": "log-logistic",
    "d50": D50,
    "slope": GAMMA50,
    "n_studies": 8,
    "patients_per_study": [45, 80, 52, 70, 38, 90, 65, 60],
    "tau": 0.15,
    "covariates": {
        "hypertension": [0.30, TD5_RISK / TD5_NO_RISK],
        "diabetes": [0.15, TD5_RISK / TD5_NO_RISK],
    },
    "dose_distribution": [[24.0, 27.0, 30.0, 32.0, 34.0, 36.0, 39.0, 42.0], 0.25],
    "dose_rel_sd": 0.15,
    "n_aggregate_studies": 0,
    "bins_per_study": 4,
    "aggregate_covariates": "stratify",
    "dose_metric": "kidney BED",
    "dose_unit": "Gy",
    "outcome_name": "renal toxicity (any grade, creatinine)",
    "study_prefix": "centre",
    "dose_decimals": 2,
    "random_seed": SEED,
}

DERIVATION = [
    "Curve: log-logistic in kidney BED (P(0) = 0; a dose-modifying factor on D50 scales every "
    "TD_p by the same factor).",
    "gamma50 = 4.0: the Burman et al. 1991 LKB fit to the Emami whole-kidney tolerance data has "
    "m = 0.10 (project reference notes, section 3E), i.e. gamma50 = 1/(m*sqrt(2*pi)) = 3.99. "
    "This is an external-beam value, used here for the steepness only.",
    "d50 = 48.08 Gy BED: Bodei et al. 2008 report kidney-BED thresholds of 40 Gy without and "
    "28 Gy with risk factors; reading the threshold as TD5 (NTCP 5 %) for a patient without risk "
    "factors gives D50 = 40 * 19^(1/(4*4)) = 48.08 Gy.",
    "Covariates hypertension and diabetes, each a dose-modifying factor of 28/40 = 0.7 on D50, so "
    "TD5 = 28 Gy with one risk factor (exactly Bodei's 28 Gy) and 19.6 Gy with both. "
    "Prevalences 30 % and 15 % are ASSUMED (typical of adult NET cohorts; not from the "
    "transcribed sources).",
    "tau = 0.15 (between-centre SD of log D50, i.e. about 15 % spread of centre tolerance / "
    "dosimetry calibration): ASSUMED.",
    "Kidney BED per centre log-normal, medians 24-42 Gy, log-SD 0.25: ASSUMED, in the range of "
    "the transcribed kidney doses (Valkema 2005 total kidney absorbed dose 7.3-26.7 Gy for "
    "177Lu and 18.3-38.7 Gy for 90Y; Rudisile 2019 mean cumulative 23.8 Gy), BED being larger "
    "than absorbed dose.",
    "dose_rel_sd = 0.15: kidney absorbed-dose uncertainty about 13 % with three SPECT/CT time "
    "points and 19 % with a single 24 h scan (Staanum et al. 2021, EJNMMI Phys 8:78).",
    "Outcome: renal toxicity of any grade (creatinine, NCI criteria), the Bodei 2008 endpoint; "
    "the simulated event rate (about 29 %) is below Bodei's 9/23 for 90Y-DOTATOC.",
    "Seed 20081847 (the journal pages of Bodei 2008); patients are numbered within centre.",
]

CITATIONS = [
    "Bodei L, Cremonesi M, Ferrari M, et al. Long-term evaluation of renal toxicity after "
    "peptide receptor radionuclide therapy with 90Y-DOTATOC and 177Lu-DOTATATE: the role of "
    "associated risk factors. Eur J Nucl Med Mol Imaging 2008;35(10):1847-1856. "
    "doi:10.1007/s00259-008-0778-1.",
    "Burman C, Kutcher GJ, Emami B, Goitein M. Fitting of normal tissue tolerance data to an "
    "analytic function. Int J Radiat Oncol Biol Phys 1991;21(1):123-135.",
    "Staanum PF, et al. Practical kidney dosimetry in peptide receptor radionuclide therapy using "
    "[177Lu]Lu-DOTATOC and [177Lu]Lu-DOTATATE with focus on uncertainty estimates. EJNMMI Phys "
    "2021;8:78.",
    "Valkema R, et al. Long-term follow-up of renal function after peptide receptor radiation "
    "therapy with 90Y-DOTA0,Tyr3-octreotide and 177Lu-DOTA0,Tyr3-octreotate. J Nucl Med "
    "2005;46(1 Suppl):83S-91S.",
]


def simulate(params: dict[str, Any] | None = None) -> SimulatedCohort:
    """Run the simulation with :data:`PARAMS` (JSON lists turned back into tuples)."""
    return simulate_from_params(params or PARAMS)


def truth_summary(cohort: SimulatedCohort) -> dict[str, Any]:
    """TD5/TD50 (typical and new centre, with and without a risk factor) and centre D50s."""
    t = cohort.truth
    one = {"hypertension": 1}
    return {
        "td5": t.td(0.05),
        "td50": t.td(0.5),
        "td5_one_risk_factor": t.td(0.05, one),
        "td5_new_centre": t.td_new_study(0.05),
        "td50_new_centre": t.td_new_study(0.5),
        "td5_new_centre_one_risk_factor": t.td_new_study(0.05, one),
        "centre_d50": t.study_d50,
        "event_rate": float(cohort.patients["outcome"].mean()),
    }


COHORT = simulate()

METADATA: dict[str, Any] = {
    "name": NAME,
    "title": "SIMULATED: renal toxicity vs kidney BED after PRRT, 8 centres (IPD)",
    "kind": "simulated",
    "level": "ipd",
    "description": "Simulated multi-centre IPD: 500 patients in 8 centres with kidney BED "
    "(observed with 15 % dosimetry error), hypertension and diabetes as dose-modifying risk "
    "factors, and renal toxicity; parameters from Bodei 2008 (BED thresholds 28/40 Gy), Burman "
    "1991 (slope) and Staanum 2021 (dosimetry error).",
    "outcome": "renal toxicity (any grade, creatinine)",
    "outcome_definition": "Simulated binary renal toxicity (modelled on the Bodei 2008 endpoint: "
    "creatinine toxicity of any NCI grade), drawn from the log-logistic curve at the TRUE BED.",
    "dose_metric": "kidney BED",
    "dose_unit": "Gy",
    "source": "simulated (doseresponse.simulate.simulate_cohort); parameters from Bodei 2008, "
    "Burman 1991, Staanum 2021",
    "citations": CITATIONS,
    "licence": SIMULATED_LICENCE,
    "published_result": [
        "Known truth: TD5 = 40 Gy BED without risk factors and 28 Gy with one (Bodei 2008's "
        "thresholds), D50 = 48.08 Gy, gamma50 = 4; a fit with hypertension and diabetes as "
        "dose-modifying factors should recover a factor near 0.7 and TD5 near 40 / 28 Gy within "
        "its credible interval. Exact values in 'Simulation' below.",
    ],
    "extraction_notes": [
        "Observed doses (rounded to 0.01 Gy) include a log-normal dosimetry error (log-SD 0.15); "
        "dose_rel_se = 0.15 on every row tells a measurement-error model so. True doses are not "
        "shipped; re-run simulate() in build.py to get them (SimulatedCohort.true_doses).",
    ],
    "not_loadable_reason": None,
    "mapping": json_mapping(COHORT.mapping),
    "raw_files": [],
    "simulation": simulation_entry(
        seed=SEED,
        parameters=PARAMS,
        derivation=DERIVATION,
        truth=truth_summary(COHORT),
    ),
    "columns": {
        "study": {"description": "centre label", "unit": ""},
        "patient": {"description": "patient id (unique within the cohort)", "unit": ""},
        "dose": {"description": "observed cumulative kidney BED", "unit": "Gy"},
        "dose_rel_se": {"description": "relative dosimetry uncertainty (log-SD)",
                        "unit": "fraction"},
        "outcome": {"description": "renal toxicity (1) or not (0)", "unit": "0/1"},
        "hypertension": {"description": "hypertension (risk factor)", "unit": "0/1"},
        "diabetes": {"description": "diabetes (risk factor)", "unit": "0/1"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return the simulated tidy frame (same bytes for the same seed and numpy)."""
    return COHORT.frame


if __name__ == "__main__":
    run_build(NAME, build_frame)
