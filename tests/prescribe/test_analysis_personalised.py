"""analyses/personalised_vs_fixed runs in quick mode and gives sane, ordered numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "analyses" / "personalised_vs_fixed" / "run.py"


def test_quick_mode(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("analyses_personalised_vs_fixed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(["--quick", "--out", str(tmp_path)])["results"].set_index("strategy")
    assert (tmp_path / "personalised_vs_fixed_quick.csv").is_file()
    assert (tmp_path / "personalised_vs_fixed_quick.png").is_file()
    fixed, guided = table.iloc[0], table.iloc[1]
    # the NTCP-limited activity gives more activity and tumour control than 4 x 7.4 GBq,
    # and keeps the expected kidney NTCP below the 5 % limit (population mean)
    assert guided["total_activity_mean"] > fixed["total_activity_mean"]
    assert guided["TCP tumour mean"] > fixed["TCP tumour mean"]
    assert guided["NTCP kidney mean"] < 0.05
    assert guided["under-treated"] < fixed["under-treated"]
    for _, row in table.iterrows():
        assert row["TCP tumour lower"] <= row["TCP tumour mean"] <= row["TCP tumour upper"]
    assert "tolerances" in capsys.readouterr().out
