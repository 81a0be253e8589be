"""Tissue presets: values as in the radiobiology notes §5.1, flags, lookup and errors.

The expected numbers below are copied from the notes' table §5.1 (sources: Bodei et al. 2008
EJNMMI 35:1847; Wessels et al. 2008 J Nucl Med 49:1884; Strigari et al. 2010 J Nucl Med 51:1377;
Brenner & Hall 1999 IJROBP 43:1095; PyTheranostics / public-calculator defaults), all marked [U]
(unverified) there.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.radiobiology.bed import bed
from doseresponse.radiobiology.doserate import ExponentialDoseRate
from doseresponse.radiobiology.tissues import TissueParameters, list_tissues, tissue_parameters

# name: (alpha/beta Gy, T_rep h, alpha 1/Gy, alpha/beta range, T_rep range, alpha range)
TABLE_5_1 = {
    "kidney": (2.6, 2.8, 0.26, (2.5, 2.6), (1.5, 2.8), None),
    "red-marrow": (10.0, 0.5, None, (10.0, 15.0), (0.5, 1.0), (0.3, 0.35)),
    "liver": (2.5, 2.0, None, (2.0, 3.0), (1.5, 2.5), None),
    "salivary-glands": (3.0, 1.0, None, (3.0, 3.5), (0.5, 1.0), None),
    "tumour-net": (10.0, 1.5, None, (10.0, 10.0), (0.5, 2.0), (0.1, 0.35)),
    "prostate-cancer": (1.5, 1.5, None, (1.2, 3.0), (1.5, 1.9), None),
}


@pytest.mark.parametrize("name", sorted(TABLE_5_1))
def test_values_ranges_and_uncertainty_flag(name):
    ab, t_rep, alpha, ab_range, t_range, alpha_range = TABLE_5_1[name]
    tissue = tissue_parameters(name)
    assert (tissue.alpha_beta, tissue.repair_half_time, tissue.alpha) == (ab, t_rep, alpha)
    assert tissue.alpha_beta_range == ab_range
    assert tissue.repair_half_time_range == t_range
    assert tissue.alpha_range == alpha_range
    assert ab_range[0] <= ab <= ab_range[1]
    assert t_range[0] <= t_rep <= t_range[1]
    # every row of §5.1 is [U]: the flag is set and the note says so
    assert tissue.uncertain is True
    assert "not verified" in tissue.note
    assert tissue.source


def test_defaults_chosen_by_the_package_say_so():
    for name in ("liver", "salivary-glands", "prostate-cancer"):
        assert "chosen by this package" in tissue_parameters(name).note
    assert "NOT verified" in tissue_parameters("kidney").note  # the '?' on alpha in §5.1


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("Kidney", "kidney"),
        ("KIDNEYS", "kidney"),
        ("red marrow", "red-marrow"),
        ("red_marrow", "red-marrow"),
        ("bone marrow", "red-marrow"),
        ("tumor", "tumour-net"),
        ("NET", "tumour-net"),
        ("parotid", "salivary-glands"),
        ("PSMA", "prostate-cancer"),
    ],
)
def test_lookup_is_case_insensitive_with_aliases(alias, name):
    assert tissue_parameters(alias) is tissue_parameters(name)


def test_unknown_tissue_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid names are: kidney, liver") as info:
        tissue_parameters("lung")
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, DoseResponseError)
    for name in TABLE_5_1:
        assert name in str(info.value)


def test_lq_kwargs_feed_bed():
    # BED-015 (tests/reference/radiobiology_vectors.csv): kidney Lu-177, D = 5 Gy, T_eff = 50 h,
    # alpha/beta 2.6 Gy, T_rep 2.8 h -> BED 5.50990675991 Gy.
    kidney = tissue_parameters("kidney")
    assert kidney.lq_kwargs() == {"alpha_beta": 2.6, "repair_half_time": 2.8}
    history = ExponentialDoseRate.from_dose(5.0, effective_half_life=50.0)
    assert bed(history, **kidney.lq_kwargs()) == pytest.approx(5.50990675991, rel=1e-10)


def test_presets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        tissue_parameters("kidney").alpha_beta = 3.0


def test_list_tissues_frame():
    frame = list_tissues()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == list(TABLE_5_1)
    assert {"alpha_beta", "repair_half_time", "alpha", "source", "uncertain", "note"} <= set(
        frame.columns
    )
    assert frame["uncertain"].all()
    kidney = frame.set_index("name").loc["kidney"]
    assert kidney["alpha_beta"] == 2.6
    assert {f.name for f in dataclasses.fields(TissueParameters)} == set(frame.columns)
