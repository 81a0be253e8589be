"""The late-toxicity simulator: visit-schedule censoring is consistent with the hidden truth, and
the truth's cumulative incidence matches a Monte Carlo estimate."""

from __future__ import annotations

import math

import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.simulate_late import simulate_late_toxicity


def test_observed_intervals_bracket_the_true_onset():
    sim = simulate_late_toxicity(n_studies=3, patients_per_study=200,
                                 follow_up=[(6.0, 12.0), (12.0, 36.0), (24.0, 60.0)],
                                 random_seed=3)
    f = sim.frame
    seen = f["outcome"] == 1
    assert (f.loc[seen, "true_event"]).all()
    assert (f.loc[seen, "event_time_lower"] < f.loc[seen, "true_time"]).all()
    assert (f.loc[seen, "true_time"] <= f.loc[seen, "event_time"]).all()
    assert (f.loc[seen, "event_time"] <= f.loc[seen, "follow_up"]).all()
    hidden = f["true_event"] & ~seen
    assert (f.loc[hidden, "true_time"] > f.loc[hidden, "follow_up"]).all()
    # unequal follow-up: the last visits of each study stay inside its range (+ jitter)
    last = f.groupby("study")["follow_up"].max()
    assert last["S1"] <= 12.0 and last["S3"] > 36.0
    # visits every 3 +- 0.5 months: an interval spans at most one visit gap
    gap = f.loc[seen, "event_time"] - f.loc[seen, "event_time_lower"]
    assert gap.max() <= 3.0 + 2 * 0.5 + 1e-9


@pytest.mark.parametrize("onset", ["weibull", "lognormal"])
def test_truth_cumulative_incidence_matches_monte_carlo(onset):
    n = 20_000
    sim = simulate_late_toxicity(n_studies=1, patients_per_study=n, tau=0.0, dose_sd=1e-9,
                                 dose_median=28.0, onset=onset, onset_median=15.0,
                                 onset_shape=1.3, follow_up=(6.0, 6.0), random_seed=8)
    f = sim.frame
    for horizon in (6.0, 15.0, 40.0):
        empirical = float((f["true_event"] & (f["true_time"] <= horizon)).mean())
        expected = float(sim.truth.cumulative_incidence([28.0], horizon)[0])
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(empirical - expected) < 4.5 * se
    # at the median onset, half of the eventual cases have started
    half = sim.truth.cumulative_incidence([28.0], 15.0)[0] / sim.truth.probability([28.0])[0]
    assert half == pytest.approx(0.5, abs=1e-12)


def test_bad_settings():
    with pytest.raises(DoseResponseError, match="follow_up"):
        simulate_late_toxicity(follow_up=(10.0, 5.0))
    with pytest.raises(DoseResponseError, match="visit_jitter"):
        simulate_late_toxicity(visit_interval=2.0, visit_jitter=1.5)
    with pytest.raises(DoseResponseError, match="onset"):
        simulate_late_toxicity(onset="gamma")
