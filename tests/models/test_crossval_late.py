"""K-fold and leave-one-study-out of late-toxicity fits, refit-free (fixed posterior draws).

The refit is monkeypatched to return a fixed three-draw posterior, so the held-out densities
can be checked against a direct computation: the log-logistic eventual probability
P = 1 / (1 + (D50/D)^(4 gamma50)) (doseresponse.models.curves.log_logistic), the Weibull onset
with median t50 and shape k, F(t) = 1 - exp(-ln 2 (t/t50)^k) (checked against
scipy.stats.weibull_min, scale t50 / ln(2)^(1/k)), and the new centre's study effect
u ~ N(0, tau^2) and the latent true log dose integrated by scipy.integrate.quad.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import integrate, stats

import doseresponse as dr
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models import crossval_late
from doseresponse.models.crossval_late import late_held_out_log_lik
from doseresponse.models.late_toxicity import LateToxicityFit, LateToxicityModel

# three posterior draws (chain 1): population ln D50, slope gamma50, tau, study D50s, onset
LOG_D50 = np.array([np.log(30.0), np.log(25.0), np.log(35.0)])
GAMMA = np.array([1.5, 2.0, 1.2])
TAU = np.array([0.3, 0.1, 0.5])
STUDY_D50 = {"A": np.array([28.0, 27.0, 33.0]), "B": np.array([32.0, 24.0, 40.0])}
T50 = np.array([18.0, 12.0, 24.0])
SHAPE = np.array([1.5, 1.0, 2.0])


@pytest.fixture(scope="module")
def data():
    # censored (event 0, follow_up), exact (event_time only) and interval-censored events
    frame = pd.DataFrame({
        "study": ["A"] * 4 + ["B"] * 4,
        "patient": [f"p{i}" for i in range(8)],
        "dose": [10.0, 25.0, 40.0, 30.0, 15.0, 35.0, 50.0, 20.0],
        "outcome": [0, 1, 1, 0, 0, 1, 1, 0],
        "follow_up": [24.0, np.nan, np.nan, 60.0, 36.0, np.nan, np.nan, 12.0],
        "event_time": [np.nan, 9.0, 15.0, np.nan, np.nan, 20.0, 6.0, np.nan],
        "event_time_lower": [np.nan, np.nan, 12.0, np.nan, np.nan, 14.0, np.nan, np.nan],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny studies
        return DoseResponseData.from_frame(
            frame, dose="dose", outcome="outcome", study="study", patient="patient",
            follow_up="follow_up", event_time="event_time", event_time_lower="event_time_lower",
            time_unit="months",
        )


def _posterior(studies=("A", "B")) -> xr.Dataset:
    def scalar(values):
        return xr.DataArray(values[None], dims=("chain", "draw"))

    d50_study = np.stack([STUDY_D50[s] for s in studies], axis=1)[None]
    return xr.Dataset({
        "log_d50": scalar(LOG_D50),
        "log_slope": scalar(np.log(GAMMA)),
        "tau": scalar(TAU),
        "d50_study": xr.DataArray(d50_study, dims=("chain", "draw", "study"),
                                  coords={"study": list(studies)}),
        "log_onset_median": scalar(np.log(T50)),
        "log_onset_shape": scalar(np.log(SHAPE)),
    })


@pytest.fixture(scope="module")
def fit(data):
    spec = LateToxicityModel().spec_for(data)
    return LateToxicityFit({"posterior": _posterior()}, spec, data)


def _onset_cdf_pdf(t: float, s: int) -> tuple[float, float]:
    """Weibull onset CDF and density at t, closed form (checked against scipy below)."""
    k, t50 = SHAPE[s], T50[s]
    h = math.log(2.0) * (t / t50) ** k
    return -math.expm1(-h), math.exp(-h) * h * k / t


def test_closed_form_onset_matches_scipy_weibull():
    for s in range(3):
        onset = stats.weibull_min(c=SHAPE[s], scale=T50[s] / math.log(2.0) ** (1 / SHAPE[s]))
        for t in (0.5, 6.0, 18.0, 60.0):
            cdf, pdf = _onset_cdf_pdf(t, s)
            assert cdf == pytest.approx(onset.cdf(t), rel=1e-12)
            assert pdf == pytest.approx(onset.pdf(t), rel=1e-12)
        assert _onset_cdf_pdf(T50[s], s)[0] == pytest.approx(0.5, rel=1e-14)  # the median


def _row_log_lik(dose, outcome, follow_up, event_time, lower, d50, s) -> float:
    """Censored / exact / interval log-likelihood of one patient at draw s."""
    p = 1.0 / (1.0 + (d50 / dose) ** (4.0 * GAMMA[s]))
    if outcome == 0:
        return math.log(1.0 - p * _onset_cdf_pdf(follow_up, s)[0])
    if np.isnan(lower):
        return math.log(p * _onset_cdf_pdf(event_time, s)[1])
    return math.log(p * (_onset_cdf_pdf(event_time, s)[0] - _onset_cdf_pdf(lower, s)[0]))


def _direct_log_lik(frame: pd.DataFrame, d50: float, s: int) -> np.ndarray:
    """The log-likelihood of each row of ``frame`` at draw s."""
    return np.array([
        _row_log_lik(r.dose, r.outcome, r.follow_up, r.event_time, r.event_time_lower, d50, s)
        for r in frame.itertuples()
    ])


def _new_centre_log_density(frame: pd.DataFrame) -> float:
    """log mean over draws of the joint density of ``frame`` as a new centre (quad over u)."""
    per_draw = []
    for s in range(3):
        def joint(u, s=s):
            ll = _direct_log_lik(frame, math.exp(LOG_D50[s] + u), s).sum()
            return math.exp(ll) * stats.norm.pdf(u, scale=TAU[s])

        value, _ = integrate.quad(joint, -10 * TAU[s], 10 * TAU[s], epsabs=0, epsrel=1e-10)
        per_draw.append(value)
    return math.log(np.mean(per_draw))


def test_held_out_patients_of_a_known_study_match_scipy(fit, data):
    held = data.select_studies(["B"])
    ll, log_w = late_held_out_log_lik(fit, held, new_centre=False)
    assert ll.shape == (3, 1, 4) and log_w.tolist() == [0.0]
    frame = held.ipd
    for s in range(3):
        expected = _direct_log_lik(frame, STUDY_D50["B"][s], s)
        np.testing.assert_allclose(ll[s, 0], expected, rtol=1e-10, atol=1e-12)


def test_held_out_study_as_a_new_centre_matches_quadrature(fit, data):
    held = data.select_studies(["A"])
    ll, log_w = late_held_out_log_lik(fit, held, new_centre=True)
    assert ll.shape[0] == 3 and ll.shape[2] == 4
    assert math.exp(np.logaddexp.reduce(log_w)) == pytest.approx(1.0, abs=1e-12)
    from scipy import special

    joint = special.logsumexp(ll.sum(axis=2) + log_w[None, :], axis=1)
    got = special.logsumexp(joint) - math.log(3)
    # Gauss-Hermite against adaptive quadrature, tolerance 1e-6 nats
    assert got == pytest.approx(_new_centre_log_density(held.ipd), abs=1e-6)


def test_kfold_and_loso_assemble_the_held_out_densities(fit, data, monkeypatch):
    seen = []

    def fixed_refit(full_fit, train, seed, settings):
        seen.append((tuple(train.ipd["patient"]), settings))
        return LateToxicityFit({"posterior": _posterior(tuple(train.studies))},
                               full_fit.spec, train), 0

    monkeypatch.setattr(crossval_late, "_refit_late", fixed_refit)
    folds = [0, 1, 0, 1, 1, 0, 1, 0]
    result = dr.kfold(fit, folds=folds, tune=50)
    assert result.kind == "kfold" and result.n_observations == 8
    assert [len(train) for train, _ in seen] == [4, 4]
    assert set(seen[0][0]) == {"p1", "p3", "p4", "p6"}  # fold 0 held out
    # draws and chains default to the fit's, target_accept to the late model's 0.95
    assert seen[0][1] == {"draws": 3, "chains": 1, "tune": 50, "target_accept": 0.95}
    frame = data.ipd
    expected = np.empty(8)
    for i, row in enumerate(frame.itertuples()):
        per_draw = [_direct_log_lik(frame.iloc[[i]], STUDY_D50[row.study][s], s)[0]
                    for s in range(3)]
        expected[i] = np.logaddexp.reduce(per_draw) - math.log(3)
    np.testing.assert_allclose(result.elpd_i, expected, rtol=1e-10)
    assert result.elpd == pytest.approx(expected.sum(), rel=1e-12)

    seen.clear()
    loso = dr.leave_one_study_out(fit)
    assert loso.kind == "loso" and loso.observations == ("study:A", "study:B")
    assert [len(train) for train, _ in seen] == [4, 4]
    for j, study in enumerate(("A", "B")):
        assert loso.elpd_i[j] == pytest.approx(
            _new_centre_log_density(data.select_studies([study]).ipd), abs=1e-6)


def test_kfold_predicts_a_fully_held_out_study_as_a_new_centre(fit, data, monkeypatch):
    def fixed_refit(full_fit, train, seed, settings):
        return LateToxicityFit({"posterior": _posterior(tuple(train.studies))},
                               full_fit.spec, train), 0

    monkeypatch.setattr(crossval_late, "_refit_late", fixed_refit)
    folds = [0, 0, 0, 0, 1, 1, 1, 1]  # each fold is a whole study
    result = dr.kfold(fit, folds=folds)
    loso = dr.leave_one_study_out(fit)
    # a row-wise new centre: each patient's own integral over the new study effect
    row = data.select_studies(["A"]).ipd.iloc[[0]]
    assert result.elpd_i[0] == pytest.approx(_new_centre_log_density(row), abs=1e-6)
    # the joint (LOSO) density of a study is not the product of per-patient integrals
    assert loso.elpd_i[0] != pytest.approx(result.elpd_i[:4].sum(), abs=1e-3)


def test_compare_by_kfold_for_late_fits(fit, monkeypatch):
    def fixed_refit(full_fit, train, seed, settings):
        return LateToxicityFit({"posterior": _posterior(tuple(train.studies))},
                               full_fit.spec, train), 0

    monkeypatch.setattr(crossval_late, "_refit_late", fixed_refit)
    other = LateToxicityFit({"posterior": _posterior().assign(
        log_onset_median=xr.DataArray(np.log(T50 * 1.5)[None], dims=("chain", "draw")))},
        fit.spec, fit.data)
    table = dr.compare({"a": fit, "b": other}, ic="kfold", k=2)
    assert table.attrs["ic"] == "kfold" and table.attrs["late_toxicity"] is True
    direct = {name: dr.kfold(f, k=2).elpd for name, f in {"a": fit, "b": other}.items()}
    assert table.loc["a", "elpd"] == pytest.approx(direct["a"])
    assert table.loc["b", "elpd"] == pytest.approx(direct["b"])


def test_auto_switches_late_fits_to_kfold_when_loo_is_flagged(fit, monkeypatch):
    from doseresponse.models import checks

    def fixed_refit(full_fit, train, seed, settings):
        return LateToxicityFit({"posterior": _posterior(tuple(train.studies))},
                               full_fit.spec, train), 0

    def flagged_loo(f, pointwise=True):  # a PSIS-LOO flagged unreliable on every row
        elpd_i = np.full(f.data.n_ipd, -1.0)
        return checks.ELPDResult(
            kind="loo", elpd=float(elpd_i.sum()), se=1.0, p=1.0, n_samples=3, warning=True,
            observations=tuple(f"ipd:{i}" for i in range(elpd_i.size)),
            labels=tuple(str(i) for i in range(elpd_i.size)), elpd_i=elpd_i,
            pareto_k=np.full(elpd_i.size, 0.9),
        )

    monkeypatch.setattr(crossval_late, "_refit_late", fixed_refit)
    monkeypatch.setattr(checks, "loo", flagged_loo)
    with pytest.warns(UserWarning, match="comparing every fit by 2-fold"):
        table = dr.compare({"a": fit, "b": fit}, k=2)
    assert table.attrs["ic"] == "kfold"
    assert "PSIS-LOO was unreliable" in table.attrs["ic_reason"]


def test_refusals(fit, data):
    none_spec = dataclasses.replace(fit.spec, pooling="none")
    none_fit = LateToxicityFit({"posterior": _posterior()}, none_spec, data)
    with pytest.raises(DoseResponseError, match="pooling='none'"):
        dr.leave_one_study_out(none_fit)
    with pytest.raises(DoseResponseError, match="k must be an integer"):
        dr.kfold(fit, k=9)


# ---------------------------------------------------------------- measurement error
# patients p0 (study A) and p5 (study B) have a dose SE; exposure (mu, omega) per draw and study
DOSE_SE = [4.0, 0, 0, 0, 0, 7.0, 0, 0]
EXPOSURE_MU = {"A": np.log([24.0, 20.0, 28.0]), "B": np.log([30.0, 26.0, 22.0])}
EXPOSURE_SD = {"A": np.array([0.4, 0.6, 0.3]), "B": np.array([0.5, 0.3, 0.8])}


@pytest.fixture(scope="module")
def me_fit(data):
    frame = data.ipd.copy()
    frame["dose_se"] = DOSE_SE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        me_data = DoseResponseData.from_frame(
            frame, dose="dose", outcome="outcome", study="study", patient="patient",
            dose_se="dose_se", follow_up="follow_up", event_time="event_time",
            event_time_lower="event_time_lower", time_unit="months",
        )
    spec = LateToxicityModel(measurement_error="lognormal").spec_for(me_data)
    return LateToxicityFit({"posterior": _me_posterior(("A", "B"))}, spec, me_data)


def _me_posterior(studies) -> xr.Dataset:
    post = _posterior(studies)
    for name, table in (("exposure_log_median", EXPOSURE_MU), ("exposure_sd", EXPOSURE_SD)):
        post[name] = xr.DataArray(np.stack([table[s] for s in studies], axis=1)[None],
                                  dims=("chain", "draw", "study"),
                                  coords={"study": list(studies)})
    return post


def _latent_log_lik(frame, i, d50, s, mu, omega):
    """ln of the integral over the true log dose x of p(y_i | e^x) N(x; m, v) (scipy quad)."""
    r = next(frame.iloc[[i]].itertuples())
    sigma = math.sqrt(math.log1p((r.dose_se / r.dose) ** 2))
    precision = sigma**-2 + omega**-2
    mean = (math.log(r.dose) * sigma**-2 + mu * omega**-2) / precision
    sd = precision**-0.5

    def integrand(x):
        ll = _row_log_lik(math.exp(x), r.outcome, r.follow_up, r.event_time,
                          r.event_time_lower, d50, s)
        return math.exp(ll - 0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))

    value, _ = integrate.quad(integrand, mean - 12 * sd, mean + 12 * sd, epsabs=0,
                              epsrel=1e-9)
    return math.log(value)


def _exposure_log_lik(frame, i, mu, omega):
    d_obs, se = float(frame["dose"].iloc[i]), float(frame["dose_se"].iloc[i])
    sigma_sq = math.log1p((se / d_obs) ** 2)
    return stats.norm.logpdf(math.log(d_obs), mu, math.sqrt(omega**2 + sigma_sq))


def test_measurement_error_kfold_integrates_the_latent_dose_and_weights_exposure(
    me_fit, monkeypatch
):
    def fixed_refit(full_fit, train, seed, settings):
        return LateToxicityFit({"posterior": _me_posterior(tuple(train.studies))},
                               full_fit.spec, train), 0

    monkeypatch.setattr(crossval_late, "_refit_late", fixed_refit)
    folds = [0, 1, 0, 1, 1, 0, 1, 0]
    result = dr.kfold(me_fit, folds=folds)
    frame = me_fit.data.ipd
    expected = np.empty(8)
    for f in (0, 1):
        held = [i for i in range(8) if folds[i] == f]
        # the held-out recorded doses re-weight the refit's exposure draws
        log_w = np.zeros(3)
        for i in held:
            if DOSE_SE[i]:
                st = frame["study"].iloc[i]
                log_w += [_exposure_log_lik(frame, i, EXPOSURE_MU[st][s], EXPOSURE_SD[st][s])
                          for s in range(3)]
        for i in held:
            st = frame["study"].iloc[i]
            per_draw = [
                _latent_log_lik(frame, i, STUDY_D50[st][s], s, EXPOSURE_MU[st][s],
                                EXPOSURE_SD[st][s]) if DOSE_SE[i]
                else _direct_log_lik(frame.iloc[[i]], STUDY_D50[st][s], s)[0]
                for s in range(3)
            ]
            expected[i] = (np.logaddexp.reduce(np.array(per_draw) + log_w)
                           - np.logaddexp.reduce(log_w))
    assert DOSE_SE[0] and folds[0] == 0 and DOSE_SE[5] and folds[5] == 0  # both in fold 0
    # adaptive Gauss-Hermite (32 nodes) against scipy quad: 1e-6 nats
    np.testing.assert_allclose(result.elpd_i, expected, rtol=0, atol=1e-6)


def test_measurement_error_new_centre_uses_the_exposure_given_the_study_doses(
    me_fit, monkeypatch
):
    mu_new, omega_new = np.log([22.0, 27.0, 31.0]), np.array([0.35, 0.5, 0.7])
    calls = []

    def fixed_exposure(spec, log_obs, sigma, labels, n_draws, rng):
        calls.append((labels.tolist(), n_draws))
        return (np.repeat(mu_new[:, None], labels.size, axis=1),
                np.repeat(omega_new[:, None], labels.size, axis=1))

    monkeypatch.setattr(crossval_late, "_new_study_exposure", fixed_exposure)
    held = me_fit.data.select_studies(["B"])
    ll, log_w = late_held_out_log_lik(me_fit, held, new_centre=True,
                                      rng=np.random.default_rng(0))
    assert calls == [(["B"], 3)]
    from scipy import special

    got = special.logsumexp(special.logsumexp(ll.sum(axis=2) + log_w, axis=1)) - math.log(3)
    frame = held.ipd
    per_draw = []
    for s in range(3):
        def joint(u, s=s):
            d50 = math.exp(LOG_D50[s] + u)
            total = _latent_log_lik(frame, 1, d50, s, mu_new[s], omega_new[s])  # p5
            total += _direct_log_lik(frame.iloc[[0, 2, 3]], d50, s).sum()
            return math.exp(total) * stats.norm.pdf(u, scale=TAU[s])

        value, _ = integrate.quad(joint, -10 * TAU[s], 10 * TAU[s], epsabs=0, epsrel=1e-8)
        per_draw.append(value)
    assert frame["patient"].iloc[1] == "p5"
    assert got == pytest.approx(math.log(np.mean(per_draw)), abs=1e-5)
