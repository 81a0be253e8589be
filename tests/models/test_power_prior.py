"""Normalised power prior with an estimated literature weight a0: closed forms, the compiled
density against the PyMC oracle (log density and gradient to 1e-9), settings and errors (no
MCMC here; the posterior of a0 under agreeing and conflicting data is in the slow file)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.density import LogDensity
from doseresponse.models.literature_priors import literature_prior
from doseresponse.models.model import NTCPModel
from doseresponse.models.power_prior import conditional_normal, normalise_power_prior
from doseresponse.simulate import simulate_cohort

FAST = "FAST_COMPILE"


def _data(seed=3, aggregate=1):
    return simulate_cohort(curve="log-logistic", d50=50.0, slope=1.5, n_studies=3,
                           patients_per_study=30, tau=0.2, n_aggregate_studies=aggregate,
                           dose_metric="BED", random_seed=seed).data


def _spec(data, pooling="partial", background=False, a0_prior=(2.0, 3.0)):
    lit = literature_prior("kidney-burman1991", curve="log-logistic", metric="BED",
                           a0="estimate", a0_prior=a0_prior)
    return NTCPModel(curve="log-logistic", pooling=pooling, priors=lit.priors,
                     background=background).spec_for(data), lit


def test_conditional_prior_is_the_fixed_a0_power_prior():
    """At every fixed a0 the normalised conditional prior is literature_prior's a0 prior."""
    for a0 in (1.0, 0.5, 0.1):
        fixed = literature_prior("kidney-burman1991", curve="log-logistic", a0=a0)
        est = literature_prior("kidney-burman1991", curve="log-logistic", a0="estimate")
        power = est.priors["power_prior"]
        for key in ("d50", "slope"):
            mean, sd = conditional_normal(
                a0, math.log(power[key]["median"]), power[key]["sigma"],
                math.log(est.priors[key]["median"]), est.priors[key]["sigma"],
            )
            assert math.exp(float(mean)) == pytest.approx(fixed.priors[key]["median"],
                                                          rel=1e-12)
            assert float(sd) == pytest.approx(fixed.priors[key]["sigma"], rel=1e-12)
    # the product of the two normal kernels, normalised, by numerical integration
    mu_h, sd_h, mu0, sd0, a0 = 3.9, 0.2, 3.5, 0.8, 0.3
    grid = np.linspace(0.0, 8.0, 200001)
    kernel = np.exp(-a0 * (grid - mu_h) ** 2 / (2 * sd_h**2)) * stats.norm.pdf(grid, mu0, sd0)
    weights = kernel / np.trapezoid(kernel, grid)
    mean, sd = conditional_normal(a0, mu_h, sd_h, mu0, sd0)
    assert np.trapezoid(grid * weights, grid) == pytest.approx(float(mean), abs=1e-9)
    var = np.trapezoid((grid - float(mean)) ** 2 * weights, grid)
    assert math.sqrt(var) == pytest.approx(float(sd), rel=1e-7)


def test_kernel_power_prior_terms_equal_the_closed_form():
    data = _data()
    spec, _ = _spec(data, pooling="complete")
    density = LogDensity(spec, data)
    power, priors = spec.priors["power_prior"], spec.priors
    base = NTCPModel(curve="log-logistic", pooling="complete",
                     priors={k: priors[k] for k in ("d50", "slope")}).spec_for(data)
    plain = LogDensity(base, data)  # same likelihood, no prior on log D50 and log slope
    rng = np.random.default_rng(4)
    for phi in (-3.0, 0.0, 2.5):
        x = plain.initial_point(int(rng.integers(1000)))
        a0 = special.expit(phi)
        y = np.append(x, phi)
        expected = plain.logp(x)
        for key, j in (("d50", 0), ("slope", 1)):  # swap pi0 for the a0-conditional prior
            mean, sd = conditional_normal(a0, math.log(power[key]["median"]),
                                          power[key]["sigma"], math.log(priors[key]["median"]),
                                          priors[key]["sigma"])
            expected += stats.norm.logpdf(x[j], float(mean), float(sd))
            expected -= stats.norm.logpdf(x[j], math.log(priors[key]["median"]),
                                          priors[key]["sigma"])
        # Beta(2, 3) on a0 with the log-Jacobian of the logit: a0 (1 - a0)
        expected += stats.beta.logpdf(a0, 2.0, 3.0) + math.log(a0 * (1 - a0))
        assert density.logp(y) == pytest.approx(expected, rel=1e-12, abs=1e-10)


@pytest.mark.parametrize("pooling,background", [("partial", False), ("complete", True)])
def test_power_prior_density_equals_pymc_logp_and_gradient(pooling, background):
    from doseresponse.models.hierarchical import build_model

    data = _data()
    spec, _ = _spec(data, pooling=pooling, background=background)
    model = build_model(spec, data)
    density = LogDensity(spec, data)
    assert "a0_logodds__" in density.blocks
    assert set(density.blocks) == {v.name for v in model.value_vars}
    logp_fn = model.compile_logp(mode=FAST)
    dlogp_fn = model.compile_dlogp(mode=FAST)
    start = model.initial_point()
    # PyMC's Beta normalisers differ from scipy's exact ln B(a, b) by a constant (measured)
    import pymc as pm

    offset = 0.0
    for a, b in ((2.0, 3.0), *([(1.0, 9.0)] if background else [])):
        values = np.array([0.05, 0.3, 0.8])
        diff = pm.logp(pm.Beta.dist(a, b), values).eval() - stats.beta.logpdf(values, a, b)
        np.testing.assert_allclose(diff, diff[0], rtol=0, atol=1e-12)
        offset += float(diff[0])
    rng = np.random.default_rng(13)
    for phi in (-3.0, -0.5, 1.5):
        x = density.initial_point(int(rng.integers(1000))) + rng.normal(0.0, 0.3, density.ndim)
        x[density.blocks["a0_logodds__"]] = phi
        point = {name: x[where].reshape(np.shape(start[name]))
                 for name, where in density.blocks.items()}
        value, grad = density.logp_and_grad(x)
        np.testing.assert_allclose(value, logp_fn(point) - offset, rtol=1e-10, atol=1e-8)
        flat, pymc_grad, offset_v = dlogp_fn(point), np.zeros(density.ndim), 0
        for var in model.value_vars:
            size = int(np.size(point[var.name]))
            pymc_grad[density.blocks[var.name]] = flat[offset_v:offset_v + size]
            offset_v += size
        np.testing.assert_allclose(grad, pymc_grad, rtol=1e-9, atol=1e-9)
    assert density.expand(x)["a0"] == pytest.approx(special.expit(1.5), rel=1e-14)


def test_power_prior_gradient_matches_finite_differences():
    data = _data(aggregate=0)
    spec, _ = _spec(data, a0_prior=(1.0, 1.0))
    density = LogDensity(spec, data)
    rng = np.random.default_rng(7)
    x = density.initial_point(3) + rng.normal(0.0, 0.3, density.ndim)
    step = 1e-6
    numeric = np.array([
        (density.logp(x + step * e) - density.logp(x - step * e)) / (2 * step)
        for e in np.eye(density.ndim)
    ])
    np.testing.assert_allclose(density.logp_and_grad(x)[1], numeric, rtol=1e-6, atol=1e-6)


def test_estimated_literature_prior_settings_and_errors():
    lit = literature_prior("kidney-burman1991", curve="log-logistic", metric="BED",
                           a0="estimate")
    power = lit.priors["power_prior"]
    assert lit.a0 == "estimate" and power["a0_alpha"] == 1.0 and power["a0_beta"] == 1.0
    assert power["d50"]["median"] == pytest.approx(28.0 * (1 + 2 / 2.6), rel=1e-12)
    assert power["d50"]["sigma"] == pytest.approx(lit.historical_sd["d50"], rel=1e-12)
    assert "estimated" in lit.describe() and "estimated" in lit.priors["d50"]["source"]
    with pytest.raises(DoseResponseError, match="'estimate'"):
        literature_prior("kidney-burman1991", a0="learn")
    with pytest.raises(DoseResponseError, match=r"a0_prior\[1\]"):
        literature_prior("kidney-burman1991", a0="estimate", a0_prior=(1.0, 0.0))
    with pytest.raises(DoseResponseError, match="pooling='partial' or 'complete'"):
        NTCPModel(curve="log-logistic", pooling="none", priors=lit.priors).spec_for(_data())
    with pytest.raises(DoseResponseError, match="historical estimate 'slope'"):
        normalise_power_prior({"d50": {"median": 40.0, "sigma": 0.2}})
    with pytest.raises(DoseResponseError, match="unknown setting"):
        normalise_power_prior({**power, "weight": 0.5})


def test_late_toxicity_model_rejects_the_power_prior_it_does_not_implement():
    from doseresponse.models.priors import default_priors, resolve_priors

    lit = literature_prior("kidney-burman1991", curve="log-logistic", a0="estimate")
    with pytest.raises(UnknownNameError, match="power_prior"):
        resolve_priors(default_priors([10.0, 100.0], "gamma50"), lit.priors, ())


def test_conflict_check_of_an_estimated_weight_uses_the_literature_at_face_value():
    import xarray as xr

    from doseresponse.models.prior_conflict import conflict_note, prior_data_conflict

    sim = simulate_cohort(curve="log-logistic", d50=100.0, slope=1.5, n_studies=1,
                          patients_per_study=300, dose_distribution=(70.0, 0.4),
                          dose_metric="BED", random_seed=5)
    est = literature_prior("kidney-burman1991", curve="log-logistic", a0="estimate")
    face = literature_prior("kidney-burman1991", curve="log-logistic", a0=1.0)
    spec = NTCPModel(curve="log-logistic", pooling="complete",
                     priors=est.priors).spec_for(sim.data)
    checked = prior_data_conflict(spec, sim.data)
    reference = prior_data_conflict(
        NTCPModel(curve="log-logistic", pooling="complete",
                  priors=face.priors).spec_for(sim.data), sim.data)
    assert checked.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert checked.conflict and "a0 = 1" in checked.method

    class _Fit:  # the attributes conflict_note reads
        pass

    fake = _Fit()
    fake.spec, fake.data = spec, sim.data
    draws = np.random.default_rng(1).beta(2.0, 8.0, size=(2, 500))
    fake.posterior = xr.Dataset({"a0": (("chain", "draw"), draws)})
    verdict, weight = conflict_note(fake)
    assert verdict.startswith("PRIOR-DATA CONFLICT") and "a0 = 1" in verdict
    median = float(np.median(draws))
    assert weight.startswith("literature weight a0") and f"{median:.3g}" in weight


def test_prior_predictive_draws_the_weight_then_the_conditional_prior():
    """The D50 prior of an estimated-a0 model is the Beta mixture of the conditional normals:
    its cdf, by quadrature over a0, against the prior predictive draws (3-SE binomial bound)."""
    from scipy import integrate

    from doseresponse.models.prior_predictive import prior_predictive_curves

    data = _data()
    spec, _ = _spec(data, a0_prior=(2.0, 3.0))
    model = NTCPModel(curve="log-logistic", priors=spec.priors)
    n = 20000
    curves = prior_predictive_curves(model, data, n_draws=n, random_seed=3)
    power, initial = spec.priors["power_prior"]["d50"], spec.priors["d50"]
    log_d50 = np.log(curves.d50)
    for q in np.quantile(log_d50, [0.1, 0.5, 0.9]):
        def integrand(a0, q=q):
            mean, sd = conditional_normal(a0, math.log(power["median"]), power["sigma"],
                                          math.log(initial["median"]), initial["sigma"])
            return stats.norm.cdf(q, float(mean), float(sd)) * stats.beta.pdf(a0, 2.0, 3.0)

        cdf = integrate.quad(integrand, 0.0, 1.0)[0]
        empirical = float(np.mean(log_d50 <= q))
        assert abs(empirical - cdf) < 3.0 * math.sqrt(cdf * (1 - cdf) / n), (q, empirical, cdf)
    # and not the vague initial prior alone (which is 6 times wider than the literature)
    assert np.std(log_d50) < 0.8 * initial["sigma"]
