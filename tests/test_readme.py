"""The README: its Python example runs as written, its commands and its figure are there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) == 1, "README has one python example"
    assert len(blocks[0].strip().splitlines()) <= 12  # a short example; the tour is in docs/
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    # BED of 5 Gy at T_eff 50 h, kidney preset: the BED-015 reference value 5.50990675991 Gy
    assert namespace["rb"].bed_exponential(
        5.0, effective_half_life=50.0, **namespace["kidney"].lq_kwargs()
    ) == pytest.approx(5.50990675991, rel=1e-9)
    assert namespace["fit"].diagnostics()["ok"].all()  # the README shows a converged fit
    td5 = namespace["td5"]  # the predictive TD5 of a new centre sits inside its band
    assert td5.which == "new_study" and td5.lower < td5["predictive"] < td5.upper
    plan = namespace["plan"]
    assert plan.limiting == "kidney" and 0 < plan.activity_gbq < 30
    kidney = next(c for c in plan.curves if c["region"] == "kidney")
    assert kidney["mean"] <= 0.05 + 1e-6  # the plan meets the default 5 % NTCP limit


def test_readme_states_the_setup_test_and_docs_commands():
    text = README.read_text(encoding="utf-8")
    assert "python3 -m pip install . && doseresponse demo" in text
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest' in text
    contributing = text[text.index("## Contributing"):]
    for command in ("python3 -m pytest\n", "python3 -m pytest -m slow\n",
                    'python3 -m pip install -e ".[docs]" && python3 -m sphinx -W -b html docs '
                    "docs/_build/html\n"):
        assert command in contributing
    # the demo is the first command a reader meets
    assert text.index("doseresponse demo") < text.index("python3 -m pytest")


def test_readme_figure_and_links_exist():
    text = README.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 1
    figure = REPO / images[0]
    assert figure.suffix == ".png" and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.stat().st_size < 100_000
    assert (REPO / "docs" / "images" / "build_readme_figure.py").is_file()
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)#]+)(?:#[^)]*)?\)", text):
        assert (REPO / target).exists(), target
