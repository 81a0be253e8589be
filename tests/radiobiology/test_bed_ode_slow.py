"""Closed forms of the Lea–Catcheside integral against brute-force ODE integration (slow).

The reference is the ODE system of the notes §2.1 (Lea & Catcheside 1942; Dale 1985):
dD/dt = R(t), dq_k/dt = R(t) - mu_k q_k, dI_k/dt = R(t) q_k, BED = D + 2 sum_k c_k I_k/(a/b),
integrated with scipy's DOP853 (rtol 1e-12), restarted at every kink of a piecewise dose rate.
Histories are drawn from a seeded generator; the closed forms must agree to 1e-7 relative.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

from doseresponse.radiobiology.bed import bed, g_factor, lea_catcheside_integral
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate

pytestmark = pytest.mark.slow

LN2 = math.log(2.0)
RTOL = 1e-7


def integrate_history(history, repair_half_times, upper, breakpoints=(), event=None):
    """Return (D, [I_k]) at `upper` (or at the terminal `event`, with its time)."""
    mus = LN2 / np.asarray(repair_half_times, dtype=float)
    k = mus.size
    edges = [0.0, *sorted(b for b in breakpoints if 0.0 < b < upper), upper]
    state = np.zeros(1 + 2 * k)
    t_stop = upper
    rate = fast_rate(history)
    for lo, hi in itertools.pairwise(edges):

        def rhs(t, y):
            r = rate(t)
            q = y[1 : 1 + k]
            return np.concatenate(([r], r - mus * q, r * q))

        sol = integrate.solve_ivp(
            rhs, (lo, hi), state, method="DOP853", rtol=1e-12, atol=1e-14, events=event
        )
        state = sol.y[:, -1]
        if event is not None and sol.status == 1:
            t_stop = float(sol.t_events[0][0])
            state = sol.y_events[0][0]
            break
    return float(state[0]), state[1 + k :], t_stop


def fast_rate(history):
    """Scalar dose rate R(t) without the public method's input validation (speed only)."""
    if isinstance(history, ExponentialDoseRate):
        amps, rates = history.amplitudes.tolist(), history.rates.tolist()
        return lambda t: sum(a * math.exp(-lam * t) for a, lam in zip(amps, rates, strict=True))
    t_knots, r_knots = history.knots
    t_end, r_end, tail = float(t_knots[-1]), float(r_knots[-1]), history.tail_rate

    def rate(t):
        if t <= t_end:
            return float(np.interp(t, t_knots, r_knots))
        return r_end * math.exp(-tail * (t - t_end))

    return rate


def random_exponential(rng):
    dose = rng.uniform(1.0, 60.0)
    t_eff = rng.uniform(5.0, 150.0)
    t_up = rng.uniform(0.2, 0.6) * t_eff if rng.random() < 0.7 else None
    return ExponentialDoseRate.from_dose(dose, effective_half_life=t_eff, uptake_half_life=t_up)


def random_piecewise(rng):
    n = int(rng.integers(2, 7))
    times = np.cumsum(rng.uniform(1.0, 30.0, size=n))
    rates = rng.uniform(0.01, 0.5, size=n)
    return PiecewiseDoseRate(times, rates, tail_rate=LN2 / rng.uniform(20, 160), start_rate=0.0)


def horizon(history) -> float:
    rate = history.rates.min() if isinstance(history, ExponentialDoseRate) else history.tail_rate
    end = history.times[-1] if isinstance(history, PiecewiseDoseRate) else 0.0
    return float(end + 32.0 / rate)  # remaining dose e^-32 ~ 1e-14 of the tail: negligible


def kinks(history):
    return tuple(history.times) if isinstance(history, PiecewiseDoseRate) else ()


@pytest.mark.parametrize("seed", range(4))
def test_exponential_and_piecewise_bed_match_ode(seed):
    rng = np.random.default_rng(1000 + seed)
    for history in (random_exponential(rng), random_piecewise(rng)):
        t_rep = rng.uniform(0.3, 4.0)
        alpha_beta = rng.uniform(1.5, 10.0)
        dose, (integral,), _ = integrate_history(history, [t_rep], horizon(history), kinks(history))
        assert history.total_dose == pytest.approx(dose, rel=RTOL)
        assert lea_catcheside_integral(history, t_rep) == pytest.approx(integral, rel=RTOL)
        assert g_factor(history, t_rep) == pytest.approx(2 * integral / dose**2, rel=RTOL)
        expected = dose + 2 * integral / alpha_beta
        assert bed(history, alpha_beta=alpha_beta, repair_half_time=t_rep) == pytest.approx(
            expected, rel=RTOL
        )


@pytest.mark.parametrize("seed", range(3))
def test_two_repair_components_match_ode(seed):
    rng = np.random.default_rng(2000 + seed)
    t_reps = [rng.uniform(0.2, 1.0), rng.uniform(2.0, 6.0)]
    c1 = rng.uniform(0.2, 0.8)
    for history in (random_exponential(rng), random_piecewise(rng)):
        dose, integrals, _ = integrate_history(history, t_reps, horizon(history), kinks(history))
        expected_i = c1 * integrals[0] + (1 - c1) * integrals[1]
        got = lea_catcheside_integral(history, t_reps, [c1, 1 - c1])
        assert got == pytest.approx(expected_i, rel=RTOL)
        assert bed(
            history, alpha_beta=3.0, repair_half_time=t_reps, repair_fractions=[c1, 1 - c1]
        ) == pytest.approx(dose + 2 * expected_i / 3.0, rel=RTOL)


@pytest.mark.parametrize("seed", range(3))
def test_finite_time_integrals_match_ode(seed):
    rng = np.random.default_rng(3000 + seed)
    for history in (random_exponential(rng), random_piecewise(rng)):
        t_rep = rng.uniform(0.3, 4.0)
        upper = float(rng.uniform(0.5, 1.5) * horizon(history) / 8)
        dose, (integral,), _ = integrate_history(history, [t_rep], upper, kinks(history))
        assert float(history.dose_until(upper)) == pytest.approx(dose, rel=RTOL)
        got = lea_catcheside_integral(history, t_rep, until=upper)
        assert got == pytest.approx(integral, rel=RTOL)


@pytest.mark.parametrize("seed", range(3))
def test_repopulation_matches_ode_stopped_at_dale_cutoff(seed):
    # The ODE stops where the dose rate falls through ln2/(alpha T_pot) for the last time (a
    # terminal solve_ivp event, armed only after the last coarse-grid sample above the threshold),
    # independently of the library's crossing search.
    rng = np.random.default_rng(4000 + seed)
    alpha, t_pot, alpha_beta, t_rep = 0.3, rng.uniform(30.0, 150.0), 10.0, 1.5
    threshold = LN2 / (alpha * t_pot)
    for history in (random_exponential(rng), random_piecewise(rng).scaled(4.0)):
        grid = np.linspace(0.0, horizon(history), 20001)
        above = np.flatnonzero(history.dose_rate(grid) > threshold)
        assert above.size, "test history must exceed the repopulation threshold"
        armed = float(grid[above[-1]])

        def falls_below(t, y, history=history, armed=armed):
            return 1.0 if t < armed else float(history.dose_rate(t)) - threshold

        falls_below.terminal = True
        falls_below.direction = -1
        dose, (integral,), t_cut = integrate_history(
            history, [t_rep], horizon(history), (*kinks(history), armed), event=falls_below
        )
        assert t_cut < horizon(history)
        expected = dose + 2 * integral / alpha_beta - threshold * t_cut
        got = bed(
            history,
            alpha_beta=alpha_beta,
            repair_half_time=t_rep,
            alpha=alpha,
            potential_doubling_time=t_pot,
        )
        assert got == pytest.approx(expected, rel=RTOL)
        assert got < bed(history, alpha_beta=alpha_beta, repair_half_time=t_rep)
