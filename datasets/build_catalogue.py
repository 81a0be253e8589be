"""Build every shipped dataset and the catalogue from the ``datasets/<name>/build.py`` scripts.

For each dataset folder: import its ``build.py``, check its ``METADATA``, write the tidy CSV,
record the CSV's and raw files' SHA-256 and write the folder's README. Then write
``catalogue.json`` and the ``datasets/README.md`` index.

Usage::

    python datasets/build_catalogue.py                 # rebuild the shipped files in place
    python datasets/build_catalogue.py --out DIR       # write CSVs + catalogue.json to DIR only
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from doseresponse.datasets._build import DATA_DIR, sha256_file, write_tidy_csv
from doseresponse.datasets._catalogue import (
    CATALOGUE_FILE,
    KINDS,
    LEVELS,
    TABLE_ONLY_LEVELS,
    mapping_kwargs,
)
from doseresponse.datasets._pages import render_dataset_page, render_index

HERE = Path(__file__).resolve().parent
GENERATOR = "datasets/build_catalogue.py"

REQUIRED = (
    "name", "title", "kind", "level", "description", "outcome", "outcome_definition",
    "dose_metric", "dose_unit", "source", "citations", "licence", "published_result",
    "extraction_notes", "not_loadable_reason", "mapping", "raw_files", "columns",
)
MAPPING_COLUMN_KEYS = (
    "dose", "outcome", "study", "patient", "events", "n", "dose_se", "dose_rel_se", "dose_low",
    "dose_high", "dose_sd", "follow_up", "event_time",
)


def dataset_dirs() -> list[Path]:
    """Catalogued dataset folders (a build.py with METADATA), sorted by kind then name."""
    modules = {p.parent: load_build_module(p.parent) for p in HERE.glob("*/build.py")}
    dirs = [d for d, m in modules.items() if hasattr(m, "METADATA")]
    return sorted(dirs, key=lambda d: (KINDS.index(modules[d].METADATA["kind"]), d.name))


def other_dirs() -> list[Path]:
    """Folders with a build.py but no METADATA (e.g. example files): not in the catalogue."""
    catalogued = set(dataset_dirs())
    return sorted(p.parent for p in HERE.glob("*/build.py") if p.parent not in catalogued)


def load_build_module(folder: Path) -> ModuleType:
    """Import ``folder/build.py`` as a module (the folders are not a package)."""
    spec = importlib.util.spec_from_file_location(f"_dataset_build_{folder.name}",
                                                  folder / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_metadata(meta: dict[str, Any], folder: Path) -> None:
    """Raise SystemExit with every problem of a METADATA dict."""
    problems = [f"missing key {k!r}" for k in REQUIRED if k not in meta]
    if problems:
        raise SystemExit(f"{folder.name}: " + "; ".join(problems))
    if meta["name"] != folder.name:
        problems.append(f"name {meta['name']!r} differs from folder {folder.name!r}")
    if meta["kind"] not in KINDS:
        problems.append(f"kind {meta['kind']!r} not in {KINDS}")
    if meta["level"] not in LEVELS:
        problems.append(f"level {meta['level']!r} not in {LEVELS}")
    if (meta["level"] in TABLE_ONLY_LEVELS) != (meta["mapping"] is None):
        problems.append(f"mapping must be None exactly for the levels {TABLE_ONLY_LEVELS}")
    if meta["mapping"] is None and not meta["not_loadable_reason"]:
        problems.append("table-only datasets need not_loadable_reason")
    if meta["kind"] == "simulated" and not meta.get("simulation"):
        problems.append("simulated datasets need a 'simulation' entry")
    for raw in meta["raw_files"]:
        if not (folder / "raw" / raw).is_file():
            problems.append(f"raw file raw/{raw} not found")
    if meta["mapping"]:
        for key in MAPPING_COLUMN_KEYS:
            col = meta["mapping"].get(key)
            if col is not None and col not in meta["columns"]:
                problems.append(f"mapping {key}={col!r} is not a documented column")
    if problems:
        raise SystemExit(f"{folder.name}: " + "; ".join(problems))


def build_all(out_dir: Path, write_readmes: bool) -> dict[str, Any]:
    """Build every dataset into ``out_dir`` and return the catalogue dictionary."""
    from doseresponse.data import DoseResponseData

    datasets: dict[str, Any] = {}
    for folder in dataset_dirs():
        module = load_build_module(folder)
        meta = dict(module.METADATA)
        check_metadata(meta, folder)
        frame = module.build_frame()
        if list(frame.columns) != list(meta["columns"]):
            raise SystemExit(
                f"{folder.name}: built columns {list(frame.columns)} differ from the documented "
                f"columns {list(meta['columns'])}"
            )
        file = f"{meta['name']}.csv"
        digest = write_tidy_csv(frame, out_dir / file)
        entry = {
            **meta,
            "file": file,
            "sha256": digest,
            "n_rows": len(frame),
            "raw_sha256": {raw: sha256_file(folder / "raw" / raw) for raw in meta["raw_files"]},
            "build_script": f"datasets/{meta['name']}/build.py",
        }
        if entry["mapping"] is not None:  # must load
            DoseResponseData.from_frame(frame, **mapping_kwargs(entry))
        datasets[meta["name"]] = entry
        if write_readmes:
            (folder / "README.md").write_text(
                render_dataset_page(entry, generator=GENERATOR), encoding="utf-8"
            )
        print(f"{meta['name']}: {len(frame)} rows, sha256 {digest}")
    catalogue = {"schema": "doseresponse.datasets.catalogue", "version": 1,
                 "datasets": datasets}
    text = json.dumps(catalogue, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    (out_dir / CATALOGUE_FILE).write_text(text, encoding="utf-8")
    if write_readmes:
        (HERE / "README.md").write_text(
            render_index(datasets.values(), generator=GENERATOR,
                         link_format="{name}/README.md")
            + _INDEX_FOOTER
            + _other_folders_text(),
            encoding="utf-8",
        )
    return catalogue


_INDEX_FOOTER = """
## Layout

Each folder holds `raw/` (the source file, byte-identical to the transcription or fixture it
comes from), `build.py` (raw → tidy CSV; `python datasets/<name>/build.py --out PATH`) and a
README generated from the `METADATA` in `build.py` (full citation, outcome definition, units,
extraction notes, the published result to reproduce and, for simulated cohorts, the parameters,
their derivation and the seed). `python datasets/build_catalogue.py` rebuilds every tidy CSV in
`doseresponse/datasets/data/`, the catalogue (`catalogue.json`, with the SHA-256 of each CSV) and
these READMEs; `python docs/datasets/build_pages.py` regenerates `docs/datasets/`.
"""


def _other_folders_text() -> str:
    others = other_dirs()
    if not others:
        return ""
    names = ", ".join(f"[`{d.name}`]({d.name}/README.md)" for d in others)
    return (
        f"\nOther folders here with their own build script, not datasets of the catalogue: "
        f"{names}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="write CSVs and catalogue.json here (no READMEs); default: in place")
    args = parser.parse_args(argv)
    out_dir = args.out or DATA_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    build_all(out_dir, write_readmes=args.out is None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
