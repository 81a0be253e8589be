r"""Synthetic late-toxicity cohorts with known truth: interval-censored events at follow-up visits.

:func:`simulate_late_toxicity` draws a multi-centre cohort from the mixture cure model of
:class:`~doseresponse.models.late_toxicity.LateToxicityModel`:

* each patient's true dose from a log-normal per study (median ``dose_median``, log-SD
  ``dose_sd``), optionally measured with dosimetry error (``dose_rel_sd``: observed = true ·
  exp(N(0, dose_rel_sd²)), as :func:`doseresponse.simulate.simulate_cohort`);
* toxicity ever with probability :math:`\pi(D)` of a curve family (D50 per study
  :math:`D_{50}e^{u_s}`, :math:`u_s \sim N(0, \tau^2)`), a binary covariate acting as a
  dose-modifying factor;
* the onset time given toxicity from a Weibull or log-normal with median :math:`t_{50}` (times
  :math:`(D/D_{ref})^{\psi}` with a dose effect) and shape :math:`k`;
* follow-up visits every ``visit_interval`` (± ``visit_jitter`` uniform), until each patient's own
  end of follow-up, uniform between the study's ``follow_up`` bounds (unequal follow-up across
  studies and patients). An event is first seen at the first visit after it happened:
  ``event_time`` is that visit and ``event_time_lower`` the previous one (0 before the first);
  a patient without an event by the last visit is censored there (``follow_up``).

Units: dose in ``dose_unit`` (Gy), times in ``time_unit`` (months unless stated).

Notes
-----
Inverse-CDF sampling of the onset time: Weibull :math:`T = t_{50}(-\ln U/\ln 2)^{1/k}`, log-normal
:math:`T = t_{50}\exp(Z/k)` (Devroye L 1986 *Non-Uniform Random Variate Generation*, §II.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from doseresponse._validation import check_probability, check_scalar
from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.curves import get_curve_family

__all__ = ["LateToxicityTruth", "SimulatedLateCohort", "simulate_late_toxicity"]


@dataclass(frozen=True)
class LateToxicityTruth:
    r"""The parameters a simulated late-toxicity cohort was drawn from.

    Attributes
    ----------
    curve, onset : str
        Curve family of the eventual probability; onset distribution.
    d50 : float
        Population D50 (dose unit) of the eventual probability, for a patient without the
        covariate.
    slope : float
        The family's slope (γ50 or m).
    tau : float
        Between-study SD of ln D50.
    study_d50 : dict of str to float
        D50 of each study.
    onset_median, onset_shape : float
        Median onset time given toxicity (time unit) at ``dose_reference``, and shape k.
    onset_dose_slope : float
        ψ of :math:`t_{50}(D) = t_{50}(D/D_{ref})^{\psi}` (0: no dose effect).
    dose_reference : float
        :math:`D_{ref}` (dose unit).
    covariate_factor : float or None
        Dose-modifying factor of the binary covariate ``risk`` (None: no covariate).
    random_seed : int
        Seed used.
    """

    curve: str
    onset: str
    d50: float
    slope: float
    tau: float
    study_d50: dict[str, float]
    onset_median: float
    onset_shape: float
    onset_dose_slope: float
    dose_reference: float
    covariate_factor: float | None
    random_seed: int

    def probability(self, dose) -> np.ndarray:
        """Eventual probability of the typical study (covariate 0) at ``dose`` (Gy).

        Parameters
        ----------
        dose : array_like
            Doses in the simulation's dose unit (Gy).

        Returns
        -------
        numpy.ndarray
            P(toxicity ever | dose), the shape of ``dose``.
        """
        dose = np.asarray(dose, dtype=np.float64)
        return get_curve_family(self.curve).probability(dose, self.d50, self.slope)

    def cumulative_incidence(self, dose, horizon: float) -> np.ndarray:
        r"""P(toxicity by ``horizon`` | dose) for the typical study (covariate 0).

        Parameters
        ----------
        dose : array_like
            Doses (dose unit).
        horizon : float
            Time (time unit), > 0.

        Returns
        -------
        numpy.ndarray
            :math:`\pi(D) F(h \mid D)` at each dose.
        """
        from doseresponse.models._late_kernel import ONSET_CODES, onset_log_cdf_vector

        dose = np.atleast_1d(np.asarray(dose, dtype=np.float64))
        theta = math.log(self.onset_median) + self.onset_dose_slope * np.log(
            np.maximum(dose, 1e-3 * self.dose_reference) / self.dose_reference
        )
        log_f = onset_log_cdf_vector(
            ONSET_CODES[self.onset], np.full(dose.size, float(horizon)),
            np.ascontiguousarray(theta), np.full(dose.size, math.log(self.onset_shape)),
        )
        return self.probability(dose) * np.exp(log_f)


@dataclass(frozen=True)
class SimulatedLateCohort:
    """A simulated late-toxicity cohort.

    Attributes
    ----------
    data : DoseResponseData
        Patient rows with ``outcome`` (toxicity seen by the last visit), ``follow_up``,
        ``event_time`` and ``event_time_lower`` (time unit), covariate ``risk`` when simulated.
    truth : LateToxicityTruth
        The parameters.
    frame : pandas.DataFrame
        The rows plus the hidden truth: ``true_event`` (toxicity ever), ``true_time`` (onset
        time; NaN without toxicity) and ``true_dose`` (equal to ``dose`` without dosimetry
        error).
    """

    data: DoseResponseData
    truth: LateToxicityTruth
    frame: pd.DataFrame = field(repr=False)


def simulate_late_toxicity(
    *,
    curve: str = "log-logistic",
    onset: str = "weibull",
    d50: float = 30.0,
    slope: float = 2.0,
    tau: float = 0.2,
    n_studies: int = 4,
    patients_per_study: int | Sequence[int] = 100,
    dose_median: float = 25.0,
    dose_sd: float = 0.4,
    onset_median: float = 18.0,
    onset_shape: float = 1.5,
    onset_dose_slope: float = 0.0,
    dose_reference: float | None = None,
    follow_up: tuple[float, float] | Sequence[tuple[float, float]] = (12.0, 60.0),
    visit_interval: float = 3.0,
    visit_jitter: float = 0.5,
    covariate_factor: float | None = None,
    covariate_prevalence: float = 0.3,
    dose_rel_sd: float = 0.0,
    time_unit: str = "months",
    dose_metric: str = "BED",
    dose_unit: str = "Gy",
    random_seed: int | None = None,
) -> SimulatedLateCohort:
    """Simulate an interval-censored multi-centre late-toxicity cohort (see the module docstring).

    Parameters
    ----------
    curve, onset : str
        Curve family of the eventual probability; onset distribution (``"weibull"``,
        ``"lognormal"``).
    d50, slope, tau : float
        Population D50 (dose unit), slope (γ50 or m) and between-study SD of ln D50.
    n_studies : int
        Number of studies.
    patients_per_study : int or sequence of int
        Patients per study.
    dose_median, dose_sd : float
        Median dose (dose unit) and log-SD of the doses.
    onset_median, onset_shape, onset_dose_slope : float
        Median onset (time unit) at ``dose_reference``, shape k, dose slope ψ.
    dose_reference : float, optional
        :math:`D_{ref}` of the onset dose effect (default ``dose_median``).
    follow_up : (float, float) or sequence of them
        End of follow-up drawn uniformly in ``[low, high]`` (time unit), one pair for every
        study or one per study.
    visit_interval, visit_jitter : float
        Time between visits and the half-width of their uniform jitter (time unit).
    covariate_factor : float, optional
        Dose-modifying factor (on D50) of a binary covariate ``risk``; None: no covariate.
    covariate_prevalence : float
        P(risk = 1).
    dose_rel_sd : float
        Dosimetry error (log-SD, >= 0 and < 1.5): ``observed = true · exp(N(0, dose_rel_sd²))``;
        toxicity and onset follow the true dose. When > 0, the rows carry ``dose_rel_se =
        dose_rel_sd`` (a model's ``dose_se``) and ``frame`` the hidden ``true_dose``.
    time_unit, dose_metric, dose_unit : str
        Labels of the data.
    random_seed : int, optional
        Seed (None: drawn from the OS and recorded in the truth).

    Returns
    -------
    SimulatedLateCohort

    Raises
    ------
    DoseResponseError
        Invalid settings.
    """
    family = get_curve_family(curve)
    if onset not in ("weibull", "lognormal"):
        raise DoseResponseError(f"onset={onset!r}: use 'weibull' or 'lognormal'.")
    d50 = check_scalar(d50, "d50", positive=True)
    slope = check_scalar(slope, "slope", positive=True)
    tau = check_scalar(tau, "tau", nonnegative=True)
    onset_median = check_scalar(onset_median, "onset_median", positive=True)
    onset_shape = check_scalar(onset_shape, "onset_shape", positive=True)
    onset_dose_slope = check_scalar(onset_dose_slope, "onset_dose_slope")
    visit_interval = check_scalar(visit_interval, "visit_interval", positive=True)
    visit_jitter = check_scalar(visit_jitter, "visit_jitter", nonnegative=True)
    if visit_jitter >= visit_interval / 2:
        raise DoseResponseError("visit_jitter must be below half of visit_interval.")
    if isinstance(n_studies, bool) or not isinstance(n_studies, int) or n_studies < 1:
        raise DoseResponseError(f"n_studies must be a positive integer; got {n_studies!r}.")
    sizes = ([int(patients_per_study)] * n_studies if np.isscalar(patients_per_study)
             else [int(n) for n in patients_per_study])
    if len(sizes) != n_studies or min(sizes) < 1:
        raise DoseResponseError("patients_per_study must be positive, one value or one per study.")
    bounds = ([tuple(follow_up)] * n_studies if np.isscalar(follow_up[0])
              else [tuple(b) for b in follow_up])
    if len(bounds) != n_studies or any(not 0 < lo <= hi for lo, hi in bounds):
        raise DoseResponseError(
            "follow_up must be (low, high) with 0 < low <= high, one pair or one per study."
        )
    dose_rel_sd = check_scalar(dose_rel_sd, "dose_rel_sd", nonnegative=True)
    if dose_rel_sd >= 1.5:
        raise DoseResponseError(f"dose_rel_sd must be below 1.5 (a log-SD); got {dose_rel_sd}.")
    if covariate_factor is not None:
        covariate_factor = check_scalar(covariate_factor, "covariate_factor", positive=True)
        check_probability(covariate_prevalence, "covariate_prevalence")
    reference = float(dose_median if dose_reference is None else dose_reference)
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(random_seed)
    studies = [f"S{s + 1}" for s in range(n_studies)]
    effects = rng.normal(0.0, tau, n_studies) if tau > 0 else np.zeros(n_studies)
    parts = []
    for s, (label, n, (lo, hi)) in enumerate(zip(studies, sizes, bounds, strict=True)):
        dose = dose_median * np.exp(dose_sd * rng.standard_normal(n))
        risk = (rng.random(n) < covariate_prevalence).astype(float) if covariate_factor else None
        patient_d50 = d50 * math.exp(effects[s]) * (covariate_factor ** risk if risk is not None
                                                     else 1.0)
        ever = rng.random(n) < family.probability(dose, patient_d50, slope)
        t50 = onset_median * (np.maximum(dose, 1e-3 * reference) / reference) ** onset_dose_slope
        u = rng.random(n)
        if onset == "weibull":
            times = t50 * (-np.log(u) / math.log(2.0)) ** (1.0 / onset_shape)
        else:
            times = t50 * np.exp(rng.standard_normal(n) / onset_shape)
        end = rng.uniform(lo, hi, n)
        observed = dose * np.exp(dose_rel_sd * rng.standard_normal(n)) if dose_rel_sd else dose
        count = int(hi // visit_interval) + 1
        visits = visit_interval * np.arange(1, count + 1)[None, :] + rng.uniform(
            -visit_jitter, visit_jitter, (n, count))
        valid = visits <= end[:, None]
        # a patient with no visit inside the follow-up is seen once, at its end
        visits = np.where(valid.any(axis=1)[:, None], visits, end[:, None])
        valid = valid | ~valid.any(axis=1)[:, None]
        last = np.where(valid, visits, -np.inf).max(axis=1)
        outcome = ever & (times <= last)
        after = valid & (visits >= times[:, None])
        first = np.argmax(after, axis=1)
        rows_ = np.arange(n)
        upper = np.where(outcome, visits[rows_, first], np.nan)
        previous = np.where(first > 0, visits[rows_, np.maximum(first - 1, 0)], 0.0)
        lower = np.where(outcome, previous, np.nan)
        part = pd.DataFrame({
            "study": label, "patient": [f"{label}-{i + 1}" for i in range(n)],
            "dose": observed, "true_dose": dose,
            "outcome": outcome.astype(int), "follow_up": last, "event_time": upper,
            "event_time_lower": lower, "true_event": ever,
            "true_time": np.where(ever, times, np.nan),
        })
        if dose_rel_sd:
            part["dose_rel_se"] = dose_rel_sd
        if risk is not None:
            part["risk"] = risk
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    data = DoseResponseData.from_frame(
        frame, dose="dose", outcome="outcome", study="study", patient="patient",
        follow_up="follow_up", event_time="event_time", event_time_lower="event_time_lower",
        covariates=["risk"] if covariate_factor else (), time_unit=time_unit,
        dose_rel_se="dose_rel_se" if dose_rel_sd else None,
        dose_metric=dose_metric, dose_unit=dose_unit, outcome_name="late toxicity",
    )
    truth = LateToxicityTruth(
        curve=family.name, onset=onset, d50=d50, slope=slope, tau=tau,
        study_d50={lab: d50 * math.exp(e) for lab, e in zip(studies, effects, strict=True)},
        onset_median=onset_median, onset_shape=onset_shape, onset_dose_slope=onset_dose_slope,
        dose_reference=reference, covariate_factor=covariate_factor, random_seed=random_seed,
    )
    return SimulatedLateCohort(data=data, truth=truth, frame=frame)
