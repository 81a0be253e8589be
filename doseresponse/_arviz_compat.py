"""One place that knows which ArviZ is installed: ArviZ 0.x (``InferenceData``) or 1.x (DataTree).

Python 3.11 resolves PyMC 5 with ArviZ 0.x, whose container is :class:`arviz.InferenceData`;
Python 3.12+ resolves PyMC 6 with ArviZ 1.x, whose container is :class:`xarray.DataTree`
(``groups`` is a property there, ``.posterior`` a DataTree node, not a Dataset). The package
holds posteriors as plain :class:`xarray.Dataset` groups in a ``dict`` — the same on both stacks
— and converts only at the border: :func:`as_groups` reads whatever a sampler or a file gave,
:func:`to_native` builds the installed ArviZ's container for users and ArviZ functions.

Only public, documented interfaces are used: :class:`arviz.InferenceData` (0.x),
:class:`xarray.DataTree` (xarray ≥ 2024.10, ArviZ 1.x), :func:`importlib.metadata.version`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

import xarray as xr

__all__ = ["ARVIZ_MAJOR", "Groups", "as_groups", "to_native"]

Groups = dict[str, xr.Dataset]
"""Posterior groups by name (``posterior``, ``sample_stats``, ``log_likelihood``, ...)."""


def _major(dist: str) -> int:
    return int(version(dist).split(".")[0])


ARVIZ_MAJOR: int = _major("arviz")
"""Major version of the installed ArviZ (0: ``InferenceData``; 1: ``xarray.DataTree``)."""


def as_groups(obj: Any) -> Groups:
    """The groups of an ArviZ container (either stack) or a mapping, as plain Datasets.

    Parameters
    ----------
    obj : arviz.InferenceData, xarray.DataTree or mapping of str to xarray.Dataset
        What a sampler returned, what a file held, or groups already split out.

    Returns
    -------
    dict of str to xarray.Dataset
        One entry per non-empty group; attributes of each group are kept.

    Raises
    ------
    TypeError
        ``obj`` is none of these.
    """
    if isinstance(obj, Mapping):
        return {str(k): _dataset(v) for k, v in obj.items()}
    if isinstance(obj, xr.DataTree):
        return {
            name: child.to_dataset(inherit=False)
            for name, child in obj.children.items()
            if child.has_data or child.attrs
        }
    if callable(getattr(obj, "groups", None)):  # arviz 0.x InferenceData.groups() method
        return {name: obj[name] for name in obj.groups()}
    raise TypeError(
        f"expected an arviz InferenceData, an xarray DataTree or a mapping of groups; got "
        f"{type(obj).__name__}."
    )


def to_native(groups: Mapping[str, xr.Dataset], attrs: Mapping[str, Any] | None = None):
    """The installed ArviZ's container holding ``groups``.

    Parameters
    ----------
    groups : mapping of str to xarray.Dataset
        Group name → Dataset (``posterior``, ``sample_stats``, ``log_likelihood``, ...).
    attrs : mapping, optional
        Root attributes.

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        ``InferenceData`` with ArviZ 0.x, ``DataTree`` with ArviZ 1.x.
    """
    if ARVIZ_MAJOR >= 1:
        tree = xr.DataTree.from_dict({f"/{k}": v for k, v in groups.items()})
        if attrs:
            tree.attrs.update(dict(attrs))
        return tree
    import arviz as az

    idata = az.InferenceData(**dict(groups))
    if attrs:
        idata.attrs.update(dict(attrs))
    return idata


def _dataset(value: Any) -> xr.Dataset:
    if isinstance(value, xr.Dataset):
        return value
    if isinstance(value, xr.DataTree):
        return value.to_dataset(inherit=False)
    raise TypeError(f"a group must be an xarray Dataset; got {type(value).__name__}.")
