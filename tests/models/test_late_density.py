"""The late-toxicity log density against independent references, without MCMC.

* onset terms against closed forms written here with scipy (Weibull / log-normal cdf, sf, pdf);
* the whole log posterior against a direct numpy/scipy sum of the row likelihoods and priors;
* its analytic gradient against central finite differences (every family × onset × pooling);
* log density and gradient against the PyMC oracle (``late_hierarchical``, PyMC's own
  ``Weibull`` / ``LogNormal``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from doseresponse.models.curves import get_curve_family
from doseresponse.models.late_density import LateToxicityDensity
from doseresponse.models.late_toxicity import LateToxicityModel
from doseresponse.simulate_late import simulate_late_toxicity

FAMILIES = ["log-logistic", "logistic", "probit", "cloglog"]
ONSETS = ["weibull", "lognormal"]
POOLINGS = ["partial", "complete", "none"]


@pytest.fixture(scope="module")
def cohort():
    return simulate_late_toxicity(n_studies=3, patients_per_study=40, covariate_factor=0.7,
                                  onset_dose_slope=-0.4, random_seed=11)


def _density(cohort, curve="log-logistic", onset="weibull", pooling="partial", effect=True):
    model = LateToxicityModel(curve=curve, onset=onset, pooling=pooling, onset_dose_effect=effect)
    spec = model.spec_for(cohort.data)
    return spec, LateToxicityDensity(spec, cohort.data)


def _scipy_onset(onset, median, shape):
    if onset == "weibull":
        return stats.weibull_min(c=shape, scale=median / math.log(2.0) ** (1.0 / shape))
    return stats.lognorm(s=1.0 / shape, scale=median)


def test_cohort_has_every_kind_of_row(cohort):
    _, density = _density(cohort)
    kinds = set(density.rows.kind.tolist())
    assert kinds == {0, 2}  # visits: censored and interval-censored rows
    assert (density.rows.lower[density.rows.kind == 2] == 0).any()  # events before visit 1


@pytest.mark.parametrize("onset", ONSETS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_log_density_equals_a_direct_scipy_sum(cohort, onset, pooling):
    spec, density = _density(cohort, onset=onset, pooling=pooling)
    rng = np.random.default_rng(3)
    x = density.initial_point(5) + 0.1 * rng.standard_normal(density.ndim)
    values = density.expand(x)
    rows, priors = density.rows, spec.priors
    family = get_curve_family(spec.curve)
    if pooling == "none":
        d50 = values["d50_study"][rows.study]
        slope = values["gamma50_study"][rows.study]
    else:
        d50 = values["d50_study"][rows.study] if pooling == "partial" else values["d50"]
        slope = values["gamma50"]
    d50 = d50 * values["factor"][0] ** rows.covariates[:, 0] if spec.covariates else d50
    p = family.probability(rows.dose, d50, slope)
    t50 = values["onset_median"] * (rows.dose / spec.dose_reference) ** values["onset_dose_slope"]
    total = 0.0
    for i in range(rows.dose.size):
        dist = _scipy_onset(onset, t50[i], values["onset_shape"])
        if rows.kind[i] == 0:
            total += math.log(1 - p[i] + p[i] * dist.sf(rows.upper[i]))
        elif rows.kind[i] == 1:
            total += math.log(p[i] * dist.pdf(rows.upper[i]))
        else:
            total += math.log(p[i] * (dist.cdf(rows.upper[i]) - dist.cdf(rows.lower[i])))
    b = density.blocks

    def normal(block, mean, sd):
        return stats.norm(mean, sd).logpdf(x[b[block]]).sum()

    if pooling == "none":
        total += normal("log_d50_study", math.log(priors["d50"]["median"]), priors["d50"]["sigma"])
        total += normal("log_slope_study", math.log(priors["slope"]["median"]),
                        priors["slope"]["sigma"])
    else:
        total += normal("log_d50", math.log(priors["d50"]["median"]), priors["d50"]["sigma"])
        total += normal("log_slope", math.log(priors["slope"]["median"]), priors["slope"]["sigma"])
    if pooling == "partial":
        u = x[b["tau_log__"]][0]
        total += stats.halfnorm(scale=priors["tau"]["sigma"]).logpdf(math.exp(u)) + u
        total += normal("z_d50", 0.0, 1.0)
    total += normal("log_factor", math.log(priors["factor:risk"]["median"]),
                    priors["factor:risk"]["sigma"])
    total += normal("log_onset_median", math.log(priors["onset_median"]["median"]),
                    priors["onset_median"]["sigma"])
    total += normal("log_onset_shape", math.log(priors["onset_shape"]["median"]),
                    priors["onset_shape"]["sigma"])
    total += normal("onset_dose_slope", 0.0, priors["onset_dose_slope"]["sigma"])
    assert density.logp(x) == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("curve", FAMILIES)
@pytest.mark.parametrize("onset", ONSETS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_matches_finite_differences(cohort, curve, onset, pooling):
    _, density = _density(cohort, curve=curve, onset=onset, pooling=pooling)
    for seed in (1, 2):
        x = density.initial_point(seed)
        value, grad = density.logp_and_grad(x)
        assert np.isfinite(value)
        h = 1e-6
        fd = np.array([(density.logp(x + h * e) - density.logp(x - h * e)) / (2 * h)
                       for e in np.eye(density.ndim)])
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-4 * (1 + abs(value)) * 1e-3)


# each case compiles a PyTensor graph (~10-30 s on a loaded 2-core machine): two by default
# (the richest layout), the other combinations in the slow suite
ORACLE_CASES = [
    pytest.param("weibull", "partial", "log-logistic", True, id="weibull-partial"),
    pytest.param("lognormal", "none", "cloglog", True, id="lognormal-none",
                 marks=pytest.mark.slow),
    pytest.param("lognormal", "partial", "logistic", False, id="lognormal-partial",
                 marks=pytest.mark.slow),
    pytest.param("weibull", "complete", "probit", False, id="weibull-complete",
                 marks=pytest.mark.slow),
    pytest.param("weibull", "none", "cloglog", True, id="weibull-none", marks=pytest.mark.slow),
    pytest.param("lognormal", "complete", "probit", True, id="lognormal-complete",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("onset", "pooling", "curve", "effect"), ORACLE_CASES)
def test_log_density_and_gradient_equal_the_pymc_oracle(cohort, onset, pooling, curve, effect):
    from doseresponse.models.late_hierarchical import build_late_model

    spec, density = _density(cohort, curve=curve, onset=onset, pooling=pooling, effect=effect)
    model = build_late_model(spec, cohort.data)
    assert [v.name for v in model.value_vars] == list(density.blocks)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    for seed in (1, 2, 3):
        x = 0.5 * (density.initial_point(seed) + density.initial_point(seed + 10))
        point = {v.name: x[density.blocks[v.name]] if v.ndim else x[density.blocks[v.name]][0]
                 for v in model.value_vars}
        value, grad = density.logp_and_grad(x)
        assert value == pytest.approx(float(logp(point)), rel=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-8, atol=1e-8)


def test_expand_draws_names_and_shapes(cohort):
    _, density = _density(cohort)
    draws = np.stack([density.initial_point(s) for s in range(6)]).reshape(2, 3, -1)
    out = density.expand_draws(draws)
    assert list(out) == density.names
    for name, shape in zip(density.names, density.shapes, strict=True):
        assert out[name].shape == (2, 3, *shape)
    np.testing.assert_allclose(out["onset_median"], np.exp(out["log_onset_median"]))


# ------------------------------------------------------------------ dose measurement error


@pytest.fixture(scope="module")
def cohort_me():
    # 20 % dosimetry error (log-SD) on every patient dose
    sim = simulate_late_toxicity(n_studies=3, patients_per_study=30, covariate_factor=0.7,
                                 onset_dose_slope=-0.4, dose_rel_sd=0.2, random_seed=12)
    return sim


def _me_density(cohort, curve="log-logistic", onset="weibull", pooling="partial", effect=True):
    model = LateToxicityModel(curve=curve, onset=onset, pooling=pooling, onset_dose_effect=effect,
                              measurement_error="lognormal")
    spec = model.spec_for(cohort.data)
    return spec, LateToxicityDensity(spec, cohort.data)


def test_measurement_error_layout_matches_the_binary_model(cohort_me):
    spec, density = _me_density(cohort_me)
    n = cohort_me.data.n_ipd
    b = density.blocks
    assert list(b)[-3:] == ["exposure_log_median", "exposure_sd_log__", "dose_error_z"]
    assert b["dose_error_z"].stop - b["dose_error_z"].start == n
    assert spec.priors["exposure"]["median"] == pytest.approx(
        math.exp(np.mean(np.log(cohort_me.data.ipd["dose"]))))
    # sigma from dose_rel_se = 0.2 by moment matching, sqrt(ln(1 + 0.2^2))
    np.testing.assert_allclose(density.rows.dose_log_sd, math.sqrt(math.log1p(0.04)))
    x = density.initial_point(3)
    out = density.expand(x)
    np.testing.assert_allclose(
        out["true_dose"],
        cohort_me.data.ipd["dose"].to_numpy() * np.exp(density.rows.dose_log_sd
                                                        * x[b["dose_error_z"]]))
    # with exact doses (the error block at 0) the curve part equals the model without error
    _, plain = _density(cohort_me, effect=True)
    x0 = x.copy()
    x0[b["dose_error_z"]] = 0.0
    exposure = stats.norm(x0[b["exposure_log_median"]][density.rows.study],
                          np.exp(x0[b["exposure_sd_log__"]])[density.rows.study]).logpdf(
        np.log(cohort_me.data.ipd["dose"].to_numpy())).sum()
    sd_prior = (stats.halfnorm(scale=1.0).logpdf(np.exp(x0[b["exposure_sd_log__"]]))
                + x0[b["exposure_sd_log__"]]).sum()
    mu_prior = stats.norm(math.log(spec.priors["exposure"]["median"]), 1.0).logpdf(
        x0[b["exposure_log_median"]]).sum()
    z_prior = stats.norm(0, 1).logpdf(x0[b["dose_error_z"]]).sum()
    expected = plain.logp(x0[: plain.ndim]) + exposure + sd_prior + mu_prior + z_prior
    assert density.logp(x0) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("onset", ONSETS)
@pytest.mark.parametrize("effect", [True, False])
def test_measurement_error_gradient_matches_finite_differences(cohort_me, onset, effect):
    _, density = _me_density(cohort_me, onset=onset, effect=effect)
    rng = np.random.default_rng(4)
    x = density.initial_point(7) + 0.3 * rng.standard_normal(density.ndim)
    value, grad = density.logp_and_grad(x)
    assert np.isfinite(value)
    h = 1e-6
    fd = np.array([(density.logp(x + h * e) - density.logp(x - h * e)) / (2 * h)
                   for e in np.eye(density.ndim)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


ME_ORACLE_CASES = [
    pytest.param("lognormal", "partial", "log-logistic", False, id="me-lognormal-partial"),
    pytest.param("weibull", "partial", "log-logistic", True, id="me-weibull-partial-effect",
                 marks=pytest.mark.slow),
    pytest.param("weibull", "none", "probit", True, id="me-weibull-none-effect",
                 marks=pytest.mark.slow),
    pytest.param("lognormal", "complete", "cloglog", True, id="me-lognormal-complete-effect",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("onset", "pooling", "curve", "effect"), ME_ORACLE_CASES)
def test_measurement_error_density_and_gradient_equal_the_pymc_oracle(
        cohort_me, onset, pooling, curve, effect):
    from doseresponse.models.late_hierarchical import build_late_model

    spec, density = _me_density(cohort_me, curve=curve, onset=onset, pooling=pooling,
                                effect=effect)
    model = build_late_model(spec, cohort_me.data)
    assert [v.name for v in model.value_vars] == list(density.blocks)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(8)
    for seed in (1, 2, 3):
        x = density.initial_point(seed) + 0.5 * rng.standard_normal(density.ndim)
        point = {v.name: x[density.blocks[v.name]] if v.ndim else x[density.blocks[v.name]][0]
                 for v in model.value_vars}
        value, grad = density.logp_and_grad(x)
        assert value == pytest.approx(float(logp(point)), rel=1e-10, abs=1e-9)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ pointwise log-likelihood


def _scipy_row_log_likelihood(spec, rows, values, dose):
    """Each row's log-likelihood written with scipy's distributions (an independent reference)."""
    family = get_curve_family(spec.curve)
    slope_name = spec.slope_name
    if spec.pooling == "none":
        d50, slope = values["d50_study"][rows.study], values[f"{slope_name}_study"][rows.study]
    else:
        d50 = values["d50_study"][rows.study] if spec.pooling == "partial" else values["d50"]
        slope = values[slope_name]
    if spec.covariates:
        d50 = d50 * values["factor"][0] ** rows.covariates[:, 0]
    p = family.probability(dose, d50, slope)
    psi = values.get("onset_dose_slope", 0.0)
    t50 = values["onset_median"] * (dose / spec.dose_reference) ** psi
    out = np.empty(rows.dose.size)
    for i in range(rows.dose.size):
        dist = _scipy_onset(spec.onset, t50[i], values["onset_shape"])
        if rows.kind[i] == 0:
            out[i] = math.log(1 - p[i] + p[i] * dist.sf(rows.upper[i]))
        elif rows.kind[i] == 1:
            out[i] = math.log(p[i] * dist.pdf(rows.upper[i]))
        else:
            out[i] = math.log(p[i] * (dist.cdf(rows.upper[i]) - dist.cdf(rows.lower[i])))
    return out


def _fake_fit(density, spec, data, n_chain=2, n_draw=3, seed=0):
    """A LateToxicityFit whose 'posterior' is jittered prior points (no MCMC)."""
    from doseresponse import _arviz_compat
    from doseresponse.models.late_toxicity import LateToxicityFit

    rng = np.random.default_rng(seed)
    x = np.stack([density.initial_point(s) + 0.1 * rng.standard_normal(density.ndim)
                  for s in range(n_chain * n_draw)]).reshape(n_chain, n_draw, -1)
    groups = _arviz_compat.groups_from_arrays(density.expand_draws(x), coords=density.coords,
                                             dims=density.dims)
    return LateToxicityFit(groups, spec, data), x


@pytest.mark.parametrize(("onset", "pooling", "me"), [
    ("weibull", "partial", False), ("lognormal", "none", False), ("weibull", "complete", True),
    ("lognormal", "partial", True),
])
def test_pointwise_log_likelihood_equals_scipy_rows(cohort, cohort_me, onset, pooling, me):
    sim = cohort_me if me else cohort
    model = LateToxicityModel(onset=onset, pooling=pooling, onset_dose_effect=True,
                              measurement_error="lognormal" if me else "none")
    spec = model.spec_for(sim.data)
    density = LateToxicityDensity(spec, sim.data)
    fit, x = _fake_fit(density, spec, sim.data)
    ll = fit.pointwise_log_likelihood()
    assert ll.dims == ("chain", "draw", "ipd_row")
    assert ll.shape == (2, 3, sim.data.n_ipd)
    for c, d in ((0, 0), (1, 2)):
        values = {k: np.asarray(v) for k, v in density.expand(x[c, d]).items()}
        dose = values["true_dose"] if me else density.rows.dose
        expected = _scipy_row_log_likelihood(spec, density.rows, values, dose)
        np.testing.assert_allclose(ll.values[c, d], expected, rtol=1e-9, atol=1e-12)
