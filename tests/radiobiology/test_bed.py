"""Limits, edge cases and error paths of doseresponse.radiobiology.bed.

References used below (each independent of the code under test):
- mono-exponential G = T_rep/(T_rep + T_eff) (Dale 1985, Br J Radiol 58:515; notes §2.2);
- constant dose rate over a time w: G = g(mu w), g(x) = 2(x - 1 + e^-x)/x^2 (Lea-Catcheside for a
  continuous irradiation; the BED-036 method column in tests/reference/radiobiology_vectors.csv);
- finite-time mono-exponential D(T), I(T) of Dale 1996 (Phys Med Biol 41:1871; notes §2.6);
- ODE integration of the Lea-Catcheside integral (notes §2.1; scipy DOP853, rtol 1e-12).
"""

from __future__ import annotations

import importlib
import itertools
import math

import numpy as np
import pytest
from scipy import integrate, optimize

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.bed import (
    bed,
    bed_exponential,
    bed_fractionated,
    dose_for_bed,
    dose_for_bed_history,
    eqd,
    g_factor,
    lea_catcheside_integral,
    scale_for_bed,
)
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate

LN2 = math.log(2.0)


def mono(dose: float, t_eff: float) -> ExponentialDoseRate:
    return ExponentialDoseRate.from_dose(dose, effective_half_life=t_eff)


def square_pulse_g(x: float) -> float:
    return 2.0 * (x - 1.0 + math.exp(-x)) / x**2


def ode_integral(rate, mu: float, upper: float, breakpoints=()) -> float:
    """Lea-Catcheside integral by integrating dq/dt = R - mu q, dI/dt = R q (notes §2.1).

    An independent numerical route (scipy DOP853, rtol 1e-12), restarted at every kink of a
    piecewise dose rate so that the integrator never steps across a discontinuous derivative.
    """
    edges = [0.0, *sorted(b for b in breakpoints if 0.0 < b < upper), upper]
    state = np.zeros(2)
    for lo, hi in itertools.pairwise(edges):

        def rhs(t, y):
            r = float(rate(t))
            return [r - mu * y[0], r * y[0]]

        sol = integrate.solve_ivp(rhs, (lo, hi), state, method="DOP853", rtol=1e-12, atol=1e-15)
        state = sol.y[:, -1]
    return float(state[1])


# ------------------------------------------------------------------------------ G factor


@pytest.mark.parametrize(("t_eff", "t_rep"), [(50.0, 2.8), (0.01, 1.5), (159.528, 1.5), (2.0, 10)])
def test_mono_exponential_g_is_dale_closed_form(t_eff, t_rep):
    assert g_factor(mono(7.0, t_eff), t_rep) == pytest.approx(t_rep / (t_rep + t_eff), rel=1e-13)


def test_g_is_scale_invariant_and_i_scales_quadratically():
    history = ExponentialDoseRate.from_half_lives([0.3, 0.05, -0.35], [5.0, 80.0, 0.8])
    scaled = history.scaled(3.7)
    assert g_factor(scaled, 1.5) == pytest.approx(g_factor(history, 1.5), rel=1e-13)
    assert lea_catcheside_integral(scaled, 1.5) == pytest.approx(
        3.7**2 * lea_catcheside_integral(history, 1.5), rel=1e-13
    )


def test_zero_dose_g_is_the_mono_exponential_limit_and_bed_is_zero():
    # notes §2.2 / BED-022: D = 0 must give BED 0 (not NaN); G is the T_eff limit 2.8/52.8.
    history = mono(0.0, 50.0)
    assert g_factor(history, 2.8) == pytest.approx(2.8 / 52.8, rel=1e-14)
    assert bed(history, alpha_beta=2.6, repair_half_time=2.8) == 0.0
    assert lea_catcheside_integral(history, 2.8) == 0.0
    uptake = ExponentialDoseRate.from_dose(0.0, effective_half_life=50.0, uptake_half_life=2.0)
    assert 0.0 <= g_factor(uptake, 2.8) <= 1.0
    assert bed(uptake, alpha_beta=2.6, repair_half_time=2.8) == 0.0
    flat = PiecewiseDoseRate([1.0, 2.0], [0.0, 0.0], tail_rate=0.1)
    assert g_factor(flat, 1.0) == pytest.approx(0.1 / (0.1 + LN2), rel=1e-14)
    assert bed(flat, alpha_beta=3.0, repair_half_time=1.0) == 0.0


@pytest.mark.parametrize("x", [1e-4, 0.3, 0.999, 1.0, 1.001, 3.0, 40.0])
def test_piecewise_constant_pulse_matches_continuous_irradiation_formula(x):
    # Constant rate over w (start_rate = rate), then a 1e9 /h tail whose dose is subtracted from
    # the plateau; the tail perturbs G by ~mu/1e9, below 1e-8 for these x.
    t_rep = 2.0
    mu = LN2 / t_rep
    width = x / mu
    tail = 1e9
    end = width - 1.0 / tail
    pulse = PiecewiseDoseRate([end], [1.0], tail_rate=tail, start_rate=1.0)
    assert pulse.total_dose == pytest.approx(width, rel=1e-12)
    assert g_factor(pulse, t_rep) == pytest.approx(square_pulse_g(x), rel=1e-8)


def test_piecewise_triangle_matches_ode():
    times, rates = [2.0, 5.0, 11.0], [3.0, 1.0, 0.5]
    history = PiecewiseDoseRate(times, rates, tail_rate=0.2, start_rate=0.5)
    mu = LN2 / 1.5
    expected = ode_integral(history.dose_rate, mu, 400.0, times)
    assert lea_catcheside_integral(history, 1.5) == pytest.approx(expected, rel=1e-9)


def test_piecewise_first_sample_at_zero_equals_start_rate_form():
    a = PiecewiseDoseRate([0.0, 3.0, 10.0], [0.2, 0.5, 0.1], tail_rate=0.05)
    b = PiecewiseDoseRate([3.0, 10.0], [0.5, 0.1], tail_rate=0.05, start_rate=0.2)
    assert g_factor(a, 1.5) == pytest.approx(g_factor(b, 1.5), rel=1e-15)


def test_acute_and_protracted_limits():
    # Acute: G -> 1 and BED -> D (1 + D/(a/b)); protracted: G -> 0 and BED -> D.
    fast = mono(10.0, 1e-7)
    assert g_factor(fast, 1.5) == pytest.approx(1.0, abs=1e-6)
    assert bed(fast, alpha_beta=3.0, repair_half_time=1.5) == pytest.approx(
        10.0 * (1 + 10.0 / 3.0), rel=1e-6
    )
    slow = mono(10.0, 1e7)
    assert bed(slow, alpha_beta=3.0, repair_half_time=1.5) == pytest.approx(10.0, rel=1e-6)


# ------------------------------------------------------------------------------ repair components


def test_two_repair_components_weighted_sum_and_degenerate_fractions():
    history = mono(10.0, 50.0)
    lam = LN2 / 50.0
    mus = LN2 / np.array([0.7, 3.9])
    expected = 0.55 * lam / (lam + mus[0]) + 0.45 * lam / (lam + mus[1])  # notes §2.5
    assert g_factor(history, [0.7, 3.9], [0.55, 0.45]) == pytest.approx(expected, rel=1e-13)
    assert g_factor(history, [0.7, 3.9], [1.0, 0.0]) == pytest.approx(
        g_factor(history, 0.7), rel=1e-14
    )
    assert g_factor(history, [0.7], [1.0]) == pytest.approx(g_factor(history, 0.7), rel=1e-15)


@pytest.mark.parametrize(
    ("half_times", "fractions", "match"),
    [
        ([0.7, 3.9], None, "repair_fractions"),
        ([0.7, 3.9], [0.5, 0.6], "sum to 1"),
        ([0.7, 3.9], [1.2, -0.2], "repair_fractions must be >= 0"),
        ([0.7, 3.9], [1.0], "one entry per repair half-time"),
        ([0.7, -3.9], [0.5, 0.5], "repair_half_time must be > 0"),
        (0.0, None, "repair_half_time must be > 0"),
        ([[1.0, 2.0]], None, "flat list"),
        ([], None, "flat list"),
        ("fast", None, "repair_half_time must be numeric"),
    ],
)
def test_repair_component_errors(half_times, fractions, match):
    with pytest.raises(DoseResponseError, match=match):
        g_factor(mono(5.0, 50.0), half_times, fractions)
    with pytest.raises(DoseResponseError, match=match):
        bed(
            mono(5.0, 50.0), alpha_beta=3.0, repair_half_time=half_times, repair_fractions=fractions
        )


# ------------------------------------------------------------------------------ finite time


@pytest.mark.parametrize(("t_eff", "t_rep"), [(100.0, 1.5), (2.8, 2.8), (1.0, 30.0)])
@pytest.mark.parametrize("horizon", [0.0, 0.3, 17.0, 343.29594, 5000.0])
def test_finite_time_integral_matches_dale_1996_mono_form(t_eff, t_rep, horizon):
    lam, mu = LN2 / t_eff, LN2 / t_rep
    rate0 = 0.4
    history = ExponentialDoseRate([rate0], [lam])
    if math.isclose(lam, mu):  # limit of the notes §2.6 formula at mu = lambda
        expected = rate0**2 * (-horizon * math.exp(-2 * lam * horizon) / (2 * lam))
        expected += rate0**2 * (1 - math.exp(-2 * lam * horizon)) / (2 * lam) ** 2
    else:
        expected = (
            rate0**2
            / (mu - lam)
            * (
                (1 - math.exp(-2 * lam * horizon)) / (2 * lam)
                - (1 - math.exp(-(lam + mu) * horizon)) / (lam + mu)
            )
        )
    got = lea_catcheside_integral(history, t_rep, until=horizon)
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-300)


def test_finite_time_integral_is_continuous_across_mu_equal_lambda():
    t_rep, horizon = 2.8, 30.0
    values = [
        lea_catcheside_integral(ExponentialDoseRate([0.5], [LN2 / t]), t_rep, until=horizon)
        for t in (t_rep * (1 - 1e-9), t_rep, t_rep * (1 + 1e-9))
    ]
    assert values[0] == pytest.approx(values[1], rel=1e-8)
    assert values[2] == pytest.approx(values[1], rel=1e-8)


def test_finite_time_integral_of_uptake_history_matches_ode():
    # Uptake rate 20x the repair rate: (mu - lambda_u) T is about -2000, the case where a naive
    # evaluation of (1 - e^{-(mu-lambda)T})/(mu-lambda) overflows.
    history = ExponentialDoseRate.from_dose(30.0, effective_half_life=60.0, uptake_half_life=0.05)
    mu = LN2 / 1.0
    expected = ode_integral(history.dose_rate, mu, 150.0, [0.05, 0.5, 5.0])
    got = lea_catcheside_integral(history, 1.0, until=150.0)
    assert got == pytest.approx(expected, rel=1e-9)


def test_finite_time_piecewise_limits_and_ode():
    times, rates = [2.0, 24.0, 72.0], [0.12, 0.09, 0.05]
    history = PiecewiseDoseRate(times, rates, tail_rate=0.01)
    mu = LN2 / 2.0
    full = lea_catcheside_integral(history, 2.0)
    assert lea_catcheside_integral(history, 2.0, until=0.0) == 0.0
    assert lea_catcheside_integral(history, 2.0, until=1e5) == pytest.approx(full, rel=1e-12)
    for horizon in (1.0, 24.0, 50.0, 72.0, 150.0):
        expected = ode_integral(history.dose_rate, mu, horizon, times)
        got = lea_catcheside_integral(history, 2.0, until=horizon)
        assert got == pytest.approx(expected, rel=1e-9), horizon


# ------------------------------------------------------------------------------ repopulation


def _dale_reference(history, threshold, t_peak, t_far, lq):
    """Finite-time Dale BED with the crossing found by brentq on the dose rate (after the peak)."""
    cutoff = optimize.brentq(lambda t: float(history.dose_rate(t)) - threshold, t_peak, t_far)
    integral = lea_catcheside_integral(history, lq["repair_half_time"], until=cutoff)
    return float(history.dose_until(cutoff)) + 2 * integral / lq["alpha_beta"] - threshold * cutoff


def test_repopulation_general_exponential_uses_last_crossing():
    history = ExponentialDoseRate.from_dose(40.0, effective_half_life=80.0, uptake_half_life=6.0)
    lq = {"alpha_beta": 10.0, "repair_half_time": 1.5}
    alpha, t_pot = 0.3, 100.0
    threshold = LN2 / (alpha * t_pot)
    t_grid = np.linspace(0, 100, 100001)
    t_peak = float(t_grid[np.argmax(history.dose_rate(t_grid))])
    expected = _dale_reference(history, threshold, t_peak, 5000.0, lq)
    got = bed(history, **lq, alpha=alpha, potential_doubling_time=t_pot)
    assert got == pytest.approx(expected, rel=1e-10)
    assert got < bed(history, **lq)


def test_repopulation_piecewise_crossing_in_tail_and_in_segment():
    lq = {"alpha_beta": 10.0, "repair_half_time": 1.5}
    alpha = 0.3
    history = PiecewiseDoseRate([2.0, 24.0, 72.0], [0.5, 0.3, 0.1], tail_rate=0.02)
    for t_pot, t_lo, t_hi in [(100.0, 72.0, 1e4), (10.0, 24.0, 72.0), (5.0, 2.0, 24.0)]:
        threshold = LN2 / (alpha * t_pot)
        expected = _dale_reference(history, threshold, t_lo, t_hi, lq)
        got = bed(history, **lq, alpha=alpha, potential_doubling_time=t_pot)
        assert got == pytest.approx(expected, rel=1e-10), t_pot


def test_repopulation_below_threshold_gives_zero_and_cycles_add():
    lq = {"alpha_beta": 10.0, "repair_half_time": 1.5}
    weak = mono(0.01, 100.0)  # initial rate 6.9e-5 Gy/h < ln2/(0.3*120) = 0.019 Gy/h
    assert bed(weak, **lq, alpha=0.3, potential_doubling_time=120.0) == 0.0
    weak_piecewise = PiecewiseDoseRate([1.0], [1e-4], tail_rate=0.1)
    assert bed(weak_piecewise, **lq, alpha=0.3, potential_doubling_time=120.0) == 0.0
    strong = mono(30.0, 100.0)
    one = bed(strong, **lq, alpha=0.3, potential_doubling_time=120.0)
    both = bed([strong, weak, strong], **lq, alpha=0.3, potential_doubling_time=120.0)
    assert both == pytest.approx(2 * one, rel=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.3}, "potential_doubling_time"),
        ({"potential_doubling_time": 100.0}, "potential_doubling_time"),
        ({"alpha": -0.3, "potential_doubling_time": 100.0}, "alpha must be > 0"),
        ({"alpha": 0.3, "potential_doubling_time": 0.0}, "potential_doubling_time must be > 0"),
    ],
)
def test_repopulation_argument_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        bed(mono(30.0, 100.0), alpha_beta=10.0, repair_half_time=1.5, **kwargs)


# ------------------------------------------------------------------------------ multi-cycle


def test_multi_cycle_is_sum_of_cycles_not_single_g_on_summed_dose():
    lq = {"alpha_beta": 2.6, "repair_half_time": 2.8}
    cycles = [mono(d, t) for d, t in [(3.33, 45.0), (3.70, 52.0), (2.64, 48.0), (2.96, 40.0)]]
    total = bed(cycles, **lq)
    assert total == pytest.approx(sum(bed(c, **lq) for c in cycles), rel=1e-15)
    assert bed(tuple(cycles), **lq) == total
    assert bed(cycles[:1], **lq) == bed(cycles[0], **lq)
    # notes §2.7: summing doses first with one G over-estimates (~16.1 Gy instead of 13.5 Gy)
    summed = sum(c.total_dose for c in cycles)
    naive = summed * (1 + summed * g_factor(mono(summed, 46.0), 2.8) / 2.6)
    assert naive > total + 2.0


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ([], "empty list"),
        (5.0, "got float"),
        ("kidney", "got str"),
        ({"dose": 5.0}, "got dict"),
        ([mono(1.0, 50.0), 3.0], r"dose_rate_or_cycles\[1\]"),
        (np.array([1.0, 2.0]), "got ndarray"),
    ],
)
def test_bed_rejects_non_histories(value, match):
    with pytest.raises(DoseResponseError, match=match):
        bed(value, alpha_beta=2.6, repair_half_time=2.8)


def test_g_factor_rejects_lists_with_a_hint_and_bad_until():
    with pytest.raises(DoseResponseError, match="sums per-cycle BEDs"):
        g_factor([mono(1.0, 50.0)], 2.8)
    with pytest.raises(DoseResponseError, match="until must be >= 0"):
        lea_catcheside_integral(mono(1.0, 50.0), 2.8, until=-1.0)
    with pytest.raises(DoseResponseError, match="ExponentialDoseRate or PiecewiseDoseRate"):
        lea_catcheside_integral(None, 2.8)


@pytest.mark.parametrize("alpha_beta", [0.0, -2.6, float("nan"), [2.6, 3.0]])
def test_bed_rejects_bad_alpha_beta(alpha_beta):
    with pytest.raises(DoseResponseError, match="alpha_beta"):
        bed(mono(1.0, 50.0), alpha_beta=alpha_beta, repair_half_time=2.8)
    with pytest.raises(DoseResponseError, match="alpha_beta"):
        bed_exponential(
            [1.0, 2.0], effective_half_life=50.0, alpha_beta=alpha_beta, repair_half_time=2.8
        )


# ------------------------------------------------------------------------------ bed_exponential


def naive_bed(dose, t_eff, alpha_beta, t_rep, t_up=None):
    dose, t_eff = np.asarray(dose, float), np.asarray(t_eff, float)
    if t_up is None:
        g = t_rep / (t_rep + t_eff)
    else:  # eq. G-SE with rates lam_w, lam_u (notes §2.3), written in rate constants
        w, u, m = LN2 / t_eff, LN2 / np.asarray(t_up, float), LN2 / t_rep
        g = u * w * (m + u + w) / ((m + u) * (m + w) * (u + w))
    return dose * (1 + g * dose / alpha_beta)


def test_bed_exponential_large_maps_cross_chunk_boundaries(rng):
    n = 3 * bed_bed_chunk() + 17
    dose = rng.gamma(2.0, 5.0, size=n)
    t_eff = rng.uniform(5.0, 200.0, size=n)
    t_up = rng.uniform(0.1, 4.0, size=n)
    got = bed_exponential(dose, effective_half_life=t_eff, alpha_beta=2.6, repair_half_time=2.8)
    np.testing.assert_allclose(got, naive_bed(dose, t_eff, 2.6, 2.8), rtol=1e-14)
    got = bed_exponential(
        dose, effective_half_life=t_eff, uptake_half_life=t_up, alpha_beta=2.6, repair_half_time=2.8
    )
    np.testing.assert_allclose(got, naive_bed(dose, t_eff, 2.6, 2.8, t_up), rtol=1e-13)
    got = bed_exponential(dose, effective_half_life=40.0, alpha_beta=2.6, repair_half_time=2.8)
    np.testing.assert_allclose(got, naive_bed(dose, 40.0, 2.6, 2.8), rtol=1e-14)


def bed_bed_chunk() -> int:
    # the package re-exports the function `bed`, which shadows the submodule attribute
    return importlib.import_module("doseresponse.radiobiology.bed")._CHUNK


def test_bed_exponential_broadcasting_non_contiguous_and_dtypes(rng):
    dose = rng.uniform(0, 30, size=(40, 30))
    t_eff = rng.uniform(10, 100, size=(40, 1))  # genuine broadcasting: nditer path
    got = bed_exponential(dose, effective_half_life=t_eff, alpha_beta=3.0, repair_half_time=1.5)
    assert got.shape == (40, 30)
    np.testing.assert_allclose(got, naive_bed(dose, t_eff, 3.0, 1.5), rtol=1e-14)
    transposed = bed_exponential(
        dose.T, effective_half_life=t_eff.T, alpha_beta=3.0, repair_half_time=1.5
    )
    np.testing.assert_allclose(transposed, got.T, rtol=1e-15)
    single = bed_exponential(
        dose.astype(np.float32), effective_half_life=50, alpha_beta=3.0, repair_half_time=1.5
    )
    assert single.dtype == np.float64
    ints = bed_exponential([0, 1, 2], effective_half_life=50, alpha_beta=3.0, repair_half_time=1.5)
    np.testing.assert_allclose(ints, naive_bed([0, 1, 2], 50, 3.0, 1.5), rtol=1e-15)
    empty = bed_exponential(
        np.empty((0, 3)), effective_half_life=5.0, alpha_beta=3, repair_half_time=1
    )
    assert empty.shape == (0, 3)
    scalar = bed_exponential(5.0, effective_half_life=50.0, alpha_beta=2.6, repair_half_time=2.8)
    assert isinstance(scalar, np.float64)
    assert not np.shares_memory(got, dose)


def _bed_module():
    return importlib.import_module("doseresponse.radiobiology.bed")


@pytest.fixture
def stream_small_buffers(monkeypatch):
    """Streaming stores for ``out`` buffers from 64 KiB on (the package default is 32 MiB)."""
    monkeypatch.setattr(_bed_module(), "_STREAM_BYTES", 2**16)


@pytest.mark.parametrize("uptake", [False, True])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_bed_exponential_streaming_path_equals_ordinary_stores(rng, monkeypatch,
                                                               stream_small_buffers, uptake,
                                                               offset):
    # an out buffer streamed in 64-byte lines after a head of up to 7 elements (offset moves
    # the start off the line boundary), with a tail shorter than one block
    kernel = importlib.import_module("doseresponse.radiobiology._bed_kernel")
    n = 7 * kernel.BLOCK + 300
    dose = rng.gamma(2.0, 5.0, size=n + offset)[offset:]
    t_eff = rng.uniform(5.0, 200.0, size=n)
    t_up = rng.uniform(0.1, 4.0, size=n) if uptake else None
    kw = {"alpha_beta": 2.6, "repair_half_time": 2.8, "uptake_half_life": t_up}
    buf = np.empty(n + offset)[offset:]
    assert kernel._stream_blocks(buf[(-buf.ctypes.data % 64) // 8:], True) > 0
    assert bed_exponential(dose, effective_half_life=t_eff, out=buf, **kw) is buf
    constant = np.empty(n + offset)[offset:]
    bed_exponential(dose, effective_half_life=40.0, alpha_beta=2.6, repair_half_time=2.8,
                    out=constant)
    monkeypatch.setattr(_bed_module(), "_STREAM_BYTES", np.inf)
    ordinary = bed_exponential(dose, effective_half_life=t_eff, **kw)
    np.testing.assert_array_equal(buf, ordinary)
    np.testing.assert_allclose(buf, naive_bed(dose, t_eff, 2.6, 2.8, t_up), rtol=1e-13)
    np.testing.assert_allclose(constant, naive_bed(dose, 40.0, 2.6, 2.8), rtol=1e-14)


def test_bed_exponential_streaming_path_finds_bad_voxels_in_blocks_and_tail(
    stream_small_buffers,
):
    n = 20 * 1024 + 3000
    for index, match in ((n // 2, "dose must be >= 0 .* index " + str(n // 2)),
                         (n - 2, "dose contains NaN at index " + str(n - 2))):
        dose = np.full(n, 5.0)
        dose[index] = -1.0 if "must" in match else np.nan
        with pytest.raises(DoseResponseError, match=match):
            bed_exponential(dose, effective_half_life=np.full(n, 50.0), alpha_beta=2.6,
                            repair_half_time=2.8, out=np.empty(n))


def test_bed_exponential_out_buffer_and_in_place(rng):
    dose = rng.gamma(2.0, 5.0, size=(30, 20, 10))
    t_eff = rng.uniform(5.0, 200.0, size=dose.shape)
    kw = {"alpha_beta": 2.6, "repair_half_time": 2.8}
    expected = naive_bed(dose, t_eff, 2.6, 2.8)
    buf = np.full(dose.shape, np.nan)
    assert bed_exponential(dose, effective_half_life=t_eff, out=buf, **kw) is buf
    np.testing.assert_allclose(buf, expected, rtol=1e-14)
    in_place = dose.copy()
    assert bed_exponential(in_place, effective_half_life=t_eff, out=in_place, **kw) is in_place
    np.testing.assert_array_equal(in_place, buf)
    for kwargs in ({"effective_half_life": 40.0},
                   {"effective_half_life": t_eff, "uptake_half_life": t_eff / 20.0}):
        work = np.asfortranarray(dose)  # in place, every kernel, Fortran order too
        bed_exponential(work, out=work, **kwargs, **kw)
        np.testing.assert_array_equal(work, bed_exponential(dose, **kwargs, **kw))
    half_lives = t_eff.copy()  # into the half-life map (e.g. a scratch copy of it)
    bed_exponential(dose, effective_half_life=half_lives, out=half_lives, **kw)
    np.testing.assert_array_equal(half_lives, buf)
    fortran = np.asfortranarray(dose)
    out_f = np.empty(dose.shape, order="F")
    bed_exponential(fortran, effective_half_life=np.asfortranarray(t_eff), out=out_f, **kw)
    np.testing.assert_array_equal(out_f, buf)
    strided = np.empty((30, 20, 20))[:, :, ::2]  # non-contiguous out: the chunked path
    bed_exponential(dose, effective_half_life=t_eff, out=strided, **kw)
    np.testing.assert_allclose(strided, expected, rtol=1e-14)
    broadcast = np.empty(dose.shape)
    bed_exponential(dose, effective_half_life=t_eff[:, :1, :], out=broadcast, **kw)
    np.testing.assert_allclose(broadcast, naive_bed(dose, t_eff[:, :1, :], 2.6, 2.8),
                               rtol=1e-14)
    scalar = np.empty(())
    assert bed_exponential(5.0, effective_half_life=50.0, out=scalar, **kw) is scalar
    assert float(scalar) == pytest.approx(5.50990676, abs=1e-8)


@pytest.mark.parametrize(
    ("make_out", "match"),
    [
        (lambda d: np.empty(d.shape, np.float32), "writeable float64 array of shape"),
        (lambda d: np.empty(d.shape[:1]), r"of shape \(50, 40\)"),
        (lambda d: np.broadcast_to(np.empty(1), d.shape), "read-only"),
        (lambda d: [0.0] * d.size, "out must be a numpy array"),
        (lambda d: d[:, ::-1], "out overlaps dose"),
    ],
)
def test_bed_exponential_bad_out_is_refused_before_writing(make_out, match):
    dose = np.arange(2000.0).reshape(50, 40) / 100.0
    kept = dose.copy()
    with pytest.raises(DoseResponseError, match=match):
        bed_exponential(dose, effective_half_life=np.full(dose.shape, 40.0), alpha_beta=2.6,
                        repair_half_time=2.8, out=make_out(dose))
    np.testing.assert_array_equal(dose, kept)


def test_bed_exponential_in_place_failure_says_the_map_was_overwritten():
    dose = np.full(1000, 5.0)
    dose[700] = -1.0
    with pytest.raises(DoseResponseError, match=r"out=dose.*partly overwritten"):
        bed_exponential(dose, effective_half_life=np.full(1000, 40.0), alpha_beta=2.6,
                        repair_half_time=2.8, out=dose)
    t_eff = np.full(1000, 40.0)
    t_eff[3] = 0.0  # the input that was not overwritten is still searched and named
    dose = np.full(1000, 5.0)
    with pytest.raises(DoseResponseError, match=r"effective_half_life must be > 0 .* index 3"):
        bed_exponential(dose, effective_half_life=t_eff, alpha_beta=2.6, repair_half_time=2.8,
                        out=dose)


def test_bed_exponential_uptake_form_is_symmetric_and_continuous():
    kw = {"alpha_beta": 3.0, "repair_half_time": 1.5}
    a = bed_exponential(10.0, effective_half_life=20.0, uptake_half_life=2.0, **kw)
    b = bed_exponential(10.0, effective_half_life=2.0, uptake_half_life=20.0, **kw)
    assert a == pytest.approx(b, rel=1e-15)
    equal = bed_exponential(10.0, effective_half_life=20.0, uptake_half_life=20.0, **kw)
    near = bed_exponential(10.0, effective_half_life=20.0, uptake_half_life=20.0 * (1 - 1e-7), **kw)
    assert equal == pytest.approx(near, rel=1e-7)


@pytest.mark.parametrize(
    ("dose", "t_eff", "t_up", "match"),
    [
        ("neg", 50.0, None, r"dose must be >= 0 \(Gy\); got -1 at index 70000"),
        ("nan", 50.0, None, "dose contains NaN at index 70000"),
        ("inf", 50.0, None, "dose contains an infinite value at index 70000"),
        ("ok", "zero", None, "effective_half_life must be > 0 .* index 70000"),
        ("ok", "nan", None, "effective_half_life contains NaN at index 70000"),
        ("ok", -5.0, None, "effective_half_life must be > 0"),
        ("ok", 50.0, "neg", "uptake_half_life must be > 0 .* index 70000"),
        ("ok", "inf", "ok", "effective_half_life contains an infinite value"),
        ("ok", 50.0, 0.0, "uptake_half_life must be > 0"),
    ],
)
def test_bed_exponential_errors_name_argument_and_index(dose, t_eff, t_up, match):
    n = 100000

    def make(kind, fill):
        if not isinstance(kind, str):
            return kind
        arr = np.full(n, fill)
        bad = {"neg": -1.0, "nan": np.nan, "inf": np.inf, "zero": 0.0, "ok": fill}[kind]
        arr[70000] = bad
        return arr

    kwargs = {} if t_up is None else {"uptake_half_life": make(t_up, 2.0)}
    with pytest.raises(DoseResponseError, match=match):
        bed_exponential(
            make(dose, 5.0),
            effective_half_life=make(t_eff, 50.0),
            alpha_beta=2.6,
            repair_half_time=2.8,
            **kwargs,
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dose": -1.0}, "dose must be >= 0"),
        ({"dose": float("nan")}, "dose contains NaN"),
        ({"effective_half_life": 0.0}, "effective_half_life must be > 0"),
        ({"uptake_half_life": -1.0}, "uptake_half_life must be > 0"),
        ({"repair_half_time": 0.0}, "repair_half_time must be > 0"),
        ({"repair_half_time": [1.0, 2.0]}, "repair_half_time must be a single number"),
        ({"dose": "five"}, "dose must be numeric"),
        ({"dose": np.ones(3), "effective_half_life": np.ones(4)}, "broadcastable shapes"),
    ],
)
def test_bed_exponential_scalar_and_argument_errors(kwargs, match):
    args = {"dose": 5.0, "effective_half_life": 50.0, "alpha_beta": 2.6, "repair_half_time": 2.8}
    args.update(kwargs)
    with pytest.raises(DoseResponseError, match=match):
        bed_exponential(args.pop("dose"), **args)


def test_bed_exponential_overflow_is_an_error_not_inf():
    with pytest.raises(DoseResponseError, match="non-finite BED"):
        bed_exponential(
            np.array([1e200, 1.0]), effective_half_life=1.0, alpha_beta=1.0, repair_half_time=1.0
        )


# ------------------------------------------------------------------------------ inverses


def test_dose_for_bed_round_trips_and_broadcasts(rng):
    target = rng.uniform(0, 80, size=50)
    t_eff = rng.uniform(5, 150, size=50)
    kw = {"alpha_beta": 2.6, "repair_half_time": 2.8}
    dose = dose_for_bed(target, effective_half_life=t_eff, **kw)
    np.testing.assert_allclose(
        bed_exponential(dose, effective_half_life=t_eff, **kw), target, rtol=1e-13
    )
    dose_up = dose_for_bed(target, effective_half_life=t_eff, uptake_half_life=1.0, **kw)
    back = bed_exponential(dose_up, effective_half_life=t_eff, uptake_half_life=1.0, **kw)
    np.testing.assert_allclose(back, target, rtol=1e-13)
    assert dose_for_bed(0.0, effective_half_life=50.0, **kw) == 0.0
    # huge targets: the stable root keeps full precision (naive (-1+sqrt(1+4kB))/2k also ok here,
    # tiny targets are where it loses digits)
    tiny = dose_for_bed(1e-12, effective_half_life=50.0, **kw)
    assert tiny == pytest.approx(1e-12, rel=1e-9)
    with pytest.raises(DoseResponseError, match="target_bed must be >= 0"):
        dose_for_bed(-1.0, effective_half_life=50.0, **kw)
    with pytest.raises(DoseResponseError, match="effective_half_life must be > 0"):
        dose_for_bed(40.0, effective_half_life=0.0, **kw)


def test_scale_for_bed_for_cycle_list_reaches_target():
    kw = {"alpha_beta": 2.6, "repair_half_time": 2.8}
    per_gbq = [
        mono(0.6, 45.0),
        mono(0.7, 52.0),
        PiecewiseDoseRate([4.0, 48.0], [0.02, 0.008], 0.01),
    ]
    factor = scale_for_bed(40.0, per_gbq, **kw)
    scaled = [c.scaled(float(factor)) for c in per_gbq]
    assert bed(scaled, **kw) == pytest.approx(40.0, rel=1e-13)
    dose = dose_for_bed_history(40.0, per_gbq, **kw)
    assert dose == pytest.approx(sum(c.total_dose for c in scaled), rel=1e-13)
    factors = scale_for_bed([0.0, 20.0, 40.0], per_gbq, **kw)
    assert factors.shape == (3,)
    assert factors[0] == 0.0
    assert factors[2] == pytest.approx(factor, rel=1e-15)
    assert (
        scale_for_bed(
            40.0, per_gbq, repair_half_time=[1.0, 3.0], repair_fractions=[0.5, 0.5], alpha_beta=2.6
        )
        > 0
    )


def test_scale_for_bed_errors():
    kw = {"alpha_beta": 2.6, "repair_half_time": 2.8}
    with pytest.raises(DoseResponseError, match="delivers no dose"):
        scale_for_bed(40.0, mono(0.0, 50.0), **kw)
    with pytest.raises(DoseResponseError, match="target_bed must be >= 0"):
        dose_for_bed_history(-4.0, mono(1.0, 50.0), **kw)
    with pytest.raises(DoseResponseError, match="empty list"):
        dose_for_bed_history(4.0, [], **kw)


# ------------------------------------------------------------------------------ EBRT and EQDx


def test_fractionated_and_eqd_broadcast_and_invert_each_other():
    totals = np.array([23.0, 46.0, 70.0])
    bed_values = bed_fractionated(totals, dose_per_fraction=2.0, alpha_beta=2.6)
    # EQD2 of an EBRT course given in 2-Gy fractions is its total dose (Withers 1983).
    np.testing.assert_allclose(eqd(bed_values, alpha_beta=2.6), totals, rtol=1e-15)
    assert eqd(40.0, alpha_beta=2.6, dose_per_fraction=0.0) == 40.0
    ab = np.array([2.6, 10.0])
    np.testing.assert_allclose(eqd(40.0, alpha_beta=ab), 40.0 / (1 + 2.0 / ab), rtol=1e-15)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: eqd(-1.0, alpha_beta=2.6), "bed must be >= 0"),
        (lambda: eqd(40.0, alpha_beta=0.0), "alpha_beta must be > 0"),
        (lambda: eqd(40.0, alpha_beta=2.6, dose_per_fraction=-2.0), "dose_per_fraction"),
        (lambda: eqd([40.0, np.nan], alpha_beta=2.6), "bed contains NaN"),
        (lambda: bed_fractionated(-1.0, dose_per_fraction=2.0, alpha_beta=3.0), "total_dose"),
        (
            lambda: bed_fractionated(10.0, dose_per_fraction=-2.0, alpha_beta=3.0),
            "dose_per_fraction",
        ),
        (lambda: bed_fractionated(10.0, dose_per_fraction=2.0, alpha_beta=-3.0), "alpha_beta"),
    ],
)
def test_eqd_and_fractionated_errors(call, match):
    with pytest.raises(DoseResponseError, match=match):
        call()
