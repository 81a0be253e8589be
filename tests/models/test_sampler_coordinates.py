"""The sampler's mean-and-contrast coordinates of partially pooled study effects, without MCMC.

References independent of the package's code: scipy's Helmert matrix
(``scipy.linalg.helmert``), a finite-difference Jacobian of the map (its determinant must be
±1, so the log density needs no correction), central finite differences of the log density in
the sampler's coordinates, and the model-coordinate density (itself checked against the PyMC
oracle in ``test_density.py`` / ``test_late_density.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from doseresponse.models._study_coordinates import contrasts_from_effects, effects_from_contrasts
from doseresponse.models.density import LogDensity
from doseresponse.models.late_density import LateToxicityDensity
from doseresponse.models.late_toxicity import LateToxicityModel
from doseresponse.models.literature_priors import literature_prior
from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort
from doseresponse.simulate_late import simulate_late_toxicity


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12])
def test_effects_from_contrasts_is_the_helmert_matrix(n):
    basis = np.empty((n, n))
    for k, unit in enumerate(np.eye(n)):
        column = np.empty(n)
        effects_from_contrasts(unit, column)
        basis[:, k] = column
    reference = linalg.helmert(n, full=True).T  # rows of scipy's matrix are our columns
    np.testing.assert_allclose(basis, reference, rtol=0, atol=1e-14)
    rng = np.random.default_rng(n)
    z = rng.normal(size=n)
    v = np.empty(n)
    contrasts_from_effects(z, v)
    np.testing.assert_allclose(v, reference.T @ z, rtol=0, atol=1e-13)
    np.testing.assert_allclose(v[0], np.sqrt(n) * z.mean(), rtol=1e-13)


def _binary_cohort():
    return simulate_cohort(curve="log-logistic", d50=40.0, slope=1.5, n_studies=5,
                           patients_per_study=30, tau=0.3, n_aggregate_studies=1,
                           covariates={"htn": (0.4, 0.7)}, random_seed=5).data


def _dose_error_cohort():
    return simulate_cohort(curve="logistic", d50=40.0, slope=1.5, n_studies=3,
                           patients_per_study=20, tau=0.2, dose_rel_sd=0.2, random_seed=9).data


_LITERATURE = literature_prior("kidney-burman1991", curve="log-logistic", metric="BED",
                               a0="estimate")
BINARY_CASES = {
    "partial": dict(),
    "partial-pooled-slope": dict(pool_slope=True),
    "background": dict(background=True),
    "power-prior": dict(priors=_LITERATURE.priors),
    "complete": dict(pooling="complete"),
    "none": dict(pooling="none"),
}


def _densities():
    data = _binary_cohort()
    for name, options in BINARY_CASES.items():
        curve = "log-logistic"
        spec = NTCPModel(curve=curve, **options).spec_for(data)
        yield name, LogDensity(spec, data)
    error_data = _dose_error_cohort()
    spec = NTCPModel(curve="logistic", measurement_error="lognormal").spec_for(error_data)
    yield "measurement-error", LogDensity(spec, error_data)
    late = simulate_late_toxicity(n_studies=4, patients_per_study=30, random_seed=3).data
    for pooling in ("partial", "complete"):
        spec = LateToxicityModel(pooling=pooling).spec_for(late)
        yield f"late-{pooling}", LateToxicityDensity(spec, late)


DENSITIES = dict(_densities())


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_round_trip_and_unit_jacobian(name):
    density = DENSITIES[name]
    rng = np.random.default_rng(1)
    x = density.initial_point(2) + rng.normal(0.0, 0.3, density.ndim)
    y = density.sampler_from_model_points(x)
    np.testing.assert_allclose(density.model_from_sampler_points(y), x, rtol=0, atol=1e-12)
    # many points at once (chain, draw, ndim), as nutpie returns them
    stack = np.stack([x, x + 0.1, x - 0.2]).reshape(3, 1, -1)
    mapped = density.model_from_sampler_points(density.sampler_from_model_points(stack))
    np.testing.assert_allclose(mapped, stack, rtol=0, atol=1e-12)
    h = 1e-6
    jacobian = np.column_stack([
        (density.model_from_sampler_points(y + h * e)
         - density.model_from_sampler_points(y - h * e)) / (2 * h)
        for e in np.eye(density.ndim)
    ])
    np.testing.assert_allclose(abs(np.linalg.det(jacobian)), 1.0, rtol=1e-7)
    if density.study_effect_blocks.shape[0] == 0:  # nothing partially pooled: the identity
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_sampler_density_is_the_model_density_with_its_gradient_pulled_back(name):
    density = DENSITIES[name]
    rng = np.random.default_rng(7)
    for _ in range(2):
        y = density.sampler_initial_point(int(rng.integers(1000))) + rng.normal(
            0.0, 0.3, density.ndim)
        value, grad = density.sampler_logp_and_grad(y)
        x = density.model_from_sampler_points(y)
        assert np.isfinite(value)
        np.testing.assert_allclose(value, density.logp(x), rtol=1e-13, atol=1e-10)
        h = 1e-6
        fd = np.array([
            (density.sampler_logp_and_grad(y + h * e)[0]
             - density.sampler_logp_and_grad(y - h * e)[0]) / (2 * h)
            for e in np.eye(density.ndim)
        ])
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * (1.0 + np.abs(grad).max()))
        buffered = density.sampler_logp_and_grad_function()(np.ascontiguousarray(y))
        assert buffered[0] == value
        np.testing.assert_array_equal(buffered[1], grad)


def test_contrast_coordinates_separate_the_average_study_effect():
    # the sampler's first D50 coordinate is the average study log D50 (what the data pin down)
    density = DENSITIES["partial"]
    x = density.initial_point(4)
    y = density.sampler_from_model_points(x)
    b = density.blocks
    tau = np.exp(x[b["tau_log__"]][0])
    average = x[b["log_d50"]][0] + tau * x[b["z_d50"]].mean()
    np.testing.assert_allclose(y[b["log_d50"]][0], average, rtol=1e-13)
    np.testing.assert_allclose(y[b["z_d50"]][0], np.sqrt(5) * x[b["z_d50"]].mean(), rtol=1e-12)
    np.testing.assert_allclose(np.sum(y[b["z_d50"]] ** 2), np.sum(x[b["z_d50"]] ** 2),
                               rtol=1e-12)  # an orthogonal map keeps the N(0, I) prior
