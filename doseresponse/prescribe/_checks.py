"""Argument checks shared by the prescription modules (package errors naming the argument)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from doseresponse.exceptions import DoseResponseError

__all__ = ["count", "positive_number"]


def positive_number(value: Any, name: str, unit: str | None = None) -> float:
    """``value`` as a finite float > 0, else a :class:`DoseResponseError` naming ``name``.

    Parameters
    ----------
    value : Any
        The argument.
    name : str
        Its name in messages.
    unit : str, optional
        Its unit, stated in messages (e.g. ``"GBq"``).

    Returns
    -------
    float
    """
    what = f"({unit}, > 0)" if unit else "> 0"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DoseResponseError(f"{name} must be a number {what}; got {value!r}.")
    number = float(value)
    if not (math.isfinite(number) and number > 0.0):
        where = f" ({unit})" if unit else ""
        raise DoseResponseError(f"{name} must be finite and > 0{where}; got {value!r}.")
    return number


def count(value: Any, name: str) -> int:
    """``value`` as an int >= 1, else a :class:`DoseResponseError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DoseResponseError(f"{name} must be an integer >= 1; got {value!r}.")
    return int(value)
