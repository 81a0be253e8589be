"""Helpers shared by the build scripts in the top-level ``datasets/`` folder.

Each ``datasets/<name>/build.py`` turns its raw source file into the tidy CSV shipped in
``doseresponse/datasets/data/<name>.csv``. Writing goes through :func:`write_tidy_csv`, so that
the bytes are deterministic (UTF-8, newline line endings, no index, shortest round-trip floats)
and a rebuild reproduces the shipped file exactly; the catalogue stores its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from doseresponse.exceptions import DataValidationError

__all__ = ["DATA_DIR", "run_build", "sha256_file", "write_tidy_csv"]

#: Folder holding the tidy CSV files and ``catalogue.json`` (package data).
DATA_DIR = Path(__file__).resolve().parent / "data"


def sha256_file(path: str | Path) -> str:
    """Return the hexadecimal SHA-256 digest of a file's bytes.

    Parameters
    ----------
    path : str or pathlib.Path
        File to hash.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write_tidy_csv(frame: pd.DataFrame, path: str | Path) -> str:
    """Write a tidy frame as a deterministic CSV and return its SHA-256.

    Parameters
    ----------
    frame : pandas.DataFrame
        The tidy table; its index is not written.
    path : str or pathlib.Path
        Output file; parent folders are created.

    Returns
    -------
    str
        SHA-256 of the written bytes.

    Raises
    ------
    DataValidationError
        If the frame has duplicated or empty column names.
    """
    cols = [str(c) for c in frame.columns]
    if len(set(cols)) != len(cols) or any(not c for c in cols):
        raise DataValidationError(
            f"tidy frame for {path} has duplicated or empty column names: {cols}; rename them."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    path.write_bytes(text.encode("utf-8"))
    return sha256_file(path)


def run_build(
    name: str,
    build_frame: Callable[[], pd.DataFrame],
    argv: Sequence[str] | None = None,
) -> Path:
    """Command-line entry point of a ``datasets/<name>/build.py`` script.

    Parameters
    ----------
    name : str
        Dataset name; the default output is ``doseresponse/datasets/data/<name>.csv``.
    build_frame : callable
        Zero-argument function returning the tidy frame.
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``). ``--out PATH`` writes elsewhere.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    parser = argparse.ArgumentParser(description=f"Build the tidy '{name}' dataset.")
    parser.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR / f"{name}.csv",
        help="output CSV path (default: the shipped package-data file)",
    )
    args = parser.parse_args(argv)
    digest = write_tidy_csv(build_frame(), args.out)
    print(f"{name}: wrote {args.out} (sha256 {digest})")
    return args.out
