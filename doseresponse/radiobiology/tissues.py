"""Linear-quadratic parameter presets (α/β, repair half-time, α) for RPT tissues, with sources.

Every preset carries its literature source and how far that source has been checked. **All six
presets are marked uncertain**: the values are the ones commonly used in radiopharmaceutical
therapy (RPT) dosimetry, but the primary papers have not been checked for every number (the
project's radiobiology notes, §5.1, mark them [U]). Some defaults could only be checked in software
source code ([V code]), which says what tools use, not what the literature established. Check the
primary paper before relying on a value, and report results with the parameters used.

Units: α/β Gy, repair half-time h, α 1/Gy.

Examples
--------
>>> from doseresponse.radiobiology.tissues import tissue_parameters
>>> tissue_parameters("kidney").lq_kwargs()
{'alpha_beta': 2.6, 'repair_half_time': 2.8}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from doseresponse._validation import lookup_name

__all__ = ["TissueParameters", "list_tissues", "tissue_parameters"]


@dataclass(frozen=True)
class TissueParameters:
    """LQ parameters of one tissue, with plausible ranges, source and confidence.

    Parameters
    ----------
    name : str
        Preset name (lower case, hyphenated), e.g. ``"kidney"``.
    alpha_beta : float
        Default α/β ratio (Gy).
    repair_half_time : float
        Default repair half-time of sublethal damage (h).
    alpha : float or None
        Default LQ α (1/Gy), or None where the source gives no single value.
    alpha_beta_range : tuple of float
        Plausible α/β range (Gy) reported in the literature.
    repair_half_time_range : tuple of float
        Plausible repair half-time range (h).
    alpha_range : tuple of float or None
        Plausible α range (1/Gy), or None if not reported.
    source : str
        Literature the values come from (authors, year, journal).
    uncertain : bool
        True if the values have not been verified in the primary source.
    note : str
        What is and is not verified, and how defaults were chosen.

    Notes
    -----
    Values as collected in the project's radiobiology notes §5.1 from Bodei et al. 2008 (Eur J
    Nucl Med Mol Imaging 35:1847), Wessels et al. 2008 (MIRD Pamphlet 20, J Nucl Med 49:1884),
    Barone et al. 2005 (J Nucl Med 46:99S), Strigari et al. 2010 (J Nucl Med 51:1377), Brenner &
    Hall 1999 (IJROBP 43:1095) and standard PRRT practice.
    """

    name: str
    alpha_beta: float
    repair_half_time: float
    alpha: float | None
    alpha_beta_range: tuple[float, float]
    repair_half_time_range: tuple[float, float]
    alpha_range: tuple[float, float] | None
    source: str
    uncertain: bool
    note: str

    def lq_kwargs(self) -> dict[str, float]:
        """Keyword arguments for :func:`~doseresponse.radiobiology.bed.bed` and friends.

        Returns
        -------
        dict
            ``{"alpha_beta": α/β (Gy), "repair_half_time": T_rep (h)}``, so that
            ``bed(history, **tissue_parameters("kidney").lq_kwargs())`` works.
        """
        return {"alpha_beta": self.alpha_beta, "repair_half_time": self.repair_half_time}


_UNVERIFIED = "Values not verified in the primary papers ([U] in the radiobiology notes §5.1)."

_TISSUES: dict[str, TissueParameters] = {
    "kidney": TissueParameters(
        name="kidney",
        alpha_beta=2.6,
        repair_half_time=2.8,
        alpha=0.26,
        alpha_beta_range=(2.5, 2.6),
        repair_half_time_range=(1.5, 2.8),
        alpha_range=None,
        source=(
            "Bodei et al. 2008 Eur J Nucl Med Mol Imaging 35:1847; Wessels et al. 2008 (MIRD "
            "Pamphlet 20) J Nucl Med 49:1884; Barone et al. 2005 J Nucl Med 46:99S"
        ),
        uncertain=True,
        note=(
            f"{_UNVERIFIED} α/β 2.6 Gy and T_rep 2.8 h are the PyTheranostics kidney defaults "
            "(verified in its code); some papers use α/β 2.5 Gy and T_rep 1.5-2.5 h (a public "
            "calculator uses 2.6 Gy / 2.5 h). α ≈ 0.26 /Gy is marked '?' in the source table and "
            "is NOT verified."
        ),
    ),
    "red-marrow": TissueParameters(
        name="red-marrow",
        alpha_beta=10.0,
        repair_half_time=0.5,
        alpha=None,
        alpha_beta_range=(10.0, 15.0),
        repair_half_time_range=(0.5, 1.0),
        alpha_range=(0.3, 0.35),
        source="standard PRRT practice (no single primary reference)",
        uncertain=True,
        note=(
            f"{_UNVERIFIED} Some use α/β 15 Gy; a public calculator uses 10 Gy / 0.5 h (verified "
            "in its code). α ~0.3-0.35 /Gy (radiosensitive) is a range only, so alpha is None."
        ),
    ),
    "liver": TissueParameters(
        name="liver",
        alpha_beta=2.5,
        repair_half_time=2.0,
        alpha=None,
        alpha_beta_range=(2.0, 3.0),
        repair_half_time_range=(1.5, 2.5),
        alpha_range=None,
        source=(
            "Strigari et al. 2010 J Nucl Med 51:1377 (90Y resin); Cremonesi et al. 2014 Front "
            "Oncol 4:210 (review)"
        ),
        uncertain=True,
        note=(
            f"{_UNVERIFIED} Normal liver. The source gives T_rep only as a range 1.5-2.5 h; the "
            "default 2.0 h is the midpoint, chosen by this package. One EBRT study with "
            "hepatitis gives α/β ≈ 8 Gy (Son et al. 2013 Radiat Oncol 8:61)."
        ),
    ),
    "salivary-glands": TissueParameters(
        name="salivary-glands",
        alpha_beta=3.0,
        repair_half_time=1.0,
        alpha=None,
        alpha_beta_range=(3.0, 3.5),
        repair_half_time_range=(0.5, 1.0),
        alpha_range=None,
        source="no RPT-specific determination; late-responding-tissue default",
        uncertain=True,
        note=(
            f"{_UNVERIFIED} The source gives T_rep only as a range 0.5-1 h; the default 1.0 h is "
            "the value of a public calculator (which uses α/β 3.5 Gy / 1.0 h, verified in its "
            "code), chosen by this package."
        ),
    ),
    "tumour-net": TissueParameters(
        name="tumour-net",
        alpha_beta=10.0,
        repair_half_time=1.5,
        alpha=None,
        alpha_beta_range=(10.0, 10.0),
        repair_half_time_range=(0.5, 2.0),
        alpha_range=(0.1, 0.35),
        source="EBRT-derived default for tumours (generic neuroendocrine tumour, NET)",
        uncertain=True,
        note=(
            f"{_UNVERIFIED} α is reported only as a range 0.1-0.35 /Gy, so alpha is None; pass "
            "alpha explicitly for repopulation."
        ),
    ),
    "prostate-cancer": TissueParameters(
        name="prostate-cancer",
        alpha_beta=1.5,
        repair_half_time=1.5,
        alpha=None,
        alpha_beta_range=(1.2, 3.0),
        repair_half_time_range=(1.5, 1.9),
        alpha_range=None,
        source="Brenner & Hall 1999 IJROBP 43:1095; Fowler et al. 2001",
        uncertain=True,
        note=(
            f"{_UNVERIFIED} PSMA therapy. The source gives T_rep only as a range 1.5-1.9 h; the "
            "default 1.5 h is its lower end, chosen by this package."
        ),
    ),
}

_ALIASES = {
    "kidneys": "kidney",
    "renal": "kidney",
    "marrow": "red-marrow",
    "bone-marrow": "red-marrow",
    "red-bone-marrow": "red-marrow",
    "normal-liver": "liver",
    "salivary": "salivary-glands",
    "salivary-gland": "salivary-glands",
    "parotid": "salivary-glands",
    "tumour": "tumour-net",
    "tumor": "tumour-net",
    "tumor-net": "tumour-net",
    "net-tumour": "tumour-net",
    "net-tumor": "tumour-net",
    "net": "tumour-net",
    "prostate": "prostate-cancer",
    "psma": "prostate-cancer",
}


def tissue_parameters(name: str) -> TissueParameters:
    """LQ parameter preset of a tissue.

    Parameters
    ----------
    name : str
        Tissue name, case-insensitive: ``kidney``, ``red-marrow``, ``liver``,
        ``salivary-glands``, ``tumour-net``, ``prostate-cancer`` (underscores and spaces work;
        aliases such as ``marrow``, ``tumor``, ``parotid`` and ``psma`` too).

    Returns
    -------
    TissueParameters
        The preset, with source and confidence. Every preset is currently ``uncertain``.

    Raises
    ------
    UnknownNameError
        For an unknown name; the message lists the valid names.

    Notes
    -----
    Values from the radiobiology notes §5.1 (Bodei et al. 2008, Eur J Nucl Med Mol Imaging
    35:1847; Wessels et al. 2008, J Nucl Med 49:1884; Strigari et al. 2010, J Nucl Med 51:1377;
    Brenner & Hall 1999, IJROBP 43:1095); see each preset's ``source`` and ``note``.

    Examples
    --------
    >>> tissue_parameters("Red marrow").alpha_beta
    10.0
    """
    return lookup_name(name, _TISSUES, "tissue", aliases=_ALIASES)


def list_tissues() -> pd.DataFrame:
    """All tissue presets as a table, one row per tissue.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``alpha_beta`` (Gy), ``repair_half_time`` (h), ``alpha`` (1/Gy),
        the ``*_range`` columns as (low, high) tuples, ``source``, ``uncertain`` and ``note``.

    Notes
    -----
    See :func:`tissue_parameters` for sources.
    """
    return pd.DataFrame([asdict(t) for t in _TISSUES.values()])
