"""compare_strategies: fixed vs dosimetry-guided, against per-patient sums written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from doseresponse import prescribe as rx
from doseresponse import radiobiology as rb
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.response_curve import ResponseCurve


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(21)
    n = 500
    true_k = rng.lognormal(np.log(0.46), 0.3, n)
    true_t = rng.lognormal(np.log(3.0), 0.6, n)
    population = pd.DataFrame({
        "kidney": true_k, "kidney measured": true_k * rng.lognormal(0.0, 0.13, n),
        "tumour": true_t,
    })
    regions = {"kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney"),
               "tumour": rx.Region(3.0, effective_half_life=90.0, tissue="tumour")}
    kidney = ResponseCurve("lkb", d50=28.0, slope=0.10, dose_metric="absorbed dose",
                           dose_unit="Gy")
    tumour = ResponseCurve("log-logistic", d50=80.0, slope=1.5, dose_metric="absorbed dose",
                           dose_unit="Gy", kind="TCP")
    return population, regions, {"kidney": kidney}, {"tumour": tumour}


def test_fixed_and_guided_against_direct_sums(setup):
    population, regions, ntcp, tcp = setup
    strategies = {"fixed": rx.fixed(7.4, 4), "guided": rx.activity_to_limit(4),
                  "cycles": rx.cycles_to_limit(7.4, 9)}
    out = rx.compare_strategies(population, strategies, regions=regions, ntcp=ntcp, tcp=tcp)
    out = out.set_index("strategy")
    td5 = 28.0 * (1 + 0.10 * norm.ppf(0.05))
    k_true, k_meas, t_true = (population[c].to_numpy() for c in
                              ("kidney", "kidney measured", "tumour"))

    def tcp_of(d):
        return 1.0 / (1.0 + (80.0 / d) ** 6.0)

    # fixed 4 x 7.4 GBq
    d_k, d_t = 29.6 * k_true, 29.6 * t_true
    assert out.loc["fixed", "NTCP kidney mean"] == pytest.approx(
        norm.cdf((d_k - 28.0) / 2.8).mean(), rel=2e-3)  # grid interpolation
    assert out.loc["fixed", "TCP tumour mean"] == pytest.approx(tcp_of(d_t).mean(), rel=2e-3)
    assert out.loc["fixed", "over-treated"] == pytest.approx(np.mean(d_k > 1.1 * td5),
                                                             abs=1e-12)
    # guided by activity: measured kidney dose at TD5
    a = td5 / (4 * k_meas)
    assert out.loc["guided", "activity_per_cycle_mean"] == pytest.approx(a.mean(), rel=1e-3)
    assert out.loc["guided", "TCP tumour mean"] == pytest.approx(
        tcp_of(4 * a * t_true).mean(), rel=2e-3)
    # cycles until the measured kidney dose would pass TD5 (at least 1)
    n = np.clip(np.floor(td5 / (7.4 * k_meas) + 1e-12), 1, 9)
    assert out.loc["cycles", "cycles_mean"] == pytest.approx(n.mean(), rel=1e-12)
    # guided to the tolerance at the measured Gy/GBq: over-treated exactly when the
    # measurement underestimates the true Gy/GBq by more than the tolerance margin
    assert out.loc["guided", "over-treated"] == pytest.approx(
        np.mean(4 * a * k_true > 1.1 * td5), abs=1e-12)
    assert out.loc["guided", "under-treated"] < out.loc["fixed", "under-treated"]
    assert "predictive" in out.attrs["definitions"]


def test_bed_limit_cycles_iluminet(setup):
    population, regions, ntcp, _ = setup
    out = rx.compare_strategies(population, {"iluminet": rx.cycles_to_limit(7.4, 9)},
                                regions=regions, limits={"kidney": (23.0, "BED")},
                                ntcp_limit=None)
    kid = rb.tissue_parameters("kidney")
    per_cycle = rb.bed_exponential(7.4 * population["kidney measured"].to_numpy(),
                                   effective_half_life=50.0, alpha_beta=kid.alpha_beta,
                                   repair_half_time=kid.repair_half_time)
    n = np.clip(np.floor(23.0 / per_cycle + 1e-12), 1, 9)
    assert out.loc[0, "cycles_mean"] == pytest.approx(n.mean(), rel=1e-12)
    # the same rule with its own limit, judged against the NTCP-based tolerance
    own = rx.compare_strategies(
        population, {"iluminet": rx.cycles_to_limit(7.4, 9, limits={"kidney": (23.0, "BED")})},
        regions=regions, ntcp=ntcp)
    assert own.loc[0, "cycles_mean"] == pytest.approx(n.mean(), rel=1e-12)
    assert own.attrs["tolerances"][0]["source"].startswith("predictive NTCP")


def test_bad_input(setup):
    population, regions, ntcp, tcp = setup
    with pytest.raises(DoseResponseError, match="column 'liver'"):
        rx.compare_strategies(population, {"f": rx.fixed(7.4, 4)},
                              regions={**regions, "liver": regions["kidney"]}, ntcp=ntcp)
    with pytest.raises(DoseResponseError, match="tolerance"):
        rx.compare_strategies(population, {"f": rx.fixed(7.4, 4)}, regions=regions, tcp=tcp)
    with pytest.raises(DoseResponseError, match="activity_gbq"):
        rx.fixed(-1.0, 4)
