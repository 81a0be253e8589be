"""Bayesian fits of cohorts the data cannot inform say so (DegenerateDataWarning, summary line).

Hypothesis draws random cohorts with and without each degenerate feature; the expected causes
are derived from how the cohort was built, not from the code under test. The fit path is
checked up to the sampler (stubbed), one real fit is marked slow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import doseresponse as dr
from doseresponse.exceptions import DegenerateDataWarning
from doseresponse.models import model as model_module
from doseresponse.models.degenerate import prior_driven_causes

FIXES = {
    "no events": "add cohorts with events",
    "only events": "add cohorts without events",
    "constant": "drop it from covariates=",
    "one study": "use pooling='complete' or add studies",
    "per study": "use pooling='partial'",
}


@st.composite
def _cohorts(draw):
    n_studies = draw(st.integers(1, 3))
    per_study = draw(st.integers(2, 8))
    outcome = draw(st.sampled_from(["none", "all", "mixed"]))
    constant_htn = draw(st.booleans())
    pooling = draw(st.sampled_from(["partial", "complete", "none"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n = n_studies * per_study
    dose = rng.uniform(5.0, 80.0, n)
    if outcome == "none":
        tox = np.zeros(n, dtype=int)
    elif outcome == "all":
        tox = np.ones(n, dtype=int)
    else:  # every study has an event and a non-event
        tox = np.tile(np.r_[1, 0, rng.integers(0, 2, per_study - 2)], n_studies)
    htn = np.ones(n, dtype=int) if constant_htn else np.tile(np.r_[0, 1, rng.integers(
        0, 2, per_study - 2)], n_studies)
    frame = pd.DataFrame({"study": np.repeat([f"S{i}" for i in range(n_studies)], per_study),
                          "bed": dose, "tox": tox, "htn": htn})
    expected = set()
    if outcome == "none":
        expected.add("no events")
    if outcome == "all":
        expected.add("only events")
    if constant_htn:
        expected.add("constant")
    if pooling == "partial" and n_studies == 1:
        expected.add("one study")
    if pooling == "none" and n_studies > 1 and outcome != "mixed":
        expected.add("per study")
    return frame, pooling, expected


def _data(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SmallStudyWarning is not what is tested here
        return dr.DoseResponseData.from_frame(frame, dose="bed", outcome="tox", study="study",
                                              covariates=["htn"], dose_metric="BED")


def _kinds(causes):
    kinds = set()
    for text in causes:
        if text.startswith("study"):
            kinds.add("per study")
        elif text.startswith("the data contain no events"):
            kinds.add("no events")
        elif text.startswith("the data contain only events"):
            kinds.add("only events")
        elif "is constant" in text:
            kinds.add("constant")
        elif text.startswith("there is one study"):
            kinds.add("one study")
        else:
            raise AssertionError(f"unexpected cause: {text}")
    return kinds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cohorts())
def test_every_degenerate_feature_is_named_with_its_fix_and_nothing_else(case):
    frame, pooling, expected = case
    data = _data(frame)
    causes = prior_driven_causes(dr.NTCPModel(pooling=pooling).spec_for(data), data)
    assert _kinds(causes) == expected, causes
    for kind in expected:
        assert any(FIXES[kind] in text for text in causes), (kind, causes)


def test_aggregate_rows_count_towards_events():
    frame = pd.DataFrame({"study": ["A", "A", "B"], "bed": [20.0, 40.0, 30.0],
                          "events": [0, 0, 3], "n": [10, 10, 3]})
    data = dr.DoseResponseData.from_frame(frame, dose="bed", events="events", n="n",
                                          study="study")
    assert prior_driven_causes(dr.NTCPModel().spec_for(data), data) == []
    none = prior_driven_causes(dr.NTCPModel(pooling="none").spec_for(data), data)
    assert len(none) == 2 and "study 'A' has no events" in none[0]
    assert "study 'B' has only events" in none[1]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_fit_warns_before_sampling(monkeypatch, sampler):
    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(model_module, "sample_density", stop)
    monkeypatch.setattr(model_module, "resolve_sampler", lambda name: "nutpie")
    frame = pd.DataFrame({"study": ["A"] * 6, "bed": np.linspace(10, 60, 6),
                          "tox": [0] * 6, "htn": [1] * 6})
    data = _data(frame)
    with pytest.warns(DegenerateDataWarning) as record, pytest.raises(_Stop):
        dr.NTCPModel().fit(data, draws=10, tune=10, chains=1, sampler=sampler)
    texts = [str(w.message) for w in record if w.category is DegenerateDataWarning]
    assert len(texts) == 3 and all(t.startswith("prior-driven fit: ") for t in texts)
    assert "no events" in texts[0] and "'htn' is constant" in texts[1]
    assert "one study" in texts[2] and "tau" in texts[2]


def test_a_clean_cohort_gives_no_warning(monkeypatch, three_centre_ipd_frame):
    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(model_module, "sample_density", stop)
    data = _data(three_centre_ipd_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)
        with pytest.raises(_Stop):
            dr.NTCPModel().fit(data, draws=10, tune=10, chains=1)


@pytest.mark.slow
def test_a_real_fit_without_events_warns_and_its_summary_says_prior_driven():
    frame = pd.DataFrame({"study": np.repeat(["A", "B"], 10), "bed": np.linspace(5, 50, 20),
                          "tox": np.zeros(20, dtype=int), "htn": np.tile([0, 1], 10)})
    data = _data(frame)
    with pytest.warns(DegenerateDataWarning, match="no events"):
        fit = dr.NTCPModel().fit(data, draws=200, tune=200, chains=2, random_seed=3,
                                 progressbar=False, check=False)
    assert "PRIOR-DRIVEN: the data contain no events" in fit.summary()
