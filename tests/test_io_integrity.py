"""Saved fits: damaged, edited, signed and concurrently written files (issue 13).

Every read or parse failure of a fit file, every edit the content digest covers and every
disagreement between the posterior and the stored spec/data must surface at ``load()`` as a
:class:`ModelMismatchError` naming the file and the cause; concurrent saves to one new path must
never lose a fit. Fits are built from synthetic draws (no MCMC).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5netcdf
import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doseresponse import _arviz_compat
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import (
    DoseResponseError,
    FitError,
    ModelMismatchError,
    UnverifiedFitWarning,
)
from doseresponse.models import io
from doseresponse.models.io import content_digest, load, save
from doseresponse.models.model import NTCPModel
from doseresponse.models.results import FittedModel


def make_fit(nan_draws: dict[str, int] | None = None, seed: int = 11) -> FittedModel:
    """A partial-pooling probit fit with one covariate, from synthetic draws (importable by
    spawned processes)."""
    rng = np.random.default_rng(7)
    n = 60
    dose = rng.lognormal(np.log(35.0), 0.4, n)
    htn = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(4 * 1.5 * (1 - dose / (40.0 * 0.75**htn))))
    import pandas as pd

    frame = pd.DataFrame({"study": np.repeat(["A", "B", "C"], n // 3), "bed": dose,
                          "tox": rng.binomial(1, p), "htn": htn})
    data = DoseResponseData.from_frame(frame, dose="bed", outcome="tox", study="study",
                                       covariates=["htn"], dose_metric="BED", dose_unit="Gy")
    spec = NTCPModel(curve="probit").spec_for(data)
    rng = np.random.default_rng(seed)
    shape = (2, 100)
    posterior = {
        "d50": np.exp(rng.normal(np.log(40.0), 0.1, shape)),
        "m": np.exp(rng.normal(np.log(0.25), 0.1, shape)),
        "tau": np.abs(rng.normal(0.3, 0.05, shape)),
        "factor": np.exp(rng.normal(np.log(0.75), 0.05, (*shape, 1))),
        "d50_study": np.exp(rng.normal(np.log(40.0), 0.2, (*shape, 3))),
    }
    for name, count in (nan_draws or {}).items():
        posterior[name].reshape(-1)[:count] = np.nan
    groups = _arviz_compat.groups_from_arrays(
        posterior,
        {"diverging": np.zeros(shape, dtype=bool), "energy": rng.normal(size=shape)},
        coords={"study": list(data.studies), "covariate": ["htn"]},
        dims={"factor": ["covariate"], "d50_study": ["study"]},
    )
    return FittedModel(groups, spec, data)


@pytest.fixture(scope="module")
def fit() -> FittedModel:
    return make_fit()


@pytest.fixture(scope="module")
def saved(fit, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "fit.nc"
    save(fit, path)
    return path


def _copy(saved: Path, tmp_path: Path, name: str = "copy.nc") -> Path:
    target = tmp_path / name
    shutil.copyfile(saved, target)
    return target


def _same_fit(a: FittedModel, b: FittedModel, numbers: bool = True) -> None:
    assert a.spec == b.spec and a.data == b.data
    assert set(a.groups) == set(b.groups)
    for group in a.groups:
        assert set(a.groups[group].variables) == set(b.groups[group].variables)
        for name in a.groups[group].variables:
            np.testing.assert_array_equal(a.groups[group][name].values,
                                          b.groups[group][name].values)
    if numbers:
        np.testing.assert_array_equal(a.dose_at(0.05)["draws"], b.dose_at(0.05)["draws"])


def _attr(path: Path, name: str) -> str:
    with h5netcdf.File(path, "r") as handle:
        value = handle.attrs[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def _set_attr(path: Path, name: str, value) -> None:
    with h5netcdf.File(path, "a") as handle:
        handle.attrs[name] = value


def _redigest(path: Path) -> None:
    """Recompute the spec/data digests and the content digest after an edit (what someone who
    knows the file format but not a signing key can do)."""
    for name in ("spec", "data"):
        _set_attr(path, f"{name}_sha256", io._sha256(_attr(path, f"{name}_json")))
    attrs, present = io._root_attrs_and_groups(path)
    digest = content_digest(attrs, {g: io._read_group(path, g) for g in present})
    _set_attr(path, "content_sha256", digest)


# --------------------------------------------------------------------------- round trip


def test_round_trip_is_exact_and_covered_by_the_digest(saved, fit):
    assert _attr(saved, "doseresponse_format_version") == "2"
    assert len(_attr(saved, "content_sha256")) == 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unsigned version-2 file loads without warnings
        loaded = load(saved)
    _same_fit(fit, loaded)


@pytest.mark.slow
def test_a_file_written_by_the_other_interpreter_loads(tmp_path, fit):
    other = {"3.11": "/work/venv313/bin/python", "3.13": "/work/venv311/bin/python"}.get(
        f"{sys.version_info.major}.{sys.version_info.minor}"
    )
    if other is None or not Path(other).exists():
        pytest.skip("the other supported interpreter is not installed here")
    path = tmp_path / "other.nc"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
            "from tests.test_io_integrity import make_fit; "
            f"make_fit().save({str(path)!r})")
    subprocess.run([other, "-c", code], check=True, capture_output=True, timeout=120)
    _same_fit(fit, load(path))


# --------------------------------------------------------------------------- digest


def _scale_d50(h):
    h["posterior/d50"][...] = h["posterior/d50"][...] * 10


def _flip_divergence(h):
    values = h["sample_stats/diverging"][...]
    values[0, 0] = 1 - values[0, 0]
    h["sample_stats/diverging"][...] = values


def _one_draw(h):
    values = h["posterior/factor"][...]
    values[1, 99, 0] = np.nextafter(values[1, 99, 0], 2.0)
    h["posterior/factor"][...] = values


def _study_labels(h):
    h["posterior/study"][...] = np.array([b"C", b"B", b"A"], dtype=object)


def _variable_attr(h):
    h["posterior/d50"].attrs["units"] = "cGy"


def _group_attr(h):
    h["posterior"].attrs["note"] = "edited"


def _drop_sample_stats(h):
    del h["sample_stats"]


def _created(h):
    h.attrs["created"] = "2020-01-01T00:00:00+00:00"


def _spec_and_its_sha(h):
    spec = h.attrs["spec_json"]
    spec = spec.decode() if isinstance(spec, bytes) else str(spec)
    prior = '"d50":{"dist":"lognormal","median":'
    assert prior in spec
    spec = spec.replace(prior, prior + "1")
    h.attrs["spec_json"] = spec
    h.attrs["spec_sha256"] = io._sha256(spec)


def _data_and_its_sha(h):
    data = json.loads(h.attrs["data_json"])
    data["rows"]["outcome"][0] = 1 - data["rows"]["outcome"][0]
    text = json.dumps(data, sort_keys=True)
    h.attrs["data_json"] = text
    h.attrs["data_sha256"] = io._sha256(text)


EDITS = {
    "posterior d50 x 10": _scale_d50,
    "one draw by one ulp": _one_draw,
    "a divergence flag": _flip_divergence,
    "study coordinate values": _study_labels,
    "a variable attribute": _variable_attr,
    "a group attribute": _group_attr,
    "sample_stats group removed": _drop_sample_stats,
    "created timestamp": _created,
    "spec edited with its own sha recomputed": _spec_and_its_sha,
    "data edited with its own sha recomputed": _data_and_its_sha,
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_every_edit_is_caught_by_the_content_digest(saved, tmp_path, edit):
    path = _copy(saved, tmp_path)
    with h5py.File(path, "r+") as handle:
        EDITS[edit](handle)
    with pytest.raises(ModelMismatchError, match="does not match its SHA-256 digest") as info:
        load(path)
    assert str(path) in str(info.value) and "Restore the original file or refit" in str(
        info.value)


def test_a_removed_content_digest_is_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle.attrs["content_sha256"]
    with pytest.raises(ModelMismatchError, match="no content_sha256 attribute"):
        load(path)


def test_version_1_files_load_with_a_warning_that_the_posterior_is_not_covered(saved, tmp_path,
                                                                               fit):
    path = _copy(saved, tmp_path)
    with h5py.File(path, "r+") as handle:
        del handle.attrs["content_sha256"]
        handle.attrs["doseresponse_format_version"] = 1
    with pytest.warns(UnverifiedFitWarning, match="posterior is not covered") as record:
        loaded = load(path)
    assert len(record) == 1 and "Re-save it" in str(record[0].message)
    _same_fit(fit, loaded)
    with pytest.raises(ModelMismatchError, match="carries no signature, but key= was given"):
        load(path, key=b"secret")


# --------------------------------------------------------------------------- cross-check


def _spec_edit(old: str, new: str):
    def edit(path: Path) -> None:
        spec = _attr(path, "spec_json")
        assert old in spec, spec
        _set_attr(path, "spec_json", spec.replace(old, new))
    return edit


def _data_edit(change):
    def edit(path: Path) -> None:
        data = json.loads(_attr(path, "data_json"))
        change(data)
        _set_attr(path, "data_json", json.dumps(data, sort_keys=True))
    return edit


def _h5_edit(change):
    def edit(path: Path) -> None:
        with h5py.File(path, "r+") as handle:
            change(handle)
    return edit


def _rename_variable(old, new):
    def change(h):
        h["posterior"].move(old, new)
    return change


def _relabel_studies(data):
    data["rows"]["study"] = [{"A": "B", "B": "A"}.get(s, s) for s in data["rows"]["study"]]


def _swap_first_rows(data):
    """Study order of first appearance becomes B, A, C."""
    rows = data["rows"]
    first_b = rows["study"].index("B")
    for values in rows.values():
        values[0], values[first_b] = values[first_b], values[0]


def _unit(data):
    data["mapping"]["dose_unit"] = "cGy"
    data["rows"]["dose_unit"] = ["cGy"] * len(data["rows"]["dose_unit"])


CROSS = {
    "study order": (_data_edit(_swap_first_rows), "coordinate 'study'"),
    "study labels": (_data_edit(_relabel_studies), "coordinate 'study'"),
    "pooling partial -> complete": (
        _spec_edit('"pooling":"partial"', '"pooling":"complete"'),
        "variable 'd50_study' does not belong",
    ),
    "curve probit -> logistic": (
        _spec_edit('"curve":"probit"', '"curve":"logistic"'), "variable 'gamma50' is missing"),
    "dose unit in the data": (_data_edit(_unit), "'Gy' but the data's is 'BED' in 'cGy'"),
    "covariate label": (
        _h5_edit(lambda h: h["posterior/covariate"].__setitem__(
            ..., np.array([b"dm"], dtype=object))),
        "coordinate 'covariate' is ['dm']",
    ),
    "slope variable renamed": (
        _h5_edit(_rename_variable("m", "gamma50")), "variable 'm' is missing"),
    "population d50 removed": (
        _h5_edit(lambda h: h["posterior"].__delitem__("d50")), "variable 'd50' is missing"),
}


@pytest.mark.parametrize("case", list(CROSS), ids=list(CROSS))
def test_consistent_looking_edits_are_caught_by_the_cross_check(saved, tmp_path, case):
    """Edits with every digest recomputed (someone who knows the format) still disagree with
    the spec or the data, and the error names what disagrees."""
    edit, expected = CROSS[case]
    path = _copy(saved, tmp_path)
    edit(path)
    _redigest(path)
    with pytest.raises(ModelMismatchError) as info:
        load(path)
    message = str(info.value)
    assert expected in message, message
    assert str(path) in message and "Refit the model or restore the original file" in message


def test_a_spec_for_another_cohort_is_caught(saved, tmp_path):
    path = _copy(saved, tmp_path)
    _spec_edit('"dose_unit":"Gy"', '"dose_unit":"cGy"')(path)
    _redigest(path)
    with pytest.raises(ModelMismatchError, match="the spec's dose is 'BED' in 'cGy'"):
        load(path)


# --------------------------------------------------------------------------- signature


def test_signed_files_verify_only_with_the_right_key(tmp_path, fit):
    path = tmp_path / "signed.nc"
    save(fit, path, key=b"centre-key")
    _same_fit(fit, load(path, key=b"centre-key"))
    with pytest.raises(ModelMismatchError, match="signature does not match under the given key"):
        load(path, key=b"another key")
    with pytest.warns(UnverifiedFitWarning, match="signature was not checked") as record:
        load(path)
    assert len(record) == 1 and "key=" in str(record[0].message)


def test_an_edit_with_recomputed_digests_fails_the_signature(tmp_path, fit):
    path = tmp_path / "signed.nc"
    save(fit, path, key=b"centre-key")
    with h5py.File(path, "r+") as handle:
        _scale_d50(handle)
    _redigest(path)
    with pytest.raises(ModelMismatchError, match="modified by someone without the key"):
        load(path, key=b"centre-key")


def test_a_key_needs_a_signed_file_and_must_be_bytes(saved, tmp_path, fit):
    with pytest.raises(ModelMismatchError, match="carries no signature but key= was given"):
        load(saved, key=b"centre-key")
    path = tmp_path / "signed.nc"
    save(fit, path, key=b"centre-key")
    with h5py.File(path, "r+") as handle:
        del handle.attrs["signature_hmac_sha256"]
    with pytest.raises(ModelMismatchError, match="carries no signature"):
        load(path, key=b"centre-key")
    for bad in ("centre-key", b""):
        with pytest.raises(DoseResponseError, match=r"key must be non-empty bytes.*encode"):
            save(fit, tmp_path / "x.nc", key=bad)
        with pytest.raises(DoseResponseError, match="key must be non-empty bytes"):
            load(saved, key=bad)


# --------------------------------------------------------------------------- damaged files


def _load_outcome(path: Path, fit: FittedModel) -> str:
    """'identical' or 'refused'; anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load(path)
    except ModelMismatchError as exc:
        assert str(path) in str(exc)
        return "refused"
    _same_fit(fit, loaded, numbers=False)  # same draws, spec and data: the same numbers
    return "identical"


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_flips_load_identically_or_raise_model_mismatch(saved, fit, tmp_path, data):
    raw = bytearray(saved.read_bytes())
    count = data.draw(st.integers(1, 16), label="bytes flipped")
    start = data.draw(st.integers(0, len(raw) - count), label="offset")
    for i in range(start, start + count):
        raw[i] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "flipped.nc"
    path.write_bytes(bytes(raw))
    _load_outcome(path, fit)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_files_raise_model_mismatch(saved, fit, tmp_path, fraction):
    raw = saved.read_bytes()
    path = tmp_path / "truncated.nc"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    assert _load_outcome(path, fit) == "refused"


def test_non_fit_files_raise_model_mismatch_naming_the_file(tmp_path):
    for name, content in (("empty.nc", b""), ("text.nc", b"dose,tox\n1,0\n"),
                          ("utf16.nc", "\ufeffnicht".encode("utf-16"))):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelMismatchError, match="not a readable NetCDF") as info:
            load(path)
        assert str(path) in str(info.value)


# --------------------------------------------------------------------------- writing


def test_a_posterior_with_nan_or_inf_draws_is_not_saved(tmp_path):
    broken = make_fit(nan_draws={"d50": 3, "factor": 1})
    path = tmp_path / "broken.nc"
    with pytest.raises(FitError, match=r"d50: 3 of 200; factor: 1 of 200") as info:
        save(broken, path)
    assert "Refit the model to completion" in str(info.value)
    assert not path.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_follow_the_umask(tmp_path, fit, umask):
    old = os.umask(umask)
    try:
        for overwrite in (False, True):
            path = save(fit, tmp_path / "fit.nc", overwrite=overwrite)
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)


def test_a_file_appearing_during_the_save_is_not_overwritten(tmp_path, fit, monkeypatch):
    path = tmp_path / "fit.nc"
    move = io._move_into_place

    def racing_writer(tmp, target, overwrite):
        target.write_text("the other process's fit")
        move(tmp, target, overwrite)

    monkeypatch.setattr(io, "_move_into_place", racing_writer)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(fit, path)
    assert path.read_text() == "the other process's fit"
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # no temporary file left


def _save_in_process(path: str, seed: int, barrier, results) -> None:
    fit = make_fit(seed=seed)
    barrier.wait()
    try:
        save(fit, path)
        results.put((seed, "saved"))
    except FileExistsError as exc:
        results.put((seed, f"FileExistsError: {exc}"))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put((seed, f"{type(exc).__name__}: {exc}"))


def test_two_processes_saving_to_one_new_path_never_lose_a_fit(tmp_path):
    """Two real processes released together by a barrier. Forkserver (one import of the package,
    preloaded, then a fork per worker) where available, spawn otherwise; never plain fork from
    this multi-threaded test process."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload([__name__])
    barrier, results = context.Barrier(2), context.Queue()
    path = tmp_path / "fit.nc"
    workers = [context.Process(target=_save_in_process, args=(str(path), seed, barrier, results))
               for seed in (1, 2)]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    saved_by = [seed for seed, outcome in outcomes.items() if outcome == "saved"]
    refused = [o for o in outcomes.values() if o.startswith("FileExistsError")]
    assert len(saved_by) == 1 and len(refused) == 1, outcomes
    assert "overwrite=True" in refused[0]
    _same_fit(make_fit(seed=saved_by[0]), load(path))
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]


@pytest.mark.parametrize("curve", ["logistic", "probit"])  # slopes gamma50 and m
@pytest.mark.parametrize("pooling, pool_slope", [("partial", False), ("partial", True),
                                                 ("complete", False), ("none", False)])
@pytest.mark.parametrize("covariates", [(), ("htn",)])
def test_the_cross_check_accepts_every_model_the_sampler_produces(fit, curve, pooling,
                                                                  pool_slope, covariates):
    """The posterior layout the density names (what the samplers write) passes the cross-check,
    so only edited files are refused."""
    from doseresponse.models.density import LogDensity

    base = fit.data
    mapping = {**base.canonical_mapping(), "covariates": covariates}
    data = DoseResponseData.from_frame(base.to_frame(), **mapping)
    spec = NTCPModel(curve=curve, pooling=pooling, pool_slope=pool_slope).spec_for(data)
    density = LogDensity(spec, data)
    arrays = {name: np.ones((1, 4, *shape)) for name, shape in zip(
        density.names, density.shapes, strict=True)}
    groups = _arviz_compat.groups_from_arrays(arrays, coords=density.coords,
                                              dims=density.dims)
    assert io._cross_check(spec, data, groups["posterior"]) == []
