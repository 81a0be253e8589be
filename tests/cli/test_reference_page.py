"""``docs/cli.md`` is the parser's ``--help`` text: the committed page must be up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from doseresponse.cli import build_parser

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "build_cli_reference.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_cli_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_page_is_up_to_date():
    builder = _builder()
    committed = builder.PAGE.read_text(encoding="utf-8")
    assert builder.normalised(committed) == builder.normalised(builder.render()), (
        "docs/cli.md is out of date; run: python docs/build_cli_reference.py"
    )


def test_page_has_a_section_with_the_help_of_every_command():
    text = _builder().render()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"## `doseresponse {name}`" in text
        assert f"usage: doseresponse {name}" in text


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch):
    builder = _builder()
    monkeypatch.setattr(builder, "PAGE", tmp_path / "cli.md")
    (tmp_path / "cli.md").write_text("# stale\n")
    assert builder.main(["--check"]) == 1
    assert builder.main([]) == 0
    assert builder.main(["--check"]) == 0
