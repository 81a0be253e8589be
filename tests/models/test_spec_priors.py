"""ModelSpec serialisation/validation and prior resolution."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError, ModelMismatchError, UnknownNameError
from doseresponse.models.priors import (
    DEFAULT_SLOPE_SIGMA,
    default_priors,
    lognormal_prior,
    resolve_priors,
)
from doseresponse.models.spec import SPEC_FORMAT_VERSION, ModelSpec


def _spec(**kw):
    priors = resolve_priors(default_priors([10.0, 40.0, 80.0], "gamma50"), None, ["htn"])
    base = dict(kind="ntcp", curve="lkb", covariates=("htn",), priors=priors)
    base.update(kw)
    return ModelSpec(**base)


def test_spec_normalises_names_and_round_trips_json():
    spec = _spec()
    assert spec.kind == "NTCP" and spec.curve == "probit" and spec.slope_name == "m"
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.sha256() == spec.sha256()
    assert json.loads(spec.to_json())["format_version"] == SPEC_FORMAT_VERSION


def test_spec_hash_changes_with_any_field():
    assert _spec().sha256() != _spec(pooling="complete").sha256()


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"pooling": "some"}, "pooling"),
        ({"kind": "XTCP"}, "kind"),
        ({"curve": "sigmoid"}, "curve family"),
        ({"pool_slope": True, "pooling": "complete"}, "pool_slope"),
        ({"quadrature_nodes": 0}, "quadrature_nodes"),
        ({"study_covariates": ("htn",)}, "both"),
    ],
)
def test_spec_rejects_bad_settings(kw, match):
    with pytest.raises(DoseResponseError, match=match):
        _spec(**kw)


def test_spec_from_other_format_version_is_a_mismatch():
    payload = _spec().to_dict()
    payload["format_version"] = 99
    with pytest.raises(ModelMismatchError, match="version"):
        ModelSpec.from_dict(payload)
    payload = _spec().to_dict()
    payload["surprise"] = 1
    with pytest.raises(ModelMismatchError, match="surprise"):
        ModelSpec.from_dict(payload)


def test_default_d50_prior_spans_the_observed_doses():
    doses = np.linspace(10.0, 90.0, 200)
    pri = default_priors(doses, "gamma50")["d50"]
    lo, hi = np.quantile(doses, [0.05, 0.95])
    assert pri["median"] == pytest.approx(math.sqrt(lo * hi))
    z = 1.959963984540054
    upper = pri["median"] * math.exp(z * pri["sigma"])
    lower = pri["median"] * math.exp(-z * pri["sigma"])
    assert lower <= lo / 2 + 1e-9 and upper == pytest.approx(2 * hi)


def test_probit_slope_prior_is_the_gamma50_prior_mapped_to_m():
    m = default_priors([40.0], "m")["slope"]
    assert m["median"] == pytest.approx(1 / (1.5 * math.sqrt(2 * math.pi)))
    assert m["sigma"] == pytest.approx(DEFAULT_SLOPE_SIGMA)


def test_lognormal_prior_from_range():
    pri = lognormal_prior(lower=20.0, upper=80.0, name="d50")
    assert pri["median"] == pytest.approx(40.0)
    assert pri["sigma"] == pytest.approx(math.log(4.0) / (2 * 1.959963984540054))


def test_overrides_merge_and_expand_per_covariate():
    defaults = default_priors([10.0, 90.0], "gamma50")
    pri = resolve_priors(
        defaults,
        {"d50": {"median": 40, "lower": 20, "upper": 80}, "tau": {"sigma": 0.3},
         "factor:htn": {"median": 0.7, "sigma": 0.2}},
        ["htn", "age"],
    )
    assert pri["d50"]["median"] == 40.0
    assert pri["tau"] == {"dist": "halfnormal", "sigma": 0.3}
    assert pri["factor:htn"] == {"dist": "lognormal", "median": 0.7, "sigma": 0.2}
    assert pri["factor:age"] == pri["factor"]
    # a median-only override keeps the default spread
    pri = resolve_priors(defaults, {"slope": {"median": 2.0}}, [])
    assert pri["slope"]["sigma"] == defaults["slope"]["sigma"]


@pytest.mark.parametrize(
    "override,error,match",
    [
        ({"d5O": {"median": 4}}, UnknownNameError, "valid names are: d50, slope"),
        ({"factor:bmi": {"median": 1}}, UnknownNameError, "factor:htn"),
        ({"tau": {"median": 1}}, DoseResponseError, "unknown setting"),
        ({"tau": {"dist": "cauchy", "sigma": 1}}, DoseResponseError, "halfnormal"),
        ({"d50": {"lower": 80, "upper": 20}}, DoseResponseError, "below upper"),
        ({"d50": {"median": -3}}, DoseResponseError, "> 0"),
        ({"d50": 40}, DoseResponseError, "must be a dict"),
    ],
)
def test_bad_overrides_name_the_problem(override, error, match):
    with pytest.raises(error, match=match):
        resolve_priors(default_priors([10.0, 90.0], "gamma50"), override, ["htn"])


def test_no_positive_dose_needs_an_explicit_d50_prior():
    with pytest.raises(DoseResponseError, match="d50"):
        default_priors([0.0, 0.0], "gamma50")
