"""save → load round trips, overwrite refusal and tamper detection."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import ModelMismatchError
from doseresponse.io import load, save
from doseresponse.models.model import NTCPModel
from doseresponse.results import FittedModel


@pytest.fixture(scope="module")
def data(three_centre_ipd_frame) -> DoseResponseData:
    return DoseResponseData.from_frame(
        three_centre_ipd_frame, dose="bed", outcome="tox", study="study", covariates=["htn"],
        dose_metric="BED", dose_unit="Gy",
    )


@pytest.fixture(scope="module")
def fake_fit(data) -> FittedModel:
    rng = np.random.default_rng(11)
    spec = NTCPModel(curve="probit").spec_for(data)
    shape = (2, 100)
    groups = _arviz_compat.groups_from_arrays(
        {
            "d50": np.exp(rng.normal(np.log(40.0), 0.1, shape)),
            "m": np.exp(rng.normal(np.log(0.25), 0.1, shape)),
            "tau": np.abs(rng.normal(0.3, 0.05, shape)),
            "factor": np.exp(rng.normal(np.log(0.75), 0.05, (*shape, 1))),
            "d50_study": np.exp(rng.normal(np.log(40.0), 0.2, (*shape, 3))),
        },
        {"diverging": np.zeros(shape, dtype=bool)},
        coords={"study": list(data.studies), "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


def _same_predictions(a: FittedModel, b: FittedModel) -> None:
    doses = np.linspace(0.0, 90.0, 13)
    for which in ("population", "new_study", "B"):
        ca = a.curve(doses, which=which, covariates={"htn": 1})
        cb = b.curve(doses, which=which, covariates={"htn": 1})
        for field in ("mean", "median", "lower", "upper"):
            np.testing.assert_array_equal(getattr(ca, field), getattr(cb, field))
        np.testing.assert_array_equal(
            a.dose_at(0.05, which=which)["draws"], b.dose_at(0.05, which=which)["draws"]
        )


def test_round_trip_gives_identical_curves(tmp_path, fake_fit):
    path = tmp_path / "fit.nc"
    fake_fit.save(path)
    loaded = load(path)
    assert loaded.spec == fake_fit.spec
    assert loaded.data == fake_fit.data
    assert set(loaded.groups) == {"posterior", "sample_stats"}
    _same_predictions(fake_fit, loaded)
    pd.testing.assert_frame_equal(loaded.summary_frame(), fake_fit.summary_frame())


def test_refuses_to_overwrite_unless_asked(tmp_path, fake_fit):
    path = tmp_path / "fit.nc"
    path.write_text("the user's precious file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(fake_fit, path)
    assert path.read_text() == "the user's precious file"
    save(fake_fit, path, overwrite=True)
    assert load(path).spec == fake_fit.spec
    assert not list(tmp_path.glob("*.part"))


def _edit_attr(path, name, value):
    with h5py.File(path, "r+") as handle:
        handle.attrs[name] = value


def test_tampered_spec_is_detected(tmp_path, fake_fit):
    path = tmp_path / "fit.nc"
    fake_fit.save(path)
    tampered = fake_fit.spec.to_json().replace('"pooling":"partial"', '"pooling":"complete"')
    _edit_attr(path, "spec_json", tampered)
    with pytest.raises(ModelMismatchError, match="spec does not match"):
        load(path)


def test_tampered_data_is_detected(tmp_path, fake_fit):
    path = tmp_path / "fit.nc"
    fake_fit.save(path)
    with h5py.File(path, "r") as handle:
        text = handle.attrs["data_json"]
    text = text.decode() if isinstance(text, bytes) else str(text)
    _edit_attr(path, "data_json", text.replace('"tox"', '"toxx"', 1) + " ")
    with pytest.raises(ModelMismatchError, match="data does not match"):
        load(path)


def test_unknown_format_version_and_foreign_files(tmp_path, fake_fit):
    path = tmp_path / "fit.nc"
    fake_fit.save(path)
    _edit_attr(path, "doseresponse_format_version", 99)
    with pytest.raises(ModelMismatchError, match="format version 99"):
        load(path)
    foreign = tmp_path / "foreign.nc"
    fake_fit.posterior.to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(ModelMismatchError, match="not a doseresponse"):
        load(foreign)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.nc")


def test_tiny_real_fit_round_trip(tmp_path, data):
    fit = NTCPModel(curve="logistic").fit(
        data, draws=100, tune=150, chains=2, random_seed=5, check=False
    )
    assert fit.posterior.attrs["random_seed"] == 5
    assert fit.posterior["d50_study"].dims[-1] == "study"
    path = tmp_path / "real.nc"
    fit.save(path)
    loaded = load(path)
    _same_predictions(fit, loaded)
