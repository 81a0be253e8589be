"""The one ArviZ border: the same groups, diagnostics and PSIS-LOO terms on ArviZ 0.x and 1.x.

These tests run unchanged on both supported stacks (Python 3.11 / ArviZ 0.x ``InferenceData``
and Python 3.13 / ArviZ 1.x ``xarray.DataTree``); what differs between them is confined to
:mod:`doseresponse._arviz_compat`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from doseresponse import _arviz_compat
from doseresponse._arviz_compat import ARVIZ_MAJOR, as_groups, groups_from_arrays, to_native
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.model import NTCPModel
from doseresponse.models.results import FittedModel


@pytest.fixture
def groups(rng):
    return groups_from_arrays(
        {"d50": rng.lognormal(np.log(40.0), 0.1, (2, 50)),
         "d50_study": rng.lognormal(np.log(40.0), 0.2, (2, 50, 3))},
        {"diverging": np.zeros((2, 50), dtype=bool)},
        coords={"study": ["A", "B", "C"]},
        dims={"d50_study": ["study"]},
    )


def test_groups_from_arrays_names_dims_and_coords(groups):
    post = groups["posterior"]
    assert post["d50_study"].dims == ("chain", "draw", "study")
    assert list(post["study"].values) == ["A", "B", "C"]
    np.testing.assert_array_equal(post["draw"].values, np.arange(50))
    assert groups["sample_stats"]["diverging"].dtype == bool
    with pytest.raises(ValueError, match="chain, draw"):
        groups_from_arrays({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="expected"):
        groups_from_arrays({"a": np.zeros((2, 5)), "b": np.zeros((2, 6))})


def test_native_container_round_trips_to_the_same_datasets(groups):
    native = to_native(groups, attrs={"note": "x"})
    if ARVIZ_MAJOR >= 1:
        assert isinstance(native, xr.DataTree)
    else:
        import arviz as az

        assert isinstance(native, az.InferenceData)
    assert native.attrs["note"] == "x"
    back = as_groups(native)
    assert set(back) == {"posterior", "sample_stats"}
    for name, dataset in groups.items():
        xr.testing.assert_identical(back[name], dataset)
    assert as_groups(groups) == groups  # a mapping passes through
    with pytest.raises(TypeError, match="mapping of groups"):
        as_groups(42)


def test_diagnostics_have_the_same_shape_on_both_stacks(groups):
    post = groups["posterior"]
    rhat = _arviz_compat.rhat(post)
    bulk = _arviz_compat.ess(post, method="bulk")
    tail = _arviz_compat.ess(post, method="tail")
    for result in (rhat, bulk, tail):
        assert isinstance(result, xr.Dataset)
        assert result["d50_study"].dims == ("study",)
    # independent draws: R-hat near 1 and ESS near the 100 draws (the versions' estimators
    # differ in detail, so only loose bounds are stated)
    assert np.all(np.abs(rhat["d50_study"].values - 1.0) < 0.1)
    assert np.all((bulk["d50"].values > 30) & (bulk["d50"].values < 300))
    assert np.all(tail["d50"].values > 20)


def test_psis_loo_terms_agree_with_the_plain_average_for_well_behaved_rows(groups, rng):
    """With small, light-tailed log-likelihood spread, LOO ≈ lppd minus a small correction."""
    ll = xr.DataArray(
        rng.normal(-0.7, 0.05, (2, 50, 6)), dims=("chain", "draw", "observation"),
        coords={"chain": [0, 1], "draw": np.arange(50), "observation": list("abcdef")},
        name="obs",
    )
    psis = _arviz_compat.psis_loo(groups["posterior"], ll)
    assert psis.elpd_i.shape == (6,) and psis.pareto_k.shape == (6,)
    assert 0.0 < psis.good_k <= 0.7
    flat = ll.values.reshape(100, 6)
    lppd = np.log(np.exp(flat).mean(axis=0))
    # the LOO density lies below lppd by about the variance of the log-likelihood (0.05² nats)
    assert np.all(psis.elpd_i <= lppd + 1e-12)
    np.testing.assert_allclose(psis.elpd_i, lppd, atol=0.01)
    assert psis.arviz is not None


def test_fitted_model_accepts_every_container(groups, three_centre_ipd_frame):
    data = DoseResponseData.from_frame(
        three_centre_ipd_frame, dose="bed", outcome="tox", study="study", dose_metric="BED",
        dose_unit="Gy",
    )
    spec = NTCPModel("log-logistic").spec_for(data)
    groups = dict(groups)
    groups["posterior"] = groups["posterior"].assign(
        gamma50=(("chain", "draw"), np.full((2, 50), 1.5))
    )
    fits = [FittedModel(obj, spec, data) for obj in (groups, to_native(groups))]
    for fit in fits:
        assert isinstance(fit.posterior, xr.Dataset)
        assert set(fit.groups) == {"posterior", "sample_stats"}
        assert type(fit.idata) is type(to_native(groups))
        # a DataTree node or an InferenceData group: both index by variable name
        np.testing.assert_array_equal(fit.idata.posterior["d50"].values,
                                      groups["posterior"]["d50"].values)
    np.testing.assert_array_equal(fits[0].dose_at(0.05)["draws"], fits[1].dose_at(0.05)["draws"])
    with pytest.raises(DoseResponseError, match="no posterior"):
        FittedModel({"sample_stats": groups["sample_stats"]}, spec, data)
    with pytest.raises(DoseResponseError, match="mapping of groups"):
        FittedModel("fit.nc", spec, data)
    with pytest.raises(DoseResponseError, match="chain"):
        FittedModel({"posterior": xr.Dataset({"d50": ("x", [1.0])})}, spec, data)


def test_psis_loo_of_one_observation_does_not_warn(groups, rng):
    ll = xr.DataArray(
        rng.normal(-0.7, 0.05, (2, 50, 1)), dims=("chain", "draw", "observation"),
        coords={"chain": [0, 1], "draw": np.arange(50), "observation": ["a"]}, name="obs",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        psis = _arviz_compat.psis_loo(groups["posterior"], ll)
    assert psis.elpd_i.shape == (1,)
