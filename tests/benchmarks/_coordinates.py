"""The comparison the benchmarks print beside the default: sampling in the model's coordinates.

The default sampler moves partially pooled study effects as their mean and contrasts
(:mod:`doseresponse.models.sampler_coordinates`); :func:`in_model_coordinates` makes a density
sample in the model's own non-centred coordinates instead (what the sampler did before), for a
side-by-side run. Benchmarks only.
"""

from __future__ import annotations

import numpy as np


def in_model_coordinates(density):
    """The same density object, sampled in the model's own coordinates (changed in place).

    Parameters
    ----------
    density : LogDensity or LateToxicityDensity
        A density with sampler coordinates.

    Returns
    -------
    object
        ``density``, whose class now reports no study-effect blocks and hands nutpie the
        model-coordinate kernel arrays.
    """
    base = type(density)

    class ModelCoordinates(base):
        @property
        def sampler_kernel_arrays(self):
            return self.kernel_arrays

        @property
        def study_effect_blocks(self):
            return np.zeros((0, 3), dtype=np.int64)

    ModelCoordinates.__name__ = f"{base.__name__}InModelCoordinates"
    density.__class__ = ModelCoordinates
    return density
