"""Simulator: reproducibility, Monte-Carlo agreement with the truth, binning, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.simulate import SimulatedCohort, simulate_cohort

FAMILIES = [
    ("logistic", 40.0, 2.0),
    ("log-logistic", 40.0, 2.0),
    ("probit", 40.0, 0.2),
    ("cloglog", 40.0, 1.5),
    ("poisson", 40.0, 2.5),
]


def _small(**kw) -> SimulatedCohort:
    args = dict(curve="log-logistic", d50=40.0, slope=2.0, n_studies=4, patients_per_study=30,
                tau=0.2, covariates={"ht": (0.3, 0.7)}, dose_rel_sd=0.15,
                n_aggregate_studies=2, random_seed=11)
    args.update(kw)
    return simulate_cohort(**args)


def _binned_check(dose, outcome, expected_p, n_bins=10, n_se=4.0):
    """Empirical rate per dose decile vs the mean expected probability, within n_se MC SE."""
    edges = np.quantile(dose, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, dose, side="right") - 1, 0, n_bins - 1)
    z = []
    for b in range(n_bins):
        sel = which == b
        p = expected_p[sel]
        se = np.sqrt(np.sum(p * (1 - p))) / sel.sum()
        z.append((outcome[sel].mean() - p.mean()) / se)
    return np.abs(np.array(z))


# -------------------------------------------------------------------------- reproducibility


def test_same_seed_same_cohort_and_different_seed_differs():
    a, b, c = _small(), _small(), _small(random_seed=12)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    assert a.truth == b.truth
    assert a.data == b.data
    assert not a.frame.equals(c.frame)
    assert a.truth.study_d50 != c.truth.study_d50


def test_unseeded_run_records_a_seed_that_reproduces_it():
    a = _small(random_seed=None)
    b = _small(random_seed=a.truth.random_seed)
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_reporting_choice_does_not_change_the_patients():
    ipd = _small(n_aggregate_studies=0)
    mixed = _small(n_aggregate_studies=2)
    cols = ["study", "patient", "true_dose", "dose", "outcome", "ht"]
    pd.testing.assert_frame_equal(ipd.patients[cols], mixed.patients[cols])


# ------------------------------------------------------------- Monte-Carlo vs the truth


@pytest.mark.parametrize(("curve", "d50", "slope"), FAMILIES)
def test_empirical_rates_match_curve_on_large_sample(curve, d50, slope):
    sim = simulate_cohort(curve=curve, d50=d50, slope=slope, n_studies=1,
                          patients_per_study=200_000, dose_distribution=(d50, 0.4),
                          random_seed=2024)
    pts = sim.patients
    np.testing.assert_array_equal(pts["dose"], pts["true_dose"])  # no dosimetry error
    expected = sim.truth.probability(pts["true_dose"].to_numpy())
    z = _binned_check(pts["true_dose"].to_numpy(), pts["outcome"].to_numpy(), expected)
    assert z.max() < 4.0, z
    # the check has power: a 5 % shift of D50 is detected
    shifted = sim.truth.family.probability(pts["true_dose"].to_numpy(), d50 * 1.05, slope)
    z_shift = _binned_check(pts["true_dose"].to_numpy(), pts["outcome"].to_numpy(), shifted)
    assert z_shift.max() > 4.0


def test_rates_over_many_studies_match_new_study_marginal_curve():
    grid = np.array([20.0, 30.0, 40.0, 55.0, 75.0])

    def on_grid(rng, study, size):
        return np.resize(grid, size)

    sim = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=2000,
                          patients_per_study=100, tau=0.4, dose_distribution=on_grid,
                          random_seed=99)
    pts = sim.patients
    typical = sim.truth.probability(grid)
    marginal = sim.truth.new_study_probability(grid)
    for d, p_typ, p_new in zip(grid, typical, marginal, strict=True):
        at = pts[pts["true_dose"] == d]
        per_study = at.groupby("study")["outcome"].mean()
        se = per_study.std(ddof=1) / np.sqrt(len(per_study))
        assert abs(at["outcome"].mean() - p_new) < 4 * se
        if d in (20.0, 75.0):  # in the tails the typical-study curve is clearly wrong
            assert abs(at["outcome"].mean() - p_typ) > 4 * se
    # study D50s follow log-normal(log d50, tau)
    logs = np.log(list(sim.truth.study_d50.values()))
    assert logs.mean() == pytest.approx(np.log(40.0), abs=4 * 0.4 / np.sqrt(2000))
    assert logs.std(ddof=1) == pytest.approx(0.4, rel=0.08)


def test_covariate_factor_shifts_td50_and_the_empirical_curve():
    sim = simulate_cohort(curve="logistic", d50=50.0, slope=2.0, n_studies=1,
                          patients_per_study=200_000, covariates={"ht": (0.5, 0.7)},
                          dose_distribution=(45.0, 0.35), random_seed=5)
    t = sim.truth
    assert t.td(0.5, {"ht": 1}) == pytest.approx(0.7 * t.td(0.5), rel=1e-12)
    assert t.td(0.05, {"ht": 1}) == pytest.approx(0.7 * t.td(0.05), rel=1e-12)
    assert t.covariate_factor({"ht": 1}) == pytest.approx(0.7)
    pts = sim.patients
    np.testing.assert_allclose(pts["patient_d50"], 50.0 * 0.7 ** pts["ht"])
    for x in (0, 1):
        grp = pts[pts["ht"] == x]
        expected = t.probability(grp["true_dose"].to_numpy(), {"ht": x})
        z = _binned_check(grp["true_dose"].to_numpy(), grp["outcome"].to_numpy(), expected)
        assert z.max() < 4.0
    assert pts["ht"].mean() == pytest.approx(0.5, abs=4 * np.sqrt(0.25 / 200_000))


def test_two_covariates_multiply():
    sim = _small(covariates={"ht": (0.3, 0.7), "dm": (0.2, 0.8)})
    t = sim.truth
    assert t.td(0.3, {"ht": 1, "dm": 1}) == pytest.approx(0.56 * t.td(0.3), rel=1e-12)


def test_dosimetry_error_is_lognormal_with_stated_sd():
    sim = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=1,
                          patients_per_study=100_000, dose_rel_sd=0.2, random_seed=8)
    ratio = np.log(sim.patients["dose"] / sim.patients["true_dose"])
    assert ratio.std() == pytest.approx(0.2, rel=0.02)
    assert abs(ratio.mean()) < 4 * 0.2 / np.sqrt(100_000)
    assert (sim.frame["dose_rel_se"] == 0.2).all()
    assert "dose_rel_se" not in _small(dose_rel_sd=0.0).frame


# ---------------------------------------------------------------------------- TD_p values


@pytest.mark.parametrize(("curve", "d50", "slope"), FAMILIES)
@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_td_inverts_the_curve(curve, d50, slope, p):
    sim = simulate_cohort(curve=curve, d50=d50, slope=slope, n_studies=3, patients_per_study=5,
                          tau=0.3, random_seed=1)
    t = sim.truth
    assert float(t.probability(t.td(p))) == pytest.approx(p, rel=1e-9)
    assert float(t.new_study_probability(t.td_new_study(p))) == pytest.approx(p, abs=1e-9)


def test_new_study_td_equals_typical_without_heterogeneity_and_spreads_with_it():
    flat = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=2,
                           patients_per_study=5, random_seed=1).truth
    assert flat.td_new_study(0.05) == flat.td(0.05)
    het = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=2,
                          patients_per_study=5, tau=0.3, slope_tau=0.2, random_seed=1).truth
    assert het.td_new_study(0.05) < het.td(0.05)
    assert het.td_new_study(0.95) > het.td(0.95)
    assert het.td_new_study(0.5) == pytest.approx(40.0, rel=1e-6)  # symmetric in log dose
    assert len(set(het.study_slope.values())) == 2


def test_study_probability_uses_the_study_parameters():
    sim = _small()
    t = sim.truth
    study = t.ipd_studies[0]
    np.testing.assert_allclose(
        t.probability([30.0], study=study),
        t.family.probability([30.0], t.study_d50[study], t.study_slope[study]),
    )


def test_truth_to_dict_is_json_ready():
    import json

    d = _small().truth.to_dict()
    assert json.loads(json.dumps(d))["td5"] == pytest.approx(d["td5"])
    assert {"td5", "td50", "td5_new_study", "td50_new_study", "study_d50"} <= set(d)
    assert "seed=11" in repr(_small().truth)


# --------------------------------------------------------------------- aggregate binning


@pytest.mark.parametrize("mode", ["stratify", "fraction", "omit"])
def test_aggregate_rows_are_consistent_with_their_patients(mode):
    sim = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=5,
                          patients_per_study=[50, 60, 70, 80, 90], tau=0.2,
                          covariates={"ht": (0.4, 0.7)}, dose_rel_sd=0.2,
                          n_aggregate_studies=3, bins_per_study=4, aggregate_covariates=mode,
                          random_seed=3)
    frame, pts = sim.frame, sim.patients
    agg_pts = pts[pts["reported_as"] == "aggregate"]
    assert (agg_pts["bin"] >= 0).all() and (pts.loc[pts["reported_as"] == "ipd", "bin"] == -1).all()
    for row_id, members in agg_pts.groupby("bin"):
        row = frame.loc[row_id]
        assert row["study"] == members["study"].iloc[0]
        assert row["events"] == members["outcome"].sum() and row["n"] == len(members)
        assert row["dose"] == pytest.approx(np.median(members["dose"]))  # OBSERVED dose
        assert row["dose_low"] == members["dose"].min()
        assert row["dose_high"] == members["dose"].max()
        if mode == "stratify":
            assert row["ht"] == members["ht"].iloc[0] and members["ht"].nunique() == 1
        elif mode == "fraction":
            assert row["ht"] == pytest.approx(members["ht"].mean())
        else:
            assert np.isnan(row["ht"])
    per_study = frame[frame["events"].notna()].groupby("study").size()
    limit = 8 if mode == "stratify" else 4
    assert (per_study <= limit).all() and len(per_study) == 3
    data = sim.data
    assert data.is_mixed and data.n_patients == 350 and data.dose_summary == "median"
    assert data.n_events == int(pts["outcome"].sum())


def test_all_aggregate_cohort_and_ipd_alignment():
    agg = _small(n_aggregate_studies=4)
    assert not agg.data.has_ipd and agg.true_doses.size == 0
    assert "patient" not in agg.frame
    ipd = _small(n_aggregate_studies=1, dose_decimals=1)
    rows = ipd.data.ipd
    assert len(rows) == ipd.true_doses.size == 90
    np.testing.assert_allclose(rows["dose"], np.round(rows["dose"], 1))
    pts = ipd.patients.set_index("patient").loc[rows["patient"]]
    np.testing.assert_allclose(pts["true_dose"], ipd.true_doses)
    assert rows["patient"].is_unique


def test_per_study_dose_medians_and_callable():
    sim = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=3,
                          patients_per_study=20_000, dose_distribution=([10.0, 20.0, 40.0], 0.3),
                          random_seed=4)
    medians = sim.patients.groupby("study")["true_dose"].median().to_numpy()
    np.testing.assert_allclose(medians, [10.0, 20.0, 40.0], rtol=0.02)
    fixed = simulate_cohort(curve="log-logistic", d50=40.0, slope=2.0, n_studies=2,
                            patients_per_study=[3, 4],
                            dose_distribution=lambda rng, s, n: np.full(n, 10.0 * (s + 1)),
                            random_seed=4)
    assert fixed.patients["true_dose"].tolist() == [10.0] * 3 + [20.0] * 4


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d50": -1.0}, "d50"),
        ({"slope": 0.0}, "gamma50"),
        ({"n_studies": 0}, "n_studies"),
        ({"n_studies": 2.5}, "n_studies"),
        ({"patients_per_study": [10, 10]}, "patients_per_study"),
        ({"patients_per_study": 0}, "patients_per_study"),
        ({"patients_per_study": "many"}, "patients_per_study"),
        ({"tau": -0.1}, "tau"),
        ({"slope_tau": -0.1}, "slope_tau"),
        ({"covariates": [("ht", 0.3, 0.7)]}, "covariates"),
        ({"covariates": {"ht": (0.3,)}}, "covariates"),
        ({"covariates": {"ht": (1.5, 0.7)}}, "prevalence"),
        ({"covariates": {"ht": (0.3, 0.0)}}, "factor"),
        ({"covariates": {"dose": (0.3, 0.7)}}, "reserved"),
        ({"dose_distribution": "lognormal"}, "dose_distribution"),
        ({"dose_distribution": (-5.0, 0.3)}, "median"),
        ({"dose_distribution": ([10.0, 20.0], 0.3)}, "median"),
        ({"dose_distribution": (10.0, -0.3)}, "sd_log"),
        ({"dose_distribution": lambda rng, s, n: np.full(n, -1.0)}, "dose_distribution"),
        ({"dose_distribution": lambda rng, s, n: np.ones(n + 1)}, "dose_distribution"),
        ({"dose_rel_sd": 2.0}, "dose_rel_sd"),
        ({"dose_rel_sd": -0.1}, "dose_rel_sd"),
        ({"n_aggregate_studies": 5}, "n_aggregate_studies"),
        ({"bins_per_study": 0}, "bins_per_study"),
        ({"aggregate_covariates": "mean"}, "aggregate_covariates"),
        ({"dose_decimals": -1}, "dose_decimals"),
        ({"random_seed": -1}, "random_seed"),
        ({"random_seed": 1.5}, "random_seed"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        _small(**kwargs)


def test_unknown_names_raise_unknown_name_error():
    with pytest.raises(UnknownNameError, match="log-logistic"):
        _small(curve="sigmoid")
    t = _small().truth
    with pytest.raises(UnknownNameError, match="ht"):
        t.td(0.5, {"diabetes": 1})
    with pytest.raises(UnknownNameError, match="study01"):
        t.probability(30.0, study="nowhere")


def test_bad_probabilities_raise():
    t = _small().truth
    for p in (0.0, 1.0, 1.5):
        with pytest.raises(DoseResponseError, match="p must"):
            t.td(p)
        with pytest.raises(DoseResponseError, match="p must"):
            t.td_new_study(p)
    logistic = _small(curve="logistic", d50=40.0, slope=0.3).truth  # P(0) = expit(-1.2) = 0.23
    with pytest.raises(DoseResponseError, match="zero dose"):
        logistic.td_new_study(0.1)
    with pytest.raises(DoseResponseError):
        logistic.td(0.1)
    assert logistic.to_dict()["td5"] is None


# ------------------------------------------------------ time-activity → dose → BED pipeline


def _tac(**kw):
    from doseresponse.simulate import simulate_time_activity_cohort

    args = dict(d50=30.0, slope=2.0, n_studies=2, patients_per_study=6, n_cycles=2,
                covariates={"ht": (0.5, 0.7)}, random_seed=5)
    args.update(kw)
    return simulate_time_activity_cohort(**args)


def test_time_activity_cohort_is_reproducible_and_consistent():
    a, b = _tac(), _tac()
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    assert not a.samples.equals(_tac(random_seed=6).samples)
    assert len(a.samples) == 12 * 2 * 5 and len(a.kinetics) == 24
    assert a.truth.random_seed == 5
    pts = a.patients
    np.testing.assert_allclose(a.data.ipd["dose"], pts["bed_gy"])
    np.testing.assert_allclose(a.data.ipd["dose_se"], pts["bed_se_gy"])
    np.testing.assert_allclose(a.cohort.true_doses, pts["true_bed_gy"])
    assert (pts["true_bed_gy"] > pts["true_dose_gy"]).all()
    assert (pts["bed_se_gy"] > 0).all()
    # realistic dosimetry error: estimated BED close to, but not equal to, the truth
    ratio = pts["bed_gy"] / pts["true_bed_gy"]
    assert (abs(ratio - 1) < 0.15).all() and (ratio != 1).any()
    assert a.data.covariates == ("ht",)


def test_noise_free_mono_exponential_pipeline_recovers_closed_form_bed():
    from doseresponse.radiobiology.bed import bed_exponential
    from doseresponse.radiobiology.tissues import tissue_parameters

    sim = _tac(noise_rel_sd=0.0, fast_fraction=0.0, cycle_rel_sd=0.0, n_cycles=1)
    kin, pts = sim.kinetics, sim.patients
    np.testing.assert_allclose(pts["bed_gy"], pts["true_bed_gy"], rtol=1e-6)
    closed = bed_exponential(kin["true_dose_gy"].to_numpy(),
                             effective_half_life=kin["effective_half_life_h"].to_numpy(),
                             **tissue_parameters("kidney").lq_kwargs())
    np.testing.assert_allclose(pts["true_bed_gy"], closed, rtol=1e-9)
    np.testing.assert_allclose(kin["tia_mbq_h"], kin["true_tia_mbq_h"], rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_cycles": 0}, "n_cycles"),
        ({"sample_times_h": (24.0,)}, "sample_times_h"),
        ({"sample_times_h": (24.0, 4.0)}, "sample_times_h"),
        ({"fast_fraction": 1.0}, "fast_fraction"),
        ({"uptake_fraction": 0.03}, "uptake_fraction"),
        ({"effective_half_life_h": (-5.0, 0.1)}, "effective_half_life_h"),
        ({"activity_per_cycle_mbq": 0.0}, "activity_per_cycle_mbq"),
        ({"alpha_beta": -1.0}, "alpha_beta"),
        ({"random_seed": -3}, "random_seed"),
    ],
)
def test_time_activity_bad_arguments(kwargs, match):
    with pytest.raises(DoseResponseError, match=match):
        _tac(**kwargs)
