r"""Sampler coordinates of partially pooled study effects: their mean and orthonormal contrasts.

The partially pooled models write study :math:`s`'s log D50 as :math:`\mu + \tau z_s` with
:math:`z_s \sim N(0, 1)` (non-centred), :math:`s = 0, \dots, S-1`. With informative studies the
data pin the average :math:`\mu + \tau\bar z` of the study effects, not :math:`\mu` and
:math:`\bar z` apart: the posterior has a ridge along which :math:`\mu` and :math:`\bar z`
trade off with a slope :math:`-1/\tau` that turns as :math:`\tau` moves, which a diagonal mass
matrix cannot follow. NUTS then needs long trajectories and, at large :math:`\tau`, diverges
(the rare divergent transitions of background fits at target_accept 0.95 started on this ridge:
:math:`\tau \approx 1.1`, every :math:`z_s \approx -0.6`).

The compiled kernels therefore let the sampler move in the coordinates
:math:`y = (m, v, \ln\tau)`:

.. math::

    z = Q v, \qquad \mu = m - \tau\, v_0 / \sqrt{S},

with :math:`Q` the orthogonal Helmert matrix whose first column is :math:`1/\sqrt{S}` (so
:math:`v_0 = \sqrt{S}\,\bar z`, and :math:`v_1, \dots, v_{S-1}` are orthonormal contrasts
that sum the study effects to zero) and :math:`m = \mu + \tau\bar z` the average study effect,
which the data identify. The model is unchanged: :math:`v \sim N(0, I)` exactly when
:math:`z \sim N(0, I)` (:math:`Q` is orthogonal), and the Jacobian of
:math:`y \mapsto (\mu, z, \ln\tau)` is block triangular with determinant :math:`\det Q = \pm 1`,
so the log density in :math:`y` is the model's log density at the mapped point, with no
correction term. The gradient is pulled back by the chain rule:
:math:`\partial_m = \partial_\mu`, :math:`\partial_v = Q^\top \partial_z -
e_0 (\tau/\sqrt{S})\,\partial_\mu`, :math:`\partial_{\ln\tau}^{(y)} = \partial_{\ln\tau} -
\partial_\mu\, \tau v_0/\sqrt{S}`. Draws are mapped back to the model's coordinates before they
are named, so every result, saved file and PyMC oracle comparison is in the model's own
parameters.

Notes
-----
Helmert contrasts: column :math:`k \ge 1` of :math:`Q` is
:math:`(1, \dots, 1, -k, 0, \dots, 0)/\sqrt{k(k+1)}` with :math:`k` ones (Helmert 1876;
Lancaster 1965, *The American Mathematical Monthly* 72:4–12), applied here in
:math:`O(S)` without forming :math:`Q`. Separating the mean of exchangeable effects from
sum-to-zero contrasts is the parametrisation of centred vectors in the Stan Development Team
(2024) *Stan User's Guide*, "Parameterizing centered vectors"; the geometry of centred and
non-centred hierarchical parametrisations is discussed by Papaspiliopoulos, Roberts & Sköld
(2007), *Statistical Science* 22:59–73, and Betancourt & Girolami (2015), in *Current Trends
in Bayesian Methodology with Applications*, CRC Press, 79–101. The effects are dimensionless
(standard-normal scores); :math:`\mu`, :math:`m` are natural logs of a dose (ln Gy) or of a
slope.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "contrasts_from_effects",
    "effects_from_contrasts",
    "model_from_sampler",
    "pull_back_gradient",
    "sampler_from_model",
]

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def effects_from_contrasts(v, z):
    """``z = Q v`` for the Helmert matrix Q (first column 1/√S): the study effects.

    ``v`` and ``z`` are length-S vectors; ``z`` is overwritten (it must not be ``v``).
    """
    n = v.size
    tail = 0.0  # sum over k > i of v_k / sqrt(k (k + 1))
    base = v[0] / math.sqrt(n)
    for i in range(n - 1, -1, -1):
        own = -i * v[i] / math.sqrt(i * (i + 1.0)) if i > 0 else 0.0
        z[i] = base + own + tail
        if i > 0:
            tail += v[i] / math.sqrt(i * (i + 1.0))


@_jit
def contrasts_from_effects(z, v):
    """``v = Qᵀ z``: the inverse of :func:`effects_from_contrasts` (Q is orthogonal).

    Also the pull-back of a gradient with respect to ``z`` onto ``v``. ``v`` is overwritten.
    """
    n = z.size
    head = 0.0  # sum over i < k of z_i
    for k in range(n):
        if k > 0:
            v[k] = (head - k * z[k]) / math.sqrt(k * (k + 1.0))
        head += z[k]
    v[0] = head / math.sqrt(n)


@_jit
def _map_points(points, blocks, n_study, to_model):
    """Map each row of ``points`` between the two coordinate systems, in place."""
    old = np.empty(n_study)
    new = np.empty(n_study)
    scale = 1.0 / math.sqrt(n_study)
    for r in range(points.shape[0]):
        for b in range(blocks.shape[0]):
            i_mu, i_tau, i_z = blocks[b, 0], blocks[b, 1], blocks[b, 2]
            for s in range(n_study):
                old[s] = points[r, i_z + s]
            if to_model:  # v -> z, m -> mu = m - tau v0 / sqrt(S)
                effects_from_contrasts(old, new)
                shift = -old[0]
            else:  # z -> v, mu -> m = mu + tau v0 / sqrt(S)
                contrasts_from_effects(old, new)
                shift = new[0]
            for s in range(n_study):
                points[r, i_z + s] = new[s]
            points[r, i_mu] += math.exp(points[r, i_tau]) * shift * scale


@_jit
def model_from_sampler(points, blocks, n_study):
    """Map points from the sampler's coordinates to the model's, in place.

    ``points`` has shape ``(n_points, ndim)``; each row of ``blocks`` is
    ``(i_mu, i_log_tau, i_z)``: the positions of the population mean (m → μ), of ln τ and of the
    first of ``n_study`` study effects (v → z).
    """
    _map_points(points, blocks, n_study, True)


@_jit
def sampler_from_model(points, blocks, n_study):
    """The inverse of :func:`model_from_sampler`, in place (model → sampler coordinates)."""
    _map_points(points, blocks, n_study, False)


@_jit
def pull_back_gradient(y, grad, blocks, n_study):
    """Turn a gradient with respect to the model's coordinates into one for the sampler's.

    ``y`` is the sampler-coordinate point; ``grad`` (model coordinates, at the mapped point) is
    overwritten with the gradient in the sampler's coordinates (module docstring).
    """
    g_z = np.empty(n_study)
    g_v = np.empty(n_study)
    scale = 1.0 / math.sqrt(n_study)
    for b in range(blocks.shape[0]):
        i_mu, i_tau, i_z = blocks[b, 0], blocks[b, 1], blocks[b, 2]
        tau = math.exp(y[i_tau])
        g_mu = grad[i_mu]
        for s in range(n_study):
            g_z[s] = grad[i_z + s]
        contrasts_from_effects(g_z, g_v)
        for s in range(n_study):
            grad[i_z + s] = g_v[s]
        grad[i_z] -= tau * scale * g_mu
        grad[i_tau] -= g_mu * tau * y[i_z] * scale

