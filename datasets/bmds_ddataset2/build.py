"""Build ``bmds_ddataset2``: the US EPA BMDS dichotomous test fixture ``ddataset2``.

Run ``python datasets/bmds_ddataset2/build.py [--out PATH]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doseresponse.datasets._build import documented_columns, events_n_mapping, run_build

HERE = Path(__file__).resolve().parent
NAME = "bmds_ddataset2"
RAW = "ddataset2.csv"

METADATA = {
    "name": NAME,
    "title": "US EPA BMDS dichotomous test dataset 'ddataset2'",
    "kind": "classic",
    "level": "aggregate",
    "description": "Five dose groups of 100 subjects (doses 0-200, incidences 0/5/30/65/90): the "
    "dichotomous fixture on which US EPA BMDS / pybmds pins its benchmark-dose results.",
    "outcome": "incidence (dichotomous response)",
    "outcome_definition": "Generic dichotomous response of a regulatory test fixture (no "
    "biological endpoint attached).",
    "dose_metric": "dose",
    "dose_unit": "arbitrary units",
    "source": "USEPA/BMDS pybmds test suite, fixture ddataset2",
    "citations": [
        "U.S. Environmental Protection Agency. Benchmark Dose Software (BMDS) / pybmds, "
        "repository USEPA/BMDS: tests/test_pybmds/conftest.py (fixture 'ddataset2'), "
        "tests/test_pybmds/models/test_dichotomous.py (pinned results).",
    ],
    "licence": "US Government work (EPA), public domain in the United States.",
    "published_result": [
        "Logistic model, BMR 10 % extra risk: BMD 69.584, BMDL 61.193, BMDU 77.945, AIC 364.0 "
        "(upstream tolerance +/- 0.5 dose units, +/- 3 AIC).",
        "Recomputed here by maximum likelihood: logit P = a + b*dose with a = -4.4553, "
        "b = 0.034030 per dose unit, BMD 69.5835; in this package's logistic parametrisation "
        "D50 = -a/b = 130.92 and gamma50 = -a/4 = 1.1138.",
        "Other models (BMDS): log-logistic BMD 68.361, probit 66.883, log-probit 66.149, "
        "Weibull 64.26, gamma 66.061, quantal linear 17.679.",
    ],
    "extraction_notes": [
        "Numbers as listed in the project's reference notes (dose_response_anchors.md, section "
        "3C), which quote the upstream fixture.",
        "Single 'study'; the control group (dose 0) has 0 events.",
    ],
    "not_loadable_reason": None,
    "mapping": events_n_mapping(),
    "raw_files": [RAW],
    "columns": {
        "study": {"description": "study key ('ddataset2')", "unit": ""},
        "dose": {
            "description": "dose of the group (unitless test fixture)",
            "unit": "arbitrary units",
        },
        "events": {"description": "subjects with the response", "unit": "subjects"},
        "n": {"description": "subjects in the group", "unit": "subjects"},
    },
}


def build_frame() -> pd.DataFrame:
    """Return one row per dose group."""
    raw = pd.read_csv(HERE / "raw" / RAW)
    tidy = pd.DataFrame(
        {
            "study": "ddataset2",
            "dose": raw["dose"].astype("float64"),
            "events": raw["incidence"].astype("int64"),
            "n": raw["n"].astype("int64"),
        }
    )
    return documented_columns(tidy, METADATA)


if __name__ == "__main__":
    run_build(NAME, build_frame)
