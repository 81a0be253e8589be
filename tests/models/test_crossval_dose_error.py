"""Cross-validation of the measurement-error model: held-out latent true doses integrated out.

The Gauss-Hermite integrals are checked against brute-force adaptive quadrature
(:func:`scipy.integrate.quad`) of the model's own densities, written out here independently;
the exposure posterior of an unseen study against a brute-force 2-D grid over (mu, omega).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, special, stats

import doseresponse as dr
from doseresponse import _arviz_compat
from doseresponse.models import crossval
from doseresponse.models.crossval_dose_error import (
    exposure_log_likelihood,
    exposure_posterior_draws,
    integrate_latent_dose,
    latent_log_dose,
)
from doseresponse.models.curves import log_pair
from doseresponse.models.design import model_inputs
from doseresponse.models.model import NTCPModel
from doseresponse.models.results import FittedModel


@pytest.fixture(scope="module")
def me_data(three_centre_ipd_frame):
    """The three-centre cohort with a 20 % dose uncertainty on all but every 7th patient."""
    frame = three_centre_ipd_frame.assign(rse=0.2)
    frame.loc[::7, "rse"] = np.nan
    return dr.DoseResponseData.from_frame(
        frame, dose="bed", outcome="tox", study="study", covariates=["htn"], dose_rel_se="rse",
        dose_metric="BED", dose_unit="Gy",
    )


def fake_me_fit(data, seed=3, background=False):
    """A measurement-error FittedModel from a made-up posterior (no sampling)."""
    rng = np.random.default_rng(seed)
    spec = NTCPModel(measurement_error="lognormal", background=background).spec_for(data)
    inputs = model_inputs(spec, data)
    shape, n_study, n_me = (2, 100), len(data.studies), inputs.me_rows.size
    post = {
        "d50": np.exp(rng.normal(np.log(40.0), 0.1, shape)),
        "gamma50": np.exp(rng.normal(np.log(1.5), 0.1, shape)),
        "tau": np.abs(rng.normal(0.2, 0.05, shape)),
        "factor": np.exp(rng.normal(np.log(0.75), 0.05, (*shape, 1))),
        "d50_study": np.exp(rng.normal(np.log(40.0), 0.15, (*shape, n_study))),
        "exposure_log_median": rng.normal(np.log(35.0), 0.1, (*shape, n_study)),
        "exposure_sd": np.abs(rng.normal(0.4, 0.05, (*shape, n_study))),
        "true_dose": inputs.ipd_dose[inputs.me_rows] * np.exp(rng.normal(0, 0.1, (*shape, n_me))),
    }
    if background:
        post["background"] = rng.uniform(0.02, 0.1, shape)
    groups = _arviz_compat.groups_from_arrays(
        post, {"diverging": np.zeros(shape, dtype=bool)},
        coords={"study": list(data.studies), "covariate": ["htn"],
                "me_row": [str(i) for i in inputs.me_rows]},
        dims={"factor": ["covariate"], "d50_study": ["study"], "exposure_log_median": ["study"],
              "exposure_sd": ["study"], "true_dose": ["me_row"]},
    )
    return FittedModel(groups, spec, data)


def _brute_row_log_lik(y, log_obs, sigma, mu, omega, d50, slope, b=0.0):
    """ln ∫ p(y | e^u) N(l; u, σ) N(u; μ, ω) du / ∫ N(l; u, σ) N(u; μ, ω) du by quad."""
    def joint(u, outcome):
        risk = b + (1 - b) * np.exp(log_pair("logistic", np.exp(u), d50, slope)[0])
        like = (risk if outcome == 1 else 1 - risk) if outcome is not None else 1.0
        return like * stats.norm.pdf(log_obs, u, sigma) * stats.norm.pdf(u, mu, omega)
    lo, hi = log_obs - 12 * sigma, log_obs + 12 * sigma
    num = integrate.quad(joint, lo, hi, args=(y,), epsabs=0, epsrel=1e-12, limit=200)[0]
    den = integrate.quad(joint, lo, hi, args=(None,), epsabs=0, epsrel=1e-12, limit=200)[0]
    return np.log(num / den)


def test_latent_log_dose_is_the_normal_posterior_of_the_true_dose():
    log_obs, sigma, mu, omega = np.log(30.0), 0.25, np.log(40.0), 0.5
    mean, sd = latent_log_dose(np.array([log_obs]), np.array([sigma]), np.array([[mu]]),
                               np.array([[omega]]))
    dens = lambda u: stats.norm.pdf(log_obs, u, sigma) * stats.norm.pdf(u, mu, omega)  # noqa: E731
    z = integrate.quad(dens, -10, 20, epsrel=1e-12)[0]
    m1 = integrate.quad(lambda u: u * dens(u), -10, 20, epsrel=1e-12)[0] / z
    m2 = integrate.quad(lambda u: (u - m1) ** 2 * dens(u), -10, 20, epsrel=1e-12)[0] / z
    np.testing.assert_allclose(mean[0, 0], m1, rtol=1e-10)
    np.testing.assert_allclose(sd[0, 0], np.sqrt(m2), rtol=1e-8)
    # marginal density of the recorded dose: ∫ N(l; u, σ) N(u; μ, ω) du
    np.testing.assert_allclose(
        exposure_log_likelihood(np.array([log_obs]), np.array([sigma]), np.array([[mu]]),
                                np.array([[omega]]))[0], np.log(z), rtol=1e-10,
    )


def _brute_standardised(family, m, s, d50, slope, y):
    """ln ∫ p(y | e^(m + s z)) φ(z) dz by quad around the integrand's grid maximum."""
    def log_f(z):
        lp, lq = log_pair(family, np.exp(m + s * z), d50, slope)
        return (lp if y == 1 else lq) - 0.5 * z * z
    zz = np.linspace(-40, 40, 40001)
    values = log_f(zz)
    top = values.max()
    area = integrate.quad(lambda z: np.exp(log_f(z) - top), -40, 40, points=[zz[values.argmax()]],
                          epsabs=0, epsrel=1e-13, limit=2000)[0]
    return top + np.log(area) - 0.5 * np.log(2 * np.pi)


def test_adaptive_gauss_hermite_matches_brute_force_quadrature():
    """100 random problems: 4 families, steep slopes, outcomes improbable at the recorded dose."""
    rng = np.random.default_rng(0)
    errors = []
    for family, slope_range in (("logistic", (0.5, 8)), ("log-logistic", (0.5, 8)),
                                ("probit", (0.05, 0.8)), ("cloglog", (0.5, 8))):
        n = 25
        m, s = latent_log_dose(np.log(rng.uniform(10, 80, n)), rng.uniform(0.05, 0.4, n),
                               np.log(rng.uniform(20, 50, n)), rng.uniform(0.1, 0.8, n))
        d50, slope = rng.uniform(20, 60, n), rng.uniform(*slope_range, n)
        y = rng.integers(0, 2, n)

        def log_lik(z, m=m, s=s, d50=d50, slope=slope, y=y, family=family):
            lp, lq = log_pair(family, np.exp(m + s * z[0]), d50, slope)
            return np.where(y == 1, lp, lq)[None]

        got = integrate_latent_dose(log_lik, (1, n))[0]
        brute = [_brute_standardised(family, *args)
                 for args in zip(m, s, d50, slope, y, strict=True)]
        errors += list(np.abs(got - np.array(brute)))
    errors = np.array(errors)
    # measured: median 8e-10, 95th percentile 6e-4, max 0.003 nats (32 nodes around the mode)
    assert np.median(errors) < 1e-8
    assert np.quantile(errors, 0.95) < 2e-3
    assert errors.max() < 0.05


@pytest.mark.parametrize("background", [False, True])
def test_held_out_density_integrates_the_latent_dose_like_brute_force_quadrature(me_data,
                                                                               background):
    fit = fake_me_fit(me_data, background=background)
    ll = crossval._named_study_log_lik(fit, me_data, np.random.default_rng(0))  # (S, rows)
    inputs = model_inputs(fit.spec, me_data)
    post = fit.posterior
    codes = {s: i for i, s in enumerate(me_data.studies)}
    errors = []
    for row in (1, 2, 8, 30, 59):  # patients with a dose SE (row 0 and 7 have none)
        assert inputs.ipd_dose_log_sd[row] > 0
        s = codes[me_data.ipd["study"].iloc[row]]
        for draw in (0, 57, 199):
            c, d = divmod(draw, 100)
            d50 = float(post["d50_study"].values[c, d, s]
                        * post["factor"].values[c, d, 0] ** me_data.ipd["htn"].iloc[row])
            brute = _brute_row_log_lik(
                int(inputs.ipd_outcome[row]), np.log(inputs.ipd_dose[row]),
                inputs.ipd_dose_log_sd[row], post["exposure_log_median"].values[c, d, s],
                post["exposure_sd"].values[c, d, s], d50, post["gamma50"].values[c, d],
                float(post["background"].values[c, d]) if background else 0.0,
            )
            errors.append(abs(ll[draw, row] - brute))
    # adaptive Gauss-Hermite vs adaptive quadrature: measured max error 3.4e-12 nats
    assert max(errors) < 1e-8, max(errors)
    # a patient without a dose SE keeps its recorded dose: the fit's own log-likelihood
    from doseresponse.models import checks

    plain = checks._rows_by_draws(checks._joined_log_likelihood(fit)[0]).T
    np.testing.assert_allclose(ll[:, [0, 7]], plain[:, [0, 7]], rtol=1e-12)


def test_exposure_posterior_of_an_unseen_study_matches_a_brute_force_grid():
    rng = np.random.default_rng(5)
    log_obs = np.log(rng.lognormal(np.log(30.0), 0.45, 12))
    sigma = np.full(12, 0.2)
    prior = {"prior_log_median": np.log(35.0), "prior_sd": 1.0, "omega_prior_sd": 1.0}
    mu, omega = exposure_posterior_draws(log_obs, sigma, n_draws=200_000,
                                         rng=np.random.default_rng(1), **prior)
    # brute force: a 2-D grid over (mu, omega), marginal N(l; mu, omega^2 + sigma^2)
    mu_g = np.linspace(np.log(30.0) - 1.5, np.log(30.0) + 1.5, 801)
    om_g = np.linspace(1e-4, 3.0, 1200)
    m, o = np.meshgrid(mu_g, om_g, indexing="ij")
    sd = np.sqrt(o[..., None] ** 2 + sigma**2)
    log_post = (stats.norm.logpdf(log_obs, m[..., None], sd).sum(-1)
                + stats.norm.logpdf(m, prior["prior_log_median"], 1.0)
                + stats.halfnorm.logpdf(o, scale=1.0))
    w = np.exp(log_post - special.logsumexp(log_post))
    for draws, grid in ((mu, m), (omega, o)):
        mean = (w * grid).sum()
        sd_true = np.sqrt((w * (grid - mean) ** 2).sum())
        # Monte Carlo SE of the mean of 200 000 draws is sd/447
        assert abs(draws.mean() - mean) < 5 * sd_true / np.sqrt(draws.size) + 1e-4
        np.testing.assert_allclose(draws.std(), sd_true, rtol=0.02)


@pytest.mark.slow
def test_new_centre_density_with_dose_error_matches_monte_carlo(me_data):
    """Held-out study B: exposure drawn from its doses, new-centre effect, latent doses."""
    fit = fake_me_fit(me_data)
    held = me_data.select_studies(["B"])
    estimates = []
    for seed in range(4):  # one exposure draw per posterior draw: average four seeds
        ll_nodes, log_w = crossval._new_study_log_lik(fit, held, np.random.default_rng(seed))
        joint = special.logsumexp(ll_nodes.sum(axis=2) + log_w, axis=1)  # (S,)
        estimates.append(special.logsumexp(joint) - np.log(joint.size))
    elpd = np.mean(estimates)
    # independent Monte Carlo over (mu, omega) | recorded doses (2-D grid), u_new ~ N(0, tau²),
    # latent true log doses ~ their normal posterior; outcomes of the study jointly
    inputs = model_inputs(fit.spec, held)
    me = inputs.me_rows
    log_obs, sig = np.log(inputs.ipd_dose[me]), inputs.ipd_dose_log_sd[me]
    prior = fit.spec.priors["exposure"]
    mu_g = np.linspace(log_obs.mean() - 1.5, log_obs.mean() + 1.5, 301)
    om_g = np.linspace(1e-3, 3.0, 600)
    m, o = np.meshgrid(mu_g, om_g, indexing="ij")
    log_post = (stats.norm.logpdf(log_obs, m[..., None],
                                 np.sqrt(o[..., None] ** 2 + sig**2)).sum(-1)
                + stats.norm.logpdf(m, np.log(prior["median"]), prior["sigma"])
                + stats.halfnorm.logpdf(o, scale=fit.spec.priors["exposure_sd"]["sigma"]))
    p_grid = np.exp(log_post - special.logsumexp(log_post)).ravel()
    rng = np.random.default_rng(21)
    post = fit.posterior
    d50 = post["d50"].values.ravel()
    slope = post["gamma50"].values.ravel()
    tau = post["tau"].values.ravel()
    factor = post["factor"].values.reshape(-1)
    n_mc, n_rows = 4000, held.n_ipd
    y = inputs.ipd_outcome
    htn = held.ipd["htn"].to_numpy(dtype=float)
    per_draw = np.empty(d50.size)
    for s in range(d50.size):
        pick = rng.choice(p_grid.size, size=n_mc, p=p_grid)
        mu_s, om_s = m.ravel()[pick], o.ravel()[pick]
        prec = 1 / sig**2 + 1 / om_s[:, None] ** 2
        mean = (log_obs / sig**2 + mu_s[:, None] / om_s[:, None] ** 2) / prec
        dose = np.tile(inputs.ipd_dose, (n_mc, 1))
        dose[:, me] = np.exp(mean + rng.standard_normal(mean.shape) / np.sqrt(prec))
        d50_rows = d50[s] * np.exp(tau[s] * rng.standard_normal((n_mc, 1))) * factor[s] ** htn
        lp, lq = log_pair("logistic", dose, d50_rows, slope[s])
        per_draw[s] = special.logsumexp(np.where(y == 1, lp, lq).sum(axis=1)) - np.log(n_mc)
    brute = special.logsumexp(per_draw) - np.log(per_draw.size)
    assert n_rows == 20
    # SD of one seed's estimate over 8 seeds: 0.025 nats (of the mean of four: 0.013)
    assert abs(elpd - brute) < 0.05, (elpd, brute)


@pytest.mark.slow
def test_kfold_and_loso_run_on_a_measurement_error_model(me_data):
    fit = dr.NTCPModel("logistic", measurement_error="lognormal").fit(
        me_data, draws=100, tune=200, chains=2, random_seed=5, check=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny refits may diverge
        kf = dr.kfold(fit, k=3, tune=200)
        loso = dr.leave_one_study_out(fit, tune=200)
    assert kf.kind == "kfold" and kf.n_observations == me_data.n_ipd
    assert np.isfinite(kf.elpd_i).all() and (kf.elpd_i < 0).all()
    assert loso.observations == ("study:A", "study:B", "study:C")
    assert np.isfinite(loso.elpd_i).all()
    # each patient's predictive density of a 0/1 outcome is below 1 and the 60 rows of a
    # 3-fold CV cannot be predicted better than in-sample
    assert kf.p > 0


@pytest.mark.slow
def test_kfold_of_a_measurement_error_model_agrees_with_psis_loo():
    """Both estimate p(y_i | recorded doses, other outcomes): they agree within the SE."""
    cohort = dr.simulate_cohort(
        curve="logistic", d50=49.0, slope=4.0, n_studies=3, patients_per_study=60, tau=0.1,
        dose_distribution=(35.0, 0.35), dose_rel_sd=0.2, random_seed=27,
    )
    fit = dr.NTCPModel("logistic", measurement_error="lognormal").fit(
        cohort.data, draws=500, tune=500, chains=2, random_seed=1, check=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        psis = fit.loo()
        five = dr.kfold(fit, k=5, tune=500)
    assert np.isfinite(five.elpd_i).all()
    # measured: PSIS-LOO -36.08 ± 6.21 (24 rows k > 0.7), 5-fold -36.76 (3.11 stack);
    # -34.80 ± 6.15 (26 rows) and -36.79 (3.13)
    assert abs(five.elpd - psis.elpd) < psis.se
    assert five.p > 0


def test_cross_validation_subsets_keep_the_dose_uncertainties(me_data):
    spec = NTCPModel(measurement_error="lognormal").spec_for(me_data)
    keep = np.arange(me_data.n_ipd) % 3 == 0
    sub, index, _ = crossval._subset(me_data, keep, np.zeros(0, dtype=bool))
    np.testing.assert_allclose(model_inputs(spec, sub).ipd_dose_log_sd,
                               model_inputs(spec, me_data).ipd_dose_log_sd[index], rtol=1e-15)
    assert (model_inputs(spec, sub).ipd_dose_log_sd > 0).sum() == 17
