"""Disk-cached numba C callbacks of a PyMC model's log density, for nutpie (private, EXPERIMENTAL).

Not used by :func:`doseresponse.models.sampling.sample_model` yet. On the 500-patient benchmark
model it gives a warm first fit of ~8 s and ~4x the ESS/s of ``pymc.sample``, but two problems
block making it the default: (1) the cold compile of the cfunc is slow (~80 s for the benchmark
model, 7–10 min for models with aggregate rows, apparently numba's untyped liveness pass over
PyTensor's large generated function); (2) for the aggregate-row recovery models the cache key
was not stable between two pytest runs, so they recompiled (PyTensor's graph keys agreed between
two plain scripts; cause not yet found).

nutpie's own :func:`nutpie.compile_pymc_model` (numba backend) wraps the PyTensor-generated
log density in a ``numba.cfunc`` that cannot be cached, so every new process recompiles it
(10–30 s). Here the same two callbacks (log density + gradient, and the expansion to named
draws) are generated as source text, registered with PyTensor's numba cache locator under a key
derived from PyTensor's own graph keys, and compiled with ``numba.cfunc(..., cache=True)``: the
first process compiles them once, later processes load the machine code from PyTensor's
compile directory (``pytensor.config.base_compiledir / "numba"``).

The key covers the PyTensor graph keys of both functions (which hash every op, constant and the
graph structure, so priors and model structure), the number of unconstrained parameters, the
dtype and rank of each shared (``pm.Data``) input, the generated source and numba's version.
Data values and lengths are not part of it: they are passed at run time through a pointer table
(``user_data``), so one compilation serves every cohort of the same model structure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from typing import Any

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["UnsupportedNutpieError", "compile_cached_pymc_model", "rebind"]

_SOURCE_VERSION = "1"


class UnsupportedNutpieError(RuntimeError):
    """The installed nutpie lacks the internals these callbacks are built on."""


@intrinsic
def _address_as_void_pointer(typingctx, src):
    """Integer address -> ``void*`` (for ``numba.carray``)."""
    sig = types.voidptr(src)

    def codegen(cgctx, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


@intrinsic
def _as_uint64_pointer(typingctx, src):
    """``void*`` -> ``uint64*``."""
    sig = types.CPointer(types.uint64)(src)

    def codegen(cgctx, builder, sig, args):
        return builder.bitcast(args[0], cgctx.get_value_type(types.CPointer(types.uint64)))

    return sig, codegen


_LOGP_SIG = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
_EXPAND_SIG = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _table_layout(shared: list[np.ndarray]) -> tuple[list[int], int]:
    """Offset of each array's entry (address, size, shape...) in the pointer table; length."""
    offsets, pos = [], 0
    for value in shared:
        offsets.append(pos)
        pos += 2 + value.ndim
    return offsets, max(pos, 1)


def _unpack_lines(shared: list[np.ndarray], which: list[int]) -> tuple[list[str], str]:
    """Source lines reading the arrays ``which`` from the table, and the argument list."""
    offsets, _ = _table_layout(shared)
    lines = []
    for i in which:
        pos, ndim = offsets[i], shared[i].ndim
        shape = "(" + "".join(f"int(table[{pos + 2 + k}]), " for k in range(ndim)) + ")"
        lines.append(
            f"        s{i} = carray(addr(table[{pos}]), (int(table[{pos + 1}]),), DT{i})"
            f".reshape({shape})"
        )
    return lines, "".join(f", s{i}" for i in which)


def _logp_source(n_dim: int, shared: list[np.ndarray], which: list[int]) -> str:
    lines, args = _unpack_lines(shared, which)
    return "\n".join(
        [
            "def dr_logp_cfunc(dim, x_, out_, logp_, user_data_):",
            f"    if dim != {n_dim}:",
            "        return -1",
            "    try:",
            f"        table = carray(as_u64(user_data_), ({_table_layout(shared)[1]},))",
            *lines,
            f"        x = carray(x_, ({n_dim},))",
            f"        out = carray(out_, ({n_dim},))",
            "        logp = carray(logp_, ())",
            f"        value, grad = inner(x{args})",
            "        logp[()] = value",
            "        out[...] = grad",
            "        if not np.all(np.isfinite(out)):",
            "            return 3",
            "        if not np.isfinite(value):",
            "            return 4",
            "    except Exception:",
            "        return 1",
            "    return 0",
        ]
    )


def _expand_source(n_dim: int, n_expanded: int, shared: list[np.ndarray], which: list[int]) -> str:
    lines, args = _unpack_lines(shared, which)
    return "\n".join(
        [
            "def dr_expand_cfunc(dim, expanded, x_, out_, user_data_):",
            f"    if dim != {n_dim} or expanded != {n_expanded}:",
            "        return -1",
            "    try:",
            f"        table = carray(as_u64(user_data_), ({_table_layout(shared)[1]},))",
            *lines,
            f"        x = carray(x_, ({n_dim},))",
            f"        out = carray(out_, ({n_expanded},))",
            f"        (values,) = inner(x{args})",
            "        out[...] = values",
            "    except Exception:",
            "        return -2",
            "    return 0",
        ]
    )


def _pointer_table(shared: list[np.ndarray]) -> np.ndarray:
    offsets, n_table = _table_layout(shared)
    table = np.zeros(n_table, dtype=np.uint64)
    for pos, value in zip(offsets, shared, strict=True):
        table[pos] = value.ctypes.data
        table[pos + 1] = value.size
        table[pos + 2 : pos + 2 + value.ndim] = value.shape
    return table


def _graph_key(fn) -> str | None:
    """PyTensor's numba cache key of a compiled ``Function`` (None when uncacheable)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    jit_fn = getattr(fn.vm, "jit_fn", None)
    py_func = getattr(jit_fn, "py_func", None)
    if py_func is None:
        return None
    return CACHED_SRC_FUNCTIONS.get(py_func)


def _cfunc(src: str, name: str, sig, inner, shared: list[np.ndarray], key: str | None):
    from pytensor.link.numba.cache import compile_numba_function_src

    env: dict[str, Any] = {
        "__name__": __name__,  # importable: numba rebuilds the environment from it
        "np": np,
        "carray": numba.carray,
        "addr": _address_as_void_pointer,
        "as_u64": _as_uint64_pointer,
        "inner": inner,
    }
    env.update({f"DT{i}": np.dtype(v.dtype) for i, v in enumerate(shared)})
    cache_key = None
    if key is not None:
        cache_key = hashlib.sha256(
            f"{_SOURCE_VERSION}|{numba.__version__}|{key}|{src}".encode()
        ).hexdigest()
    func = compile_numba_function_src(src, name, global_env=env, cache_key=cache_key)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=numba.NumbaWarning)
        return numba.cfunc(sig, cache=cache_key is not None)(func)


def compile_cached_pymc_model(model):
    """A :class:`nutpie.compile_pymc.CompiledPyMCModel` whose C callbacks are disk-cached.

    Parameters
    ----------
    model : pymc.Model
        The model (shared ``pm.Data`` inputs are read at call time through a pointer table).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for :func:`nutpie.sample`.
    """
    try:
        from nutpie.compile_pymc import (
            CompiledPyMCModel,
            _make_functions,
            _prepare_dims_and_coords,
            _wrap_with_lock,
        )
    except ImportError as err:
        raise UnsupportedNutpieError(str(err)) from err
    from pymc.initial_point import make_initial_point_fn

    initial_point_fn = _wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, flat_initial_point, shape_info = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point_fn,
    )
    logp_vars = list(logp_pt.get_shared())
    expand_vars = list(expand_pt.get_shared())
    for fn, variables in ((logp_pt, logp_vars), (expand_pt, expand_vars)):
        # the jitted functions take (x, *shared) in the order of get_shared()
        if len(fn.maker.fgraph.inputs) != 1 + len(variables) or not hasattr(fn.vm, "jit_fn"):
            raise UnsupportedNutpieError("unexpected PyTensor function; cannot build callbacks")
    union = list(dict.fromkeys([*logp_vars, *expand_vars]))
    shared = []
    for var in union:
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared.append(value)
    logp_which = [union.index(v) for v in logp_vars]
    expand_which = [union.index(v) for v in expand_vars]
    layout = ";".join(f"{v.dtype.str}/{v.ndim}" for v in shared)
    logp_key, expand_key = _graph_key(logp_pt), _graph_key(expand_pt)
    cacheable = logp_key is not None and expand_key is not None
    key = f"{logp_key}|{expand_key}|{layout}|{logp_which}|{expand_which}" if cacheable else None
    logp_cfunc = _cfunc(
        _logp_source(n_dim, shared, logp_which), "dr_logp_cfunc", _LOGP_SIG,
        logp_pt.vm.jit_fn, shared, key,
    )
    expand_cfunc = _cfunc(
        _expand_source(n_dim, n_expanded, shared, expand_which), "dr_expand_cfunc",
        _EXPAND_SIG, expand_pt.vm.jit_fn, shared, key,
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info)
    fields = {f.name for f in dataclasses.fields(CompiledPyMCModel)}
    if not {"compiled_logp_func", "compiled_expand_func", "user_data", "_n_dim"} <= fields:
        raise UnsupportedNutpieError("nutpie.compile_pymc.CompiledPyMCModel has changed")
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_cfunc,
        compiled_expand_func=expand_cfunc,
        initial_point_func=flat_initial_point,
        # keeps the arrays the pointer table points into alive
        shared_data={f"{i}:{v.name}": shared[i] for i, v in enumerate(union)},
        user_data=_pointer_table(shared),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )


def _shared_by_name(model) -> dict[str, Any]:
    from pytensor.compile.sharedvalue import SharedVariable

    found = {v.name: v for v in model.data_vars if isinstance(v, SharedVariable)}
    for length in model.dim_lengths.values():
        if isinstance(length, SharedVariable) and length.name:
            found.setdefault(length.name, length)
    return found


def rebind(compiled, model):
    """``compiled`` (from :func:`compile_cached_pymc_model`) pointed at ``model``'s data.

    ``model`` must have the structure ``compiled`` was built for (same spec and parameter
    shapes); its data may differ in values and row count. Returns None when the shared inputs
    or the parameter shapes do not match (the caller then compiles afresh).
    """
    from nutpie.compile_pymc import _prepare_dims_and_coords

    available = _shared_by_name(model)
    shared, data = [], {}
    for label, old in compiled.shared_data.items():
        name = label.split(":", 1)[1]
        var = available.get(name)
        if var is None:
            return None
        value = np.array(var.get_value(), order="C", copy=True)
        if value.dtype != old.dtype or value.ndim != old.ndim:
            return None
        value.flags.writeable = False
        shared.append(value)
        data[label] = value
    try:
        dims, coords = _prepare_dims_and_coords(model, compiled.shape_info)
    except (KeyError, ValueError):
        return None
    for name, shape in zip(compiled.shape_info[0], compiled.shape_info[2], strict=True):
        if name in dims and tuple(len(coords[d]) for d in dims[name]) != tuple(shape):
            return None
    return dataclasses.replace(
        compiled, shared_data=data, user_data=_pointer_table(shared), dims=dims, _coords=coords
    )
