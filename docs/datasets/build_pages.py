"""Generate ``docs/datasets/`` (an index and one page per dataset) from the dataset catalogue.

Usage: ``python docs/datasets/build_pages.py [--out DIR]`` (default: this folder). The pages are
rendered from ``doseresponse/datasets/data/catalogue.json``, so they never drift from what
``load_dataset`` ships; ``tests/test_datasets.py`` checks the committed pages are up to date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from doseresponse.datasets import dataset_info, list_datasets
from doseresponse.datasets._pages import render_dataset_page, render_index

HERE = Path(__file__).resolve().parent
GENERATOR = "docs/datasets/build_pages.py"


def pages() -> dict[str, str]:
    """Return ``{file name: Markdown text}`` for the index and every dataset."""
    entries = [dataset_info(name) for name in list_datasets()["name"]]
    out = {"index.md": render_index(entries, generator=GENERATOR, link_format="{name}.md")}
    for entry in entries:
        out[f"{entry['name']}.md"] = render_dataset_page(entry, generator=GENERATOR)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the pages; remove pages of datasets no longer in the catalogue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = pages()
    for stale in args.out.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} pages to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
