"""``compare`` says which fits the data cannot tell apart and saves a model average."""

from __future__ import annotations

import numpy as np
import pytest

import doseresponse as dr
from tests.cli.conftest import in_process


@pytest.mark.filterwarnings("ignore:PSIS-LOO is unreliable")  # tiny fits: a few large Pareto k
def test_compare_prints_verdict_and_saves_the_average(fitted, tmp_path, capsys):
    out = tmp_path / "average"
    args = ["compare", fitted["loglogistic"], fitted["logistic"], "--ic", "loo", "--average",
            "pseudo-bma+", "-o", str(out)]
    code, text, _ = in_process(args, capsys)
    assert code == 0
    assert "Best by LOO" in text and "pseudo_bma_weight" in text
    assert "criterion: PSIS-LOO, as requested (ic='loo')." in text
    assert f"saved to {out}" in text
    average = dr.load_average(out)
    table = dr.compare({"loglogistic": dr.load(fitted["loglogistic"]),
                        "logistic": dr.load(fitted["logistic"])}, ic="loo")
    assert table.attrs["verdict"] in text
    for name in ("loglogistic", "logistic"):
        np.testing.assert_allclose(average.weights[name], table.loc[name, "pseudo_bma_weight"],
                                   rtol=1e-12)
    code, _, err = in_process(args, capsys)
    assert code == 1 and "--overwrite" in err
    code, _, err = in_process(["compare", fitted["loglogistic"], fitted["logistic"], "-o",
                               str(tmp_path / "x")], capsys)
    assert code != 0 and "--average" in err


def test_compare_defaults_to_auto():
    """Without --ic, compare uses PSIS-LOO unless some fit has Pareto k > 0.7 (then K-fold)."""
    from doseresponse.cli import build_parser

    args = build_parser().parse_args(["compare", "a.nc", "b.nc"])
    assert args.ic == "auto"


@pytest.mark.filterwarnings("ignore:PSIS-LOO is unreliable")
def test_report_of_a_saved_model_average(fitted, tmp_path, capsys):
    folder = tmp_path / "average"
    code, _, err = in_process(["compare", fitted["loglogistic"], fitted["logistic"], "--ic",
                               "loo", "--average", "stacking", "-o", str(folder)], capsys)
    assert code == 0, err
    out = tmp_path / "report.html"
    code, text, err = in_process(["report", str(folder), "-o", str(out)], capsys)
    assert code == 0, err
    assert f"report written to {out}" in text
    html = out.read_text(encoding="utf-8")
    average = dr.load_average(folder)
    assert "(model average)" in html and "stacking" in html
    for name, weight in average.weights.items():
        assert name in html and f"{weight:.3g}" in html
    # the average's in-page lookup panel (members and weights embedded, doseresponse.report.lookup)
    assert 'id="lookup-ntcp"' in html and "NTCP model average (stacking weights)" in html
