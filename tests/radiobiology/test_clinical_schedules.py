"""Time-activity fits on sparse clinical schedules (issue 12) and uncertainty carried forward.

Reference values are closed forms computed here from the generating parameters:
uptake-mono TIA = A0 (1/λw − 1/λu), mono TIA = A0 T/ln2 (MIRD Pamphlet 21).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from doseresponse.exceptions import ConvergenceWarning, FitError
from doseresponse.radiobiology import (
    DosimetryWarning,
    PhysicalDecayBoundWarning,
    bed,
    fit_time_activity,
    local_deposition_s_value,
    multicycle_dosimetry,
    tissue_parameters,
)

LN2 = math.log(2.0)
T_PHYS = 159.528  # Lu-177 physical half-life (h), as in the package's nuclide table
SCHEDULE_A = np.array([4.0, 24.0, 96.0, 168.0])
ISSUE_A_ACTIVITY = np.array([13.6, 33.71, 21.85, 12.91])
ISSUE_A_TRUE_TIA = 5701.0  # MBq·h, stated in issue 12
SCHEDULE_B = np.array([24.0, 96.0, 168.0])


def _uptake(t, a0=45.0, t_wash=95.0, t_up=7.0):
    lw, lu = LN2 / t_wash, LN2 / t_up
    return a0 * (np.exp(-lw * t) - np.exp(-lu * t)), a0 * (1 / lw - 1 / lu)


def _mono(t, a0=50.0, t_eff=40.0):
    return a0 * np.exp(-LN2 / t_eff * t), a0 * t_eff / LN2


# --- schedule A: 4/24/96/168 h, tumour activity rising ---------------------------------------


def test_issue_schedule_a_rising_tumour_gets_an_uptake_model():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicalDecayBoundWarning)
        fit = fit_time_activity(SCHEDULE_A, ISSUE_A_ACTIVITY, nuclide="Lu-177")
    assert fit.model == "uptake-mono"
    assert fit.acceptable
    # tolerance 5 %: the issue's own uptake-mono value, 5576, is 2.2 % below the stated truth
    assert fit.time_integrated_activity == pytest.approx(ISSUE_A_TRUE_TIA, rel=0.05)
    assert "rising-data" in fit.flags
    assert not fit.at_physical_decay_bound
    reasons = fit.rejected_models["mono-exponential"]
    assert reasons[0].startswith("rising-data") and "+148 %" in reasons[0]
    assert "simplest acceptable" in fit.selection_rule
    rules = fit.acceptance_frame().set_index("rule")
    # the correlation the old rule rejected (0.89) is reported, not enforced
    assert rules.loc["correlation", "value"] > 0.8 and not rules.loc["correlation", "enforced"]
    assert rules.loc["parameter-cv", "passed"] and rules.loc["tia-cv", "passed"]


@pytest.mark.parametrize("seed", range(6))
def test_schedule_a_simulated_uptake_recovers_the_tia(seed):
    # Generating curve 45·(e^{-ln2 t/95} − e^{-ln2 t/7}) MBq, 5 % noise; truth 5713.07 MBq·h.
    true, truth = _uptake(SCHEDULE_A)
    y = true * (1 + 0.05 * np.random.default_rng(seed).standard_normal(true.size))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicalDecayBoundWarning)
        fit = fit_time_activity(SCHEDULE_A, y, nuclide="Lu-177")
    assert fit.model == "uptake-mono"
    # 10 %: 5 % noise on 4 points with 1 residual degree of freedom (observed max 9.1 % on 12 seeds)
    assert fit.time_integrated_activity == pytest.approx(truth, rel=0.10)


def test_pure_washout_requested_on_rising_data_raises_with_the_fix():
    with pytest.raises(FitError, match="model='uptake-mono'"):
        fit_time_activity(SCHEDULE_A, ISSUE_A_ACTIVITY, "mono-exponential", nuclide="Lu-177")


def test_rise_within_noise_is_not_an_uptake():
    # +10 % between the first two points (< 15 % tolerance): washout models stay allowed.
    y = np.array([10.0, 11.0, 6.0, 3.6])
    fit = fit_time_activity(SCHEDULE_A, y, "mono-exponential", nuclide="Lu-177")
    assert "rising-data" not in fit.flags
    # with activity_sd the 2-SD rule applies: a 1 MBq rise with SD 0.2 MBq is 3.5 SD
    with pytest.raises(FitError, match="SD of the difference"):
        fit_time_activity(SCHEDULE_A, y, "mono-exponential", nuclide="Lu-177",
                          activity_sd=np.full(4, 0.2))


# --- schedule B: 24/96/168 h mono-exponential ------------------------------------------------


def test_issue_schedule_b_mono_accepted_despite_inherent_correlation():
    true, truth = _mono(SCHEDULE_B)  # 50 MBq, T_eff 40 h -> 2885.39 MBq·h
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no bound warning
        fit = fit_time_activity(SCHEDULE_B, true, nuclide="Lu-177")
    assert fit.model == "mono-exponential" and fit.acceptable
    assert fit.time_integrated_activity == pytest.approx(truth, rel=1e-6)
    assert fit.effective_half_life == pytest.approx(40.0, rel=1e-6)
    corr = fit.acceptance_frame().set_index("rule").loc["correlation", "value"]
    assert 0.8 < corr < 0.83  # |corr| ≈ 0.81 is a property of the schedule, not the data


@pytest.mark.parametrize("seed", range(5))
def test_schedule_b_noisy_mono_within_six_percent(seed):
    true, truth = _mono(SCHEDULE_B)
    y = true * (1 + 0.05 * np.random.default_rng(seed).standard_normal(3))
    fit = fit_time_activity(SCHEDULE_B, y, nuclide="Lu-177")
    assert fit.model == "mono-exponential"
    assert fit.time_integrated_activity == pytest.approx(truth, rel=0.06)  # observed max 5.6 %


def test_published_correlation_rule_falls_back_loudly():
    true, _ = _mono(SCHEDULE_B)
    with pytest.warns(ConvergenceWarning, match="falling back"), pytest.warns(
        PhysicalDecayBoundWarning, match=r"T ≈ 40 h"
    ):
        fit = fit_time_activity(SCHEDULE_B, true, nuclide="Lu-177", max_abs_correlation=0.8)
    assert fit.model == "trapezoid"
    assert {"fallback", "physical-tail-on-clearing-data"} <= set(fit.flags)
    assert fit.at_physical_decay_bound
    assert fit.rejected_models["mono-exponential"][0].startswith("correlation")


def test_clearance_at_physical_bound_warns_and_flags():
    t = np.array([4.0, 24.0, 96.0, 168.0])
    y = 20 * np.exp(-LN2 / T_PHYS * t)  # no biological clearance at all
    with pytest.warns(PhysicalDecayBoundWarning, match="physical-decay bound"):
        fit = fit_time_activity(t, y, "mono-exponential", nuclide="Lu-177")
    assert "physical-decay-bound" in fit.flags
    check = fit.acceptance_frame().set_index("rule").loc["physical-decay-bound"]
    assert not check["passed"] and not check["enforced"]


# --- calibration and partial volume ----------------------------------------------------------


def test_calibration_and_partial_volume_add_in_quadrature():
    true, _ = _mono(SCHEDULE_A)
    y = true * (1 + 0.05 * np.random.default_rng(3).standard_normal(4))
    base = fit_time_activity(SCHEDULE_A, y, "mono-exponential", nuclide="Lu-177")
    fit = fit_time_activity(SCHEDULE_A, y, "mono-exponential", nuclide="Lu-177",
                            calibration_rel_sd=0.05, partial_volume_rel_sd=0.10)
    tia, se_fit = base.time_integrated_activity, base.time_integrated_activity_se
    assert fit.time_integrated_activity == tia
    expected = math.sqrt(se_fit**2 + (0.05 * tia) ** 2 + (0.10 * tia) ** 2)
    assert fit.time_integrated_activity_se == pytest.approx(expected, rel=1e-12)
    assert fit.tia_se_components == pytest.approx(
        {"fit": se_fit, "calibration": 0.05 * tia, "partial_volume": 0.10 * tia}
    )


# --- multicycle dosimetry: hybrid schedules, SE carried forward ------------------------------


def _samples():
    rows = []
    kid1, _ = _mono(SCHEDULE_A, 60.0, 45.0)
    kid2, _ = _mono(SCHEDULE_B, 55.0, 42.0)
    rng = np.random.default_rng(7)
    for cycle, times, acts in ((1, SCHEDULE_A, kid1), (2, SCHEDULE_B, kid2)):
        noisy = acts * (1 + 0.03 * rng.standard_normal(acts.size))
        rows += [(cycle, "kidneys", t, a) for t, a in zip(times, noisy, strict=True)]
    rows.append((3, "kidneys", 96.0, 58.0 * math.exp(-LN2 / 45.0 * 96.0)))
    return pd.DataFrame(rows, columns=["cycle", "region", "time_h", "activity_mbq"])


def test_multicycle_hybrid_schedule_and_course_se():
    samples = _samples()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DosimetryWarning)
        result = multicycle_dosimetry(
            samples, masses_kg={"kidneys": 0.3}, tissues={"kidneys": "kidney"},
            half_life_rel_sd=0.1, calibration_rel_sd=0.05, partial_volume_rel_sd=0.08,
        )
    cyc = result.per_cycle.set_index("cycle")
    assert list(cyc["method"]) == ["fit", "fit", "stp-reference-curve"]
    assert list(cyc["model"]) == ["mono-exponential", "mono-exponential", "stp-reference-curve"]
    assert cyc["dose_se_gy"].notna().all() and cyc["in_course_se"].all()
    # cycle 3: the cycle-1 curve through one point at 96 h -> TIA = A(96)·e^{λ·96}/λ (λ of cycle 1)
    lam1 = result.fits[("kidneys", 1)].rates_per_h[0]
    expected = 58.0 * math.exp(-LN2 / 45.0 * 96.0) * math.exp(lam1 * 96.0) / lam1
    assert cyc.loc[3, "tia_mbq_h"] == pytest.approx(expected, rel=1e-12)
    # course SE by the documented formula (statistical parts independent, systematic correlated)
    tissue = tissue_parameters("kidney")
    s = local_deposition_s_value("Lu-177", 0.3)
    u_sys = math.hypot(0.05, 0.08)
    slope = 1 + 2 * cyc["g_factor"] * cyc["dose_gy"] / tissue.alpha_beta
    stat = cyc["tia_se_fit_mbq_h"] * s
    reg = result.per_region.set_index("region").loc["kidneys"]
    assert reg["dose_se_gy"] == pytest.approx(
        math.sqrt(np.sum(stat**2) + (u_sys * cyc["dose_gy"].sum()) ** 2), rel=1e-12)
    assert reg["bed_se_gy"] == pytest.approx(
        math.sqrt(np.sum((slope * stat) ** 2) + np.sum(slope * u_sys * cyc["dose_gy"]) ** 2),
        rel=1e-12)
    np.testing.assert_allclose(cyc["bed_se_gy"], slope * cyc["dose_se_gy"], rtol=1e-12)
    assert reg["se_excluded_cycles"] == ""


def test_bed_se_slope_is_the_bed_derivative():
    # d BED / d D for a scale change of the dose-rate history, by central differences.
    result = multicycle_dosimetry(_samples(), masses_kg={"kidneys": 0.3},
                                  tissues={"kidneys": "kidney"})
    tissue = tissue_parameters("kidney")
    row = result.per_cycle.iloc[0]
    history = result.dose_rates["kidneys"][0]
    h = 1e-5
    up = bed(history.scaled(1 + h), alpha_beta=tissue.alpha_beta,
             repair_half_time=tissue.repair_half_time)
    down = bed(history.scaled(1 - h), alpha_beta=tissue.alpha_beta,
               repair_half_time=tissue.repair_half_time)
    derivative = (up - down) / (2 * h * row["dose_gy"])
    assert row["bed_se_gy"] / row["dose_se_gy"] == pytest.approx(derivative, rel=1e-6)


def test_cycle_without_se_is_excluded_with_a_warning_not_nan():
    samples = _samples()
    with pytest.warns(DosimetryWarning, match="cycle 2"), pytest.warns(PhysicalDecayBoundWarning):
        result = multicycle_dosimetry(
            samples, masses_kg={"kidneys": 0.3}, tissues={"kidneys": "kidney"},
            model={"kidneys": {2: "trapezoid"}},
        )
    cyc = result.per_cycle.set_index("cycle")
    assert cyc.loc[2, "model"] == "trapezoid" and np.isnan(cyc.loc[2, "dose_se_gy"])
    reg = result.per_region.iloc[0]
    assert np.isfinite(reg["dose_se_gy"]) and np.isfinite(reg["bed_se_gy"])
    assert reg["se_excluded_cycles"] == "2"
    stat = cyc.loc[[1, 3], "tia_se_fit_mbq_h"] * cyc.loc[[1, 3], "s_value_gy_per_mbq_h"]
    assert reg["dose_se_gy"] == pytest.approx(math.sqrt(np.sum(stat**2)), rel=1e-12)


def test_single_point_without_reference_falls_back_to_madsen():
    samples = pd.DataFrame({"cycle": [1], "region": ["kidneys"], "time_h": [96.0],
                            "activity_mbq": [10.0]})
    with pytest.warns(DosimetryWarning, match="using the madsen method"):
        result = multicycle_dosimetry(samples, masses_kg={"kidneys": 0.3},
                                      tissues={"kidneys": "kidney"},
                                      population_half_life_h=(50.0, 10.0))
    row = result.per_cycle.iloc[0]
    lam = LN2 / 50.0
    assert row["model"] == "stp-madsen"
    assert row["tia_mbq_h"] == pytest.approx(10.0 * math.exp(lam * 96.0) / lam, rel=1e-12)
    assert np.isfinite(result.per_region.iloc[0]["bed_se_gy"])


def test_per_cycle_single_time_point_method():
    # cycle 3 (one scan) by Hänscheid via the per-cycle model mapping; spread -> finite SE
    result = multicycle_dosimetry(
        _samples(), masses_kg={"kidneys": 0.3}, tissues={"kidneys": "kidney"},
        model={"kidneys": {3: "hanscheid"}}, population_half_life_h={"kidneys": (45.0, 9.0)},
    )
    row = result.per_cycle.set_index("cycle").loc[3]
    a = 58.0 * math.exp(-LN2 / 45.0 * 96.0)
    assert row["model"] == "stp-hanscheid"
    assert row["tia_mbq_h"] == pytest.approx(2 * a * 96.0 / LN2, rel=1e-12)
    assert np.isfinite(row["dose_se_gy"])
