"""Nuclide table: values, spellings, errors, uncertainty flags."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.radiobiology.nuclides import Nuclide, get_nuclide, list_nuclides

REQUIRED = ["Lu-177", "Y-90", "I-131", "Ho-166", "Tb-161", "Ac-225", "Ra-223", "Pb-212"]


@pytest.mark.parametrize(
    "spelling",
    ["Lu-177", "177Lu", "lu177", "LU177", "Lu 177", "177-Lu", "lu_177", " lu-177 ", "Lutetium-177"],
)
def test_every_spelling_of_lu177(spelling):
    assert get_nuclide(spelling).name == "Lu-177"


@pytest.mark.parametrize("name", REQUIRED)
def test_required_nuclides_in_all_spellings(name):
    symbol, mass = name.split("-")
    for spelling in (name, f"{mass}{symbol}", f"{symbol.lower()}{mass}", f"{mass}-{symbol}"):
        assert get_nuclide(spelling).name == name


def test_nuclide_object_passes_through():
    lu = get_nuclide("Lu-177")
    assert get_nuclide(lu) is lu


def test_unknown_nuclide_lists_known_names():
    with pytest.raises(UnknownNameError) as info:
        get_nuclide("Xe-133")
    message = str(info.value)
    assert "'Xe-133'" in message
    for name in REQUIRED:
        assert name in message
    assert isinstance(info.value, KeyError)  # UnknownNameError is also a KeyError


@pytest.mark.parametrize("bad", [177, None, 1.5])
def test_non_string_name_is_rejected(bad):
    with pytest.raises(DoseResponseError, match="nuclide name"):
        get_nuclide(bad)


def test_radiobiology_notes_values():
    # radiobiology notes §1.2 (EJNMMI Phys 2020 s40658-020-00301-2 Table 1 for Lu-177; the
    # shared vectors use these exact numbers).
    lu, y90, i131 = get_nuclide("Lu-177"), get_nuclide("Y-90"), get_nuclide("I-131")
    assert lu.half_life_h == 159.528 and lu.half_life_d == pytest.approx(6.647)
    assert lu.mean_np_energy_mev == 0.1479
    # 0.1479 = β 133.3 + CE 13.5 + Auger 1.1 keV (Falzone et al. 2015)
    assert (133.3 + 13.5 + 1.1) / 1000 == pytest.approx(lu.mean_np_energy_mev, abs=1e-4)
    assert (y90.half_life_h, y90.mean_np_energy_mev) == (64.1, 0.9327)
    assert (i131.half_life_h, i131.mean_np_energy_mev) == (192.5, 0.192)
    assert get_nuclide("Ac-225").half_life_d == pytest.approx(9.920)
    assert get_nuclide("Ra-223").half_life_d == pytest.approx(11.43)


def test_alpha_chain_energies_match_their_members():
    # Ac-225 chain α energies from radiobiology notes §1.2 (Po-213 on the 97.8 % branch).
    ac = get_nuclide("Ac-225")
    assert ac.emission == "alpha" and ac.chain[0] == "Ac-225"
    assert 5.8 + 6.3 + 7.1 + 0.978 * 8.4 == pytest.approx(ac.mean_np_energy_mev, abs=0.2)
    ra = get_nuclide("Ra-223")
    assert 5.64 + 6.75 + 7.39 + 6.55 == pytest.approx(ra.mean_np_energy_mev, abs=0.05)
    pb = get_nuclide("Pb-212")
    branches = dict(pb.branching)
    # Bi-212: 64.06 % β to Po-212 (α 8.785 MeV), 35.94 % α (≈ 6.05 MeV) to Tl-208.
    assert branches["Po-212"] + branches["Tl-208"] == pytest.approx(1.0)
    alpha = branches["Po-212"] * 8.785 + branches["Tl-208"] * 6.05
    assert alpha == pytest.approx(pb.mean_np_energy_mev, abs=0.01)


def test_unconfirmed_values_are_flagged_with_icrp107_source():
    # Only Lu-177 and Ra-223 are confirmed [V] in the radiobiology notes.
    for name in REQUIRED:
        nuc = get_nuclide(name)
        assert "ICRP Publication 107" in nuc.source
        assert "Eckerman" in nuc.source
        if name in {"Lu-177", "Ra-223"}:
            assert not nuc.uncertain
        else:
            assert nuc.uncertain
            assert "verify against ICRP 107" in nuc.note or "ICRP 107" in nuc.note


@pytest.mark.parametrize("name", REQUIRED)
def test_decay_constant(name):
    nuc = get_nuclide(name)
    assert nuc.decay_constant_per_h == pytest.approx(math.log(2) / nuc.half_life_h, rel=1e-15)


def test_recalled_values_from_the_brief():
    # Values quoted from ICRP 107 / NNDC in the task brief (flagged uncertain above).
    assert get_nuclide("Ho-166").half_life_h == pytest.approx(26.8)
    assert get_nuclide("Ho-166").mean_np_energy_mev == pytest.approx(0.665, abs=0.005)
    assert get_nuclide("Tb-161").half_life_d == pytest.approx(6.89)
    assert get_nuclide("Tb-161").mean_np_energy_mev == pytest.approx(0.2, abs=0.01)
    assert get_nuclide("Pb-212").half_life_h == pytest.approx(10.64)


def test_nuclide_is_frozen_and_validated():
    lu = get_nuclide("Lu-177")
    with pytest.raises(dataclasses.FrozenInstanceError):
        lu.half_life_h = 1.0  # type: ignore[misc]
    with pytest.raises(DoseResponseError, match="half_life_h"):
        dataclasses.replace(lu, half_life_h=-1.0)
    with pytest.raises(DoseResponseError, match="mean_np_energy_mev"):
        dataclasses.replace(lu, mean_np_energy_mev=float("nan"))


def test_custom_nuclide_is_accepted_everywhere():
    custom = Nuclide("Xx-1", 10.0, 1.0, None, "beta-", ("Xx-1",), (), "test", True, "made up")
    assert get_nuclide(custom) is custom
    assert custom.mean_energy_per_decay_j == pytest.approx(1.602176634e-13)


def test_list_nuclides_frame():
    frame = list_nuclides()
    assert isinstance(frame, pd.DataFrame)
    assert set(REQUIRED) <= set(frame["name"])
    for column in ("half_life_h", "decay_constant_per_h", "mean_np_energy_mev", "uncertain",
                   "source", "chain", "emission"):
        assert column in frame.columns
    row = frame.set_index("name").loc["Lu-177"]
    assert row["half_life_h"] == 159.528
    assert bool(row["uncertain"]) is False
