"""Build ``cht25_marrow_nadirs``: Dancey 2009 Table 2A in long (tidy) format.

Run ``python datasets/cht25_marrow_nadirs/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "cht25_marrow_nadirs"
RAW = "haematotox_cht25_by_activity_table2a.csv"

CITATION = (
    "Dancey G, Violet J, Malaroda A, Green AJ, Sharma SK, Francis R, Othman S, Parker S, "
    "Buscombe J, Griffin N, Chan PS, Malhotra A, Woodward N, Ramsay A, Ross P, Lister TA, "
    "Amlot P, Begent R, McNamara C. A phase I clinical trial of CHT-25 a 131I-labeled chimeric "
    "anti-CD25 antibody showing efficacy in patients with refractory lymphoma. Clin Cancer Res "
    "2009;15(24):7701-7710. doi:10.1158/1078-0432.CCR-09-1421."
)

METADATA = {
    "name": NAME,
    "title": "Blood-count nadirs by administered activity, 131I-CHT-25 phase I (Dancey 2009)",
    "kind": "published",
    "level": "reference-table",
    "description": "Median (range) nadirs of haemoglobin, neutrophils, platelets and lymphocytes "
    "for each administered-activity level (370-2960 MBq/m2) of 131I-CHT-25 radioimmunotherapy; "
    "Table 2A of Dancey 2009 in long format.",
    "outcome": "blood-count nadir (continuous)",
    "outcome_definition": "Lowest haemoglobin (g/dL), neutrophil, platelet and lymphocyte count "
    "(10^9/L) after treatment; toxicity graded by CTCAE 2.0.",
    "dose_metric": "administered activity per body surface area",
    "dose_unit": "MBq/m2",
    "source": "Dancey 2009 Clin Cancer Res 15:7701, Table 2A",
    "citations": [CITATION],
    "licence": "AACR; free to read after the embargo, no open licence. Only the factual numbers "
    "of Table 2A are reproduced.",
    "published_result": [
        "Maximum tolerated activity 1200 MBq/m2, limited by delayed myelotoxicity; platelet nadir "
        "at 38 days, neutrophil nadir at 53 days.",
        "Median platelet nadir falls from 187 (370 MBq/m2) to 13 x 10^9/L (>2220 MBq/m2): the "
        "activity-nadir trend can be reproduced with a monotone or Emax-type fit.",
    ],
    "extraction_notes": [
        "Source is Table 2A itself (a HighWire table-expansion page), extraction 'table'.",
        "The dose metric is administered activity per m2, NOT absorbed dose.",
        "The top level pools 2220 and 2960 MBq/m2 (activity_low/activity_high).",
        "Not events/n: grade >= 3 counts are only bounded by the table. From the platelet ranges "
        "(CTCAE 2.0 grade 3 = platelets < 50 x 10^9/L): 0/3 at 370 and 0/6 at 740 MBq/m2 "
        "(minima 74 and 60); at 1200 MBq/m2 between 3 and 4 of 5 (median 31, maximum 83). These "
        "bounds are not shipped as counts.",
    ],
    "not_loadable_reason": "the outcome is a continuous nadir summarised by median and range per "
    "activity level, not a binary outcome with events/n, and the dose axis is administered "
    "activity rather than absorbed dose",
    "mapping": None,
    "raw_files": [RAW],
    "columns": {
        "study_id": {"description": "study key", "unit": ""},
        "activity_level": {"description": "activity level as labelled in Table 2A", "unit": ""},
        "activity_low": {"description": "lowest activity in the level", "unit": "MBq/m2"},
        "activity_high": {"description": "highest activity in the level", "unit": "MBq/m2"},
        "n_treatments": {"description": "treatments at the level", "unit": "treatments"},
        "analyte": {"description": "haemoglobin, neutrophils, platelets or lymphocytes",
                    "unit": ""},
        "nadir_unit": {"description": "unit of the nadir columns", "unit": ""},
        "nadir_median": {"description": "median nadir", "unit": "see nadir_unit"},
        "nadir_min": {"description": "minimum nadir", "unit": "see nadir_unit"},
        "nadir_max": {"description": "maximum nadir", "unit": "see nadir_unit"},
        "toxicity_scale": {"description": "grading system", "unit": ""},
        "extraction": {"description": "'table'", "unit": ""},
        "source_location": {"description": "where the numbers are", "unit": ""},
    },
}

_ANALYTES = {
    "haemoglobin": ("haemoglobin_nadir_g_dl", "g/dL"),
    "neutrophils": ("neutrophil_nadir_1e9_l", "10^9/L"),
    "platelets": ("platelet_nadir_1e9_l", "10^9/L"),
    "lymphocytes": ("lymphocyte_nadir_1e9_l", "10^9/L"),
}


def _activity_bounds(label: str) -> tuple[float, float]:
    text = str(label).strip()
    if text.startswith(">2220"):
        return 2220.0, 2960.0  # pooled level (Table 2A footnote in the raw README)
    value = float(text)
    return value, value


def build_frame() -> pd.DataFrame:
    """Return one row per activity level x analyte."""
    raw = pd.read_csv(HERE / "raw" / RAW, dtype={"activity_level_MBq_per_m2": str})
    rows = []
    for _, rec in raw.iterrows():
        low, high = _activity_bounds(rec["activity_level_MBq_per_m2"])
        for analyte, (prefix, unit) in _ANALYTES.items():
            median_col = prefix + "_median"
            stem = prefix.rsplit("_", 2)[0]  # e.g. 'platelet_nadir'
            rows.append(
                {
                    "study_id": rec["study_id"],
                    "activity_level": rec["activity_level_MBq_per_m2"],
                    "activity_low": low,
                    "activity_high": high,
                    "n_treatments": int(rec["n_treatments"]),
                    "analyte": analyte,
                    "nadir_unit": unit,
                    "nadir_median": float(rec[median_col]),
                    "nadir_min": float(rec[stem + "_min"]),
                    "nadir_max": float(rec[stem + "_max"]),
                    "toxicity_scale": rec["toxicity_scale"],
                    "extraction": rec["extraction"],
                    "source_location": rec["source_location"],
                }
            )
    return documented_columns(pd.DataFrame(rows), METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
