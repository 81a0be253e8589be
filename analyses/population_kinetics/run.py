"""Population kinetics vs per-patient fits and single-time-point methods on simulated cohorts.

Question: on simulated ¹⁷⁷Lu-DOTATATE kidney cohorts with known TIAs, how often is a patient-
cycle's TIA off by more than 10 % with the hierarchical population fit
(``rb.fit_time_activity_population``), per-patient fits (``rb.fit_time_activity``), Hänscheid,
Madsen and the reference-curve (hybrid) method, on 1-, 2-, 3- and 4-point schedules and a
hybrid schedule — and do the intervals cover the truth? On single-scan schedules, how much of
the error is set by the between-patient spread of the clearance and by the scan time? And on a
tumour-like cohort whose curves rise before they wash out, does the population uptake-mono
model (``model="uptake-mono"``) recover the TIAs and cover them?

Run: ``python analyses/population_kinetics/run.py`` (one cohort of 50 patients × 4 cycles per
row: the kidney schedules at 5 % noise, the sparse ones again at 10 %, two single-scan
sensitivity cohorts, three uptake cohorts; ~30–60 min on 2 shared cores) or ``--quick`` (small
cohorts, short chains; run by ``tests/test_analyses.py`` as a slow test). Writes
``results/population_kinetics[_quick].csv`` (every TIA), ``..._table.csv`` and ``..._table.md``
(the summary table) and ``..._runs.csv`` (time and diagnostics of each population fit).

All inputs are simulated; see README.md here for the parameter values and their sources.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import doseresponse.radiobiology as rb
from doseresponse.exceptions import ConvergenceWarning, DoseResponseError

HERE = Path(__file__).resolve().parent
LU177_HALF_LIFE_H = rb.get_nuclide("Lu-177").half_life_h
LAMBDA_PHYS = math.log(2.0) / LU177_HALF_LIFE_H

#: Simulation truth (kidneys, 177Lu-DOTATATE); sources in README.md.
TRUTH = {
    "injected_activity_mbq": 7400.0,   # 7.4 GBq per cycle (NETTER-1 schedule)
    "effective_half_life_h": 50.0,     # population median T_eff
    "half_life_log_sd_patient": 0.25,  # between-patient log-SD of the biological rate
    "rate_log_sd_cycle": 0.10,         # between-cycle (within-patient) log-SD of the rate
    "uptake_fraction": 0.0235,         # median kidney uptake fraction (extrapolated to t = 0)
    "uptake_log_sd_patient": 0.30,     # between-patient log-SD of the uptake
    "uptake_log_sd_cycle": 0.10,       # between-cycle log-SD of the uptake
}
REFERENCE_TIMES = (4.0, 24.0, 96.0, 168.0)
SCHEDULES = {
    "1 point (96 h)": [(96.0,)] * 4,
    "2 points (24, 96 h)": [(24.0, 96.0)] * 4,
    "3 points (24, 96, 168 h)": [(24.0, 96.0, 168.0)] * 4,
    "4 points (4, 24, 96, 168 h)": [REFERENCE_TIMES] * 4,
    "hybrid (cycle 1: 4 points; cycles 2-4: 96 h)": [REFERENCE_TIMES] + [(96.0,)] * 3,
}
STP_TIME_H = 96.0
#: Cohort labels of the table (the kidney cohorts state the between-patient log-SD of λ_biol).
KIDNEY = "kidney, mono-exp. truth, patient log-SD of λ_biol 0.25"
KIDNEY_LOW_SPREAD = "kidney, mono-exp. truth, patient log-SD of λ_biol 0.10"
TUMOUR = "tumour-like, uptake-mono truth (rises 2.5x 4→24 h)"
#: Single-time-point sensitivity runs (kidney cohort): the scan time and the between-patient
#: log-SD of the biological rate, to show what limits the "1 point in every cycle" row.
STP_SCHEDULES = {
    "1 point (72 h)": [(72.0,)] * 4,
}

#: Simulation truth of the uptake (rise-then-washout) cohort, a tumour-like region whose median
#: curve rises 2.5x from 4 h to 24 h as in the 4-point tumour example of issue 12; every value is
#: an **assumption** (README.md), the curve is the package's "uptake-mono" form
#: A0 (e^{-λw t} - e^{-λu t}) with λu = λw + δ.
UPTAKE_TRUTH = {
    "injected_activity_mbq": 7400.0,
    "effective_half_life_h": 80.0,       # median washout T_eff = ln 2 / λw
    "rate_log_sd_patient": 0.30,         # between-patient log-SD of the biological rate
    "rate_log_sd_cycle": 0.10,
    "uptake_excess_per_h": 0.09,         # median δ = λu - λw (rise half-time ln 2/δ = 7.7 h)
    "uptake_log_sd_patient": 0.30,       # between-patient log-SD of δ
    "amplitude_fraction": 40.0 / 7400.0,  # median A0 / injected activity
    "amplitude_log_sd_patient": 0.50,
    "amplitude_log_sd_cycle": 0.10,
}
UPTAKE_SCHEDULES = {
    "uptake: 4 points (4, 24, 96, 168 h)": [REFERENCE_TIMES] * 4,
    "uptake: 3 points (24, 96, 168 h)": [(24.0, 96.0, 168.0)] * 4,
    "uptake: hybrid (cycle 1: 4 points; cycles 2-4: 96 h)": [REFERENCE_TIMES] + [(96.0,)] * 3,
}


def simulate_cohort(
    schedule: list[tuple[float, ...]],
    *,
    n_reference: int = 10,
    n_study: int = 40,
    noise_log_sd: float = 0.05,
    seed: int = 0,
    rate_log_sd_patient: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate one cohort: reference patients imaged fully, study patients on ``schedule``.

    Parameters
    ----------
    schedule : list of tuple of float
        Imaging times (h) of each cycle of a study patient.
    n_reference, n_study : int
        Patients imaged at 4/24/96/168 h in every cycle, and patients on ``schedule``.
    noise_log_sd : float
        Log-SD of the multiplicative measurement noise of each activity sample.
    seed : int
        Seed of ``numpy.random.default_rng``.
    rate_log_sd_patient : float, optional
        Between-patient log-SD of the biological rate (default ``TRUTH``'s 0.25).

    Returns
    -------
    samples : pandas.DataFrame
        ``patient, cycle, time_h, activity_mbq, injected_activity_mbq, group``.
    truth : pandas.DataFrame
        ``patient, cycle, group, true_tia_mbq_h, true_effective_half_life_h``.
    """
    rng = np.random.default_rng(seed)
    rate_sd = TRUTH["half_life_log_sd_patient"] if rate_log_sd_patient is None else (
        rate_log_sd_patient)
    lam_bio_median = math.log(2.0) / TRUTH["effective_half_life_h"] - LAMBDA_PHYS
    rows, truth = [], []
    for i in range(n_reference + n_study):
        group = "reference" if i < n_reference else "study"
        patient = f"{group[0].upper()}{i:03d}"
        log_u = math.log(TRUTH["uptake_fraction"]) + rng.normal(0, TRUTH["uptake_log_sd_patient"])
        log_l = math.log(lam_bio_median) + rng.normal(0, rate_sd)
        times = [REFERENCE_TIMES] * 4 if group == "reference" else schedule
        for cycle, cycle_times in enumerate(times, start=1):
            amp = TRUTH["injected_activity_mbq"] * math.exp(
                log_u + rng.normal(0, TRUTH["uptake_log_sd_cycle"]))
            lam = LAMBDA_PHYS + math.exp(log_l + rng.normal(0, TRUTH["rate_log_sd_cycle"]))
            truth.append((patient, cycle, group, amp / lam, math.log(2.0) / lam))
            for t in cycle_times:
                y = amp * math.exp(-lam * t) * math.exp(rng.normal(0, noise_log_sd))
                rows.append((patient, cycle, t, y, TRUTH["injected_activity_mbq"], group))
    samples = pd.DataFrame(rows, columns=["patient", "cycle", "time_h", "activity_mbq",
                                          "injected_activity_mbq", "group"])
    truth = pd.DataFrame(truth, columns=["patient", "cycle", "group", "true_tia_mbq_h",
                                         "true_effective_half_life_h"])
    return samples, truth


def estimate_all(samples: pd.DataFrame, truth: pd.DataFrame, *, noise_log_sd: float,
                 draws: int, tune: int, chains: int, seed: int) -> pd.DataFrame:
    """Every method's TIA, SE/interval for the study patients (one row per method and cycle)."""
    out = []
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pop = rb.fit_time_activity_population(
            samples.drop(columns="group"), nuclide="Lu-177", draws=draws, tune=tune,
            chains=chains, random_seed=seed, progressbar=False)
    seconds = time.perf_counter() - start
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    pc = pop.per_cycle.merge(truth, on=["patient", "cycle"])
    for row in pc[pc["group"] == "study"].itertuples():
        out.append(("population", row.patient, row.cycle, row.n_points, row.tia_mbq_h,
                    row.tia_lower_mbq_h, row.tia_upper_mbq_h, row.true_tia_mbq_h))

    # Madsen's population T_eff: mean and SD of the reference patients' own mono-exponential fits
    ref_teff, fits = [], {}
    for (patient, cycle), g in samples.groupby(["patient", "cycle"]):
        if len(g) < 3:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = rb.fit_time_activity(g["time_h"], g["activity_mbq"],
                                           model="mono-exponential", nuclide="Lu-177",
                                           activity_sd=noise_log_sd * g["activity_mbq"])
            except DoseResponseError:
                fit = None
        fits[(patient, cycle)] = fit
        if fit is not None and g["group"].iloc[0] == "reference":
            ref_teff.append(fit.effective_half_life)
    t_pop, t_sd = float(np.mean(ref_teff)), float(np.std(ref_teff, ddof=1))

    z = 1.959963984540054
    for row in truth[truth["group"] == "study"].itertuples():
        g = samples[(samples["patient"] == row.patient) & (samples["cycle"] == row.cycle)]
        n = len(g)
        key = (row.patient, row.cycle)
        if n == 2:  # a 2-parameter fit needs 3 points: the package's per-patient options
            for name, kwargs in (("per-patient auto (trapezoid + physical tail)", {}),
                                 ("per-patient trapezoid + fitted tail", {"tail": "fit"})):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = rb.fit_time_activity(
                        g["time_h"], g["activity_mbq"], model="auto" if not kwargs else
                        "trapezoid", nuclide="Lu-177",
                        activity_sd=noise_log_sd * g["activity_mbq"], **kwargs)
                tia, se = fit.time_integrated_activity, fit.time_integrated_activity_se
                lo, hi = (np.nan, np.nan) if se is None else (tia - z * se, tia + z * se)
                out.append((name, *key, n, tia, lo, hi, row.true_tia_mbq_h))
        if n >= 3:
            fit = fits.get(key)
            if fit is not None and fit.time_integrated_activity_se is not None:
                tia, se = fit.time_integrated_activity, fit.time_integrated_activity_se
                out.append(("per-patient fit", *key, n, tia, tia - z * se, tia + z * se,
                            row.true_tia_mbq_h))
            elif fit is not None:
                tia = fit.time_integrated_activity
                out.append(("per-patient fit", *key, n, tia, np.nan, np.nan,
                            row.true_tia_mbq_h))
        if n == 1:
            a, t = float(g["activity_mbq"].iloc[0]), float(g["time_h"].iloc[0])
            methods = {
                "Hänscheid": rb.hanscheid_tia(a, t, effective_half_life_h=t_pop,
                                              effective_half_life_sd_h=t_sd,
                                              activity_rel_sd=noise_log_sd),
                "Madsen": rb.madsen_tia(a, t, t_pop, t_sd, activity_rel_sd=noise_log_sd),
            }
            ref = fits.get((row.patient, 1))
            if row.cycle > 1 and ref is not None and ref.acceptable:
                methods["reference curve (own cycle 1)"] = rb.reference_curve_tia(
                    a, t, ref, half_life_rel_sd=TRUTH["rate_log_sd_cycle"],
                    activity_rel_sd=noise_log_sd)
            for name, est in methods.items():
                tia, se = est.time_integrated_activity, est.time_integrated_activity_se
                lo, hi = (np.nan, np.nan) if se is None else (tia - z * se, tia + z * se)
                out.append((name, *key, n, tia, lo, hi, row.true_tia_mbq_h))
    frame = _scored(out)
    frame.attrs.update(fit_seconds=seconds, convergence_warnings=n_warn,
                       max_rhat=pop.diagnostics["max_rhat"],
                       min_ess=pop.diagnostics["min_ess_bulk"],
                       population_teff_h=t_pop, population_teff_sd_h=t_sd)
    return frame


def simulate_uptake_cohort(
    schedule: list[tuple[float, ...]],
    *,
    n_reference: int = 10,
    n_study: int = 40,
    noise_log_sd: float = 0.05,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a rise-then-washout cohort (``UPTAKE_TRUTH``), same design as ``simulate_cohort``.

    Parameters
    ----------
    schedule : list of tuple of float
        Imaging times (h) of each cycle of a study patient.
    n_reference, n_study : int
        Patients imaged at 4/24/96/168 h in every cycle, and patients on ``schedule``.
    noise_log_sd : float
        Log-SD of the multiplicative measurement noise of each activity sample.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    samples : pandas.DataFrame
        ``patient, cycle, time_h, activity_mbq, injected_activity_mbq, group``.
    truth : pandas.DataFrame
        ``patient, cycle, group, true_tia_mbq_h, true_effective_half_life_h``: the TIA is
        A0 (1/λw - 1/λu), the half-life that of the washout.
    """
    rng = np.random.default_rng(seed)
    u = UPTAKE_TRUTH
    lam_bio_median = math.log(2.0) / u["effective_half_life_h"] - LAMBDA_PHYS
    rows, truth = [], []
    for i in range(n_reference + n_study):
        group = "reference" if i < n_reference else "study"
        patient = f"{group[0].upper()}{i:03d}"
        log_a = math.log(u["amplitude_fraction"]) + rng.normal(0, u["amplitude_log_sd_patient"])
        log_l = math.log(lam_bio_median) + rng.normal(0, u["rate_log_sd_patient"])
        delta = math.exp(math.log(u["uptake_excess_per_h"])
                         + rng.normal(0, u["uptake_log_sd_patient"]))
        times = [REFERENCE_TIMES] * 4 if group == "reference" else schedule
        for cycle, cycle_times in enumerate(times, start=1):
            amp = u["injected_activity_mbq"] * math.exp(
                log_a + rng.normal(0, u["amplitude_log_sd_cycle"]))
            lam_w = LAMBDA_PHYS + math.exp(log_l + rng.normal(0, u["rate_log_sd_cycle"]))
            lam_u = lam_w + delta
            truth.append((patient, cycle, group, amp * (1.0 / lam_w - 1.0 / lam_u),
                          math.log(2.0) / lam_w))
            for t in cycle_times:
                y = (amp * (math.exp(-lam_w * t) - math.exp(-lam_u * t))
                     * math.exp(rng.normal(0, noise_log_sd)))
                rows.append((patient, cycle, t, y, u["injected_activity_mbq"], group))
    samples = pd.DataFrame(rows, columns=["patient", "cycle", "time_h", "activity_mbq",
                                          "injected_activity_mbq", "group"])
    truth = pd.DataFrame(truth, columns=["patient", "cycle", "group", "true_tia_mbq_h",
                                         "true_effective_half_life_h"])
    return samples, truth


def _population_rows(samples: pd.DataFrame, truth: pd.DataFrame, model: str, name: str, *,
                     draws: int, tune: int, chains: int, seed: int) -> tuple[list, dict]:
    """One population fit: rows for the study patient-cycles and the fit's run record."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pop = rb.fit_time_activity_population(
            samples.drop(columns="group"), nuclide="Lu-177", model=model, draws=draws,
            tune=tune, chains=chains, random_seed=seed, progressbar=False)
    record = {"model": model, "fit_seconds": time.perf_counter() - start,
              "convergence_warnings": sum(issubclass(w.category, ConvergenceWarning)
                                          for w in caught),
              "max_rhat": pop.diagnostics["max_rhat"],
              "min_ess": pop.diagnostics["min_ess_bulk"]}
    pc = pop.per_cycle.merge(truth, on=["patient", "cycle"])
    rows = [(name, r.patient, r.cycle, r.n_points, r.tia_mbq_h, r.tia_lower_mbq_h,
             r.tia_upper_mbq_h, r.true_tia_mbq_h) for r in pc[pc["group"] == "study"].itertuples()]
    return rows, record


def estimate_uptake(samples: pd.DataFrame, truth: pd.DataFrame, *, noise_log_sd: float,
                    draws: int, tune: int, chains: int, seed: int) -> pd.DataFrame:
    """Every method's TIA on an uptake cohort (study patients; one row per method and cycle).

    Methods: the population uptake-mono fit; the population mono-exponential fit of the
    washout samples only (>= 24 h: a pure washout refuses rising data, so this is what the
    mono-exponential model can do with them, shown for contrast); per-patient
    ``fit_time_activity`` with ``model="uptake-mono"`` (>= 4 points) and ``model="auto"``
    (>= 3 points); for single scans Hänscheid, Madsen (population T_eff: the reference
    patients' per-patient uptake-mono washout half-lives, mean ± SD) and the reference curve
    (own cycle-1 ``auto`` fit).
    """
    out, records = [], []
    washout = samples[samples["time_h"] >= 24.0]
    for model, name, data in (
            ("uptake-mono", "population uptake-mono", samples),
            ("mono-exponential", "population mono (washout samples >= 24 h)", washout)):
        rows, record = _population_rows(data, truth, model, name, draws=draws, tune=tune,
                                        chains=chains, seed=seed)
        out += rows
        records.append(record)
    z = 1.959963984540054
    fits: dict[tuple[str, int], dict[str, object]] = {}
    ref_washout = []
    for (patient, cycle), g in samples.groupby(["patient", "cycle"]):
        if len(g) < 3:
            continue
        fits[(patient, cycle)] = {}
        for model in ("uptake-mono", "auto"):
            if model == "uptake-mono" and len(g) < 4:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fit = rb.fit_time_activity(g["time_h"], g["activity_mbq"], model=model,
                                               nuclide="Lu-177",
                                               activity_sd=noise_log_sd * g["activity_mbq"])
                except DoseResponseError:
                    continue
            fits[(patient, cycle)][model] = fit
        up = fits[(patient, cycle)].get("uptake-mono")
        if up is not None and g["group"].iloc[0] == "reference":
            ref_washout.append(up.terminal_half_life)
    t_pop, t_sd = float(np.mean(ref_washout)), float(np.std(ref_washout, ddof=1))
    for row in truth[truth["group"] == "study"].itertuples():
        g = samples[(samples["patient"] == row.patient) & (samples["cycle"] == row.cycle)]
        n, key = len(g), (row.patient, row.cycle)
        for model, fit in fits.get(key, {}).items():
            tia, se = fit.time_integrated_activity, fit.time_integrated_activity_se
            lo, hi = (np.nan, np.nan) if se is None else (tia - z * se, tia + z * se)
            label = ("per-patient uptake-mono fit" if model == "uptake-mono"
                     else "per-patient auto")
            out.append((label, *key, n, tia, lo, hi, row.true_tia_mbq_h))
        if n == 1:
            a, t = float(g["activity_mbq"].iloc[0]), float(g["time_h"].iloc[0])
            methods = {
                "Hänscheid": rb.hanscheid_tia(a, t, effective_half_life_h=t_pop,
                                              effective_half_life_sd_h=t_sd,
                                              activity_rel_sd=noise_log_sd),
                "Madsen": rb.madsen_tia(a, t, t_pop, t_sd, activity_rel_sd=noise_log_sd),
            }
            ref = fits.get((row.patient, 1), {}).get("auto")
            if row.cycle > 1 and ref is not None and ref.acceptable:
                methods["reference curve (own cycle 1)"] = rb.reference_curve_tia(
                    a, t, ref, half_life_rel_sd=UPTAKE_TRUTH["rate_log_sd_cycle"],
                    activity_rel_sd=noise_log_sd)
            for name, est in methods.items():
                tia, se = est.time_integrated_activity, est.time_integrated_activity_se
                lo, hi = (np.nan, np.nan) if se is None else (tia - z * se, tia + z * se)
                out.append((name, *key, n, tia, lo, hi, row.true_tia_mbq_h))
    frame = _scored(out)
    frame.attrs.update(fit_seconds=records[0]["fit_seconds"],
                       convergence_warnings=records[0]["convergence_warnings"],
                       max_rhat=records[0]["max_rhat"], min_ess=records[0]["min_ess"],
                       population_teff_h=t_pop, population_teff_sd_h=t_sd,
                       mono_fit_seconds=records[1]["fit_seconds"],
                       mono_convergence_warnings=records[1]["convergence_warnings"],
                       mono_max_rhat=records[1]["max_rhat"], mono_min_ess=records[1]["min_ess"])
    return frame


def _scored(out: list) -> pd.DataFrame:
    frame = pd.DataFrame(out, columns=["method", "patient", "cycle", "n_points", "tia_mbq_h",
                                       "lower_mbq_h", "upper_mbq_h", "true_tia_mbq_h"])
    frame["rel_error"] = frame["tia_mbq_h"] / frame["true_tia_mbq_h"] - 1.0
    frame["covered"] = np.where(
        frame["lower_mbq_h"].notna(),
        (frame["lower_mbq_h"] <= frame["true_tia_mbq_h"])
        & (frame["true_tia_mbq_h"] <= frame["upper_mbq_h"]), np.nan)
    return frame


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Per noise level, schedule and method: TIAs, fraction off by > 10 %, errors, coverage."""
    def stats(g: pd.DataFrame) -> pd.Series:
        err = g["rel_error"]
        cov = g["covered"].dropna()
        return pd.Series({
            "n_tia": len(g),
            "frac_off_gt_10pct": float((err.abs() > 0.10).mean()),
            "median_abs_error": float(err.abs().median()),
            "rms_error": float(np.sqrt((err**2).mean())),
            "mean_error": float(err.mean()),
            "coverage_95": float(cov.astype(float).mean()) if len(cov) else np.nan,
        })
    keys = ["cohort", "noise_log_sd", "schedule", "points_in_cycle", "method"]
    res = results.assign(points_in_cycle=results["n_points"].map(
        lambda n: "1 (STP)" if n == 1 else str(n)))
    return res.groupby(keys, sort=False).apply(stats, include_groups=False).reset_index()


def markdown_table(table: pd.DataFrame) -> str:
    """The summary as a Markdown table (percentages)."""
    lines = ["| cohort | noise | schedule | points in cycle | method | TIAs | off > 10 % | "
             "median abs. error | RMS error | mean error | 95 % coverage |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        cov = "—" if not np.isfinite(r.coverage_95) else f"{100 * r.coverage_95:.1f} %"
        lines.append(
            f"| {r.cohort} | {100 * r.noise_log_sd:.0f} % | {r.schedule} | {r.points_in_cycle} "
            f"| {r.method} "
            f"| {int(r.n_tia)} | {100 * r.frac_off_gt_10pct:.1f} % | "
            f"{100 * r.median_abs_error:.1f} % | {100 * r.rms_error:.1f} % | "
            f"{100 * r.mean_error:+.1f} % | {cov} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Run the analysis; return ``{"results": every TIA, "table": the summary}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one small cohort per schedule, short chains (seconds)")
    parser.add_argument("--out", default=str(HERE / "results"), help="output folder")
    args = parser.parse_args(argv)
    hybrid, one = "hybrid (cycle 1: 4 points; cycles 2-4: 96 h)", "1 point (96 h)"
    up_hybrid = "uptake: hybrid (cycle 1: 4 points; cycles 2-4: 96 h)"
    if args.quick:
        plan = dict(runs=[(KIDNEY, 0.05, hybrid), (KIDNEY, 0.05, one),
                          (TUMOUR, 0.05, up_hybrid)],
                    replicates=1, n_reference=6, n_study=14, draws=300, tune=300, chains=2)
    else:
        plan = dict(runs=[(KIDNEY, 0.05, name) for name in SCHEDULES]
                    + [(KIDNEY, 0.10, one), (KIDNEY, 0.10, hybrid)]
                    + [(KIDNEY_LOW_SPREAD, 0.05, one), (KIDNEY, 0.05, "1 point (72 h)"),
                       (KIDNEY_LOW_SPREAD, 0.05, "1 point (72 h)")]
                    + [(TUMOUR, 0.05, name) for name in UPTAKE_SCHEDULES],
                    replicates=1, n_reference=10, n_study=40, draws=1000, tune=1000, chains=4)
    frames, runs = [], []
    for cohort, noise, name in plan["runs"]:
        names = [*SCHEDULES, *STP_SCHEDULES, *UPTAKE_SCHEDULES]
        s_index = names.index(name)
        for rep in range(plan["replicates"]):
            # the kidney cohort's seeds are those of the first version of this analysis
            seed = (20261201 + 1000 * s_index + 100 * rep + round(100 * noise)
                    + (7 if cohort == KIDNEY_LOW_SPREAD else 0))
            common = dict(n_reference=plan["n_reference"], n_study=plan["n_study"],
                          noise_log_sd=noise, seed=seed)
            run = dict(noise_log_sd=noise, draws=plan["draws"], tune=plan["tune"],
                       chains=plan["chains"], seed=seed)
            if cohort == TUMOUR:
                samples, truth = simulate_uptake_cohort(UPTAKE_SCHEDULES[name], **common)
                frame = estimate_uptake(samples, truth, **run)
            else:
                schedule = {**SCHEDULES, **STP_SCHEDULES}[name]
                rate_sd = 0.10 if cohort == KIDNEY_LOW_SPREAD else None
                samples, truth = simulate_cohort(schedule, rate_log_sd_patient=rate_sd,
                                                 **common)
                frame = estimate_all(samples, truth, **run)
            frames.append(frame.assign(cohort=cohort, noise_log_sd=noise, schedule=name,
                                       replicate=rep))
            runs.append({"cohort": cohort, "noise_log_sd": noise, "schedule": name,
                         "replicate": rep, **frame.attrs})
            print(f"{cohort} | noise {noise:.2f} | {name} | rep {rep}: population fit "
                  f"{frame.attrs['fit_seconds']:.0f} s, max R-hat "
                  f"{frame.attrs['max_rhat']:.3f}, min ESS {frame.attrs['min_ess']:.0f}",
                  flush=True)
    results = pd.concat(frames, ignore_index=True)
    table = summarise(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    results.to_csv(out / f"population_kinetics{suffix}.csv", index=False)
    table.to_csv(out / f"population_kinetics{suffix}_table.csv", index=False)
    pd.DataFrame(runs).to_csv(out / f"population_kinetics{suffix}_runs.csv", index=False)
    text = markdown_table(table)
    (out / f"population_kinetics{suffix}_table.md").write_text(text, encoding="utf-8")
    print(text)
    return {"results": results, "table": table, "runs": pd.DataFrame(runs)}


if __name__ == "__main__":
    main()
