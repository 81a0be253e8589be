"""Figures of the ``doseresponse demo`` report (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from doseresponse.radiobiology.pipeline import MultiCycleDosimetry

_REGION_TITLES = {"kidneys": "Kidneys", "red_marrow": "Red marrow", "tumour": "Tumour lesion"}


def plot_time_activity_fits(samples: pd.DataFrame, dosimetry: MultiCycleDosimetry):
    """One panel per region: measured activity (points) and fitted curve (line) per cycle."""
    regions = list(dict.fromkeys(samples["region"].astype(str)))
    fig, axes = plt.subplots(1, len(regions), figsize=(4.2 * len(regions), 3.6), squeeze=False)
    colours = plt.get_cmap("viridis")
    t_grid = np.linspace(0.0, 200.0, 400)
    for ax, region in zip(axes[0], regions, strict=True):
        region_samples = samples[samples["region"].astype(str) == region]
        cycles = sorted(region_samples["cycle"].unique())
        for k, cycle in enumerate(cycles):
            colour = colours(k / max(len(cycles) - 1, 1))
            points = region_samples[region_samples["cycle"] == cycle]
            fit = dosimetry.fits[(region, int(cycle))]
            ax.plot(points["time_h"], points["activity_mbq"], "o", color=colour, ms=4)
            ax.plot(t_grid, fit.predict(t_grid), "-", color=colour, lw=1.2,
                    label=f"cycle {cycle} ({fit.model})")
        ax.set_title(_REGION_TITLES.get(region, region))
        ax.set_xlabel("time after administration (h)")
        ax.set_ylabel("activity (MBq)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_dose_summary(dosimetry: MultiCycleDosimetry, thresholds: dict):
    """Per region: cumulative absorbed dose and BED over cycles, with reference thresholds."""
    per_cycle = dosimetry.per_cycle
    regions = list(dict.fromkeys(per_cycle["region"]))
    fig, axes = plt.subplots(1, len(regions), figsize=(4.2 * len(regions), 3.6), squeeze=False)
    for ax, region in zip(axes[0], regions, strict=True):
        rows = per_cycle[per_cycle["region"] == region].sort_values("cycle")
        cycles = rows["cycle"].to_numpy()
        ax.plot(cycles, rows["dose_gy"].cumsum(), "o-", label="absorbed dose (cumulative)")
        ax.plot(cycles, rows["bed_gy"].cumsum(), "s-", label="BED (cumulative)")
        for label, value, _quantity in thresholds.get(region, []):
            ax.axhline(value, ls="--", lw=1, color="tab:red")
            ax.annotate(label, (cycles[0], value), fontsize=6.5, color="tab:red",
                        xytext=(0, 2), textcoords="offset points")
        ax.set_title(_REGION_TITLES.get(region, region))
        ax.set_xlabel("cycle")
        ax.set_xticks(cycles)
        ax.set_ylabel("Gy")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
