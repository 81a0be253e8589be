"""The compiled log density against independent references, without MCMC.

The PyMC model built by ``build_model`` is the oracle: :class:`LogDensity` (the compiled kernel,
the one implementation of the fast path) must give the same log density (normalising constants
included) and gradient on the same unconstrained parameters. Every family × pooling × data
layout is also checked against central finite differences, and the curve terms against closed
forms written out here with scipy (independent of the package's code).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from scipy import special

from doseresponse.models._curve_kernel import FAMILY_CODES, log_pair_gradient_vector
from doseresponse.models.curves import CURVE_FAMILIES, get_curve_family, log_pair
from doseresponse.models.density import LogDensity
from doseresponse.models.hierarchical import build_model
from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort

FAMILIES = sorted(CURVE_FAMILIES)
SLOPES = {"gamma50": 1.5, "m": 0.27}
LAYOUTS = [
    ("partial", False), ("partial", True), ("complete", False), ("none", False),
]
# PyMC comparisons compile a PyTensor function per case: every family on the richest layout, every
# layout on one family (FAST_COMPILE: Python implementations, no C compilation)
# Every family against the PyMC oracle; the probit and Poisson graphs are the slowest to compile
# (16 s and 8 s of the default suite on 2 cores), so they run in the slow suite, while their
# analytic gradients are checked against finite differences for every layout by default.
_SLOW_ORACLE = {"probit", "poisson"}
PYMC_CASES = [
    pytest.param(curve, "partial", True, True, marks=pytest.mark.slow)
    if curve in _SLOW_ORACLE else (curve, "partial", True, True)
    for curve in FAMILIES
] + [
    ("logistic", "partial", False, False), ("logistic", "complete", False, False),
    ("log-logistic", "none", False, True),
]
FAST = "FAST_COMPILE"


def _cohort(curve: str, *, aggregate: bool, covariates: bool = True, seed: int = 3):
    return simulate_cohort(
        curve=curve, d50=40.0, slope=SLOPES[CURVE_FAMILIES[curve].slope_name], n_studies=4,
        patients_per_study=25, tau=0.3, n_aggregate_studies=2 if aggregate else 0,
        covariates={"htn": (0.4, 0.7)} if covariates else None, random_seed=seed,
    ).data


@pytest.fixture(scope="module")
def cohorts():
    return {
        (curve, aggregate): _cohort(curve, aggregate=aggregate)
        for curve in FAMILIES
        for aggregate in (False, True)
    }


def _pymc_point(model, density, x):
    start = model.initial_point()
    return {
        name: x[where].reshape(np.shape(start[name])) for name, where in density.blocks.items()
    }


def _pymc_gradient(model, density, point):
    flat = model.compile_dlogp(mode=FAST)(point)
    grad, offset = np.zeros(density.ndim), 0
    for var in model.value_vars:
        size = int(np.size(point[var.name]))
        grad[density.blocks[var.name]] = flat[offset : offset + size]
        offset += size
    return grad


@pytest.mark.parametrize("curve,pooling,pool_slope,aggregate", PYMC_CASES)
def test_density_equals_pymc_logp_and_gradient(cohorts, curve, pooling, pool_slope, aggregate):
    data = cohorts[(curve, aggregate)]
    spec = NTCPModel(curve=curve, pooling=pooling, pool_slope=pool_slope).spec_for(data)
    model = build_model(spec, data)
    density = LogDensity(spec, data)
    assert set(density.blocks) == {v.name for v in model.value_vars}
    logp_fn = model.compile_logp(mode=FAST)
    rng = np.random.default_rng(11)
    for _ in range(3):
        x = density.initial_point(int(rng.integers(1000))) + rng.normal(0.0, 0.3, density.ndim)
        point = _pymc_point(model, density, x)
        value, grad = density.logp_and_grad(x)
        # atol 1e-8: PyMC's half-normal log density is 1.90e-9 above the exact
        # 0.5 ln(2/pi) - ln(sigma) - x^2/(2 sigma^2) (measured with pm.logp, PyMC 5.28)
        np.testing.assert_allclose(value, logp_fn(point), rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(grad, _pymc_gradient(model, density, point), rtol=1e-8,
                                   atol=1e-8)
    _check_expand(model, density, x, data)


# background risk b + (1 - b) F: every family on the richest layout (patients, aggregate bins
# with quadrature, covariates), plus complete pooling and measurement error. The background acts
# on each row's (ln F, ln(1 - F)) whatever the family, so the default suite compiles three PyMC
# models (one per code path); the other families run with the slow tests
_DEFAULT_BACKGROUND = {"log-logistic"}  # the others in the slow suite (10 s of compile each)
BACKGROUND_CASES = [
    (curve, "partial", True, "none") if curve in _DEFAULT_BACKGROUND
    else pytest.param(curve, "partial", True, "none", marks=pytest.mark.slow)
    for curve in FAMILIES
] + [
    # complete pooling is covered by the finite-difference tests by default (8 s of compile)
    pytest.param("log-logistic", "complete", False, "none", marks=pytest.mark.slow),
    ("probit", "partial", False, "lognormal"),
]


@pytest.mark.parametrize("curve,pooling,pool_slope,errors", BACKGROUND_CASES)
def test_background_density_equals_pymc_logp_and_gradient(cohorts, curve, pooling, pool_slope,
                                                          errors):
    data = cohorts[(curve, True)]
    if errors == "lognormal":
        data = _cohort_with_dose_se(curve)
    spec = NTCPModel(curve=curve, pooling=pooling, pool_slope=pool_slope, background=True,
                     measurement_error=errors).spec_for(data)
    assert spec.background and spec.priors["background"]["beta"] == 9.0
    model = build_model(spec, data)
    density = LogDensity(spec, data)
    assert "background_logodds__" in density.blocks
    assert set(density.blocks) == {v.name for v in model.value_vars}
    logp_fn = model.compile_logp(mode=FAST)
    offset = _pymc_beta_offset(1.0, 9.0)
    assert abs(offset) < 1e-6  # PyMC's Beta normaliser: 3.97e-8 above ln 9 (PyMC 5.28)
    rng = np.random.default_rng(12)
    for theta in (-4.0, -1.5, 0.7):  # b = 0.018, 0.18, 0.67
        x = density.initial_point(int(rng.integers(1000))) + rng.normal(0.0, 0.3, density.ndim)
        x[density.blocks["background_logodds__"]] = theta
        point = _pymc_point(model, density, x)
        value, grad = density.logp_and_grad(x)
        # the kernel uses the exact -ln B(a, b) (scipy.special.betaln); PyMC's Beta log density
        # is off by a constant, measured above against scipy.stats.beta
        np.testing.assert_allclose(value, logp_fn(point) - offset, rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(grad, _pymc_gradient(model, density, point), rtol=1e-8,
                                   atol=1e-8)
    _check_expand(model, density, x, data)
    expanded = density.expand(x)
    np.testing.assert_allclose(expanded["background"], special.expit(0.7), rtol=1e-14)


def _pymc_beta_offset(a: float, b: float) -> float:
    """PyMC's Beta log density minus scipy's at three points (asserted constant)."""
    import pymc as pm
    from scipy import stats

    values = np.array([0.05, 0.3, 0.8])
    diff = pm.logp(pm.Beta.dist(a, b), values).eval() - stats.beta.logpdf(values, a, b)
    np.testing.assert_allclose(diff, diff[0], rtol=0, atol=1e-12)
    return float(diff[0])


def _cohort_with_dose_se(curve: str):
    sim = simulate_cohort(
        curve=curve, d50=40.0, slope=SLOPES[CURVE_FAMILIES[curve].slope_name], n_studies=3,
        patients_per_study=20, tau=0.3, n_aggregate_studies=1, dose_rel_sd=0.15, random_seed=4,
    )
    return sim.data


@pytest.mark.parametrize("curve", FAMILIES)
def test_background_gradient_matches_finite_differences(cohorts, curve):
    data = cohorts[(curve, True)]
    spec = NTCPModel(curve=curve, background={"alpha": 2.0, "beta": 5.0}).spec_for(data)
    density = LogDensity(spec, data)
    rng = np.random.default_rng(6)
    x = density.initial_point(2) + rng.normal(0.0, 0.3, density.ndim)
    step = 1e-6
    numeric = np.array([
        (density.logp(x + step * e) - density.logp(x - step * e)) / (2 * step)
        for e in np.eye(density.ndim)
    ])
    np.testing.assert_allclose(density.logp_and_grad(x)[1], numeric, rtol=1e-5, atol=1e-5)


def test_background_terms_equal_the_closed_form():
    """ln P and ln(1 - P) of b + (1 - b) F against scipy, written out independently."""
    from doseresponse.models._curve_kernel import add_background

    for b in (1e-6, 0.05, 0.4):
        for f in (1e-30, 0.01, 0.5, 0.999):
            log_p, log_q, dp_eta, dp_lam, dp_b, dq_b = add_background(
                np.log(f), np.log1p(-f), 1.0, 2.0, np.log(b), np.log1p(-b)
            )
            total = b + (1 - b) * f
            np.testing.assert_allclose(log_p, np.log(total), rtol=1e-13)
            np.testing.assert_allclose(log_q, np.log1p(-(b + f - b * f)), rtol=1e-13)
            # d ln P / d ln F = (1 - b) F / P; d ln P / d logit b = b (1 - b)(1 - F) / P
            np.testing.assert_allclose(dp_eta, (1 - b) * f / total, rtol=1e-12)
            np.testing.assert_allclose(dp_lam, 2.0 * (1 - b) * f / total, rtol=1e-12)
            np.testing.assert_allclose(dp_b, b * (1 - b) * (1 - f) / total, rtol=1e-12)
            np.testing.assert_allclose(dq_b, -b, rtol=1e-14)


@pytest.mark.parametrize("aggregate", [False, True], ids=["ipd", "ipd+aggregate"])
@pytest.mark.parametrize("pooling,pool_slope", LAYOUTS)
@pytest.mark.parametrize("curve", FAMILIES)
def test_gradient_matches_finite_differences_for_every_layout(cohorts, curve, pooling,
                                                               pool_slope, aggregate):
    data = cohorts[(curve, aggregate)]
    spec = NTCPModel(curve=curve, pooling=pooling, pool_slope=pool_slope).spec_for(data)
    density = LogDensity(spec, data)
    rng = np.random.default_rng(5)
    x = density.initial_point(1) + rng.normal(0.0, 0.3, density.ndim)
    value, grad = density.logp_and_grad(x)
    assert np.isfinite(value)
    step = 1e-6
    numeric = np.array([
        (density.logp(x + step * e) - density.logp(x - step * e)) / (2 * step)
        for e in np.eye(density.ndim)
    ])
    # central differences of step 1e-6 carry ~1e-9 relative round-off and O(h^2) truncation
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def _closed_form_log_pair(curve: str, dose, d50: float, slope: float):
    """(ln P, ln(1 - P)) from the published closed forms, with scipy (independent code)."""
    ln2 = np.log(2.0)
    with np.errstate(divide="ignore", over="ignore"):
        if curve == "logistic":
            x = 4 * slope * (dose / d50 - 1)
            return special.log_expit(x), special.log_expit(-x)
        if curve == "log-logistic":
            x = 4 * slope * (np.log(np.maximum(dose, 1e-300)) - np.log(d50))
            return special.log_expit(x), special.log_expit(-x)
        if curve == "probit":
            z = (dose - d50) / (slope * d50)
            return special.log_ndtr(z), special.log_ndtr(-z)
        k = 2 * slope / ln2
        if curve == "cloglog":
            hazard = ln2 * (np.maximum(dose, 1e-300) / d50) ** k
            return np.log(-np.expm1(-hazard)), -hazard
        hazard = ln2 * np.exp(-k * (dose / d50 - 1))  # poisson
        return -hazard, np.log(-np.expm1(-hazard))


@pytest.mark.parametrize("curve", FAMILIES)
def test_curve_terms_equal_closed_forms_and_their_derivatives(curve):
    family = get_curve_family(curve)
    slope = SLOPES[family.slope_name]
    dose = np.array([0.0, 1.0, 10.0, 30.0, 40.0, 55.0, 90.0, 400.0])
    eta, lam = np.full(dose.size, np.log(40.0)), np.full(dose.size, np.log(slope))
    code = FAMILY_CODES[curve]
    log_p, log_q, dp_eta, dq_eta, dp_lam, dq_lam = log_pair_gradient_vector(code, dose, eta, lam)
    ref_p, ref_q = _closed_form_log_pair(curve, dose, 40.0, slope)
    both = np.isfinite(ref_p) & (ref_p > -700)
    np.testing.assert_allclose(log_p[both], ref_p[both], rtol=1e-12, atol=1e-14)
    both = np.isfinite(ref_q) & (ref_q > -700)
    np.testing.assert_allclose(log_q[both], ref_q[both], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(family.probability(dose, 40.0, slope), np.exp(log_p),
                               rtol=1e-15, atol=0.0)
    h = 1e-6
    for analytic, index, shift in ((dp_eta, 0, (h, 0)), (dq_eta, 1, (h, 0)),
                                   (dp_lam, 0, (0, h)), (dq_lam, 1, (0, h))):
        up = log_pair_gradient_vector(code, dose, eta + shift[0], lam + shift[1])[index]
        down = log_pair_gradient_vector(code, dose, eta - shift[0], lam - shift[1])[index]
        ok = np.isfinite(up) & np.isfinite(down)  # ln P = -inf at zero dose (cloglog)
        numeric = (up[ok] - down[ok]) / (2 * h)
        np.testing.assert_allclose(analytic[ok], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("curve", FAMILIES)
def test_curve_terms_far_into_the_tails_equal_closed_forms(curve):
    rng = np.random.default_rng(8)
    dose = np.concatenate([[1e-3], rng.uniform(0.0, 300.0, 400)])
    d50 = np.exp(rng.normal(np.log(40.0), 1.0, dose.size))
    slope = np.exp(rng.normal(0.0, 1.2, dose.size))
    got = log_pair_gradient_vector(FAMILY_CODES[curve], dose, np.log(d50), np.log(slope))
    ref_p, ref_q = _closed_form_log_pair(curve, dose, d50, slope)
    for value, ref in ((got[0], ref_p), (got[1], ref_q)):
        ok = np.isfinite(ref) & (ref > -700)  # below, P underflows in the closed forms
        # far tails: the kernel's erfc-based log Phi and scipy's log_ndtr differ ~1e-10 relative
        np.testing.assert_allclose(value[ok], ref[ok], rtol=1e-9, atol=1e-300)


def test_probit_lower_tail_uses_the_asymptotic_series_accurately():
    z = np.array([-0.5, -2.0, -20.0, -36.9, -37.1, -60.0, -500.0])
    m = 0.25
    dose = 40.0 * (1.0 + z * m)  # z = (D/D50 - 1)/m
    dose = np.where(dose < 0, 0.0, dose)
    z = (dose / 40.0 - 1.0) / m
    got = log_pair_gradient_vector(
        FAMILY_CODES["probit"], dose, np.full(z.size, np.log(40.0)), np.full(z.size, np.log(m))
    )
    np.testing.assert_allclose(got[0], special.log_ndtr(z), rtol=1e-13)


def test_log_pair_is_the_checks_likelihood():
    dose = np.array([5.0, 40.0, 80.0])
    for curve in FAMILIES:
        slope = SLOPES[get_curve_family(curve).slope_name]
        log_p, log_q = log_pair(curve, dose, 40.0, slope)
        np.testing.assert_allclose(np.exp(log_p) + np.exp(log_q), 1.0, rtol=1e-12)


def _check_expand(model, density, x, data):
    """Named outputs, shapes, dims and values equal the PyMC model's; so do many draws at once."""
    names = [v.name for v in model.free_RVs + model.deterministics]
    assert sorted(density.names) == sorted(names)
    import pytensor

    point = _pymc_point(model, density, x)
    outputs = model.replace_rvs_by_values(model.free_RVs + model.deterministics)
    evaluate = pytensor.function(model.value_vars, outputs, mode=FAST)
    values = dict(
        zip(names, evaluate(*[point[v.name] for v in model.value_vars]), strict=True)
    )
    expanded = density.expand(x)
    for name, shape in zip(density.names, density.shapes, strict=True):
        assert expanded[name].shape == shape
        np.testing.assert_allclose(expanded[name], values[name], rtol=1e-12)
        assert density.dims.get(name, ()) == tuple(model.named_vars_to_dims.get(name, ()))
    many = density.expand_draws(np.stack([x, x + 0.1])[None])  # (chain=1, draw=2, ndim)
    for name in density.names:
        np.testing.assert_allclose(many[name][0, 0], expanded[name], rtol=1e-14)
        np.testing.assert_allclose(many[name][0, 1], density.expand(x + 0.1)[name], rtol=1e-14)
    if "study" in density.coords:
        assert density.coords["study"] == [str(s) for s in data.studies]


def test_c_callback_equals_python_density(cohorts):
    from doseresponse.models._nutpie_callbacks import compiled_model

    data = cohorts[("log-logistic", True)]
    density = LogDensity(NTCPModel(curve="log-logistic", pool_slope=True).spec_for(data), data)
    compiled = compiled_model(density)
    # nutpie's model runs in the sampler's coordinates (study effects as mean and contrasts)
    x = density.sampler_initial_point(9)
    np.testing.assert_array_equal(compiled.initial_point_func(9), x)
    grad, logp = np.zeros(density.ndim), np.zeros(1)
    double_p = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        density.ndim, x.ctypes.data_as(double_p), grad.ctypes.data_as(double_p),
        logp.ctypes.data_as(double_p), ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    assert code == 0
    value, expected = density.sampler_logp_and_grad(x)
    assert logp[0] == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(grad, expected, rtol=1e-14)
    assert logp[0] == pytest.approx(density.logp(density.model_from_sampler_points(x)),
                                    rel=1e-13)


def test_impossible_data_give_minus_infinity_not_nan():
    # an event at dose 0 is impossible under cloglog (P(0) = 0)
    import pandas as pd

    from doseresponse.data import DoseResponseData

    frame = pd.DataFrame({"study": ["a"] * 4, "dose": [0.0, 10.0, 20.0, 30.0],
                          "y": [1, 0, 1, 1]})
    data = DoseResponseData.from_frame(frame, dose="dose", outcome="y", study="study")
    spec = NTCPModel(curve="cloglog", pooling="complete").spec_for(data)
    value, grad = LogDensity(spec, data).logp_and_grad(np.array([3.0, 0.4]))
    assert value == -np.inf and np.all(grad == 0.0)


@pytest.mark.parametrize("curve", ["logistic", "cloglog"])
def test_measurement_error_density_equals_pymc(curve):
    sim = simulate_cohort(
        curve=curve, d50=40.0, slope=1.5, n_studies=3, patients_per_study=12, tau=0.3,
        covariates={"htn": (0.4, 0.7)}, dose_rel_sd=0.2, n_aggregate_studies=1, random_seed=6,
    )
    spec = NTCPModel(curve=curve, measurement_error="lognormal").spec_for(sim.data)
    model = build_model(spec, sim.data)
    density = LogDensity(spec, sim.data)
    assert set(density.blocks) == {v.name for v in model.value_vars}
    assert density.blocks["dose_error_z"].stop - density.blocks["dose_error_z"].start == 24
    logp_fn = model.compile_logp(mode=FAST)
    rng = np.random.default_rng(2)
    x = density.initial_point(3) + rng.normal(0.0, 0.3, density.ndim)
    point = _pymc_point(model, density, x)
    value, grad = density.logp_and_grad(x)
    np.testing.assert_allclose(value, logp_fn(point), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(grad, _pymc_gradient(model, density, point), rtol=1e-8, atol=1e-8)
    _check_expand(model, density, x, sim.data)


def test_measurement_error_needs_dose_uncertainty():
    from doseresponse.exceptions import DoseResponseError

    data = _cohort("logistic", aggregate=False)
    with pytest.raises(DoseResponseError, match="dose_se"):
        NTCPModel(measurement_error="lognormal").spec_for(data)
    with pytest.raises(Exception, match="measurement_error"):
        NTCPModel(measurement_error="berkson")
