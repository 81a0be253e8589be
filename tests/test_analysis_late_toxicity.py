"""analyses/late_toxicity_vs_binary runs (quick mode) and shows the binary analysis' bias."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_late_toxicity_vs_binary_quick(tmp_path, capsys):
    path = REPO_ROOT / "analyses" / "late_toxicity_vs_binary" / "run.py"
    spec = importlib.util.spec_from_file_location("analyses_late_toxicity_vs_binary", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "late_toxicity_vs_binary_quick.csv").is_file()
    table = summary.set_index(["quantity", "method"])
    eventual = "NTCP eventual at 35 Gy"
    binary = table.loc[(eventual, "binary NTCP (NTCPModel)")]
    late = table.loc[(eventual, "mixture cure (LateToxicityModel)")]
    # events not yet seen by the last visit: the binary curve sits well below the eventual risk
    assert binary["rel_bias"] < -0.3
    assert late["mean_estimate"] > binary["mean_estimate"]
    assert "toxicities seen by the last visit" in capsys.readouterr().out
