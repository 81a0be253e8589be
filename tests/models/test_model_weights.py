"""Stacking and pseudo-BMA(+) weights: closed forms, limits, and agreement with ArviZ."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from doseresponse import _arviz_compat
from doseresponse.exceptions import DoseResponseError
from doseresponse.models import checks
from doseresponse.models.model_weights import model_weights, pseudo_bma_weights, stacking_weights
from tests.test_checks import fake_fit, mixed_data  # noqa: F401 - the fixture is used


def test_pseudo_bma_is_the_softmax_of_the_elpds():
    rng = np.random.default_rng(1)
    elpd_i = rng.normal(-1.0, 0.3, (40, 3))
    totals = elpd_i.sum(axis=0)
    expected = np.exp(totals - totals.max()) / np.exp(totals - totals.max()).sum()
    np.testing.assert_allclose(model_weights(elpd_i, "pseudo-bma"), expected, rtol=1e-12)


def test_identical_models_share_the_weight_under_pseudo_bma_plus():
    column = np.random.default_rng(2).normal(-0.7, 0.2, 50)
    w = pseudo_bma_weights(np.stack([column, column], axis=1))
    np.testing.assert_allclose(w, [0.5, 0.5], rtol=1e-12)


def test_pseudo_bma_plus_is_seeded_and_softer_than_pseudo_bma():
    rng = np.random.default_rng(3)
    base = rng.normal(-0.7, 0.3, 60)
    elpd_i = np.stack([base, base - rng.normal(0.02, 0.2, 60)], axis=1)  # ~1 nat apart, noisy
    a = model_weights(elpd_i, "pseudo-bma+", random_seed=5)
    b = model_weights(elpd_i, "pseudo-bma+", random_seed=5)
    np.testing.assert_array_equal(a, b)
    plain = model_weights(elpd_i, "pseudo-bma")
    assert 0.5 < a[0] < plain[0]  # the bootstrap carries the SE of the difference
    np.testing.assert_allclose(a.sum(), 1.0, rtol=1e-12)


def test_stacking_drops_a_dominated_model_and_mixes_complementary_ones():
    rng = np.random.default_rng(4)
    good = rng.normal(-0.5, 0.1, 80)
    dominated = good - 2.0
    w = stacking_weights(np.stack([good, dominated], axis=1))
    assert w[1] == 0.0 and w[0] == 1.0
    # each model predicts half of the rows well: the best mixture is 50/50
    a = np.where(np.arange(80) < 40, -0.1, -3.0)
    b = np.where(np.arange(80) < 40, -3.0, -0.1)
    np.testing.assert_allclose(stacking_weights(np.stack([a, b], axis=1)), [0.5, 0.5], atol=1e-4)


def test_model_weights_rejects_bad_input():
    with pytest.raises(DoseResponseError, match="unknown weighting"):
        model_weights(np.zeros((3, 2)), "bma")
    with pytest.raises(DoseResponseError, match="shape"):
        model_weights(np.zeros(3))
    with pytest.raises(DoseResponseError, match="NaN or infinite"):
        model_weights(np.array([[0.0, np.nan]]))


@pytest.mark.parametrize(("method", "arviz_method"), [("stacking", "stacking"),
                                                      ("pseudo-bma", "pseudo-BMA")])
def test_weights_agree_with_the_installed_arviz(mixed_data, method, arviz_method):  # noqa: F811
    """The package's weights equal ArviZ's own compare() on the same log-likelihoods."""
    import arviz as az

    fits = {"a": fake_fit(mixed_data, seed=3), "b": fake_fit(mixed_data, d50=46.0, seed=4),
            "c": fake_fit(mixed_data, "log-logistic", d50=42.0, seed=5)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [checks.loo(f) for f in fits.values()]
        raw = {"round_to": "none"} if _arviz_compat.ARVIZ_MAJOR >= 1 else {}  # 1.x rounds
        theirs = az.compare({k: _one_variable(f) for k, f in fits.items()},
                            method=arviz_method, **raw)
    pointwise = np.stack([r.elpd_i for r in ours], axis=1)
    w = dict(zip(fits, model_weights(pointwise, method), strict=True))
    for name in fits:
        np.testing.assert_allclose(w[name], float(theirs.loc[name, "weight"]), atol=2e-3)


def _one_variable(fit):
    values, _ = checks._joined_log_likelihood(fit)  # patient and aggregate rows as one variable
    return _arviz_compat.to_native(
        {"posterior": fit.posterior, "log_likelihood": values.to_dataset(name="obs")}
    )
