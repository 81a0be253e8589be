"""Samplers: resolution of ``sampler=``; nutpie on the analytic density (C and Python callbacks)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.density import LogDensity
from doseresponse.models.model import NTCPModel
from doseresponse.models.sampling import resolve_sampler, sample_density
from doseresponse.simulate import simulate_cohort

HAS_NUTPIE = importlib.util.find_spec("nutpie") is not None
needs_nutpie = pytest.mark.skipif(not HAS_NUTPIE, reason="nutpie needed")
RUN = dict(draws=150, tune=150, chains=2, progressbar=False)


@pytest.fixture(scope="module")
def density():
    sim = simulate_cohort(
        curve="logistic", d50=40.0, slope=1.5, n_studies=4, patients_per_study=40, tau=0.3,
        covariates={"htn": (0.4, 0.7)}, n_aggregate_studies=1, random_seed=12,
    )
    return LogDensity(NTCPModel().spec_for(sim.data), sim.data)


def test_auto_resolves_to_nutpie_when_installed():
    if HAS_NUTPIE:
        assert resolve_sampler("auto") == "nutpie"
    else:
        with pytest.warns(UserWarning):
            assert resolve_sampler("auto") == "pymc"
    assert resolve_sampler("pymc") == "pymc"
    assert resolve_sampler("nutpie-pytensor") == "nutpie-pytensor"
    with pytest.raises(DoseResponseError):
        resolve_sampler("stan")


@needs_nutpie
def test_density_sampling_is_seeded_and_named_like_the_pymc_model(density):
    idata, info = sample_density(density, random_seed=4, **RUN)
    assert info.sampler == "nutpie" and idata.posterior.attrs["random_seed"] == 4
    post = idata.posterior
    assert set(post.data_vars) == set(density.names)
    assert post["d50_study"].dims == ("chain", "draw", "study")
    assert list(post["d50_study"].coords["study"].values) == density.coords["study"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 150
    again, _ = sample_density(density, random_seed=4, **RUN)
    np.testing.assert_array_equal(post["d50"].values, again.posterior["d50"].values)
    other, _ = sample_density(density, random_seed=5, **RUN)
    assert not np.array_equal(post["d50"].values, other.posterior["d50"].values)


@needs_nutpie
def test_c_callbacks_and_python_callbacks_give_the_same_draws(density):
    import nutpie

    from doseresponse.models._nutpie_callbacks import UNCONSTRAINED, compiled_model
    from doseresponse.models.sampling import _python_callback_model

    kwargs = dict(draws=100, tune=100, chains=2, seed=9, progress_bar=False, save_warmup=False)
    fast = nutpie.sample(compiled_model(density), **kwargs)
    slow = nutpie.sample(_python_callback_model(density), **kwargs)
    named = density.expand_draws(fast.posterior[UNCONSTRAINED].to_numpy())
    for name in density.names:
        np.testing.assert_allclose(named[name], slow.posterior[name].values, rtol=1e-9)


@needs_nutpie
def test_fit_uses_the_analytic_density_by_default(density):
    sim = simulate_cohort(curve="probit", d50=30.0, slope=0.3, n_studies=3,
                          patients_per_study=40, tau=0.2, random_seed=2)
    fit = NTCPModel(curve="probit").fit(sim.data, random_seed=1, check=False, **RUN)
    assert fit.idata.posterior.attrs["sampler"] == "nutpie"
    assert {"d50", "m", "tau", "d50_study"} <= set(fit.idata.posterior.data_vars)


def test_run_settings_are_validated(density):
    with pytest.raises(DoseResponseError, match="draws"):
        sample_density(density, draws=0)
    with pytest.raises(DoseResponseError, match="target_accept"):
        sample_density(density, target_accept=1.5)
