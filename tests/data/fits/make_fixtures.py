"""Regenerate the cross-stack saved-fit fixtures and their expected numbers.

Run once on each supported stack, from the repository root::

    /work/venv311/bin/python tests/data/fits/make_fixtures.py   # ntcp_pymc5_arviz0.nc
    /work/venv313/bin/python tests/data/fits/make_fixtures.py   # ntcp_pymc6_arviz1.nc

Each run fits the same tiny cohort (:func:`doseresponse.simulate.simulate_cohort`: log-logistic
NTCP, 3 studies × 20 patients, D50 = 40 Gy BED, γ50 = 2, τ = 0.2, seed 2026; 2 chains × 100 draws
after 100 tuning steps, seed 7), writes the file for the running stack and records, computed on
that stack from the fit in memory, the TD5 median (Gy) and the population curve mean at 20, 40 and
60 Gy in ``expected.json`` (the other stack's entry is kept).

How each file is written:

``ntcp_pymc5_arviz0.nc`` (Python 3.11, PyMC 5, ArviZ 0.x)
    with ArviZ 0.x's own ``InferenceData.to_netcdf`` and the package's root attributes — byte
    for byte the layout :func:`doseresponse.models.io.save` produced before it stopped using
    ArviZ, so the test also shows that files from earlier versions keep loading.
``ntcp_pymc6_arviz1.nc`` (Python 3.13, PyMC 6, ArviZ 1.x)
    with :func:`doseresponse.models.io.save` (xarray + h5netcdf).

Only the ``posterior`` and ``sample_stats`` groups are stored, as
:func:`doseresponse.models.io.save` does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from doseresponse import _arviz_compat
from doseresponse.models import io
from doseresponse.models.model import NTCPModel
from doseresponse.simulate import simulate_cohort

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.json"
DOSES = [20.0, 40.0, 60.0]


def fixture_name() -> str:
    """File name for the running stack."""
    if _arviz_compat.ARVIZ_MAJOR >= 1:
        return "ntcp_pymc6_arviz1.nc"
    return "ntcp_pymc5_arviz0.nc"


def fit_tiny_cohort():
    """The tiny fit every fixture is made from (seeded; see the module docstring)."""
    sim = simulate_cohort(
        curve="log-logistic", d50=40.0, slope=2.0, n_studies=3, patients_per_study=20, tau=0.2,
        dose_distribution=(35.0, 0.4), dose_metric="BED", random_seed=2026,
    )
    return NTCPModel(curve="log-logistic").fit(
        sim.data, draws=100, tune=100, chains=2, random_seed=7, check=False
    )


def numbers(fit) -> dict[str, object]:
    """The numbers a loaded copy must reproduce: TD5 median and curve means (population)."""
    return {
        "td5_median_gy": float(fit.dose_at(0.05)["median"]),
        "curve_doses_gy": DOSES,
        "curve_mean": [float(v) for v in fit.curve(DOSES).mean],
    }


def write_legacy_arviz0(fit, path: Path) -> None:
    """What ``io.save`` did before: ``InferenceData.to_netcdf`` with the package's attributes."""
    tmp_dir = Path(tempfile.mkdtemp())
    io.save(fit, tmp_dir / "fit.nc")  # only to get the exact attributes and cleaned groups
    reread = io.load(tmp_dir / "fit.nc")
    attrs = _root_attrs(tmp_dir / "fit.nc")
    idata = _arviz_compat.to_native(dict(reread.groups), attrs=attrs)
    idata.to_netcdf(str(path))
    os.remove(tmp_dir / "fit.nc")
    tmp_dir.rmdir()


def _root_attrs(path: Path) -> dict[str, object]:
    import h5netcdf

    with h5netcdf.File(path, "r") as handle:
        return {key: handle.attrs[key] for key in handle.attrs}


def main() -> None:
    fit = fit_tiny_cohort()
    name = fixture_name()
    path = HERE / name
    if path.exists():
        path.unlink()
    if _arviz_compat.ARVIZ_MAJOR >= 1:
        io.save(fit, path)
    else:
        write_legacy_arviz0(fit, path)
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    expected[name] = {
        **numbers(fit),
        "written_with": {
            "python": platform.python_version(),
            "pymc": version("pymc"),
            "arviz": version("arviz"),
            "numpy": version("numpy"),
            "writer": "io.save" if _arviz_compat.ARVIZ_MAJOR >= 1
            else "arviz.InferenceData.to_netcdf (legacy layout)",
            "date": dt.date.today().isoformat(),
        },
    }
    EXPECTED.write_text(json.dumps(dict(sorted(expected.items())), indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB) on Python {sys.version.split()[0]}")
    print(json.dumps(expected[name], indent=2))


if __name__ == "__main__":
    main()
