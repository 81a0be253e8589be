"""The cohort half of ``doseresponse demo``: samples → BED → pooled NTCP/TCP → prescription.

Reads the shipped simulated cohort ``sim_lu177_multicentre_samples`` (kidney and lesion
time-activity samples of 84 patients in 4 centres; ``datasets/sim_lu177_multicentre_samples``),
computes every patient's course kidney and lesion BED with
:func:`doseresponse.radiobiology.multicycle_dosimetry`, fits a partially pooled kidney NTCP and
lesion TCP curve with the package's default sampler, and prescribes the activity per cycle of
the shipped example patient from its cycle-1 dosimetry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from doseresponse.exceptions import DoseResponseError
from doseresponse.radiobiology.pipeline import MultiCycleDosimetry, multicycle_dosimetry

COHORT_DATASET = "sim_lu177_multicentre_samples"
#: Tissue preset of each imaged region of the cohort (α/β, repair half-time).
COHORT_TISSUES = {"kidneys": "kidney", "tumour": "tumour"}
#: Every cohort curve is fitted mono-exponentially: cycle 1 has five scans, cycles 2-4 one scan
#: each, which the pipeline's "reference" method rescales through cycle 1's curve.
COHORT_TAC_MODEL = "mono-exponential"
#: Sampler settings of the demo's two fits (the package defaults of FittedModel.fit).
DRAWS, TUNE, CHAINS = 1000, 1000, 4
#: The example patient is assumed WITHOUT hypertension (its file records no risk factors).
EXAMPLE_COVARIATES = {"hypertension": 0.0}
NTCP_LIMIT = 0.05
PRESCRIBED_CYCLES = 4


def load_cohort_samples() -> pd.DataFrame:
    """The shipped cohort's time-activity samples (one row per patient, region, cycle, scan)."""
    from doseresponse.datasets import load_dataset

    return load_dataset(COHORT_DATASET, as_frame=True)


def cohort_doses(samples: pd.DataFrame,
                 progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Course kidney and lesion BED of every patient of the cohort, from the samples.

    Parameters
    ----------
    samples : pandas.DataFrame
        :func:`load_cohort_samples` (columns ``study``, ``patient``, ``region``, ``cycle``,
        ``time_h`` (h), ``activity_mbq`` (MBq), ``mass_kg`` (kg), ``hypertension``,
        ``renal_toxicity``, ``tumour_response``, ``true_bed_gy`` (Gy)).
    progress : callable, optional
        Called with a short text every 20 patients.

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``study``, ``patient``, ``hypertension``, ``renal_toxicity``,
        ``tumour_response`` and, per region ``kidneys``/``tumour``, ``<region>_dose_gy``,
        ``<region>_bed_gy``, ``<region>_bed_se_gy`` (estimated from the samples) and
        ``<region>_true_bed_gy`` (the simulation's truth).

    Notes
    -----
    Per patient, :func:`~doseresponse.radiobiology.multicycle_dosimetry`: local-deposition
    absorbed dose (MIRD Pamphlet 21, Bolch et al. 2009, J Nucl Med 50:477) and the sum of the
    cycles' Lea–Catcheside BEDs (Dale 1985, Br J Radiol 58:515); single-scan cycles rescale the
    first cycle's fitted curve (the pipeline's ``"reference"`` method).
    """
    rows = []
    patients = list(dict.fromkeys(samples["patient"]))
    for k, (patient, group) in enumerate(samples.groupby("patient", sort=False), start=1):
        masses = group.groupby("region")["mass_kg"].first().to_dict()
        result = multicycle_dosimetry(
            group[["cycle", "region", "time_h", "activity_mbq"]],
            masses_kg=masses, tissues=COHORT_TISSUES, nuclide="Lu-177", model=COHORT_TAC_MODEL,
        )
        per_region = result.per_region.set_index("region")
        first = group.iloc[0]
        row: dict[str, Any] = {
            "study": first["study"], "patient": patient,
            "hypertension": int(first["hypertension"]),
            "renal_toxicity": int(first["renal_toxicity"]),
            "tumour_response": int(first["tumour_response"]),
        }
        truth = group.groupby("region")["true_bed_gy"].first()
        for region in COHORT_TISSUES:
            row[f"{region}_dose_gy"] = float(per_region.loc[region, "dose_gy"])
            row[f"{region}_bed_gy"] = float(per_region.loc[region, "bed_gy"])
            row[f"{region}_bed_se_gy"] = float(per_region.loc[region, "bed_se_gy"])
            row[f"{region}_true_bed_gy"] = float(truth[region])
        rows.append(row)
        if progress is not None and (k % 20 == 0 or k == len(patients)):
            progress(f"dosimetry: {k}/{len(patients)} patients")
    return pd.DataFrame(rows)


def cohort_data(doses: pd.DataFrame) -> dict[str, Any]:
    """Kidney NTCP and lesion TCP data of the cohort (estimated course BED as the dose).

    Parameters
    ----------
    doses : pandas.DataFrame
        :func:`cohort_doses`.

    Returns
    -------
    dict
        ``{"ntcp": DoseResponseData, "tcp": DoseResponseData}``.
    """
    from doseresponse.data import DoseResponseData

    common = {"study": "study", "patient": "patient", "dose_unit": "Gy"}
    return {
        "ntcp": DoseResponseData.from_frame(
            doses, dose="kidneys_bed_gy", outcome="renal_toxicity", covariates=("hypertension",),
            dose_metric="kidney BED", outcome_name="renal toxicity", **common,
        ),
        "tcp": DoseResponseData.from_frame(
            doses, dose="tumour_bed_gy", outcome="tumour_response", dose_metric="lesion BED",
            outcome_name="lesion response", **common,
        ),
    }


def fit_cohort(data: Mapping[str, Any], *, random_seed: int) -> dict[str, Any]:
    """Partially pooled log-logistic kidney NTCP and lesion TCP fits (default sampler).

    Parameters
    ----------
    data : mapping
        :func:`cohort_data`.
    random_seed : int
        Seed of the NTCP fit; the TCP fit uses ``random_seed + 1``.

    Returns
    -------
    dict
        ``{"ntcp": FittedModel, "tcp": FittedModel}``, each with :data:`CHAINS` chains of
        :data:`TUNE` warm-up and :data:`DRAWS` kept draws.
    """
    from doseresponse.models.model import NTCPModel, TCPModel

    settings = {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "progressbar": False,
                "check": False}
    return {
        "ntcp": NTCPModel(curve="log-logistic", pooling="partial").fit(
            data["ntcp"], random_seed=random_seed, **settings),
        "tcp": TCPModel(curve="log-logistic", pooling="partial").fit(
            data["tcp"], random_seed=random_seed + 1, **settings),
    }


def example_regions(dosimetry: MultiCycleDosimetry, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The example patient's kidney and lesion as prescription regions, from cycle 1.

    Parameters
    ----------
    dosimetry : MultiCycleDosimetry
        The example patient's dosimetry (:func:`doseresponse.demo.run_demo`).
    meta : mapping
        The example patient's metadata (administered activity per cycle in MBq).

    Returns
    -------
    dict
        ``{"kidneys": Region, "tumour": Region}``: Gy/GBq of cycle 1, its relative SE, and the
        cycle-1 fit's half-lives (uptake and washout for a curve with an uptake phase, else
        ln 2 × mean residence time).
    """
    from doseresponse.prescribe import Region

    per_cycle = dosimetry.per_cycle.set_index(["region", "cycle"])
    gbq = float(meta["administered_activity_mbq"][0]) / 1000.0
    regions = {}
    for region, tissue in (("kidneys", meta["tissue_presets"]["kidneys"]),
                           ("tumour", meta["tissue_presets"]["tumour"])):
        row = per_cycle.loc[(region, 1)]
        fit = dosimetry.fits[(region, 1)]
        kinetics = _half_lives(fit)
        regions[region] = Region(
            float(row["dose_gy"]) / gbq, tissue=tissue,
            rel_se=float(row["dose_se_gy"]) / float(row["dose_gy"]), **kinetics,
        )
    return regions


def _half_lives(fit: Any) -> dict[str, float]:
    amplitudes, rates = fit.amplitudes_mbq, fit.rates_per_h
    if amplitudes is not None and np.any(amplitudes < 0) and len(rates) == 2:
        return {"effective_half_life": math.log(2.0) / float(np.min(rates)),
                "uptake_half_life": math.log(2.0) / float(np.max(rates))}
    return {"effective_half_life": float(fit.effective_half_life)}


def prescribe_example(regions: Mapping[str, Any], fits: Mapping[str, Any], *,
                      random_seed: int) -> Any:
    """The example patient's activity per cycle: expected new-centre kidney NTCP at 5 %.

    Parameters
    ----------
    regions : mapping
        :func:`example_regions`.
    fits : mapping
        :func:`fit_cohort`.
    random_seed : int
        Seed of the prescription's dosimetry and new-centre draws.

    Returns
    -------
    doseresponse.prescribe.Plan
        :data:`PRESCRIBED_CYCLES` cycles; the kidney NTCP (a patient without hypertension,
        :data:`EXAMPLE_COVARIATES`) and lesion TCP are both for a NEW centre (posterior
        predictive, the centre effect integrated out).
    """
    from doseresponse.prescribe import prescribe

    if set(regions) != set(COHORT_TISSUES):
        raise DoseResponseError(f"regions must be {sorted(COHORT_TISSUES)}; got {sorted(regions)}.")
    return prescribe(
        dict(regions), cycles=PRESCRIBED_CYCLES, ntcp={"kidneys": fits["ntcp"]},
        tcp={"tumour": fits["tcp"]}, objective="ntcp-limit", ntcp_limit=NTCP_LIMIT,
        which="new_study", new_study="spread", covariates={"kidneys": dict(EXAMPLE_COVARIATES)},
        random_seed=random_seed,
    )


def fit_numbers(fits: Mapping[str, Any], *, random_seed: int) -> dict[str, Any]:
    """The tolerance doses and diagnostics the demo prints, each saying which quantity it is.

    Parameters
    ----------
    fits : mapping
        :func:`fit_cohort`.
    random_seed : int
        Seed of the new-centre draws of :meth:`~doseresponse.models.results.FittedModel.dose_at`.

    Returns
    -------
    dict
        Per fit (``"ntcp"``, ``"tcp"``): ``"doses"`` (a list of records with ``label`` (TD5,
        TCD50...), ``which`` (``"population"`` = typical centre, ``"new_study"`` = a new
        centre), ``quantity`` in words, ``median``, ``predictive``, ``lower``, ``upper`` in Gy
        BED, ``ci_prob``, ``covariates``) and ``"diagnostics"`` (``ok`` and the failed checks).
    """
    levels = {"ntcp": 0.05, "tcp": 0.5}
    words = {"population": "typical centre", "new_study": "new centre (posterior predictive)"}
    out: dict[str, Any] = {}
    for key, fit in fits.items():
        cov = dict(EXAMPLE_COVARIATES) if key == "ntcp" else {}
        doses = []
        for which in ("population", "new_study"):
            d = fit.dose_at(levels[key], which=which, covariates=cov, random_seed=random_seed)
            doses.append({
                "label": d.label, "which": which, "quantity": words[which],
                "metric": d.metric, "unit": d.unit, "median": float(d["median"]),
                "predictive": float(d.predictive), "lower": float(d.lower),
                "upper": float(d.upper), "ci_prob": float(d.ci_prob), "covariates": cov,
            })
        diag = fit.diagnostics()
        out[key] = {
            "kind": fit.spec.kind, "outcome": fit.data.outcome_name,
            "n_studies": len(fit.data.studies), "n_patients": int(fit.data.n_patients),
            "n_events": int(fit.data.n_events), "doses": doses,
            "diagnostics": {"ok": bool(diag["ok"].all()),
                            "failed": [str(c) for c in diag.loc[~diag["ok"], "check"]]},
        }
    return out
