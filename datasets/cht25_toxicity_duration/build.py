"""Build ``cht25_toxicity_duration``: Dancey 2009 Table 2B (days at grade >= 3 cytopenia).

Run ``python datasets/cht25_toxicity_duration/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "cht25_toxicity_duration"
RAW = "haematotox_cht25_duration_table2b.csv"

METADATA = {
    "name": NAME,
    "title": "Days at grade >= 3 cytopenia by administered activity, 131I-CHT-25 (Dancey 2009)",
    "kind": "published",
    "level": "reference-table",
    "description": "Median (range) days spent at grade 3/4 thrombocytopenia, grade 3/4 "
    "neutropenia and grade 4 neutropenia for each administered-activity level "
    "(370-2960 MBq/m2) of 131I-CHT-25; Table 2B of Dancey 2009.",
    "outcome": "duration of grade >= 3 cytopenia (days)",
    "outcome_definition": "Days at CTCAE 2.0 grade 3/4 platelets, grade 3/4 neutrophils and "
    "grade 4 neutrophils; 'nil encountered' rows have no duration.",
    "dose_metric": "administered activity per body surface area",
    "dose_unit": "MBq/m2",
    "source": "Dancey 2009 Clin Cancer Res 15:7701, Table 2B",
    "citations": [
        "Dancey G, Violet J, Malaroda A, Green AJ, Sharma SK, Francis R, Othman S, Parker S, "
        "Buscombe J, Griffin N, Chan PS, Malhotra A, Woodward N, Ramsay A, Ross P, Lister TA, "
        "Amlot P, Begent R, McNamara C. A phase I clinical trial of CHT-25 a 131I-labeled "
        "chimeric anti-CD25 antibody showing efficacy in patients with refractory lymphoma. "
        "Clin Cancer Res 2009;15(24):7701-7710. doi:10.1158/1078-0432.CCR-09-1421.",
    ],
    "licence": "AACR; free to read after the embargo, no open licence. Only the factual numbers "
    "of Table 2B are reproduced.",
    "published_result": [
        "No grade >= 3 cytopenia at 370 and 740 MBq/m2; prolonged grade 3/4 thrombocytopenia from "
        "1480 MBq/m2 (median 29.5 days) - consistent with the published maximum tolerated "
        "activity of 1200 MBq/m2.",
    ],
    "extraction_notes": [
        "The HTML table was flattened; each median was matched to its activity column by counting "
        "range entries and each median lies inside its assigned range.",
        "The 2960 MBq/m2 column is one patient who died (45, 38 and 44 days 'until patient "
        "death').",
        "Dose metric is administered activity per m2, not absorbed dose.",
    ],
    "not_loadable_reason": "the outcome is a duration (median and range of days) per activity "
    "level, not events/n, and the dose axis is administered activity",
    "mapping": None,
    "raw_files": [RAW],
    "columns": {
        "study_id": {"description": "study key", "unit": ""},
        "activity": {"description": "administered activity level", "unit": "MBq/m2"},
        "endpoint": {"description": "cytopenia grade and lineage", "unit": ""},
        "duration_median": {"description": "median duration", "unit": "days"},
        "duration_min": {"description": "minimum duration", "unit": "days"},
        "duration_max": {"description": "maximum duration", "unit": "days"},
        "note": {"description": "'nil encountered' or 'single patient, until death'",
                 "unit": ""},
        "extraction": {"description": "'table'", "unit": ""},
        "source_location": {"description": "where the numbers are", "unit": ""},
    },
}


def build_frame() -> pd.DataFrame:
    """Return Table 2B with short column names (one row per activity level x endpoint)."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = raw.rename(
        columns={
            "activity_level_MBq_per_m2": "activity",
            "duration_days_median": "duration_median",
            "duration_days_min": "duration_min",
            "duration_days_max": "duration_max",
        }
    )
    tidy["activity"] = tidy["activity"].astype("int64")
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
