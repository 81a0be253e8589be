"""Reference vectors BED-015…037, BED-043…045 and EQD-038…042 through the public BED API.

Expected values come from ``tests/reference/radiobiology_vectors.csv`` (closed forms, each
cross-checked there against an ODE integration of the Lea–Catcheside integral, DOP853 rtol 1e-12;
see tests/reference/README.md). Each case is compared to 1e-6 relative with ``assert_matches``.
"""

from __future__ import annotations

import pytest

from doseresponse.radiobiology.bed import (
    bed,
    bed_exponential,
    bed_fractionated,
    dose_for_bed,
    dose_for_bed_history,
    eqd,
    g_factor,
)
from doseresponse.radiobiology.doserate import ExponentialDoseRate, PiecewiseDoseRate
from tests.radiobiology.vectors import assert_matches, load_vectors

VECTORS = load_vectors()

MONO = [f"BED-{i:03d}" for i in range(15, 25)]
UPTAKE = ["BED-025", "BED-026", "BED-027"]
PIECEWISE = ["BED-030", "BED-031", "BED-032"]
TWO_REPAIR = ["BED-033", "BED-034"]
REPOPULATION = ["BED-044", "BED-045"]
EQD_CASES = [f"EQD-{i:03d}" for i in range(38, 43)]

COVERED = {
    *MONO,
    *UPTAKE,
    "BED-028",
    "BED-029",
    *PIECEWISE,
    *TWO_REPAIR,
    "BED-035",
    "BED-036",
    "BED-037",
    "BED-043",
    *REPOPULATION,
    *EQD_CASES,
}


@pytest.mark.parametrize("case_id", MONO)
def test_mono_exponential_bed_through_history_and_voxel_shortcut(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    history = ExponentialDoseRate.from_dose(i["D_Gy"], effective_half_life=i["T_eff_h"])
    lq = {"alpha_beta": i["alpha_beta_Gy"], "repair_half_time": i["T_rep_h"]}
    assert_matches(bed(history, **lq), vector)
    assert_matches(bed_exponential(i["D_Gy"], effective_half_life=i["T_eff_h"], **lq), vector)


@pytest.mark.parametrize("case_id", UPTAKE)
def test_uptake_washout_bed(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    history = ExponentialDoseRate.from_dose(
        i["D_Gy"], effective_half_life=i["T_washout_h"], uptake_half_life=i["T_uptake_h"]
    )
    lq = {"alpha_beta": i["alpha_beta_Gy"], "repair_half_time": i["T_rep_h"]}
    assert_matches(bed(history, **lq), vector)
    shortcut = bed_exponential(
        [i["D_Gy"], i["D_Gy"]],
        effective_half_life=i["T_washout_h"],
        uptake_half_life=i["T_uptake_h"],
        **lq,
    )
    assert_matches(shortcut[1], vector)


def test_tri_exponential_bed_and_g_factor():
    i = VECTORS["BED-028"].inputs
    history = ExponentialDoseRate.from_half_lives(i["R_Gy_per_h"], i["T_h"])
    assert_matches(
        bed(history, alpha_beta=i["alpha_beta_Gy"], repair_half_time=i["T_rep_h"]),
        VECTORS["BED-028"],
    )
    assert_matches(g_factor(history, VECTORS["BED-029"].inputs["T_rep_h"]), VECTORS["BED-029"])


@pytest.mark.parametrize("case_id", PIECEWISE)
def test_piecewise_trapezoid_with_tail(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    history = PiecewiseDoseRate(i["t_h"], i["R_Gy_per_h"], tail_rate=i["tail_lambda_per_h"])
    assert_matches(
        bed(history, alpha_beta=i["alpha_beta_Gy"], repair_half_time=i["T_rep_h"]), vector
    )


@pytest.mark.parametrize("case_id", TWO_REPAIR)
def test_two_repair_components(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    history = ExponentialDoseRate.from_dose(i["D_Gy"], effective_half_life=i["T_eff_h"])
    value = bed(
        history,
        alpha_beta=i["alpha_beta_Gy"],
        repair_half_time=[i["T_rep1_h"], i["T_rep2_h"]],
        repair_fractions=[i["c1"], 1.0 - i["c1"]],
    )
    assert_matches(value, vector)


def test_fractionated_ebrt_kidney_tolerance():
    # BED-035 is a `published` row: Emami 1991 TD5/5 23 Gy in 2-Gy fractions -> ~40 Gy BED.
    i = VECTORS["BED-035"].inputs
    value = bed_fractionated(i["D_Gy"], dose_per_fraction=i["d_Gy"], alpha_beta=i["alpha_beta_Gy"])
    assert_matches(value, VECTORS["BED-035"])


def _square_pulse(rate: float, width: float, tail_rate: float) -> PiecewiseDoseRate:
    # Constant `rate` from t = 0 to `width`, then an exponential tail so fast (1/tail_rate h)
    # that it is a square pulse for every practical purpose; the tail's dose is included in
    # `rate` by the caller so the pulse delivers the nominal dose exactly.
    return PiecewiseDoseRate([width], [rate], tail_rate=tail_rate, start_rate=rate)


def test_pulse_train_as_list_of_cycles_reproduces_fractionated_limit():
    # BED-036: 12 square pulses of 2 Gy, width w = 0.001 h, 500 h apart. A PiecewiseDoseRate
    # must end in an exponential tail, so each pulse is one cycle: a constant dose rate over w
    # followed by a tail with rate 1e9 /h (lasting ~1e-9 h, i.e. 1e-6 of the pulse width, which
    # moves G by ~mu*1e-9 h ~ 1e-10). The list of cycles is summed per cycle, which neglects the
    # cross terms between pulses (weight e^{-mu*500 h} = e^{-124} here). The vector's closed form
    # is D + D^2/(a/b) * g(mu w)/n with g(x) = 2(x - 1 + e^-x)/x^2 (its method column).
    vector = VECTORS["BED-036"]
    i = vector.inputs
    tail_rate = 1e9
    rate = i["d_Gy"] / (i["pulse_width_h"] + 1.0 / tail_rate)
    cycles = [_square_pulse(rate, i["pulse_width_h"], tail_rate)] * i["n"]
    assert_matches(
        bed(cycles, alpha_beta=i["alpha_beta_Gy"], repair_half_time=i["T_rep_h"]), vector
    )


def test_pulse_train_as_one_history_includes_cross_terms():
    # Same BED-036 train as ONE piecewise history: each pulse is a trapezoid whose ramps of
    # eps = 1e-7 h are centred on the nominal edges, so every pulse delivers exactly 2 Gy and
    # differs from a square pulse only by O(mu*eps) ~ 2.5e-8 in its G; the exact recursion then
    # includes the (negligible) inter-pulse cross terms.
    vector = VECTORS["BED-036"]
    i = vector.inputs
    w, gap, d, eps, tail_rate = i["pulse_width_h"], i["gap_h"], i["d_Gy"], 1e-7, 1e9
    rate = d / w
    times, rates = [], []
    for k in range(i["n"]):
        start = k * gap
        if k > 0:  # ramp up, centred on the nominal start (the first pulse starts at full rate)
            times += [start - eps / 2, start + eps / 2]
            rates += [0.0, rate]
        if k < i["n"] - 1:  # plateau, then ramp down centred on the nominal end
            times += [start + w - eps / 2, start + w + eps / 2]
            rates += [rate, 0.0]
        else:  # last pulse: plateau shortened by the tail's duration 1/tail_rate (same dose)
            times += [start + w - 1.0 / tail_rate]
            rates += [rate]
    history = PiecewiseDoseRate(times, rates, tail_rate=tail_rate, start_rate=rate)
    assert history.total_dose == pytest.approx(i["n"] * d, rel=1e-9)  # knot rounding at t~5500 h
    assert_matches(
        bed(history, alpha_beta=i["alpha_beta_Gy"], repair_half_time=i["T_rep_h"]), vector
    )


def test_four_cycle_kidney_course():
    vector = VECTORS["BED-037"]
    i = vector.inputs
    cycles = [
        ExponentialDoseRate.from_dose(dose, effective_half_life=t_eff)
        for dose, t_eff in zip(i["D_cycles_Gy"], i["T_eff_cycles_h"], strict=True)
    ]
    assert_matches(
        bed(cycles, alpha_beta=i["alpha_beta_Gy"], repair_half_time=i["T_rep_h"]), vector
    )


def test_dose_for_kidney_bed_limit_closed_form_and_history_inverse():
    vector = VECTORS["BED-043"]
    i = vector.inputs
    lq = {"alpha_beta": i["alpha_beta_Gy"], "repair_half_time": i["T_rep_h"]}
    assert_matches(dose_for_bed(i["BED_target_Gy"], effective_half_life=i["T_eff_h"], **lq), vector)
    shape = ExponentialDoseRate.from_dose(1.0, effective_half_life=i["T_eff_h"])
    assert_matches(dose_for_bed_history(i["BED_target_Gy"], shape, **lq), vector)


@pytest.mark.parametrize("case_id", REPOPULATION)
def test_repopulation_with_dale_cutoff(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    history = ExponentialDoseRate.from_dose(i["D_inf_Gy"], effective_half_life=i["T_eff_h"])
    value = bed(
        history,
        alpha_beta=i["alpha_beta_Gy"],
        repair_half_time=i["T_rep_h"],
        alpha=i["alpha_per_Gy"],
        potential_doubling_time=i["T_pot_h"],
    )
    assert_matches(value, vector)


@pytest.mark.parametrize("case_id", EQD_CASES)
def test_eqdx(case_id):
    vector = VECTORS[case_id]
    i = vector.inputs
    x = i.get("x_Gy", 2.0)  # EQD-038 is EQD2 (no x given)
    assert_matches(eqd(i["BED_Gy"], alpha_beta=i["alpha_beta_Gy"], dose_per_fraction=x), vector)
