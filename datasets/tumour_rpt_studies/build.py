"""Build the tidy ``tumour_rpt_studies`` reference table (fitted D50, odds ratios, thresholds).

Run ``python datasets/tumour_rpt_studies/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from doseresponse.datasets._build import documented_columns, run_build

HERE = Path(__file__).resolve().parent
NAME = "tumour_rpt_studies"
RAW = "tumour_dose_response_study_level.csv"

METADATA = {
    "name": NAME,
    "title": "Tumour dose-response in RPT and 90Y radioembolisation: study-level results",
    "kind": "published",
    "level": "reference-table",
    "description": "Fitted tumour-control D50/BED50, odds ratios, hazard ratios, ROC cut-offs and "
    "responder/non-responder doses for 90Y microspheres, 177Lu-DOTATATE, 177Lu-PSMA-617 and "
    "131I-MIBG (Dewaraja 2020, DOSISPHERE-01, Alipour 2023, Völter 2021, Peters 2022, "
    "Matthay 2001 and a Bentham TARE study).",
    "outcome": "tumour response / survival (several definitions, see outcome_definition)",
    "outcome_definition": "Per row: lesion response by mRECIST (Dewaraja 2020), overall survival "
    "(DOSISPHERE-01), complete / at least partial response (Bentham TARE), local lesion response "
    "at 3 months (Alipour 2023), PERCIST response (Völter 2021), PSA decline > 50 % "
    "(Peters 2022), overall disease response (Matthay 2001).",
    "dose_metric": "tumour / lesion absorbed dose or BED (per row)",
    "dose_unit": "Gy (per row; see dose_unit column)",
    "source": "Dewaraja 2020 JNM 61:104 (verify attribution); DOSISPHERE-01 PMC10858378; "
    "Alipour 2023 EJNMMI 50:2997; Völter 2021 Diagnostics 11:428; Peters 2022 EJNMMI 49:460; "
    "Matthay 2001 JNM 42:1713",
    "citations": [
        "Dewaraja YK et al. (attribution to verify: the available page showed the abstract but "
        "not the author list). Prediction of tumor control in 90Y radioembolization by logit and "
        "linear-quadratic-based models. J Nucl Med 2020;61(1):104.",
        "DOSISPHERE-01 investigators (author list not captured). Long-term overall-survival "
        "analysis of the randomised phase II trial NCT02582034. J Nucl Med, PMC10858378.",
        "(Authors not captured.) Dose-response analysis in hepatic tumors treated with 90Y-TARE "
        "according to a personalized dosimetric workflow: preliminary results. Bentham Science, "
        "article 132395, pp. 326-336.",
        "Alipour R, Jackson P, Bressel M, Hogg A, Callahan J, Hicks RJ, Kong G. The relationship "
        "between tumour dosimetry, response, and overall survival in patients with unresectable "
        "neuroendocrine neoplasms (NEN) treated with 177Lu DOTATATE (LuTate). Eur J Nucl Med Mol "
        "Imaging 2023;50(10):2997-3010. doi:10.1007/s00259-023-06257-6. PMID 37184682. "
        "PMC10382388.",
        "Völter F, Mittlmeier L, Gosewisch A, et al. Correlation of an index-lesion-based SPECT "
        "dosimetry method with mean tumor dose and clinical outcome after 177Lu-PSMA-617 "
        "radioligand therapy. Diagnostics 2021;11(3):428. doi:10.3390/diagnostics11030428. "
        "PMC7999994.",
        "Peters SMB, Privé BM, de Bakker M, de Lange F, Jentzen W, Eek A, Muselaers CHJ, Mehra N, "
        "Witjes JA, Gotthardt M, Nagarajah J, Konijnenberg MW. Intra-therapeutic dosimetry of "
        "[177Lu]Lu-PSMA-617 in low-volume hormone-sensitive metastatic prostate cancer patients "
        "and correlation with treatment outcome. Eur J Nucl Med Mol Imaging 2022;49(2):460-469. "
        "doi:10.1007/s00259-021-05471-4. PMID 34218300.",
        "Matthay KK, et al. Correlation of tumor and whole-body dosimetry with tumor response and "
        "toxicity in refractory neuroblastoma treated with 131I-MIBG. J Nucl Med "
        "2001;42(11):1713-1721. PMID 11696644.",
    ],
    "licence": "Numbers (facts) transcribed from abstracts. Alipour 2023, Völter 2021 (CC BY) and "
    "Peters 2022 are open access; DOSISPHERE-01 is in PMC (licence not checked); Dewaraja 2020, "
    "Matthay 2001 (JNM) and the Bentham article are not open access. Only the factual numbers "
    "are reproduced.",
    "published_result": [
        "Dewaraja 2020: logit TCP by maximum likelihood, mean absorbed dose at 50 % TCP = 292 Gy, "
        "BED at 50 % TCP = 441 Gy; AUC 0.87-0.90.",
        "Alipour 2023: cycle-1 lesion dose vs local response, OR 1.5 per 50 Gy (95 % CI 1.1-2.0), "
        "P = 0.002, adjusted for grade and radiosensitising chemotherapy; i.e. a logistic slope "
        "of ln(1.5)/50 = 0.0081 per Gy.",
        "DOSISPHERE-01: tumour dose >= 205 vs < 205 Gy, OS HR 0.42 (0.22-0.81).",
    ],
    "extraction_notes": [
        "Transcribed from abstracts only; no per-lesion or per-patient table was available.",
        "ci_low/ci_high hold 95 % CIs except for the Matthay 2001 TSARD row, where they hold the "
        "range (see interval_kind).",
        "The build splits the raw 'value' column into numeric 'value' (NaN when the source gives "
        "a range or a list such as '24 / 70 / 7') and 'value_text' (the text as transcribed).",
        "The Dewaraja 2020 attribution is to be verified (see the raw README).",
    ],
    "not_loadable_reason": "the rows are fitted parameters (D50, odds ratios, hazard ratios), "
    "ROC cut-offs and group means, not events/n per dose group or per-lesion outcomes",
    "mapping": None,
    "raw_files": [RAW],
}

_T = {"unit": ""}
METADATA["columns"] = {
    "study_id": {"description": "short study key", **_T},
    "first_author": {"description": "first author (or group)", **_T},
    "year": {"description": "publication year", "unit": "year", "dtype": "integer"},
    "journal_ref": {"description": "journal reference", **_T},
    "doi": {"description": "DOI", **_T},
    "pmid": {"description": "PubMed identifier", "unit": "", "dtype": "integer"},
    "pmcid": {"description": "PubMed Central identifier", **_T},
    "radionuclide": {"description": "radionuclide", **_T},
    "agent": {"description": "radiopharmaceutical or device", **_T},
    "indication": {"description": "disease", **_T},
    "unit_of_analysis": {"description": "lesion, patient or tumour", **_T},
    "n_patients": {"description": "patients, as reported (may be text)", **_T},
    "n_lesions_or_treatments": {"description": "lesions or treatments, as reported", **_T},
    "group": {"description": "group or model the row refers to", **_T},
    "dose_metric": {"description": "dose metric", **_T},
    "dose_unit": {"description": "unit of the dose metric (per row)", **_T},
    "statistic": {"description": "what value is (D50, odds ratio, hazard ratio...)", **_T},
    "value": {"description": "numeric value (NaN if the source gives text)", "unit": "per row"},
    "value_text": {"description": "value exactly as transcribed", **_T},
    "ci_low": {"description": "lower CI (or range) bound", "unit": "per row"},
    "ci_high": {"description": "upper CI (or range) bound", "unit": "per row"},
    "interval_kind": {"description": "'95% CI', 'range' or empty", **_T},
    "sd": {"description": "standard deviation", "unit": "per row"},
    "p_value": {"description": "P value as reported (text, e.g. '<0.0001')", **_T},
    "outcome_definition": {"description": "outcome definition", **_T},
    "extraction": {"description": "'text' (abstract) or 'table'", **_T},
    "source_location": {"description": "where the numbers are", **_T},
    "notes": {"description": "transcriber's notes", **_T},
}


def _as_number(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return np.nan


def build_frame() -> pd.DataFrame:
    """Return the tidy table: numeric ``value`` + ``value_text`` + ``interval_kind``."""
    raw = pd.read_csv(HERE / "raw" / RAW, dtype={"value": str, "p_value": str})
    tidy = raw.copy()
    tidy["value_text"] = raw["value"]
    tidy["value"] = [_as_number(v) for v in raw["value"]]
    is_range = raw["notes"].fillna("").str.contains("RANGE")
    has_bounds = raw["ci_low"].notna() | raw["ci_high"].notna()
    tidy["interval_kind"] = np.where(is_range, "range", np.where(has_bounds, "95% CI", ""))
    for col in ("year", "pmid"):
        tidy[col] = tidy[col].astype("Int64")
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
