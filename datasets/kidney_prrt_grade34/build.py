"""Build ``kidney_prrt_grade34``: the one study-level events/n row with a cumulative kidney dose.

Run ``python datasets/kidney_prrt_grade34/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, events_n_mapping, run_build

HERE = Path(__file__).resolve().parent
NAME = "kidney_prrt_grade34"
RAW = "kidney_toxicity_rpt_study_level.csv"

METADATA = {
    "name": NAME,
    "title": "Grade 3/4 nephrotoxicity at a reported cumulative kidney dose (177Lu-DOTATATE)",
    "kind": "published",
    "level": "aggregate",
    "description": "Aggregate row: 0 of 35 patients with grade 3/4 nephrotoxicity after salvage "
    "177Lu-DOTATATE PRRT at a mean cumulative SPECT-based kidney absorbed dose of 23.8 Gy "
    "(Rudisile 2019). A zero-event study to combine with IPD or other aggregate data.",
    "outcome": "grade 3/4 nephrotoxicity (CTCAE 5.0)",
    "outcome_definition": "CTCAE 5.0 grade 3 or 4 nephrotoxicity during or after salvage PRRT "
    "(abstract of Rudisile 2019).",
    "dose_metric": "cumulative kidney absorbed dose (SPECT-based)",
    "dose_unit": "Gy",
    "source": "Rudisile 2019 BMC Cancer, doi:10.1186/s12885-019-6000-y",
    "citations": [
        "Rudisile S, Gosewisch A, Wenter V, Unterrainer M, Böning G, Gildehaus FJ, Fendler WP, "
        "Auernhammer CJ, Spitzweg C, Bartenstein P, Todica A, Ilhan H. Salvage PRRT with "
        "177Lu-DOTA-octreotate in extensively pretreated patients with metastatic neuroendocrine "
        "tumor (NET): dosimetry, toxicity, efficacy, and survival. BMC Cancer 2019. "
        "doi:10.1186/s12885-019-6000-y.",
    ],
    "licence": "Open access, CC BY (BMC Cancer). The row reproduces numbers from the abstract.",
    "published_result": [
        "0/35 grade 3/4 nephrotoxicity at a mean cumulative kidney dose of 23.8 Gy after a median "
        "of 6 cycles (mean cumulative activity 44 GBq, range 33.5-47). A fit that includes this "
        "row must give a small NTCP at 23.8 Gy (the exact binomial 95 % upper bound for 0/35 is "
        "about 10 %).",
    ],
    "extraction_notes": [
        "Selected from the raw study-level table: the only row that is events/n at a reported "
        "dose of a cumulative kidney absorbed-dose metric.",
        "Zhang 2019 (0/16 grade 3/4 with 177Lu-PSMA-617) reports kidney dose per cycle "
        "(5.3 Gy), not cumulative, so it is not included; Bodei 2008 counts have no dose in the "
        "abstract.",
        "The dose is a mean (dose_summary='mean'); the spread of patient doses was not reported.",
    ],
    "not_loadable_reason": None,
    "mapping": events_n_mapping(),
    "raw_files": [RAW],
    "columns": {
        "study": {"description": "study key", "unit": ""},
        "first_author": {"description": "first author", "unit": ""},
        "year": {"description": "publication year", "unit": "year"},
        "doi": {"description": "DOI", "unit": ""},
        "radionuclide": {"description": "radionuclide", "unit": ""},
        "agent": {"description": "radiopharmaceutical", "unit": ""},
        "dose": {"description": "mean cumulative kidney absorbed dose", "unit": "Gy"},
        "events": {"description": "patients with grade 3/4 nephrotoxicity", "unit": "patients"},
        "n": {"description": "patients assessed", "unit": "patients"},
        "outcome_definition": {"description": "outcome as stated in the source", "unit": ""},
        "source_location": {"description": "where the numbers are in the source", "unit": ""},
    },
}


def build_frame() -> pd.DataFrame:
    """Return the aggregate row(s): events/n at a reported cumulative kidney dose."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    keep = (
        raw["n_events"].notna()
        & raw["n_at_risk"].notna()
        & raw["dose_value"].notna()
        & raw["dose_metric"].str.startswith("cumulative kidney absorbed dose")
    )
    rows = raw.loc[keep]
    tidy = pd.DataFrame(
        {
            "study": rows["study_id"],
            "first_author": rows["first_author"],
            "year": rows["year"].astype("int64"),
            "doi": rows["doi"],
            "radionuclide": rows["radionuclide"],
            "agent": rows["agent"],
            "dose": rows["dose_value"].astype("float64"),
            "events": rows["n_events"].astype("int64"),
            "n": rows["n_at_risk"].astype("int64"),
            "outcome_definition": rows["outcome_definition"],
            "source_location": rows["source_location"],
        }
    ).reset_index(drop=True)
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
