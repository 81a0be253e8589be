"""Physical data of therapeutic radionuclides: half-life and energy emitted per decay.

Each :class:`Nuclide` carries its physical half-life (h), the mean non-penetrating energy emitted
per decay ``E_np`` (MeV; electrons — β, internal-conversion and Auger — and, for α-emitter chains,
the α energy per parent decay with all daughters in secular equilibrium), the mean photon energy per
decay when known, the decay-chain members and branching fractions used, a citation and an
``uncertain`` flag for every value not yet checked against its primary source.

Units: half-life h, energy MeV per decay, decay constant 1/h.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from doseresponse._validation import lookup_name
from doseresponse.exceptions import DoseResponseError, UnknownNameError

__all__ = ["Nuclide", "get_nuclide", "list_nuclides"]

_LN2 = math.log(2.0)

_ICRP107 = "ICRP Publication 107 (Eckerman & Endo 2008, Ann ICRP 38(3))"
_VERIFY = "verify against ICRP 107"


@dataclass(frozen=True)
class Nuclide:
    """Decay data of one radionuclide (with its short-lived daughters for α chains).

    Parameters
    ----------
    name : str
        Canonical name, e.g. ``"Lu-177"``.
    half_life_h : float
        Physical half-life of the parent (h).
    mean_np_energy_mev : float
        Mean non-penetrating energy emitted per parent decay, ``E_np`` (MeV): β, conversion and
        Auger electrons; for α-emitter chains the α energy per parent decay with the daughters in
        secular equilibrium (the chain's electrons are then not included).
    mean_photon_energy_mev : float or None
        Mean photon (γ + X-ray) energy emitted per decay (MeV), ``None`` when not tabulated here.
    emission : str
        Dominant therapeutic emission: ``"beta-"`` or ``"alpha"``.
    chain : tuple of str
        Decay-chain members whose emissions are included in ``mean_np_energy_mev`` (the parent
        first). A single-member tuple for a nuclide without relevant daughters.
    branching : tuple of (str, float)
        Branching fractions used when summing the chain, as ``(daughter, fraction)`` pairs.
    source : str
        Citation of the numbers.
    uncertain : bool
        ``True`` when at least one value has not been checked against its primary source.
    note : str
        What is uncertain and how it was obtained.

    Notes
    -----
    Energies per decay follow ICRP Publication 107 (Eckerman & Endo 2008, Ann ICRP 38(3)). The
    local-energy-deposition S value of a nuclide is
    ``E_np · 1.602176634e-13 J/MeV · 3.6e9 decays/(MBq·h) / m`` (MIRD Pamphlet 21: Bolch et al.
    2009, J Nucl Med 50:477); see
    :func:`doseresponse.radiobiology.absorbed.local_deposition_s_value`.

    Examples
    --------
    >>> lu = get_nuclide("177Lu")
    >>> lu.name, lu.half_life_h
    ('Lu-177', 159.528)
    """

    name: str
    half_life_h: float
    mean_np_energy_mev: float
    mean_photon_energy_mev: float | None
    emission: str
    chain: tuple[str, ...]
    branching: tuple[tuple[str, float], ...]
    source: str
    uncertain: bool
    note: str = ""

    def __post_init__(self) -> None:
        if not (self.half_life_h > 0 and math.isfinite(self.half_life_h)):
            raise DoseResponseError(
                f"half_life_h of {self.name} must be a finite number > 0 h; got {self.half_life_h}."
            )
        if not (self.mean_np_energy_mev >= 0 and math.isfinite(self.mean_np_energy_mev)):
            raise DoseResponseError(
                f"mean_np_energy_mev of {self.name} must be a finite number >= 0 MeV; got "
                f"{self.mean_np_energy_mev}."
            )

    @property
    def decay_constant_per_h(self) -> float:
        """Physical decay constant λ_phys = ln 2 / T½ (1/h)."""
        return _LN2 / self.half_life_h

    @property
    def half_life_d(self) -> float:
        """Physical half-life in days."""
        return self.half_life_h / 24.0

    @property
    def mean_energy_per_decay_j(self) -> float:
        """Mean non-penetrating energy per decay in joules (J)."""
        return self.mean_np_energy_mev * 1.602176634e-13


_NUCLIDES: dict[str, Nuclide] = {
    n.name: n
    for n in (
        Nuclide(
            name="Lu-177",
            half_life_h=159.528,  # 6.647 d
            mean_np_energy_mev=0.1479,  # β 133.3 keV + CE 13.5 keV + Auger 1.1 keV
            mean_photon_energy_mev=0.0351,
            emission="beta-",
            chain=("Lu-177",),
            branching=(),
            source=(
                f"{_ICRP107}, as tabulated in EJNMMI Physics 2020 "
                "(doi:10.1186/s40658-020-00301-2) Table 1; Falzone et al. 2015"
            ),
            uncertain=False,
            note="T½ 6.647 d; E_np = β 133.3 + CE 13.5 + Auger 1.1 keV per decay.",
        ),
        Nuclide(
            name="Y-90",
            half_life_h=64.1,
            mean_np_energy_mev=0.9327,  # pure β-
            mean_photon_energy_mev=0.0,
            emission="beta-",
            chain=("Y-90",),
            branching=(),
            source=_ICRP107,
            uncertain=True,
            note=(
                f"{_VERIFY} (last digit of E_np, e.g. in MIRDcalc); photons are only "
                "bremsstrahlung and a tiny 0+ pair branch, taken as 0."
            ),
        ),
        Nuclide(
            name="I-131",
            half_life_h=192.5,  # 8.02 d
            mean_np_energy_mev=0.192,  # β mean 0.182 MeV + CE/Auger
            mean_photon_energy_mev=0.38,
            emission="beta-",
            chain=("I-131",),
            branching=(),
            source=_ICRP107,
            uncertain=True,
            note=f"{_VERIFY}: E_np = β 0.182 MeV + CE/Auger; photon energy approximate.",
        ),
        Nuclide(
            name="Ho-166",
            half_life_h=26.8,
            mean_np_energy_mev=0.665,  # mean β energy
            mean_photon_energy_mev=None,
            emission="beta-",
            chain=("Ho-166",),
            branching=(),
            source=_ICRP107,
            uncertain=True,
            note=f"{_VERIFY}: values recalled from ICRP 107 / NNDC, not checked here.",
        ),
        Nuclide(
            name="Tb-161",
            half_life_h=165.36,  # 6.89 d
            mean_np_energy_mev=0.202,  # β ≈ 0.154 + CE ≈ 0.039 + Auger ≈ 0.009 MeV
            mean_photon_energy_mev=None,
            emission="beta-",
            chain=("Tb-161",),
            branching=(),
            source=_ICRP107,
            uncertain=True,
            note=(
                f"{_VERIFY}: T½ 6.89 d; E_np ≈ β 0.154 + CE 0.039 + Auger 0.009 MeV, recalled "
                "from ICRP 107 / NNDC, not checked here."
            ),
        ),
        Nuclide(
            name="Ac-225",
            half_life_h=238.08,  # 9.920 d
            mean_np_energy_mev=27.5,  # α per Ac-225 decay, chain in equilibrium
            mean_photon_energy_mev=None,
            emission="alpha",
            chain=("Ac-225", "Fr-221", "At-217", "Bi-213", "Po-213", "Tl-209", "Pb-209"),
            branching=(("Po-213", 0.978), ("Tl-209", 0.022)),
            source=_ICRP107,
            uncertain=True,
            note=(
                f"T½ 9.920 d checked; chain α energies (Ac-225 5.8, Fr-221 6.3, At-217 7.1, "
                f"Po-213 8.4 MeV × 0.978) {_VERIFY}. Chain β/electron energy not included."
            ),
        ),
        Nuclide(
            name="Ra-223",
            half_life_h=274.32,  # 11.43 d
            mean_np_energy_mev=26.3,  # α: 5.64 + 6.75 + 7.39 + 6.55 MeV
            mean_photon_energy_mev=None,
            emission="alpha",
            chain=("Ra-223", "Rn-219", "Po-215", "Pb-211", "Bi-211", "Tl-207"),
            branching=(),
            source=(
                f"{_ICRP107}; chain α energies from the J Nucl Med table 'α- and β-radiation "
                "emitted in decay chain of 223Ra'"
            ),
            uncertain=False,
            note=(
                "α per Ra-223 decay = 5.64 (Ra-223) + 6.75 (Rn-219) + 7.39 (Po-215) + "
                "6.55 (Bi-211) MeV ≈ 26.3 MeV (≈ 97 % of the chain's ≈ 27.5 MeV); "
                "the chain is summed as linear (Bi-211's minor β branch to Po-211 neglected) and "
                "its β energy is not included."
            ),
        ),
        Nuclide(
            name="Pb-212",
            half_life_h=10.64,
            mean_np_energy_mev=7.80,  # 0.6406 × 8.785 (Po-212) + 0.3594 × 6.05 (Bi-212)
            mean_photon_energy_mev=None,
            emission="alpha",
            chain=("Pb-212", "Bi-212", "Po-212", "Tl-208"),
            branching=(("Po-212", 0.6406), ("Tl-208", 0.3594)),
            source=_ICRP107,
            uncertain=True,
            note=(
                f"{_VERIFY}: α per Pb-212 decay ≈ 0.6406 × 8.785 MeV (Po-212) + 0.3594 × "
                "6.05 MeV (Bi-212) ≈ 7.8 MeV; the chain's β energy is not included."
            ),
        ),
    )
}

_ELEMENTS = {
    "lutetium": "Lu",
    "yttrium": "Y",
    "iodine": "I",
    "holmium": "Ho",
    "terbium": "Tb",
    "actinium": "Ac",
    "radium": "Ra",
    "lead": "Pb",
}

_SYMBOL_MASS = re.compile(r"^([a-z]{1,2})(\d{1,3})$")
_MASS_SYMBOL = re.compile(r"^(\d{1,3})([a-z]{1,2})$")
_ELEMENT_MASS = re.compile(r"^([a-z]{3,})(\d{1,3})$")


def get_nuclide(name: str | Nuclide) -> Nuclide:
    """Return the decay data of a nuclide from any common spelling of its name.

    Parameters
    ----------
    name : str or Nuclide
        ``"Lu-177"``, ``"177Lu"``, ``"lu177"``, ``"Lu 177"``, ``"177-Lu"``, ``"lutetium-177"``
        (case-insensitive). A :class:`Nuclide` is returned unchanged.

    Returns
    -------
    Nuclide
        The tabulated data.

    Raises
    ------
    UnknownNameError
        If the nuclide is not tabulated; the message lists the known names.

    Notes
    -----
    Data from ICRP Publication 107 (Eckerman & Endo 2008, Ann ICRP 38(3)); see :class:`Nuclide`.

    Examples
    --------
    >>> get_nuclide("lu177").name
    'Lu-177'
    """
    if isinstance(name, Nuclide):
        return name
    if not isinstance(name, str):
        raise DoseResponseError(
            f"name must be a nuclide name such as 'Lu-177'; got {type(name).__name__} {name!r}."
        )
    canonical = _canonical_name(name)
    try:
        return lookup_name(canonical, _NUCLIDES, "nuclide")
    except UnknownNameError:
        valid = ", ".join(sorted(_NUCLIDES))
        raise UnknownNameError(
            f"unknown nuclide {name!r}; valid names are: {valid} (spellings such as 'Lu-177', "
            "'177Lu' and 'lu177' are accepted)."
        ) from None


def list_nuclides() -> pd.DataFrame:
    """Table of every tabulated nuclide with its data, source and uncertainty flag.

    Returns
    -------
    pandas.DataFrame
        One row per nuclide, columns ``name``, ``half_life_h``, ``half_life_d``,
        ``decay_constant_per_h``, ``mean_np_energy_mev``, ``mean_photon_energy_mev``,
        ``emission``, ``chain``, ``uncertain``, ``note``, ``source``.

    Notes
    -----
    Data from ICRP Publication 107 (Eckerman & Endo 2008, Ann ICRP 38(3)); values with
    ``uncertain=True`` must be verified against it before clinical use.
    """
    rows = [
        {
            "name": n.name,
            "half_life_h": n.half_life_h,
            "half_life_d": n.half_life_d,
            "decay_constant_per_h": n.decay_constant_per_h,
            "mean_np_energy_mev": n.mean_np_energy_mev,
            "mean_photon_energy_mev": n.mean_photon_energy_mev,
            "emission": n.emission,
            "chain": " → ".join(n.chain),
            "uncertain": n.uncertain,
            "note": n.note,
            "source": n.source,
        }
        for n in _NUCLIDES.values()
    ]
    return pd.DataFrame(rows)


def _canonical_name(name: str) -> str:
    """Map '177Lu', 'lu177', 'Lu 177', 'lutetium-177' ... to 'Lu-177' (or return it unchanged)."""
    key = re.sub(r"[\s_\-]", "", name.strip().lower())
    for pattern, sym_first in ((_SYMBOL_MASS, True), (_MASS_SYMBOL, False)):
        match = pattern.match(key)
        if match:
            symbol, mass = match.groups() if sym_first else match.groups()[::-1]
            return f"{symbol.capitalize()}-{int(mass)}"
    match = _ELEMENT_MASS.match(key)
    if match and match.group(1) in _ELEMENTS:
        return f"{_ELEMENTS[match.group(1)]}-{int(match.group(2))}"
    return name
