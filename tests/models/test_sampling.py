"""Samplers: ``sampler=`` resolution, both nutpie routes, the fallback, and a smoke test of each."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError, SamplerFallbackWarning
from doseresponse.models.density import LogDensity
from doseresponse.models.model import NTCPModel
from doseresponse.models.sampling import (
    SAMPLERS,
    c_callback_route_status,
    public_callback_model,
    resolve_sampler,
    sample_density,
)
from doseresponse.simulate import simulate_cohort

RUN = dict(draws=150, tune=150, chains=2, progressbar=False)


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(
        curve="logistic", d50=40.0, slope=1.5, n_studies=4, patients_per_study=40, tau=0.3,
        covariates={"htn": (0.4, 0.7)}, n_aggregate_studies=1, random_seed=12,
    ).data


@pytest.fixture(scope="module")
def density(cohort):
    return LogDensity(NTCPModel().spec_for(cohort), cohort)


def test_auto_resolves_to_nutpie():
    assert resolve_sampler("auto") == "nutpie"
    for name in SAMPLERS:
        assert resolve_sampler(name) in SAMPLERS
    with pytest.raises(DoseResponseError, match="sampler"):
        resolve_sampler("stan")


def test_c_callback_route_is_available_on_this_stack():
    # CI runs this on both supported stacks (nutpie 0.16.8 / Python 3.11 and 0.16.11 /
    # Python 3.13): a nutpie release that changes the undocumented interface fails here
    # loudly, instead of every user silently getting the slower public route.
    available, reason = c_callback_route_status()
    assert available, reason


def test_density_sampling_is_seeded_and_named_like_the_pymc_model(density):
    groups, info = sample_density(density, random_seed=4, **RUN)
    assert info.sampler == "nutpie" and info.route == "c-callbacks"
    post = groups["posterior"]
    assert post.attrs["random_seed"] == 4 and post.attrs["sampler_route"] == "c-callbacks"
    assert set(post.data_vars) == set(density.names)
    assert post["d50_study"].dims == ("chain", "draw", "study")
    assert list(post["d50_study"].coords["study"].values) == density.coords["study"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 150
    assert "diverging" in groups["sample_stats"]
    again, _ = sample_density(density, random_seed=4, **RUN)
    # same seed, same machine, same compiled code: the same draws (bitwise)
    np.testing.assert_array_equal(post["d50"].values, again["posterior"]["d50"].values)
    other, _ = sample_density(density, random_seed=5, **RUN)
    assert not np.array_equal(post["d50"].values, other["posterior"]["d50"].values)


def test_c_callbacks_and_public_route_give_the_same_draws(density):
    # Both routes evaluate the same compiled kernel and nutpie's RNG is seeded: the chains
    # must coincide up to floating-point summation order (rtol 1e-9).
    fast, info_fast = sample_density(density, random_seed=9, route="c-callbacks", **RUN)
    slow, info_slow = sample_density(density, random_seed=9, route="python-callbacks", **RUN)
    assert (info_fast.route, info_slow.route) == ("c-callbacks", "python-callbacks")
    assert info_slow.sampler == "nutpie-python"
    for name in density.names:
        np.testing.assert_allclose(
            fast["posterior"][name].values, slow["posterior"][name].values, rtol=1e-9
        )


def test_any_failure_of_the_c_route_falls_back_with_one_warning(density, monkeypatch):
    from doseresponse.models import _nutpie_callbacks

    def broken(_density):
        raise TypeError("CompiledPyMCModel.__init__() missing 1 required positional argument")

    monkeypatch.setattr(_nutpie_callbacks, "compiled_model", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups, info = sample_density(density, random_seed=3, **RUN)
    fallbacks = [w for w in caught if issubclass(w.category, SamplerFallbackWarning)]
    assert len(fallbacks) == 1
    message = str(fallbacks[0].message)
    assert "\n" not in message and "TypeError" in message and "public" in message
    assert info.route == "python-callbacks"
    assert groups["posterior"]["d50"].shape == (2, 150)


def test_public_route_model_is_a_documented_nutpie_model(density):
    from nutpie.compiled_pyfunc import PyFuncModel

    assert isinstance(public_callback_model(density), PyFuncModel)


def test_buffered_density_equals_logp_and_grad(density):
    evaluate = density.logp_and_grad_function()
    for seed in range(3):
        x = density.initial_point(seed)
        value, grad = evaluate(x)
        expected, expected_grad = density.logp_and_grad(x)
        assert value == pytest.approx(expected, rel=1e-14)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-14)


# nutpie's numba backend compiles the PyMC graph with numba (19 s on 2 cores): slow suite.
@pytest.mark.parametrize("sampler", [
    pytest.param(name, marks=pytest.mark.slow) if name == "nutpie-numba" else name
    for name in [*sorted(set(SAMPLERS) - {"auto"}), "auto"]
])
def test_every_sampler_option_fits(sampler, cohort):
    # smoke test: each sampler= option runs end to end and returns a named posterior
    fit = NTCPModel().fit(cohort, sampler=sampler, random_seed=2, check=False,
                          draws=60, tune=60, chains=2, progressbar=False)
    post = fit.posterior
    assert post.attrs["sampler"] == resolve_sampler(sampler)
    assert {"d50", "gamma50", "tau", "d50_study", "factor"} <= set(post.data_vars)
    assert np.isfinite(np.asarray(post["d50"])).all()
    assert list(np.asarray(post["d50_study"].coords["study"])) == list(cohort.studies)


@pytest.mark.slow  # two nutpie-numba compiles (20 s on 2 cores)
def test_pymc_sampler_does_not_leak_one_cohort_into_the_next():
    # The old nutpie-numba in-process cache keyed by spec + study count gave a later IPD-only
    # cohort the arrays and study labels of an earlier cohort with aggregate rows.
    first = simulate_cohort(curve="logistic", d50=30.0, slope=1.5, n_studies=3,
                            patients_per_study=30, n_aggregate_studies=1, random_seed=1).data
    second = simulate_cohort(curve="logistic", d50=60.0, slope=1.5, n_studies=3,
                             patients_per_study=30, random_seed=2).data
    model = NTCPModel()
    settings = dict(sampler="nutpie-numba", random_seed=1, check=False, draws=80, tune=80,
                    chains=2, progressbar=False)
    model.fit(first, **settings)
    fit = model.fit(second, **settings)
    post = fit.posterior
    assert list(np.asarray(post["d50_study"].coords["study"])) == list(second.studies)


def test_default_fit_does_not_import_pymc_or_pytensor():
    code = (
        "import sys, doseresponse as dr\n"
        "from doseresponse.simulate import simulate_cohort\n"
        "sim = simulate_cohort(curve='logistic', d50=40.0, slope=1.5, n_studies=3,"
        " patients_per_study=30, random_seed=1)\n"
        "fit = dr.NTCPModel().fit(sim.data, random_seed=1, draws=50, tune=50, chains=2,"
        " progressbar=False, check=False)\n"
        "fit.dose_at(0.05)\n"
        "print(sorted(m for m in ('pymc', 'pytensor') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_run_settings_are_validated(density):
    with pytest.raises(DoseResponseError, match="draws"):
        sample_density(density, draws=0)
    with pytest.raises(DoseResponseError, match="target_accept"):
        sample_density(density, target_accept=1.5)
    with pytest.raises(DoseResponseError, match="route"):
        sample_density(density, route="carrier-pigeon")
