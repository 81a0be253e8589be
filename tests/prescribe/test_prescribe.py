"""prescribe(): every objective against independent calculations written here.

Tolerances: activities from root finding agree with the in-test brentq/minimize_scalar to
rel 1e-7; Monte Carlo quantities (stratified dosimetry draws) to the stated looser tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import norm

from doseresponse import prescribe as rx
from doseresponse import radiobiology as rb
from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.response_curve import ResponseCurve


def _tcp(d50=60.0, slope=2.0, metric="absorbed dose"):
    return ResponseCurve("log-logistic", d50=d50, slope=slope, dose_metric=metric,
                         dose_unit="Gy", kind="TCP")


def _lkb(d50=80.0, m=0.15, metric="absorbed dose"):
    return ResponseCurve("lkb", d50=d50, slope=m, dose_metric=metric, dose_unit="Gy")


def _one_gy_per_gbq():
    return {"tumour": rx.Region(1.0, effective_half_life=90.0),
            "organ": rx.Region(1.0, effective_half_life=50.0)}


# --- §3F anchor -----------------------------------------------------------------------------


def test_p_plus_optimum_anchor():
    """Anchor §3F: TCP log-logistic TCD50 60 Gy γ50 2, NTCP LKB TD50 80 Gy m 0.15:
    P+ max 0.6184 at 69.34 Gy (TCP 0.761, NTCP 0.187)."""
    plan = rx.prescribe(_one_gy_per_gbq(), cycles=1, tcp={"tumour": _tcp()},
                        ntcp={"organ": _lkb()}, objective="max-p-plus", ntcp_limit=None,
                        max_activity_gbq=200.0)

    def neg_p_plus(d):
        return -(1.0 / (1.0 + (60.0 / d) ** 8.0)) * (1.0 - norm.cdf((d - 80.0) / (0.15 * 80.0)))

    ref = minimize_scalar(neg_p_plus, bounds=(40.0, 100.0), method="bounded",
                          options={"xatol": 1e-10})
    assert plan.activity_gbq == pytest.approx(ref.x, rel=1e-6)
    assert plan.activity_gbq == pytest.approx(69.34, abs=0.005)
    assert plan.p_plus["mean"] == pytest.approx(0.6184, abs=5e-5)
    tcp, ntcp = plan.curves
    assert tcp["mean"] == pytest.approx(0.761, abs=5e-4)
    assert ntcp["mean"] == pytest.approx(0.187, abs=5e-4)
    assert plan.limiting is None
    assert plan.optimum["median"] == pytest.approx(ref.x, rel=1e-6)


def test_ntcp_limit_is_td5_anchor():
    """Anchor §3F: the dose at NTCP = 5 % is 60.26 Gy; P+ under that constraint is at it."""
    plan = rx.prescribe(_one_gy_per_gbq(), cycles=1, ntcp={"organ": _lkb()},
                        tcp={"tumour": _tcp()}, objective="ntcp-limit", max_activity_gbq=200.0)
    assert plan.activity_gbq == pytest.approx(80.0 * (1 + 0.15 * norm.ppf(0.05)), rel=1e-9)
    assert plan.activity_gbq == pytest.approx(60.26, abs=0.005)
    assert plan.limiting == "organ"
    constrained = rx.prescribe(_one_gy_per_gbq(), cycles=1, ntcp={"organ": _lkb()},
                               tcp={"tumour": _tcp()}, objective="max-p-plus",
                               ntcp_limit=0.05, max_activity_gbq=200.0)
    assert constrained.activity_gbq == pytest.approx(plan.activity_gbq, rel=1e-7)
    assert constrained.limiting == "organ"


# --- posterior draws ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kidney_draws():
    rng = np.random.default_rng(11)
    return ResponseCurve("lkb", d50=rng.lognormal(np.log(28.0), 0.12, 2000),
                         slope=rng.lognormal(np.log(0.12), 0.1, 2000),
                         dose_metric="absorbed dose", dose_unit="Gy")


def test_expected_ntcp_limit_with_draws(kidney_draws):
    regions = {"kidney": rx.Region(0.5, effective_half_life=50.0)}
    plan = rx.prescribe(regions, cycles=4, ntcp={"kidney": kidney_draws})
    d50, m = kidney_draws.d50, kidney_draws.slope

    def excess(a):
        return norm.cdf((a * 2.0 - d50) / (m * d50)).mean() - 0.05

    ref = brentq(excess, 0.1, 30.0, xtol=1e-13)
    assert plan.activity_gbq == pytest.approx(ref, rel=1e-8)
    assert plan.curves[0]["mean"] == pytest.approx(0.05, abs=1e-9)
    # the predictive TD5 is below the median of per-draw TD5s (the 14.9 % trap)
    per_draw = 28.0 * 0 + d50 * (1 + m * norm.ppf(0.05)) / 2.0
    assert plan.activity_gbq < np.median(per_draw)
    np.testing.assert_allclose(plan.optimum_draws, per_draw, rtol=1e-9)


def test_overdose_control_is_order_statistic(kidney_draws):
    regions = {"kidney": rx.Region(0.5, effective_half_life=50.0)}
    plan = rx.prescribe(regions, cycles=4, ntcp={"kidney": kidney_draws}, risk=0.10)
    d50, m = kidney_draws.d50, kidney_draws.slope
    thresholds = np.sort(d50 * (1 + m * norm.ppf(0.05)) / 2.0)
    assert plan.activity_gbq == pytest.approx(thresholds[200], rel=1e-9)  # floor(0.1·2000)

    def exceed(a):
        return np.mean(norm.cdf((a * 2.0 - d50) / (m * d50)) > 0.05 + 1e-9)

    assert exceed(plan.activity_gbq) <= 0.10
    assert exceed(plan.activity_gbq * (1 + 1e-6)) > 0.10
    assert plan.curves[0]["p_exceeds_limit"] <= 0.10
    assert "overdose control" in plan.settings["constraint"]


def test_dosimetry_uncertainty_closed_form_quantile():
    """Fixed curve + dosimetry uncertainty: P(NTCP > L) <= r ⇔ use the (1−r) quantile of the
    patient's Gy/GBq (prescription.md §2)."""
    g, rel_se, risk = 0.46, 0.19, 0.10
    sigma = math.sqrt(math.log1p(rel_se**2))
    td5 = 28.0 * (1 + 0.10 * norm.ppf(0.05))
    curve = _lkb(28.0, 0.10)
    exact = td5 / (4 * g * math.exp(sigma * norm.ppf(1 - risk)))
    plan = rx.prescribe({"kidney": rx.Region(g, effective_half_life=50.0, rel_se=rel_se)},
                        cycles=4, ntcp={"kidney": curve}, risk=risk, n_dosimetry_draws=20000)
    assert plan.activity_gbq == pytest.approx(exact, rel=2e-3)  # stratified draws
    no_error = rx.prescribe({"kidney": rx.Region(g, effective_half_life=50.0)}, cycles=4,
                            ntcp={"kidney": curve}, risk=risk)
    assert no_error.activity_gbq == pytest.approx(td5 / (4 * g), rel=1e-12)
    assert plan.activity_gbq < no_error.activity_gbq
    # the expected-risk form also lowers the activity under dosimetry uncertainty
    expected_form = rx.prescribe(
        {"kidney": rx.Region(g, effective_half_life=50.0, rel_se=rel_se)}, cycles=4,
        ntcp={"kidney": curve})
    assert expected_form.activity_gbq < no_error.activity_gbq

    def mean_ntcp(a):  # E over log-normal Gy/GBq by Gauss-Hermite, 80 nodes
        x, w = np.polynomial.hermite_e.hermegauss(80)
        dose = 4 * a * g * np.exp(sigma * x)
        return float(np.sum(w * norm.cdf((dose - 28.0) / 2.8)) / math.sqrt(2 * math.pi))

    ref = brentq(lambda a: mean_ntcp(a) - 0.05, 1.0, 30.0, xtol=1e-12)
    assert expected_form.activity_gbq == pytest.approx(ref, rel=2e-3)


# --- limiting organ, BED, cycles -------------------------------------------------------------


def _marrow():
    return ResponseCurve("log-logistic", d50=3.5, slope=2.0, dose_metric="absorbed dose",
                         dose_unit="Gy")


def test_limiting_organ_switches_with_gy_per_gbq():
    kidney = _lkb(28.0, 0.10)
    td5_k = 28.0 * (1 + 0.10 * norm.ppf(0.05))
    td5_m = 3.5 * (0.05 / 0.95) ** (1 / 8.0)  # log-logistic: D50 (p/(1-p))^(1/(4γ50))
    for g_marrow, expected in ((0.04, "kidney"), (0.08, "red marrow")):
        regions = {"kidney": rx.Region(0.46, effective_half_life=50.0),
                   "red marrow": rx.Region(g_marrow, effective_half_life=60.0)}
        plan = rx.prescribe(regions, cycles=4, ntcp={"kidney": kidney, "red marrow": _marrow()})
        a_k, a_m = td5_k / (4 * 0.46), td5_m / (4 * g_marrow)
        assert plan.limiting == expected
        assert plan.activity_gbq == pytest.approx(min(a_k, a_m), rel=1e-9)


def test_bed_curve_prescription_against_rb():
    kidney_bed = _lkb(40.0, 0.10, metric="BED")
    region = rx.Region([0.5, 0.45, 0.4, 0.4], effective_half_life=50.0, tissue="kidney")
    plan = rx.prescribe({"kidney": region}, cycles=4, ntcp={"kidney": kidney_bed})
    kid = rb.tissue_parameters("kidney")
    td5 = 40.0 * (1 + 0.10 * norm.ppf(0.05))

    def course_bed(a):
        return sum(float(rb.bed_exponential(a * g, effective_half_life=50.0,
                                            alpha_beta=kid.alpha_beta,
                                            repair_half_time=kid.repair_half_time))
                   for g in [0.5, 0.45, 0.4, 0.4])

    ref = brentq(lambda a: course_bed(a) - td5, 1.0, 50.0, xtol=1e-13)
    assert plan.activity_gbq == pytest.approx(ref, rel=1e-8)
    bed_row = next(r for r in plan.regions if r["dose_metric"] == "BED")
    assert bed_row["measured"] == pytest.approx(td5, rel=1e-8)


def test_plain_bed_limit_by_cycles_iluminet_style():
    region = rx.Region(0.6, effective_half_life=50.0, tissue="kidney")
    plan = rx.prescribe({"kidney": region}, activity_per_cycle=7.4, max_cycles=9,
                        limits={"kidney": (23.0, "BED")})
    kid = rb.tissue_parameters("kidney")
    per_cycle = float(rb.bed_exponential(7.4 * 0.6, effective_half_life=50.0,
                                         alpha_beta=kid.alpha_beta,
                                         repair_half_time=kid.repair_half_time))
    assert plan.cycles == math.floor(23.0 / per_cycle)
    assert plan.limiting == "kidney (dose limit)"
    assert plan.activity_gbq == 7.4
    # limits alone by activity: course BED at the measured Gy/GBq equals the limit
    by_activity = rx.prescribe({"kidney": region}, cycles=4, limits={"kidney": (23.0, "BED")})
    assert float(region.course_dose(by_activity.activity_gbq, 4, "BED")) == pytest.approx(
        23.0, rel=1e-12)


def test_cycles_decision_for_curves_max_p_plus_and_target():
    regions = _one_gy_per_gbq()
    tcp, ntcp = {"tumour": _tcp()}, {"organ": _lkb()}
    plan = rx.prescribe(regions, activity_per_cycle=10.0, max_cycles=12, tcp=tcp, ntcp=ntcp,
                        objective="max-p-plus", ntcp_limit=None)

    def p_plus(d):
        return (1.0 / (1.0 + (60.0 / d) ** 8.0)) * (1.0 - norm.cdf((d - 80.0) / 12.0))

    best = max(range(1, 13), key=lambda n: p_plus(10.0 * n))
    assert plan.cycles == best == 7
    limited = rx.prescribe(regions, activity_per_cycle=10.0, max_cycles=12, tcp=tcp,
                           ntcp=ntcp, objective="ntcp-limit")
    assert limited.cycles == 6  # 60 Gy <= TD5 60.26 Gy < 70 Gy
    target = rx.prescribe(regions, activity_per_cycle=10.0, max_cycles=12, tcp=tcp,
                          ntcp=ntcp, objective="target-tcp", target_tcp=0.7)
    assert target.cycles == min(n for n in range(1, 13)
                                if 1.0 / (1.0 + (60.0 / (10.0 * n)) ** 8.0) >= 0.7)
    assert any("breaks" in f for f in target.flags)


def test_target_tcp_and_flag():
    tcp = _tcp()
    plan = rx.prescribe(_one_gy_per_gbq(), cycles=2, tcp={"tumour": tcp},
                        ntcp={"organ": _lkb()}, objective="target-tcp", target_tcp=0.5,
                        max_activity_gbq=100.0)
    assert plan.activity_gbq == pytest.approx(60.0 / 2, rel=1e-9)
    assert plan.flags == []
    high = rx.prescribe(_one_gy_per_gbq(), cycles=2, tcp={"tumour": tcp},
                        ntcp={"organ": _lkb()}, objective="target-tcp", target_tcp=0.9,
                        max_activity_gbq=100.0)
    d90 = 60.0 * 9.0 ** (1 / 8.0)
    assert high.activity_gbq == pytest.approx(d90 / 2, rel=1e-9)
    assert any("breaks the organ constraint" in f for f in high.flags)


def test_per_draw_p_plus_optimum_matches_scalar_search():
    rng = np.random.default_rng(2)
    tcp = ResponseCurve("log-logistic", d50=rng.lognormal(np.log(60), 0.1, 50), slope=2.0,
                        dose_metric="absorbed dose", dose_unit="Gy", kind="TCP")
    plan = rx.prescribe(_one_gy_per_gbq(), cycles=1, tcp={"tumour": tcp},
                        ntcp={"organ": _lkb()}, objective="max-p-plus", ntcp_limit=None,
                        max_activity_gbq=200.0)
    for s in (0, 17, 42):
        d50 = tcp.d50[s]
        ref = minimize_scalar(
            lambda d, d50=d50: -(1 / (1 + (d50 / d) ** 8)) * norm.sf((d - 80) / 12),
            bounds=(20, 150), method="bounded", options={"xatol": 1e-10})
        assert plan.optimum_draws[s] == pytest.approx(ref.x, rel=1e-6)
    # the decision maximises the expected P+ (not P+ at the mean parameters)

    def mean_pp(d):
        return -np.mean((1 / (1 + (tcp.d50 / d) ** 8)) * norm.sf((d - 80) / 12))

    ref = minimize_scalar(mean_pp, bounds=(20, 150), method="bounded", options={"xatol": 1e-10})
    assert plan.activity_gbq == pytest.approx(ref.x, rel=1e-6)


# --- a curve source that is not a ResponseCurve (the fitted-model path) ----------------------


class _FakeFit:
    """Minimal curve source implementing the contract through probability_draws only."""

    def __init__(self, d50, m):
        self.d50, self.m = np.asarray(d50), np.asarray(m)
        self.kind, self.dose_metric, self.dose_unit, self.curve_name = (
            "NTCP", "BED", "Gy", "probit")
        self.calls = []

    def probability_draws(self, dose, which="population", covariates=None, *,
                          new_study="spread", random_seed=20240917):
        self.calls.append((which, covariates, new_study))
        d = np.atleast_1d(dose)
        shift = 0.9 if (covariates or {}).get("hypertension") else 1.0
        d50 = self.d50[:, None] * shift
        return norm.cdf((d[None, :] - d50) / (self.m[:, None] * d50))


def test_grid_path_matches_exact_path():
    rng = np.random.default_rng(8)
    d50, m = rng.lognormal(np.log(40), 0.1, 1000), rng.lognormal(np.log(0.1), 0.1, 1000)
    fake = _FakeFit(d50, m)
    exact = ResponseCurve("probit", d50=d50, slope=m, dose_metric="BED", dose_unit="Gy")
    region = {"kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney",
                                  rel_se=0.13)}
    kw = {"cycles": 4, "risk": 0.1, "random_seed": 3}
    a_fake = rx.prescribe(region, ntcp={"kidney": fake}, **kw)
    a_exact = rx.prescribe(region, ntcp={"kidney": exact}, **kw)
    assert a_fake.activity_gbq == pytest.approx(a_exact.activity_gbq, rel=3e-4)
    e_fake = rx.prescribe(region, ntcp={"kidney": fake}, cycles=4)
    e_exact = rx.prescribe(region, ntcp={"kidney": exact}, cycles=4)
    assert e_fake.activity_gbq == pytest.approx(e_exact.activity_gbq, rel=3e-4)
    assert fake.calls[-1] == ("new_study", None, "averaged")
    assert "new centre" in e_fake.curves[0]["view"]
    hyp = rx.prescribe(region, ntcp={"kidney": fake}, cycles=4,
                       covariates={"kidney": {"hypertension": 1}}, which="population",
                       new_study="spread")
    assert fake.calls[-1] == ("population", {"hypertension": 1}, "spread")
    assert hyp.activity_gbq < e_fake.activity_gbq
    assert hyp.curves[0]["covariates"] == {"hypertension": 1}


# --- bad input ------------------------------------------------------------------------------


def test_bad_input_errors_name_the_argument():
    regions = {"kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney")}
    kidney = _lkb(28.0, 0.10)
    with pytest.raises(UnknownNameError, match="unknown region 'liver' in ntcp="):
        rx.prescribe(regions, ntcp={"liver": kidney})
    with pytest.raises(DoseResponseError, match="EUBED"):
        rx.prescribe(regions, ntcp={"kidney": _lkb(metric="EUBED")})
    logistic = ResponseCurve("logistic", d50=10.0, slope=0.2, dose_metric="dose",
                             dose_unit="Gy")  # P(0) = 0.31 > 0.05
    with pytest.raises(DoseResponseError, match="ntcp_limit"):
        rx.prescribe(regions, ntcp={"kidney": logistic})
    with pytest.raises(DoseResponseError, match="target_tcp"):
        rx.prescribe({**regions, "t": rx.Region(1.0, effective_half_life=90.0)},
                     tcp={"t": _tcp()}, objective="target-tcp", target_tcp=0.99,
                     max_activity_gbq=10.0)
    with pytest.raises(DoseResponseError, match="tcp="):
        rx.prescribe(regions, ntcp={"kidney": kidney}, objective="max-p-plus")
    with pytest.raises(DoseResponseError, match="TCP curve"):
        rx.prescribe(regions, ntcp={"kidney": _tcp()})
    with pytest.raises(DoseResponseError, match="not both"):
        rx.prescribe(regions, ntcp={"kidney": kidney}, cycles=4, activity_per_cycle=7.4)
    with pytest.raises(DoseResponseError, match="max_cycles"):
        rx.prescribe(regions, ntcp={"kidney": kidney}, activity_per_cycle=7.4)
    with pytest.raises(UnknownNameError, match="objective"):
        rx.prescribe(regions, ntcp={"kidney": kidney}, objective="best")
    with pytest.raises(DoseResponseError, match="risk"):
        rx.prescribe(regions, ntcp={"kidney": kidney}, risk=1.5)
    with pytest.raises(DoseResponseError, match="covariates"):
        rx.prescribe(regions, ntcp={"kidney": kidney}, covariates={"kidney": {"htn": 1}})
    with pytest.raises(DoseResponseError, match="constraint"):
        rx.prescribe(regions)
    with pytest.raises(DoseResponseError, match="dose unit"):
        rx.prescribe(regions, ntcp={"kidney": ResponseCurve(
            "lkb", d50=28.0, slope=0.1, dose_metric="dose", dose_unit="cGy")})
    with pytest.raises(DoseResponseError, match=r"rx\.Region"):
        rx.prescribe({"kidney": 0.46}, ntcp={"kidney": kidney})
    with pytest.raises(DoseResponseError, match="probability_draws"):
        rx.prescribe(regions, ntcp={"kidney": 28.0})
    with pytest.raises(DoseResponseError, match="gy_per_gbq"):
        rx.Region(-0.46, effective_half_life=50.0)
    with pytest.raises(DoseResponseError, match="one cycle"):
        rx.prescribe(regions, activity_per_cycle=30.0, max_cycles=4,
                     limits={"kidney": (5.0, "BED")})


def test_limit_metric_from_curve_and_which_per_region():
    fake = _FakeFit(np.array([40.0]), np.array([0.1]))
    region = {"kidney": rx.Region(0.5, effective_half_life=50.0, tissue="kidney")}
    plan = rx.prescribe(region, cycles=4, ntcp={"kidney": fake}, limits={"kidney": 20.0},
                        which={"kidney": "population"})
    # the limit takes the curve's metric (BED) and binds before the NTCP constraint
    assert plan.limiting == "kidney (dose limit)"
    assert float(region["kidney"].course_dose(plan.activity_gbq, 4, "BED")) == pytest.approx(
        20.0, rel=1e-12)
    assert fake.calls[-1][0] == "population"
    assert plan.curves[0]["view"] == "typical centre (population)"
    with pytest.raises(UnknownNameError, match="in which="):
        rx.prescribe(region, cycles=4, ntcp={"kidney": fake}, which={"liver": "population"})
    with pytest.raises(DoseResponseError, match="no metric"):
        rx.prescribe(region, cycles=4, limits={"kidney": 20.0})
