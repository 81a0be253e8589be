"""Region: activity → absorbed dose, BED, EQD2, checked against the radiobiology functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from doseresponse import radiobiology as rb
from doseresponse.exceptions import DoseResponseError
from doseresponse.prescribe import Region
from doseresponse.prescribe.regions import dosimetry_factors


def test_absorbed_dose_is_linear():
    r = Region([0.5, 0.45, 0.4], effective_half_life=50.0)
    assert float(r.course_dose(7.4, 3, "absorbed dose")) == pytest.approx(7.4 * 1.35, rel=1e-14)
    assert float(r.course_dose(7.4, 2, "dose")) == pytest.approx(7.4 * 0.95, rel=1e-14)


def test_bed_is_sum_of_per_cycle_beds_from_rb():
    r = Region([0.5, 0.45, 0.4, 0.4], effective_half_life=50.0, tissue="kidney")
    kid = rb.tissue_parameters("kidney")
    a = 7.4
    expected = sum(
        float(rb.bed_exponential(a * g, effective_half_life=50.0, alpha_beta=kid.alpha_beta,
                                 repair_half_time=kid.repair_half_time))
        for g in [0.5, 0.45, 0.4, 0.4]
    )
    assert float(r.course_dose(a, 4, "BED")) == pytest.approx(expected, rel=1e-13)
    # non-linear: twice the activity gives more than twice the BED, and G on the summed dose
    # would be wrong
    assert float(r.course_dose(2 * a, 4, "BED")) > 2 * expected
    summed = a * 1.75
    wrong = float(rb.bed_exponential(summed, effective_half_life=50.0,
                                     alpha_beta=kid.alpha_beta,
                                     repair_half_time=kid.repair_half_time))
    assert wrong > expected * 1.01
    eqd2 = float(r.course_dose(a, 4, "EQD2"))
    assert eqd2 == pytest.approx(expected / (1.0 + 2.0 / kid.alpha_beta), rel=1e-13)


def test_bed_with_uptake_phase_uses_rb_uptake_form():
    r = Region(0.04, effective_half_life=60.0, uptake_half_life=3.0, alpha_beta=15.0,
               repair_half_time=1.5)
    expected = 4 * float(rb.bed_exponential(7.4 * 0.04, effective_half_life=60.0,
                                            uptake_half_life=3.0, alpha_beta=15.0,
                                            repair_half_time=1.5))
    assert float(r.course_dose(7.4, 4, "BED")) == pytest.approx(expected, rel=1e-13)
    history = rb.ExponentialDoseRate.from_dose(1.0, effective_half_life=60.0,
                                               uptake_half_life=3.0)
    assert r.g_factor() == pytest.approx(rb.g_factor(history, 1.5), rel=1e-13)


@pytest.mark.parametrize("metric", ["absorbed dose", "BED", "EQD2"])
def test_activity_for_dose_inverts_course_dose(metric):
    r = Region([0.5, 0.45, 0.4], effective_half_life=50.0, uptake_half_life=2.0,
               tissue="kidney")
    target = np.array([5.0, 23.0, 40.0])
    factor = np.array([0.8, 1.0, 1.3])
    a = r.activity_for_dose(target, 3, metric, factor)
    back = np.array([float(r.course_dose(ai, 3, metric, fi)) for ai, fi in zip(a, factor,
                                                                            strict=True)])
    np.testing.assert_allclose(back, target, rtol=1e-12)


def test_dosimetry_factors_lognormal_median_one():
    rng = np.random.default_rng(3)
    f = dosimetry_factors(0.15, 4000, rng)
    sigma = math.sqrt(math.log1p(0.15**2))
    assert np.median(f) == pytest.approx(1.0, abs=2e-3)
    assert np.std(np.log(f)) == pytest.approx(sigma, rel=5e-3)
    assert np.all(dosimetry_factors(0.0, 10, rng) == 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gy_per_gbq": -0.4}, "gy_per_gbq"),
        ({"gy_per_gbq": [0.4, 0.0]}, "cycle 2"),
        ({"effective_half_life": 0.0}, "effective_half_life"),
        ({"uptake_half_life": 80.0}, "uptake_half_life"),
        ({"rel_se": -0.1}, "rel_se"),
        ({"alpha_beta": -2.0}, "alpha_beta"),
    ],
)
def test_region_bad_input(kwargs, match):
    args = {"gy_per_gbq": 0.46, "effective_half_life": 50.0} | kwargs
    with pytest.raises(DoseResponseError, match=match):
        Region(args.pop("gy_per_gbq"), **args)


def test_bed_needs_radiobiology_and_metric_must_be_known():
    r = Region(0.46, effective_half_life=50.0)
    with pytest.raises(DoseResponseError, match="alpha_beta"):
        r.course_dose(7.4, 4, "BED")
    with pytest.raises(DoseResponseError, match="EUBED"):
        r.course_dose(7.4, 4, "EUBED")
    with pytest.raises(DoseResponseError, match="cycles"):
        Region([0.4, 0.4], effective_half_life=50.0).course_dose(7.4, 3, "dose")


@pytest.mark.parametrize(
    ("metric", "kind"),
    [
        ("kidney BED", "BED"),  # the shipped kidney datasets' metric
        ("cumulative kidney absorbed dose (SPECT-based)", "absorbed"),
        ("red-marrow absorbed dose", "absorbed"),
        ("kidney EQD2", "EQD2"),
        ("Absorbed_Dose", "absorbed"),
    ],
)
def test_organ_qualified_metrics_are_recognised(metric, kind):
    from doseresponse.prescribe.regions import metric_kind

    assert metric_kind(metric) == kind


@pytest.mark.parametrize(
    "metric",
    [
        "cycle-1 lesion absorbed dose",  # one cycle's dose, not the course's
        "kidney BED or kidney absorbed dose (per row)",  # mixed metrics
        "administered activity per body surface area",
        "EUBED",
    ],
)
def test_other_quantities_are_refused_with_the_fix(metric):
    from doseresponse.exceptions import DoseResponseError
    from doseresponse.prescribe.regions import metric_kind

    with pytest.raises(DoseResponseError, match="Refit the curve"):
        metric_kind(metric, where="ntcp['kidney']")
