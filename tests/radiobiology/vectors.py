"""Load the shared radiobiology reference vectors (see tests/reference/README.md)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS_CSV = Path(__file__).resolve().parents[1] / "reference" / "radiobiology_vectors.csv"
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Vector:
    case_id: str
    category: str
    description: str
    inputs: dict[str, Any]
    expected: float
    reference: str


def load_vectors() -> dict[str, Vector]:
    """All reference cases keyed by case id."""
    with VECTORS_CSV.open(newline="") as handle:
        return {
            row["case_id"]: Vector(
                case_id=row["case_id"],
                category=row["category"],
                description=row["description"],
                inputs=json.loads(row["inputs_json"]),
                expected=float(row["expected"]),
                reference=row["reference"],
            )
            for row in csv.DictReader(handle)
        }


def assert_matches(value: float, vector: Vector) -> None:
    """Compare with the expected value to 1e-6 relative (absolute for an expected 0)."""
    expected = vector.expected
    scale = abs(expected) if expected != 0 else 1.0
    diff = abs(float(value) - expected) / scale
    if not diff <= RELATIVE_TOLERANCE:
        raise AssertionError(
            f"{vector.case_id} ({vector.description}): got {float(value)!r}, expected "
            f"{expected!r}, relative difference {diff:.2e} > {RELATIVE_TOLERANCE:g}"
        )
