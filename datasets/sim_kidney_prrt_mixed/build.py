"""Build ``sim_kidney_prrt_mixed``: the ``sim_kidney_prrt`` patients, 3 centres as aggregate rows.

Run ``python datasets/sim_kidney_prrt_mixed/build.py [--out PATH]``. Same parameters and seed as
``sim_kidney_prrt`` (the simulator's draws do not depend on how studies are reported), so the
patients are identical: centres 1-5 are shipped patient by patient, centres 6-8 only as
published-style rows (events/n per quartile of observed BED within each risk-factor pattern,
with the bin's median and range).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd

from doseresponse.datasets._build import (
    SIMULATED_LICENCE,
    json_mapping,
    run_build,
    simulation_entry,
)

HERE = Path(__file__).resolve().parent
NAME = "sim_kidney_prrt_mixed"


def _ipd_build():
    spec = importlib.util.spec_from_file_location(
        "_sim_kidney_prrt_build", HERE.parent / "sim_kidney_prrt" / "build.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IPD = _ipd_build()
PARAMS: dict[str, Any] = {**IPD.PARAMS, "n_aggregate_studies": 3}
COHORT = IPD.simulate(PARAMS)

METADATA: dict[str, Any] = {
    "name": NAME,
    "title": "SIMULATED: renal toxicity vs kidney BED after PRRT, 5 IPD + 3 aggregate centres",
    "kind": "simulated",
    "level": "mixed",
    "description": "The sim_kidney_prrt cohort (same 500 simulated patients) with centres 6-8 "
    "reported only as published-style aggregate rows: events/n per quartile of observed kidney "
    "BED within each hypertension x diabetes pattern, with median and range of the bin.",
    "outcome": IPD.METADATA["outcome"],
    "outcome_definition": IPD.METADATA["outcome_definition"],
    "dose_metric": "kidney BED",
    "dose_unit": "Gy",
    "source": IPD.METADATA["source"],
    "citations": IPD.CITATIONS,
    "licence": SIMULATED_LICENCE,
    "published_result": [
        "Same truth as sim_kidney_prrt (TD5 = 40 Gy BED without, 28 Gy with one risk factor). "
        "A joint IPD + aggregate fit should agree with the all-IPD fit of sim_kidney_prrt; "
        "aggregate events/n equal the counts of the sim_kidney_prrt patients of the same centre, "
        "risk-factor pattern and dose bin.",
    ],
    "extraction_notes": [
        "Aggregate rows: dose = median observed BED of the bin (dose_summary 'median'), "
        "dose_low/dose_high = its range; bins are equal-count quartiles within each risk-factor "
        "pattern, so small patterns give bins of 1-3 patients.",
        "Covariates on aggregate rows are the pattern's 0/1 values (stratified bins), which keeps "
        "the dose-modifying factors identifiable.",
        *IPD.METADATA["extraction_notes"],
    ],
    "not_loadable_reason": None,
    "mapping": json_mapping(COHORT.mapping),
    "raw_files": [],
    "simulation": simulation_entry(
        seed=PARAMS["random_seed"],
        parameters=PARAMS,
        derivation=[
            *IPD.DERIVATION,
            "n_aggregate_studies = 3: the last three centres are reported only as aggregate rows "
            "(bins_per_study = 4 per risk-factor pattern, aggregate_covariates = 'stratify').",
        ],
        truth=IPD.truth_summary(COHORT),
    ),
    "columns": {
        "study": {"description": "centre label", "unit": ""},
        "patient": {"description": "patient id (IPD rows)", "unit": ""},
        "dose": {"description": "observed kidney BED (IPD) or the bin's median observed BED",
                 "unit": "Gy"},
        "dose_rel_se": {"description": "relative dosimetry uncertainty (IPD rows)",
                        "unit": "fraction"},
        "outcome": {"description": "renal toxicity 0/1 (IPD rows)", "unit": "0/1",
                    "dtype": "integer"},
        "events": {"description": "patients with renal toxicity in the bin (aggregate rows)",
                   "unit": "patients", "dtype": "integer"},
        "n": {"description": "patients in the bin (aggregate rows)", "unit": "patients",
              "dtype": "integer"},
        "dose_low": {"description": "lowest observed BED in the bin", "unit": "Gy"},
        "dose_high": {"description": "highest observed BED in the bin", "unit": "Gy"},
        "hypertension": {"description": "hypertension (risk factor)", "unit": "0/1"},
        "diabetes": {"description": "diabetes (risk factor)", "unit": "0/1"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return the simulated tidy frame (IPD rows, then aggregate rows)."""
    return COHORT.frame


if __name__ == "__main__":
    run_build(NAME, build_frame)
