"""The top-level public API: names exist, and PyMC is only imported when a model is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import doseresponse as dr


@pytest.mark.parametrize("name", dr.__all__)
def test_every_public_name_resolves(name):
    assert getattr(dr, name) is not None


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        dr.not_a_name  # noqa: B018


def test_import_does_not_load_pymc():
    # PyMC is imported only to build the PyMC model (or sample it with a PyMC sampler): not by
    # import, radiobiology, or the model classes (the default fit samples without PyMC)
    code = (
        "import sys, doseresponse as dr\n"
        "assert 'pymc' not in sys.modules, 'pymc imported eagerly'\n"
        "lazy = {'numba', 'pydicom', 'nibabel', 'dask', 'rt_utils', 'cv2'} & set(sys.modules)\n"
        "assert not lazy, f'imported eagerly: {lazy}'  # voxel I/O, BED loop and batches\n"
        "dr.radiobiology.bed_exponential(5.0, effective_half_life=50.0, alpha_beta=2.6,"
        " repair_half_time=2.8)\n"
        "assert 'pymc' not in sys.modules\n"
        "model = dr.NTCPModel()\n"
        "assert 'pymc' not in sys.modules and 'pytensor' not in sys.modules\n"
        "model.build(dr.load_dataset('sim_kidney_prrt'))\n"
        "assert 'pymc' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_is_a_string():
    assert isinstance(dr.__version__, str) and dr.__version__.count(".") >= 2
