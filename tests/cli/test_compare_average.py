"""``compare`` says which fits the data cannot tell apart and saves a model average."""

from __future__ import annotations

import numpy as np
import pytest

import doseresponse as dr
from tests.cli.conftest import in_process


@pytest.mark.filterwarnings("ignore:PSIS-LOO is unreliable")  # tiny fits: a few large Pareto k
def test_compare_prints_verdict_and_saves_the_average(fitted, tmp_path, capsys):
    out = tmp_path / "average"
    args = ["compare", fitted["loglogistic"], fitted["logistic"], "--average", "pseudo-bma+",
            "-o", str(out)]
    code, text, _ = in_process(args, capsys)
    assert code == 0
    assert "Best by LOO" in text and "pseudo_bma_weight" in text
    assert f"saved to {out}" in text
    average = dr.load_average(out)
    table = dr.compare({"loglogistic": dr.load(fitted["loglogistic"]),
                        "logistic": dr.load(fitted["logistic"])})
    assert table.attrs["verdict"] in text
    for name in ("loglogistic", "logistic"):
        np.testing.assert_allclose(average.weights[name], table.loc[name, "pseudo_bma_weight"],
                                   rtol=1e-12)
    code, _, err = in_process(args, capsys)
    assert code == 1 and "--overwrite" in err
    code, _, err = in_process(["compare", fitted["loglogistic"], fitted["logistic"], "-o",
                               str(tmp_path / "x")], capsys)
    assert code != 0 and "--average" in err
