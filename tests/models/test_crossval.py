"""K-fold and leave-one-study-out cross-validation: folds, held-out densities, tiny refits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import special

import doseresponse as dr
from doseresponse.exceptions import DoseResponseError
from doseresponse.models import checks, crossval
from doseresponse.models.curves import log_pair
from doseresponse.models.design import model_inputs
from tests.test_checks import fake_fit, mixed_data  # noqa: F401 - the fixture is used


def test_folds_are_seeded_balanced_and_stratified_by_study(mixed_data):  # noqa: F811
    folds = crossval.kfold_folds(mixed_data, 4, random_seed=1)
    n = mixed_data.n_ipd + mixed_data.n_aggregate_rows
    assert folds.shape == (n,)
    np.testing.assert_array_equal(folds, crossval.kfold_folds(mixed_data, 4, random_seed=1))
    assert not np.array_equal(folds, crossval.kfold_folds(mixed_data, 4, random_seed=2))
    sizes = np.bincount(folds, minlength=4)
    assert sizes.max() - sizes.min() <= 1
    ipd = mixed_data.ipd
    for study, rows in ipd.groupby("study").groups.items():
        counts = np.bincount(folds[np.asarray(rows)], minlength=4)
        assert counts.max() - counts.min() <= 1, study
    # the folds do not look at the outcomes (outcome-stratified folds are optimistic)
    frame = mixed_data.to_frame()
    rows = frame["row_kind"] == "ipd"
    frame.loc[rows, "outcome"] = 1 - frame.loc[rows, "outcome"]
    flipped = dr.DoseResponseData.from_frame(frame, **mixed_data.canonical_mapping())
    assert (flipped.ipd["outcome"] != ipd["outcome"]).all()
    np.testing.assert_array_equal(crossval.kfold_folds(flipped, 4, random_seed=1), folds)
    with pytest.raises(DoseResponseError, match="k must be"):
        crossval.kfold_folds(mixed_data, 1)
    with pytest.raises(DoseResponseError, match="k must be"):
        crossval.kfold_folds(mixed_data, n + 1)


def test_subset_keeps_track_of_rows_and_imputation(mixed_data):  # noqa: F811
    rng = np.random.default_rng(3)
    ipd_keep = rng.random(mixed_data.n_ipd) < 0.5
    agg_keep = np.array([True, False, True])
    sub, ipd_index, agg_index = crossval._subset(mixed_data, ipd_keep, agg_keep)
    assert sorted(ipd_index) == list(np.flatnonzero(ipd_keep))
    assert sorted(agg_index) == [0, 2]
    np.testing.assert_array_equal(sub.ipd["outcome"].to_numpy(),
                                  mixed_data.ipd["outcome"].to_numpy()[ipd_index])
    # a held-out bin with a missing covariate keeps the full data's imputation
    only_bin, _, agg_index = crossval._subset(mixed_data, np.zeros(mixed_data.n_ipd, bool),
                                              np.array([False, True, False]))
    assert list(agg_index) == [1]
    full = model_inputs(fake_fit(mixed_data).spec, mixed_data).agg_x[1]
    np.testing.assert_allclose(only_bin.aggregate["htn"].to_numpy(), full, rtol=1e-12)


def test_named_study_density_is_the_fits_own_log_likelihood(mixed_data):  # noqa: F811
    fit = fake_fit(mixed_data)
    ll = crossval._named_study_log_lik(fit, mixed_data)  # (S, rows)
    values, _ = checks._joined_log_likelihood(fit)
    np.testing.assert_allclose(ll, checks._rows_by_draws(values).T, rtol=1e-12)


def test_new_centre_density_matches_monte_carlo(mixed_data):  # noqa: F811
    """Gauss-Hermite over the new-centre effect vs plain Monte Carlo over u ~ N(0, tau^2)."""
    fit = fake_fit(mixed_data, "log-logistic")
    held = mixed_data.select_studies(["B"])
    ll_nodes, log_w = crossval._new_study_log_lik(fit, held)
    joint = special.logsumexp(ll_nodes.sum(axis=2) + log_w, axis=1)[:20]  # first 20 draws
    post = fit.posterior
    d50 = post["d50"].values.ravel()[:20]
    slope = post["gamma50"].values.ravel()[:20]
    tau = post["tau"].values.ravel()[:20]
    factor = post["factor"].values.reshape(-1)[:20]
    ipd = held.ipd
    dose, y, htn = (ipd[c].to_numpy(dtype=float) for c in ("dose", "outcome", "htn"))
    u = np.random.default_rng(11).standard_normal((d50.size, 10000))
    d50_rows = (d50[:, None] * np.exp(tau[:, None] * u))[..., None] * factor[:, None, None] ** htn
    log_p, log_q = log_pair("log-logistic", dose, d50_rows, slope[:, None, None])
    loglik = np.where(y == 1, log_p, log_q).sum(axis=-1)
    mc = special.logsumexp(loglik, axis=1) - np.log(u.shape[1])
    scaled = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    mc_se = scaled.std(axis=1) / scaled.mean(axis=1) / np.sqrt(u.shape[1])  # delta method
    assert (np.abs(joint - mc) < 4 * mc_se + 1e-3).all()


def test_refusals(mixed_data):  # noqa: F811
    with pytest.raises(DoseResponseError, match="pooling='none'"):
        crossval.leave_one_study_out(fake_fit(mixed_data, pooling="none"))
    with pytest.raises(DoseResponseError, match="FittedModel"):
        crossval.kfold("fit.nc")
    with pytest.raises(DoseResponseError, match="folds must"):
        crossval.kfold(fake_fit(mixed_data), folds=[0, 1])
    with pytest.raises(DoseResponseError, match="only apply"):
        checks.compare([fake_fit(mixed_data), fake_fit(mixed_data, seed=9)], ic="loo", draws=10)


def test_kfold_and_leave_one_study_out_on_tiny_refits(three_centre_ipd_frame):
    data = dr.DoseResponseData.from_frame(
        three_centre_ipd_frame, dose="bed", outcome="tox", study="study", covariates=["htn"],
        dose_metric="BED", dose_unit="Gy",
    )
    fit = dr.NTCPModel("logistic").fit(data, draws=100, tune=150, chains=2, random_seed=5,
                                       check=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny refits may diverge
        kf = dr.kfold(fit, k=3, tune=150)
        loso = dr.leave_one_study_out(fit, tune=150)
        again = dr.kfold(fit, k=3, tune=150)
    assert kf.kind == "kfold" and kf.n_observations == data.n_ipd
    assert np.isfinite(kf.elpd_i).all() and (kf.elpd_i < 0).all()
    np.testing.assert_array_equal(kf.elpd_i, again.elpd_i)  # seeded folds and refits
    assert kf.observations == fit.loo().observations
    assert loso.kind == "loso" and loso.observations == ("study:A", "study:B", "study:C")
    assert np.isfinite(loso.elpd_i).all()
    # a study predicted jointly as a new centre is less well predicted than its rows were
    # in-sample with its own effect
    assert loso.p > 0
