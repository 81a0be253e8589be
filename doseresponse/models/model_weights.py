r"""Weights of competing models from their pointwise predictive densities (numpy/scipy only).

Both weightings take the per-observation out-of-sample log predictive densities
:math:`\mathrm{elpd}_{ik}` of *n* observations under *K* models (from PSIS-LOO or K-fold
cross-validation, in nats) as an array ``(n, K)``:

``stacking``
    the weights of the mixture that predicts the left-out observations best,
    :math:`\max_w \sum_i \log \sum_k w_k e^{\mathrm{elpd}_{ik}}` on the simplex. Stacking
    combines models; when two models predict alike it may give all the weight to either one,
    so its weights are not a measure of evidence for a model.
``pseudo-bma+``
    pseudo-Bayesian model averaging with the Bayesian bootstrap: for bootstrap draw *b*,
    :math:`\alpha^{(b)} \sim \mathrm{Dirichlet}(1, \dots, 1)` over the observations,
    :math:`z_k^{(b)} = n \sum_i \alpha_i^{(b)} \mathrm{elpd}_{ik}`, and
    :math:`w_k = \frac1B \sum_b \mathrm{softmax}(z^{(b)})_k`. The bootstrap carries the
    uncertainty of the elpd estimates into the weights, so models the data cannot tell apart
    get comparable weights.
``pseudo-bma``
    :math:`w_k \propto e^{\mathrm{elpd}_k}` (no bootstrap; over-confident, kept for
    comparison with other software).

Notes
-----
Yao Y, Vehtari A, Simpson D, Gelman A (2018) "Using stacking to average Bayesian predictive
distributions" Bayesian Anal 13:917 (stacking: eq. 4; pseudo-BMA: eq. 8; pseudo-BMA+ with the
Bayesian bootstrap: section 3.2, eq. 9). The Bayesian bootstrap: Rubin DB (1981) Ann Stat 9:130.
These are the weightings :func:`arviz.compare` offers (``method="stacking"``,
``"BB-pseudo-BMA"``, ``"pseudo-BMA"``); the package computes them itself so the numbers have one
definition on ArviZ 0.x and 1.x (``tests/models/test_model_weights.py`` checks them against
the installed ArviZ).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from doseresponse.exceptions import DoseResponseError

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "WEIGHT_METHODS",
    "model_weights",
    "pseudo_bma_weights",
    "stacking_weights",
]

WEIGHT_METHODS = ("stacking", "pseudo-bma+", "pseudo-bma")
"""Weightings :func:`model_weights` computes (see the module docstring)."""
BOOTSTRAP_SAMPLES = 1000
"""Bayesian-bootstrap draws of pseudo-BMA+ (ArviZ's ``b_samples`` default)."""
_DEFAULT_SEED = 20180917
_NEGLIGIBLE_WEIGHT = 1e-9  # far below SLSQP's tolerance (1e-6)


def model_weights(
    elpd_i: ArrayLike, method: str = "stacking", *, random_seed: int = _DEFAULT_SEED
) -> np.ndarray:
    r"""Weights of *K* models from their pointwise out-of-sample log densities.

    Parameters
    ----------
    elpd_i : array_like
        Shape ``(n_observations, n_models)``: per-observation LOO (or K-fold) log predictive
        densities, in nats, the same observations in every column.
    method : {"stacking", "pseudo-bma+", "pseudo-bma"}
        Weighting (see the module docstring).
    random_seed : int
        Seed of the Bayesian bootstrap of ``"pseudo-bma+"`` (same seed, same weights).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_models,)``, non-negative, summing to one.

    Raises
    ------
    DoseResponseError
        Unknown ``method``, or ``elpd_i`` is not a finite 2-D array with at least one row.
    """
    values = _check_elpd(elpd_i)
    if method == "stacking":
        return stacking_weights(values)
    if method == "pseudo-bma+":
        return pseudo_bma_weights(values, bootstrap=True, random_seed=random_seed)
    if method == "pseudo-bma":
        return pseudo_bma_weights(values, bootstrap=False)
    raise DoseResponseError(
        f"unknown weighting method={method!r}; use one of {', '.join(WEIGHT_METHODS)}."
    )


def stacking_weights(elpd_i: ArrayLike) -> np.ndarray:
    r"""Stacking weights (Yao et al. 2018 Bayesian Anal 13:917, eq. 4).

    Parameters
    ----------
    elpd_i : array_like
        Shape ``(n_observations, n_models)``, nats.

    Returns
    -------
    numpy.ndarray
        Weights maximising :math:`\sum_i \log \sum_k w_k e^{\mathrm{elpd}_{ik}}` on the
        simplex (SLSQP).

    Notes
    -----
    Each row is shifted by its maximum first (this changes the objective by a constant), so
    far-tail rows do not underflow. Weights below 1e-9 (optimiser round-off) are set to 0.
    """
    values = _check_elpd(elpd_i)
    n_models = values.shape[1]
    dens = np.exp(values - values.max(axis=1, keepdims=True))

    def neg_log_score(w):
        return -np.sum(np.log(dens @ w))

    def gradient(w):
        return -np.sum(dens / (dens @ w)[:, None], axis=0)

    result = optimize.minimize(
        neg_log_score,
        np.full(n_models, 1.0 / n_models),
        jac=gradient,
        bounds=optimize.Bounds(np.zeros(n_models), np.ones(n_models)),
        constraints=optimize.LinearConstraint(np.ones(n_models), lb=1.0, ub=1.0),
        method="SLSQP",
    )
    weights = np.clip(result.x, 0.0, None)
    weights[weights < _NEGLIGIBLE_WEIGHT] = 0.0  # optimiser round-off, not a weight
    return weights / weights.sum()


def pseudo_bma_weights(
    elpd_i: ArrayLike,
    *,
    bootstrap: bool = True,
    n_bootstrap: int = BOOTSTRAP_SAMPLES,
    random_seed: int = _DEFAULT_SEED,
) -> np.ndarray:
    r"""Pseudo-BMA weights, by default with the Bayesian bootstrap (pseudo-BMA+).

    Parameters
    ----------
    elpd_i : array_like
        Shape ``(n_observations, n_models)``, nats.
    bootstrap : bool
        True: pseudo-BMA+ (Yao et al. 2018, eq. 9); False: :math:`w \propto e^{\mathrm{elpd}}`
        (eq. 8).
    n_bootstrap : int
        Bayesian-bootstrap draws.
    random_seed : int
        Seed of the Dirichlet draws.

    Returns
    -------
    numpy.ndarray
        Weights summing to one.
    """
    values = _check_elpd(elpd_i)
    n = values.shape[0]
    if not bootstrap:
        z = values.sum(axis=0)
        return np.exp(z - special.logsumexp(z))
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or (
        n_bootstrap < 1
    ):
        raise DoseResponseError(f"n_bootstrap must be a positive integer; got {n_bootstrap!r}.")
    rng = np.random.default_rng(random_seed)
    alpha = rng.dirichlet(np.ones(n), size=int(n_bootstrap))  # (B, n)
    z = n * alpha @ values  # (B, K)
    w = np.exp(z - special.logsumexp(z, axis=1, keepdims=True))
    weights = w.mean(axis=0)
    return weights / weights.sum()


def _check_elpd(elpd_i: ArrayLike) -> np.ndarray:
    try:
        values = np.asarray(elpd_i, dtype=np.float64)
    except (TypeError, ValueError):
        raise DoseResponseError(
            "elpd_i must be a numeric array (n_observations, n_models)."
        ) from None
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 1:
        raise DoseResponseError(
            f"elpd_i must have shape (n_observations, n_models); got {values.shape}."
        )
    if not np.isfinite(values).all():
        raise DoseResponseError(
            "elpd_i holds NaN or infinite values; every observation needs a finite log "
            "predictive density under every model."
        )
    return values
