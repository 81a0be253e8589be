"""Single-time-point TIA: Hänscheid, Madsen and reference-curve estimators and their SEs.

Closed forms written here: Hänscheid Ã = 2·A·t/ln2 (Hänscheid et al. 2018, J Nucl Med 59:75),
Madsen Ã = A·e^{λt}/λ (Madsen et al. 2018, Med Phys 45:2318), the delta-method SE for a small
half-life SD, and Monte Carlo expectations over the log-normal half-life (seeded).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology import (
    fit_time_activity,
    hanscheid_tia,
    madsen_tia,
    reference_curve_tia,
    single_time_point_tia,
)

LN2 = math.log(2.0)


def _mono_tia(a, t, half_life):
    lam = LN2 / half_life
    return a * np.exp(lam * t) / lam


def _lognormal(rng, mean, sd, size):
    s2 = math.log1p((sd / mean) ** 2)
    return np.exp(math.log(mean) - s2 / 2 + math.sqrt(s2) * rng.standard_normal(size))


# --- point estimates -------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "t"), [(10.0, 96.0), (3.2, 24.0), (55.0, 168.0)])
def test_hanscheid_closed_form_and_agreement_with_absorbed_module(a, t):
    est = hanscheid_tia(a, t)
    assert est.time_integrated_activity == pytest.approx(2 * a * t / LN2, rel=1e-14)
    assert est.time_integrated_activity == pytest.approx(single_time_point_tia(a, t), rel=1e-14)
    assert est.time_integrated_activity_se is None  # no spread stated
    # the implied curve is the mono-exponential with T = t through the point
    assert est.predict([t])[0] == pytest.approx(a, rel=1e-12)
    assert est.dose_rate(2e-4).total_dose == pytest.approx(2e-4 * est.time_integrated_activity)


@pytest.mark.parametrize(("t", "half_life"), [(96.0, 50.0), (24.0, 80.0), (168.0, 40.0)])
def test_madsen_closed_form_is_exact_for_mono_data(t, half_life):
    a0 = 40.0
    a = a0 * math.exp(-LN2 / half_life * t)
    est = madsen_tia(a, t, half_life)
    assert est.time_integrated_activity == pytest.approx(a0 * half_life / LN2, rel=1e-12)
    assert est.time_integrated_activity_se == 0.0
    assert est.predict([0.0])[0] == pytest.approx(a0, rel=1e-12)


def test_hanscheid_and_madsen_coincide_at_t_equal_teff():
    assert hanscheid_tia(7.0, 72.0).time_integrated_activity == pytest.approx(
        madsen_tia(7.0, 72.0, 72.0).time_integrated_activity, rel=1e-14
    )


# --- uncertainty from the stated half-life spread ---------------------------------------------


def test_madsen_small_spread_se_equals_delta_method():
    a, t, half, sd = 10.0, 96.0, 60.0, 0.01
    est = madsen_tia(a, t, half, sd)
    delta = a * 2 ** (t / half) * abs(1 - t * LN2 / half) * sd / LN2
    assert est.tia_se_components["half_life"] == pytest.approx(delta, rel=1e-4)


def test_madsen_se_matches_monte_carlo_for_a_wide_spread():
    a, t, half, sd = 10.0, 96.0, 60.0, 15.0
    est = madsen_tia(a, t, half, sd)
    draws = _lognormal(np.random.default_rng(12), half, sd, 400_000)
    rms = math.sqrt(np.mean((_mono_tia(a, t, draws) - est.time_integrated_activity) ** 2))
    assert est.time_integrated_activity_se == pytest.approx(rms, rel=0.01)  # MC SE ≈ 0.3 %


def test_madsen_se_is_second_order_at_the_optimal_scan_time():
    # dÃ/dT = 0 at T = t·ln2: the delta method gives 0; the quadrature gives the small 2nd order.
    t = 96.0
    est = madsen_tia(10.0, t, t * LN2, 0.1 * t * LN2)
    assert 0 < est.tia_se_components["half_life"] < 0.01 * est.time_integrated_activity


def test_hanscheid_se_includes_the_approximation_bias():
    a, t, half = 10.0, 96.0, 50.0
    truth = _mono_tia(a, t, half)
    est = hanscheid_tia(a, t, effective_half_life_h=half, effective_half_life_sd_h=1e-6)
    assert est.time_integrated_activity_se == pytest.approx(
        abs(est.time_integrated_activity - truth), rel=1e-6
    )
    wide = hanscheid_tia(a, t, effective_half_life_h=half, effective_half_life_sd_h=12.0)
    draws = _lognormal(np.random.default_rng(5), half, 12.0, 400_000)
    rms = math.sqrt(np.mean((_mono_tia(a, t, draws) - wide.time_integrated_activity) ** 2))
    assert wide.time_integrated_activity_se == pytest.approx(rms, rel=0.01)


def test_activity_parts_add_in_quadrature():
    base = madsen_tia(10.0, 96.0, 60.0, 10.0)
    est = madsen_tia(10.0, 96.0, 60.0, 10.0, activity_rel_sd=0.04, calibration_rel_sd=0.05,
                     partial_volume_rel_sd=0.1)
    tia = est.time_integrated_activity
    expected = math.sqrt(base.time_integrated_activity_se**2
                         + (tia * 0.04) ** 2 + (tia * 0.05) ** 2 + (tia * 0.1) ** 2)
    assert est.time_integrated_activity_se == pytest.approx(expected, rel=1e-12)


# --- reference curve ("population T_eff + one point", hybrid schedules) ---------------------


def _mono_reference(half=45.0):
    t = np.array([4.0, 24.0, 96.0, 168.0])
    return fit_time_activity(t, 60 * np.exp(-LN2 / half * t), "mono-exponential",
                             nuclide="Lu-177")


def test_reference_curve_with_mono_reference_is_madsen():
    ref = _mono_reference(45.0)
    est = reference_curve_tia(5.0, 120.0, ref, half_life_rel_sd=0.2)
    madsen = madsen_tia(5.0, 120.0, 45.0, 0.2 * 45.0)
    assert est.time_integrated_activity == pytest.approx(madsen.time_integrated_activity,
                                                         rel=1e-8)
    assert est.tia_se_components["half_life"] == pytest.approx(
        madsen.tia_se_components["half_life"], rel=1e-6
    )


def test_reference_curve_rescales_an_uptake_shape_exactly():
    t = np.array([4.0, 24.0, 96.0, 168.0])
    lw, lu = LN2 / 95.0, LN2 / 7.0
    ref = fit_time_activity(t, 45 * (np.exp(-lw * t) - np.exp(-lu * t)), "uptake-mono",
                            nuclide="Lu-177")
    k = 0.7  # this cycle: same shape, 70 % of the uptake
    a96 = k * 45 * (math.exp(-lw * 96) - math.exp(-lu * 96))
    est = reference_curve_tia(a96, 96.0, ref)
    assert est.time_integrated_activity == pytest.approx(k * 45 * (1 / lw - 1 / lu), rel=1e-6)


def test_reference_fit_se_matches_finite_difference_delta_method():
    t = np.array([4.0, 24.0, 96.0, 168.0])
    y = 60 * np.exp(-LN2 / 45 * t) * (1 + 0.05 * np.random.default_rng(2).standard_normal(4))
    ref = fit_time_activity(t, y, "mono-exponential", nuclide="Lu-177")
    est = reference_curve_tia(5.0, 120.0, ref)
    a1, lam = ref.params["A1_MBq"], ref.params["lambda1_per_h"]

    def ratio(lam_):
        return math.exp(lam_ * 120.0) / lam_  # R = Ã/A(t) does not depend on A1

    h = 1e-7 * lam
    d = (ratio(lam + h) - ratio(lam - h)) / (2 * h)
    var = float(ref.covariance.loc["lambda1_per_h", "lambda1_per_h"])
    assert a1 > 0
    assert est.tia_se_components["reference_fit"] == pytest.approx(5.0 * abs(d) * math.sqrt(var),
                                                                   rel=1e-5)


def test_reference_must_be_an_exponential_fit():
    t = np.array([4.0, 24.0, 96.0, 168.0])
    trap = fit_time_activity(t, [5.0, 4.0, 2.0, 1.0], "trapezoid", nuclide="Lu-177",
                             tail="fit")
    with pytest.raises(DoseResponseError, match="exponential model"):
        reference_curve_tia(5.0, 96.0, trap)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hanscheid_tia(-1.0, 96.0), "activity_mbq"),
        (lambda: hanscheid_tia(1.0, 0.0), "time_h"),
        (lambda: hanscheid_tia(1.0, 96.0, effective_half_life_h=50.0), "both"),
        (lambda: madsen_tia(1.0, 96.0, -5.0), "effective_half_life_h"),
        (lambda: madsen_tia(1.0, 96.0, 50.0, -1.0), "effective_half_life_sd_h"),
        (lambda: madsen_tia(1.0, 96.0, 50.0, calibration_rel_sd=-0.1), "calibration_rel_sd"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(DoseResponseError, match=match):
        call()
