"""The README's quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["fit"].time_integrated_activity > 0
    td5 = namespace["ml"].dose_at(0.05)  # the ML fit returns the shared DoseAt type
    assert td5.interval == "confidence" and td5.lower < td5.estimate < td5.upper
    new_centre = namespace["td5"]  # the predictive TD5 of a new centre sits inside its band
    assert new_centre.lower < new_centre["predictive"] < new_centre.upper
    plan = namespace["plan"]
    assert plan.limiting == "kidney" and 0 < plan.activity_gbq < 30


def test_readme_states_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "python3 -m pip install . && doseresponse demo" in text
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest' in text
