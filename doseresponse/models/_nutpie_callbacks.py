"""C callbacks of :class:`~doseresponse.models.density.LogDensity` for nutpie (no Python per step).

nutpie's Rust NUTS can call a log density through a C function pointer (that is how it runs
PyMC models compiled with numba). The fixed ``numba.cfunc`` callbacks defined here — the log
density with its gradient, and a copy of each draw — read the model's data through a table of
pointers (``user_data``) and run the compiled kernel
:func:`doseresponse.models._row_kernels.log_posterior`. Because their source is fixed (the
model's structure and data travel in the table, not in generated code), numba caches their
machine code on disk: they are compiled once per machine (a few seconds), and every later fit,
in any process and for any model or cohort, starts sampling at once. Chains then run in
parallel threads without the Python interpreter lock.

Numba invalidates a cached callback only when *this* file changes, not when the kernel it
inlines (``_row_kernels.py``) does: a change of the kernel must come with a change here (the
revision below), or a machine with a warm cache keeps running the old kernel. Kernel revision:
3 (the sampler's mean-and-contrast coordinates of study effects, ``sampler_coordinates``).

Draws are stored unconstrained and named afterwards in one vectorised numpy pass
(:meth:`~doseresponse.models.density.LogDensity.expand_draws`), which keeps the compiled code —
and the one-off compile time — to the log density alone.

This relies on nutpie's numba-model interface (``nutpie.compile_pymc.CompiledPyMCModel``,
which :func:`nutpie.compile_pymc_model` returns), an interface nutpie does not document.
:func:`interface_problem` feature-detects it (its fields changed between nutpie 0.16.8 and
0.16.11: ``shared_var_keys`` and ``reparameterized_names`` were added), :func:`compiled_model`
raises :class:`UnsupportedNutpieError` when it is missing, and the sampler falls back to
nutpie's public Python-callback route on any failure
(:func:`doseresponse.models.sampling.sample_density`).
"""

from __future__ import annotations

import ctypes
import dataclasses
import math

import numba
import numpy as np
import pandas as pd
from numba.core import cgutils, types
from numba.extending import intrinsic

from doseresponse.models._row_kernels import KERNEL_ARRAYS, log_posterior

__all__ = [
    "UNCONSTRAINED",
    "CompiledDensity",
    "UnsupportedNutpieError",
    "compiled_model",
    "interface_problem",
]

_TABLE_WIDTH = 4  # address, size, shape[0], shape[1] (1 for 1-D arrays)
_N_ARRAYS = len(KERNEL_ARRAYS)
UNCONSTRAINED = "unconstrained_draw"
"""Name of the single variable the callbacks store: the draw's unconstrained vector."""


class UnsupportedNutpieError(RuntimeError):
    """The installed nutpie lacks the interface these callbacks are built on."""


@intrinsic
def _pointer(typingctx, src):
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
    types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
    types.voidptr,
)


@numba.cfunc(_LOGP_SIG, cache=True, nogil=True, error_model="numpy")
def _logp_callback(dim, x_ptr, grad_ptr, logp_ptr, user_data):
    table = numba.carray(_as_uint64_pointer(user_data), (_TABLE_WIDTH * _N_ARRAYS,))
    x = numba.carray(x_ptr, (dim,))
    # one explicit line per array: helper functions called with constant indices would be
    # compiled once per index (numba specialises on literal integers)
    layout = numba.carray(_pointer(table[0]), (int(table[1]),), np.int64)
    normal_index = numba.carray(_pointer(table[4]), (int(table[5]),), np.int64)
    normal_mu = numba.carray(_pointer(table[8]), (int(table[9]),), np.float64)
    normal_inv_sd = numba.carray(_pointer(table[12]), (int(table[13]),), np.float64)
    half_index = numba.carray(_pointer(table[16]), (int(table[17]),), np.int64)
    half_sigma = numba.carray(_pointer(table[20]), (int(table[21]),), np.float64)
    constants = numba.carray(_pointer(table[24]), (int(table[25]),), np.float64)
    ipd_dose = numba.carray(_pointer(table[28]), (int(table[30]), int(table[31])), np.float64)
    ipd_log_dose = numba.carray(_pointer(table[32]), (int(table[34]), int(table[35])), np.float64)
    ipd_event = numba.carray(_pointer(table[36]), (int(table[37]),), np.float64)
    ipd_rest = numba.carray(_pointer(table[40]), (int(table[41]),), np.float64)
    ipd_group = numba.carray(_pointer(table[44]), (int(table[45]),), np.int64)
    ipd_group_study = numba.carray(_pointer(table[48]), (int(table[49]),), np.int64)
    ipd_group_x = numba.carray(_pointer(table[52]), (int(table[54]), int(table[55])), np.float64)
    agg_nodes = numba.carray(_pointer(table[56]), (int(table[58]), int(table[59])), np.float64)
    agg_log_nodes = numba.carray(_pointer(table[60]), (int(table[62]), int(table[63])), np.float64)
    agg_log_w = numba.carray(_pointer(table[64]), (int(table[65]),), np.float64)
    agg_events = numba.carray(_pointer(table[68]), (int(table[69]),), np.float64)
    agg_rest = numba.carray(_pointer(table[72]), (int(table[73]),), np.float64)
    agg_group = numba.carray(_pointer(table[76]), (int(table[77]),), np.int64)
    agg_study = numba.carray(_pointer(table[80]), (int(table[81]),), np.int64)
    agg_x = numba.carray(_pointer(table[84]), (int(table[86]), int(table[87])), np.float64)
    me_index = numba.carray(_pointer(table[88]), (int(table[89]),), np.int64)
    me_sigma = numba.carray(_pointer(table[92]), (int(table[93]),), np.float64)
    me_study = numba.carray(_pointer(table[96]), (int(table[97]),), np.int64)
    me_log_obs = numba.carray(_pointer(table[100]), (int(table[101]),), np.float64)
    value, grad = log_posterior(
        x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
        ipd_dose, ipd_log_dose, ipd_event, ipd_rest, ipd_group, ipd_group_study, ipd_group_x,
        agg_nodes, agg_log_nodes, agg_log_w, agg_events, agg_rest, agg_group, agg_study, agg_x,
        me_index, me_sigma, me_study, me_log_obs,
    )
    out = numba.carray(grad_ptr, (dim,))
    logp = numba.carray(logp_ptr, (1,))
    logp[0] = value
    for i in range(dim):
        out[i] = grad[i]
    if not math.isfinite(value):
        return 4  # nutpie: the point is rejected (treated like a divergence)
    for i in range(dim):
        if not math.isfinite(grad[i]):
            return 3
    return 0


@numba.cfunc(_EXPAND_SIG, cache=True, nogil=True, error_model="numpy")
def _expand_callback(dim, n_expanded, x_ptr, out_ptr, user_data):
    # draws are stored unconstrained; LogDensity.expand_draws names them after sampling
    if n_expanded != dim:
        return -1
    x = numba.carray(x_ptr, (dim,))
    out = numba.carray(out_ptr, (dim,))
    for i in range(dim):
        out[i] = x[i]
    return 0


class CompiledDensity:
    """``x -> (log density, gradient)`` through the compiled C callback (for Python callers).

    Parameters
    ----------
    arrays : sequence of numpy.ndarray
        The kernel's data arrays (:data:`~doseresponse.models._row_kernels.KERNEL_ARRAYS`
        order); kept alive by this object.
    ndim : int
        Length of the unconstrained vector.
    callback : numba.core.ccallback.CFunc, optional
        A log-density ``numba.cfunc`` with this module's signature reading ``arrays`` through
        the pointer table (default: the hierarchical model's; the late-toxicity model passes
        :func:`doseresponse.models._late_callbacks.late_logp_callback`).
    """

    def __init__(self, arrays, ndim: int, callback=None) -> None:
        callback = _logp_callback if callback is None else callback
        self._arrays = list(arrays)
        self._table = _pointer_table(self._arrays)
        self._ndim = int(ndim)
        self._call = callback.ctypes
        self._address = callback.address
        self._table_ptr = ctypes.c_void_p(self._table.ctypes.data)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        grad = np.zeros(self._ndim)
        logp = np.zeros(1)
        code = self._call(
            self._ndim, x.ctypes.data_as(_DOUBLE_P), grad.ctypes.data_as(_DOUBLE_P),
            logp.ctypes.data_as(_DOUBLE_P), self._table_ptr,
        )
        if code not in (0, 3, 4):  # pragma: no cover - internal consistency
            raise RuntimeError(f"log-density callback failed with code {code}")
        return float(logp[0]), grad

    def buffered(self):
        """A ``x -> (logp, grad)`` function that reuses one gradient buffer (one per caller).

        For callers that copy the gradient before calling again (nutpie's Python-callback
        route does): no allocation per call, the arguments passed as raw addresses.

        Returns
        -------
        callable
            ``x`` must be a C-contiguous float64 vector of length ``ndim``; the returned
            gradient array is overwritten by the next call.
        """
        grad = np.zeros(self._ndim)
        logp = np.zeros(1)
        call, ndim, table = _RAW_LOGP(self._address), self._ndim, self._table.ctypes.data
        grad_at, logp_at = grad.ctypes.data, logp.ctypes.data
        def evaluate(x: np.ndarray, _keep_alive=(self._arrays, self._table)):
            if x.dtype != np.float64 or not x.flags.c_contiguous:
                x = np.ascontiguousarray(x, dtype=np.float64)
            call(ndim, x.ctypes.data, grad_at, logp_at, table)
            return float(logp[0]), grad

        return evaluate


_DOUBLE_P = ctypes.POINTER(ctypes.c_double)
_RAW_LOGP = ctypes.CFUNCTYPE(
    ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_void_p,
)


def _pointer_table(arrays: list[np.ndarray]) -> np.ndarray:
    table = np.zeros(_TABLE_WIDTH * len(arrays), dtype=np.uint64)
    for i, value in enumerate(arrays):
        shape = (*value.shape, 1, 1)[:2] if value.ndim < 2 else value.shape
        table[_TABLE_WIDTH * i : _TABLE_WIDTH * (i + 1)] = (
            value.ctypes.data, value.size, shape[0], shape[1]
        )
    return table


_REQUIRED_FIELDS = frozenset(
    {
        "compiled_logp_func", "compiled_expand_func", "initial_point_func", "shared_data",
        "user_data", "n_expanded", "shape_info", "logp_func", "expand_func", "_n_dim",
        "_shapes", "_coords", "dims",
    }
)
"""Fields of nutpie's ``CompiledPyMCModel`` these callbacks fill (nutpie 0.16.8 and 0.16.11)."""
_OPTIONAL_FIELDS = {"shared_var_keys": dict, "reparameterized_names": list}
"""Fields added in later 0.16 releases, filled with empty values when present."""


def interface_problem() -> str:
    """What the installed nutpie lacks for these callbacks (``""`` when nothing is missing).

    Returns
    -------
    str
        Empty when ``nutpie.compile_pymc.CompiledPyMCModel`` is a dataclass with every field in
        :data:`_REQUIRED_FIELDS` and no unknown required field; else a short reason.
    """
    try:
        from nutpie.compile_pymc import CompiledPyMCModel
    except ImportError as err:
        return f"nutpie.compile_pymc.CompiledPyMCModel cannot be imported ({err})"
    if not dataclasses.is_dataclass(CompiledPyMCModel):
        return "nutpie.compile_pymc.CompiledPyMCModel is no longer a dataclass"
    fields = {f.name: f for f in dataclasses.fields(CompiledPyMCModel)}
    missing = sorted(_REQUIRED_FIELDS - set(fields))
    if missing:
        return f"nutpie.compile_pymc.CompiledPyMCModel lacks {missing}"
    no_default = dataclasses.MISSING
    unknown = sorted(
        name for name, f in fields.items()
        if name not in _REQUIRED_FIELDS and name not in _OPTIONAL_FIELDS
        and f.default is no_default and f.default_factory is no_default
    )
    if unknown:
        return f"nutpie.compile_pymc.CompiledPyMCModel needs unknown fields {unknown}"
    return ""


def compiled_model(density):
    """A nutpie model whose log density is this module's C callback.

    Draws are stored as the unconstrained vector (variable :data:`UNCONSTRAINED`), in the
    density's sampler coordinates when it has them
    (:class:`~doseresponse.models.sampler_coordinates.StudyEffectCoordinates`); map them with
    ``model_from_sampler_points`` and name them with
    :meth:`doseresponse.models.density.LogDensity.expand_draws`.

    Parameters
    ----------
    density : LogDensity
        The model's log density.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for :func:`nutpie.sample`; it keeps the data arrays alive.

    Raises
    ------
    UnsupportedNutpieError
        The installed nutpie has no compatible numba-model interface
        (:func:`interface_problem`). Other errors (e.g. ``TypeError`` from a changed
        constructor) propagate; :func:`doseresponse.models.sampling.sample_density` turns any
        of them into a fallback to the public route.
    """
    problem = interface_problem()
    if problem:
        raise UnsupportedNutpieError(problem)
    from nutpie.compile_pymc import CompiledPyMCModel

    # NUTS runs in the density's sampler coordinates where it has them (partially pooled
    # study effects as mean and contrasts); sampling.py maps the draws back before naming them
    arrays = list(getattr(density, "sampler_kernel_arrays", density.kernel_arrays))
    # a density may bring its own log-density callback (same signature and pointer table)
    logp_callback = getattr(density, "logp_callback", None) or _logp_callback
    if logp_callback is _logp_callback and len(arrays) != _N_ARRAYS:  # pragma: no cover
        raise UnsupportedNutpieError("kernel arrays do not match the callback table")
    ndim = density.ndim
    coords = {"unconstrained_parameter": pd.Index(density.unconstrained_names)}
    values = dict(
        _n_dim=ndim,
        dims={UNCONSTRAINED: ("unconstrained_parameter",)},
        _coords=coords,
        _shapes={UNCONSTRAINED: (ndim,)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=_expand_callback,
        initial_point_func=getattr(density, "sampler_initial_point", density.initial_point),
        shared_data={f"array{i}": a for i, a in enumerate(arrays)},  # keeps them alive
        user_data=_pointer_table(arrays),
        n_expanded=ndim,
        shape_info=([UNCONSTRAINED], [slice(0, ndim)], [(ndim,)]),
        logp_func=None,
        expand_func=None,
    )
    present = {f.name for f in dataclasses.fields(CompiledPyMCModel)}
    values.update({name: kind() for name, kind in _OPTIONAL_FIELDS.items() if name in present})
    return CompiledPyMCModel(**values)
