"""Build ``graves_131i_dose_groups``: Szumowski 2015 131I dose groups for Graves' disease.

Run ``python datasets/graves_131i_dose_groups/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "graves_131i_dose_groups"
RAW = "graves_131I_dose_groups_szumowski2015.csv"

METADATA = {
    "name": NAME,
    "title": "Persistent hyperthyroidism after 131I for Graves' disease by planned thyroid dose",
    "kind": "published",
    "level": "reference-table",
    "description": "Three planned thyroid absorbed-dose groups (100, 150, 200 Gy) of 700 "
    "patients with Graves' disease: odds ratio of persistent hyperthyroidism for the 100 Gy "
    "group and % persistent hyperthyroidism per dose x thyroid-volume stratum (Szumowski 2015).",
    "outcome": "persistent hyperthyroidism 1 year after 131I",
    "outcome_definition": "Persistent hyperthyroidism one year after radioiodine therapy "
    "(therapy failure).",
    "dose_metric": "planned thyroid absorbed dose",
    "dose_unit": "Gy",
    "source": "Szumowski 2015 Endokrynologia Polska EP.2015.0019",
    "citations": [
        "Szumowski P, et al. Radioiodine therapy for Graves' disease - retrospective analysis of "
        "efficacy factors. Endokrynologia Polska 2015, article EP.2015.0019 (Via Medica). "
        "doi:10.5603/EP.2015.0019 (inferred from the publisher's pattern; verify).",
    ],
    "licence": "Via Medica, open access on the publisher's site (licence not checked). Only the "
    "factual numbers of the abstract are reproduced.",
    "published_result": [
        "100 Gy group: OR 3.71 (95 % CI 2.4-5.87) for persistent hyperthyroidism (reference "
        "category not stated in the abstract); only thyroid volume (P < 0.002) and absorbed dose "
        "(P < 0.001) were significant.",
        "Persistent hyperthyroidism: 1 % (150 Gy, <= 25 mL), 0 % (150 Gy, 25-50 mL), "
        "10 % (200 Gy, > 50 mL).",
    ],
    "extraction_notes": [
        "Transcribed from the abstract only.",
        "Per-group n and events for each dose x volume cell are in the open-access full text, "
        "which was not available; the percentages cannot be turned into events/n without them.",
    ],
    "not_loadable_reason": "the abstract gives an odds ratio and percentages without group "
    "sizes, so no events/n per dose group can be formed",
    "mapping": None,
    "raw_files": [RAW],
}

_T = {"unit": ""}
METADATA["columns"] = {
    "study_id": {"description": "study key", **_T},
    "first_author": {"description": "first author", **_T},
    "year": {"description": "publication year", "unit": "year"},
    "journal_ref": {"description": "journal reference", **_T},
    "doi": {"description": "DOI (pattern-derived, verify)", **_T},
    "n_patients": {"description": "patients in the whole study", "unit": "patients"},
    "dose_group": {"description": "dose group label (I, II, III)", **_T},
    "thyroid_dose": {"description": "planned thyroid absorbed dose", "unit": "Gy"},
    "thyroid_volume_stratum": {"description": "thyroid-volume stratum", **_T},
    "outcome_definition": {"description": "outcome definition", **_T},
    "statistic": {"description": "odds ratio or % with the outcome", **_T},
    "value": {"description": "value of the statistic", "unit": "per row (ratio or %)"},
    "ci_low": {"description": "lower 95 % CI", "unit": "ratio"},
    "ci_high": {"description": "upper 95 % CI", "unit": "ratio"},
    "p_value": {"description": "P value (not given per row)", **_T, "dtype": "string"},
    "extraction": {"description": "'text' (abstract)", **_T},
    "source_location": {"description": "where the numbers are", **_T},
    "notes": {"description": "transcriber's notes", **_T},
}


def build_frame() -> pd.DataFrame:
    """Return the table with a short name for the planned-dose column."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = raw.rename(columns={"target_thyroid_absorbed_dose_Gy": "thyroid_dose"})
    tidy["thyroid_dose"] = tidy["thyroid_dose"].astype("float64")
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
