"""DVH construction and the EUD family: closed forms, limits, numerics and error paths.

References: Niemierko 1999 (Med Phys 26:1100) for gEUD and its limits (a = 1 mean, a → ±∞
max/min); Niemierko 1997 (Med Phys 24:103) for the clonogen EUD and its normal-dose closed form
μ − ασ²/2; Prideaux et al. 2007 (J Nucl Med 48:1008) for EUBED and the Gamma closed form
k ln(1+αθ)/α; O'Donoghue 1999 (J Nucl Med 40:1337) for the LQ EUD, checked here against a
root of the defining equation found with scipy.optimize.brentq.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.eud import DVH, clonogenic_eud, eubed, geud, odonoghue_eud

BINS = np.array([10.0, 20.0, 30.0, 40.0, 60.0])
FRACTIONS = np.array([0.1, 0.2, 0.4, 0.2, 0.1])


# ---------------------------------------------------------------------------------------------
# DVH
# ---------------------------------------------------------------------------------------------


def test_from_differential_normalises_and_records_total():
    dvh = DVH.from_differential(BINS, 10.0 * FRACTIONS, metric="BED", unit="Gy")
    np.testing.assert_allclose(dvh.volumes, FRACTIONS, rtol=1e-15)
    assert dvh.total == pytest.approx(10.0)
    assert (dvh.metric, dvh.unit, dvh.convention) == ("BED", "Gy", "differential")
    assert dvh.mean == pytest.approx(31.0)  # 0.1*10 + 0.2*20 + 0.4*30 + 0.2*40 + 0.1*60
    assert (dvh.min, dvh.max) == (10.0, 60.0)
    assert "5 entries" in repr(dvh)


def test_dvh_is_immutable():
    dvh = DVH.from_differential(BINS, FRACTIONS)
    with pytest.raises(ValueError):
        dvh.doses[0] = 5.0
    with pytest.raises(AttributeError):
        dvh.metric = "BED"


def test_zero_volume_entries_are_dropped():
    dvh = DVH.from_differential([0.0, 10.0, 20.0], [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(dvh.doses, [10.0, 20.0])
    # so a zero dose with zero volume does not force gEUD(a < 0) to 0
    assert geud(dvh, a=-5.0) > 0.0


def test_from_voxels_with_mask_and_mass_weights():
    rng = np.random.default_rng(3)
    doses = rng.uniform(0.0, 50.0, (6, 7, 8))
    mask = doses > 20.0
    mass = rng.uniform(0.5, 1.5, doses.shape)  # e.g. CT-density voxel masses (g)
    dvh = DVH.from_voxels(doses, mask=mask, weights=mass, metric="dose")
    assert dvh.convention == "voxels"
    assert dvh.doses.size == mask.sum()
    assert dvh.total == pytest.approx(mass[mask].sum())
    assert dvh.mean == pytest.approx(np.average(doses[mask], weights=mass[mask]), rel=1e-13)
    # default: equal weights, total = voxel count
    plain = DVH.from_voxels(doses)
    assert plain.total == doses.size
    assert plain.mean == pytest.approx(doses.mean(), rel=1e-13)


def test_from_cumulative_centre_and_lower():
    edges = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    cum = [100.0, 90.0, 60.0, 30.0, 10.0, 0.0]  # percent: any unit is normalised
    centre = DVH.from_cumulative(edges, cum)
    np.testing.assert_allclose(centre.doses, [5.0, 15.0, 25.0, 35.0, 45.0])
    np.testing.assert_allclose(centre.volumes, [0.1, 0.3, 0.3, 0.2, 0.1])
    assert centre.total == 100.0 and centre.convention == "centre"
    lower = DVH.from_cumulative(edges, cum, convention="lower")
    np.testing.assert_allclose(lower.doses, [0.0, 10.0, 20.0, 30.0, 40.0])
    assert lower.convention == "lower"
    assert centre.mean - lower.mean == pytest.approx(5.0)


def test_d_x_and_v_x_on_voxels():
    # 100 voxels with doses 1..100 Gy: D98 = 3 Gy (98 voxels receive >= 3 Gy), V50 = 51 %
    dvh = DVH.from_voxels(np.arange(1.0, 101.0))
    assert dvh.d_x(98) == 3.0
    assert dvh.d_x(100) == 1.0
    assert dvh.d_x(0) == 100.0
    np.testing.assert_array_equal(dvh.d_x([2, 50]), [99.0, 51.0])
    assert dvh.v_x(50.0) == pytest.approx(51.0)
    assert dvh.v_x(0.0) == pytest.approx(100.0)
    assert dvh.v_x(100.5) == 0.0
    np.testing.assert_allclose(dvh.v_x([1.0, 100.0]), [100.0, 1.0])


def test_d_x_with_ties_and_weights():
    dvh = DVH.from_differential([10.0, 10.0, 20.0], [0.25, 0.25, 0.5])
    assert dvh.d_x(50) == 20.0
    assert dvh.d_x(60) == 10.0
    assert dvh.v_x(10.0) == pytest.approx(100.0)
    assert dvh.v_x(15.0) == pytest.approx(50.0)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: DVH.from_differential([1.0, 2.0], [1.0]), "same shape"),
    (lambda: DVH.from_differential([1.0, -2.0], [1.0, 1.0]), "doses must be >= 0"),
    (lambda: DVH.from_differential([1.0, 2.0], [1.0, -1.0]), "volumes must be >= 0"),
    (lambda: DVH.from_differential([1.0, 2.0], [0.0, 0.0]), "all zero"),
    (lambda: DVH.from_differential([1.0, np.nan], [1.0, 1.0]), "NaN"),
    (lambda: DVH.from_differential([[1.0]], [[1.0]]), "1-dimensional"),
    (lambda: DVH.from_differential([1.0], [1.0], metric=""), "metric"),
    (lambda: DVH.from_voxels(np.ones(3), mask=np.ones(3)), "boolean"),
    (lambda: DVH.from_voxels(np.ones(3), mask=np.ones(4, bool)), "same shape"),
    (lambda: DVH.from_voxels(np.ones(3), mask=np.zeros(3, bool)), "selects no voxel"),
    (lambda: DVH.from_voxels(np.ones(3), weights=np.ones(2)), "same shape"),
    (lambda: DVH.from_voxels([]), "empty"),
    (lambda: DVH.from_cumulative([0.0, 10.0], [1.0, 0.5]), "0 at the last edge"),
    (lambda: DVH.from_cumulative([0.0, 10.0, 5.0], [1.0, 0.5, 0.0]), "strictly increasing"),
    (lambda: DVH.from_cumulative([0.0, 10.0, 20.0], [1.0, 1.2, 0.0]), "non-increasing"),
    (lambda: DVH.from_cumulative([0.0], [0.0]), "at least two"),
    (lambda: DVH.from_cumulative([0.0, 10.0], [1.0, 0.0], "upper"), "convention"),
    (lambda: DVH.from_differential([1.0], [1.0]).d_x(101), "percent"),
    (lambda: DVH.from_differential([1.0], [1.0]).v_x(-1.0), "dose must be >= 0"),
])
def test_dvh_errors(call, match):
    with pytest.raises(DoseResponseError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# gEUD
# ---------------------------------------------------------------------------------------------


def test_geud_a_one_is_mean_and_limits_are_min_max():
    assert geud(BINS, FRACTIONS, a=1.0) == pytest.approx(31.0, rel=1e-15)
    assert geud(BINS, FRACTIONS, a=200.0) == pytest.approx(60.0, rel=0.02)
    assert geud(BINS, FRACTIONS, a=-200.0) == pytest.approx(10.0, rel=0.02)
    # extreme |a|: no overflow, exact limits within the weight factor v_max^(1/a)
    assert geud(BINS, FRACTIONS, a=1e4) == pytest.approx(60.0 * 0.1 ** 1e-4, rel=1e-12)
    assert geud(BINS, FRACTIONS, a=-1e4) == pytest.approx(10.0 * 0.1 ** -1e-4, rel=1e-12)


def test_geud_a_zero_is_geometric_mean():
    expected = math.exp(float(np.dot(FRACTIONS, np.log(BINS))))
    assert geud(BINS, FRACTIONS, a=0.0) == pytest.approx(expected, rel=1e-14)
    # and it is the limit of small |a|
    assert geud(BINS, FRACTIONS, a=1e-7) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("a", [-10.0, -1.0, -0.5, 0.0])
def test_geud_zero_dose_with_nonpositive_a_is_zero_without_warnings(a):
    import warnings

    doses = np.array([0.0, 20.0, 30.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert geud(doses, a=a) == 0.0
        assert geud(np.zeros((3, 3)), a=a) == 0.0


@pytest.mark.parametrize("a", [0.5, 1.0, 2.0, 7.3])
def test_geud_zero_dose_with_positive_a(a):
    assert geud([0.0, 0.0], a=a) == 0.0
    expected = (0.5 * 20.0**a) ** (1 / a)
    assert geud([0.0, 20.0], a=a) == pytest.approx(expected, rel=1e-14)


def test_geud_huge_and_tiny_doses_do_not_overflow():
    # closed forms: (mean d^a)^(1/a) written in logs by hand
    assert geud([1e200, 1e100], a=10.0) == pytest.approx(1e200 * 0.5**0.1, rel=1e-13)
    assert geud([1e-200, 1e-100], a=-10.0) == pytest.approx(1e-200 * 0.5**-0.1, rel=1e-13)
    assert geud([1e-3, 2e-3], a=300.0) == pytest.approx(2e-3 * 0.5 ** (1 / 300), rel=1e-13)
    assert geud([1e3, 2e3], a=-300.0) == pytest.approx(1e3 * 0.5 ** (-1 / 300), rel=1e-13)


def test_geud_voxel_map_equals_weighted_and_expanded_dvh():
    # 1000 expanded voxels with the bin fractions (the vector generator's route)
    voxels = np.repeat(BINS, (FRACTIONS * 1000).astype(int)).reshape(10, 10, 10)
    for a in (-10.0, -2.5, 0.5, 1.0, 4.0, 3.3):
        assert geud(voxels, a=a) == pytest.approx(geud(BINS, FRACTIONS, a=a), rel=1e-13)
        assert geud(voxels, a=a) == pytest.approx(stats.pmean(voxels.ravel(), a), rel=1e-12)


def test_geud_spans_several_chunks():
    # more voxels than one chunk (eud._CHUNK = 2**17), Fortran-ordered and non-contiguous inputs
    rng = np.random.default_rng(11)
    doses = rng.gamma(3.0, 10.0, (70, 60, 50))
    for a in (-7.0, 0.5, 1.0, 4.0, 2.2):
        naive = np.mean(doses**a) ** (1 / a)
        assert geud(doses, a=a) == pytest.approx(naive, rel=1e-12)
        assert geud(np.asfortranarray(doses), a=a) == pytest.approx(naive, rel=1e-12)
        assert geud(doses[:, ::2, :], a=a) == pytest.approx(
            np.mean(doses[:, ::2, :] ** a) ** (1 / a), rel=1e-12
        )
    weights = rng.uniform(0.0, 2.0, doses.shape)
    naive = (np.sum(weights * doses**-3.0) / weights.sum()) ** (-1 / 3)
    assert geud(doses, weights, a=-3.0) == pytest.approx(naive, rel=1e-12)


def test_geud_bad_value_reported_with_flat_index():
    # the bad voxel sits in the second chunk of the fast path (2**17 values per chunk)
    doses = np.full(200_000, 10.0)
    doses[150_001] = -1.0
    with pytest.raises(DoseResponseError, match="flat index 150001"):
        geud(doses, a=-10.0)
    doses[150_001] = np.nan
    with pytest.raises(DoseResponseError, match="NaN at flat index 150001"):
        geud(doses, a=2.0)
    doses[150_001] = np.inf
    with pytest.raises(DoseResponseError, match="infinite"):
        geud(doses, a=-1.0)


def test_geud_validates_after_a_zero_dose():
    # a zero with a < 0 decides the result, but later voxels are still validated
    doses = np.full(200_000, 10.0)
    doses[0] = 0.0
    doses[-1] = -5.0
    with pytest.raises(DoseResponseError, match=">= 0"):
        geud(doses, a=-2.0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"doses": [10.0, 20.0], "volumes": [1.0], "a": 1.0}, "same shape"),
    ({"doses": [10.0, 20.0], "volumes": [1.0, -1.0], "a": 1.0}, "volumes must be >= 0"),
    ({"doses": [10.0, 20.0], "volumes": [0.0, 0.0], "a": 1.0}, "all zero"),
    ({"doses": [10.0, 20.0], "volumes": [np.nan, 1.0], "a": 1.0}, "NaN"),
    ({"doses": [], "a": 1.0}, "empty"),
    ({"doses": ["x"], "a": 1.0}, "numeric"),
    ({"doses": [10.0], "a": np.nan}, "a contains NaN"),
    ({"doses": [10.0], "a": np.inf}, "infinite"),
])
def test_geud_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        geud(**kwargs)


def test_dvh_plus_volumes_rejected():
    dvh = DVH.from_differential(BINS, FRACTIONS)
    for func, kw in ((geud, {"a": 1.0}), (clonogenic_eud, {"alpha": 0.3})):
        with pytest.raises(DoseResponseError, match="volumes must be None"):
            func(dvh, FRACTIONS, **kw)


# ---------------------------------------------------------------------------------------------
# clonogen EUD, EUBED, O'Donoghue
# ---------------------------------------------------------------------------------------------


def test_clonogenic_eud_normal_sample_closed_form():
    # a large normal sample (all doses > 0) approaches mu - alpha sd^2 / 2 (Niemierko 1997);
    # the Monte Carlo error of the sample mean survival is ~1e-3 relative here
    doses = np.random.default_rng(5).normal(40.0, 5.0, 400_000)
    assert doses.min() > 0
    assert clonogenic_eud(doses, alpha=0.2) == pytest.approx(40.0 - 0.2 * 25.0 / 2, abs=0.02)


def test_clonogenic_eud_is_stable_for_large_alpha_dose():
    # exp(-alpha D) underflows for alpha D ~ 2000; the min-shifted form is exact:
    # EUD = D_min - ln(0.5 + 0.5 e^{-alpha (D2 - D1)})/alpha
    value = clonogenic_eud([5000.0, 5001.0], alpha=0.4)
    assert value == pytest.approx(5000.0 - math.log(0.5 + 0.5 * math.exp(-0.4)) / 0.4, rel=1e-15)


def test_eubed_gamma_closed_form_by_sampling():
    # Prideaux 2007 closed form k ln(1+alpha theta)/alpha for Gamma(k, theta) BED, sampled
    beds = np.random.default_rng(8).gamma(4.0, 12.0, 500_000)
    closed = 4.0 * math.log(1 + 0.1 * 12.0) / 0.1
    assert eubed(beds, alpha=0.1) == pytest.approx(closed, rel=2e-3)
    assert eubed(beds, alpha=0.1) < beds.mean()


def test_odonoghue_matches_root_of_defining_equation():
    doses, v = np.array([20.0, 35.0, 50.0, 70.0]), np.array([0.3, 0.3, 0.25, 0.15])
    alpha, beta, g = 0.3, 0.03, 0.2
    log_kill = -math.log(float(np.dot(v, np.exp(-alpha * doses - beta * g * doses**2))))
    root = optimize.brentq(lambda e: alpha * e + beta * g * e * e - log_kill, 0.0, 100.0,
                           xtol=1e-14, rtol=1e-15)
    assert odonoghue_eud(doses, v, alpha=alpha, beta=beta, g=g) == pytest.approx(root, rel=1e-12)


def test_odonoghue_reduces_to_clonogenic_eud_when_g_or_beta_is_zero():
    ref = clonogenic_eud(BINS, FRACTIONS, alpha=0.3)
    assert odonoghue_eud(BINS, FRACTIONS, alpha=0.3, beta=0.03, g=0.0) == ref
    assert odonoghue_eud(BINS, FRACTIONS, alpha=0.3, beta=0.0, g=0.5) == ref
    # continuous as g -> 0 (no cancellation in the rationalised root)
    near = odonoghue_eud(BINS, FRACTIONS, alpha=0.3, beta=0.03, g=1e-12)
    assert near == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("func", [clonogenic_eud, eubed])
@pytest.mark.parametrize("alpha", [0.0, -0.1, np.nan])
def test_alpha_must_be_positive(func, alpha):
    with pytest.raises(DoseResponseError, match="alpha"):
        func([10.0, 20.0], alpha=alpha)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": 0.0, "beta": 0.03, "g": 0.1}, "alpha"),
    ({"alpha": 0.3, "beta": -0.03, "g": 0.1}, "beta"),
    ({"alpha": 0.3, "beta": 0.03, "g": -0.1}, "g must be >= 0"),
    ({"alpha": 0.3, "beta": 0.03, "g": 1.5}, "g .* must lie in \\[0, 1\\]"),
])
def test_odonoghue_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        odonoghue_eud([10.0, 20.0], **kwargs)


@pytest.mark.parametrize("func", [
    lambda d, v: clonogenic_eud(d, v, alpha=0.3),
    lambda d, v: eubed(d, v, alpha=0.3),
    lambda d, v: odonoghue_eud(d, v, alpha=0.3, beta=0.03, g=0.1),
])
def test_distribution_errors(func):
    with pytest.raises(DoseResponseError, match="same shape"):
        func([10.0, 20.0], [1.0])
    with pytest.raises(DoseResponseError, match=">= 0"):
        func([10.0, -20.0], None)
    with pytest.raises(DoseResponseError, match="all zero"):
        func([10.0, 20.0], [0.0, 0.0])
    with pytest.raises(DoseResponseError, match="empty"):
        func([], None)
