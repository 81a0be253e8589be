"""Build ``racine_bioassay``: the Racine et al. (1986) acute-toxicity bioassay (BDA3 Table 3.1).

Run ``python datasets/racine_bioassay/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from doseresponse.datasets._build import documented_columns, events_n_mapping, run_build

HERE = Path(__file__).resolve().parent
NAME = "racine_bioassay"
RAW = "racine1986_bioassay.csv"

METADATA = {
    "name": NAME,
    "title": "Racine et al. (1986) bioassay: deaths of animals by log dose",
    "kind": "classic",
    "level": "aggregate",
    "description": "Four dose groups of five animals (0, 1, 3, 5 deaths): the bioassay used in "
    "Gelman et al., Bayesian Data Analysis, to introduce Bayesian logistic dose-response "
    "models.",
    "outcome": "death",
    "outcome_definition": "Animal death in an acute toxicity experiment.",
    "dose_metric": "dose (compound concentration)",
    "dose_unit": "g/ml",
    "source": "Racine et al. 1986 Appl Stat 35:93; Gelman et al. BDA3 Table 3.1",
    "citations": [
        "Racine A, Grieve AP, Flühler H, Smith AFM. Bayesian methods in practice: experiences in "
        "the pharmaceutical industry. J R Stat Soc Ser C (Appl Stat) 1986;35(2):93-150.",
        "Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. Bayesian Data Analysis, "
        "3rd ed. CRC Press 2013; Section 3.7, Table 3.1.",
    ],
    "licence": "Published experimental data, reproduced as facts; widely redistributed with "
    "BDA course material.",
    "published_result": [
        "Logistic regression on x = log dose, logit P = a + b x: maximum-likelihood estimate "
        "(a, b) = (0.8, 7.7) with standard errors (1.0, 4.9) (BDA3 Section 3.7). Recomputed here: "
        "a = 0.8466 (SE 1.019), b = 7.749 (SE 4.873); LD50 = -a/b = -0.109 on the log scale, "
        "i.e. 0.897 g/ml.",
        "As a log-logistic curve in dose: D50 = exp(-a/b) = 0.897 g/ml, gamma50 = b/4 = 1.94.",
    ],
    "extraction_notes": [
        "The raw file holds log dose (natural log of g/ml) as tabulated in BDA3; the tidy 'dose' "
        "column is exp(log_dose) rounded to 6 decimals and 'log_dose' is kept.",
    ],
    "not_loadable_reason": None,
    "mapping": events_n_mapping(),
    "raw_files": [RAW],
    "columns": {
        "study": {"description": "study key ('racine1986')", "unit": ""},
        "log_dose": {"description": "natural log of the dose (as published)", "unit": "ln(g/ml)"},
        "dose": {"description": "dose, exp(log_dose)", "unit": "g/ml"},
        "events": {"description": "deaths", "unit": "animals"},
        "n": {"description": "animals in the group", "unit": "animals"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return one row per dose group."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = pd.DataFrame(
        {
            "study": "racine1986",
            "log_dose": raw["log_dose"].astype("float64"),
            "dose": np.round(np.exp(raw["log_dose"].to_numpy(dtype=float)), 6),
            "events": raw["deaths"].astype("int64"),
            "n": raw["n"].astype("int64"),
        }
    )
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
