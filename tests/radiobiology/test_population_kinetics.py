"""Population time-activity fit: log density and gradient, data handling, result shapes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import doseresponse.radiobiology as rb
from doseresponse.exceptions import ConvergenceWarning, DataValidationError, DoseResponseError
from doseresponse.radiobiology._population_kernel import N_GLOBAL, curves
from doseresponse.radiobiology.population_kinetics import (
    _PopulationData,
    _PopulationDensity,
    _prior_vector,
)

LAM_PHYS = math.log(2) / rb.get_nuclide("Lu-177").half_life_h


def _samples(n_patients=4, seed=3, sd=False, injected=False):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for c in (1, 2):
            times = (4.0, 24.0, 96.0) if c == 1 else (96.0,)
            if p == n_patients - 1:  # a patient imaged once per cycle (non-centred)
                times = (96.0,) if c == 1 else (168.0,)
            for t in times:
                y = 150 * math.exp(-(math.log(2) / 50) * t) * math.exp(rng.normal(0, 0.05))
                rows.append({"patient": f"p{p}", "cycle": c, "time_h": t, "activity_mbq": y,
                             "activity_sd_mbq": 0.05 * y, "injected_activity_mbq": 7400.0})
    frame = pd.DataFrame(rows)
    if not sd:
        frame = frame.drop(columns="activity_sd_mbq")
    if not injected:
        frame = frame.drop(columns="injected_activity_mbq")
    return frame


def _density(frame):
    data = _PopulationData.from_samples(frame, LAM_PHYS)
    return _PopulationDensity(data, _prior_vector(None, data))


@pytest.mark.parametrize(("sd", "injected"), [(False, False), (True, True)])
def test_gradient_matches_central_finite_differences(sd, injected):
    density = _density(_samples(sd=sd, injected=injected))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = density.initial_point(int(rng.integers(1e6))) + rng.normal(0, 0.3, density.ndim)
        _, grad = density.logp_and_grad(x)
        h = 1e-6
        numeric = np.array([
            (density.logp_and_grad(x + h * e)[0] - density.logp_and_grad(x - h * e)[0]) / (2 * h)
            for e in np.eye(density.ndim)
        ])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def test_log_density_equals_scipy_closed_form():
    """Independent restatement of the model with scipy.stats densities (constants differ)."""
    frame = _samples(sd=True, injected=True)
    density = _density(frame)
    d, pri = density.data, density.priors
    rng = np.random.default_rng(1)

    def reference(x):
        n_p, n_c = len(d.patients), len(d.cycle_labels)
        w = np.exp(x[2:6])
        sigma = math.exp(x[6])
        b_a, b_l = x[N_GLOBAL:N_GLOBAL + n_p], x[N_GLOBAL + n_p:N_GLOBAL + 2 * n_p]
        z_a = x[N_GLOBAL + 2 * n_p:N_GLOBAL + 2 * n_p + n_c]
        z_l = x[N_GLOBAL + 2 * n_p + n_c:]
        lp = stats.norm.logpdf(x[0], pri[0], pri[1]) + stats.norm.logpdf(x[1], pri[2], pri[3])
        for j in range(4):
            lp += stats.halfnorm.logpdf(w[j], scale=pri[4 + j]) + x[2 + j]
        lp += stats.halfnorm.logpdf(sigma, scale=pri[8]) + x[6]
        pc = d.patient_centred.astype(bool)
        lp += stats.norm.logpdf(b_a[pc], x[0], w[0]).sum()
        lp += stats.norm.logpdf(b_l[pc], x[1], w[1]).sum()
        lp += stats.norm.logpdf(b_a[~pc]).sum() + stats.norm.logpdf(b_l[~pc]).sum()
        b_a = np.where(pc, b_a, x[0] + w[0] * b_a)  # non-centred: b = mu + omega z
        b_l = np.where(pc, b_l, x[1] + w[1] * b_l)
        centred = d.cycle_centred.astype(bool)
        # centred cycles: the effect itself ~ N(0, omega^2); others: z ~ N(0, 1), effect omega z
        lp += stats.norm.logpdf(z_a[centred], 0, w[2]).sum()
        lp += stats.norm.logpdf(z_l[centred], 0, w[3]).sum()
        lp += stats.norm.logpdf(z_a[~centred]).sum() + stats.norm.logpdf(z_l[~centred]).sum()
        eff_a = np.where(centred, z_a, w[2] * z_a)
        eff_l = np.where(centred, z_l, w[3] * z_l)
        log_a = d.log_offset + b_a[d.cycle_patient] + eff_a
        lam = LAM_PHYS + np.exp(b_l[d.cycle_patient] + eff_l)
        mean = log_a[d.obs_cycle] - lam[d.obs_cycle] * d.t
        lp += stats.norm.logpdf(d.log_y, mean, np.sqrt(sigma**2 + d.known_var)).sum()
        return lp

    x0 = density.initial_point(5)
    x1 = x0 + rng.normal(0, 0.4, density.ndim)
    # the kernel drops parameter-free constants: differences between two points must agree
    diff_kernel = density.logp_and_grad(x1)[0] - density.logp_and_grad(x0)[0]
    assert diff_kernel == pytest.approx(reference(x1) - reference(x0), rel=1e-10, abs=1e-9)


def test_curves_give_tia_of_a_mono_exponential():
    density = _density(_samples(injected=True))
    x = density.initial_point(2)
    d = density.data
    amp, rate = curves(x[None, :], d.cycle_patient, d.patient_centred, d.cycle_centred,
                       d.log_offset, LAM_PHYS)
    assert np.all(rate > LAM_PHYS)  # never slower than physical decay
    # TIA = A/λ is the integral of A e^{-λt} (closed form vs the package's exponential_tia)
    for a, r in zip(amp[0], rate[0], strict=True):
        assert rb.exponential_tia([a], [r]) == pytest.approx(a / r, rel=1e-12)


def test_data_layout_sorts_patients_and_counts_points():
    density = _density(_samples(n_patients=3))
    d = density.data
    assert d.patients == ("p0", "p1", "p2")
    assert list(d.n_points) == [3, 1, 3, 1, 1, 1]
    assert density.ndim == N_GLOBAL + 2 * 3 + 2 * 6
    assert np.all(d.known_var == 0.0)
    # centred cycle effects need >= 3 samples in a patient with two such cycles
    assert list(d.cycle_centred) == [0] * 6
    assert list(d.patient_centred) == [1, 1, 0]  # a cycle with >= 2 samples: centred patient


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda f: f.drop(columns="patient"), "missing column"),
        (lambda f: f.assign(activity_mbq=0.0), "activity_mbq"),
        (lambda f: f.assign(time_h=-1.0), "time_h"),
        (lambda f: f.assign(cycle=1.5), "whole numbers"),
        (lambda f: f.assign(region=np.where(np.arange(len(f)) % 2, "a", "b")), "several regions"),
        (lambda f: f[f["time_h"] == 96.0], "two or more time points"),
        (lambda f: f.iloc[0:0], "no rows"),
    ],
)
def test_bad_samples_raise_a_package_error_naming_the_fix(change, needle):
    with pytest.raises(DataValidationError, match=needle):
        rb.fit_time_activity_population(change(_samples()), random_seed=1)


def test_bad_settings_raise():
    with pytest.raises(DoseResponseError, match="bi-exponential"):
        rb.fit_time_activity_population(_samples(), model="bi-exponential")
    with pytest.raises(DoseResponseError, match="unknown key"):
        rb.fit_time_activity_population(_samples(), priors={"tau": 1})
    with pytest.raises(DoseResponseError, match="ci_prob"):
        rb.fit_time_activity_population(_samples(), ci_prob=1.5)


def test_short_fit_returns_tidy_frames_and_feeds_the_dosimetry_chain():
    frame = _samples(n_patients=5, injected=True)
    with pytest.warns(ConvergenceWarning, match="did NOT pass"):  # short chains: loud
        fit = rb.fit_time_activity_population(frame, draws=60, tune=60, chains=2,
                                              random_seed=7, progressbar=False)
    pc = fit.per_cycle
    assert list(pc.columns[:4]) == ["patient", "cycle", "n_points", "tia_mbq_h"]
    assert len(pc) == 10 and np.all(pc["tia_sd_mbq_h"] > 0)
    assert np.all(pc["tia_lower_mbq_h"] < pc["tia_mbq_h"])
    assert np.all(pc["tia_mbq_h"] < pc["tia_upper_mbq_h"])
    assert fit.diagnostics["converged"] is False  # 60 draws cannot reach ESS 400
    assert fit.posterior.attrs["random_seed"] == 7
    draws = fit.tia_draws("p1", 2)
    assert draws.shape == (120,)
    row = pc[(pc["patient"] == "p1") & (pc["cycle"] == 2)].iloc[0]
    assert draws.mean() == pytest.approx(row["tia_mbq_h"], rel=1e-12)
    with pytest.raises(DataValidationError, match="not in the population fit"):
        fit.tia_draws("nobody", 1)

    estimates = fit.tia_estimates("p1", "kidneys")
    one = frame[frame["patient"] == "p1"].assign(region="kidneys")
    result = rb.multicycle_dosimetry(one.drop(columns=["patient", "injected_activity_mbq"]),
                                     masses_kg={"kidneys": {1: 0.30, 2: 0.28}},
                                     tissues={"kidneys": "kidney"}, tia_estimates=estimates,
                                     calibration_rel_sd=0.05)
    per = result.per_cycle
    assert list(per["method"]) == ["population", "population"]
    assert list(per["mass_kg"]) == [0.30, 0.28]
    s2 = rb.local_deposition_s_value("Lu-177", 0.28)
    est2 = estimates[("kidneys", 2)]
    dose2 = est2.time_integrated_activity * s2
    assert per["dose_gy"].iloc[1] == pytest.approx(dose2, rel=1e-12)
    assert per["dose_se_gy"].iloc[1] == pytest.approx(
        math.hypot(est2.tia_se_components["fit"] * s2, 0.05 * dose2), rel=1e-12)
    assert np.isfinite(result.per_region["bed_se_gy"].iloc[0])
    assert math.isnan(result.per_region["mass_kg"].iloc[0])  # mass changes between cycles
