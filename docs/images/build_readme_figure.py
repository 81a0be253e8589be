"""Draw ``docs/images/readme_demo.png``, the README's figure, from the outputs of the demo.

Runs ``doseresponse.demo.run_demo`` (the same loop as ``doseresponse demo``, default seed) in a
temporary folder and draws its two pooled fits: kidney NTCP against kidney BED and lesion TCP
against lesion BED, each with the typical-centre and the new-centre (posterior predictive) 95 %
bands over the binned observed rates, and the example patient's prescribed course BED.

Usage: ``python docs/images/build_readme_figure.py [--out PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from doseresponse.demo import run_demo

HERE = Path(__file__).resolve().parent


def draw(result, out: Path) -> Path:
    """Write the two-panel figure of a :class:`doseresponse.demo.DemoResult` to ``out``."""
    plan = {r["region"]: r for r in result.plan.regions if r["dose_metric"].endswith("BED")}
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.3))
    panels = (("ntcp", "kidneys", {"hypertension": 0}, "Kidney NTCP (renal toxicity)"),
              ("tcp", "tumour", {}, "Lesion TCP (response)"))
    for ax, (key, region, cov, title) in zip(axes, panels, strict=True):
        fit = result.fits[key]
        fit.plot_curve("new_study", cov, show_data=False, ax=ax)
        fit.plot_curve("population", cov, show_data=True, ax=ax)
        ax.axvline(plan[region]["measured"], color="tab:red", ls="--", lw=1)
        ax.annotate("example patient,\nprescribed course", (plan[region]["measured"], 0.95),
                    xytext=(4, -2), textcoords="offset points", fontsize=7, color="tab:red",
                    va="top")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=6.5, frameon=False, loc="center right")
    fig.suptitle("doseresponse demo (simulated 4-centre cohort): typical and new centre, 95 % "
                 "bands", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80, metadata={"Software": None})
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the demo in a temporary folder and draw the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "readme_demo.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(Path(tmp) / "demo")
        draw(result, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
