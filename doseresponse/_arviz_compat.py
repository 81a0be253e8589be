"""One place that knows which ArviZ is installed: ArviZ 0.x (``InferenceData``) or 1.x (DataTree).

Python 3.11 resolves PyMC 5 with ArviZ 0.x, whose container is :class:`arviz.InferenceData`;
Python 3.12+ resolves PyMC 6 with ArviZ 1.x, whose container is :class:`xarray.DataTree`
(``groups`` is a property there, ``.posterior`` a DataTree node, not a Dataset). The package
holds posteriors as plain :class:`xarray.Dataset` groups in a ``dict`` — the same on both stacks
— and converts only at the border: :func:`as_groups` reads whatever a sampler or a file gave,
:func:`to_native` builds the installed ArviZ's container for users and ArviZ functions.

The statistics the package takes from ArviZ go through thin wrappers here (:func:`ess`,
:func:`rhat`, :func:`psis_loo`) that accept Datasets and return plain numbers or Datasets with the
same meaning on both stacks; everything built on top of them (ELPD sums, standard errors, model
comparison) is computed by the package itself, so the results have one definition.

Only public, documented interfaces are used: :class:`arviz.InferenceData` (0.x),
:class:`xarray.DataTree` (xarray ≥ 2024.10, ArviZ 1.x), :func:`arviz.ess`, :func:`arviz.rhat`,
:func:`arviz.loo` (both stacks), :func:`importlib.metadata.version`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "ARVIZ_MAJOR",
    "Groups",
    "PsisLoo",
    "as_groups",
    "ess",
    "groups_from_arrays",
    "psis_loo",
    "rhat",
    "to_native",
]

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


def groups_from_arrays(
    posterior: Mapping[str, Any],
    sample_stats: Mapping[str, Any] | None = None,
    *,
    coords: Mapping[str, Any] | None = None,
    dims: Mapping[str, Sequence[str]] | None = None,
) -> Groups:
    """Groups from arrays of draws, the same on both stacks (what ``arviz.from_dict`` did in 0.x).

    Parameters
    ----------
    posterior : mapping of str to array_like
        Variable name → draws of shape ``(chain, draw, *extra)``.
    sample_stats : mapping of str to array_like, optional
        Sampler statistics of shape ``(chain, draw)`` (e.g. ``diverging``).
    coords : mapping, optional
        Coordinate values of the extra dims (e.g. ``{"study": ["A", "B"]}``).
    dims : mapping of str to sequence of str, optional
        Extra dim names per variable; a variable not listed gets ``<name>_dim_0``, ...

    Returns
    -------
    dict of str to xarray.Dataset
        ``posterior`` (and ``sample_stats``), with integer ``chain`` and ``draw`` coordinates.

    Raises
    ------
    ValueError
        A variable has fewer than two dimensions, or chain/draw sizes disagree.
    """
    coords = dict(coords or {})
    dims = dict(dims or {})
    out: Groups = {}
    for group, arrays in (("posterior", posterior), ("sample_stats", sample_stats)):
        if arrays is None:
            continue
        variables, shape = {}, None
        for name, values in arrays.items():
            arr = np.asarray(values)
            if arr.ndim < 2:
                raise ValueError(f"{group}[{name!r}] must have shape (chain, draw, ...).")
            if shape is not None and arr.shape[:2] != shape:
                raise ValueError(
                    f"{group}[{name!r}] has (chain, draw) = {arr.shape[:2]}; expected {shape}."
                )
            shape = arr.shape[:2]
            extra = list(dims.get(name, [f"{name}_dim_{i}" for i in range(arr.ndim - 2)]))
            variables[name] = (("chain", "draw", *extra), arr)
        used = {d for var_dims, _ in variables.values() for d in var_dims}
        chain_draw = {} if shape is None else {
            "chain": np.arange(shape[0]), "draw": np.arange(shape[1])
        }
        out[group] = xr.Dataset(
            variables, coords={**chain_draw, **{k: v for k, v in coords.items() if k in used}}
        )
    return out


def ess(posterior: xr.Dataset, method: str = "bulk") -> xr.Dataset:
    """Effective sample size of every variable (:func:`arviz.ess`, either stack).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``chain``, ``draw`` (plus any others).
    method : {"bulk", "tail"}
        Rank-normalised bulk ESS or tail ESS (Vehtari et al. 2021 Bayesian Anal 16:667).

    Returns
    -------
    xarray.Dataset
        Same variables without ``chain``/``draw``; values in draws (dimensionless).

    Notes
    -----
    ArviZ 0.x and 1.x implement the same estimators but not bit-identically (their tail ESS
    differs by up to ~20 % on short chains), so diagnostics thresholds, not exact values, are
    what the package compares.
    """
    import arviz as az

    return az.ess(posterior, method=method)


def rhat(posterior: xr.Dataset) -> xr.Dataset:
    """Rank-normalised split R-hat of every variable (:func:`arviz.rhat`, either stack).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``chain``, ``draw`` (plus any others).

    Returns
    -------
    xarray.Dataset
        Same variables without ``chain``/``draw`` (dimensionless, 1 at convergence).
    """
    import arviz as az

    return az.rhat(posterior)


@dataclass(frozen=True)
class PsisLoo:
    """Pareto-smoothed importance-sampling LOO terms per observation, the same on both stacks.

    Attributes
    ----------
    elpd_i : numpy.ndarray
        LOO log predictive density of each observation, in nats.
    pareto_k : numpy.ndarray
        Estimated Pareto shape of each observation's importance ratios.
    good_k : float
        ArviZ's sample-size dependent threshold, ``min(1 - 1/log10(S), 0.7)``.
    arviz : object
        The ArviZ result (``ELPDData`` on 0.x, ``ELPDDataLOO`` on 1.x) for power users.
    """

    elpd_i: np.ndarray
    pareto_k: np.ndarray
    good_k: float
    arviz: Any


def psis_loo(posterior: xr.Dataset, log_lik: xr.DataArray) -> PsisLoo:
    """PSIS-LOO of one pointwise log-likelihood variable (:func:`arviz.loo`, either stack).

    Parameters
    ----------
    posterior : xarray.Dataset
        The posterior draws (ArviZ estimates the relative efficiency from them).
    log_lik : xarray.DataArray
        Log-likelihood, dims ``(chain, draw, observation)``, in nats.

    Returns
    -------
    PsisLoo
        Per-observation LOO densities and Pareto k in the order of ``observation``.
    """
    import arviz as az

    name = log_lik.name if log_lik.name is not None else "obs"
    native = to_native(
        {"posterior": posterior, "log_likelihood": log_lik.to_dataset(name=name)}
    )
    with warnings.catch_warnings():
        # ArviZ 1.x warns when the pointwise values sum to the total, which is always true for
        # one observation; the package passes element-wise log-likelihoods by construction
        warnings.filterwarnings("ignore", message="The point-wise LOO is the same")
        result = az.loo(native, pointwise=True, var_name=name)
    if ARVIZ_MAJOR >= 1:
        elpd_i, pareto_k = result.elpd_i, result.pareto_k
    else:
        elpd_i, pareto_k = result["loo_i"], result["pareto_k"]
    return PsisLoo(
        elpd_i=np.asarray(elpd_i, dtype=np.float64).ravel(),
        pareto_k=np.asarray(pareto_k, dtype=np.float64).ravel(),
        good_k=float(result.good_k),
        arviz=result,
    )


def _dataset(value: Any) -> xr.Dataset:
    if isinstance(value, xr.Dataset):
        return value
    if isinstance(value, xr.DataTree):
        return value.to_dataset(inherit=False)
    raise TypeError(f"a group must be an xarray Dataset; got {type(value).__name__}.")
