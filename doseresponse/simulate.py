r"""Synthetic multi-study dose-response cohorts with known truth.

:func:`simulate_cohort` draws a multi-centre cohort from a chosen curve family
(:mod:`doseresponse.models.curves`) with

* between-study heterogeneity on log D50 (SD ``tau``) and, optionally, on log slope
  (``slope_tau``);
* covariates acting as dose-modifying factors on D50 (``D50_patient = D50_study ·
  Π factor_k^{x_k}``, the way the clinical literature states risk factors: kidney BED tolerance
  28 Gy with risk factors vs 40 Gy without);
* a dose distribution per study (log-normal with a median and log-SD per study, or any callable);
* dosimetry measurement error (``observed = true · LogNormal(0, σ)``);
* some studies reported only as published-style aggregate rows: events/n per quantile bin of the
  *observed* dose with the bin's median and range.

It returns the data as :class:`~doseresponse.data.DoseResponseData` together with the exact truth
(:class:`SimulationTruth`: parameters, per-study D50, TD_p for the typical study and for a new
study) and every simulated patient's true dose, so that fitting code can be checked against known
values. :func:`simulate_time_activity_cohort` goes one step further back: it simulates kidney
time-activity samples per patient and turns them into absorbed dose and BED through
:mod:`doseresponse.radiobiology`, so the whole pipeline can be exercised end to end.

Units: dose in ``dose_unit`` (Gy unless stated), activity MBq, time h.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from doseresponse._validation import check_probability, check_scalar
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError, UnknownNameError
from doseresponse.models.curves import CurveFamily, get_curve_family

__all__ = [
    "SimulatedCohort",
    "SimulatedTimeActivityCohort",
    "SimulationTruth",
    "simulate_cohort",
    "simulate_time_activity_cohort",
]

#: Gauss–Hermite order used to integrate over the between-study random effects.
GAUSS_HERMITE_ORDER = 40
AGGREGATE_COVARIATE_MODES = ("stratify", "fraction", "omit")
_RESERVED = ("study", "patient", "dose", "dose_rel_se", "outcome", "events", "n", "dose_low",
             "dose_high", "true_dose", "reported_as", "bin", "study_d50", "patient_d50")

#: ``f(rng, study_index, size)`` → ``size`` true doses of one study.
DoseSampler = Callable[[np.random.Generator, int, int], ArrayLike]


# --------------------------------------------------------------------------------------------
# result objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationTruth:
    r"""The exact parameters a simulated cohort was drawn from.

    Attributes
    ----------
    curve : str
        Curve family name (see :func:`doseresponse.models.curves.get_curve_family`).
    d50 : float
        Population (typical-study) D50 for a patient without risk covariates, in ``dose_unit``.
    slope : float
        Population slope parameter of the family (γ50, or ``m`` for probit/LKB).
    slope_name : str
        ``"gamma50"`` or ``"m"``.
    tau : float
        SD of log D50 between studies.
    slope_tau : float
        SD of log slope between studies.
    study_d50 : dict of str to float
        D50 of each study (population D50 times ``exp(u_study)``), in ``dose_unit``.
    study_slope : dict of str to float
        Slope of each study.
    study_effects : dict of str to float
        Study random effect ``u_study`` on log D50.
    covariate_factors : dict of str to float
        Dose-modifying factor of each binary covariate (multiplies D50 when the covariate is 1).
    covariate_prevalence : dict of str to float
        Probability that a patient has the covariate.
    dose_rel_sd : float
        Log-SD σ of the multiplicative dosimetry error (``observed = true · LogNormal(0, σ)``).
    dose_metric, dose_unit : str
        Dose metric and unit of the cohort.
    ipd_studies, aggregate_studies : tuple of str
        Studies reported patient by patient / only as aggregate rows.
    random_seed : int
        Seed of the generator (the one drawn from the OS when none was given).
    background : float
        Background (zero-dose) risk b: the response probability is :math:`b + (1 - b)F(D)`
        (0: none). :meth:`td` and :meth:`td_new_study` are then extra risk,
        :math:`(P - b)/(1 - b) = p`; :meth:`probability` is the total risk.

    Notes
    -----
    Covariates act as dose-modifying factors: :math:`D_{50,i} = D_{50,s}\prod_k f_k^{x_{ik}}`,
    so every TD_p scales by the same factor (DESIGN.md, "Covariates as dose-modifying factors").
    The new-study curve integrates the study random effects out:
    :math:`P_{new}(D) = E_{u,v}[P(D; D_{50}e^{u}, s\,e^{v})]`, :math:`u\sim N(0,\tau^2)`,
    :math:`v\sim N(0,\tau_s^2)`, by Gauss–Hermite quadrature (order
    ``GAUSS_HERMITE_ORDER``) — what a new centre should expect.
    """

    curve: str
    d50: float
    slope: float
    slope_name: str
    tau: float
    slope_tau: float
    study_d50: dict[str, float]
    study_slope: dict[str, float]
    study_effects: dict[str, float]
    covariate_factors: dict[str, float]
    covariate_prevalence: dict[str, float]
    dose_rel_sd: float
    dose_metric: str
    dose_unit: str
    ipd_studies: tuple[str, ...]
    aggregate_studies: tuple[str, ...]
    random_seed: int
    background: float = 0.0

    def __repr__(self) -> str:
        covs = ", ".join(f"{k}×{f:g}" for k, f in self.covariate_factors.items()) or "none"
        return (
            f"SimulationTruth({self.curve}: d50={self.d50:g} {self.dose_unit}, "
            f"{self.slope_name}={self.slope:g}, tau={self.tau:g}, slope_tau={self.slope_tau:g}, "
            f"covariates: {covs}, dose_rel_sd={self.dose_rel_sd:g}, "
            f"{len(self.ipd_studies)} IPD + {len(self.aggregate_studies)} aggregate studies, "
            f"seed={self.random_seed})"
        )

    @property
    def family(self) -> CurveFamily:
        """The curve family object."""
        return get_curve_family(self.curve)

    def covariate_factor(self, covariates: Mapping[str, float] | None = None) -> float:
        """Combined dose-modifying factor ``Π factor_k^{x_k}`` of a covariate pattern.

        Parameters
        ----------
        covariates : mapping of str to float, optional
            Covariate values (0/1 for binary risk factors); missing covariates count as 0.

        Returns
        -------
        float
            Factor multiplying D50 (dimensionless).

        Raises
        ------
        UnknownNameError
            If a covariate is not one of the simulated covariates.
        """
        if not covariates:
            return 1.0
        factor = 1.0
        for name, value in covariates.items():
            if name not in self.covariate_factors:
                valid = ", ".join(sorted(self.covariate_factors)) or "(none)"
                raise UnknownNameError(
                    f"unknown covariate {name!r}; the simulated covariates are: {valid}."
                )
            x = check_scalar(value, f"covariates[{name!r}]")
            factor *= self.covariate_factors[name] ** x
        return factor

    def probability(
        self,
        dose: ArrayLike,
        covariates: Mapping[str, float] | None = None,
        study: str | None = None,
    ) -> NDArray[np.float64]:
        """Response probability for the typical study (or a named study).

        Parameters
        ----------
        dose : array_like
            True dose, in ``dose_unit``.
        covariates : mapping of str to float, optional
            Covariate pattern (missing = 0).
        study : str, optional
            A simulated study's label: use its own D50 and slope instead of the population ones.

        Returns
        -------
        numpy.ndarray
            Probability at each dose.
        """
        d50, slope = self._d50_slope(study)
        curve = self.family.probability(dose, d50 * self.covariate_factor(covariates), slope)
        return self.background + (1.0 - self.background) * curve

    def new_study_probability(
        self, dose: ArrayLike, covariates: Mapping[str, float] | None = None
    ) -> NDArray[np.float64]:
        r"""Marginal response probability in a NEW study (random effects integrated out).

        Parameters
        ----------
        dose : array_like
            True dose, in ``dose_unit``.
        covariates : mapping of str to float, optional
            Covariate pattern (missing = 0).

        Returns
        -------
        numpy.ndarray
            :math:`E_{u,v}[P(D; D_{50}e^u, s\,e^v)]` at each dose.
        """
        dose = np.asarray(dose, dtype=np.float64)
        d50 = self.d50 * self.covariate_factor(covariates)
        u, v, w = self._quadrature()
        p = self.family.probability(
            dose[..., None], d50 * np.exp(u), self.slope * np.exp(v)
        )
        return self.background + (1.0 - self.background) * np.sum(p * w, axis=-1)

    def td(self, p: float, covariates: Mapping[str, float] | None = None) -> float:
        """Dose at which the typical study's curve reaches probability ``p`` (e.g. TD5, TD50).

        Parameters
        ----------
        p : float
            Response probability in (0, 1).
        covariates : mapping of str to float, optional
            Covariate pattern (missing = 0).

        Returns
        -------
        float
            TD_p in ``dose_unit``.
        """
        p = float(check_probability(p, "p"))
        d50 = self.d50 * self.covariate_factor(covariates)
        return float(self.family.dose_at(p, d50, self.slope))

    def td_new_study(self, p: float, covariates: Mapping[str, float] | None = None) -> float:
        """Dose at which the NEW-study marginal curve reaches probability ``p``.

        Parameters
        ----------
        p : float
            Response probability in (0, 1).
        covariates : mapping of str to float, optional
            Covariate pattern (missing = 0).

        Returns
        -------
        float
            Solution of :math:`P_{new}(D) = p` (Brent's method), in ``dose_unit``; equal to
            :meth:`td` when ``tau = slope_tau = 0``.

        Raises
        ------
        DoseResponseError
            If ``p`` is not reached at any non-negative dose (e.g. below the logistic curve's
            response at zero dose).
        """
        p = float(check_probability(p, "p"))
        if self.tau == 0.0 and self.slope_tau == 0.0:
            return self.td(p, covariates)

        b = self.background

        def gap(dose: float) -> float:  # extra risk over the background
            return (float(self.new_study_probability(dose, covariates)) - b) / (1.0 - b) - p

        if gap(0.0) >= 0.0:
            raise DoseResponseError(
                f"p={p:g} is at or below the new-study response at zero dose "
                f"({gap(0.0) + p:.4g}); ask for a larger p."
            )
        high = max(self.td(0.5, covariates), self.d50) * 2.0
        for _ in range(200):
            if gap(high) > 0.0:
                break
            high *= 2.0
        else:  # pragma: no cover - monotone curves reach any p < 1
            raise DoseResponseError(f"p={p:g} is not reached by the new-study curve.")
        return float(optimize.brentq(gap, 0.0, high, xtol=1e-10 * high, rtol=1e-12))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the truth, with TD5/TD50 (typical and new study).

        Returns
        -------
        dict
            All attributes plus ``td5``, ``td50``, ``td5_new_study``, ``td50_new_study``
            (no covariates), in ``dose_unit``.
        """
        out: dict[str, Any] = {
            "curve": self.curve,
            "d50": self.d50,
            "slope": self.slope,
            "slope_name": self.slope_name,
            "tau": self.tau,
            "slope_tau": self.slope_tau,
            "study_d50": dict(self.study_d50),
            "study_slope": dict(self.study_slope),
            "study_effects": dict(self.study_effects),
            "covariate_factors": dict(self.covariate_factors),
            "covariate_prevalence": dict(self.covariate_prevalence),
            "dose_rel_sd": self.dose_rel_sd,
            "dose_metric": self.dose_metric,
            "dose_unit": self.dose_unit,
            "ipd_studies": list(self.ipd_studies),
            "aggregate_studies": list(self.aggregate_studies),
            "random_seed": self.random_seed,
        }
        for p, key in ((0.05, "td5"), (0.5, "td50")):
            out[key] = _try_td(self.td, p)
            out[key + "_new_study"] = _try_td(self.td_new_study, p)
        return out

    # -------------------------------------------------------------------- private

    def _d50_slope(self, study: str | None) -> tuple[float, float]:
        if study is None:
            return self.d50, self.slope
        if study not in self.study_d50:
            valid = ", ".join(self.study_d50)
            raise UnknownNameError(f"unknown study {study!r}; the simulated studies are: {valid}.")
        return self.study_d50[study], self.study_slope[study]

    def _quadrature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, w = np.polynomial.hermite_e.hermegauss(GAUSS_HERMITE_ORDER)
        w = w / math.sqrt(2.0 * math.pi)
        if self.slope_tau > 0.0:
            xu, xv = np.meshgrid(x, x, indexing="ij")
            ww = np.outer(w, w)
            return self.tau * xu.ravel(), self.slope_tau * xv.ravel(), ww.ravel()
        return self.tau * x, np.zeros_like(x), w


@dataclass(frozen=True)
class SimulatedCohort:
    """A simulated cohort: the data, the truth, and every patient's true dose.

    Attributes
    ----------
    data : DoseResponseData
        What an analyst would see: IPD rows (observed dose, outcome, covariates, the relative
        dosimetry uncertainty when simulated) and aggregate rows of the aggregate-only studies.
        Built from ``frame`` with ``mapping`` on first access (validating a very large
        cohort takes seconds, and large-sample checks only need ``patients``).
    truth : SimulationTruth
        The generating parameters and derived TD_p values.
    true_doses : numpy.ndarray
        True dose of each IPD row of ``data.ipd`` (same order), in ``dose_unit``.
    patients : pandas.DataFrame
        Every simulated patient, including those of aggregate-only studies: ``study``,
        ``patient``, ``reported_as`` (``"ipd"``/``"aggregate"``), ``bin`` (aggregate row index of
        ``frame`` the patient was counted in, -1 for IPD), ``true_dose``, ``dose`` (observed),
        ``study_d50``, ``patient_d50``, ``outcome`` and the covariates.
    frame : pandas.DataFrame
        The tidy frame ``data`` was built from (what the shipped simulated CSV files hold).
    mapping : dict
        The :meth:`DoseResponseData.from_frame` arguments used to build ``data`` from ``frame``.
    """

    truth: SimulationTruth
    true_doses: NDArray[np.float64] = field(repr=False)
    patients: pd.DataFrame = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    mapping: dict[str, Any] = field(repr=False)

    @cached_property
    def data(self) -> DoseResponseData:
        """The cohort as :class:`~doseresponse.data.DoseResponseData` (built once, then cached)."""
        return DoseResponseData.from_frame(self.frame, **self.mapping)

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the tidy frame (IPD and aggregate rows).

        Returns
        -------
        pandas.DataFrame
            The cohort table.
        """
        return self.frame.copy()


# --------------------------------------------------------------------------------------------
# simulator
# --------------------------------------------------------------------------------------------


def simulate_cohort(
    *,
    curve: str = "logistic",
    d50: float,
    slope: float,
    n_studies: int = 8,
    patients_per_study: int | Sequence[int] = 60,
    tau: float = 0.0,
    slope_tau: float = 0.0,
    covariates: Mapping[str, tuple[float, float]] | None = None,
    dose_distribution: tuple[float | Sequence[float], float | Sequence[float]]
    | DoseSampler
    | None = None,
    dose_rel_sd: float = 0.0,
    n_aggregate_studies: int = 0,
    bins_per_study: int = 4,
    aggregate_covariates: Literal["stratify", "fraction", "omit"] = "stratify",
    dose_metric: str = "dose",
    dose_unit: str = "Gy",
    outcome_name: str = "outcome",
    study_prefix: str = "study",
    dose_decimals: int | None = None,
    random_seed: int | None = None,
    background: float = 0.0,
) -> SimulatedCohort:
    r"""Simulate a multi-study dose-response cohort with known truth.

    Parameters
    ----------
    curve : str
        Curve family (``"logistic"``, ``"log-logistic"``, ``"probit"``/``"lkb"``,
        ``"cloglog"``, ``"poisson"``; see :func:`doseresponse.models.curves.get_curve_family`).
    d50 : float
        Population (typical-study) D50 for a patient without covariates, in ``dose_unit``, > 0.
    slope : float
        Population slope parameter of the family (γ50; ``m`` for probit), > 0.
    n_studies : int
        Number of studies (centres), >= 1.
    patients_per_study : int or sequence of int
        Patients per study (one number for all, or one per study), each >= 1.
    tau : float
        SD of log D50 between studies (>= 0): ``D50_s = d50 · exp(u_s)``, ``u_s ~ N(0, tau²)``.
    slope_tau : float
        SD of log slope between studies (>= 0).
    covariates : mapping of str to (prevalence, factor), optional
        Binary patient covariates: ``x ~ Bernoulli(prevalence)`` and the dose-modifying factor
        multiplying D50 when ``x = 1`` (e.g. ``{"hypertension": (0.35, 0.7)}``).
    dose_distribution : (median, sd_log) or callable, optional
        True-dose distribution per study. A tuple gives a log-normal with that median (in
        ``dose_unit``) and log-SD; each may be one number or one value per study. A callable
        ``f(rng, study_index, size)`` returns ``size`` positive true doses. Default:
        ``(d50, 0.5)`` in every study.
    dose_rel_sd : float
        Dosimetry error (log-SD, >= 0 and < 1.5): ``observed = true · exp(N(0, dose_rel_sd²))``.
        When > 0, IPD rows carry ``dose_rel_se = dose_rel_sd`` so a model can use it.
    n_aggregate_studies : int
        How many of the ``n_studies`` (the last ones) are reported only as aggregate rows.
    bins_per_study : int
        Aggregate rows per study (per covariate stratum with ``aggregate_covariates="stratify"``):
        equal-count bins of the OBSERVED dose, each row giving the bin's median observed dose,
        its range (min, max), events and n.
    aggregate_covariates : {"stratify", "fraction", "omit"}
        How aggregate rows report covariates: bins within each covariate pattern with 0/1 values
        (``"stratify"``), dose bins with the fraction of patients having each covariate
        (``"fraction"``), or not at all (NaN, ``"omit"``).
    dose_metric, dose_unit : str
        Dose metric (e.g. ``"kidney BED"``) and unit carried by the data.
    outcome_name : str
        Outcome label carried by the data.
    study_prefix : str
        Study labels are ``f"{study_prefix}{i:02d}"``, i = 1, 2, ...
    dose_decimals : int, optional
        Round observed doses to this many decimals (as a clinical table would) before binning
        and before building the data. ``None``: no rounding.
    random_seed : int, optional
        Seed of :func:`numpy.random.default_rng`; ``None`` draws one from the OS (recorded in
        the truth).
    background : float, default 0
        Background (zero-dose) risk b in [0, 1): ``y_i ~ Bernoulli(b + (1 - b) P(D_i))``
        (:mod:`doseresponse.models.background`); the truth's TDp are extra risk.

    Returns
    -------
    SimulatedCohort
        ``data`` (:class:`~doseresponse.data.DoseResponseData`), ``truth``
        (:class:`SimulationTruth`), ``true_doses`` of the IPD rows, all ``patients``, the tidy
        ``frame`` and the ``mapping`` used.

    Raises
    ------
    DoseResponseError
        On an invalid argument (the message names it and the fix).
    UnknownNameError
        On an unknown curve family.

    Notes
    -----
    Generative model, per study ``s`` and patient ``i``: ``u_s ~ N(0, tau²)``,
    ``v_s ~ N(0, slope_tau²)``, ``x_ik ~ Bernoulli(prevalence_k)``, true dose
    ``D_i ~ dose_distribution``, ``D50_i = d50 · e^{u_s} · Π_k factor_k^{x_ik}``,
    ``y_i ~ Bernoulli(P(D_i; D50_i, slope · e^{v_s}))`` with ``P`` the chosen family, and
    observed dose ``D_i · exp(ε_i)``, ``ε_i ~ N(0, dose_rel_sd²)`` (DESIGN.md, "Measurement
    error"). The outcome depends on the TRUE dose; analyses see the observed one, so ignoring
    dosimetry error flattens the fitted curve (regression dilution; Carroll et al.,
    *Measurement Error in Nonlinear Models*, 2nd ed., 2006). Aggregate rows mimic published
    tables (events/n per dose quartile with median and range of the observed dose).

    Draws come from one ``numpy.random.default_rng(random_seed)`` in a fixed order, so the same
    seed and arguments give identical frames.

    Examples
    --------
    >>> from doseresponse.simulate import simulate_cohort
    >>> sim = simulate_cohort(curve="log-logistic", d50=45.0, slope=2.0, n_studies=3,
    ...                       patients_per_study=50, random_seed=1)
    >>> sim.data.n_patients, round(sim.truth.td(0.5), 6)
    (150, 45.0)
    """
    family = get_curve_family(curve)
    d50 = check_scalar(d50, "d50", positive=True, unit=dose_unit)
    slope = check_scalar(slope, family.slope_name, positive=True)
    n_studies = _check_int(n_studies, "n_studies", minimum=1)
    sizes = _per_study_ints(patients_per_study, n_studies)
    tau = check_scalar(tau, "tau", nonnegative=True)
    slope_tau = check_scalar(slope_tau, "slope_tau", nonnegative=True)
    cov = _check_covariates(covariates)
    background = check_scalar(background, "background", nonnegative=True)
    if background >= 1.0:
        raise DoseResponseError(
            f"background must be a probability below 1 (the zero-dose risk); got {background:g}."
        )
    dose_rel_sd = check_scalar(dose_rel_sd, "dose_rel_sd", nonnegative=True)
    if dose_rel_sd >= 1.5:
        raise DoseResponseError(
            f"dose_rel_sd must be < 1.5 (a log-SD; 0.1-0.3 is typical dosimetry error); got "
            f"{dose_rel_sd:g}."
        )
    n_aggregate_studies = _check_int(n_aggregate_studies, "n_aggregate_studies", minimum=0)
    if n_aggregate_studies > n_studies:
        raise DoseResponseError(
            f"n_aggregate_studies ({n_aggregate_studies}) cannot exceed n_studies ({n_studies}); "
            "it says how many of the studies are reported only as aggregate rows."
        )
    bins_per_study = _check_int(bins_per_study, "bins_per_study", minimum=1)
    if aggregate_covariates not in AGGREGATE_COVARIATE_MODES:
        raise DoseResponseError(
            f"aggregate_covariates must be one of {AGGREGATE_COVARIATE_MODES}; got "
            f"{aggregate_covariates!r}."
        )
    if dose_decimals is not None:
        dose_decimals = _check_int(dose_decimals, "dose_decimals", minimum=0)
    sampler = _dose_sampler(dose_distribution, d50, n_studies, dose_unit)
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().entropy % (2**63))
    random_seed = _check_int(random_seed, "random_seed", minimum=0)
    rng = np.random.default_rng(random_seed)

    width = max(2, len(str(n_studies)))
    labels = [f"{study_prefix}{i + 1:0{width}d}" for i in range(n_studies)]
    u = rng.normal(0.0, tau, size=n_studies) if tau > 0 else np.zeros(n_studies)
    v = rng.normal(0.0, slope_tau, size=n_studies) if slope_tau > 0 else np.zeros(n_studies)
    study_d50 = d50 * np.exp(u)
    study_slope = slope * np.exp(v)
    n_ipd_studies = n_studies - n_aggregate_studies

    sizes_arr = np.asarray(sizes, dtype=np.int64)
    index = np.repeat(np.arange(n_studies), sizes_arr)  # study index of each patient
    total = int(sizes_arr.sum())
    true = sampler(rng, index, total)
    factor = np.ones(total)
    x = {}
    for name, (prev, f) in cov.items():
        x[name] = (rng.random(total) < prev).astype(np.int64)
        factor *= f ** x[name]
    observed = true * np.exp(rng.normal(0.0, dose_rel_sd, size=total)) if dose_rel_sd else true
    if dose_decimals is not None:
        observed = np.round(observed, dose_decimals)
    patient_d50 = study_d50[index] * factor
    prob = family.probability(true, patient_d50, study_slope[index])
    prob = background + (1.0 - background) * prob
    outcome = (rng.random(total) < prob).astype(np.int64)
    within = np.arange(total) - np.repeat(np.cumsum(sizes_arr) - sizes_arr, sizes_arr) + 1
    study_col = pd.Series(np.asarray(labels, dtype=object)[index], dtype="str")
    patients = pd.DataFrame(
        {
            "study": study_col,
            "patient": study_col + "-" + pd.Series(within).astype("str").str.zfill(4),
            "reported_as": np.where(index < n_ipd_studies, "ipd", "aggregate"),
            "bin": np.full(total, -1, dtype=np.int64),
            "true_dose": true,
            "dose": observed,
            "study_d50": study_d50[index],
            "patient_d50": patient_d50,
            "outcome": outcome,
            **x,
        }
    )
    cov_names = list(cov)

    ipd_rows = patients[patients["reported_as"] == "ipd"]
    ipd_frame = pd.DataFrame(
        {
            "study": ipd_rows["study"],
            "patient": ipd_rows["patient"],
            "dose": ipd_rows["dose"],
            "outcome": ipd_rows["outcome"],
        }
    )
    if dose_rel_sd > 0:
        ipd_frame.insert(3, "dose_rel_se", dose_rel_sd)
    for name in cov_names:
        ipd_frame[name] = ipd_rows[name]
    agg_frame, bins = _aggregate_rows(
        patients[patients["reported_as"] == "aggregate"], cov_names, bins_per_study,
        aggregate_covariates,
    )
    patients.loc[bins.index, "bin"] = bins.to_numpy() + len(ipd_frame)
    if len(agg_frame) == 0:
        frame = ipd_frame.reset_index(drop=True)
    elif len(ipd_frame) == 0:
        frame = agg_frame
    else:
        frame = pd.concat([ipd_frame, agg_frame], ignore_index=True)
        for col in ("outcome", "events", "n"):  # whole numbers with gaps: nullable integers
            frame[col] = frame[col].astype("Int64")
    columns = ["study", "patient", "dose"]
    if dose_rel_sd > 0:
        columns.append("dose_rel_se")
    columns += ["outcome", "events", "n", "dose_low", "dose_high", *cov_names]
    for col in columns:
        if col not in frame:
            frame[col] = np.nan
    frame = frame[columns]
    if len(agg_frame) == 0:
        frame = frame.drop(columns=["events", "n", "dose_low", "dose_high"])
    if len(ipd_frame) == 0:
        frame = frame.drop(columns=["patient", "outcome"]
                           + (["dose_rel_se"] if dose_rel_sd > 0 else []))
    mapping = _mapping(frame, cov_names, dose_metric, dose_unit, outcome_name)

    truth = SimulationTruth(
        curve=family.name,
        d50=d50,
        slope=slope,
        slope_name=family.slope_name,
        tau=tau,
        slope_tau=slope_tau,
        study_d50={lab: float(x) for lab, x in zip(labels, study_d50, strict=True)},
        study_slope={lab: float(x) for lab, x in zip(labels, study_slope, strict=True)},
        study_effects={lab: float(x) for lab, x in zip(labels, u, strict=True)},
        covariate_factors={name: f for name, (_, f) in cov.items()},
        covariate_prevalence={name: p for name, (p, _) in cov.items()},
        dose_rel_sd=dose_rel_sd,
        dose_metric=dose_metric,
        dose_unit=dose_unit,
        ipd_studies=tuple(labels[:n_ipd_studies]),
        aggregate_studies=tuple(labels[n_ipd_studies:]),
        background=background,
        random_seed=random_seed,
    )
    true_doses = ipd_rows["true_dose"].to_numpy(dtype=np.float64, copy=True)
    return SimulatedCohort(
        truth=truth, true_doses=true_doses, patients=patients, frame=frame, mapping=mapping
    )


@dataclass(frozen=True)
class SimulatedTimeActivityCohort:
    """A cohort simulated from kidney time-activity samples through to BED and outcome.

    Attributes
    ----------
    cohort : SimulatedCohort
        Outcome data and truth. ``cohort.data`` holds the ESTIMATED kidney BED (from the fitted
        time-activity curves) with its standard error; ``cohort.true_doses`` the TRUE BED.
    samples : pandas.DataFrame
        One row per patient × cycle × sample: ``study``, ``patient``, ``cycle``, ``time_h``,
        ``activity_mbq`` (noisy measurement) and ``true_activity_mbq``.
    kinetics : pandas.DataFrame
        One row per patient × cycle: true parameters (``uptake_fraction``,
        ``effective_half_life_h``), kidney mass, true and fitted TIA (MBq·h) with the fit's SE,
        the fitted model, true and estimated absorbed dose (Gy).
    patients : pandas.DataFrame
        One row per patient: ``true_dose_gy``/``dose_gy`` (absorbed, all cycles),
        ``true_bed_gy``/``bed_gy`` and ``bed_se_gy``, ``outcome`` and covariates.
    """

    cohort: SimulatedCohort
    samples: pd.DataFrame = field(repr=False)
    kinetics: pd.DataFrame = field(repr=False)
    patients: pd.DataFrame = field(repr=False)

    @property
    def data(self) -> DoseResponseData:
        """Outcome data with the estimated BED as dose (see ``cohort``)."""
        return self.cohort.data

    @property
    def truth(self) -> SimulationTruth:
        """The dose-response truth (curve on the TRUE BED)."""
        return self.cohort.truth


def simulate_time_activity_cohort(
    *,
    curve: str = "log-logistic",
    d50: float,
    slope: float,
    n_studies: int = 4,
    patients_per_study: int | Sequence[int] = 30,
    tau: float = 0.0,
    covariates: Mapping[str, tuple[float, float]] | None = None,
    n_cycles: int = 4,
    activity_per_cycle_mbq: float = 7400.0,
    sample_times_h: Sequence[float] = (4.0, 24.0, 48.0, 72.0, 168.0),
    noise_rel_sd: float = 0.07,
    uptake_fraction: tuple[float, float] = (0.03, 0.3),
    effective_half_life_h: tuple[float, float] = (50.0, 0.15),
    fast_fraction: float = 0.2,
    fast_half_life_h: float = 3.0,
    cycle_rel_sd: float = 0.1,
    kidney_mass_kg: tuple[float, float] = (0.30, 0.15),
    fit_model: str = "mono-exponential",
    alpha_beta: float | None = None,
    repair_half_time: float | None = None,
    random_seed: int | None = None,
) -> SimulatedTimeActivityCohort:
    r"""Simulate 177Lu kidney time-activity samples → fitted TIA → dose → BED → outcome.

    Parameters
    ----------
    curve, d50, slope, n_studies, patients_per_study, tau, covariates
        Dose-response truth on the TRUE kidney BED (Gy), as in :func:`simulate_cohort`.
    n_cycles : int
        Therapy cycles per patient (>= 1).
    activity_per_cycle_mbq : float
        Administered activity per cycle (MBq), > 0.
    sample_times_h : sequence of float
        Imaging times after each administration (h), at least 2, increasing.
    noise_rel_sd : float
        Relative measurement noise of each activity sample (log-SD, 0.05-0.10 is typical).
    uptake_fraction : (median, sd_log)
        Kidney uptake at t = 0 (extrapolated) as a fraction of the administered activity.
    effective_half_life_h : (median, sd_log)
        Effective half-life of the slow (main) washout phase (h); capped at the 177Lu physical
        half-life.
    fast_fraction, fast_half_life_h : float
        Share of the uptake in a fast washout phase (0 <= f < 1) and its half-life (h): the true
        curve is bi-exponential, :math:`A(t)=A_0[f e^{-\lambda_f t}+(1-f)e^{-\lambda_s t}]`.
    cycle_rel_sd : float
        Cycle-to-cycle variation of the uptake (log-SD).
    kidney_mass_kg : (median, sd_log)
        Kidney mass per patient (kg), assumed known exactly for the dose calculation.
    fit_model : str
        Model passed to :func:`doseresponse.radiobiology.kinetics.fit_time_activity`
        (``"mono-exponential"``, ``"bi-exponential"``, ``"auto"``, ...).
    alpha_beta, repair_half_time : float, optional
        LQ parameters (Gy, h); default the ``"kidney"`` preset of
        :func:`doseresponse.radiobiology.tissues.tissue_parameters`.
    random_seed : int, optional
        Seed; ``None`` draws one from the OS (recorded in the truth).

    Returns
    -------
    SimulatedTimeActivityCohort

    Raises
    ------
    DoseResponseError
        On an invalid argument.

    Notes
    -----
    Per cycle the absorbed dose uses local energy deposition (MIRD Pamphlet 21, Bolch et al.
    2009, J Nucl Med 50:477): :math:`D = S\tilde A`, :math:`S` from
    :func:`~doseresponse.radiobiology.absorbed.local_deposition_s_value`. The true BED sums the
    exact Lea–Catcheside BED of every cycle's bi-exponential dose rate
    (:func:`~doseresponse.radiobiology.bed.bed`); the estimated BED does the same with the
    fitted curves (``TimeActivityFit.dose_rate``). The BED standard error is the delta-method
    :math:`SE_{BED}\approx SE_D\,(1+2(BED-D)/D)` with :math:`SE_D` from the fits' TIA SEs.
    Outcomes are drawn by :func:`simulate_cohort` at the TRUE BED, so the data carry realistic
    dosimetry error (noise, sampling schedule, model misspecification) instead of a log-normal
    one.
    """
    from doseresponse.radiobiology.absorbed import local_deposition_s_value
    from doseresponse.radiobiology.bed import bed
    from doseresponse.radiobiology.doserate import ExponentialDoseRate
    from doseresponse.radiobiology.kinetics import fit_time_activity
    from doseresponse.radiobiology.nuclides import get_nuclide
    from doseresponse.radiobiology.tissues import tissue_parameters

    n_studies = _check_int(n_studies, "n_studies", minimum=1)
    sizes = _per_study_ints(patients_per_study, n_studies)
    n_cycles = _check_int(n_cycles, "n_cycles", minimum=1)
    activity = check_scalar(activity_per_cycle_mbq, "activity_per_cycle_mbq", positive=True,
                            unit="MBq")
    times = np.asarray(sample_times_h, dtype=np.float64)
    if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0) or times[0] < 0:
        raise DoseResponseError(
            f"sample_times_h must hold at least 2 increasing times >= 0 h; got {sample_times_h!r}."
        )
    noise = check_scalar(noise_rel_sd, "noise_rel_sd", nonnegative=True)
    cycle_sd = check_scalar(cycle_rel_sd, "cycle_rel_sd", nonnegative=True)
    f_fast = check_scalar(fast_fraction, "fast_fraction", nonnegative=True)
    if f_fast >= 1:
        raise DoseResponseError(f"fast_fraction must lie in [0, 1); got {f_fast:g}.")
    t_fast = check_scalar(fast_half_life_h, "fast_half_life_h", positive=True, unit="h")
    uptake_med, uptake_sd = _median_sd(uptake_fraction, "uptake_fraction")
    teff_med, teff_sd = _median_sd(effective_half_life_h, "effective_half_life_h")
    mass_med, mass_sd = _median_sd(kidney_mass_kg, "kidney_mass_kg")
    preset = tissue_parameters("kidney")
    ab = check_scalar(preset.alpha_beta if alpha_beta is None else alpha_beta, "alpha_beta",
                      positive=True, unit="Gy")
    trep = check_scalar(preset.repair_half_time if repair_half_time is None
                        else repair_half_time, "repair_half_time", positive=True, unit="h")
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().entropy % (2**63))
    random_seed = _check_int(random_seed, "random_seed", minimum=0)
    kin_seq, outcome_seq = np.random.SeedSequence(random_seed).spawn(2)
    rng = np.random.default_rng(kin_seq)
    t_phys = get_nuclide("Lu-177").half_life_h

    total = int(sum(sizes))
    mass = mass_med * np.exp(mass_sd * rng.normal(size=total))
    uptake = uptake_med * np.exp(uptake_sd * rng.normal(size=total))
    teff = np.minimum(teff_med * np.exp(teff_sd * rng.normal(size=total)), t_phys)
    lam = np.log(2.0) / np.array([t_fast, teff_med])  # slow rate reset per patient below
    s_values = np.asarray(local_deposition_s_value("Lu-177", mass), dtype=np.float64)

    sample_rows, kin_rows = [], []
    true_bed = np.empty(total)
    est_bed = np.empty(total)
    true_dose = np.empty(total)
    est_dose = np.empty(total)
    dose_var = np.zeros(total)
    for i in range(total):
        lam[1] = np.log(2.0) / teff[i]
        true_cycles, est_cycles = [], []
        for c in range(n_cycles):
            a0 = activity * uptake[i] * math.exp(cycle_sd * rng.normal())
            amps = a0 * np.array([f_fast, 1.0 - f_fast])
            true_act = amps @ np.exp(-np.outer(lam, times))
            measured = true_act * np.exp(noise * rng.normal(size=times.size))
            fit = fit_time_activity(times, measured, fit_model, nuclide="Lu-177")
            true_rate = ExponentialDoseRate(s_values[i] * amps[amps > 0], lam[amps > 0])
            est_rate = fit.dose_rate(s_value=float(s_values[i]))
            true_cycles.append(true_rate)
            est_cycles.append(est_rate)
            tia_se = fit.time_integrated_activity_se
            dose_var[i] += (s_values[i] * (tia_se or 0.0)) ** 2
            kin_rows.append({
                "patient_index": i, "cycle": c + 1, "uptake_fraction": a0 / activity,
                "effective_half_life_h": teff[i], "kidney_mass_kg": mass[i],
                "true_tia_mbq_h": float(np.sum(amps / lam)),
                "tia_mbq_h": fit.time_integrated_activity, "tia_se_mbq_h": tia_se,
                "fit_model": fit.model, "true_dose_gy": true_rate.total_dose,
                "dose_gy": est_rate.total_dose,
            })
            sample_rows.append((i, c + 1, measured, true_act))
        true_dose[i] = sum(r.total_dose for r in true_cycles)
        est_dose[i] = sum(r.total_dose for r in est_cycles)
        true_bed[i] = bed(true_cycles, alpha_beta=ab, repair_half_time=trep)
        est_bed[i] = bed(est_cycles, alpha_beta=ab, repair_half_time=trep)

    bed_se = np.sqrt(dose_var) * (1.0 + 2.0 * (est_bed - est_dose) / est_dose)
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    def true_beds(rng_: np.random.Generator, study: int, size: int) -> np.ndarray:
        return true_bed[bounds[study]:bounds[study + 1]]

    base = simulate_cohort(
        curve=curve, d50=d50, slope=slope, n_studies=n_studies, patients_per_study=sizes,
        tau=tau, covariates=covariates, dose_distribution=true_beds, dose_metric="kidney BED",
        dose_unit="Gy", outcome_name="outcome", study_prefix="study",
        random_seed=int(outcome_seq.generate_state(1, dtype=np.uint64)[0] % (2**63)),
    )
    cov_names = list(base.truth.covariate_factors)
    frame = base.frame.copy()
    frame["dose"] = est_bed
    frame.insert(3, "dose_se", bed_se)
    mapping = {**base.mapping, "dose_se": "dose_se"}
    pts = base.patients.copy()
    pts["dose"] = est_bed
    truth = SimulationTruth(**{**base.truth.__dict__, "random_seed": random_seed})
    cohort = SimulatedCohort(truth=truth, true_doses=true_bed.copy(), patients=pts, frame=frame,
                             mapping=mapping)

    labels = base.patients["study"].to_numpy()
    ids = base.patients["patient"].to_numpy()
    samples = pd.DataFrame(
        [
            {"study": labels[i], "patient": ids[i], "cycle": c, "time_h": t,
             "activity_mbq": m, "true_activity_mbq": a}
            for i, c, meas, true_act in sample_rows
            for t, m, a in zip(times, meas, true_act, strict=True)
        ]
    )
    kinetics = pd.DataFrame(kin_rows)
    kinetics.insert(0, "patient", ids[kinetics["patient_index"]])
    kinetics.insert(0, "study", labels[kinetics["patient_index"]])
    kinetics = kinetics.drop(columns="patient_index")
    patients = pd.DataFrame(
        {"study": labels, "patient": ids, "kidney_mass_kg": mass,
         "true_dose_gy": true_dose, "dose_gy": est_dose, "true_bed_gy": true_bed,
         "bed_gy": est_bed, "bed_se_gy": bed_se, "outcome": base.patients["outcome"],
         **{name: base.patients[name] for name in cov_names}}
    )
    return SimulatedTimeActivityCohort(cohort=cohort, samples=samples, kinetics=kinetics,
                                       patients=patients)


# --------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------


def _median_sd(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise DoseResponseError(f"{name} must be (median, sd_log); got {value!r}.")
    return (check_scalar(value[0], f"{name} median", positive=True),
            check_scalar(value[1], f"{name} sd_log", nonnegative=True))



def _aggregate_rows(
    patients: pd.DataFrame, cov_names: list[str], bins_per_study: int, mode: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Equal-count bins of observed dose → (rows, bin number of each patient)."""
    rows: list[dict[str, Any]] = []
    bin_of = pd.Series(-1, index=patients.index, dtype="int64")
    if patients.empty:
        return pd.DataFrame(rows), bin_of
    keys = ["study"] + (cov_names if mode == "stratify" else [])
    for key, group in patients.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        order = np.argsort(group["dose"].to_numpy(), kind="stable")
        for chunk in np.array_split(order, min(bins_per_study, len(group))):
            members = group.iloc[chunk]
            dose = members["dose"].to_numpy()
            row: dict[str, Any] = {
                "study": key[0],
                "dose": float(np.median(dose)),
                "events": int(members["outcome"].sum()),
                "n": len(members),
                "dose_low": float(dose.min()),
                "dose_high": float(dose.max()),
            }
            for name in cov_names:
                if mode == "stratify":
                    row[name] = float(members[name].iloc[0])
                elif mode == "fraction":
                    row[name] = float(members[name].mean())
                else:
                    row[name] = np.nan
            bin_of.loc[members.index] = len(rows)
            rows.append(row)
    return pd.DataFrame(rows), bin_of


def _mapping(
    frame: pd.DataFrame, cov_names: list[str], dose_metric: str, dose_unit: str,
    outcome_name: str,
) -> dict[str, Any]:
    mapping: dict[str, Any] = {"dose": "dose", "study": "study"}
    if "outcome" in frame:
        mapping.update(outcome="outcome", patient="patient")
    if "dose_rel_se" in frame:
        mapping["dose_rel_se"] = "dose_rel_se"
    if "events" in frame:
        mapping.update(events="events", n="n", dose_low="dose_low", dose_high="dose_high",
                       dose_summary="median")
    if cov_names:
        mapping["covariates"] = tuple(cov_names)
    mapping.update(dose_metric=dose_metric, dose_unit=dose_unit, outcome_name=outcome_name)
    return mapping


def _dose_sampler(
    spec: Any, d50: float, n_studies: int, dose_unit: str
) -> Callable[[np.random.Generator, np.ndarray, int], np.ndarray]:
    """Return ``f(rng, study_index_per_patient, total)`` → true doses (checked)."""
    if spec is None:
        spec = (d50, 0.5)
    if callable(spec):
        user = spec

        def per_study(rng: np.random.Generator, index: np.ndarray, total: int) -> np.ndarray:
            out = np.empty(total)
            for s in range(n_studies):
                where = np.flatnonzero(index == s)
                doses = np.asarray(user(rng, s, where.size), dtype=np.float64)
                if doses.shape != (where.size,) or not np.all(np.isfinite(doses)) or np.any(
                    doses <= 0
                ):
                    raise DoseResponseError(
                        f"dose_distribution returned {doses.shape} values for study {s} (need "
                        f"{where.size} finite doses > 0 {dose_unit}); fix the callable."
                    )
                out[where] = doses
            return out

        return per_study
    if not isinstance(spec, tuple | list) or len(spec) != 2:
        raise DoseResponseError(
            "dose_distribution must be (median, sd_log) — each a number or one value per study "
            f"— or a callable f(rng, study_index, size); got {spec!r}."
        )
    medians = _per_study_floats(spec[0], n_studies, "dose_distribution median", positive=True,
                                unit=dose_unit)
    sds = _per_study_floats(spec[1], n_studies, "dose_distribution sd_log", positive=False)

    def lognormal(rng: np.random.Generator, index: np.ndarray, total: int) -> np.ndarray:
        return medians[index] * np.exp(sds[index] * rng.normal(size=total))

    return lognormal


def _per_study_floats(
    value: Any, n: int, name: str, *, positive: bool, unit: str | None = None
) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)) if _numeric(value) else None
    if arr is None or arr.ndim != 1 or arr.size not in (1, n):
        raise DoseResponseError(
            f"{name} must be one number or {n} numbers (one per study); got {value!r}."
        )
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if bad.any():
        limit = "> 0" if positive else ">= 0"
        unit_text = f" {unit}" if unit else ""
        raise DoseResponseError(f"{name} must be finite and {limit}{unit_text}; got {value!r}.")
    return np.broadcast_to(arr, (n,)).copy()


def _numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _per_study_ints(value: Any, n: int) -> list[int]:
    if isinstance(value, int | np.integer):
        return [_check_int(value, "patients_per_study", minimum=1)] * n
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        values = list(value)
        if len(values) != n:
            raise DoseResponseError(
                f"patients_per_study has {len(values)} entries but n_studies is {n}; give one "
                "number for all studies or one per study."
            )
        return [_check_int(v, f"patients_per_study[{i}]", minimum=1) for i, v in enumerate(values)]
    raise DoseResponseError(
        f"patients_per_study must be an int or a sequence of ints; got {value!r}."
    )


def _check_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DoseResponseError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise DoseResponseError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _check_covariates(covariates: Any) -> dict[str, tuple[float, float]]:
    if covariates is None:
        return {}
    if not isinstance(covariates, Mapping):
        raise DoseResponseError(
            "covariates must be a mapping {name: (prevalence, dose_modifying_factor)}; got "
            f"{covariates!r}."
        )
    out: dict[str, tuple[float, float]] = {}
    for name, spec in covariates.items():
        if not isinstance(name, str) or not name or name in _RESERVED:
            raise DoseResponseError(
                f"covariate name {name!r} is empty, not a string or reserved "
                f"({', '.join(_RESERVED)}); rename it."
            )
        if not isinstance(spec, tuple | list) or len(spec) != 2:
            raise DoseResponseError(
                f"covariates[{name!r}] must be (prevalence, dose_modifying_factor); got {spec!r}."
            )
        prev = check_scalar(spec[0], f"covariates[{name!r}] prevalence", nonnegative=True)
        if prev > 1:
            raise DoseResponseError(
                f"covariates[{name!r}] prevalence must lie in [0, 1]; got {prev:g}."
            )
        factor = check_scalar(spec[1], f"covariates[{name!r}] factor", positive=True)
        out[name] = (prev, factor)
    return out


def _try_td(function: Callable[[float], float], p: float) -> float | None:
    try:
        return function(p)
    except DoseResponseError:
        return None
