"""Samplers: resolution of ``sampler=``; the experimental disk-cached numba callbacks."""

from __future__ import annotations

import ctypes
import importlib.util

import numpy as np
import pymc as pm
import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.sampling import resolve_sampler

HAS_NUTPIE = importlib.util.find_spec("nutpie") is not None
HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not (HAS_NUTPIE and HAS_NUMBA), reason="nutpie+numba needed")


def _model(y: np.ndarray, group: np.ndarray) -> pm.Model:
    """Normal means per group with a pooled scale; data in pm.Data containers."""
    with pm.Model(coords={"group": ["a", "b"]}) as model:
        y_data = pm.Data("y", y)
        g_data = pm.Data("g", group)
        mu = pm.Normal("mu", 0.0, 10.0, dims="group")
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Deterministic("mu_diff", mu[1] - mu[0])
        pm.Normal("obs", mu[g_data], sigma, observed=y_data)
    return model


def _data(n: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    return rng.normal(np.where(group == 1, 2.0, -1.0) + shift, 1.0), group


def test_auto_resolves_to_nutpie_when_installed():
    if HAS_NUTPIE:
        assert resolve_sampler("auto") == "nutpie"
    else:
        with pytest.warns(UserWarning):
            assert resolve_sampler("auto") == "pymc"
    assert resolve_sampler("pymc") == "pymc"
    with pytest.raises(DoseResponseError):
        resolve_sampler("stan")


@needs_numba
def test_callbacks_match_pymc_logp_and_gradient():
    from doseresponse.models._numba_cache import compile_cached_pymc_model

    model = _model(*_data(40, seed=1))
    compiled = compile_cached_pymc_model(model)
    logp_fn, dlogp_fn = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(0)
    order = [v.name for v in model.value_vars]
    names, slices, shapes = (part[: len(order)] for part in compiled.shape_info)
    assert names == order
    for _ in range(3):
        x = rng.normal(size=compiled.n_dim)
        point = {n: x[s].reshape(shape) for n, s, shape in zip(names, slices, shapes, strict=True)}
        grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
        code = compiled.compiled_logp_func.ctypes(
            compiled.n_dim,
            x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            grad.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            ctypes.c_void_p(compiled.user_data.ctypes.data),
        )
        assert code == 0
        np.testing.assert_allclose(logp[0], logp_fn(point), rtol=1e-10)
        np.testing.assert_allclose(grad, dlogp_fn(point), rtol=1e-8, atol=1e-10)


@needs_numba
def test_cached_callbacks_sample_seeded_and_rebind_to_new_data():
    import nutpie

    from doseresponse.models._numba_cache import compile_cached_pymc_model, rebind

    y, group = _data(60, seed=2)
    compiled = compile_cached_pymc_model(_model(y, group))
    kwargs = dict(draws=300, tune=300, chains=2, seed=5, progress_bar=False)
    idata = nutpie.sample(compiled, **kwargs)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    means = idata.posterior["mu"].mean(("chain", "draw")).to_numpy()
    np.testing.assert_allclose(means, [y[group == 0].mean(), y[group == 1].mean()], atol=0.3)
    assert list(idata.posterior["mu"].coords["group"].values) == ["a", "b"]
    assert "mu_diff" in idata.posterior
    again = nutpie.sample(compile_cached_pymc_model(_model(y, group)), **kwargs)
    np.testing.assert_array_equal(idata.posterior["mu"].values, again.posterior["mu"].values)

    # same structure, new data of another length: the compiled callbacks are reused
    y2, group2 = _data(90, seed=3, shift=5.0)
    other = nutpie.sample(rebind(compiled, _model(y2, group2)), **kwargs)
    means2 = other.posterior["mu"].mean(("chain", "draw")).to_numpy()
    np.testing.assert_allclose(means2, [y2[group2 == 0].mean(), y2[group2 == 1].mean()], atol=0.3)


@needs_numba
def test_rebind_refuses_a_different_structure():
    from doseresponse.models._numba_cache import compile_cached_pymc_model, rebind

    compiled = compile_cached_pymc_model(_model(*_data(20, seed=4)))
    with pm.Model(coords={"group": ["a", "b", "c"]}) as other:
        y_data = pm.Data("y", np.zeros(6))
        g_data = pm.Data("g", np.arange(6) % 3)
        mu = pm.Normal("mu", 0.0, 10.0, dims="group")
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Deterministic("mu_diff", mu[1] - mu[0])
        pm.Normal("obs", mu[g_data], sigma, observed=y_data)
    assert rebind(compiled, other) is None
