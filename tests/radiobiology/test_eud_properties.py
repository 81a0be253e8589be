"""Property tests (Hypothesis) for the EUD family.

Invariants from the definitions (Niemierko 1997, Med Phys 24:103; Niemierko 1999, Med Phys
26:1100; Prideaux et al. 2007, J Nucl Med 48:1008; O'Donoghue 1999, J Nucl Med 40:1337):
gEUD is a power mean, so it lies between min and max and is non-decreasing in a; every EUD of a
uniform distribution is that dose; EUBED ≤ mean BED (Jensen); the chunked fast path of geud equals
the naive formula.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from doseresponse.radiobiology.eud import _CHUNK, DVH, clonogenic_eud, eubed, geud, odonoghue_eud

dose_values = st.floats(0.01, 500.0, allow_nan=False, allow_infinity=False)
doses_1d = hnp.arrays(np.float64, st.integers(1, 40), elements=dose_values)
weights_1d = st.floats(0.01, 10.0)
a_values = st.one_of(
    st.integers(-16, 16).map(float),
    st.integers(-20, 20).map(lambda k: k / 2.0),
    st.floats(-30.0, 30.0, allow_nan=False),
)
PROFILE = settings(max_examples=60, deadline=None)


@PROFILE
@given(doses=doses_1d, a=st.floats(-0.05, 0.05))
def test_geud_small_a_is_continuous_with_geometric_mean(doses, a):
    # d gEUD/da at 0 is G Var_v(ln D)/2 (second-order expansion of the power mean), so
    # |gEUD(a) - G| <= G (|a| Var(ln D)/2 + O(a^2)); checked with a generous factor 2
    geometric = geud(doses, a=0.0)
    var = float(np.var(np.log(doses)))
    bound = geometric * (abs(a) * var + 1e-12)
    assert abs(geud(doses, a=a) - geometric) <= bound + 1e-12 * geometric


@PROFILE
@given(doses=doses_1d, a=a_values)
def test_geud_between_min_and_max(doses, a):
    value = geud(doses, a=a)
    tol = 1e-12 * doses.max()
    assert doses.min() - tol <= value <= doses.max() + tol


@PROFILE
@given(doses=doses_1d, a1=a_values, a2=a_values)
def test_geud_non_decreasing_in_a(doses, a1, a2):
    lo, hi = sorted((a1, a2))
    assert geud(doses, a=lo) <= geud(doses, a=hi) * (1 + 1e-12)


@PROFILE
@given(
    dose=st.floats(0.0, 300.0),
    n=st.integers(1, 50),
    a=a_values,
    alpha=st.floats(0.01, 1.0),
    beta=st.floats(0.0, 0.1),
    g=st.floats(0.0, 1.0),
)
def test_uniform_distribution_returns_the_dose(dose, n, a, alpha, beta, g):
    doses = np.full(n, dose)
    expected = 0.0 if (dose == 0.0 and a <= 0) else dose
    assert math.isclose(geud(doses, a=a), expected, rel_tol=1e-12, abs_tol=1e-300)
    for value in (
        clonogenic_eud(doses, alpha=alpha),
        eubed(doses, alpha=alpha),
        odonoghue_eud(doses, alpha=alpha, beta=beta, g=g),
    ):
        assert math.isclose(value, dose, rel_tol=1e-12, abs_tol=1e-12)


@PROFILE
@given(beds=doses_1d, alpha=st.floats(0.01, 1.0), data=st.data())
def test_eubed_at_most_mean_bed(beds, alpha, data):
    weights = data.draw(hnp.arrays(np.float64, beds.shape, elements=weights_1d))
    mean = float(np.average(beds, weights=weights))
    value = eubed(beds, weights, alpha=alpha)
    assert value <= mean * (1 + 1e-12) + 1e-12
    assert value >= beds.min() * (1 - 1e-12)


@PROFILE
@given(doses=doses_1d, a=a_values, alpha=st.floats(0.01, 1.0), data=st.data())
def test_voxel_map_and_equivalent_dvh_agree(doses, a, alpha, data):
    # repeat each dose an integer number of times -> voxel map; same as a DVH with those counts
    counts = data.draw(hnp.arrays(np.int64, doses.shape, elements=st.integers(1, 5)))
    voxels = np.repeat(doses, counts)
    shape = data.draw(st.sampled_from([(voxels.size,), (1, voxels.size), (voxels.size, 1)]))
    voxel_map = voxels.reshape(shape)
    dvh = DVH.from_differential(doses, counts.astype(float))
    assert math.isclose(geud(voxel_map, a=a), geud(dvh, a=a), rel_tol=1e-12)
    assert math.isclose(geud(voxel_map, a=a), geud(doses, counts, a=a), rel_tol=1e-12)
    assert math.isclose(
        clonogenic_eud(voxel_map, alpha=alpha), clonogenic_eud(dvh, alpha=alpha), rel_tol=1e-12
    )
    assert math.isclose(
        geud(DVH.from_voxels(voxel_map), a=a), geud(voxel_map, a=a), rel_tol=1e-12
    )


def _naive_geud(doses: np.ndarray, weights: np.ndarray | None, a: float) -> float:
    """Textbook (Σ v D^a)^(1/a) in plain numpy, for maps whose terms cannot overflow."""
    d = doses.ravel()
    v = np.full(d.size, 1.0 / d.size) if weights is None else weights.ravel() / weights.sum()
    if a == 0.0:
        with np.errstate(divide="ignore"):
            return float(np.exp(np.sum(v * np.log(d))))
    if a < 0 and np.any(d[v > 0] == 0):
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.sum(v * d**a) ** (1.0 / a))


@settings(max_examples=40, deadline=None)
@given(
    # sizes around the chunk length of the fast path: one partial, exactly one, and several chunks
    size=st.sampled_from([1, 7, 1000, _CHUNK, _CHUNK + 1, 2 * _CHUNK + 3]),
    # the textbook formula itself loses precision as a -> 0 (1 + O(a) raised to 1/a), so the
    # naive reference is used for a = 0 (its own branch) and |a| >= 0.05 only
    a=a_values.filter(lambda a: a == 0.0 or abs(a) >= 0.05),
    zero_fraction=st.sampled_from([0.0, 0.0, 0.01]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunked_fast_path_equals_naive_formula(size, a, zero_fraction, weighted, seed):
    rng = np.random.default_rng(seed)
    doses = rng.gamma(4.0, 10.0, size) + 0.5
    doses[rng.random(size) < zero_fraction] = 0.0
    weights = rng.uniform(0.1, 2.0, size) if weighted else None
    naive = _naive_geud(doses, weights, a)
    assume(np.isfinite(naive))
    value = geud(doses, weights, a=a)
    assert math.isclose(value, naive, rel_tol=1e-12, abs_tol=0.0)
