"""Every ```python block in docs/ runs (blocks of one page share a namespace, in order).

Keeps the tutorials and theory-page examples honest: a page whose example stops working fails
here. Pages run in a temporary working directory so nothing is written into the checkout.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = sorted(p for p in DOCS.rglob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))
#: A page whose examples run MCMC to convergence carries this comment and runs with -m slow.
SLOW_MARK = "<!-- docs-test: slow -->"


def _param(page: Path):
    slow = SLOW_MARK in page.read_text(encoding="utf-8")
    return pytest.param(page, id=str(page.relative_to(DOCS)),
                        marks=[pytest.mark.slow] if slow else [])


def test_docs_have_runnable_examples():
    assert len(PAGES) >= 1


@pytest.mark.parametrize("page", [_param(p) for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), start=1):
        code = compile(block, f"{page.name} block {number}", "exec")
        exec(code, namespace)  # executing our own documentation examples
    import matplotlib.pyplot as plt

    plt.close("all")
