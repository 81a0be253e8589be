r"""Priors on D50 and the slope from external-beam NTCP curves, discounted by a power prior.

External-beam radiotherapy (EBRT) has tolerance curves for most organs at risk — the Lyman–
Kutcher–Burman (LKB) fits of Burman et al. (1991) to the Emami et al. (1991) tolerance doses,
and the QUANTEC reviews (2010). :func:`literature_prior` turns one of them
(:func:`list_literature_curves`, transcribed with citations in
``doseresponse/models/data/external_beam_ntcp.csv``) into log-normal priors on D50 and the
slope of an RPT model, in the RPT dose metric, discounted by a power prior.

Conversion (the assumptions, stated):

1. **Dose → BED.** The EBRT TD50 is a physical dose :math:`D` given in fractions of
   :math:`d` Gy (2 Gy for the Emami/Burman values); its BED is
   :math:`D(1 + d/(\alpha/\beta))` (:func:`doseresponse.radiobiology.bed.bed_fractionated`;
   Fowler 1989 Br J Radiol 62:679) and its EQD2 is BED/(1 + 2/(α/β))
   (:func:`doseresponse.radiobiology.bed.eqd`; Withers et al. 1983 IJROBP 9:1339), with α/β
   from the organ's tissue preset (:func:`doseresponse.radiobiology.tissues.tissue_parameters`)
   or the data file.
2. **BED is the exchange currency.** The RPT dose metric (an organ's BED computed from its
   protracted dose-rate history with the Lea–Catcheside G factor,
   :func:`doseresponse.radiobiology.bed.bed`) is assumed iso-effective with the same EBRT BED
   (the LQ model's premise; Dale 1985 Br J Radiol 58:515). This is the weakest link: the
   kidney's RPT tolerance appears higher than the EBRT-derived BED (Konijnenberg 2003 Cancer
   Biother Radiopharm 18:619), dose in RPT is not uniform within the organ, and endpoints and
   follow-up differ — which is why the prior is discounted and checked for conflict
   (:mod:`doseresponse.models.prior_conflict`).
3. **Whole organ.** The TD50 is Burman's whole-organ (uniform-dose) value; an RPT organ mean
   BED is treated as that uniform dose (LKB :math:`n` is ignored).
4. **Slope.** At a fixed fraction size BED and EQD2 are proportional to :math:`D`, so the
   relative width :math:`m` (probit/LKB) is unchanged; other families receive the same
   normalised slope at D50, :math:`\gamma_{50} = 1/(m\sqrt{2\pi})` (Bentzen & Tucker 1997 Int
   J Radiat Biol 71:531).

Uncertainty and discount: the literature value is treated as a historical estimate
:math:`\ln D_{50} \sim N(\ln D_{50}^{lit}, \sigma_{lit}^2 + \sigma_{\alpha/\beta}^2)` (and
:math:`\ln s \sim N(\ln s^{lit}, \sigma_{lit,s}^2)`), where :math:`\sigma_{\alpha/\beta}` is the
spread of the BED over the α/β range (taken as a 95 % range) and :math:`\sigma_{lit}` the
spread between sources (defaults :data:`LITERATURE_LOG_SD`: the Emami/Burman and QUANTEC values
of the same organ differ by factors up to 1.26 in TD50 (lung 24.5 vs 30.8 Gy) and 2 in
:math:`m` (lung 0.18 vs 0.37)). The power prior raises that historical likelihood to a fixed
power :math:`a_0 \in (0, 1]` (Ibrahim JG, Chen MH 2000 Stat Sci 15:46; Ibrahim JG et al. 2015
Stat Med 34:3724): for a normal likelihood this divides its precision by :math:`a_0`, and
combined with the package's vague default prior :math:`\pi_0` (a proper initial prior, as the
power prior requires) the prior is normal with precision
:math:`a_0/\sigma_{hist}^2 + 1/\sigma_0^2` and the precision-weighted mean. :math:`a_0 = 1`
takes the literature at face value; :math:`a_0 \to 0` ignores it; :math:`a_0 = 0.5` (default)
counts it as half as informative as stated. A fixed :math:`a_0` is chosen before seeing the data,
with a sensitivity analysis over several values (``docs/howto/external_beam_priors.md``).
``a0="estimate"`` instead learns :math:`a_0` from the data with the normalised power prior
(:mod:`doseresponse.models.power_prior`; Duan, Ye & Smith 2006; Ibrahim et al. 2015):
:math:`a_0 \sim \mathrm{Beta}` (default uniform), and given :math:`a_0` the prior is the
fixed-:math:`a_0` normal prior above.

Units: doses in Gy (physical EBRT dose), Gy BED or Gy EQD2; α/β in Gy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from doseresponse._validation import check_scalar, lookup_name
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.curves import get_curve_family
from doseresponse.models.power_prior import (
    POWER_PRIOR_KEY,
    conditional_normal,
    normalise_power_prior,
)
from doseresponse.models.priors import default_priors
from doseresponse.radiobiology.bed import bed_fractionated, eqd

__all__ = [
    "DEFAULT_A0",
    "ESTIMATE",
    "LITERATURE_LOG_SD",
    "METRICS",
    "LiteraturePrior",
    "list_literature_curves",
    "literature_prior",
]

_Z95 = 1.959963984540054
_SQRT_2PI = math.sqrt(2.0 * math.pi)

DEFAULT_A0 = 0.5
"""Default power-prior weight of the literature curve (half as informative as stated)."""

ESTIMATE = "estimate"
"""``a0=ESTIMATE``: learn the weight from the data (normalised power prior)."""

LITERATURE_LOG_SD = {"d50": 0.15, "slope": 0.35}
"""Between-source log-SD of a literature TD50 and of its slope (see the module docstring)."""

METRICS = {
    "BED": "biologically effective dose (Gy BED)",
    "EQD2": "equivalent dose in 2-Gy fractions (Gy EQD2)",
    "dose": "physical EBRT dose as published (Gy); no conversion",
}
"""RPT dose metrics a literature curve can be converted to."""


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    path = resources.files("doseresponse.models").joinpath("data/external_beam_ntcp.csv")
    with path.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle).set_index("key")


def list_literature_curves() -> pd.DataFrame:
    """The external-beam NTCP curves available as priors, with their citations.

    Returns
    -------
    pandas.DataFrame
        Indexed by key (e.g. ``"kidney-burman1991"``); columns ``organ``, ``endpoint``,
        ``source_type`` (``"emami-burman"`` or ``"quantec"``), ``td50_gy`` (physical dose, Gy),
        ``m``, ``n``, ``dose_per_fraction_gy``, ``tissue_preset``, ``alpha_beta_gy`` and its
        range, ``verification`` and ``citation``.

    Notes
    -----
    Transcribed from the project's reference notes (Burman C et al. 1991 IJROBP 21:123;
    Emami B et al. 1991 IJROBP 21:109; Dawson LA et al. 2002 IJROBP 53:810; Seppenwoolde Y et
    al. 2003 IJROBP 55:724; Deasy JO et al. 2010 IJROBP 76:S58); ``verification`` says which
    numbers still need checking in the primary paper.

    Examples
    --------
    >>> float(list_literature_curves().loc["kidney-burman1991", "td50_gy"])
    28.0
    """
    return _table().copy()


@dataclass(frozen=True)
class LiteraturePrior:
    """Log-normal priors on D50 and the slope transferred from an external-beam curve.

    Attributes
    ----------
    key : str
        Row of :func:`list_literature_curves`.
    curve : str
        The RPT model's curve family.
    metric : str
        ``"BED"``, ``"EQD2"`` or ``"dose"``.
    alpha_beta : float
        α/β used for the conversion (Gy).
    a0 : float or str
        Power-prior weight in (0, 1], or ``"estimate"`` (normalised power prior).
    td50_literature : float
        The published TD50 (physical Gy in ``dose_per_fraction``-Gy fractions).
    d50_converted : float
        TD50 in the RPT metric (Gy BED / Gy EQD2 / Gy).
    slope_converted : float
        Slope in the model's family (γ50, or m for probit).
    priors : dict
        ``{"d50": ..., "slope": ...}`` log-normal priors (with a ``source`` text) for
        :class:`~doseresponse.models.model.NTCPModel` ``priors=``; with ``a0="estimate"``
        these are the vague initial priors and ``"power_prior"`` holds the historical
        estimates and the Beta prior of a0 (:mod:`doseresponse.models.power_prior`).
    historical_sd : dict
        Log-SDs of the undiscounted historical estimate (``"d50"``, ``"slope"``).
    """

    key: str
    curve: str
    metric: str
    alpha_beta: float
    a0: float | str
    td50_literature: float
    d50_converted: float
    slope_converted: float
    priors: dict[str, Any]
    historical_sd: dict[str, float]

    def describe(self) -> str:
        """A paragraph stating the source, the conversion and the discount.

        Returns
        -------
        str
        """
        row = _table().loc[self.key]
        slope_name = get_curve_family(self.curve).slope_name
        head = (
            f"{row['organ']} ({row['endpoint']}): TD50 {self.td50_literature:g} Gy in "
            f"{row['dose_per_fraction_gy']:g}-Gy fractions, m {row['m']:g} ({row['citation']}); "
            f"converted to {self.metric} with alpha/beta {self.alpha_beta:g} Gy: D50 "
            f"{self.d50_converted:.4g} Gy {self.metric}, {slope_name} "
            f"{self.slope_converted:.3g}; "
        )
        if self.a0 == ESTIMATE:
            power = self.priors[POWER_PRIOR_KEY]
            return head + (
                f"normalised power prior, a0 estimated with prior Beta({power['a0_alpha']:g}, "
                f"{power['a0_beta']:g}): historical log-SD {self.historical_sd['d50']:.3g} "
                f"(D50) and {self.historical_sd['slope']:.3g} ({slope_name}), divided by a0."
            )
        d50, slope = self.priors["d50"], self.priors["slope"]
        lo, hi = (d50["median"] * math.exp(s * _Z95 * d50["sigma"]) for s in (-1, 1))
        return head + (
            f"power prior a0 = {self.a0:g}: D50 prior median "
            f"{d50['median']:.4g}, 95 % range {lo:.4g}-{hi:.4g} Gy {self.metric}; "
            f"{slope_name} prior median {slope['median']:.3g} (log-SD {slope['sigma']:.3g})."
        )


def literature_prior(
    key: str,
    *,
    curve: str = "probit",
    metric: str = "BED",
    a0: float | str = DEFAULT_A0,
    alpha_beta: float | None = None,
    dose_range: tuple[float, float] | None = None,
    a0_prior: tuple[float, float] = (1.0, 1.0),
) -> LiteraturePrior:
    r"""Power-prior-discounted priors on D50 and slope from an external-beam NTCP curve.

    Parameters
    ----------
    key : str
        A row of :func:`list_literature_curves`, e.g. ``"kidney-burman1991"``.
    curve : str
        The RPT model's curve family (``"probit"``/``"lkb"`` keeps the LKB form).
    metric : {"BED", "EQD2", "dose"}
        The RPT dose metric of the data.
    a0 : float or str
        Power-prior weight in (0, 1] (see the module docstring), or ``"estimate"``: the
        normalised power prior, which learns a0 from the data
        (:mod:`doseresponse.models.power_prior`; needs ``pooling`` "partial" or "complete").
    alpha_beta : float, optional
        α/β (Gy) overriding the organ's preset; its ±20 % is then the conversion range.
    dose_range : (float, float), optional
        5th and 95th percentile of the RPT doses (in ``metric``); gives the vague initial
        prior :math:`\pi_0` the package would use for those data
        (:func:`doseresponse.models.priors.default_priors`). Default: the converted TD50
        ×/÷ 3, i.e. a vague prior centred on the literature value.
    a0_prior : (float, float)
        Beta(a, b) prior of an estimated a0 (``a0="estimate"``); default (1, 1), uniform.

    Returns
    -------
    LiteraturePrior
        ``.priors`` goes to ``NTCPModel(priors=...)``.

    Raises
    ------
    UnknownNameError
        Unknown key or metric.
    DoseResponseError
        ``a0`` outside (0, 1] (and not ``"estimate"``), or a non-positive α/β, dose range or
        ``a0_prior``.

    Notes
    -----
    Conversion and discount as in the module docstring; the formulas are
    :math:`\sigma^{-2} = a_0\sigma_{hist}^{-2} + \sigma_0^{-2}` and
    :math:`\mu = \sigma^2(a_0\mu_{hist}\sigma_{hist}^{-2} + \mu_0\sigma_0^{-2})` on the log
    scale (Ibrahim & Chen 2000 Stat Sci 15:46, normal case).

    Examples
    --------
    >>> prior = literature_prior("kidney-burman1991", metric="BED", a0=1.0)
    >>> round(prior.d50_converted, 2)  # 28 Gy in 2-Gy fractions, alpha/beta 2.6 Gy
    49.54
    """
    table = _table()
    key = lookup_name(key, {k: k for k in table.index}, "literature curve")
    metric = lookup_name(metric, {k.lower(): k for k in METRICS}, "metric")
    estimate = isinstance(a0, str) and a0.lower() == ESTIMATE
    if estimate:
        a0_alpha = check_scalar(a0_prior[0], "a0_prior[0]", positive=True)
        a0_beta = check_scalar(a0_prior[1], "a0_prior[1]", positive=True)
    elif isinstance(a0, str):
        raise DoseResponseError(
            f"a0 must be a number in (0, 1] or 'estimate'; got {a0!r}."
        )
    a0 = ESTIMATE if estimate else check_scalar(a0, "a0", positive=True)
    if not estimate and a0 > 1.0:
        raise DoseResponseError(
            f"a0 must lie in (0, 1] (1 = the literature at face value); got {a0:g}."
        )
    family = get_curve_family(curve)
    row = table.loc[key]
    ab, ab_low, ab_high = _alpha_beta(row, alpha_beta)
    d = float(row["dose_per_fraction_gy"])
    td50 = float(row["td50_gy"])

    def convert(value: float, ratio: float) -> float:
        if metric == "dose":
            return value
        bed = float(bed_fractionated(value, dose_per_fraction=d, alpha_beta=ratio))
        return bed if metric == "BED" else float(eqd(bed, alpha_beta=ratio))

    d50 = convert(td50, ab)
    spread = 0.0
    if metric != "dose":
        spread = abs(math.log(convert(td50, ab_low) / convert(td50, ab_high))) / (2.0 * _Z95)
    m = float(row["m"])
    slope = m if family.slope_name == "m" else 1.0 / (m * _SQRT_2PI)
    hist_sd = {
        "d50": math.hypot(LITERATURE_LOG_SD["d50"], spread),
        "slope": LITERATURE_LOG_SD["slope"],
    }
    if dose_range is None:
        dose_range = (d50 / 3.0, d50 * 3.0)
    lo = check_scalar(dose_range[0], "dose_range[0]", positive=True)
    hi = check_scalar(dose_range[1], "dose_range[1]", positive=True)
    # ten copies of each end: their 5th and 95th percentiles are exactly lo and hi, so this is
    # the package's default (vague) prior for data with that dose range
    vague = default_priors([lo] * 10 + [hi] * 10, family.slope_name)
    discount = "a0 estimated (normalised power prior)" if estimate else f"a0={a0:g}"
    source = f"{key}: {row['citation']}; {metric} with alpha/beta {ab:g} Gy; power prior {discount}"
    if estimate:
        priors = {
            "d50": {**vague["d50"], "source": source},
            "slope": {**vague["slope"], "source": source},
            POWER_PRIOR_KEY: normalise_power_prior({
                "d50": {"median": d50, "sigma": hist_sd["d50"]},
                "slope": {"median": slope, "sigma": hist_sd["slope"]},
                "a0_alpha": a0_alpha, "a0_beta": a0_beta, "source": source,
            }),
        }
        return LiteraturePrior(
            key=key, curve=family.name, metric=metric, alpha_beta=ab, a0=ESTIMATE,
            td50_literature=td50, d50_converted=d50, slope_converted=slope, priors=priors,
            historical_sd=hist_sd,
        )
    priors = {
        "d50": _power_prior(math.log(d50), hist_sd["d50"], vague["d50"], a0, source),
        "slope": _power_prior(math.log(slope), hist_sd["slope"], vague["slope"], a0, source),
    }
    return LiteraturePrior(
        key=key, curve=family.name, metric=metric, alpha_beta=ab, a0=a0,
        td50_literature=td50, d50_converted=d50, slope_converted=slope, priors=priors,
        historical_sd=hist_sd,
    )


def _alpha_beta(row: pd.Series, override: float | None) -> tuple[float, float, float]:
    if override is not None:
        ab = check_scalar(override, "alpha_beta", positive=True, unit="Gy")
        return ab, 0.8 * ab, 1.2 * ab
    preset = row["tissue_preset"]
    if isinstance(preset, str) and preset:
        from doseresponse.radiobiology.tissues import tissue_parameters

        tissue = tissue_parameters(preset)
        low, high = tissue.alpha_beta_range
        return float(tissue.alpha_beta), float(low), float(high)
    return float(row["alpha_beta_gy"]), float(row["alpha_beta_low_gy"]), float(
        row["alpha_beta_high_gy"]
    )


def _power_prior(
    mu_hist: float, sd_hist: float, vague: dict[str, Any], a0: float, source: str
) -> dict[str, Any]:
    """Normal power prior on the log scale, combined with the vague initial prior."""
    mean, sd = conditional_normal(a0, mu_hist, sd_hist, math.log(vague["median"]), vague["sigma"])
    return {"dist": "lognormal", "median": math.exp(float(mean)), "sigma": float(sd),
            "source": source}
