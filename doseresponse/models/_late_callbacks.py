"""C callback of the late-toxicity log density for nutpie (no Python per step).

The late-toxicity twin of :mod:`doseresponse.models._nutpie_callbacks`: a fixed
``numba.cfunc`` with nutpie's log-density signature reads the model's data through the same
table of pointers (``user_data``, built by ``_nutpie_callbacks._pointer_table``) and runs
:func:`doseresponse.models._late_kernel.late_log_posterior`. Everything else — the draw-copy
callback, the nutpie model object, the feature detection and the fallback to nutpie's public
Python callbacks — is :mod:`doseresponse.models._nutpie_callbacks` and
:mod:`doseresponse.models.sampling`, reused as they are. Compiled once per machine
(``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from doseresponse.models._late_kernel import LATE_KERNEL_ARRAYS, late_log_posterior
from doseresponse.models._nutpie_callbacks import (
    _LOGP_SIG,
    _TABLE_WIDTH,
    _as_uint64_pointer,
    _pointer,
)

__all__ = ["late_logp_callback"]

_N_ARRAYS = len(LATE_KERNEL_ARRAYS)


@numba.cfunc(_LOGP_SIG, cache=True, nogil=True, error_model="numpy")
def late_logp_callback(dim, x_ptr, grad_ptr, logp_ptr, user_data):
    """Nutpie log-density callback: writes ln p(x) and its gradient; 0 on success."""
    table = numba.carray(_as_uint64_pointer(user_data), (_TABLE_WIDTH * _N_ARRAYS,))
    x = numba.carray(x_ptr, (dim,))
    layout = numba.carray(_pointer(table[0]), (int(table[1]),), np.int64)
    normal_index = numba.carray(_pointer(table[4]), (int(table[5]),), np.int64)
    normal_mu = numba.carray(_pointer(table[8]), (int(table[9]),), np.float64)
    normal_inv_sd = numba.carray(_pointer(table[12]), (int(table[13]),), np.float64)
    half_index = numba.carray(_pointer(table[16]), (int(table[17]),), np.int64)
    half_sigma = numba.carray(_pointer(table[20]), (int(table[21]),), np.float64)
    constants = numba.carray(_pointer(table[24]), (int(table[25]),), np.float64)
    dose = numba.carray(_pointer(table[28]), (int(table[29]),), np.float64)
    log_dose = numba.carray(_pointer(table[32]), (int(table[33]),), np.float64)
    study = numba.carray(_pointer(table[36]), (int(table[37]),), np.int64)
    cov_x = numba.carray(_pointer(table[40]), (int(table[42]), int(table[43])), np.float64)
    kind = numba.carray(_pointer(table[44]), (int(table[45]),), np.int64)
    t_lower = numba.carray(_pointer(table[48]), (int(table[49]),), np.float64)
    t_upper = numba.carray(_pointer(table[52]), (int(table[53]),), np.float64)
    onset_x = numba.carray(_pointer(table[56]), (int(table[57]),), np.float64)
    me_index = numba.carray(_pointer(table[60]), (int(table[61]),), np.int64)
    me_sigma = numba.carray(_pointer(table[64]), (int(table[65]),), np.float64)
    me_study = numba.carray(_pointer(table[68]), (int(table[69]),), np.int64)
    me_log_obs = numba.carray(_pointer(table[72]), (int(table[73]),), np.float64)
    value, grad = late_log_posterior(
        x, layout, normal_index, normal_mu, normal_inv_sd, half_index, half_sigma, constants,
        dose, log_dose, study, cov_x, kind, t_lower, t_upper, onset_x, me_index, me_sigma,
        me_study, me_log_obs,
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
