"""Build ``marrow_dose_toxicity_studies``: study-level marrow/whole-body dose vs haematotoxicity.

Run ``python datasets/marrow_dose_toxicity_studies/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "marrow_dose_toxicity_studies"
RAW = "haematotox_marrow_dose_study_level.csv"

METADATA = {
    "name": NAME,
    "title": "Marrow and whole-body dose vs haematological toxicity: study-level results",
    "kind": "published",
    "level": "reference-table",
    "description": "Study-level associations between red-marrow / whole-body absorbed dose (or "
    "activity) and platelet / neutrophil nadirs: Matthay 2001 (131I-MIBG), PMID 9776281 "
    "(186Re-NR-LU-10), Shen (131I-CC49), Rudisile 2019 (177Lu-DOTATATE).",
    "outcome": "platelet / neutrophil nadir, grade 3 haematotoxicity (per row)",
    "outcome_definition": "Per row: platelet and neutrophil nadirs (Matthay 2001); platelet nadir "
    "as % of baseline (PMID 9776281, Shen); CTCAE 5.0 grade 3 haematotoxicity (Rudisile 2019).",
    "dose_metric": "red-marrow / whole-body absorbed dose or administered activity (per row)",
    "dose_unit": "per row (cGy, GBq or unstated)",
    "source": "Matthay 2001 JNM 42:1713; PMID 9776281 (Breitz 1998?, verify); Shen, Cancer "
    "Biother Radiopharm 18:209; Rudisile 2019 BMC Cancer",
    "citations": [
        "Matthay KK, et al. Correlation of tumor and whole-body dosimetry with tumor response and "
        "toxicity in refractory neuroblastoma treated with 131I-MIBG. J Nucl Med "
        "2001;42(11):1713-1721. PMID 11696644.",
        "PMID 9776281: 186Re-NR-LU-10 radioimmunotherapy, 25 patients; probably Breitz HB, "
        "Fisher DR, Wessels BW, J Nucl Med 1998 (authors not shown in the available abstract; "
        "verify).",
        "Shen S, Meredith RF, Duan J, Brezovich I, Khazaeli MB, LoBuglio AF. Comparison of methods "
        "for predicting myelotoxicity for non-marrow targeting I-131-antibody therapy. Cancer "
        "Biother Radiopharm 18(2):209-215 (year not captured).",
        "Rudisile S, et al. Salvage PRRT with 177Lu-DOTA-octreotate in extensively pretreated "
        "patients with metastatic NET. BMC Cancer 2019. doi:10.1186/s12885-019-6000-y.",
    ],
    "licence": "Numbers (facts) transcribed from abstracts; Rudisile 2019 is CC BY, the others "
    "are not open access. Only the factual numbers are reproduced.",
    "published_result": [
        "Shen: marrow dose (r = 0.73-0.74) predicts platelet nadir (% of baseline) better than "
        "total-body dose (r = 0.48).",
        "PMID 9776281: marrow dose, whole-body dose and activity correlate with platelet nadir "
        "equally well (r = 0.73-0.79).",
        "These correlations, with the conventional 2 Gy red-marrow limit, motivate the "
        "simulated 'sim_marrow_toxicity' cohort; they are not events/n by dose.",
    ],
    "extraction_notes": [
        "Transcribed from abstracts only.",
        "Rows differ in dose metric and unit (cGy whole-body dose, GBq activity, unitless "
        "correlations); compare within a row only.",
        "The Rudisile row (1/35 grade 3 haematotoxicity) is events/n but its 'dose' is "
        "cumulative administered activity (mean 44 GBq), so it is kept here rather than shipped "
        "as a loadable absorbed-dose dataset.",
    ],
    "not_loadable_reason": "the rows are correlation coefficients and dose summaries; the only "
    "events/n row (Rudisile 2019, 1/35) has administered activity, not absorbed dose, as its "
    "dose",
    "mapping": None,
    "raw_files": [RAW],
}

_T = {"unit": ""}
METADATA["columns"] = {
    "study_id": {"description": "short study key", **_T},
    "first_author": {"description": "first author", **_T},
    "year": {"description": "publication year", "unit": "year", "dtype": "integer"},
    "journal_ref": {"description": "journal reference", **_T},
    "doi": {"description": "DOI", **_T},
    "pmid": {"description": "PubMed identifier", "unit": "", "dtype": "integer"},
    "radionuclide": {"description": "radionuclide", **_T},
    "agent": {"description": "radiopharmaceutical", **_T},
    "indication": {"description": "disease / setting", **_T},
    "n_patients": {"description": "patients", "unit": "patients"},
    "dose_metric": {"description": "dose metric or predictor", **_T},
    "dose_unit": {"description": "unit of dose_value/dose_low/dose_high", **_T},
    "dose_statistic": {"description": "what dose_value is (median, mean...)", **_T},
    "dose_value": {"description": "reported dose summary", "unit": "see dose_unit"},
    "dose_low": {"description": "lower end of the reported range", "unit": "see dose_unit"},
    "dose_high": {"description": "upper end of the reported range", "unit": "see dose_unit"},
    "toxicity_endpoint": {"description": "haematological endpoint", **_T},
    "association_statistic": {"description": "statistic reported", **_T},
    "association_value": {"description": "value as transcribed (text)", **_T},
    "p_value": {"description": "P value as reported (text)", **_T},
    "extraction": {"description": "'text' (abstract)", **_T},
    "source_location": {"description": "where the numbers are", **_T},
    "notes": {"description": "transcriber's notes", **_T},
}


def build_frame() -> pd.DataFrame:
    """Return the study-level table with integer year/PMID columns."""
    raw = pd.read_csv(HERE / "raw" / RAW, dtype={"association_value": str, "p_value": str})
    tidy = raw.copy()
    for col in ("year", "pmid"):
        tidy[col] = tidy[col].astype("Int64")
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
