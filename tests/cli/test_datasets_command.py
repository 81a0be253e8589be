"""``doseresponse datasets``: the catalogue, one dataset's description, and its CSV."""

from __future__ import annotations

import json

import pandas as pd

import doseresponse as dr
from tests.cli.conftest import in_process, run


def test_list_json_is_the_catalogue():
    records = json.loads(run("datasets", "--json", check=True).stdout)
    expected = dr.list_datasets()
    assert [r["name"] for r in records] == list(expected["name"])
    assert set(records[0]) == set(expected.columns)


def test_list_text_names_every_dataset(capsys):
    code, out, _ = in_process(["datasets"], capsys)
    assert code == 0
    for name in dr.list_datasets()["name"]:
        assert name in out


def test_describe_one_dataset(capsys):
    code, out, _ = in_process(["datasets", "bliss_beetles"], capsys)
    info = dr.datasets.dataset_info("bliss_beetles")
    assert code == 0
    assert info["title"] in out and info["licence"] in out
    code, out, _ = in_process(["datasets", "bliss_beetles", "--json"], capsys)
    assert json.loads(out) == info


def test_unknown_dataset_is_a_usage_error_listing_valid_names(capsys):
    code, out, err = in_process(["datasets", "no_such_data"], capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "bliss_beetles" in err


def test_csv_is_the_shipped_table_and_is_not_overwritten(tmp_path):
    out = tmp_path / "beetles.csv"
    run("datasets", "bliss_beetles", "--csv", out, "--quiet", check=True)
    written = pd.read_csv(out)
    pd.testing.assert_frame_equal(written, dr.load_dataset("bliss_beetles", as_frame=True),
                                  check_dtype=False)
    out.write_text("mine\n")
    again = run("datasets", "bliss_beetles", "--csv", out)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert out.read_text() == "mine\n"
