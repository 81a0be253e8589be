"""MIRD absorbed dose, local deposition, dose constants, single-time-point TIA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.radiobiology.absorbed import (
    absorbed_dose,
    dose_constant_gy_kg_per_gbq,
    hanscheid_factor,
    local_deposition_dose,
    local_deposition_s_value,
    rescale_s_value,
    single_time_point_tia,
)
from doseresponse.radiobiology.nuclides import get_nuclide

LN2 = math.log(2.0)


def _loop_dose(tia, s):
    """Hand-written MIRD sum D[t] = Σ_s tia[s] S[t, s] for one patient."""
    n_t, n_s = s.shape
    out = np.zeros(n_t)
    for t in range(n_t):
        for src in range(n_s):
            out[t] += tia[src] * s[t, src]
    return out


# --- absorbed_dose -------------------------------------------------------------------------


def test_self_dose_scalars():
    assert absorbed_dose(1000.0, 2e-3) == pytest.approx(2.0)
    assert isinstance(absorbed_dose(1000.0, 2e-3), float)


def test_self_dose_voxel_map_with_scalar_s(rng):
    tia = rng.uniform(0, 100, size=(4, 5, 6))
    np.testing.assert_allclose(absorbed_dose(tia, 3e-4), tia * 3e-4)


def test_matrix_self_and_cross_terms_match_loop(rng):
    tia = rng.uniform(10, 1000, size=3)
    s = rng.uniform(1e-6, 1e-3, size=(4, 3))  # 4 targets, 3 sources
    np.testing.assert_allclose(absorbed_dose(tia, s), _loop_dose(tia, s), rtol=1e-14)


def test_many_patients_one_s_matrix(rng):
    tia = rng.uniform(10, 1000, size=(7, 3))  # 7 patients
    s = rng.uniform(1e-6, 1e-3, size=(2, 3))
    dose = absorbed_dose(tia, s)
    assert dose.shape == (7, 2)
    for p in range(7):
        np.testing.assert_allclose(dose[p], _loop_dose(tia[p], s), rtol=1e-14)


def test_per_patient_s_matrices(rng):
    tia = rng.uniform(10, 1000, size=(5, 3))
    s = rng.uniform(1e-6, 1e-3, size=(5, 2, 3))
    dose = absorbed_dose(tia, s)
    assert dose.shape == (5, 2)
    for p in range(5):
        np.testing.assert_allclose(dose[p], _loop_dose(tia[p], s[p]), rtol=1e-14)


def test_draws_broadcast_against_patients(rng):
    tia = rng.uniform(10, 1000, size=(100, 1, 3))  # 100 posterior draws, shared over patients
    s = rng.uniform(1e-6, 1e-3, size=(4, 2, 3))  # 4 patients' S matrices
    dose = absorbed_dose(tia, s)
    assert dose.shape == (100, 4, 2)
    np.testing.assert_allclose(dose[17, 3], _loop_dose(tia[17, 0], s[3]), rtol=1e-14)


def test_single_target_row():
    s = np.array([[2e-3, 1e-4]])
    np.testing.assert_allclose(absorbed_dose([1000.0, 500.0], s), [2.05])


@pytest.mark.parametrize(
    ("tia", "s", "match"),
    [
        ([1.0, 2.0], [1e-3, 1e-3], "ambiguous"),
        ([1.0, 2.0], [[1e-3, 1e-3, 1e-3]], "last axis"),
        (5.0, [[1e-3]], "last axis"),
        ([-1.0], [[1e-3]], "tia must be >= 0"),
        ([1.0], [[-1e-3]], "s_value must be >= 0"),
        ([float("nan")], [[1e-3]], "tia contains NaN"),
        (np.ones((3, 2)), np.ones((4, 1, 2)), "broadcast"),
    ],
)
def test_absorbed_dose_errors(tia, s, match):
    with pytest.raises(DoseResponseError, match=match):
        absorbed_dose(tia, s)


# --- local deposition ----------------------------------------------------------------------


def test_led_constant_per_mev_per_kg():
    # radiobiology notes §1.2: S = 5.7678e-4 · E_np[MeV] / m[kg] Gy/(MBq·h); Lu-177 8.531e-5.
    assert 1.602176634e-13 * 3.6e9 == pytest.approx(5.7678e-4, rel=1e-4)
    assert local_deposition_s_value("Lu-177", 1.0) == pytest.approx(8.531e-5, rel=1e-4)
    assert local_deposition_s_value("Y-90", 1.0) == pytest.approx(5.38e-4, rel=1e-3)
    assert local_deposition_s_value("I-131", 1.0) == pytest.approx(1.107e-4, rel=1e-3)


def test_led_s_value_scales_inversely_with_mass():
    masses = np.array([0.01, 0.1, 1.0, 2.5])
    s = local_deposition_s_value("lu177", masses)
    np.testing.assert_allclose(s * masses, local_deposition_s_value("Lu-177", 1.0), rtol=1e-15)


def test_led_dose_against_si_quadrature():
    # Independent route: integrate the dose rate in SI units (Bq, s, J) numerically.
    a0_bq, t_eff_h, mass = 400e6, 50.0, 0.3
    e_j = get_nuclide("Lu-177").mean_np_energy_mev * 1.602176634e-13
    decays_per_bq_h, _ = integrate.quad(lambda t: math.exp(-LN2 / t_eff_h * t), 0, np.inf)
    expected = a0_bq * decays_per_bq_h * 3600.0 * e_j / mass  # Bq · h · (s/h) · J / kg
    tia_mbq_h = 400.0 * 50.0 / LN2
    assert local_deposition_dose(tia_mbq_h, "Lu-177", mass) == pytest.approx(expected, rel=1e-9)


def test_led_dose_broadcasts_voxels(rng):
    tia = rng.uniform(0, 50, size=(3, 4))
    masses = np.full((3, 4), 1e-3)
    dose = local_deposition_dose(tia, "Y-90", masses)
    np.testing.assert_allclose(dose, tia * local_deposition_s_value("Y-90", 1e-3))


def test_led_errors():
    with pytest.raises(DoseResponseError, match="mass_kg must be > 0"):
        local_deposition_s_value("Lu-177", 0.0)
    with pytest.raises(UnknownNameError, match="Lu-177"):
        local_deposition_dose(1.0, "Zz-9", 1.0)
    with pytest.raises(DoseResponseError, match="tia must be >= 0"):
        local_deposition_dose(-1.0, "Lu-177", 1.0)


def test_dose_constant_is_full_decay_led():
    # Energy of all decays of 1 GBq: 1e9 Bq · T/ln2 [s] · E [J] (J per GBq = Gy·kg per GBq).
    for name in ("Y-90", "Lu-177", "Ho-166"):
        nuc = get_nuclide(name)
        expected = 1e9 * nuc.half_life_h * 3600 / LN2 * nuc.mean_np_energy_mev * 1.602176634e-13
        assert dose_constant_gy_kg_per_gbq(name) == pytest.approx(expected, rel=1e-12)


def test_hanscheid_factor_density_and_formula():
    k1 = hanscheid_factor("Lu-177")
    assert hanscheid_factor("Lu-177", density_g_per_ml=1.05) == pytest.approx(k1 / 1.05)
    # D = k·C·2^{t/T}·T equals LED dose of the mono-exponential TIA per mL (1 g/mL):
    c, t, t_eff = 0.2, 72.0, 60.0  # MBq/mL, h, h
    tia_per_ml = c * 2 ** (t / t_eff) * t_eff / LN2
    led = local_deposition_dose(tia_per_ml, "Lu-177", 1e-3)
    assert k1 * c * 2 ** (t / t_eff) * t_eff == pytest.approx(led, rel=1e-12)
    with pytest.raises(DoseResponseError, match="density_g_per_ml"):
        hanscheid_factor("Lu-177", density_g_per_ml=0.0)


# --- single-time-point TIA -----------------------------------------------------------------


def test_single_time_point_madsen_is_exact_for_mono_exponential():
    a0, t_eff = 100.0, 55.0
    times = np.array([24.0, 48.0, 96.0, 168.0])
    activity = a0 * np.exp(-LN2 / t_eff * times)
    tia = single_time_point_tia(activity, times, effective_half_life_h=t_eff)
    np.testing.assert_allclose(tia, a0 * t_eff / LN2, rtol=1e-12)


def test_hanscheid_approximation_accuracy():
    # For a mono-exponential, ratio to the true TIA = 2x·2^{-x}, x = t/T_eff (derived):
    # exact at x = 1 and 2, max +6.15 % at x = 1/ln2, -29.3 % at x = 0.5.
    a0, t_eff = 100.0, 60.0
    x = np.array([0.5, 1.0, 1 / LN2, 2.0])
    activity = a0 * 2.0 ** (-x)
    ratio = single_time_point_tia(activity, x * t_eff) / (a0 * t_eff / LN2)
    np.testing.assert_allclose(ratio, 2 * x * 2.0 ** (-x), rtol=1e-12)
    np.testing.assert_allclose(ratio, [2**-0.5, 1.0, 1.0614757, 1.0], rtol=1e-6)
    inside = np.linspace(0.77, 2.43, 50)
    assert np.all(np.abs(single_time_point_tia(a0 * 2.0**-inside, inside * t_eff)
                         / (a0 * t_eff / LN2) - 1) < 0.1)


def test_both_single_time_point_forms_agree_at_t_equal_t_eff():
    assert single_time_point_tia(10.0, 96.0) == pytest.approx(
        single_time_point_tia(10.0, 96.0, effective_half_life_h=96.0), rel=1e-14
    )


def test_single_time_point_errors():
    with pytest.raises(DoseResponseError, match="time_h must be > 0"):
        single_time_point_tia(10.0, 0.0)
    with pytest.raises(DoseResponseError, match="activity_mbq must be >= 0"):
        single_time_point_tia(-1.0, 24.0)
    with pytest.raises(DoseResponseError, match="effective_half_life_h must be > 0"):
        single_time_point_tia(1.0, 24.0, effective_half_life_h=-3.0)


# --- S rescaling ---------------------------------------------------------------------------


def test_rescale_s_value_preserves_energy_absorbed():
    # Non-penetrating self-dose: S·M is constant, so LED S of phantom rescales to LED S of patient.
    s_phantom = local_deposition_s_value("Lu-177", 0.31)
    s_patient = rescale_s_value(s_phantom, 0.31, 0.155)
    assert s_patient == pytest.approx(local_deposition_s_value("Lu-177", 0.155), rel=1e-14)
    np.testing.assert_allclose(rescale_s_value(1e-4, 0.3, [0.15, 0.6]), [2e-4, 5e-5])
    with pytest.raises(DoseResponseError, match="patient_mass_kg must be > 0"):
        rescale_s_value(1e-4, 0.3, 0.0)
    with pytest.raises(DoseResponseError, match="s_value must be >= 0"):
        rescale_s_value(-1e-4, 0.3, 0.2)
