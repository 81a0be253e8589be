"""The ``doseresponse demo`` job: the whole loop on the shipped (simulated) data.

1. The synthetic 4-cycle ¹⁷⁷Lu-DOTATATE patient shipped in ``doseresponse/examples`` (see
   ``datasets/example_lu177_patient/README.md``): every time-activity curve fitted, kidney,
   red-marrow and tumour absorbed dose, multi-cycle BED, EQD2 and the tumour's EUDs.
2. The simulated multi-centre cohort ``sim_lu177_multicentre_samples``: each patient's kidney
   and lesion BED from its time-activity samples, then partially pooled kidney NTCP and lesion
   TCP fits.
3. The example patient's prescription from its cycle-1 dosimetry and the physician report.

Everything is written to an output folder: ``summary.html`` (links every other file),
``report.html`` (the physician report), the fits (NetCDF), the plan (JSON), ``results.json``
and CSV tables and PNG figures.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.eud import eubed, geud
from doseresponse.radiobiology.pipeline import MultiCycleDosimetry, multicycle_dosimetry
from doseresponse.radiobiology.tissues import tissue_parameters

__all__ = [
    "DEFAULT_SEED",
    "OUTPUT_FILES",
    "DemoResult",
    "example_dosimetry",
    "load_example_patient",
    "run_demo",
    "summary_lines",
    "tumour_voxel_summary",
]

EXAMPLE_STEM = "lu177_dotatate_patient"
TUMOUR_HETEROGENEITY_CV = 0.30
TUMOUR_VOXELS = 20_000
TUMOUR_MAP_SEED = 7
GEUD_A_TUMOUR = -10.0
#: Time-activity models: "auto" (AICc) for the organs; the lesion is imaged at only five time
#: points and its uptake phase is visible at 4 h, but with five points AICc's small-sample penalty
#: favours the 2-parameter mono-exponential, which cannot rise — so the lesion's model is set.
TAC_MODELS = {"kidneys": "auto", "red_marrow": "auto", "tumour": "uptake-mono"}
#: α (Gy⁻¹) assumed for the lesion's EUBED when the tissue preset gives only a range (the generic
#: NET tumour preset reports 0.1–0.35 Gy⁻¹; 0.2 Gy⁻¹ is a stated assumption inside that range).
TUMOUR_ALPHA_ASSUMED = 0.2

#: Reference thresholds drawn on the summary figure (values and sources: shared reference notes).
THRESHOLDS = {
    "kidneys": [
        ("BED 40 Gy (no risk factors; Bodei et al. 2008)", 40.0, "bed_gy"),
        ("BED 28 Gy (with risk factors; Bodei et al. 2008)", 28.0, "bed_gy"),
    ],
    "red_marrow": [("2 Gy absorbed dose (Benua et al. 1962, adopted for PRRT)", 2.0, "dose_gy")],
}


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    dosimetry : doseresponse.radiobiology.MultiCycleDosimetry
        The example patient's 4-cycle dosimetry.
    tumour : pandas.DataFrame
        The example lesion's EUDs (:func:`tumour_voxel_summary`).
    files : dict of str to pathlib.Path
        Every file written (keys of :data:`OUTPUT_FILES`).
    cohort : pandas.DataFrame
        Per cohort patient: estimated and true course kidney and lesion BED, outcomes.
    fits : dict
        ``{"ntcp": FittedModel, "tcp": FittedModel}`` of the cohort.
    plan : doseresponse.prescribe.Plan
        The example patient's prescription.
    results : dict
        The numbers printed and saved in ``results.json`` (each says which quantity it is).
    """

    dosimetry: MultiCycleDosimetry
    tumour: pd.DataFrame
    files: dict[str, Path]
    cohort: pd.DataFrame = field(repr=False)
    fits: dict = field(repr=False)
    plan: object = field(repr=False)
    results: dict = field(repr=False)


def load_example_patient() -> tuple[pd.DataFrame, dict]:
    """Time-activity samples (tidy frame) and metadata of the shipped example patient.

    Returns
    -------
    samples : pandas.DataFrame
        One row per (cycle, region, time) sample: activity in MBq at time in h.
    meta : dict
        The patient's metadata (administered activities, masses, nuclide, provenance), as in
        ``doseresponse/examples/lu177_dotatate_patient.json``.
    """
    folder = resources.files("doseresponse") / "examples"
    with (folder / f"{EXAMPLE_STEM}.csv").open("r") as handle:
        samples = pd.read_csv(handle)
    with (folder / f"{EXAMPLE_STEM}.json").open("r") as handle:
        meta = json.load(handle)
    return samples, meta


def example_dosimetry() -> tuple[pd.DataFrame, dict, MultiCycleDosimetry]:
    """The example patient's samples, metadata and 4-cycle dosimetry (as the demo computes it).

    Returns
    -------
    samples : pandas.DataFrame
        :func:`load_example_patient`'s samples.
    meta : dict
        Its metadata.
    dosimetry : doseresponse.radiobiology.MultiCycleDosimetry
        :func:`~doseresponse.radiobiology.multicycle_dosimetry` with the patient's masses and
        tissue presets and the demo's time-activity models (``TAC_MODELS``).
    """
    samples, meta = load_example_patient()
    dosimetry = multicycle_dosimetry(
        samples,
        masses_kg=meta["masses_kg"],
        tissues=meta["tissue_presets"],
        nuclide=meta["nuclide"],
        model=TAC_MODELS,
    )
    return samples, meta, dosimetry


def tumour_voxel_summary(
    dosimetry: MultiCycleDosimetry, *, region: str = "tumour"
) -> pd.DataFrame:
    r"""EUDs of a lesion with a synthetic log-normal voxel heterogeneity.

    The lesion's mean dose per cycle comes from ``dosimetry``; each voxel receives the same
    relative share :math:`w_v` of every cycle (same kinetics everywhere, O'Donoghue 1999), with
    :math:`w_v` log-normal with mean 1 and CV 30 % (seeded). Voxel BED is then
    :math:`\mathrm{BED}_v = w_v \sum_c D_c + w_v^2 \sum_c G_c D_c^2/(\alpha/\beta)`.

    When the tissue preset has no single α, ``TUMOUR_ALPHA_ASSUMED`` is used (stated in the
    report).

    Parameters
    ----------
    dosimetry : doseresponse.radiobiology.MultiCycleDosimetry
        The patient's multi-cycle dosimetry (per-cycle mean doses and G factors of ``region``).
    region : str, default "tumour"
        The lesion's region name in ``dosimetry``.

    Returns
    -------
    pandas.DataFrame
        Mean dose, gEUD (a = −10; Niemierko 1999, Med Phys 26:1100), mean BED and EUBED
        (Prideaux et al. 2007, J Nucl Med 48:1008) in Gy.
    """
    cycles = dosimetry.per_cycle[dosimetry.per_cycle["region"] == region]
    region_row = dosimetry.per_region.set_index("region").loc[region]
    tissue = tissue_parameters(str(region_row["tissue"]))
    alpha = tissue.alpha
    if alpha is None:
        low, high = tissue.alpha_range or (TUMOUR_ALPHA_ASSUMED, TUMOUR_ALPHA_ASSUMED)
        if not low <= TUMOUR_ALPHA_ASSUMED <= high:
            raise DoseResponseError(
                f"tissue {tissue.name!r} has no α preset and its range {low}-{high} Gy⁻¹ excludes "
                f"the demo's assumed α = {TUMOUR_ALPHA_ASSUMED} Gy⁻¹; EUBED needs α."
            )
        alpha = TUMOUR_ALPHA_ASSUMED
    rng = np.random.default_rng(TUMOUR_MAP_SEED)
    sigma = np.sqrt(np.log1p(TUMOUR_HETEROGENEITY_CV**2))
    weights = rng.lognormal(-0.5 * sigma**2, sigma, TUMOUR_VOXELS)
    doses = cycles["dose_gy"].to_numpy()
    quadratic = np.sum(cycles["g_factor"].to_numpy() * doses**2) / tissue.alpha_beta
    voxel_dose = weights * doses.sum()
    voxel_bed = weights * doses.sum() + weights**2 * quadratic
    return pd.DataFrame(
        [
            {"quantity": "mean absorbed dose", "value_gy": float(voxel_dose.mean())},
            {
                "quantity": f"gEUD (a = {GEUD_A_TUMOUR:g})",
                "value_gy": geud(voxel_dose, a=GEUD_A_TUMOUR),
            },
            {"quantity": "mean BED", "value_gy": float(voxel_bed.mean())},
            {
                "quantity": f"EUBED (α = {alpha:g} Gy⁻¹)",
                "value_gy": eubed(voxel_bed, alpha=alpha),
            },
        ]
    )


#: Seed of the demo's fits, tolerance doses and prescription when none is given.
DEFAULT_SEED = 20261201

#: Output files of :func:`run_demo` (key → file name inside the output folder).
OUTPUT_FILES = {
    "html": "summary.html",
    "tac_png": "time_activity_fits.png",
    "dose_png": "dose_bed_summary.png",
    "per_cycle_csv": "per_cycle.csv",
    "per_region_csv": "per_region.csv",
    "tumour_csv": "tumour_eud.csv",
    "cohort_csv": "cohort_doses.csv",
    "ntcp_fit": "kidney_ntcp.nc",
    "tcp_fit": "tumour_tcp.nc",
    "plan_json": "plan.json",
    "report_html": "report.html",
    "results_json": "results.json",
}


def run_demo(
    out_dir: str | Path = "doseresponse-demo",
    *,
    overwrite: bool = False,
    random_seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole loop on the shipped data and write every output to ``out_dir``.

    1. The example patient (``doseresponse/examples``): time-activity fits, absorbed dose, BED,
       EQD2 and EUDs of 4 cycles.
    2. The simulated multi-centre cohort ``sim_lu177_multicentre_samples``: every patient's
       course kidney and lesion BED from its samples.
    3. Partially pooled log-logistic kidney NTCP and lesion TCP fits (default sampler).
    4. The example patient's activity per cycle from its cycle-1 dosimetry (new-centre kidney
       NTCP at 5 %), and the physician report of both fits with that prescription.

    Parameters
    ----------
    out_dir : str or Path
        Output folder; created if needed.
    overwrite : bool, default False
        Replace output files that already exist in ``out_dir``. Without it, existing files are
        never touched and an error says which ones are in the way (checked before any work).
    random_seed : int, optional
        Seed of the fits, tolerance doses and prescription (default :data:`DEFAULT_SEED`).
    progress : callable, optional
        Called with one line of text at each step (elapsed seconds first).

    Returns
    -------
    DemoResult

    Raises
    ------
    DoseResponseError
        If output files exist and ``overwrite`` is False, or ``random_seed`` is not a whole
        number >= 0.
    """
    from doseresponse import _demo_cohort as cohort

    seed = DEFAULT_SEED if random_seed is None else random_seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DoseResponseError(f"random_seed must be a whole number >= 0; got {seed!r}.")
    seed = int(seed)
    out = Path(out_dir)
    files = {key: out / name for key, name in OUTPUT_FILES.items()}
    existing = [str(p) for p in files.values() if p.exists()]
    if existing and not overwrite:
        raise DoseResponseError(
            f"output files already exist: {', '.join(existing)}. Pass --overwrite to replace "
            "them or choose another folder with --out."
        )
    start, start_cpu = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    cpu_times: dict[str, float] = {}

    def step(name: str, text: str) -> None:
        timings[name] = time.perf_counter() - start
        cpu_times[name] = time.process_time() - start_cpu
        if progress is not None:
            progress(f"[{timings[name]:5.1f} s] {text}")

    step("start", f"output folder {out}; example patient: fitting 12 time-activity curves "
                  "(3 regions x 4 cycles)")
    samples, meta, dosimetry = example_dosimetry()
    tumour = tumour_voxel_summary(dosimetry)
    cohort_samples = cohort.load_cohort_samples()
    n_patients = cohort_samples["patient"].nunique()
    step("example", f"cohort {cohort.COHORT_DATASET}: course kidney and lesion BED of "
                    f"{n_patients} patients in {cohort_samples['study'].nunique()} centres "
                    "from their samples")
    doses = cohort.cohort_doses(
        cohort_samples, progress=None if progress is None else lambda t: step("dosimetry", t))
    step("dosimetry", f"fitting kidney NTCP and lesion TCP (log-logistic, partial pooling): "
                      f"{cohort.CHAINS} chains x ({cohort.TUNE} warm-up + {cohort.DRAWS} draws) "
                      "each; a first run also compiles the model (numba)")
    fits = cohort.fit_cohort(cohort.cohort_data(doses), random_seed=seed)
    step("fits", "tolerance doses and diagnostics; prescribing the example patient "
                 f"({cohort.PRESCRIBED_CYCLES} cycles, new-centre kidney NTCP "
                 f"<= {cohort.NTCP_LIMIT:.0%})")
    numbers = cohort.fit_numbers(fits, random_seed=seed)
    regions = cohort.example_regions(dosimetry, meta)
    plan = cohort.prescribe_example(regions, fits, random_seed=seed)
    step("plan", "writing the physician report and the output files")
    out.mkdir(parents=True, exist_ok=True)

    from doseresponse._demo_figures import plot_dose_summary, plot_time_activity_fits
    from doseresponse.report import write_report

    write_report(fits["ntcp"], files["report_html"], tcp=fits["tcp"], plan=plan,
                 overwrite=overwrite, title="doseresponse demo: kidney NTCP, lesion TCP and "
                 "the example patient's prescription (simulated data)")
    for key in ("ntcp", "tcp"):
        fits[key].save(files[f"{key}_fit"], overwrite=overwrite)
    plan.save(files["plan_json"], overwrite=overwrite)
    doses.to_csv(files["cohort_csv"], index=False)
    tac_png = _png_bytes(plot_time_activity_fits(samples, dosimetry))
    dose_png = _png_bytes(plot_dose_summary(dosimetry, THRESHOLDS))
    files["tac_png"].write_bytes(tac_png)
    files["dose_png"].write_bytes(dose_png)
    dosimetry.per_cycle.to_csv(files["per_cycle_csv"], index=False)
    dosimetry.per_region.to_csv(files["per_region_csv"], index=False)
    tumour.to_csv(files["tumour_csv"], index=False)
    results = _results(dosimetry, doses, numbers, plan, seed)
    step("written", f"done: report {files['report_html']}")
    # elapsed wall-clock and CPU seconds (all threads) at the end of each step
    results["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    results["cpu_times_s"] = {k: round(v, 2) for k, v in cpu_times.items()}
    files["results_json"].write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    # the summary page links every other output: written last, so a complete-looking folder
    # is a complete one
    files["html"].write_text(
        _html_report(meta, dosimetry, tumour, tac_png, dose_png, results, files))
    return DemoResult(dosimetry=dosimetry, tumour=tumour, files=files, cohort=doses, fits=fits,
                      plan=plan, results=results)


def _results(dosimetry, doses: pd.DataFrame, numbers: dict, plan, seed: int) -> dict:
    """The demo's numbers as JSON-ready data, each saying which quantity it is."""
    from doseresponse import _demo_cohort as cohort

    ratio = {
        region: float((doses[f"{region}_bed_gy"] / doses[f"{region}_true_bed_gy"]).median())
        for region in cohort.COHORT_TISSUES
    }
    curves = {c["region"]: {"kind": c["kind"], "mean": float(c["mean"]),
                            "lower": float(c["lower"]), "upper": float(c["upper"]),
                            "view": c["view"], "covariates": dict(c["covariates"])}
              for c in plan.curves}
    return {
        "synthetic": True,
        "random_seed": seed,
        "example_patient": {
            "per_region": json.loads(dosimetry.per_region[
                ["region", "dose_gy", "bed_gy", "eqd2_gy"]].to_json(orient="records")),
        },
        "cohort": {
            "dataset": cohort.COHORT_DATASET,
            "n_patients": len(doses),
            "n_centres": int(doses["study"].nunique()),
            "median_estimated_over_true_bed": ratio,
        },
        "sampler": {"name": "nutpie (package default)", "chains": cohort.CHAINS,
                    "tune": cohort.TUNE, "draws": cohort.DRAWS},
        "fits": numbers,
        "prescription": {
            "activity_gbq_per_cycle": float(plan.activity_gbq),
            "cycles": int(plan.cycles),
            "limiting": plan.limiting,
            "reason": plan.reason,
            "objective": plan.settings["objective"],
            "ntcp_limit": float(plan.settings["ntcp_limit"]),
            "covariates": dict(cohort.EXAMPLE_COVARIATES),
            "curves": curves,
            "course_doses": [
                {"region": r["region"], "dose_metric": r["dose_metric"], "unit": r["unit"],
                 "at_measured_gy_per_gbq": float(r["measured"]), "lower": float(r["lower"]),
                 "upper": float(r["upper"])}
                for r in plan.regions
            ],
            "ci_prob": float(plan.settings["ci_prob"]),
            "quantity": "expected probability for a patient at a NEW centre (posterior "
                        "predictive over the fit and the dosimetry uncertainty), with the "
                        "interval over draws",
        },
    }


def _png_bytes(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _table(frame: pd.DataFrame, columns: dict[str, str], digits: int = 3) -> str:
    shown = frame.loc[:, list(columns)].rename(columns=columns)
    return shown.to_html(index=False, float_format=lambda v: f"{v:.{digits}g}", border=0)


def summary_lines(results: dict) -> list[str]:
    """The demo's results in plain words, one line each (printed by ``doseresponse demo``).

    Parameters
    ----------
    results : dict
        ``DemoResult.results`` (or the saved ``results.json``).

    Returns
    -------
    list of str
        Every number with the quantity it is: typical centre, new centre (posterior
        predictive), interval probability, and each fit's diagnostics.
    """
    lines = ["SIMULATED data: every number below is a demonstration, not clinical advice.", "",
             "Example patient (4 cycles of 7.4 GBq 177Lu-DOTATATE), course totals:"]
    for row in results["example_patient"]["per_region"]:
        lines.append(f"  {row['region']:<11} absorbed dose {row['dose_gy']:6.2f} Gy   "
                     f"BED {row['bed_gy']:6.2f} Gy   EQD2 {row['eqd2_gy']:6.2f} Gy")
    c = results["cohort"]
    ratio = c["median_estimated_over_true_bed"]
    lines += ["", f"Cohort {c['dataset']}: {c['n_patients']} patients in {c['n_centres']} "
              "centres; course BED from the samples (median estimated/true BED: "
              + ", ".join(f"{r} {v:.3f}" for r, v in ratio.items()) + ")"]
    s = results["sampler"]
    lines.append(f"Fits: log-logistic, partial pooling, {s['name']}, {s['chains']} chains x "
                 f"({s['tune']} warm-up + {s['draws']} draws)")
    for fit in results["fits"].values():
        lines.append(f"  {fit['kind']} {fit['outcome']}: {fit['n_events']} events in "
                     f"{fit['n_patients']} patients, {fit['n_studies']} centres")
        for d in fit["doses"]:
            cov = ", ".join(f"{k}={v:g}" for k, v in d["covariates"].items())
            what = d["quantity"] + (f", {cov}" if cov else "")
            lines.append(
                f"    {d['label']} {what}: median {d['median']:.1f} {d['unit']} {d['metric']} "
                f"({d['ci_prob']:.0%} credible interval {d['lower']:.1f}-{d['upper']:.1f})"
                + (f"; predictive dose (for decisions) {d['predictive']:.1f}"
                   if d["which"] == "new_study" else "")
            )
        diag = fit["diagnostics"]
        lines.append("    diagnostics: " + ("all passed (divergences, R-hat, bulk and tail ESS)"
                                            if diag["ok"] else
                                            "FAILED: " + ", ".join(diag["failed"])
                                            + " -- the intervals are not reliable"))
    rx = results["prescription"]
    cov = ", ".join(f"{k}={v:g}" for k, v in rx["covariates"].items())
    lines += ["", f"Prescription for the example patient (from its cycle-1 dosimetry; {cov}): "
              f"{rx['activity_gbq_per_cycle']:.2f} GBq per cycle x {rx['cycles']} cycles, "
              f"limited by {rx['limiting']}"]
    for d in rx.get("course_doses", []):
        lines.append(f"  course {d['dose_metric']} ({d['region']}): "
                     f"{d['at_measured_gy_per_gbq']:.1f} {d['unit']} at the measured Gy/GBq "
                     f"({rx['ci_prob']:.0%} interval over the dosimetry uncertainty "
                     f"{d['lower']:.1f}-{d['upper']:.1f})")
    for region, curve in rx["curves"].items():
        lines.append(f"  {curve['kind']} {region}: {curve['mean']:.1%} expected for a new "
                     f"centre ({rx['ci_prob']:.0%} interval over draws {curve['lower']:.1%}-"
                     f"{curve['upper']:.1%})")
    lines.append(f"  ({rx['quantity']})")
    return lines


def _html_report(meta, dosimetry, tumour, tac_png: bytes, dose_png: bytes, results: dict,
                 files: dict[str, Path]) -> str:
    def img(data: bytes, alt: str) -> str:
        encoded = base64.b64encode(data).decode("ascii")
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'

    region_table = _table(
        dosimetry.per_region,
        {
            "region": "Region",
            "n_cycles": "Cycles",
            "dose_gy": "Absorbed dose (Gy)",
            "dose_se_gy": "SE (Gy)",
            "bed_gy": "BED (Gy)",
            "bed_se_gy": "BED SE (Gy)",
            "eqd2_gy": "EQD2 (Gy)",
            "alpha_beta_gy": "α/β (Gy)",
            "repair_half_time_h": "T_rep (h)",
        },
    )
    cycle_table = _table(
        dosimetry.per_cycle,
        {
            "region": "Region",
            "cycle": "Cycle",
            "model": "TAC model",
            "tia_mbq_h": "TIA (MBq·h)",
            "tia_se_mbq_h": "TIA SE (MBq·h)",
            "effective_half_life_h": "T_eff (h)",
            "dose_gy": "Dose (Gy)",
            "g_factor": "G",
            "bed_gy": "BED (Gy)",
        },
    )
    links = ", ".join(
        f'<a href="{html.escape(p.name)}">{html.escape(p.name)}</a>'
        for key, p in files.items() if key != "html"
    )
    tumour_table = tumour.rename(columns={"quantity": "Quantity", "value_gy": "Gy"}).to_html(
        index=False, float_format=lambda v: f"{v:.3g}", border=0
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>doseresponse demo — samples to BED, pooled NTCP/TCP and a prescription</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
.note {{ background: #fff6d6; padding: 0.6em 1em; border-left: 4px solid #e0b000; }}
</style></head><body>
<h1>doseresponse demo: ¹⁷⁷Lu-DOTATATE dosimetry, pooled NTCP/TCP and a prescription</h1>
<p class="note"><b>Synthetic example.</b> {html.escape(meta["description"])}
Administered activity {meta["administered_activity_mbq"][0] / 1000:g} GBq per cycle, cycles
{meta["cycle_interval_weeks"]} weeks apart. Absorbed dose by local energy deposition (self-dose
only). Generated by doseresponse {__version__}.</p>
<h2>Cohort fits and the example patient's prescription</h2>
<pre>{html.escape(chr(10).join(summary_lines(results)))}</pre>
<p>Files: {links}.</p>
<h2>Example patient: per region, all cycles</h2>
{region_table}
<p>BED is the sum of per-cycle BEDs (each with its own Lea–Catcheside G factor), not one G applied
to the summed dose. Standard errors propagate the time-integrated-activity uncertainty of each
fit.</p>
{img(dose_png, "Absorbed dose and BED per region with reference thresholds")}
<h2>Time-activity fits</h2>
{img(tac_png, "Measured activities and fitted time-activity curves per cycle")}
<h2>Per cycle</h2>
{cycle_table}
<h2>Tumour: equivalent uniform doses</h2>
<p>Voxel heterogeneity is synthetic (log-normal, CV {TUMOUR_HETEROGENEITY_CV:.0%},
{TUMOUR_VOXELS:,} voxels, same kinetics in every voxel).</p>
{tumour_table}
</body></html>
"""
