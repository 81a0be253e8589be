"""Build ``sim_marrow_toxicity``: SIMULATED grade >= 3 haematotoxicity vs red-marrow dose.

Run ``python datasets/sim_marrow_toxicity/build.py [--out PATH]``.
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

NAME = "sim_marrow_toxicity"
SEED = 1962  # year of Benua et al., origin of the 2 Gy blood/marrow limit

#: The conventional 2 Gy red-marrow (blood) absorbed-dose limit, read as TD5 (Gy).
TD5 = 2.0
#: Assumed normalised slope (no transcribed marrow slope is available).
GAMMA50 = 2.0
#: log-logistic: D50 = TD5 * 19^(1/(4 gamma50)) = 2.89 Gy.
D50 = TD5 * 19.0 ** (1.0 / (4.0 * GAMMA50))

PARAMS: dict[str, Any] = {
    "curve": "log-logistic",
    "d50": D50,
    "slope": GAMMA50,
    "n_studies": 5,
    "patients_per_study": [40, 55, 60, 70, 75],
    "tau": 0.1,
    "covariates": {},
    "dose_distribution": [[0.8, 1.2, 1.7, 2.3, 3.0], 0.35],
    "dose_rel_sd": 0.25,
    "n_aggregate_studies": 0,
    "bins_per_study": 4,
    "aggregate_covariates": "stratify",
    "dose_metric": "red-marrow absorbed dose",
    "dose_unit": "Gy",
    "outcome_name": "grade >= 3 thrombocytopenia",
    "study_prefix": "study",
    "dose_decimals": 3,
    "random_seed": SEED,
}

DERIVATION = [
    "Curve: log-logistic in red-marrow absorbed dose.",
    "TD5 = 2 Gy: the conventional 2 Gy blood / red-marrow absorbed-dose limit of radionuclide "
    "therapy, which goes back to Benua et al. 1962 (131I therapy of thyroid cancer). This "
    "source is NOT among the project's transcribed data; the attribution is to verify.",
    "gamma50 = 2: ASSUMED (no marrow slope is transcribed; 2 is a moderate normal-tissue value). "
    "Hence D50 = 2 x 19^(1/8) = 2.89 Gy.",
    "Five studies with per-study median marrow doses 0.8, 1.2, 1.7, 2.3 and 3.0 Gy (log-SD "
    "0.35): ASSUMED, mimicking a dose-escalation series with five levels like the five activity "
    "levels of Dancey 2009 (131I-CHT-25, 370-2960 MBq/m2), where grade >= 3 cytopenia appeared "
    "from the third level on (cht25_marrow_nadirs / cht25_toxicity_duration).",
    "tau = 0.1 (ASSUMED). dose_rel_sd = 0.25: blood-based marrow dosimetry is uncertain (marrow "
    "dose explains only about half of the variance of platelet nadir, r = 0.73-0.79 in Shen and "
    "PMID 9776281) - ASSUMED within the 10-30 % range.",
    "Seed 1962.",
]

CITATIONS = [
    "Benua RS, Cicale NR, Sonenberg M, Rawson RW. The relation of radioiodine dosimetry to "
    "results and complications in the treatment of metastatic thyroid cancer. Am J Roentgenol "
    "Radium Ther Nucl Med 1962;87:171-182 (origin of the 2 Gy limit; not transcribed, verify).",
    "Dancey G, et al. A phase I clinical trial of CHT-25 a 131I-labeled chimeric anti-CD25 "
    "antibody showing efficacy in patients with refractory lymphoma. Clin Cancer Res "
    "2009;15(24):7701-7710. doi:10.1158/1078-0432.CCR-09-1421.",
    "Shen S, Meredith RF, Duan J, Brezovich I, Khazaeli MB, LoBuglio AF. Comparison of methods "
    "for predicting myelotoxicity for non-marrow targeting I-131-antibody therapy. Cancer "
    "Biother Radiopharm 18(2):209-215.",
]


def simulate(params: dict[str, Any] | None = None) -> SimulatedCohort:
    """Run the simulation with :data:`PARAMS`."""
    return simulate_from_params(params or PARAMS)


COHORT = simulate()
_T = COHORT.truth

METADATA: dict[str, Any] = {
    "name": NAME,
    "title": "SIMULATED: grade >= 3 thrombocytopenia vs red-marrow dose, 5 studies",
    "kind": "simulated",
    "level": "ipd",
    "description": "Simulated IPD: 300 patients in 5 dose-escalation-like studies with "
    "red-marrow absorbed dose (observed with 25 % dosimetry error) and grade >= 3 "
    "thrombocytopenia, from a log-logistic curve with TD5 = 2 Gy (the classical marrow limit).",
    "outcome": "grade >= 3 thrombocytopenia",
    "outcome_definition": "Simulated binary grade >= 3 thrombocytopenia (platelets < 50 x 10^9/L, "
    "CTCAE), drawn at the TRUE red-marrow dose.",
    "dose_metric": "red-marrow absorbed dose",
    "dose_unit": "Gy",
    "source": "simulated (doseresponse.simulate.simulate_cohort); 2 Gy marrow limit (Benua "
    "1962), dose-escalation design after Dancey 2009",
    "citations": CITATIONS,
    "licence": SIMULATED_LICENCE,
    "published_result": [
        "Known truth: TD5 = 2.0 Gy, D50 = 2.89 Gy, gamma50 = 2 (log-logistic); a fit should "
        "recover TD5 near 2 Gy within its credible interval.",
    ],
    "extraction_notes": ["Observed doses rounded to 0.001 Gy; dose_rel_se = 0.25 on every row."],
    "not_loadable_reason": None,
    "mapping": json_mapping(COHORT.mapping),
    "raw_files": [],
    "simulation": simulation_entry(
        seed=SEED,
        parameters=PARAMS,
        derivation=DERIVATION,
        truth={
            "td5": _T.td(0.05),
            "td50": _T.td(0.5),
            "td5_new_study": _T.td_new_study(0.05),
            "td50_new_study": _T.td_new_study(0.5),
            "study_d50": _T.study_d50,
            "event_rate": float(COHORT.patients["outcome"].mean()),
        },
    ),
    "columns": {
        "study": {"description": "study label", "unit": ""},
        "patient": {"description": "patient id", "unit": ""},
        "dose": {"description": "observed red-marrow absorbed dose", "unit": "Gy"},
        "dose_rel_se": {"description": "relative dosimetry uncertainty (log-SD)",
                        "unit": "fraction"},
        "outcome": {"description": "grade >= 3 thrombocytopenia (1) or not (0)", "unit": "0/1"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return the simulated tidy frame."""
    return COHORT.frame


if __name__ == "__main__":
    run_build(NAME, build_frame)
