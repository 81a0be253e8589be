"""Input validation shared by every module.

Each helper raises :class:`~doseresponse.exceptions.DoseResponseError` with a message that names
the argument and says what a valid value looks like. None of them uses ``assert``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from doseresponse.exceptions import DoseResponseError, UnknownNameError

__all__ = [
    "as_float_array",
    "check_finite_result",
    "check_increasing_times",
    "check_probability",
    "check_scalar",
    "finite_or_error",
    "known_covariates",
    "lookup_name",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_FINITE_FIX = (
    "the numbers overflow double precision (magnitudes beyond about 1.8e308) or vanish where "
    "they divide; check the inputs for unit errors (MBq vs GBq, h vs d, Gy vs cGy) and rescale"
)


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


def check_finite_result(value: Any, what: str, inputs: str = "") -> None:
    """Raise unless every number in ``value`` is finite (the answer to finite, valid input).

    Parameters
    ----------
    value : float, numpy.ndarray, tuple or dataclass
        A result; tuples, lists and dataclass fields are checked element by element.
    what : str
        What the result is, for the message (e.g. ``"absorbed_dose()"``).
    inputs : str
        Short description of the inputs' magnitudes, appended to the message.

    Raises
    ------
    DoseResponseError
        ``value`` holds an infinite or NaN number; the message names ``what``, the cause and
        the fix.
    """
    bad = _first_non_finite(value)
    if bad is not None:
        raise DoseResponseError(
            f"{what} is {bad} for finite input: {_FINITE_FIX}"
            + (f" ({inputs})." if inputs else ".")
        )


def finite_or_error(func: _F) -> _F:
    """Decorate a public numeric function: finite valid input gives a finite answer or an error.

    The one rule of the radiobiology functions, kept in one place: a result that is not
    finite, an ``OverflowError``/``ZeroDivisionError``/``FloatingPointError`` from scalar
    arithmetic, and numpy's "could not be broadcast" ``ValueError`` all become a
    :class:`~doseresponse.exceptions.DoseResponseError` naming the function, the arguments
    and their magnitudes or shapes, and the fix. Input that already holds NaN or infinity is
    left to the function's own checks.

    Parameters
    ----------
    func : callable
        The function to wrap (its signature and docstring are kept).

    Returns
    -------
    callable
        The checked function.
    """
    signature = inspect.signature(func)

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                result = func(*args, **kwargs)  # a non-finite result is refused below
        except DoseResponseError:
            raise
        except (OverflowError, ZeroDivisionError, FloatingPointError):
            raise DoseResponseError(
                f"{func.__name__}() cannot be evaluated for these inputs: {_FINITE_FIX} "
                f"({_magnitudes(signature, args, kwargs)})."
            ) from None
        except ValueError as exc:
            if "broadcast" not in str(exc):
                raise
            raise DoseResponseError(
                f"{func.__name__}(): the array arguments do not broadcast together "
                f"({_shapes(signature, args, kwargs)}); pass arrays of one shape, or scalars."
            ) from None
        if not _holds_non_finite(signature, args, kwargs):
            check_finite_result(result, f"the result of {func.__name__}()",
                                _magnitudes(signature, args, kwargs))
        return result

    return checked  # type: ignore[return-value]


def _numeric_arguments(signature, args, kwargs) -> dict[str, np.ndarray]:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}
    out = {}
    for name, value in bound.arguments.items():
        if isinstance(value, (bool, str)) or value is None:
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        out[name] = arr
    return out


def _holds_non_finite(signature, args, kwargs) -> bool:
    arrays = _numeric_arguments(signature, args, kwargs).values()
    return any(not np.isfinite(a).all() for a in arrays)


def _magnitudes(signature, args, kwargs) -> str:
    parts = []
    for name, arr in _numeric_arguments(signature, args, kwargs).items():
        finite = np.abs(arr[np.isfinite(arr)])
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            parts.append(f"{name} {low:.3g}" if low == high else f"{name} {low:.3g}..{high:.3g}")
    return "magnitudes: " + ", ".join(parts) if parts else "no numeric arguments"


def _shapes(signature, args, kwargs) -> str:
    parts = [f"{name} {arr.shape}"
             for name, arr in _numeric_arguments(signature, args, kwargs).items() if arr.ndim]
    return "shapes: " + ", ".join(parts)


def _first_non_finite(value: Any) -> str | None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_non_finite(item)
            if found is not None:
                return found
        return None
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if np.isnan(arr).any():
        return "NaN"
    if np.isinf(arr).any():
        return "infinite"
    return None


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


