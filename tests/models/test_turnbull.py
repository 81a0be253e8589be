"""Turnbull's NPMLE for interval-censored times: a hand-checked example, Kaplan–Meier as the
special case (against statsmodels' SurvfuncRight), and input errors."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.turnbull import turnbull_npmle


def test_hand_checked_example():
    # (0,2], (1,3], (2,inf): innermost intervals (1,2] and (2,3]; the likelihood
    # s1 * (s1 + s2) * s2 with s1 + s2 = 1 is maximal at s1 = s2 = 1/2
    frame = turnbull_npmle([0.0, 1.0, 2.0], [2.0, 3.0, np.inf])
    np.testing.assert_allclose(frame["left"], [1.0, 2.0])
    np.testing.assert_allclose(frame["right"], [2.0, 3.0])
    np.testing.assert_allclose(frame["mass"], [0.5, 0.5], atol=1e-8)


def test_second_hand_checked_example():
    # (0,1] twice, (2,3], (0,3]: innermost (0,1] and (2,3]; the likelihood
    # s1^2 * s2 * (s1 + s2) = s1^2 (1 - s1) is maximal at s1 = 2/3
    frame = turnbull_npmle([0.0, 0.0, 2.0, 0.0], [1.0, 1.0, 3.0, 3.0])
    np.testing.assert_allclose(frame["mass"], [2 / 3, 1 / 3], atol=1e-7)
    np.testing.assert_allclose(frame["cumulative"], [2 / 3, 1.0], atol=1e-7)


def test_exact_and_right_censored_times_give_kaplan_meier():
    rng = np.random.default_rng(4)
    times = np.round(rng.exponential(10.0, 80), 1)
    event = rng.random(80) < 0.7
    lower = times
    upper = np.where(event, times, np.inf)
    frame = turnbull_npmle(lower, upper)
    km = SurvfuncRight(times, event.astype(int))
    finite = np.isfinite(frame["right"].to_numpy())
    event_times = frame["right"].to_numpy()[finite]
    np.testing.assert_allclose(event_times, km.surv_times)
    np.testing.assert_allclose(1 - frame["cumulative"].to_numpy()[finite], km.surv_prob,
                               atol=1e-7)


@pytest.mark.parametrize(
    ("lower", "upper", "match"),
    [([1.0], [0.5], "lower must be <= upper"), ([-1.0], [2.0], ">= 0"), ([], [], "non-empty")],
)
def test_bad_input(lower, upper, match):
    with pytest.raises(DoseResponseError, match=match):
        turnbull_npmle(lower, upper)
