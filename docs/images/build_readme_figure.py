"""Draw ``docs/images/readme_demo.png``, the README's figure, from the outputs of the demo.

Runs ``doseresponse.demo.run_demo`` (the same loop as ``doseresponse demo``, default seed) in a
temporary folder, or reads an existing demo output folder (``--from DIR``), and draws its two
pooled fits: kidney NTCP against kidney BED and lesion TCP against lesion BED, each with the
typical-centre and new-centre (posterior predictive) 95 % credible bands, the binned observed
rates, and the example patient's prescribed course BED.

Usage: ``python docs/images/build_readme_figure.py [--from DIR] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import doseresponse as dr
from doseresponse.demo import OUTPUT_FILES, run_demo
from doseresponse.prescribe import load_plan

HERE = Path(__file__).resolve().parent
PANELS = (("ntcp_fit", "kidneys", {"hypertension": 0}, "Kidney NTCP (renal toxicity)"),
          ("tcp_fit", "tumour", {}, "Lesion TCP (response)"))


def _observed(fit, n_bins: int = 5) -> pd.DataFrame:
    ipd = fit.data.ipd
    bins = pd.qcut(ipd["dose"], n_bins, duplicates="drop")
    return ipd.groupby(bins, observed=True).agg(dose=("dose", "median"),
                                                rate=("outcome", "mean"))


def draw(folder: Path, out: Path) -> Path:
    """Write the two-panel figure of a demo output ``folder`` to ``out``."""
    plan = load_plan(folder / OUTPUT_FILES["plan_json"])
    course = {r["region"]: r["measured"] for r in plan.regions
              if r["dose_metric"].endswith("BED")}
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    for ax, (key, region, cov, title) in zip(axes, PANELS, strict=True):
        fit = dr.load(folder / OUTPUT_FILES[key])
        grid = np.linspace(0.0, float(fit.data.ipd["dose"].quantile(0.98)) * 1.1, 120)
        for which, colour, text in (("new_study", "tab:orange", "new centre (predictive)"),
                                    ("population", "tab:blue", "typical centre")):
            band = fit.curve(grid, which=which, covariates=cov).to_frame()
            ax.fill_between(band["dose"], band["lower"], band["upper"], color=colour,
                            alpha=0.25, lw=0)
            ax.plot(band["dose"], band["mean"], color=colour, lw=1.6, label=text)
        obs = _observed(fit)
        ax.plot(obs["dose"], obs["rate"], "ko", ms=4, label="observed (dose quintiles)")
        ax.axvline(course[region], color="tab:red", ls="--", lw=1,
                   label="example patient, prescribed")
        ax.set_xlabel(f"{fit.data.dose_metric} [Gy]")
        ax.set_ylabel(f"P({fit.data.outcome_name})")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(grid[0], grid[-1])
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle("doseresponse demo on a simulated 4-centre cohort (95 % credible bands)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80, metadata={"Software": None})
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the demo (or read ``--from DIR``) and draw the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, default=None,
                        help="an existing 'doseresponse demo' output folder")
    parser.add_argument("--out", type=Path, default=HERE / "readme_demo.png")
    args = parser.parse_args(argv)
    if args.folder is not None:
        draw(args.folder, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run_demo(Path(tmp) / "demo")
            draw(Path(tmp) / "demo", args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
