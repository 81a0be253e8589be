"""Dose-rate histories: totals and partial doses against adaptive quadrature, and validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology import ExponentialDoseRate, PiecewiseDoseRate

LN2 = math.log(2.0)


def _quad(history, upper=np.inf):
    # Independent reference: adaptive quadrature of the dose rate itself, split at the knots.
    knots = [] if not hasattr(history, "times") else [float(t) for t in history.times]
    rate = lambda t: float(history.dose_rate(t))  # noqa: E731
    if upper == np.inf:
        last = knots[-1] if knots else 0.0
        head = integrate.quad(rate, 0.0, last, limit=200, points=knots[:-1])[0] if last else 0.0
        return head + integrate.quad(rate, last, np.inf, limit=200)[0]
    inside = [t for t in knots if t < upper]
    return integrate.quad(rate, 0.0, upper, limit=400, points=inside or None)[0]


def test_mono_exponential_from_dose_total_and_rate():
    rate = ExponentialDoseRate.from_dose(5.0, effective_half_life=50.0)
    assert rate.total_dose == pytest.approx(5.0, rel=1e-14)
    assert float(rate.dose_rate(0.0)) == pytest.approx(5.0 * LN2 / 50.0, rel=1e-14)
    assert float(rate.dose_until(50.0)) == pytest.approx(2.5, rel=1e-13)  # half delivered at T_eff


def test_uptake_washout_total_matches_quadrature():
    rate = ExponentialDoseRate.from_dose(10.0, effective_half_life=30.0, uptake_half_life=3.0)
    assert float(rate.dose_rate(0.0)) == pytest.approx(0.0, abs=1e-15)
    assert rate.total_dose == pytest.approx(10.0, rel=1e-13)
    assert _quad(rate) == pytest.approx(10.0, rel=1e-9)


@pytest.mark.parametrize("upper", [0.5, 2.0, 10.0, 40.0, 144.0, 500.0])
def test_dose_until_matches_quadrature(upper):
    exp_rate = ExponentialDoseRate([0.3, 0.05, -0.35], LN2 / np.array([5.0, 80.0, 0.8]))
    pw_rate = PiecewiseDoseRate([2.0, 24.0, 72.0, 144.0], [0.12, 0.09, 0.05, 0.02], LN2 / 159.528)
    for history in (exp_rate, pw_rate):
        assert float(history.dose_until(upper)) == pytest.approx(_quad(history, upper), rel=1e-9)


def test_piecewise_total_is_trapezoid_plus_tail():
    # Reference: TIA-005 logic with dose rates — trapezoid from (0, 0) plus r_n / lambda_tail.
    times = np.array([2.0, 24.0, 72.0, 144.0])
    rates = np.array([0.12, 0.09, 0.05, 0.02])
    lam = LN2 / 159.528
    history = PiecewiseDoseRate(times, rates, lam)
    t = np.concatenate(([0.0], times))
    r = np.concatenate(([0.0], rates))
    expected = np.sum(0.5 * (r[1:] + r[:-1]) * np.diff(t)) + rates[-1] / lam
    assert history.total_dose == pytest.approx(expected, rel=1e-14)
    assert history.total_dose == pytest.approx(_quad(history), rel=1e-9)


def test_piecewise_sample_at_zero_sets_the_start_rate():
    history = PiecewiseDoseRate([0.0, 10.0], [1.0, 0.5], 0.1)
    assert history.start_rate == 1.0
    assert history.times.tolist() == [10.0]
    assert history.total_dose == pytest.approx(0.5 * 1.5 * 10.0 + 5.0)


def test_scaled_histories_scale_the_dose():
    exp_rate = ExponentialDoseRate.from_dose(4.0, effective_half_life=20.0, uptake_half_life=1.0)
    pw_rate = PiecewiseDoseRate([1.0, 5.0], [1.0, 2.0], 0.3, start_rate=0.5)
    for history in (exp_rate, pw_rate):
        assert history.scaled(2.5).total_dose == pytest.approx(2.5 * history.total_dose)


def test_inputs_are_immutable():
    rate = ExponentialDoseRate([1.0], [0.1])
    with pytest.raises(ValueError):
        rate.amplitudes[0] = 2.0


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ExponentialDoseRate([1.0], [0.0]), "rates must be > 0"),
        (lambda: ExponentialDoseRate([1.0, 2.0], [0.1]), "equal length"),
        (lambda: ExponentialDoseRate([], []), "at least one"),
        (lambda: ExponentialDoseRate([np.nan], [0.1]), "amplitudes contains NaN"),
        (lambda: ExponentialDoseRate([1.0, -2.0], [0.1, 0.5]), "negative dose rate"),
        (lambda: ExponentialDoseRate.from_dose(-1.0, effective_half_life=10.0),
         "dose must be >= 0"),
        (lambda: ExponentialDoseRate.from_dose(1.0, effective_half_life=0.0),
         "effective_half_life must be > 0"),
        (lambda: ExponentialDoseRate.from_dose(1.0, effective_half_life=5.0, uptake_half_life=10.0),
         "uptake_half_life must be shorter"),
        (lambda: PiecewiseDoseRate([2.0, 1.0], [1.0, 1.0], 0.1), "unsorted"),
        (lambda: PiecewiseDoseRate([1.0, 1.0], [1.0, 1.0], 0.1), "duplicated"),
        (lambda: PiecewiseDoseRate([1.0, 2.0], [1.0, -1.0], 0.1), "dose_rates must be >= 0"),
        (lambda: PiecewiseDoseRate([1.0, 2.0], [1.0, 1.0], 0.0), "tail_rate must be > 0"),
        (lambda: PiecewiseDoseRate([-1.0, 2.0], [1.0, 1.0], 0.1), "times must be >= 0"),
        (lambda: PiecewiseDoseRate([1.0, 2.0], [1.0], 0.1), "equal length"),
        (lambda: PiecewiseDoseRate([0.0], [1.0], 0.1), "after t = 0"),
        (lambda: ExponentialDoseRate([1.0], [0.1]).dose_rate(-1.0), "t must be >= 0"),
    ],
)
def test_invalid_histories_raise_clear_errors(factory, match):
    with pytest.raises(DoseResponseError, match=match):
        factory()
