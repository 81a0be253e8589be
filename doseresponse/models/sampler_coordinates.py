"""Sampling partially pooled models in the mean-and-contrast coordinates of their study effects.

The change of variables and its unit Jacobian are in ``doseresponse.models._study_coordinates``
(numba; imported only when points are mapped). This module holds the part shared by the binary
and late-toxicity densities: the kernel arrays, initial points and point mappings in the
sampler's coordinates. Fits, results, saved files and the PyMC oracle stay in the model's own
coordinates; only NUTS moves in these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StudyEffectCoordinates"]


_POOLED_BLOCKS = (("log_d50", "tau_log__", "z_d50"), ("log_slope", "tau_slope_log__", "z_slope"))
"""Names of (population mean, ln τ, study effects) of each block that may be partially pooled."""


class StudyEffectCoordinates:
    """The sampler's coordinates of a density's partially pooled study effects (a mixin).

    For :class:`~doseresponse.models.density.LogDensity` and
    :class:`~doseresponse.models.late_density.LateToxicityDensity`: both have ``blocks`` (name
    to slice, with the names of ``_POOLED_BLOCKS``), ``ndim``, ``kernel_arrays`` whose
    first array is the kernel's ``layout``, ``_layout_fields()`` (the names of that vector's
    fields, among them ``sampler_coordinates``; each density returns its kernel's tuple) and
    ``initial_point``; an optional ``logp_callback``. NUTS runs on
    :attr:`sampler_kernel_arrays`, starts from :meth:`sampler_initial_point`, and its draws are
    mapped back by :meth:`model_from_sampler_points` before they are named (module docstring).
    """

    @property
    def study_effect_blocks(self) -> np.ndarray:
        """Rows ``(i_mu, i_log_tau, i_z)`` of the partially pooled blocks, shape ``(k, 3)``."""
        b = self.blocks
        rows = [(b[mu].start, b[tau].start, b[z].start) for mu, tau, z in _POOLED_BLOCKS
                if z in b]
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def _n_effects(self) -> int:
        return int(self.blocks["z_d50"].stop - self.blocks["z_d50"].start) if (
            "z_d50" in self.blocks) else 0

    @property
    def sampler_kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """The kernel's data arrays with ``layout`` set to the sampler's coordinates."""
        cached = getattr(self, "_sampler_arrays", None)
        if cached is None:
            layout, *rest = self.kernel_arrays
            layout = layout.copy()
            layout[self._layout_fields().index("sampler_coordinates")] = 1
            cached = self._sampler_arrays = (layout, *rest)
        return cached

    def model_from_sampler_points(self, points: np.ndarray) -> np.ndarray:
        """Points (``(..., ndim)``) in the sampler's coordinates mapped to the model's (a copy).

        Parameters
        ----------
        points : numpy.ndarray
            Shape ``(..., ndim)``, e.g. nutpie's ``(chain, draw, ndim)`` draws.

        Returns
        -------
        numpy.ndarray
            Same shape, in the model's unconstrained coordinates.
        """
        return self._mapped(points, "model_from_sampler")

    def sampler_from_model_points(self, points: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`model_from_sampler_points` (a copy).

        Parameters
        ----------
        points : numpy.ndarray
            Shape ``(..., ndim)`` in the model's unconstrained coordinates.

        Returns
        -------
        numpy.ndarray
            Same shape, in the sampler's coordinates.
        """
        return self._mapped(points, "sampler_from_model")

    def _mapped(self, points: np.ndarray, name: str) -> np.ndarray:
        from doseresponse.models import _study_coordinates

        mapping = getattr(_study_coordinates, name)
        points = np.array(points, dtype=np.float64, order="C", copy=True)
        blocks = self.study_effect_blocks
        if blocks.shape[0]:
            flat = points.reshape(-1, points.shape[-1])
            mapping(flat, blocks, self._n_effects())
        return points

    def sampler_initial_point(self, seed: int) -> np.ndarray:
        """``initial_point`` in the sampler's coordinates.

        Parameters
        ----------
        seed : int
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        numpy.ndarray
            Shape ``(ndim,)``.
        """
        return self.sampler_from_model_points(self.initial_point(seed))

    def _sampler_density(self):
        compiled = getattr(self, "_sampler_compiled", None)
        if compiled is None:
            from doseresponse.models._nutpie_callbacks import CompiledDensity

            compiled = self._sampler_compiled = CompiledDensity(
                self.sampler_kernel_arrays, self.ndim,
                callback=getattr(self, "logp_callback", None),
            )
        return compiled

    def sampler_logp_and_grad(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at ``y`` in the sampler's coordinates.

        Parameters
        ----------
        y : numpy.ndarray
            Shape ``(ndim,)``.

        Returns
        -------
        logp : float
            Equal to the model's log density at ``model_from_sampler_points(y)`` (unit
            Jacobian).
        grad : numpy.ndarray
            Gradient with respect to ``y`` (a new array).
        """
        return self._sampler_density()(np.ascontiguousarray(y, dtype=np.float64))

    def sampler_logp_and_grad_function(self):
        """A fast ``y -> (logp, grad)`` in the sampler's coordinates reusing one gradient buffer.

        Returns
        -------
        callable
            As ``CompiledDensity.buffered`` (for nutpie's Python-callback route).
        """
        return self._sampler_density().buffered()
