"""Comparisons of rebuilt artefacts with shipped ones that tolerate last-digit float differences.

Shipped CSV/JSON files hold numbers computed by build scripts (libm calls, sums). Another CPU
or libm can change the last binary digit (seen: ``2.8228097913223955`` vs ``2.822809791322396``
on two machines), so rebuilt files are compared structurally: strings, integers and keys
exactly, floats to a relative tolerance of 1e-12 (four orders of magnitude above double
rounding, far below any printed precision).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

FLOAT_RTOL = 1e-12
"""Relative tolerance for floats in rebuilt artefacts (see the module docstring)."""


def assert_json_close(actual: Any, expected: Any, *, rtol: float = FLOAT_RTOL, where: str = "$"):
    """Recursive equality of JSON-like values; floats to ``rtol``."""
    if isinstance(expected, float) or isinstance(actual, float):
        assert isinstance(actual, (int, float)) and isinstance(expected, (int, float)), where
        if math.isnan(expected):
            assert math.isnan(actual), where
        else:
            assert math.isclose(actual, expected, rel_tol=rtol, abs_tol=0.0), (
                f"{where}: {actual!r} != {expected!r}"
            )
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key in expected:
            assert_json_close(actual[key], expected[key], rtol=rtol, where=f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_json_close(a, e, rtol=rtol, where=f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def assert_json_files_close(actual: Path, expected: Path, *, rtol: float = FLOAT_RTOL) -> None:
    """Two JSON files hold the same document (floats to ``rtol``)."""
    assert_json_close(
        json.loads(Path(actual).read_text(encoding="utf-8")),
        json.loads(Path(expected).read_text(encoding="utf-8")),
        rtol=rtol,
    )


def assert_csv_files_close(actual: Path, expected: Path, *, rtol: float = FLOAT_RTOL) -> None:
    """Two CSV files: same header, rows and text cells; float cells to ``rtol``."""
    a_text = Path(actual).read_text(encoding="utf-8")
    e_text = Path(expected).read_text(encoding="utf-8")
    assert a_text.splitlines()[0] == e_text.splitlines()[0], "CSV headers differ"
    a = pd.read_csv(io.StringIO(a_text), keep_default_na=False, dtype=str)
    e = pd.read_csv(io.StringIO(e_text), keep_default_na=False, dtype=str)
    assert a.shape == e.shape
    for column in e.columns:
        for row, (x, y) in enumerate(zip(a[column], e[column], strict=True)):
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                raise AssertionError(f"{column}[{row}]: {x!r} != {y!r}") from None
            assert math.isclose(fx, fy, rel_tol=rtol, abs_tol=0.0), (
                f"{column}[{row}]: {x!r} != {y!r}"
            )
