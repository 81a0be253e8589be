"""Build the shipped example patient used by ``doseresponse demo``.

A SYNTHETIC (not real) patient treated with 4 cycles of 7.4 GBq ¹⁷⁷Lu-DOTATATE, 8 weeks apart,
with quantitative SPECT/CT at 4, 24, 48, 96 and 168 h after each cycle. Activities in kidneys
(both), red marrow and one tumour lesion are drawn from known kinetics (below) with 5 %
multiplicative measurement noise (seeded), so the demo's fitted TIAs and doses can be compared
with the truth.

Parameter choices (order of magnitude of published 177Lu-DOTATATE dosimetry, not a fit to any
patient): kidney absorbed dose ≈ 0.6–0.7 Gy/GBq with effective half-lives 45, 52, 48, 40 h (the
cycle half-lives of the BED-037 reference case); red marrow ≈ 0.04 Gy/GBq, T_eff ≈ 35 h (self-dose,
local deposition only); tumour ≈ 3 Gy/GBq with a 5 h uptake half-life and T_eff ≈ 90 h, decreasing
uptake over cycles (responding lesion). Masses: kidneys 0.30 kg, red marrow 1.17 kg (ICRP 89
reference adult male), lesion 0.020 kg.

Usage: ``python datasets/example_lu177_patient/build.py [--out DIR]`` (default: the package's
``doseresponse/examples``). The output is byte-identical for the fixed seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SEED = 20261126
ADMINISTERED_MBQ = 7400.0
TIMES_H = np.array([4.0, 24.0, 48.0, 96.0, 168.0])
NOISE_REL_SD = 0.05
MASSES_KG = {"kidneys": 0.30, "red_marrow": 1.17, "tumour": 0.020}
LU177_HALF_LIFE_H = 159.528

# Per region and cycle: (amplitude at t=0 in MBq of the washout component, effective half-life h,
# uptake half-life h or None).
TRUTH = {
    "kidneys": [(240.0, 45.0, None), (235.0, 52.0, None), (190.0, 48.0, None), (230.0, 40.0, None)],
    "red_marrow": [(78.0, 35.0, None), (80.0, 33.0, None), (75.0, 36.0, None), (77.0, 34.0, None)],
    "tumour": [(45.0, 90.0, 5.0), (40.0, 88.0, 5.0), (34.0, 85.0, 5.0), (30.0, 85.0, 5.0)],
}


def true_activity(amplitude: float, t_eff: float, t_uptake: float | None, t: np.ndarray):
    """Activity (MBq) at times t (h) of a mono-exponential or uptake-washout curve."""
    washout = np.exp(-np.log(2) / t_eff * t)
    if t_uptake is None:
        return amplitude * washout
    return amplitude * (washout - np.exp(-np.log(2) / t_uptake * t))


def build_rows() -> list[dict]:
    rng = np.random.default_rng(SEED)
    rows = []
    for region, cycles in TRUTH.items():
        for cycle, (amplitude, t_eff, t_uptake) in enumerate(cycles, start=1):
            clean = true_activity(amplitude, t_eff, t_uptake, TIMES_H)
            noisy = clean * np.exp(rng.normal(0.0, NOISE_REL_SD, TIMES_H.size))
            for t, a in zip(TIMES_H, noisy, strict=True):
                rows.append(
                    {"cycle": cycle, "region": region, "time_h": t, "activity_mbq": round(a, 3)}
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parents[2] / "doseresponse" / "examples"
    parser.add_argument("--out", type=Path, default=default_out)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    lines = ["cycle,region,time_h,activity_mbq"]
    lines += [
        f"{r['cycle']},{r['region']},{r['time_h']:g},{r['activity_mbq']:.3f}" for r in build_rows()
    ]
    (out / "lu177_dotatate_patient.csv").write_text("\n".join(lines) + "\n")
    meta = {
        "description": "SYNTHETIC example patient: 4 cycles of 177Lu-DOTATATE, quantitative "
        "SPECT/CT at 4, 24, 48, 96, 168 h per cycle (kidneys, red marrow, one tumour lesion).",
        "synthetic": True,
        "nuclide": "Lu-177",
        "administered_activity_mbq": [ADMINISTERED_MBQ] * 4,
        "cycle_interval_weeks": 8,
        "masses_kg": MASSES_KG,
        "units": {"time_h": "h", "activity_mbq": "MBq", "masses_kg": "kg"},
        "seed": SEED,
        "noise_relative_sd": NOISE_REL_SD,
        "truth": {
            region: [
                {"amplitude_mbq": a, "effective_half_life_h": te, "uptake_half_life_h": tu}
                for a, te, tu in cycles
            ]
            for region, cycles in TRUTH.items()
        },
        "tissue_presets": {"kidneys": "kidney", "red_marrow": "red marrow", "tumour": "tumour"},
        "built_by": "datasets/example_lu177_patient/build.py",
    }
    (out / "lu177_dotatate_patient.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
