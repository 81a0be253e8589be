"""Population uptake-mono model: log density and gradient against finite differences and an
independent PyTensor graph, TIA formula, data handling and the dosimetry hand-off (fast)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import doseresponse.radiobiology as rb
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError, FitError
from doseresponse.radiobiology._population_kernel import N_GLOBAL, curves, uptake_excess
from doseresponse.radiobiology.population_kinetics import (
    _PopulationData,
    _PopulationDensity,
    _prior_vector,
)

LAM_PHYS = math.log(2) / rb.get_nuclide("Lu-177").half_life_h


def _samples(n_patients=5, seed=3, sd=False, injected=False):
    """Rising-then-falling curves (λw 0.02/h, λu 0.1/h) on a hybrid schedule."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for c in (1, 2):
            times = (4.0, 24.0, 96.0, 168.0) if c == 1 else (96.0,)
            if p == n_patients - 1:  # imaged once per cycle: no rise seen, non-centred δ
                times = (96.0,) if c == 1 else (168.0,)
            for t in times:
                y = 300 * (math.exp(-0.02 * t) - math.exp(-0.1 * t)) * math.exp(
                    rng.normal(0, 0.05))
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
    return _PopulationDensity(data, _prior_vector(None, data, "uptake-mono"), "uptake-mono")


def _points(density, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [density.initial_point(int(rng.integers(1e6))) + rng.normal(0, 0.3, density.ndim)
            for _ in range(n)]


def test_layout_flags_the_patients_whose_data_rise():
    density = _density(_samples())
    d = density.data
    # p0..p3: a 4-point cycle whose first sample (4 h) is below the later ones; p4: one scan
    assert list(density.uptake_centred) == [1, 1, 1, 1, 0]
    assert density.ndim == N_GLOBAL + 2 * 5 + 2 * 10 + 2 + 5
    assert d.patient_rises.dtype == np.int64
    # the mono-exponential density of the same data has no uptake block
    mono = _PopulationDensity(d, _prior_vector(None, d))
    assert mono.ndim == N_GLOBAL + 2 * 5 + 2 * 10 and mono.uptake_centred.size == 0


@pytest.mark.parametrize(("sd", "injected"), [(False, False), (True, True)])
def test_gradient_matches_central_finite_differences(sd, injected):
    density = _density(_samples(sd=sd, injected=injected))
    for x in _points(density):
        _, grad = density.logp_and_grad(x)
        h = 1e-6
        numeric = np.array([
            (density.logp_and_grad(x + h * e)[0] - density.logp_and_grad(x - h * e)[0]) / (2 * h)
            for e in np.eye(density.ndim)
        ])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)


def _pytensor_log_density(density):
    """The model written independently as a PyTensor graph (curve in its direct form
    A0 (e^{-λw t} - e^{-λu t}), not the kernel's log1mexp), differentiated by PyTensor."""
    import pytensor
    import pytensor.tensor as pt

    d, pri = density.data, density.priors
    n_p, n_c = len(d.patients), len(d.cycle_labels)
    x = pt.dvector("x")
    sigma = pt.exp(x[6])
    w = pt.exp(x[2:6])

    def normal(v, mu, sd):
        return pt.sum(-0.5 * ((v - mu) / sd) ** 2 - pt.log(sd) - 0.5 * math.log(2 * math.pi))

    def half_normal_log(log_v, scale):  # density of v = exp(log_v) plus the log-Jacobian
        v = pt.exp(log_v)
        return (math.log(2.0) + normal(v, 0.0, scale)) + log_v

    lp = normal(x[0], pri[0], pri[1]) + normal(x[1], pri[2], pri[3])
    for j in range(4):
        lp += half_normal_log(x[2 + j], pri[4 + j])
    lp += half_normal_log(x[6], pri[8])
    pc = d.patient_centred.astype(bool)
    raw_a, raw_l = x[N_GLOBAL:N_GLOBAL + n_p], x[N_GLOBAL + n_p:N_GLOBAL + 2 * n_p]
    z_a = x[N_GLOBAL + 2 * n_p:N_GLOBAL + 2 * n_p + n_c]
    z_l = x[N_GLOBAL + 2 * n_p + n_c:N_GLOBAL + 2 * n_p + 2 * n_c]
    u0 = N_GLOBAL + 2 * n_p + 2 * n_c
    mu_u, w_u, raw_u = x[u0], pt.exp(x[u0 + 1]), x[u0 + 2:]
    lp += normal(mu_u, pri[9], pri[10]) + half_normal_log(x[u0 + 1], pri[11])
    uc = density.uptake_centred.astype(bool)
    lp += normal(raw_a[pc], x[0], w[0]) + normal(raw_l[pc], x[1], w[1])
    lp += normal(raw_a[~pc], 0.0, 1.0) + normal(raw_l[~pc], 0.0, 1.0)
    lp += normal(raw_u[uc], mu_u, w_u) + normal(raw_u[~uc], 0.0, 1.0)
    b_a = pt.switch(pc, raw_a, x[0] + w[0] * raw_a)
    b_l = pt.switch(pc, raw_l, x[1] + w[1] * raw_l)
    b_u = pt.switch(uc, raw_u, mu_u + w_u * raw_u)
    cc = d.cycle_centred.astype(bool)
    lp += normal(z_a[cc], 0.0, w[2]) + normal(z_l[cc], 0.0, w[3])
    lp += normal(z_a[~cc], 0.0, 1.0) + normal(z_l[~cc], 0.0, 1.0)
    eff_a = pt.switch(cc, z_a, w[2] * z_a)
    eff_l = pt.switch(cc, z_l, w[3] * z_l)
    amp = pt.exp(d.log_offset + b_a[d.cycle_patient] + eff_a)
    lam_w = LAM_PHYS + pt.exp(b_l[d.cycle_patient] + eff_l)
    lam_u = lam_w + pt.exp(b_u[d.cycle_patient])
    k = d.obs_cycle
    curve = amp[k] * (pt.exp(-lam_w[k] * d.t) - pt.exp(-lam_u[k] * d.t))
    lp += normal(d.log_y, pt.log(curve), pt.sqrt(sigma**2 + d.known_var))
    return pytensor.function([x], [lp, pytensor.grad(lp, x)], mode="FAST_COMPILE")


def test_log_density_and_gradient_equal_an_independent_pytensor_graph():
    density = _density(_samples(sd=True, injected=True))
    reference = _pytensor_log_density(density)
    x0, *others = _points(density, n=4, seed=5)
    lp0_kernel = density.logp_and_grad(x0)[0]
    lp0_ref = reference(x0)[0]
    for x in [x0, *others]:
        lp, grad = density.logp_and_grad(x)
        lp_ref, grad_ref = reference(x)
        # the kernel drops parameter-free constants: differences between points must agree
        assert lp - lp0_kernel == pytest.approx(float(lp_ref) - float(lp0_ref), rel=1e-9,
                                                abs=1e-8)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-8)


def test_tia_of_the_draws_is_the_integral_of_the_package_uptake_curve():
    density = _density(_samples(injected=True))
    d = density.data
    x = np.stack(_points(density, n=2, seed=9))
    amp, lam_w = curves(x, d.cycle_patient, d.patient_centred, d.cycle_centred, d.log_offset,
                        LAM_PHYS)
    lam_u = lam_w + uptake_excess(x, len(d.patients), len(d.cycle_labels),
                                  density.uptake_centred, d.cycle_patient)
    assert np.all(lam_u > lam_w) and np.all(lam_w > LAM_PHYS)
    for a, lw, lu in zip(amp.ravel(), lam_w.ravel(), lam_u.ravel(), strict=True):
        # closed form A0 (1/λw - 1/λu) vs the package's exponential_tia of the same curve
        assert rb.exponential_tia([a, -a], [lw, lu]) == pytest.approx(a * (1 / lw - 1 / lu),
                                                                       rel=1e-12)


@pytest.mark.parametrize("sd", [False, True])
def test_mono_exponential_refuses_rising_data_and_names_the_cycle(sd):
    frame = _samples(sd=sd)
    with pytest.raises(FitError, match=r"4 patient-cycle\(s\) rise .*patient p0 cycle 1"):
        rb.fit_time_activity_population(frame, random_seed=1)
    # the washout samples alone (>= 24 h) are accepted by the pure washout model's checks
    data = _PopulationData.from_samples(frame[frame["time_h"] >= 24.0], LAM_PHYS)
    assert data.rising_cycles() == []


def test_uptake_priors_are_checked():
    with pytest.raises(DoseResponseError, match="uptake-mono' only"):
        rb.fit_time_activity_population(_samples(), priors={"uptake_half_life_h": (6, 1)})
    with pytest.raises(DoseResponseError, match="uptake_half_life_h"):
        rb.fit_time_activity_population(_samples(), model="uptake-mono",
                                        priors={"uptake_half_life_h": (-6, 1)})
    data = _PopulationData.from_samples(_samples(), LAM_PHYS)
    vector = _prior_vector({"uptake_half_life_h": (10.0, 0.5)}, data, "uptake-mono")
    assert vector.size == 12
    assert vector[9] == pytest.approx(math.log(math.log(2) / 10.0))
    assert vector[10] == 0.5 and vector[11] == 1.0


def test_short_uptake_fit_returns_tidy_frames_and_feeds_the_dosimetry_chain():
    frame = _samples(n_patients=5, injected=True)
    with pytest.warns(ConvergenceWarning, match="did NOT pass"):  # short chains: loud
        fit = rb.fit_time_activity_population(frame, model="uptake-mono", draws=60, tune=60,
                                              chains=2, random_seed=7, progressbar=False)
    assert fit.model == "uptake-mono"
    pc = fit.per_cycle
    assert len(pc) == 10 and np.all(pc["tia_sd_mbq_h"] > 0)
    assert np.all(pc["uptake_rate_per_h"] > LAM_PHYS)
    assert np.all(pc["uptake_rate_per_h"] > math.log(2) / pc["effective_half_life_h"])
    assert {"typical_uptake_half_life_h", "omega_uptake_patient"} <= set(
        fit.population["parameter"])
    draws = fit.tia_draws("p1", 2)
    row = pc[(pc["patient"] == "p1") & (pc["cycle"] == 2)].iloc[0]
    assert draws.mean() == pytest.approx(row["tia_mbq_h"], rel=1e-12)
    post = fit.posterior
    tia = post["amplitude"] * (1 / post["effective_rate"] - 1 / post["uptake_rate"])
    np.testing.assert_allclose(tia.to_numpy(), post["tia"].to_numpy(), rtol=1e-12)

    estimates = fit.tia_estimates("p1", "tumour")
    est = estimates[("tumour", 1)]
    assert est.model == "population-uptake-mono"
    # the hand-off curve rises then falls and integrates to the posterior-mean TIA
    assert est.predict([0.0])[0] == pytest.approx(0.0, abs=1e-9)
    assert est.predict([24.0])[0] > est.predict([4.0])[0]
    assert rb.exponential_tia(est.amplitudes_mbq, est.rates_per_h) == pytest.approx(
        est.time_integrated_activity, rel=1e-12)
    one = frame[frame["patient"] == "p1"].assign(region="tumour")
    result = rb.multicycle_dosimetry(one.drop(columns=["patient", "injected_activity_mbq"]),
                                     masses_kg={"tumour": 0.02}, tissues={"tumour": "tumour"},
                                     tia_estimates=estimates)
    per = result.per_cycle
    assert list(per["model"]) == ["population-uptake-mono"] * 2
    s = rb.local_deposition_s_value("Lu-177", 0.02)
    assert per["dose_gy"].iloc[0] == pytest.approx(est.time_integrated_activity * s, rel=1e-12)
    assert np.isfinite(result.per_region["bed_se_gy"].iloc[0])
