r"""Compiled voxel loops of :func:`doseresponse.radiobiology.bed.bed_exponential`.

One pass over the voxels, no temporaries: each loop reads the dose and half-life maps once and
writes the BED once, so a BED map with a half-life map costs little more than the memory traffic
of reading two maps and writing one (a plain copy reads one and writes one). The input checks are
folded into the same pass as a running "all valid" flag (dose >= 0, half-lives > 0, BED < ∞;
NaN fails every comparison); when the flag is false the caller runs the full validators to name
the first offending element.

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

__all__ = ["bed_constant_k", "bed_mono", "bed_uptake"]

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def bed_constant_k(dose, k, out):  # pragma: no cover - compiled
    """BED = D + k D² with one coefficient k (1/Gy) for every voxel; True if all valid."""
    ok = True
    for i in range(out.size):
        d = dose[i]
        v = d * d * k + d
        ok &= (d >= 0.0) & (v < math.inf)
        out[i] = v
    return ok


@_jit
def bed_mono(dose, t_eff, trep, ab, out):  # pragma: no cover - compiled
    """Mono-exponential BED per voxel, G = Trep/(Trep+Teff); True if all inputs were valid."""
    ok = True
    scale = trep / ab
    for i in range(out.size):
        d = dose[i]
        t = t_eff[i]
        v = d * d * (scale / (t + trep)) + d
        ok &= (d >= 0.0) & (t > 0.0) & (v < math.inf)
        out[i] = v
    return ok


@_jit
def bed_uptake(dose, t_eff, t_up, trep, ab, out):  # pragma: no cover - compiled
    """Uptake-washout BED per voxel (symmetric G-SE form); True if all inputs were valid."""
    ok = True
    scale = trep / ab
    trep2 = trep * trep
    for i in range(out.size):
        d = dose[i]
        tw = t_eff[i]
        tu = t_up[i]
        s = tu + tw
        p = tu * tw
        num = trep * s + p
        k = num * scale / ((num + trep2) * s)
        v = d * d * k + d
        ok &= (d >= 0.0) & (tw > 0.0) & (tu > 0.0) & (v < math.inf)
        out[i] = v
    return ok
