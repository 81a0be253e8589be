"""Build the tidy ``kidney_prrt_studies`` reference table from the transcribed raw file.

Run ``python datasets/kidney_prrt_studies/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "kidney_prrt_studies"
RAW = "kidney_toxicity_rpt_study_level.csv"

METADATA = {
    "name": NAME,
    "title": "Renal outcomes after PRRT and PSMA radioligand therapy: study-level results",
    "kind": "published",
    "level": "reference-table",
    "description": "Study-level renal toxicity counts, kidney-BED thresholds and kidney dose "
    "ranges after 90Y/177Lu PRRT and 177Lu-PSMA-617 (Bodei 2008, Valkema 2005, Rudisile 2019, "
    "Zhang 2019), one row per outcome definition.",
    "outcome": "renal toxicity (several definitions, see outcome_definition)",
    "outcome_definition": "Per row: NCI creatinine toxicity grade, creatinine-clearance loss > 5 % "
    "or > 10 % at 1 year (Bodei 2008); annual % decline of creatinine clearance (Valkema 2005); "
    "CTCAE grade 3/4 nephrotoxicity (Rudisile 2019, Zhang 2019); CTCAE grade 1/2 renal "
    "impairment percentages (Zhang 2019).",
    "dose_metric": "kidney BED or kidney absorbed dose (per row)",
    "dose_unit": "Gy",
    "source": "Bodei 2008 EJNMMI 35:1847; Valkema 2005 JNM 46:83S; Rudisile 2019 BMC Cancer; "
    "Zhang 2019 JNM 60:1579",
    "citations": [
        "Bodei L, Cremonesi M, Ferrari M, Pacifici M, Grana CM, Bartolomei M, Baio SM, "
        "Sansovini M, Paganelli G. Long-term evaluation of renal toxicity after peptide receptor "
        "radionuclide therapy with 90Y-DOTATOC and 177Lu-DOTATATE: the role of associated risk "
        "factors. Eur J Nucl Med Mol Imaging 2008;35(10):1847-1856. doi:10.1007/s00259-008-0778-1. "
        "PMID 18427807.",
        "Valkema R, Pauwels SA, Kvols LK, Kwekkeboom DJ, Jamar F, de Jong M, Barone R, Walrand S, "
        "Kooij PPM, Bakker WH, Lasher J, Krenning EP. Long-term follow-up of renal function after "
        "peptide receptor radiation therapy with 90Y-DOTA0,Tyr3-octreotide and "
        "177Lu-DOTA0,Tyr3-octreotate. J Nucl Med 2005;46(1 Suppl):83S-91S.",
        "Rudisile S, Gosewisch A, Wenter V, Unterrainer M, Böning G, Gildehaus FJ, Fendler WP, "
        "Auernhammer CJ, Spitzweg C, Bartenstein P, Todica A, Ilhan H. Salvage PRRT with "
        "177Lu-DOTA-octreotate in extensively pretreated patients with metastatic neuroendocrine "
        "tumor (NET): dosimetry, toxicity, efficacy, and survival. BMC Cancer 2019. "
        "doi:10.1186/s12885-019-6000-y.",
        "Zhang J, Kulkarni HR, Singh A, Schuchardt C, Niepsch K, Langbein T, Baum RP. "
        "177Lu-PSMA-617 radioligand therapy in metastatic castration-resistant prostate cancer "
        "patients with a single functioning kidney. J Nucl Med 2019;60(11):1579.",
    ],
    "licence": "Numbers (facts) transcribed from abstracts. Bodei 2008: Springer subscription "
    "article; Valkema 2005: JNM supplement, free to read, no open licence; Rudisile 2019: open "
    "access CC BY; Zhang 2019: JNM, not open access. Only the factual numbers are reproduced.",
    "published_result": [
        "Bodei 2008: kidney-BED threshold for renal toxicity of 28 Gy in patients with risk "
        "factors (mainly hypertension and diabetes) and 40 Gy in patients without "
        "(rows with row_kind 'threshold').",
        "Bodei 2008, 90Y-DOTATOC: creatinine toxicity in 9/23 (7 grade 1, 1 grade 2, 1 grade 3); "
        "CCL > 5 % in 12/23 and > 10 % in 8/23. 177Lu-DOTATATE: 0/5 toxicity; CCL > 5 % in 3/5, "
        "> 10 % in 2/5.",
        "Rudisile 2019: 0/35 grade 3/4 nephrotoxicity at a mean cumulative kidney dose of 23.8 Gy "
        "(the one events/n row with a dose of the same metric; shipped as the loadable dataset "
        "'kidney_prrt_grade34').",
    ],
    "extraction_notes": [
        "Transcribed from abstracts only (see the raw file's extraction and source_location "
        "columns); nothing was read off a figure.",
        "Bodei 2008 gives events/n but no per-group kidney BED in the abstract, so those counts "
        "cannot be placed on a dose axis.",
        "Bodei 2008 radiobiology (alpha/beta, repair half-time) is in the Methods, which were not "
        "available; reviews quote alpha/beta = 2.5 Gy and T1/2,rep = 2.8 h for kidney "
        "(unverified).",
        "Valkema 2005 outcome numbers were cut off in the available text: rows give dose ranges "
        "only.",
        "Zhang 2019 gives kidney dose per cycle, not cumulative; its 0/16 grade 3/4 row is not "
        "pooled with Rudisile 2019 because the dose metric differs.",
        "The build adds the column row_kind, which says what each row can support.",
    ],
    "not_loadable_reason": "the rows are study-level thresholds, dose ranges, percentages and "
    "event counts without a dose; only one row (Rudisile 2019) is events/n at a reported dose, "
    "and it is shipped as 'kidney_prrt_grade34'",
    "mapping": None,
    "raw_files": [RAW],
}

_TEXT = {"unit": ""}
METADATA["columns"] = {
    "study_id": {"description": "short study key", **_TEXT},
    "first_author": {"description": "first author", **_TEXT},
    "year": {"description": "publication year", "unit": "year"},
    "journal_ref": {"description": "journal, volume, pages", **_TEXT},
    "doi": {"description": "DOI", **_TEXT},
    "pmid": {"description": "PubMed identifier", "unit": "", "dtype": "integer"},
    "pmcid": {"description": "PubMed Central identifier", "unit": "", "dtype": "string"},
    "radionuclide": {"description": "radionuclide", **_TEXT},
    "agent": {"description": "radiopharmaceutical", **_TEXT},
    "n_patients": {"description": "patients in the (sub)group", "unit": "patients"},
    "subgroup": {"description": "subgroup the row refers to", **_TEXT},
    "activity_summary": {"description": "administered activity as reported", **_TEXT},
    "dose_metric": {"description": "dose metric of the row", **_TEXT},
    "dose_unit": {"description": "unit of dose_value/dose_low/dose_high", **_TEXT},
    "dose_summary": {"description": "what dose_value is (mean, threshold, range...)", **_TEXT},
    "dose_value": {"description": "reported dose (see dose_summary)", "unit": "Gy"},
    "dose_low": {"description": "lower end of a reported dose range", "unit": "Gy"},
    "dose_high": {"description": "upper end of a reported dose range", "unit": "Gy"},
    "outcome_definition": {"description": "outcome definition of the row", **_TEXT},
    "outcome_value": {"description": "reported outcome value (see outcome_unit)", **_TEXT},
    "outcome_unit": {"description": "unit of outcome_value", **_TEXT},
    "n_events": {
        "description": "patients with the outcome",
        "unit": "patients",
        "dtype": "integer",
    },
    "n_at_risk": {
        "description": "patients assessed for the outcome",
        "unit": "patients",
        "dtype": "integer",
    },
    "follow_up": {"description": "follow-up as reported", **_TEXT},
    "renal_protection": {"description": "renal protection as reported", **_TEXT},
    "dosimetry_method": {"description": "dosimetry method as reported", **_TEXT},
    "extraction": {"description": "'text' (abstract) or 'table'", **_TEXT},
    "source_location": {"description": "where in the source the numbers are", **_TEXT},
    "notes": {"description": "transcriber's notes", **_TEXT},
    "row_kind": {
        "description": "what the row supports: events_n_with_dose, events_n_without_dose, "
        "threshold, dose_range_only, percentage_without_n",
        **_TEXT,
    },
}


def classify_row(row: pd.Series) -> str:
    """Say what a study-level row can support in a dose-response analysis."""
    has_counts = pd.notna(row["n_events"]) and pd.notna(row["n_at_risk"])
    if str(row["dose_summary"]).strip() == "threshold":
        return "threshold"
    if has_counts:
        return "events_n_with_dose" if pd.notna(row["dose_value"]) else "events_n_without_dose"
    if pd.notna(row["outcome_value"]):
        return "percentage_without_n"
    return "dose_range_only"


def build_frame() -> pd.DataFrame:
    """Return the tidy table: the raw columns plus ``row_kind``; counts as integers."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = raw.copy()
    for col in ("n_patients", "n_events", "n_at_risk", "year", "pmid"):
        tidy[col] = tidy[col].astype("Int64")
    tidy["row_kind"] = [classify_row(row) for _, row in tidy.iterrows()]
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
