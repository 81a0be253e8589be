"""Reference vectors EUD-046…057, TCP-058…061 and NTCP-062…070 through the public API.

Expected values come from ``tests/reference/radiobiology_vectors.csv`` (closed forms, each
cross-checked there by an independent numerical route: voxel expansion / power means, quadrature,
root finding; see tests/reference/README.md). Every case must match to 1e-6 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from doseresponse.models.curves import (
    get_curve_family,
    lkb,
    poisson,
    poisson_tcp,
    population_tcp,
    relative_seriality,
)
from doseresponse.radiobiology.eud import DVH, clonogenic_eud, eubed, geud, odonoghue_eud
from tests.radiobiology.vectors import assert_matches, load_vectors

COVERED = {
    *(f"EUD-{i:03d}" for i in range(46, 58)),
    *(f"TCP-{i:03d}" for i in range(58, 62)),
    *(f"NTCP-{i:03d}" for i in range(62, 71)),
}

VECTORS = load_vectors()


def _cases(prefix_category: set[str]) -> list[str]:
    return sorted(c for c, v in VECTORS.items() if v.category in prefix_category)


@pytest.mark.parametrize("case_id", _cases({"gEUD"}))
def test_geud_differential_dvh(case_id):
    vec = VECTORS[case_id]
    inp = vec.inputs
    # same number through the array API and through a DVH object
    assert_matches(geud(inp["D_bins_Gy"], inp["v_frac"], a=inp["a"]), vec)
    dvh = DVH.from_differential(inp["D_bins_Gy"], inp["v_frac"])
    assert_matches(geud(dvh, a=inp["a"]), vec)


def test_geud_from_cumulative_dvh_bin_centres():
    vec = VECTORS["EUD-050"]
    inp = vec.inputs
    dvh = DVH.from_cumulative(inp["edges_Gy"], inp["V_ge_edge"], convention="centre")
    assert dvh.convention == "centre"
    assert_matches(geud(dvh, a=inp["a"]), vec)
    # the vector's note: the lower-edge convention gives a different value
    lower = DVH.from_cumulative(inp["edges_Gy"], inp["V_ge_edge"], convention="lower")
    assert abs(geud(lower, a=inp["a"]) - vec.expected) > 1.0


def test_geud_uniform_dose_returns_the_dose():
    vec = VECTORS["EUD-051"]
    assert_matches(geud(vec.inputs["D_Gy"], a=vec.inputs["a"]), vec)
    voxels = np.full((4, 5, 6), vec.inputs["D_Gy"])
    assert_matches(geud(voxels, a=vec.inputs["a"]), vec)


def test_clonogenic_eud_single_voxel():
    vec = VECTORS["EUD-052"]
    assert_matches(clonogenic_eud(vec.inputs["D_Gy"], alpha=vec.inputs["alpha"]), vec)


@pytest.mark.parametrize("case_id", ["EUD-053", "EUD-054"])
def test_clonogenic_eud_gaussian_dose(case_id):
    # D ~ N(mu, sd^2): EUD = mu - alpha sd^2 / 2 (normal MGF). The expectation of exp(-alpha D) is
    # evaluated as a weighted DVH on Gauss-Hermite nodes D_j = mu + sqrt(2) sd x_j with weights
    # w_j / sqrt(pi). The integrand exp(-alpha sqrt(2) sd x) is entire, so 40 nodes reach
    # machine precision (not a polynomial, hence "converged", not "exact"). The Gaussian puts
    # mass on negative doses, which the API rejects; clonogenic EUD is translation-equivariant
    # (EUD(D + c) = EUD(D) + c, exactly, from the formula), so the nodes are shifted by c >= 0
    # and c subtracted afterwards.
    vec = VECTORS[case_id]
    inp = vec.inputs
    nodes, weights = np.polynomial.hermite.hermgauss(40)
    doses = inp["mean_Gy"] + math.sqrt(2.0) * inp["sd_Gy"] * nodes
    shift = max(0.0, -doses.min())
    value = clonogenic_eud(doses + shift, weights / math.sqrt(math.pi), alpha=inp["alpha_per_Gy"])
    assert_matches(value - shift, vec)
    # eubed is the same formula
    value = eubed(doses + shift, weights, alpha=inp["alpha_per_Gy"])
    assert_matches(value - shift, vec)


def test_eubed_gamma_voxels_regenerated():
    vec = VECTORS["EUD-055"]
    # generator stated in the vector's inputs
    beds = np.random.default_rng(12345).gamma(6, 10, 2000)
    assert_matches(eubed(beds, alpha=vec.inputs["alpha_per_Gy"]), vec)
    # the vector's note: mean BED 60.3264 Gy > EUBED
    assert abs(beds.mean() - 60.3264) < 1e-4
    assert DVH.from_voxels(beds).mean > vec.expected


def test_eubed_continuous_gamma_by_gauss_laguerre():
    # BED = theta X with X ~ Gamma(k, 1): E[exp(-alpha BED)] on generalised Gauss-Laguerre nodes
    # (weight x^(k-1) e^-x, normalised by Gamma(k)) as a weighted DVH. The closed form is
    # k ln(1 + alpha theta)/alpha; 60 nodes agree with it to ~1e-15 (checked while writing).
    vec = VECTORS["EUD-056"]
    inp = vec.inputs
    nodes, weights = special.roots_genlaguerre(60, inp["k"] - 1.0)
    dvh = DVH.from_differential(inp["theta_Gy"] * nodes, weights, metric="BED")
    assert_matches(eubed(dvh, alpha=inp["alpha_per_Gy"]), vec)


def test_odonoghue_eud_four_bins():
    vec = VECTORS["EUD-057"]
    inp = vec.inputs
    g = inp["T_rep_h"] / (inp["T_rep_h"] + inp["T_eff_h"])  # as stated in the vector
    assert g == pytest.approx(0.01840490798, rel=1e-9)  # the vector's note
    value = odonoghue_eud(inp["D_Gy"], inp["v"], alpha=inp["alpha"], beta=inp["beta"], g=g)
    assert_matches(value, vec)


def test_poisson_tcp_uniform():
    vec = VECTORS["TCP-058"]
    inp = vec.inputs
    assert_matches(poisson_tcp(inp["BED_Gy"], n0=inp["N0"], alpha=inp["alpha"]), vec)
    # the D50/gamma50 registry form with N0 exp(-alpha D50) = ln 2 is the same curve
    d50 = math.log(inp["N0"] / math.log(2.0)) / inp["alpha"]
    gamma50 = inp["alpha"] * d50 * math.log(2.0) / 2.0
    assert_matches(poisson(inp["BED_Gy"], d50, gamma50), vec)


def test_poisson_tcp_dvh():
    vec = VECTORS["TCP-059"]
    inp = vec.inputs
    value = poisson_tcp(inp["BED_bins_Gy"], inp["v"], n0=inp["N0"], alpha=inp["alpha"])
    assert_matches(value, vec)


@pytest.mark.parametrize("case_id", ["TCP-060", "TCP-061"])
def test_population_tcp(case_id):
    vec = VECTORS[case_id]
    inp = vec.inputs
    value = population_tcp(
        inp["BED_Gy"], n0=inp["N0"], alpha_mean=inp["alpha_mean"], alpha_sd=inp["alpha_sd"]
    )
    assert_matches(value, vec)


@pytest.mark.parametrize("case_id", ["NTCP-062", "NTCP-063"])
def test_lkb(case_id):
    vec = VECTORS[case_id]
    inp = vec.inputs
    value = lkb(inp["D_bins_Gy"], inp["TD50_Gy"], inp["m"], n=inp["n"], volumes=inp["v"])
    assert_matches(value, vec)
    dvh = DVH.from_differential(inp["D_bins_Gy"], inp["v"])
    assert_matches(lkb(dvh, inp["TD50_Gy"], inp["m"], n=inp["n"]), vec)


@pytest.mark.parametrize("case_id", ["NTCP-064", "NTCP-065", "NTCP-066", "NTCP-067"])
def test_log_logistic(case_id):
    vec = VECTORS[case_id]
    inp = vec.inputs
    family = get_curve_family("log-logistic")
    assert_matches(family.probability(inp["D_Gy"], inp["D50_Gy"], inp["gamma50"]), vec)


@pytest.mark.parametrize("case_id", ["NTCP-068", "NTCP-069", "NTCP-070"])
def test_relative_seriality(case_id):
    vec = VECTORS[case_id]
    inp = vec.inputs
    value = relative_seriality(
        inp["D_bins_Gy"], inp["v"], d50=inp["D50_Gy"], gamma=inp["gamma"], s=inp["s"]
    )
    assert_matches(value, vec)


def test_covered_cases_exist():
    assert COVERED <= set(VECTORS)
    assert len(COVERED) == 25
