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


@pytest.mark.filterwarnings("ignore:PSIS-LOO is unreliable")
def test_compare_reads_late_toxicity_fits_and_refuses_to_average_them(tmp_path, capsys):
    from doseresponse.simulate_late import simulate_late_toxicity

    data = simulate_late_toxicity(n_studies=2, patients_per_study=30, random_seed=4).data
    fits, paths = {}, []
    for onset in ("weibull", "lognormal"):
        fits[onset] = dr.LateToxicityModel(onset=onset).fit(
            data, draws=60, tune=60, chains=2, random_seed=1, check=False)
        paths.append(tmp_path / f"{onset}.nc")
        fits[onset].save(paths[-1])
    code, text, err = in_process(["compare", *paths, "--ic", "loo"], capsys)
    assert code == 0, err
    table = dr.compare(fits, ic="loo")
    assert table.attrs["verdict"] in text
    for name in fits:
        assert f"{table.loc[name, 'elpd']:.4g}" in text
    code, _, err = in_process(["compare", *paths, "--ic", "loo", "--average", "stacking", "-o",
                               tmp_path / "average"], capsys)
    assert code != 0 and "late-toxicity fits" in err and "dr.compare" in err
    assert not (tmp_path / "average").exists()
    # a FittedModel loader names the other kind instead of calling the file foreign
    from doseresponse.exceptions import ModelMismatchError

    with pytest.raises(ModelMismatchError, match=r"late-toxicity fit.*LateToxicityFit\.load"):
        dr.load(paths[0])
