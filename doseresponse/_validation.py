"""Input validation shared by every module.

Each helper raises :class:`~doseresponse.exceptions.DoseResponseError` with a message that names
the argument and says what a valid value looks like. None of them uses ``assert``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse.exceptions import DoseResponseError, UnknownNameError

__all__ = [
    "as_float_array",
    "check_increasing_times",
    "check_probability",
    "check_scalar",
    "known_covariates",
    "lookup_name",
]


def as_float_array(
    value: ArrayLike,
    name: str,
    *,
    nonnegative: bool = False,
    positive: bool = False,
    allow_nan: bool = False,
    unit: str | None = None,
    ndim: int | None = None,
) -> NDArray[np.float64]:
    """Convert ``value`` to a float array and validate it.

    Parameters
    ----------
    value : array_like
        The user's input.
    name : str
        Argument name used in error messages.
    nonnegative, positive : bool
        Require every element to be >= 0 (or > 0).
    allow_nan : bool
        Accept NaN elements (infinities are always rejected).
    unit : str, optional
        Unit shown in error messages, e.g. ``"Gy"``.
    ndim : int, optional
        Required number of dimensions.

    Returns
    -------
    numpy.ndarray
        A float64 array (a view when ``value`` already is one).
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DoseResponseError(
            f"{name} must be numeric{_unit(unit)}; got {_short(value)} ({exc})."
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise DoseResponseError(
            f"{name} must be {ndim}-dimensional; got an array of shape {arr.shape}."
        )
    nan = np.isnan(arr)
    if not allow_nan and nan.any():
        raise DoseResponseError(
            f"{name} contains NaN at index {_first(nan)}; remove or impute missing values first."
        )
    if np.isinf(arr).any():
        raise DoseResponseError(
            f"{name} contains an infinite value at index {_first(np.isinf(arr))}; "
            "pass finite numbers."
        )
    if positive:
        bad = arr <= 0
        if bad.any():
            raise DoseResponseError(
                f"{name} must be > 0{_unit(unit)}; got {arr[bad].flat[0]:g} at index "
                f"{_first(bad)}."
            )
    elif nonnegative:
        bad = arr < 0
        if bad.any():
            raise DoseResponseError(
                f"{name} must be >= 0{_unit(unit)}; got {arr[bad].flat[0]:g} at index "
                f"{_first(bad)}."
            )
    return arr


def check_scalar(
    value: Any,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    unit: str | None = None,
) -> float:
    """Validate a real scalar and return it as ``float``."""
    arr = as_float_array(value, name, positive=positive, nonnegative=nonnegative, unit=unit)
    if arr.ndim != 0:
        raise DoseResponseError(f"{name} must be a single number; got shape {arr.shape}.")
    return float(arr)


def check_probability(value: ArrayLike, name: str, *, open_interval: bool = True) -> np.ndarray:
    """Validate probabilities, by default strictly inside (0, 1)."""
    arr = as_float_array(value, name)
    bad = (arr <= 0) | (arr >= 1) if open_interval else (arr < 0) | (arr > 1)
    if bad.any():
        interval = "(0, 1) exclusive" if open_interval else "[0, 1]"
        raise DoseResponseError(
            f"{name} must lie in {interval}; got {arr[bad].flat[0]:g}."
        )
    return arr


def lookup_name(
    name: str, table: dict[str, Any], what: str, *, aliases: dict[str, str] | None = None
) -> Any:
    """Return ``table[key]`` for a case-insensitive ``name``, or raise listing valid names."""
    key = _normalise(name)
    normalised = {_normalise(k): k for k in table}
    if aliases:
        normalised.update({_normalise(a): k for a, k in aliases.items()})
    if key not in normalised:
        valid = ", ".join(sorted(table))
        raise UnknownNameError(f"unknown {what} {name!r}; valid names are: {valid}.")
    return table[normalised[key]]


def check_increasing_times(times: np.ndarray, name: str) -> None:
    """Raise unless the 1-D sample times (h) ``times`` are strictly increasing."""
    steps = np.diff(times)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        kind = "duplicated" if steps[i] == 0 else "unsorted"
        raise DoseResponseError(
            f"{name} must be strictly increasing; {name}[{i}]={times[i]:g} h and "
            f"{name}[{i + 1}]={times[i + 1]:g} h are {kind}. Sort the samples and merge repeated "
            "time points."
        )


def known_covariates(
    covariates: Mapping[str, float] | None, names: Sequence[str]
) -> dict[str, float]:
    """Return ``covariates`` as a dict, or raise if it names a covariate not in ``names``."""
    given = dict(covariates or {})
    unknown = [k for k in given if k not in names]
    if unknown:
        raise UnknownNameError(
            f"unknown covariates {unknown}; the model's covariates are: "
            f"{', '.join(names) if names else '(none)'}."
        )
    return given


def _normalise(name: str) -> str:
    return str(name).lower().replace("_", "-").replace(" ", "-")


def _unit(unit: str | None) -> str:
    return f" ({unit})" if unit else ""


def _first(mask: np.ndarray) -> Any:
    idx = np.argwhere(mask)[0]
    return int(idx[0]) if idx.size == 1 else tuple(int(i) for i in idx)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


