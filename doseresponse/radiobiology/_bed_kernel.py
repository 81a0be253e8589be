r"""Compiled voxel loops of :func:`doseresponse.radiobiology.bed.bed_exponential`.

One pass over the voxels, no temporaries: each loop reads the dose and half-life maps once and
writes the BED once, so a BED map with a half-life map costs little more than the memory traffic
of reading two maps and writing one (a plain copy reads one and writes one). The input checks are
folded into the same pass as a running "all valid" flag (dose >= 0, half-lives > 0, BED finite;
NaN fails every comparison); when the flag is false the caller runs the full validators to name
the first offending element.

Streaming stores. An ordinary store to memory that is not in the cache first reads the cache
line (read for ownership), so writing a new map costs a read and a write of it; ``memcpy``
avoids that read, which is why ``arr.copy()`` is cheaper than any loop with ordinary stores.
With ``stream=True`` (the caller's choice, for outputs much larger than the caches) the loops
compute blocks of :data:`BLOCK` values into a small scratch buffer that stays in the L1 cache and
write each block to the output with non-temporal (streaming) stores of whole 64-byte cache lines
(LLVM ``!nontemporal`` stores, ``vmovntpd`` on x86-64, ``stnp`` on AArch64; targets without
them use ordinary stores), then one memory fence orders them before returning. The elements
before the first 64-byte boundary of the output and after the last whole block are written
directly. Values are identical either way (the same expression, the same rounding).

Aliasing: ``out`` may be the dose (or a half-life) array itself — every element is read before
the same element is written — but must not partially overlap an input (the caller checks).
LLVM vectorises a loop only after a run-time check that the output does not overlap an input,
so with ``out`` being the dose array the general loops run scalar; the ``*_in_place`` loops
read and write one array argument (the dose), which needs no such check.

The formulas are those of :func:`~doseresponse.radiobiology.bed.bed_exponential` (Dale 1985,
Br J Radiol 58:515; Baechler et al. 2008, Med Phys 35:1123, eq. G-SE in its symmetric form):

.. math:: \mathrm{BED} = D + k D^2, \qquad k = \frac{G}{\alpha/\beta}, \qquad
          G = \frac{T_{rep}}{T_{rep}+T_{eff}}
          \quad\text{or}\quad
          G = \frac{T_{rep}\,[T_{rep}(T_u+T_w)+T_u T_w]}{(T_{rep}+T_u)(T_{rep}+T_w)(T_u+T_w)}.

Units: dose Gy, half-lives and repair half-time h, α/β Gy. This module imports numba, so it is
imported only when a BED map is computed (``import doseresponse.radiobiology`` stays light);
``cache=True`` keeps the machine code in numba's cache, so it is compiled once per machine,
never at import.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic

__all__ = [
    "BLOCK",
    "LINE",
    "bed_constant_k",
    "bed_constant_k_in_place",
    "bed_mono",
    "bed_mono_in_place",
    "bed_uptake",
    "bed_uptake_in_place",
]

BLOCK = 1024
"""Values per scratch block of the streaming path (8 KiB of float64: stays in L1)."""
LINE = 64
"""Bytes per streaming store (one cache line); the streamed output must start on such a
boundary (the caller passes the elements before it separately, with ``stream=False``)."""
_PER_LINE = 8
"""float64 values per line."""

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


# ------------------------------------------------------------------------ streaming helpers


@intrinsic
def _stream_line(typingctx, src, src_index, dst, dst_index):  # pragma: no cover - compiled
    """Copy one line from ``src[src_index:]`` to the aligned ``dst[dst_index:]`` (streaming)."""
    sig = types.void(src, src_index, dst, dst_index)

    def codegen(context, builder, signature, args):
        src_type, _, dst_type, _ = signature.args
        src_array = context.make_array(src_type)(context, builder, args[0])
        dst_array = context.make_array(dst_type)(context, builder, args[2])
        src_ptr = cgutils.get_item_pointer(context, builder, src_type, src_array, [args[1]],
                                           wraparound=False, boundscheck=False)
        dst_ptr = cgutils.get_item_pointer(context, builder, dst_type, dst_array, [args[3]],
                                           wraparound=False, boundscheck=False)
        element = context.get_data_type(dst_type.dtype)
        itemsize = context.get_abi_sizeof(element)
        line = ir.VectorType(element, LINE // itemsize)
        value = builder.load(builder.bitcast(src_ptr, line.as_pointer()), align=itemsize)
        store = builder.store(value, builder.bitcast(dst_ptr, line.as_pointer()), align=LINE)
        store.set_metadata(
            "nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)])
        )
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _store_fence(typingctx):  # pragma: no cover - compiled
    """Sequentially consistent fence (``mfence`` on x86-64): orders the streaming stores."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


@_jit
def _stream_blocks(out, stream):  # pragma: no cover - compiled
    """Number of whole blocks written with streaming stores (0 unless ``out`` is aligned)."""
    if not stream or out.ctypes.data % LINE != 0:
        return 0
    return out.size // BLOCK


# ------------------------------------------------------------------------ per-voxel formulas
# (inlined into the loops below; each loop indexes from 0 so that LLVM vectorises it)


@numba.njit(inline="always")
def _constant_k(d, k):  # pragma: no cover - compiled
    return d * d * k + d


@numba.njit(inline="always")
def _mono(d, t, scale, trep):  # pragma: no cover - compiled
    return d * d * (scale / (t + trep)) + d


@numba.njit(inline="always")
def _uptake(d, tw, tu, scale, trep, trep2):  # pragma: no cover - compiled
    s = tu + tw
    num = trep * s + tu * tw
    return d * d * (num * scale / ((num + trep2) * s)) + d


# ------------------------------------------------------------------------ kernels


@_jit
def bed_constant_k(dose, k, out, stream=False):  # pragma: no cover - compiled
    """BED = D + k D² with one coefficient k (1/Gy) for every voxel; True if all valid."""
    n = out.size
    blocks = _stream_blocks(out, stream)
    ok = True
    if blocks == 0:
        for i in range(n):
            d = dose[i]
            v = _constant_k(d, k)
            ok &= (d >= 0.0) & (v < math.inf)
            out[i] = v
        return ok
    scratch = np.empty(BLOCK)
    for b in range(blocks):
        at = b * BLOCK
        block_ok = True
        for j in range(BLOCK):
            d = dose[at + j]
            v = _constant_k(d, k)
            block_ok &= (d >= 0.0) & (v < math.inf)
            scratch[j] = v
        ok &= block_ok
        for j in range(0, BLOCK, _PER_LINE):
            _stream_line(scratch, j, out, at + j)
    _store_fence()
    for i in range(blocks * BLOCK, n):
        d = dose[i]
        v = _constant_k(d, k)
        ok &= (d >= 0.0) & (v < math.inf)
        out[i] = v
    return ok


@_jit
def bed_mono(dose, t_eff, trep, ab, out, stream=False):  # pragma: no cover - compiled
    """Mono-exponential BED per voxel, G = Trep/(Trep+Teff); True if all inputs were valid."""
    scale = trep / ab
    n = out.size
    blocks = _stream_blocks(out, stream)
    ok = True
    if blocks == 0:
        for i in range(n):
            d = dose[i]
            t = t_eff[i]
            v = _mono(d, t, scale, trep)
            ok &= (d >= 0.0) & (t > 0.0) & (v < math.inf)
            out[i] = v
        return ok
    scratch = np.empty(BLOCK)
    for b in range(blocks):
        at = b * BLOCK
        block_ok = True
        for j in range(BLOCK):
            d = dose[at + j]
            t = t_eff[at + j]
            v = _mono(d, t, scale, trep)
            block_ok &= (d >= 0.0) & (t > 0.0) & (v < math.inf)
            scratch[j] = v
        ok &= block_ok
        for j in range(0, BLOCK, _PER_LINE):
            _stream_line(scratch, j, out, at + j)
    _store_fence()
    for i in range(blocks * BLOCK, n):
        d = dose[i]
        t = t_eff[i]
        v = _mono(d, t, scale, trep)
        ok &= (d >= 0.0) & (t > 0.0) & (v < math.inf)
        out[i] = v
    return ok


@_jit
def bed_uptake(dose, t_eff, t_up, trep, ab, out, stream=False):  # pragma: no cover - compiled
    """Uptake-washout BED per voxel (symmetric G-SE form); True if all inputs were valid."""
    scale = trep / ab
    trep2 = trep * trep
    n = out.size
    blocks = _stream_blocks(out, stream)
    ok = True
    if blocks == 0:
        for i in range(n):
            d = dose[i]
            tw = t_eff[i]
            tu = t_up[i]
            v = _uptake(d, tw, tu, scale, trep, trep2)
            ok &= (d >= 0.0) & (tw > 0.0) & (tu > 0.0) & (v < math.inf)
            out[i] = v
        return ok
    scratch = np.empty(BLOCK)
    for b in range(blocks):
        at = b * BLOCK
        block_ok = True
        for j in range(BLOCK):
            d = dose[at + j]
            tw = t_eff[at + j]
            tu = t_up[at + j]
            v = _uptake(d, tw, tu, scale, trep, trep2)
            block_ok &= (d >= 0.0) & (tw > 0.0) & (tu > 0.0) & (v < math.inf)
            scratch[j] = v
        ok &= block_ok
        for j in range(0, BLOCK, _PER_LINE):
            _stream_line(scratch, j, out, at + j)
    _store_fence()
    for i in range(blocks * BLOCK, n):
        d = dose[i]
        tw = t_eff[i]
        tu = t_up[i]
        v = _uptake(d, tw, tu, scale, trep, trep2)
        ok &= (d >= 0.0) & (tw > 0.0) & (tu > 0.0) & (v < math.inf)
        out[i] = v
    return ok


# ------------------------------------------------------------------------ in place (dose array)


@_jit
def bed_constant_k_in_place(dose, k):  # pragma: no cover - compiled
    """``dose`` ← BED with one coefficient k; True if all valid."""
    ok = True
    for i in range(dose.size):
        d = dose[i]
        v = _constant_k(d, k)
        ok &= (d >= 0.0) & (v < math.inf)
        dose[i] = v
    return ok


@_jit
def bed_mono_in_place(dose, t_eff, trep, ab):  # pragma: no cover - compiled
    """``dose`` ← mono-exponential BED per voxel; True if all inputs were valid."""
    scale = trep / ab
    ok = True
    for i in range(dose.size):
        d = dose[i]
        t = t_eff[i]
        v = _mono(d, t, scale, trep)
        ok &= (d >= 0.0) & (t > 0.0) & (v < math.inf)
        dose[i] = v
    return ok


@_jit
def bed_uptake_in_place(dose, t_eff, t_up, trep, ab):  # pragma: no cover - compiled
    """``dose`` ← uptake-washout BED per voxel; True if all inputs were valid."""
    scale = trep / ab
    trep2 = trep * trep
    ok = True
    for i in range(dose.size):
        d = dose[i]
        tw = t_eff[i]
        tu = t_up[i]
        v = _uptake(d, tw, tu, scale, trep, trep2)
        ok &= (d >= 0.0) & (tw > 0.0) & (tu > 0.0) & (v < math.inf)
        dose[i] = v
    return ok
