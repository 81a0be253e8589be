"""Every shared reference vector must be checked by some test module.

Each ``test_vectors_<area>.py`` module declares the case ids it evaluates in ``COVERED``; this
test fails if a case of the CSV is in none of them (or if a module claims an unknown case).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.radiobiology.vectors import load_vectors


def _covered_cases() -> dict[str, str]:
    covered: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("test_vectors_*.py")):
        if path.stem == "test_vectors_coverage":
            continue
        module = importlib.import_module(f"tests.radiobiology.{path.stem}")
        for case_id in module.COVERED:
            covered[case_id] = path.stem
    return covered


def test_every_reference_vector_is_checked():
    cases = set(load_vectors())
    covered = _covered_cases()
    missing = sorted(cases - set(covered))
    assert not missing, f"reference cases checked by no test module: {missing}"


def test_no_module_claims_an_unknown_case():
    unknown = sorted(set(_covered_cases()) - set(load_vectors()))
    assert not unknown, f"test modules claim cases not in the CSV: {unknown}"


def test_all_seventy_cases_are_loaded():
    assert len(load_vectors()) == 70
