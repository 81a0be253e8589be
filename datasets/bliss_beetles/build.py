"""Build ``bliss_beetles``: Bliss (1935) beetle mortality after carbon disulphide exposure.

Run ``python datasets/bliss_beetles/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from doseresponse.datasets._build import documented_columns, events_n_mapping, run_build

HERE = Path(__file__).resolve().parent
NAME = "bliss_beetles"
RAW = "bliss1935_beetles.csv"

METADATA = {
    "name": NAME,
    "title": "Bliss (1935) beetle mortality vs carbon disulphide concentration",
    "kind": "classic",
    "level": "aggregate",
    "description": "Eight concentration groups of 56-63 flour beetles exposed to gaseous carbon "
    "disulphide for five hours: the standard example for logit, probit and complementary "
    "log-log quantal fits.",
    "outcome": "death after 5 h exposure",
    "outcome_definition": "Beetle killed after five hours of exposure to gaseous CS2.",
    "dose_metric": "CS2 concentration",
    "dose_unit": "mg/L",
    "source": "Bliss 1935 Ann Appl Biol 22:134; Dobson & Barnett 2008, Table 7.2",
    "citations": [
        "Bliss CI. The calculation of the dosage-mortality curve. Ann Appl Biol "
        "1935;22(1):134-167. doi:10.1111/j.1744-7348.1935.tb07713.x.",
        "Dobson AJ, Barnett AG. An Introduction to Generalized Linear Models, 3rd ed. Chapman & "
        "Hall/CRC 2008; Table 7.2 (data) and Section 7.3.1 (fits).",
    ],
    "licence": "Published experimental data (1935), reproduced as facts; widely redistributed "
    "in statistics textbooks and software.",
    "published_result": [
        "Dobson & Barnett Section 7.3.1, regression on x = log10 dose: logit -60.72 (SE 5.18) + "
        "34.27 (2.91) x, deviance 11.23; probit -34.94 (2.65) + 19.73 (1.49) x, deviance 10.12; "
        "cloglog -39.57 (3.24) + 22.04 (1.80) x, deviance 3.45. Recomputed here with "
        "statsmodels: identical to two decimals.",
        "The logit fit is a log-logistic curve in concentration: D50 = 10^(60.72/34.27) = "
        "59.1 mg/L, gamma50 = 34.27/(4 ln 10) = 3.72.",
    ],
    "extraction_notes": [
        "The raw file holds log10 concentration as tabulated (1.6907-1.8839); the tidy 'dose' "
        "column is 10^log10_dose rounded to 4 significant decimals (mg/L), and 'log10_dose' is "
        "kept so fits on the published scale are exact.",
        "Data values agree across many independent public transcriptions of Dobson & Barnett "
        "Table 7.2.",
    ],
    "not_loadable_reason": None,
    "mapping": events_n_mapping(),
    "raw_files": [RAW],
    "columns": {
        "study": {"description": "study key ('bliss1935')", "unit": ""},
        "log10_dose": {"description": "log10 of the CS2 concentration (as published)",
                       "unit": "log10(mg/L)"},
        "dose": {"description": "CS2 concentration, 10^log10_dose", "unit": "mg/L"},
        "events": {"description": "beetles killed", "unit": "beetles"},
        "n": {"description": "beetles exposed", "unit": "beetles"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return one row per concentration group."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = pd.DataFrame(
        {
            "study": "bliss1935",
            "log10_dose": raw["log10_dose"].astype("float64"),
            "dose": np.round(10.0 ** raw["log10_dose"].to_numpy(dtype=float), 4),
            "events": raw["killed"].astype("int64"),
            "n": raw["n"].astype("int64"),
        }
    )
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
