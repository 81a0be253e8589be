"""Shipped datasets: catalogue, checksums, loaders, build scripts, docs pages, published fits."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, special

import doseresponse.datasets._catalogue as catalogue_module
from doseresponse.data import DoseResponseData
from doseresponse.datasets import dataset_info, list_datasets, load_dataset
from doseresponse.datasets._build import DATA_DIR, sha256_file, write_tidy_csv
from doseresponse.datasets._catalogue import LEVELS, LIST_COLUMNS, mapping_kwargs
from doseresponse.datasets._pages import render_dataset_page, render_index
from doseresponse.exceptions import DataValidationError, DoseResponseError, UnknownNameError
from doseresponse.models.curves import get_curve_family
from tests._compare import assert_csv_files_close, assert_json_close, assert_json_files_close

REPO = Path(__file__).resolve().parents[1]
DATASETS_DIR = REPO / "datasets"
NAMES = list(list_datasets()["name"])
LOADABLE = [n for n in NAMES if dataset_info(n)["mapping"] is not None]
REFERENCE = [n for n in NAMES if dataset_info(n)["mapping"] is None]

#: SHA-256 of the transcribed source files as handed over (shared/data); the raw copies must stay
#: byte-identical to them.
SOURCE_SHA256 = {
    "graves_131I_dose_groups_szumowski2015.csv":
        "d9f462b6ca4a7d5eea0031cc06457b3174c00550d4e3cdec3764a1fc36327df3",
    "haematotox_cht25_by_activity_table2a.csv":
        "680fa160bf97c5466579485b5b880462fa99b072b1ff1284912a90739a457b57",
    "haematotox_cht25_duration_table2b.csv":
        "d9f9bee503d86c56d5bc98692a15d12eae15fc222c64e5bfd2a172d24fc2e863",
    "haematotox_marrow_dose_study_level.csv":
        "9d0af5f39ec31fe29a39ed82b0345eb559a7f414922885e1a3d562f42e652597",
    "kidney_toxicity_rpt_study_level.csv":
        "f80343a9159d2e52c0a1d530ee314900adf7901e49bf08a1a46a1a440ff11c15",
    "tumour_dose_response_study_level.csv":
        "6733d79b3b89d16319d9187948a217c132b2b0c31244a4e1e4a857398a380ffd",
}


def _build_module(name: str):
    spec = importlib.util.spec_from_file_location(f"_test_build_{name}",
                                                  DATASETS_DIR / name / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_catalogue_module():
    spec = importlib.util.spec_from_file_location("_test_build_catalogue",
                                                  DATASETS_DIR / "build_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docs_module():
    spec = importlib.util.spec_from_file_location("_test_build_pages",
                                                  REPO / "docs" / "datasets" / "build_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------- catalogue


def test_list_datasets_columns_and_kinds():
    table = list_datasets()
    assert tuple(table.columns) == LIST_COLUMNS
    assert set(table["kind"]) == {"published", "classic", "simulated"}
    assert set(table["level"]) <= set(LEVELS)
    assert table["name"].is_unique
    assert (table["n_rows"] > 0).all()
    # every published study-level file of the issue is shipped, plus the BMDS fixture
    for name in ("kidney_prrt_studies", "tumour_rpt_studies", "cht25_marrow_nadirs",
                 "graves_131i_dose_groups", "bmds_ddataset2", "sim_kidney_prrt",
                 "sim_kidney_prrt_mixed", "sim_tumour_lu177_dotatate", "sim_marrow_toxicity"):
        assert name in set(table["name"])
    sim = table[table["kind"] == "simulated"]
    assert set(sim["level"]) == {"ipd", "mixed", "time-activity"}


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name):
    entry = dataset_info(name)
    for key in ("citations", "published_result", "extraction_notes"):
        assert entry[key] and all(isinstance(x, str) and x for x in entry[key])
    assert entry["licence"] and entry["outcome_definition"] and entry["source"]
    assert all({"description", "unit"} <= set(spec) for spec in entry["columns"].values())
    if entry["kind"] == "simulated":
        sim = entry["simulation"]
        assert sim["seed"] == sim["parameters"]["random_seed"]
        assert len(sim["derivation"]) >= 3
    else:
        assert entry["raw_files"], "published and classic datasets keep their raw file"


@pytest.mark.parametrize("name", NAMES)
def test_shipped_csv_has_documented_columns_rows_and_checksum(name):
    entry = dataset_info(name)
    path = DATA_DIR / entry["file"]
    assert sha256_file(path) == entry["sha256"]
    frame = load_dataset(name, as_frame=True)
    assert list(frame.columns) == list(entry["columns"])
    assert len(frame) == entry["n_rows"]
    for col, spec in entry["columns"].items():
        if spec.get("dtype") == "integer":
            assert str(frame[col].dtype) == "Int64"


@pytest.mark.parametrize("name", LOADABLE)
def test_loadable_dataset_carries_metric_unit_and_outcome(name):
    entry = dataset_info(name)
    data = load_dataset(name)
    assert isinstance(data, DoseResponseData)
    assert data.dose_metric == entry["dose_metric"]
    assert data.dose_unit == entry["dose_unit"]
    assert data.outcome_name == entry["outcome"]
    assert data.has_ipd == (entry["level"] in ("ipd", "mixed"))
    assert data.has_aggregate == (entry["level"] in ("aggregate", "mixed"))
    assert data.is_mixed == (entry["level"] == "mixed")


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_table_refuses_dose_response_data(name):
    with pytest.raises(DoseResponseError, match="as_frame=True") as info:
        load_dataset(name)
    assert dataset_info(name)["level"] in str(info.value)
    assert isinstance(load_dataset(name, as_frame=True), pd.DataFrame)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as info:
        load_dataset("kidney_toxicity")
    message = str(info.value)
    assert "kidney_toxicity" in message and "bmds_ddataset2" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownNameError, match="valid names"):
        dataset_info("nope")


def test_names_are_case_and_separator_insensitive():
    assert load_dataset("BMDS-ddataset2").n_events == 190


def test_tampered_copy_is_refused(tmp_path, monkeypatch):
    name = "bmds_ddataset2"
    shutil.copy(DATA_DIR / f"{name}.csv", tmp_path / f"{name}.csv")
    monkeypatch.setattr(catalogue_module, "DATA_DIR", tmp_path)
    assert load_dataset(name).n_events == 190  # the untouched copy loads
    text = (tmp_path / f"{name}.csv").read_text().replace("100,150,65", "100,150,64")
    text = text.replace("150.0,65,100", "150.0,64,100")
    (tmp_path / f"{name}.csv").write_text(text)
    with pytest.raises(DataValidationError, match="SHA-256"):
        load_dataset(name)
    with pytest.raises(DataValidationError, match="SHA-256"):
        load_dataset(name, as_frame=True)
    (tmp_path / f"{name}.csv").unlink()
    with pytest.raises(DataValidationError, match="missing"):
        load_dataset(name)


# --------------------------------------------------------------------------- build scripts


@pytest.mark.parametrize("name", NAMES)
def test_build_script_recreates_shipped_csv(name, tmp_path):
    module = _build_module(name)
    out = tmp_path / f"{name}.csv"
    write_tidy_csv(module.build_frame(), out)
    assert_csv_files_close(out, DATA_DIR / f"{name}.csv")


def test_build_script_command_line_out_option(tmp_path):
    name = "kidney_prrt_studies"  # one subprocess run: every build.py goes through run_build
    out = tmp_path / "x.csv"
    subprocess.run([sys.executable, str(DATASETS_DIR / name / "build.py"), "--out", str(out)],
                   check=True, capture_output=True, cwd=tmp_path)
    assert_csv_files_close(out, DATA_DIR / f"{name}.csv")


def test_build_catalogue_reproduces_shipped_catalogue(tmp_path):
    module = _build_catalogue_module()
    rebuilt = module.build_all(tmp_path, write_readmes=False)
    shipped = json.loads((DATA_DIR / "catalogue.json").read_text(encoding="utf-8"))
    # floats to rtol 1e-12, not bytes: another CPU's libm changes last digits (tests/_compare.py)
    assert_json_close(json.loads(json.dumps(rebuilt)), shipped)
    assert_json_files_close(tmp_path / "catalogue.json", DATA_DIR / "catalogue.json")


@pytest.mark.parametrize("name", NAMES)
def test_raw_files_unchanged_and_readme_up_to_date(name):
    entry = dataset_info(name)
    folder = DATASETS_DIR / name
    for raw, digest in entry["raw_sha256"].items():
        assert sha256_file(folder / "raw" / raw) == digest
        if raw in SOURCE_SHA256:  # byte-identical to the transcription handed over
            assert digest == SOURCE_SHA256[raw]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme == render_dataset_page(entry, generator="datasets/build_catalogue.py")


def test_every_transcribed_source_file_is_shipped():
    shipped = {raw for n in NAMES for raw in dataset_info(n)["raw_files"]}
    assert set(SOURCE_SHA256) <= shipped


def test_datasets_index_readme_up_to_date():
    entries = [dataset_info(n) for n in NAMES]
    text = (DATASETS_DIR / "README.md").read_text(encoding="utf-8")
    index = render_index(entries, generator="datasets/build_catalogue.py",
                         link_format="{name}/README.md")
    assert text.startswith(index)


def test_docs_pages_are_generated_and_up_to_date():
    pages = _docs_module().pages()
    docs = REPO / "docs" / "datasets"
    assert set(pages) == {p.name for p in docs.glob("*.md")}
    assert set(pages) == {"index.md"} | {f"{n}.md" for n in NAMES}
    for file, text in pages.items():
        assert (docs / file).read_text(encoding="utf-8") == text, (
            f"docs/datasets/{file} is stale: run python docs/datasets/build_pages.py"
        )


# ------------------------------------------------------------ published results reproduce


def _glm(frame, x, link):
    endog = np.column_stack([frame["events"], frame["n"] - frame["events"]])
    family = sm.families.Binomial(link=link)
    return sm.GLM(endog, sm.add_constant(frame[x].to_numpy(float)), family=family).fit()


def test_bmds_ddataset2_reproduces_published_logistic_bmd():
    data = load_dataset("bmds_ddataset2")
    agg = data.aggregate
    assert list(agg["dose"]) == [0, 50, 100, 150, 200]
    assert list(agg["events"]) == [0, 5, 30, 65, 90] and set(agg["n"]) == {100}
    fit = _glm(agg, "dose", sm.families.links.Logit())
    a, b = fit.params
    assert a == pytest.approx(-4.4553, abs=1e-3) and b == pytest.approx(0.03403, abs=1e-5)
    p0 = special.expit(a)
    bmd = optimize.brentq(lambda d: (special.expit(a + b * d) - p0) / (1 - p0) - 0.1, 0, 200)
    assert bmd == pytest.approx(69.584, abs=0.5)  # upstream tolerance
    assert bmd == pytest.approx(69.5835, abs=1e-3)
    # the catalogue's conversion to this package's logistic parametrisation
    doses = np.array([0.0, 50.0, 130.0, 200.0])
    family = get_curve_family("logistic")
    np.testing.assert_allclose(family.probability(doses, -a / b, -a / 4),
                               special.expit(a + b * doses), rtol=1e-12)


def test_bliss_beetles_reproduce_dobson_barnett_fits():
    frame = load_dataset("bliss_beetles", as_frame=True)
    expected = {
        "logit": (sm.families.links.Logit(), -60.72, 34.27, 11.23),
        "probit": (sm.families.links.Probit(), -34.94, 19.73, 10.12),
        "cloglog": (sm.families.links.CLogLog(), -39.57, 22.04, 3.45),
    }
    for link, a, b, deviance in expected.values():
        fit = _glm(frame, "log10_dose", link)
        assert fit.params[0] == pytest.approx(a, abs=0.005)
        assert fit.params[1] == pytest.approx(b, abs=0.005)
        assert fit.deviance == pytest.approx(deviance, abs=0.005)
    data = load_dataset("bliss_beetles")
    np.testing.assert_allclose(np.log10(data.aggregate["dose"]), frame["log10_dose"], atol=1e-5)


def test_racine_bioassay_reproduces_bda3_mle():
    frame = load_dataset("racine_bioassay", as_frame=True)
    fit = _glm(frame, "log_dose", sm.families.links.Logit())
    assert np.round(fit.params, 1).tolist() == [0.8, 7.7]
    assert np.round(fit.bse, 1).tolist() == [1.0, 4.9]
    assert load_dataset("racine_bioassay").n_events == 9


def test_published_tables_hold_the_numbers_the_readme_promises():
    kidney = load_dataset("kidney_prrt_studies", as_frame=True)
    thresholds = kidney[kidney["row_kind"] == "threshold"]
    assert sorted(thresholds["dose_value"]) == [28.0, 40.0]
    counts = kidney[kidney["row_kind"] == "events_n_without_dose"]
    assert (counts["study_id"] == "bodei2008").all()
    grade34 = load_dataset("kidney_prrt_grade34")
    assert (grade34.n_events, grade34.n_patients) == (0, 35)
    assert grade34.aggregate["dose"].tolist() == [23.8]
    tumour = load_dataset("tumour_rpt_studies", as_frame=True)
    d50 = tumour[tumour["statistic"].str.startswith("D50")]
    assert d50["value"].tolist() == [292.0]
    odds = tumour[tumour["statistic"] == "odds ratio for local response"]
    assert odds[["value", "ci_low", "ci_high"]].to_numpy().tolist() == [[1.5, 1.1, 2.0]]
    assert (tumour.loc[tumour["study_id"] == "matthay2001", "interval_kind"].dropna()
            == "range").all()
    nadir = load_dataset("cht25_marrow_nadirs", as_frame=True)
    platelets = nadir[nadir["analyte"] == "platelets"]
    assert platelets["nadir_median"].tolist() == [187, 198, 31, 15, 13]
    assert platelets["n_treatments"].sum() == 24


# -------------------------------------------------------------- simulated cohorts: truth


def test_simulated_kidney_truth_matches_bodei_thresholds():
    truth = dataset_info("sim_kidney_prrt")["simulation"]["truth"]
    assert truth["td5"] == pytest.approx(40.0, rel=1e-12)
    assert truth["td5_one_risk_factor"] == pytest.approx(28.0, rel=1e-12)
    assert truth["td5_new_centre"] < truth["td5"]
    module = _build_module("sim_kidney_prrt")
    assert load_dataset("sim_kidney_prrt") == module.COHORT.data


def test_simulated_tumour_truth_has_alipour_odds_ratio():
    module = _build_module("sim_tumour_lu177_dotatate")
    truth = module.COHORT.truth
    logit = special.logit(truth.probability([10.0, 60.0, 100.0, 150.0]))
    assert np.exp(logit[1] - logit[0]) == pytest.approx(1.5, rel=1e-12)
    assert np.exp(logit[3] - logit[2]) == pytest.approx(1.5, rel=1e-12)
    assert float(truth.probability(module.MEDIAN_DOSE)) == pytest.approx(0.24, rel=1e-12)


def test_simulated_marrow_truth_has_2_gy_td5():
    assert dataset_info("sim_marrow_toxicity")["simulation"]["truth"]["td5"] == pytest.approx(2.0)


def test_mixed_kidney_cohort_is_the_ipd_cohort_binned():
    ipd = load_dataset("sim_kidney_prrt", as_frame=True)
    mixed = load_dataset("sim_kidney_prrt_mixed", as_frame=True)
    agg_centres = {"centre06", "centre07", "centre08"}
    kept = ipd[~ipd["study"].isin(agg_centres)].reset_index(drop=True)
    mixed_ipd = mixed[mixed["patient"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(mixed_ipd[list(kept.columns)], kept, check_dtype=False)
    agg = mixed[mixed["patient"].isna()]
    assert set(agg["study"]) == agg_centres
    for (study, ht, dm), rows in agg.groupby(["study", "hypertension", "diabetes"]):
        members = ipd[(ipd["study"] == study) & (ipd["hypertension"] == ht)
                      & (ipd["diabetes"] == dm)]
        assert rows["n"].sum() == len(members)
        assert rows["events"].sum() == members["outcome"].sum()
        assert rows["dose_low"].min() == members["dose"].min()
        assert rows["dose_high"].max() == members["dose"].max()
    data = load_dataset("sim_kidney_prrt_mixed")
    assert data.n_patients == load_dataset("sim_kidney_prrt").n_patients == 500
    assert data.n_events == int(ipd["outcome"].sum())


def test_time_activity_samples_hold_a_hybrid_schedule_and_patient_outcomes():
    frame = load_dataset("sim_lu177_multicentre_samples", as_frame=True)
    info = dataset_info("sim_lu177_multicentre_samples")
    assert info["level"] == "time-activity" and info["mapping"] is None
    assert set(frame["region"]) == {"kidneys", "tumour"}
    assert frame["study"].nunique() == 4 and frame["patient"].nunique() == 84
    later = frame[frame["cycle"] > 1]
    assert set(later["time_h"]) == {info["simulation"]["parameters"]["single_scan_h"]}
    per_cycle = frame.groupby(["patient", "region", "cycle"]).size()
    assert (per_cycle.xs(1, level="cycle") == 5).all()
    assert (per_cycle.drop(1, level="cycle") == 1).all()
    # patient-level columns are constant within a patient, region-level within a region
    assert (frame.groupby("patient")[["hypertension", "renal_toxicity", "tumour_response"]]
            .nunique() == 1).all().all()
    by_region = frame.groupby(["patient", "region"])[["mass_kg", "true_bed_gy"]]
    assert (by_region.nunique() == 1).all().all()
    truth = info["simulation"]["truth"]
    patients = frame.drop_duplicates("patient")
    for column in ("renal_toxicity", "tumour_response"):
        assert patients[column].mean() == pytest.approx(truth[f"{column}_rate"], abs=1e-12)
    # log-logistic TD5 = D50 * 19^(-1/(4 gamma50)) (closed form of the curve family)
    assert truth["kidney_td5_typical_centre"] == pytest.approx(30.0 * 19.0 ** (-1 / 12), rel=1e-9)
    assert truth["kidney_td5_typical_centre_hypertension"] == pytest.approx(
        0.7 * truth["kidney_td5_typical_centre"], rel=1e-9)


def test_mapping_kwargs_round_trip():
    entry = dataset_info("sim_kidney_prrt")
    kwargs = mapping_kwargs(entry)
    assert kwargs["covariates"] == ("hypertension", "diabetes")
    assert kwargs["dose_metric"] == "kidney BED" and kwargs["dose_unit"] == "Gy"
