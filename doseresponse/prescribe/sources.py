r"""Curve sources (fitted models, response curves) evaluated per draw at a per-draw dose.

A prescription needs, for every draw :math:`s`, the probability :math:`P_s(d_s)` at that draw's
own dose (the dose depends on the draw through the dosimetry uncertainty) and the per-draw dose
at which :math:`P_s = p`. A :class:`~doseresponse.models.response_curve.ResponseCurve` gives
both exactly from its family functions. Any other source is evaluated once through the contract
``probability_draws(dose_grid, which, covariates, new_study=...)`` on a log-spaced grid of
:data:`GRID_SIZE` doses and interpolated linearly in (log dose, logit P) per draw; for the
log-logistic family this is exact; for the others the activities found differ from the exact
ones by less than 3e-4 relative (probit, checked in ``tests/prescribe``), far below any
dosimetry uncertainty. Below the grid (doses under
``d_max·10^-GRID_DECADES``) P is that at the grid's lowest dose, above it that at ``d_max``.

Units: doses in the curve's ``dose_unit`` (Gy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.response_curve import ResponseCurve

__all__ = ["GRID_SIZE", "AlignedCurve", "curve_attributes"]

GRID_SIZE = 256
"""Doses in the interpolation grid of a fitted-model source."""
GRID_DECADES = 3.0
"""The grid spans ``[d_max·10^-GRID_DECADES, d_max]``."""
_EPS = 1e-15
_DOSE_CHUNK = 256
"""Doses per probability_draws call (the averaged view sums its quadrature nodes in the compiled
kernel, so a call needs only the (draws, doses) result in memory)."""


def curve_attributes(source: Any, where: str) -> dict[str, str]:
    """``kind``, ``dose_metric``, ``dose_unit``, ``curve_name`` of a curve source.

    Reads the plain attributes, else a fitted model's ``spec`` (``kind``, ``dose_metric``,
    ``dose_unit``, ``curve``).

    Parameters
    ----------
    source : object
        A curve source: a fitted model, a literature curve or anything with
        ``probability_draws``.
    where : str
        Where the source is used, for the error message (e.g. ``"regions['kidney'].curve"``).

    Returns
    -------
    dict of str to str
        ``kind``, ``dose_metric``, ``dose_unit`` and ``curve_name``.

    Raises
    ------
    DoseResponseError
        If ``source`` is not a curve source (no ``probability_draws``), naming ``where``.
    """
    if not callable(getattr(source, "probability_draws", None)):
        raise DoseResponseError(
            f"{where} must be a fitted model (dr.FittedModel) or a dr.ResponseCurve with a "
            f"probability_draws method; got {type(source).__name__}."
        )
    spec = getattr(source, "spec", None)
    out = {}
    for attr, spec_attr in (("kind", "kind"), ("dose_metric", "dose_metric"),
                            ("dose_unit", "dose_unit"), ("curve_name", "curve")):
        value = getattr(source, attr, None)
        if value is None and spec is not None:
            value = getattr(spec, spec_attr, None)
        if not isinstance(value, str):
            raise DoseResponseError(f"{where} does not say its {attr}; got {value!r}.")
        out[attr] = value
    return out


class AlignedCurve:
    """One curve source evaluated per draw; :meth:`align` pairs its draws with the plan's.

    Parameters
    ----------
    source : FittedModel or ResponseCurve
        The curve source.
    which, new_study, covariates
        Passed to ``probability_draws``.
    dose_max : float
        Largest dose the prescription may need (Gy); sets the grid of a fitted-model source.
    random_seed : int
        Passed to ``probability_draws`` (new-centre effects).
    exact : bool, default True
        Evaluate a ResponseCurve from its family functions; False: on the grid like any
        other source (cheaper for many doses per draw).
    grid_size : int, default GRID_SIZE
        Doses in the grid.

    Attributes
    ----------
    n_source : int
        Number of draws of the source.
    """

    def __init__(
        self,
        source: Any,
        *,
        which: str,
        new_study: str,
        covariates: dict[str, float] | None,
        dose_max: float,
        random_seed: int,
        exact: bool = True,
        grid_size: int = GRID_SIZE,
    ) -> None:
        self.n = 0
        if exact and isinstance(source, ResponseCurve):
            # validates which / new_study / covariates with the curve's own messages
            source.probability_draws(np.array([1.0]), which, covariates, new_study=new_study)
            self._exact = True
            self._family = source._family
            self._d50_all, self._slope_all = source.d50, source.slope
            self.n_source = source.n_draws
        else:
            self._exact = False
            self._log_grid = np.linspace(
                np.log(dose_max) - GRID_DECADES * np.log(10.0), np.log(dose_max), grid_size
            )
            doses = np.exp(self._log_grid)
            # doses in chunks of _DOSE_CHUNK (one call for the default grid)
            chunks = [
                np.asarray(
                    source.probability_draws(
                        doses[i:i + _DOSE_CHUNK], which, covariates,
                        new_study=new_study, random_seed=random_seed,
                    ),
                    dtype=np.float64,
                )
                for i in range(0, grid_size, _DOSE_CHUNK)
            ]
            if any(c.ndim != 2 for c in chunks):
                raise DoseResponseError(
                    "probability_draws must return an array of shape (n_draws, n_dose); got "
                    f"{chunks[0].shape}."
                )
            probs = np.concatenate(chunks, axis=1)
            if probs.shape[1] != grid_size:
                raise DoseResponseError(
                    "probability_draws must return an array of shape (n_draws, n_dose); got "
                    f"{probs.shape}."
                )
            # monotone in dose for every family; enforce against rounding
            self._logit_all = logit(
                np.clip(np.maximum.accumulate(probs, axis=1), _EPS, 1.0 - _EPS)
            )
            self.n_source = probs.shape[0]

    def align(self, n: int, rng: np.random.Generator) -> None:
        """Pair the source's draws with ``n`` plan draws.

        One source draw is broadcast; equal counts are paired in order; otherwise the source's
        draws are resampled with the seeded ``rng`` (with replacement when it has fewer).

        Parameters
        ----------
        n : int
            Number of plan draws.
        rng : numpy.random.Generator
            Seeded generator of the resampling.
        """
        idx = _align(self.n_source, n, rng)
        self.n = n
        if self._exact:
            self._d50, self._slope = self._d50_all[idx], self._slope_all[idx]
        else:
            self._logit = self._logit_all[idx]

    def probability(self, dose: np.ndarray) -> np.ndarray:
        """P per draw at per-draw doses: ``dose`` of shape ``(n,)`` or ``(n, m)`` (Gy).

        Parameters
        ----------
        dose : numpy.ndarray
            Dose (Gy) per draw, shape ``(n,)`` or ``(n, m)``.

        Returns
        -------
        numpy.ndarray
            Response probability, the shape of ``dose``.
        """
        d = np.asarray(dose, dtype=np.float64)
        if self._exact:
            shape = (self.n,) + (1,) * (d.ndim - 1)
            return np.asarray(
                self._family.probability(
                    d, self._d50.reshape(shape), self._slope.reshape(shape)
                ),
                dtype=np.float64,
            )
        grid = self._log_grid
        step = grid[1] - grid[0]
        with np.errstate(divide="ignore"):
            pos = (np.log(np.maximum(d, 1e-300)) - grid[0]) / step
        size = grid.size
        pos = np.clip(pos, 0.0, size - 1.0)
        i = np.minimum(pos.astype(np.intp), size - 2)
        w = pos - i
        rows = np.arange(self.n).reshape((self.n,) + (1,) * (d.ndim - 1))
        lo = self._logit[rows, i]
        hi = self._logit[rows, i + 1]
        return expit(lo + w * (hi - lo))

    def dose_at(self, p: float) -> np.ndarray:
        """Per-draw dose (Gy) at which P equals ``p``; 0 where P(0) already exceeds it.

        Parameters
        ----------
        p : float
            Response probability, 0 < p < 1.

        Returns
        -------
        numpy.ndarray
            Dose (Gy) per draw, shape ``(n,)``.
        """
        if self._exact:
            p0 = np.asarray(self._family.probability(0.0, self._d50, self._slope), dtype=float)
            out = np.zeros(self.n)
            ok = p0 < p
            if ok.any():
                out[ok] = self._family.dose_at(p, self._d50[ok], self._slope[ok])
            return out
        target = logit(p)
        below = (self._logit < target).sum(axis=1)  # rows are non-decreasing
        size = self._log_grid.size
        i = np.clip(below - 1, 0, size - 2)
        lo = self._logit[np.arange(self.n), i]
        hi = self._logit[np.arange(self.n), i + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(hi > lo, (target - lo) / (hi - lo), 0.0)
        log_d = self._log_grid[i] + np.clip(w, 0.0, 1.0) * (self._log_grid[1] - self._log_grid[0])
        dose = np.exp(log_d)
        dose = np.where(below == 0, 0.0, dose)
        return np.where(below == size, np.inf, dose)


def _align(n_source: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if n_source == 1:
        return np.zeros(n, dtype=np.intp)
    if n_source == n:
        return np.arange(n)
    return rng.choice(n_source, size=n, replace=n_source < n)
