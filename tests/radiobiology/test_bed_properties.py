"""Property-based tests (Hypothesis) of the BED / G-factor invariants.

Invariants checked (Lea & Catcheside 1942; Dale 1985 Br J Radiol 58:515; notes §2):
BED >= D; 0 <= G <= 1; slow delivery -> BED = D, fast delivery -> D(1 + D/(a/b)); per-cycle sum
>= summed dose and < single-G on the summed dose; I scales with the square of the dose rate;
the exact piecewise recursion converges to eq. G-SE for dense samples of an exponential history;
bed_exponential equals bed(ExponentialDoseRate.from_dose(...)); dose_for_bed inverts it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from doseresponse.radiobiology.bed import (
    bed,
    bed_exponential,
    dose_for_bed,
    g_factor,
    lea_catcheside_integral,
)
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate

LN2 = math.log(2.0)
SETTINGS = settings(max_examples=60, deadline=None)

doses = st.floats(0.0, 100.0)
half_lives = st.floats(0.05, 500.0)
repair_times = st.floats(0.1, 10.0)
alpha_betas = st.floats(0.5, 20.0)


@st.composite
def exponential_histories(draw, min_dose=0.0):
    dose = draw(st.floats(min_dose, 100.0))
    t_eff = draw(half_lives)
    if draw(st.booleans()):
        ratio = draw(st.floats(0.01, 0.8))  # uptake faster than washout
        return ExponentialDoseRate.from_dose(
            dose, effective_half_life=t_eff, uptake_half_life=ratio * t_eff
        )
    return ExponentialDoseRate.from_dose(dose, effective_half_life=t_eff)


@st.composite
def piecewise_histories(draw):
    n = draw(st.integers(1, 8))
    steps = draw(st.lists(st.floats(0.05, 50.0), min_size=n, max_size=n))
    rates = draw(st.lists(st.floats(0.0, 2.0), min_size=n, max_size=n))
    start = draw(st.floats(0.0, 2.0))
    tail = draw(st.floats(1e-3, 5.0))
    return PiecewiseDoseRate(np.cumsum(steps), rates, tail_rate=tail, start_rate=start)


histories = st.one_of(exponential_histories(), piecewise_histories())


def stretched(history, factor: float):
    """Same dose, delivered `factor` times more slowly (factor < 1: faster)."""
    if isinstance(history, ExponentialDoseRate):
        return ExponentialDoseRate(history.amplitudes / factor, history.rates / factor)
    return PiecewiseDoseRate(
        history.times * factor,
        history.dose_rates / factor,
        tail_rate=history.tail_rate / factor,
        start_rate=history.start_rate / factor,
    )


@SETTINGS
@given(histories, repair_times, alpha_betas)
def test_bed_at_least_dose_and_g_in_unit_interval(history, t_rep, alpha_beta):
    dose = history.total_dose
    value = bed(history, alpha_beta=alpha_beta, repair_half_time=t_rep)
    assert value >= dose * (1 - 1e-12)
    g = g_factor(history, t_rep)
    assert -1e-12 <= g <= 1 + 1e-12
    if dose > 0:  # BED = D (1 + G D/(a/b)) links the two
        assert value == pytest.approx(dose * (1 + g * dose / alpha_beta), rel=1e-12)


@SETTINGS
@given(histories, repair_times, alpha_betas)
def test_slow_delivery_gives_dose_and_fast_delivery_gives_acute_bed(history, t_rep, alpha_beta):
    dose = history.total_dose
    assume(dose > 1e-3)
    lq = {"alpha_beta": alpha_beta, "repair_half_time": t_rep}
    # 1e7 times slower: every time scale >= 3.5e5 h >> T_rep <= 10 h, so G < ~1e-4.
    slow = bed(stretched(history, 1e7), **lq)
    assert slow == pytest.approx(dose, rel=dose / alpha_beta * 1e-4 + 1e-12)
    # 1e7 times faster: every time scale <= ~1e-4 h << T_rep >= 0.1 h, so 1 - G < ~1e-3.
    fast = bed(stretched(history, 1e-7), **lq)
    acute = dose * (1 + dose / alpha_beta)
    assert fast == pytest.approx(acute, rel=1e-3)
    assert fast <= acute * (1 + 1e-12)


@SETTINGS
@given(
    st.lists(exponential_histories(min_dose=0.1), min_size=2, max_size=5),
    repair_times,
    alpha_betas,
)
def test_multi_cycle_between_sum_of_doses_and_single_g_on_summed_dose(cycles, t_rep, alpha_beta):
    lq = {"alpha_beta": alpha_beta, "repair_half_time": t_rep}
    total_bed = bed(cycles, **lq)
    doses = np.array([c.total_dose for c in cycles])
    gs = np.array([g_factor(c, t_rep) for c in cycles])
    assert total_bed >= doses.sum()
    # single G on the summed dose (dose-weighted mean G, as a "sum doses first" calculator does):
    # (sum G_c D_c)(sum D_c) > sum G_c D_c^2 whenever two cycles deliver dose.
    g_mean = float(np.sum(gs * doses) / doses.sum())
    single = doses.sum() * (1 + g_mean * doses.sum() / alpha_beta)
    assert single > total_bed
    cross = g_mean * (doses.sum() ** 2 - np.sum(doses**2)) / alpha_beta
    assert single - total_bed == pytest.approx(
        cross + (g_mean * np.sum(doses**2) - np.sum(gs * doses**2)) / alpha_beta, rel=1e-6
    )


@SETTINGS
@given(histories, st.floats(0.0, 100.0), repair_times)
def test_scaling_history_scales_integral_quadratically(history, factor, t_rep):
    base = lea_catcheside_integral(history, t_rep)
    assert lea_catcheside_integral(history.scaled(factor), t_rep) == pytest.approx(
        factor**2 * base, rel=1e-12, abs=1e-300
    )


@settings(max_examples=25, deadline=None)
@given(exponential_histories(min_dose=1.0), repair_times)
def test_piecewise_exact_g_converges_to_sum_of_exponentials_g(history, t_rep):
    # Dense samples of the exponential history, joined linearly, with the washout tail after the
    # last sample. Linear interpolation of a smooth rate has relative error <= (lam h)^2/8 on a
    # segment of width h (lam = local rate constant); D and I (hence G = 2I/D^2) inherit errors
    # of that order, so a tolerance of (max lam h)^2 (8x the bound) is safe. The grid resolves
    # the fastest rate with lam h <= 0.02 near t = 0 and the slowest with lam h <= 0.02 later.
    rates = history.rates
    lam_slow, lam_fast = float(rates.min()), float(rates.max())
    t_end = 25.0 / lam_slow
    grid = np.unique(
        np.concatenate(
            (
                np.linspace(0.0, min(15.0 / lam_fast, t_end), 751),
                np.linspace(0.0, t_end, 1251),
            )
        )
    )
    grid = grid[grid > 0]
    piecewise = PiecewiseDoseRate(
        grid,
        history.dose_rate(grid),
        tail_rate=lam_slow,
        start_rate=float(history.dose_rate(0.0)),
    )
    steps = np.diff(np.concatenate(([0.0], grid)))
    lam_h = np.max(steps * np.where(grid < 15.0 / lam_fast, lam_fast, lam_slow))
    tolerance = max(lam_h**2, 1e-9)
    assert g_factor(piecewise, t_rep) == pytest.approx(g_factor(history, t_rep), rel=tolerance)
    assert piecewise.total_dose == pytest.approx(history.total_dose, rel=tolerance)


@SETTINGS
@given(doses, half_lives, st.one_of(st.none(), st.floats(0.01, 0.8)), repair_times, alpha_betas)
def test_bed_exponential_equals_bed_of_history(dose, t_eff, uptake_ratio, t_rep, alpha_beta):
    lq = {"alpha_beta": alpha_beta, "repair_half_time": t_rep}
    t_up = None if uptake_ratio is None else uptake_ratio * t_eff
    history = ExponentialDoseRate.from_dose(dose, effective_half_life=t_eff, uptake_half_life=t_up)
    expected = bed(history, **lq)
    shortcut = bed_exponential(dose, effective_half_life=t_eff, uptake_half_life=t_up, **lq)
    mapped = bed_exponential(
        np.full(3, dose), effective_half_life=np.full(3, t_eff), uptake_half_life=t_up, **lq
    )
    assert shortcut == pytest.approx(expected, rel=1e-11, abs=1e-300)
    np.testing.assert_allclose(mapped, expected, rtol=1e-11, atol=1e-300)  # subnormal doses
    back = dose_for_bed(shortcut, effective_half_life=t_eff, uptake_half_life=t_up, **lq)
    assert back == pytest.approx(dose, rel=1e-11, abs=1e-300)
