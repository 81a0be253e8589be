"""Numpy dose-response curves: one battery over every registered family, plus DVH-level models.

A new family is tested by registering it in ``CURVE_FAMILIES``. References: the defining property
of the parametrisation (P(D50) = 1/2 and D50·dP/dD at D50 = γ50, checked by central finite
differences, independent of the implementation's algebra), closed forms written out here, Emami /
Burman TD5 identities (dose_response_anchors §3E) and scipy quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.curves import (
    CURVE_FAMILIES,
    CurveFamily,
    cloglog,
    get_curve_family,
    list_curve_families,
    lkb,
    log_logistic,
    logistic,
    poisson,
    poisson_tcp,
    population_tcp,
    probit,
    probit_dose_at,
    relative_seriality,
)
from doseresponse.radiobiology.eud import DVH

FAMILIES = sorted(CURVE_FAMILIES)

# slopes that give a clearly sigmoid curve for each kind of slope parameter
SLOPES = {"gamma50": [0.5, 1.0, 2.0, 4.0], "m": [0.1, 0.2, 0.4]}


def _family_slopes():
    return [
        pytest.param(name, slope, id=f"{name}-{slope}")
        for name in FAMILIES
        for slope in SLOPES[CURVE_FAMILIES[name].slope_name]
    ]


# ---------------------------------------------------------------------------------------------
# the battery
# ---------------------------------------------------------------------------------------------


def test_registry_contents():
    assert set(CURVE_FAMILIES) == {"logistic", "log-logistic", "probit", "cloglog", "poisson"}
    for name, family in CURVE_FAMILIES.items():
        assert isinstance(family, CurveFamily)
        assert family.name == name
        assert family.slope_name in {"gamma50", "m"}
        assert family.description and family.reference


@pytest.mark.parametrize(("name", "alias"), [("probit", "lkb"), ("cloglog", "weibull")])
def test_aliases_resolve(name, alias):
    assert get_curve_family(alias) is CURVE_FAMILIES[name]
    assert get_curve_family(alias.upper()) is CURVE_FAMILIES[name]


@pytest.mark.parametrize(("name", "slope"), _family_slopes())
@pytest.mark.parametrize("d50", [0.7, 28.0, 45.0, 300.0])
def test_half_response_at_d50(name, slope, d50):
    family = CURVE_FAMILIES[name]
    assert float(family.probability(d50, d50, slope)) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize(("name", "slope"), _family_slopes())
def test_normalised_slope_at_d50_by_finite_differences(name, slope):
    family = CURVE_FAMILIES[name]
    d50 = 40.0
    h = 1e-5  # relative step; central difference error O(h^2) ~ 1e-10
    numeric = d50 * (
        float(family.probability(d50 * (1 + h), d50, slope))
        - float(family.probability(d50 * (1 - h), d50, slope))
    ) / (2 * h * d50)
    assert float(family.normalised_slope(d50, slope)) == pytest.approx(numeric, rel=1e-7)
    if family.slope_name == "gamma50":
        assert float(family.normalised_slope(d50, slope)) == slope


@pytest.mark.parametrize(("name", "slope"), _family_slopes())
def test_dose_at_round_trip(name, slope):
    family = CURVE_FAMILIES[name]
    d50 = 40.0
    doses = np.linspace(0.5, 3.0, 26) * d50
    p = family.probability(doses, d50, slope)
    # away from saturation: near p = 1 the inverse amplifies round-off in 1 - p (~1e-16 / (1 - p))
    inside = (p > 1e-6) & (p < 1 - 1e-6)
    assert inside.sum() >= 5
    back = family.dose_at(p[inside], d50, slope)
    np.testing.assert_allclose(back, doses[inside], rtol=1e-8)


@pytest.mark.parametrize(("name", "slope"), _family_slopes())
def test_limits(name, slope):
    family = CURVE_FAMILIES[name]
    d50 = 40.0
    assert float(family.probability(1e8 * d50, d50, slope)) == pytest.approx(1.0, abs=1e-12)
    p0 = float(family.probability(0.0, d50, slope))
    assert 0.0 <= p0 < 0.5
    if name in {"log-logistic", "cloglog"}:  # zero at zero dose by construction
        assert p0 == 0.0
    assert np.all(np.isfinite(family.probability(np.array([0.0, 1e-300, 1e300]), d50, slope)))


@pytest.mark.parametrize("name", FAMILIES)
@settings(max_examples=40, deadline=None)
@given(
    doses=st.lists(st.floats(0.0, 500.0), min_size=2, max_size=30),
    d50=st.floats(1.0, 200.0),
    slope_u=st.floats(0.0, 1.0),
)
def test_monotone_in_dose(name, doses, d50, slope_u):
    family = CURVE_FAMILIES[name]
    grid = SLOPES[family.slope_name]
    slope = grid[0] + slope_u * (grid[-1] - grid[0])
    ordered = np.sort(np.asarray(doses))
    p = family.probability(ordered, d50, slope)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p) >= 0.0)


@pytest.mark.parametrize("name", FAMILIES)
def test_broadcasting(name):
    family = CURVE_FAMILIES[name]
    slope = SLOPES[family.slope_name][1]
    doses = np.array([10.0, 40.0, 80.0])[:, None]
    d50s = np.array([30.0, 40.0, 50.0, 60.0])
    p = family.probability(doses, d50s, slope)
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p[1, 1], 0.5)
    np.testing.assert_allclose(p[:, 2], family.probability(doses[:, 0], 50.0, slope))
    assert family.dose_at(np.array([0.3, 0.5, 0.7])[:, None], d50s, slope).shape == (3, 4)


# ---- error paths, for every family ----------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("bad_d50", [0.0, -1.0, np.nan])
def test_bad_d50_rejected(name, bad_d50):
    family = CURVE_FAMILIES[name]
    with pytest.raises(DoseResponseError, match="d50"):
        family.probability(10.0, bad_d50, SLOPES[family.slope_name][0])
    with pytest.raises(DoseResponseError, match="d50"):
        family.dose_at(0.5, bad_d50, SLOPES[family.slope_name][0])
    with pytest.raises(DoseResponseError, match="d50"):
        family.normalised_slope(bad_d50, SLOPES[family.slope_name][0])


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_slope_rejected(name):
    family = CURVE_FAMILIES[name]
    with pytest.raises(DoseResponseError, match=family.slope_name):
        family.probability(10.0, 40.0, 0.0)
    with pytest.raises(DoseResponseError, match=family.slope_name):
        family.normalised_slope(40.0, -1.0)


@pytest.mark.parametrize("name", FAMILIES)
def test_negative_or_nan_dose_rejected(name):
    family = CURVE_FAMILIES[name]
    slope = SLOPES[family.slope_name][0]
    with pytest.raises(DoseResponseError, match="dose"):
        family.probability([10.0, -1.0], 40.0, slope)
    with pytest.raises(DoseResponseError, match="dose"):
        family.probability([np.nan], 40.0, slope)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_p_outside_open_unit_interval_rejected(name, p):
    family = CURVE_FAMILIES[name]
    with pytest.raises(DoseResponseError, match="p must lie in"):
        family.dose_at(p, 40.0, SLOPES[family.slope_name][0])


@pytest.mark.parametrize("name", ["logistic", "probit", "poisson"])
def test_dose_at_below_zero_dose_response_rejected(name):
    # these families have P(0) > 0; a p below it needs a negative dose
    family = CURVE_FAMILIES[name]
    slope = SLOPES[family.slope_name][-1] if name == "probit" else 0.5
    p0 = float(family.probability(0.0, 40.0, slope))
    assert p0 > 0.0
    with pytest.raises(DoseResponseError, match="zero dose"):
        family.dose_at(p0 / 2, 40.0, slope)


def test_shapes_that_do_not_broadcast_rejected():
    with pytest.raises(DoseResponseError, match="broadcast"):
        logistic([1.0, 2.0, 3.0], [40.0, 50.0], 1.0)


def test_unknown_family_lists_valid_names():
    with pytest.raises(UnknownNameError, match="log-logistic") as info:
        get_curve_family("gompertz")
    assert isinstance(info.value, KeyError)
    assert "poisson" in str(info.value)


def test_list_curve_families_frame():
    frame = list_curve_families()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == list(CURVE_FAMILIES)
    assert {"slope_name", "aliases", "description", "reference"} <= set(frame.columns)
    assert frame.set_index("name").loc["probit", "slope_name"] == "m"


# ---------------------------------------------------------------------------------------------
# closed forms per family (independent of the registry plumbing)
# ---------------------------------------------------------------------------------------------


def test_closed_forms_at_one_point():
    d, d50, g = 50.0, 40.0, 1.5
    # logistic in dose: 1/(1+exp(4 g (1 - D/D50)))
    assert float(logistic(d, d50, g)) == pytest.approx(1 / (1 + math.exp(4 * g * (1 - d / d50))))
    # log-logistic: 1/(1+(D50/D)^(4g))
    assert float(log_logistic(d, d50, g)) == pytest.approx(1 / (1 + (d50 / d) ** (4 * g)))
    # probit: Phi((D-D50)/(m D50))
    assert float(probit(d, d50, 0.2)) == pytest.approx(stats.norm.cdf((d - d50) / (0.2 * d50)))
    # Weibull: 1 - exp(-ln2 (D/D50)^k), k = 2 g / ln 2
    k = 2 * g / math.log(2)
    assert float(cloglog(d, d50, g)) == pytest.approx(1 - math.exp(-math.log(2) * (d / d50) ** k))
    # Poisson: N0 exp(-alpha D) with alpha = 2 g/(D50 ln2) and N0 = ln2 exp(alpha D50)
    alpha = 2 * g / (d50 * math.log(2))
    n0 = math.log(2) * math.exp(alpha * d50)
    assert float(poisson(d, d50, g)) == pytest.approx(math.exp(-n0 * math.exp(-alpha * d)))


# Burman et al. 1991 LKB parameters and Emami whole-organ TD5/5 (dose_response_anchors.md §3E):
# TD5 = TD50 (1 + m Phi^-1(0.05)) gives lung 17.25, liver 30.13, kidney 23.39, rectum 60.26,
# heart 40.10, cord 47.36 Gy (recomputed identity), vs Emami 17.5, 30, 23, 60, 40, 47 Gy.
BURMAN = {
    "lung": (24.5, 0.18, 17.25, 17.5),
    "liver": (40.0, 0.15, 30.13, 30.0),
    "kidney": (28.0, 0.10, 23.39, 23.0),
    "rectum": (80.0, 0.15, 60.26, 60.0),
    "heart": (48.0, 0.10, 40.10, 40.0),
    "cord": (66.5, 0.175, 47.36, 47.0),
}


@pytest.mark.parametrize("organ", sorted(BURMAN))
def test_probit_td5_reproduces_burman_emami(organ):
    td50, m, td5_identity, td5_emami = BURMAN[organ]
    td5 = float(get_curve_family("lkb").dose_at(0.05, td50, m))
    assert td5 == pytest.approx(td5_identity, abs=0.005)
    assert abs(td5 - td5_emami) <= 0.8
    assert float(probit_dose_at(0.5, td50, m)) == pytest.approx(td50)


# ---------------------------------------------------------------------------------------------
# DVH-level models
# ---------------------------------------------------------------------------------------------


def test_lkb_reduces_to_probit_for_uniform_dose_and_to_max_for_small_n():
    assert float(lkb(30.0, 28.0, 0.18, n=0.5)) == pytest.approx(float(probit(30.0, 28.0, 0.18)))
    doses, v = [10.0, 20.0, 50.0], [0.5, 0.4, 0.1]
    # small n: D_eff = (sum v D^(1/n))^n approaches the maximum dose (serial organ); closed form
    # written out with Python floats (50**100 ~ 8e169 is representable)
    d_eff = sum(vi * di**100 for vi, di in zip(v, doses, strict=True)) ** 0.01
    assert 48.0 < d_eff < 50.0
    assert float(lkb(doses, 45.0, 0.1, n=0.01, volumes=v)) == pytest.approx(
        float(stats.norm.cdf((d_eff - 45.0) / (0.1 * 45.0))), rel=1e-12
    )
    # n = 1: D_eff = mean dose (parallel organ)
    assert float(lkb(doses, 20.0, 0.2, n=1.0, volumes=v)) == pytest.approx(
        float(probit(18.0, 20.0, 0.2)), rel=1e-12
    )


def test_lkb_broadcasts_over_parameter_draws():
    td50 = np.array([20.0, 28.0, 40.0])
    values = lkb([10.0, 20.0, 30.0], td50, 0.18, volumes=[0.3, 0.4, 0.3])
    np.testing.assert_allclose(values, probit(20.0, td50, 0.18))


def test_lkb_rejects_bad_n():
    with pytest.raises(DoseResponseError, match="n must be > 0"):
        lkb([10.0], 28.0, 0.18, n=0.0)


def test_poisson_tcp_large_n0_and_dvh_object():
    # N0 = 1e300 does not overflow: exp(-N0 e^{-alpha D}) with alpha D = ln(1e300) + 5
    alpha = 0.3
    dose = (math.log(1e300) + 5.0) / alpha
    assert poisson_tcp(dose, n0=1e300, alpha=alpha) == pytest.approx(math.exp(-math.exp(-5.0)))
    dvh = DVH.from_differential([55.0, 65.0, 75.0], [0.2, 0.5, 0.3], metric="BED")
    assert poisson_tcp(dvh, n0=1e7, alpha=0.25) == pytest.approx(
        poisson_tcp([55.0, 65.0, 75.0], [2.0, 5.0, 3.0], n0=1e7, alpha=0.25), rel=1e-13
    )


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n0": 0.0, "alpha": 0.3}, "n0"),
    ({"n0": 1e7, "alpha": 0.0}, "alpha"),
    ({"n0": 1e7, "alpha": -0.1}, "alpha"),
])
def test_poisson_tcp_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        poisson_tcp(60.0, **kwargs)


@pytest.mark.parametrize(("bed", "alpha_mean", "alpha_sd"), [
    (70.0, 0.25, 0.05), (55.0, 0.3, 0.06), (200.0, 0.25, 0.05), (30.0, 0.5, 0.02),
    (120.0, 0.2, 0.04),
])
def test_population_tcp_matches_adaptive_quadrature(bed, alpha_mean, alpha_sd):
    # independent route: scipy.integrate.quad of TCP(alpha) * normal pdf
    def integrand(a):
        tcp = math.exp(-math.exp(math.log(1e7) - a * bed))
        return tcp * stats.norm.pdf(a, alpha_mean, alpha_sd)

    lo, hi = alpha_mean - 10 * alpha_sd, alpha_mean + 10 * alpha_sd
    ref, _ = integrate.quad(integrand, lo, hi, points=[math.log(1e7) / bed], epsabs=1e-14,
                            epsrel=1e-12, limit=400)
    value = float(population_tcp(bed, n0=1e7, alpha_mean=alpha_mean, alpha_sd=alpha_sd))
    assert value == pytest.approx(ref, rel=1e-9, abs=1e-13)


def test_population_tcp_limits_and_shape():
    beds = np.array([[0.0, 50.0], [70.0, 300.0]])
    out = population_tcp(beds, n0=1e7, alpha_mean=0.25, alpha_sd=0.0)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, np.exp(-1e7 * np.exp(-0.25 * beds)), rtol=1e-12)
    spread = population_tcp(beds, n0=1e7, alpha_mean=0.25, alpha_sd=0.04)
    # heterogeneity flattens the curve: lower TCP above D50... and higher below it
    assert spread[1, 0] < out[1, 0] and spread[0, 1] > out[0, 1]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha_mean": 0.25, "alpha_sd": 0.06}, "P\\(alpha < 0\\)"),
    ({"alpha_mean": 0.25, "alpha_sd": -0.01}, "alpha_sd"),
    ({"alpha_mean": 0.0, "alpha_sd": 0.01}, "alpha_mean"),
    ({"alpha_mean": 0.25, "alpha_sd": 0.05, "n_nodes": 10}, "n_nodes"),
    ({"alpha_mean": 0.25, "alpha_sd": 0.05, "n_nodes": 50.5}, "n_nodes"),
])
def test_population_tcp_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        population_tcp(70.0, n0=1e7, **kwargs)


def test_population_tcp_rejects_negative_bed():
    with pytest.raises(DoseResponseError, match="bed"):
        population_tcp([-1.0], n0=1e7, alpha_mean=0.25, alpha_sd=0.05)


def test_relative_seriality_limits():
    d50, gamma = 28.0, 1.0

    def voxel(d):  # Källman 1992: P(D) = 2^-exp(e gamma (1 - D/D50))
        return 2.0 ** (-math.exp(math.e * gamma * (1 - d / d50)))

    # uniform dose -> P(D) for any s
    for s in (0.05, 0.5, 1.0, 3.0):
        assert relative_seriality(33.0, d50=d50, gamma=gamma, s=s) == pytest.approx(voxel(33.0))
    # s = 1, fully serial: NTCP = 1 - prod (1 - P_i)^v_i
    doses, v = np.array([10.0, 30.0, 45.0]), np.array([0.2, 0.5, 0.3])
    serial = 1 - np.prod((1 - np.array([voxel(d) for d in doses])) ** v)
    assert relative_seriality(doses, v, d50=d50, gamma=gamma, s=1.0) == pytest.approx(serial)
    # voxel-map and DVH give the same value; P(D50) = 1/2
    dvh = DVH.from_differential(doses, v)
    assert relative_seriality(dvh, d50=d50, gamma=gamma, s=0.3) == pytest.approx(
        relative_seriality(doses, v, d50=d50, gamma=gamma, s=0.3), rel=1e-13
    )
    assert relative_seriality(d50, d50=d50, gamma=gamma, s=0.3) == pytest.approx(0.5)
    # a huge dose saturates at exactly 1 without warnings
    assert relative_seriality([1e4, 1.0], [0.5, 0.5], d50=d50, gamma=gamma, s=0.2) == 1.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"d50": 0.0, "gamma": 1.0, "s": 1.0}, "d50"),
    ({"d50": 28.0, "gamma": 0.0, "s": 1.0}, "gamma"),
    ({"d50": 28.0, "gamma": 1.0, "s": 0.0}, "s must be > 0"),
])
def test_relative_seriality_errors(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        relative_seriality([20.0, 30.0], [0.5, 0.5], **kwargs)


@pytest.mark.parametrize("func", [
    lambda d, v: lkb(d, 28.0, 0.18, volumes=v),
    lambda d, v: poisson_tcp(d, v, n0=1e7, alpha=0.25),
    lambda d, v: relative_seriality(d, v, d50=28.0, gamma=1.0, s=0.5),
])
def test_dvh_models_validate_distribution(func):
    with pytest.raises(DoseResponseError, match="same shape"):
        func([10.0, 20.0], [1.0, 1.0, 1.0])
    with pytest.raises(DoseResponseError, match=">= 0"):
        func([10.0, -20.0], [1.0, 1.0])
    with pytest.raises(DoseResponseError, match="all zero"):
        func([10.0, 20.0], [0.0, 0.0])


@pytest.mark.parametrize("name", sorted(CURVE_FAMILIES))
def test_generic_dose_at_inverts_every_family(name):
    from doseresponse.models.curves import dose_at

    family = CURVE_FAMILIES[name]
    slope = 0.2 if family.slope_name == "m" else 2.0
    p = np.array([0.6, 0.9, 0.99])
    doses = dose_at(p, name, 40.0, slope)
    np.testing.assert_allclose(family.probability(doses, 40.0, slope), p, rtol=1e-10)
