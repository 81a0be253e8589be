r"""Population (hierarchical Bayesian) time-activity fit across patients and cycles.

:func:`fit_time_activity_population` fits mono-exponential or uptake-mono (rise, then
washout) time-activity curves of one region (organ or lesion) to every patient and cycle at
once, with log-normal between-patient and between-cycle variation of the amplitude and of the
biological clearance rate (and between-patient variation of the uptake rate). A patient-cycle
imaged once (single time point) or twice borrows the curve shape from the population and from the
patient's other cycles instead of relying on one assumed half-life; every patient-cycle gets a
time-integrated activity (TIA) with a posterior SD and interval. This is the Bayesian analogue of
the non-linear mixed-effects (NLME) fits of Devasia et al. and of the MS–NLME study (EJNMMI Phys
2023, doi 10.1186/s40658-023-00530-1).

The posterior is sampled with nutpie's NUTS through its public Python-callback interface
(:func:`doseresponse.models.sampling.sample_density` with ``route="python-callbacks"``) on a
numba log density with analytic gradient (``_population_kernel``). Convergence (R-hat, bulk
ESS, divergences) is checked and any failure is warned about loudly.

Units: time h, activity MBq, TIA MBq·h, rates 1/h, half-lives h.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from doseresponse._validation import check_scalar
from doseresponse.exceptions import (
    ConvergenceWarning,
    DataValidationError,
    DoseResponseError,
    FitError,
)
from doseresponse.radiobiology.doserate import ExponentialDoseRate
from doseresponse.radiobiology.nuclides import get_nuclide

__all__ = [
    "MEASUREMENT_ERROR_MODEL",
    "PopulationCycleTIA",
    "PopulationKineticsFit",
    "fit_time_activity_population",
]

_LN2 = math.log(2.0)
MODELS = ("mono-exponential", "uptake-mono")
MEASUREMENT_ERROR_MODEL = (
    "log-normal (proportional) measurement error: log A_obs = log A(t) + e, "
    "e ~ N(0, sigma^2 + (activity_sd_mbq/activity_mbq)^2), sigma estimated (half-normal prior), "
    "the stated per-sample SD (if given) added in quadrature on the log scale"
)
"""The measurement-error model of :func:`fit_time_activity_population`, in words."""

_REQUIRED = ("patient", "cycle", "time_h", "activity_mbq")
_OPTIONAL = ("activity_sd_mbq", "injected_activity_mbq")
#: Default prior scales (see :func:`fit_time_activity_population`).
_PRIOR_DEFAULTS = {
    "biological_half_life_h": (48.0, 1.5),
    "amplitude_log_sd": 3.0,
    "omega_patient": (1.0, 1.0),
    "omega_cycle": (0.5, 0.5),
    "sigma": 0.3,
    "uptake_half_life_h": (6.0, 1.5),
    "omega_uptake_patient": 1.0,
}
#: Prior keys that only the uptake-mono model uses.
_UPTAKE_PRIOR_KEYS = ("uptake_half_life_h", "omega_uptake_patient")
_RHAT_MAX = 1.01
#: Cycles with at least this many samples (in a patient with two such cycles) get centred cycle
#: effects; patients with a cycle of >= 2 samples get centred patient effects.
_CENTRED_MIN_POINTS = 3
_ESS_MIN = 400


@dataclass(frozen=True, eq=False)
class PopulationCycleTIA:
    """One patient-cycle's TIA from a population fit, shaped for the dosimetry pipeline.

    Attributes
    ----------
    patient : str
        Patient label.
    cycle : int
        Cycle number.
    method : str
        ``"population"``.
    time_integrated_activity : float
        Posterior mean TIA from 0 to ∞ (MBq·h).
    time_integrated_activity_se : float
        Total standard error (MBq·h): posterior SD and stated calibration and partial-volume
        relative SDs × TIA in quadrature.
    tia_se_components : dict of str to float
        ``"fit"`` (posterior SD), ``"calibration"``, ``"partial_volume"`` (MBq·h).
    effective_half_life_h : float
        ln 2 / posterior-median effective rate (h).
    amplitudes_mbq, rates_per_h : numpy.ndarray
        Curve of posterior-median rates as a sum of exponentials (MBq, 1/h): A e^{-λt}
        (mono-exponential) or A e^{-λ_w t} − A e^{-λ_u t} (uptake-mono), with A scaled so that
        its integral equals the posterior mean TIA (used for the dose-rate history and the G
        factor).
    n_points : int
        Samples of this patient-cycle.
    notes : tuple of str
        Assumptions.
    kinetic_model : str
        ``"mono-exponential"`` or ``"uptake-mono"``: the population model fitted.
    """

    patient: str
    cycle: int
    method: str
    time_integrated_activity: float
    time_integrated_activity_se: float
    tia_se_components: dict[str, float]
    effective_half_life_h: float
    amplitudes_mbq: NDArray[np.float64]
    rates_per_h: NDArray[np.float64]
    n_points: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    kinetic_model: str = "mono-exponential"

    @property
    def model(self) -> str:
        """Label for dosimetry tables: ``population-mono`` or ``population-uptake-mono``."""
        return "population-mono" if self.kinetic_model == "mono-exponential" else (
            f"population-{self.kinetic_model}")

    def predict(self, t: ArrayLike) -> NDArray[np.float64]:
        """Activity (MBq) of the posterior-mean curve at times ``t`` (h, >= 0).

        Parameters
        ----------
        t : array_like
            Times after administration (h, >= 0).

        Returns
        -------
        numpy.ndarray
            Activity (MBq) at each time.
        """
        return ExponentialDoseRate(self.amplitudes_mbq, self.rates_per_h).dose_rate(t)

    def dose_rate(self, s_value: float) -> ExponentialDoseRate:
        """Dose-rate history S·A(t) (Gy/h) of the curve; S in Gy/(MBq·h), > 0.

        Parameters
        ----------
        s_value : float
            S value (Gy/(MBq·h)) of the region, > 0.

        Returns
        -------
        doseresponse.radiobiology.doserate.ExponentialDoseRate
            The dose-rate history, for BED with :func:`~doseresponse.radiobiology.bed.bed`.
        """
        s = check_scalar(s_value, "s_value", positive=True, unit="Gy/(MBq·h)")
        return ExponentialDoseRate(s * self.amplitudes_mbq, self.rates_per_h)


@dataclass(frozen=True, eq=False)
class PopulationKineticsFit:
    """Result of :func:`fit_time_activity_population`.

    Attributes
    ----------
    per_cycle : pandas.DataFrame
        One row per patient-cycle: ``patient``, ``cycle``, ``n_points``, ``tia_mbq_h``
        (posterior mean), ``tia_sd_mbq_h`` (posterior SD), ``tia_lower_mbq_h`` /
        ``tia_upper_mbq_h`` (equal-tailed interval at ``ci_prob``), ``tia_rel_sd``,
        ``effective_half_life_h`` (ln 2 / posterior median of the effective rate),
        ``effective_half_life_sd_h``, ``amplitude_mbq`` (posterior median of A(0), for the
        uptake-mono model the washout amplitude A₀), ``injected_activity_mbq`` (NaN if not
        given); for the uptake-mono model also ``uptake_rate_per_h`` (posterior median of λ_u,
        1/h) — the effective half-life is then that of the washout, ln 2/λ_w.
    population : pandas.DataFrame
        Population parameters (rows): typical biological and effective half-life (h),
        between-patient and between-cycle log-SDs of amplitude and rate, measurement log-SD
        ``sigma`` (uptake-mono also: ``typical_uptake_half_life_h``, ln 2/δ of the typical
        uptake-rate excess δ = λ_u − λ_w, and ``omega_uptake_patient``, its between-patient
        log-SD), with posterior mean, SD, interval, R-hat and bulk ESS.
    diagnostics : dict
        ``max_rhat``, ``min_ess_bulk``, ``divergences``, ``converged`` (bool) and the thresholds.
    posterior : xarray.Dataset
        Named draws (``tia``, ``effective_rate``, ``amplitude`` — and ``uptake_rate`` for the
        uptake-mono model — over dim ``patient_cycle`` and the population parameters), with the
        sampler settings and seed in ``attrs``.
    ci_prob : float
        Interval probability of the ``*_lower``/``*_upper`` columns.
    model : str
        ``"mono-exponential"`` or ``"uptake-mono"``.
    measurement_error_model : str
        :data:`MEASUREMENT_ERROR_MODEL`.
    nuclide : str
        Radionuclide whose decay bounds the clearance.
    """

    per_cycle: pd.DataFrame
    population: pd.DataFrame
    diagnostics: dict[str, Any]
    posterior: Any = field(repr=False)
    ci_prob: float
    model: str
    measurement_error_model: str
    nuclide: str

    def tia_draws(self, patient: Any, cycle: int) -> NDArray[np.float64]:
        """Posterior draws of one patient-cycle's TIA (MBq·h), chains flattened.

        Parameters
        ----------
        patient : str or int
            Patient label as in the samples.
        cycle : int
            Cycle number.

        Returns
        -------
        numpy.ndarray
            Shape ``(chains * draws,)``.

        Raises
        ------
        DataValidationError
            The patient-cycle is not in the fit.
        """
        label = _cycle_label(patient, cycle)
        if label not in self.posterior["patient_cycle"].values:
            raise DataValidationError(
                f"patient {patient!r} cycle {cycle!r} is not in the population fit; "
                f"it has {self.per_cycle['patient'].nunique()} patients (see per_cycle)."
            )
        return self.posterior["tia"].sel(patient_cycle=label).to_numpy().ravel()

    def cycle_tias(
        self,
        patient: Any,
        *,
        calibration_rel_sd: float = 0.0,
        partial_volume_rel_sd: float = 0.0,
    ) -> dict[int, PopulationCycleTIA]:
        """Every cycle of one patient as :class:`PopulationCycleTIA` (for the dosimetry chain).

        Parameters
        ----------
        patient : str or int
            Patient label.
        calibration_rel_sd, partial_volume_rel_sd : float, default 0
            Stated relative SDs (fractions) added to the posterior SD in quadrature (GUM,
            JCGM 100:2008 §5.1).

        Returns
        -------
        dict of int to PopulationCycleTIA

        Raises
        ------
        DataValidationError
            Unknown patient.
        """
        u_cal = check_scalar(calibration_rel_sd, "calibration_rel_sd", nonnegative=True)
        u_pv = check_scalar(partial_volume_rel_sd, "partial_volume_rel_sd", nonnegative=True)
        rows = self.per_cycle[self.per_cycle["patient"] == str(patient)]
        if rows.empty:
            raise DataValidationError(
                f"patient {patient!r} is not in the population fit; patients are e.g. "
                f"{list(self.per_cycle['patient'].unique()[:5])}."
            )
        out = {}
        for row in rows.itertuples():
            tia = float(row.tia_mbq_h)
            rate = _LN2 / float(row.effective_half_life_h)
            if self.model == "uptake-mono":  # A (e^{-λw t} - e^{-λu t}), integral A(1/λw - 1/λu)
                lam_u = float(row.uptake_rate_per_h)
                amp = tia / (1.0 / rate - 1.0 / lam_u)
                amplitudes, rates = np.array([amp, -amp]), np.array([rate, lam_u])
            else:
                amplitudes, rates = np.array([tia * rate]), np.array([rate])
            parts = {"fit": float(row.tia_sd_mbq_h), "calibration": u_cal * tia,
                     "partial_volume": u_pv * tia}
            out[int(row.cycle)] = PopulationCycleTIA(
                patient=str(patient),
                cycle=int(row.cycle),
                method="population",
                time_integrated_activity=tia,
                time_integrated_activity_se=math.sqrt(sum(v * v for v in parts.values())),
                tia_se_components=parts,
                effective_half_life_h=float(row.effective_half_life_h),
                amplitudes_mbq=amplitudes,
                rates_per_h=rates,
                n_points=int(row.n_points),
                notes=(f"population {self.model} fit; TIA = posterior mean, fit SE = posterior "
                       "SD",),
                kinetic_model=self.model,
            )
        return out

    def tia_estimates(
        self, patient: Any, region: str
    ) -> dict[tuple[str, int], PopulationCycleTIA]:
        """One patient's cycles keyed ``(region, cycle)`` for the dosimetry pipeline.

        Ready as ``tia_estimates`` of :func:`~.pipeline.multicycle_dosimetry`.

        Parameters
        ----------
        patient : str or int
            Patient label.
        region : str
            Region name used in the dosimetry samples (this fit is of one region).

        Returns
        -------
        dict of (str, int) to PopulationCycleTIA
            Statistical SE only (posterior SD); the pipeline adds the stated calibration and
            partial-volume SDs.
        """
        return {(str(region), c): v for c, v in self.cycle_tias(patient).items()}


def fit_time_activity_population(
    samples: pd.DataFrame,
    *,
    nuclide: str = "Lu-177",
    model: str = "mono-exponential",
    ci_prob: float = 0.95,
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.9,
    random_seed: int | None = None,
    progressbar: bool | None = None,
) -> PopulationKineticsFit:
    r"""Hierarchical Bayesian fit of one region's time-activity curves over patients and cycles.

    Parameters
    ----------
    samples : pandas.DataFrame
        Tidy samples of ONE region: ``patient`` (label), ``cycle`` (int >= 1), ``time_h`` (h after
        that cycle's administration, > 0), ``activity_mbq`` (MBq, > 0: the error model is on the
        log scale); optional ``activity_sd_mbq`` (MBq, > 0; a stated per-sample SD) and
        ``injected_activity_mbq`` (MBq per cycle, > 0; amplitudes are then modelled as
        fractions of it, so cycles with different activities share one population). A
        ``region`` column, if present, must hold one value. Any number of samples per
        patient-cycle (>= 1); the cohort must contain some patient-cycles with >= 2 time points
        to identify the clearance.
    nuclide : str, default "Lu-177"
        Radionuclide; the effective rate is λ_phys + λ_biol with λ_biol > 0, so no clearance is
        slower than physical decay.
    model : {"mono-exponential", "uptake-mono"}
        Time-activity model: a washout :math:`A e^{-\lambda t}`, or the rise-then-washout
        :math:`A_0(e^{-\lambda_w t} - e^{-\lambda_u t})` of ``"uptake-mono"`` in
        :func:`~.kinetics.fit_time_activity` (use it when early samples rise, e.g. tumours
        imaged from 4 h). Sums of two washout exponentials are not implemented.
    ci_prob : float, default 0.95
        Probability of the reported equal-tailed intervals.
    priors : mapping, optional
        Overrides of the priors: ``"biological_half_life_h"``: (median h, log-SD) of the typical
        biological half-life (default (48, 1.5)); ``"amplitude_log_sd"``: SD of the normal prior
        on the typical log amplitude, centred at the median of log(activity / injected activity)
        over the samples (default 3, a factor 20); ``"omega_patient"``: half-normal scales of the
        between-patient log-SDs of (amplitude, rate) (default (1, 1)); ``"omega_cycle"``: the
        same between cycles of a patient (default (0.5, 0.5)); ``"sigma"``: half-normal scale
        of the measurement log-SD (default 0.3). Uptake-mono only: ``"uptake_half_life_h"``:
        (median h, log-SD) of ln 2/δ, the half-time of the rise :math:`1 - e^{-\delta t}` with
        δ = λ_u − λ_w (default (6, 1.5)); ``"omega_uptake_patient"``: half-normal scale of the
        between-patient log-SD of δ (default 1).
    draws, tune, chains : int
        Kept draws and warm-up iterations per chain, number of chains.
    target_accept : float, default 0.9
        NUTS target acceptance rate.
    random_seed : int, optional
        Seed (``None``: drawn from the OS and recorded in ``posterior.attrs``).
    progressbar : bool, optional
        Show nutpie's progress bar (default: when standard error is a terminal).

    Returns
    -------
    PopulationKineticsFit

    Raises
    ------
    DataValidationError
        Missing columns, non-positive activities or times, several regions, or no patient-cycle
        with two or more time points.
    FitError
        ``model="mono-exponential"`` on data where some patient-cycle rises (its second sample
        above its first beyond noise: the "rising-data" rule of
        :func:`~.kinetics.fit_time_activity`); use ``"uptake-mono"``.
    DoseResponseError
        Unknown model, invalid run setting, uptake priors given to the mono-exponential model,
        or nutpie not installed.

    Warns
    -----
    ConvergenceWarning
        R-hat above 1.01, bulk ESS below 400 or divergent transitions: the TIAs and their SDs
        are then not reliable.

    Notes
    -----
    Model, for patient p, cycle c (patient-cycle index c) and sample k at time :math:`t_k`:

    .. math::

        \log A_c &= \log A^{inj}_c + \mu_a + \omega_a z_{a,p} + \omega_{a,c} z_{a,c},\\
        \lambda_c &= \lambda_{phys} + \exp(\mu_\lambda + \omega_\lambda z_{\lambda,p}
                     + \omega_{\lambda,c} z_{\lambda,c}),\\
        \log y_k &\sim N(\log A_c - \lambda_c t_k,\ \sigma^2 + (s_k/y_k)^2),

    :math:`z \sim N(0, 1)` (non-centred log-normal random effects on amplitude and biological
    rate, between patients and between cycles of a patient — inter-occasion variability as in
    NLME pharmacokinetics; Karlsson and Sheiner 1993, J Pharmacokinet Biopharm 21:735),
    :math:`\mu_\lambda \sim N(\log(\ln 2/T_{biol}), s^2)`, half-normal priors on the
    :math:`\omega`'s and :math:`\sigma`. Each patient-cycle's TIA is, per draw,
    :math:`\tilde A_c = A_c/\lambda_c` (integral of the mono-exponential from 0 to ∞), so its
    posterior mean, SD and interval carry the uncertainty of amplitude and rate together; a
    single-time-point cycle is informed by its one sample, the patient's other cycles and the
    population (partial pooling). Sampled with nutpie NUTS (Seyboldt 2023;
    Hoffman and Gelman 2014, J Mach Learn Res 15:1593); R-hat and bulk ESS as in Vehtari et al.
    2021 (Bayesian Anal 16:667). With ``"mono-exponential"`` the uptake phase (before the first
    sample) is not modelled: the fit is the washout extrapolated to t = 0, as in the
    mono-exponential fits of :func:`~.kinetics.fit_time_activity`.

    ``"uptake-mono"`` uses the parametrisation of that model in :mod:`~.kinetics`,
    :math:`A_c(t) = A_{0,c}(e^{-\lambda_{w,c} t} - e^{-\lambda_{u,c} t})` (Bateman form of
    first-order uptake and washout; Gibaldi and Perrier, Pharmacokinetics, 2nd ed. 1982, ch. 1),
    with :math:`\lambda_{w,c}` the effective rate above and
    :math:`\lambda_{u,c} = \lambda_{w,c} + \delta_p`, :math:`\log\delta_p \sim
    N(\mu_u, \omega_u^2)` (between-patient variation of the uptake rate; the log-likelihood
    gains :math:`\log(1 - e^{-\delta_p t_k})`). The TIA is
    :math:`A_{0,c}(1/\lambda_{w,c} - 1/\lambda_{u,c})` per draw. A patient whose data show the
    rise (a cycle with >= 3 samples whose first sample is not its largest) has its
    :math:`\log\delta_p` parametrised centred, others non-centred.
    """
    if model not in MODELS:
        raise DoseResponseError(
            f"model must be one of {MODELS}; got {model!r} (bi-exponential washout population "
            "fits are not implemented: fit the washout phase with samples after the uptake "
            "peak, or use model='uptake-mono' when early samples rise)."
        )
    level = check_scalar(ci_prob, "ci_prob", positive=True)
    if level >= 1.0:
        raise DoseResponseError(f"ci_prob must lie in (0, 1); got {ci_prob!r}.")
    nuc = get_nuclide(nuclide)
    data = _PopulationData.from_samples(samples, nuc.decay_constant_per_h)
    prior_vector = _prior_vector(priors, data, model)  # setting errors before data errors
    if model == "mono-exponential":
        rising = data.rising_cycles()
        if rising:
            raise FitError(
                f"model='mono-exponential' is a pure washout and cannot describe these data: "
                f"{len(rising)} patient-cycle(s) rise (the 'rising-data' rule of "
                f"fit_time_activity), e.g. {rising[0]}. Use model='uptake-mono', or fit the "
                "washout phase only (drop the samples before the peak)."
            )
    density = _PopulationDensity(data, prior_vector, model)

    from doseresponse.models.sampling import sample_density  # lazy: radiobiology stays light

    groups, _info = sample_density(
        density, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
        progressbar=progressbar, target_accept=target_accept, route="python-callbacks",
    )
    posterior = density.named_posterior(groups["posterior"])
    diverging = groups["sample_stats"].get("diverging")
    n_div = int(np.asarray(diverging).sum()) if diverging is not None else 0
    return _result(posterior, data, level, n_div, nuc.name, model)


# --------------------------------------------------------------------------- data and density


@dataclass(frozen=True)
class _PopulationData:
    patients: tuple[str, ...]
    cycle_labels: tuple[str, ...]
    cycle_patient: NDArray[np.int64]
    patient_centred: NDArray[np.int64]
    cycle_centred: NDArray[np.int64]
    cycle_number: NDArray[np.int64]
    n_points: NDArray[np.int64]
    log_offset: NDArray[np.float64]
    injected: NDArray[np.float64]
    obs_cycle: NDArray[np.int64]
    t: NDArray[np.float64]
    log_y: NDArray[np.float64]
    known_var: NDArray[np.float64]
    lam_phys: float
    patient_rises: NDArray[np.int64]
    sd_given: bool = False

    def rising_cycles(self) -> list[str]:
        """Patient-cycles whose data rise by the 'rising-data' rule of ``fit_time_activity``."""
        from types import SimpleNamespace

        from doseresponse.radiobiology.kinetics import _rising_data

        out = []
        for c, label in enumerate(self.cycle_labels):
            rows = self.obs_cycle == c
            if rows.sum() < 2:
                continue
            y = np.exp(self.log_y[rows])
            sd = y * np.sqrt(self.known_var[rows]) if self.sd_given else None
            check = _rising_data(SimpleNamespace(t=self.t[rows], y=y, sd=sd))
            if check is not None:
                patient, cycle = label.rsplit("|", 1)
                out.append(f"patient {patient} cycle {cycle}: {check.detail}")
        return out

    @classmethod
    def from_samples(cls, samples: pd.DataFrame, lam_phys: float) -> _PopulationData:
        frame = _validated(samples)
        frame = frame.sort_values(["patient", "cycle", "time_h"], kind="stable")
        keys = list(dict.fromkeys(zip(frame["patient"], frame["cycle"], strict=True)))
        patients = tuple(dict.fromkeys(p for p, _ in keys))
        p_index = {p: i for i, p in enumerate(patients)}
        c_index = {k: i for i, k in enumerate(keys)}
        obs_cycle = np.array([c_index[k] for k in zip(frame["patient"], frame["cycle"],
                                                      strict=True)], dtype=np.int64)
        n_points = np.bincount(obs_cycle, minlength=len(keys)).astype(np.int64)
        if not np.any(n_points >= 2):
            raise DataValidationError(
                "samples: no patient-cycle has two or more time points, so the clearance rate "
                "cannot be estimated; include at least some fully imaged cycles (e.g. cycle 1)."
            )
        if "injected_activity_mbq" in frame.columns:
            inj = frame.groupby(["patient", "cycle"], sort=False)["injected_activity_mbq"]
            if (inj.nunique() > 1).any():
                raise DataValidationError(
                    "samples: injected_activity_mbq must be the same on every row of a "
                    "patient-cycle (it is the cycle's administered activity)."
                )
            injected = np.array([inj.first()[k] for k in keys], dtype=np.float64)
        else:
            injected = np.full(len(keys), np.nan)
        y = frame["activity_mbq"].to_numpy(float)
        known = (
            (frame["activity_sd_mbq"].to_numpy(float) / y) ** 2
            if "activity_sd_mbq" in frame.columns else np.zeros(y.size)
        )
        cycle_patient = np.array([p_index[p] for p, _ in keys], dtype=np.int64)
        # a patient-cycle with >= 3 samples whose first sample is not its largest shows the rise
        first = frame.groupby(obs_cycle, sort=True)["activity_mbq"]
        rises_cycle = ((n_points >= _CENTRED_MIN_POINTS)
                       & (first.first().to_numpy() < first.max().to_numpy()))
        patient_rises = np.bincount(cycle_patient, weights=rises_cycle,
                                    minlength=len(patients)).astype(bool).astype(np.int64)
        return cls(
            patients=patients,
            cycle_labels=tuple(_cycle_label(p, c) for p, c in keys),
            cycle_patient=cycle_patient,
            patient_centred=np.bincount(
                cycle_patient, weights=(n_points >= 2), minlength=len(patients)
            ).astype(bool).astype(np.int64),
            cycle_centred=_centred_cycles(n_points, cycle_patient, len(patients)),
            cycle_number=np.array([c for _, c in keys], dtype=np.int64),
            n_points=n_points,
            log_offset=np.where(np.isfinite(injected), np.log(np.where(
                np.isfinite(injected), injected, 1.0)), 0.0),
            injected=injected,
            obs_cycle=obs_cycle,
            t=frame["time_h"].to_numpy(float),
            log_y=np.log(y),
            known_var=np.ascontiguousarray(known),
            lam_phys=float(lam_phys),
            patient_rises=patient_rises,
            sd_given="activity_sd_mbq" in frame.columns,
        )


class _PopulationDensity:
    """Log density of the population model in the interface of ``models.sampling``."""

    names = ("unconstrained_draw",)

    def __init__(self, data: _PopulationData, priors: NDArray[np.float64],
                 model: str = "mono-exponential") -> None:
        from doseresponse.radiobiology._population_kernel import N_GLOBAL, N_UPTAKE_GLOBAL

        self.data = data
        self.priors = priors
        self.model = model
        self.n_patients = len(data.patients)
        self.n_cycles = len(data.cycle_labels)
        self.uptake = model == "uptake-mono"
        # empty for the mono-exponential model (the kernel's switch), else one flag per patient
        self.uptake_centred = (data.patient_rises.copy() if self.uptake
                               else np.zeros(0, dtype=np.int64))
        self.ndim = N_GLOBAL + 2 * self.n_patients + 2 * self.n_cycles
        if self.uptake:
            self.ndim += N_UPTAKE_GLOBAL + self.n_patients
        self.shapes = [(self.ndim,)]
        self.dims: dict[str, tuple[str, ...]] = {}
        self.coords: dict[str, list[str]] = {}

    def _kernel_args(self) -> tuple:
        d = self.data
        return (d.obs_cycle, d.t, d.log_y, d.known_var, d.cycle_patient, d.patient_centred,
                d.cycle_centred, d.log_offset, d.lam_phys, self.priors, self.uptake_centred)

    def logp_and_grad(self, x: NDArray) -> tuple[float, NDArray]:
        from doseresponse.radiobiology._population_kernel import log_posterior

        return log_posterior(np.ascontiguousarray(x, dtype=np.float64), *self._kernel_args())

    def logp_and_grad_function(self):
        """``x -> (logp, grad)`` for nutpie's Python callbacks."""
        from doseresponse.radiobiology._population_kernel import log_posterior

        args = self._kernel_args()
        return lambda x: log_posterior(x, *args)

    def expand(self, x: NDArray) -> dict[str, NDArray]:
        """The unconstrained draw itself (named afterwards, vectorised)."""
        return {"unconstrained_draw": np.array(x, dtype=np.float64)}

    def initial_point(self, seed: int) -> NDArray[np.float64]:
        """Prior locations with random effects at 0, jittered by U(−0.5, 0.5), seeded."""
        rng = np.random.default_rng(seed)
        start = np.zeros(self.ndim)
        start[0] = self.priors[0]
        start[1] = self.priors[2]
        start[2:6] = np.log(0.5 * self.priors[4:8])
        start[6] = math.log(0.5 * self.priors[8])
        start[:7] += rng.uniform(-0.5, 0.5, 7)
        n_p = self.n_patients
        centred = self.data.patient_centred == 1  # centred: the value; else z around 0
        start[7:7 + n_p] = np.where(centred, start[0], 0.0) + rng.uniform(-0.5, 0.5, n_p)
        start[7 + n_p:7 + 2 * n_p] = np.where(centred, start[1], 0.0) + rng.uniform(-0.5, 0.5,
                                                                                      n_p)
        small = np.where(self.data.cycle_centred == 1, 0.1, 1.0)  # centred: the effect itself
        n_c = self.n_cycles
        start[7 + 2 * n_p:7 + 2 * n_p + 2 * n_c] = (
            rng.uniform(-0.5, 0.5, 2 * n_c) * np.tile(small, 2))
        if self.uptake:  # mu_u at its prior location, log omega_u, patients' log δ
            u0 = 7 + 2 * n_p + 2 * n_c
            start[u0] = self.priors[9] + rng.uniform(-0.5, 0.5)
            start[u0 + 1] = math.log(0.5 * self.priors[11]) + rng.uniform(-0.5, 0.5)
            centred = self.uptake_centred == 1
            start[u0 + 2:] = np.where(centred, start[u0], 0.0) + rng.uniform(-0.5, 0.5, n_p)
        return start

    def named_posterior(self, posterior):
        """Replace the unconstrained draws by named population and patient-cycle quantities."""
        import xarray as xr

        from doseresponse.radiobiology._population_kernel import (
            N_GLOBAL,
            curves,
            uptake_excess,
        )

        raw = posterior["unconstrained_draw"].transpose("chain", "draw", ...).to_numpy()
        d = self.data
        amplitude, rate = curves(raw, d.cycle_patient, d.patient_centred, d.cycle_centred,
                                 d.log_offset, d.lam_phys)
        dims = ("chain", "draw")
        cdims = (*dims, "patient_cycle")
        extra = {}
        if self.uptake:
            delta = uptake_excess(raw, self.n_patients, self.n_cycles, self.uptake_centred,
                                  d.cycle_patient)
            uptake_rate = rate + delta
            # ∫0^∞ A0 (e^{-λw t} - e^{-λu t}) dt, = exponential_tia([A0, -A0], [λw, λu])
            tia = amplitude * (1.0 / rate - 1.0 / uptake_rate)
            u0 = N_GLOBAL + 2 * self.n_patients + 2 * self.n_cycles
            extra = {
                "uptake_rate": (cdims, uptake_rate),
                "typical_uptake_half_life_h": (dims, _LN2 / np.exp(raw[..., u0])),
                "omega_uptake_patient": (dims, np.exp(raw[..., u0 + 1])),
            }
        else:
            tia = amplitude / rate
        variables = {
            "tia": (cdims, tia),
            "effective_rate": (cdims, rate),
            "amplitude": (cdims, amplitude),
            "typical_biological_half_life_h": (dims, _LN2 / np.exp(raw[..., 1])),
            "typical_effective_half_life_h": (dims, _LN2 / (d.lam_phys + np.exp(raw[..., 1]))),
            "mu_log_amplitude": (dims, raw[..., 0]),
            "omega_amplitude_patient": (dims, np.exp(raw[..., 2])),
            "omega_rate_patient": (dims, np.exp(raw[..., 3])),
            "omega_amplitude_cycle": (dims, np.exp(raw[..., 4])),
            "omega_rate_cycle": (dims, np.exp(raw[..., 5])),
            "sigma": (dims, np.exp(raw[..., 6])),
            **extra,
        }
        coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values,
                  "patient_cycle": list(d.cycle_labels)}
        return xr.Dataset(variables, coords=coords, attrs=dict(posterior.attrs))


POPULATION_PARAMETERS = (
    "typical_biological_half_life_h", "typical_effective_half_life_h", "mu_log_amplitude",
    "omega_amplitude_patient", "omega_rate_patient", "omega_amplitude_cycle",
    "omega_rate_cycle", "sigma",
)
UPTAKE_PARAMETERS = ("typical_uptake_half_life_h", "omega_uptake_patient")


def _result(posterior, data: _PopulationData, level: float, n_div: int, nuclide: str,
            model: str) -> PopulationKineticsFit:
    from doseresponse._arviz_compat import ess, rhat

    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    r_hat = rhat(posterior)
    e_ss = ess(posterior, "bulk")
    tia = posterior["tia"].stack(sample=("chain", "draw")).transpose("patient_cycle", ...)
    tia = tia.to_numpy()
    rate = posterior["effective_rate"].stack(sample=("chain", "draw"))
    rate = rate.transpose("patient_cycle", ...).to_numpy()
    amp = posterior["amplitude"].stack(sample=("chain", "draw"))
    amp = amp.transpose("patient_cycle", ...).to_numpy()
    t_eff = _LN2 / rate
    mean = tia.mean(axis=1)
    sd = tia.std(axis=1, ddof=1) if tia.shape[1] > 1 else np.zeros(tia.shape[0])
    per_cycle = pd.DataFrame({
        "patient": [data.patients[i] for i in data.cycle_patient],
        "cycle": data.cycle_number,
        "n_points": data.n_points,
        "tia_mbq_h": mean,
        "tia_sd_mbq_h": sd,
        "tia_lower_mbq_h": np.quantile(tia, lo_q, axis=1),
        "tia_upper_mbq_h": np.quantile(tia, hi_q, axis=1),
        "tia_rel_sd": sd / mean,
        "effective_half_life_h": _LN2 / np.median(rate, axis=1),
        "effective_half_life_sd_h": t_eff.std(axis=1, ddof=1) if tia.shape[1] > 1 else 0.0,
        "amplitude_mbq": np.median(amp, axis=1),
        "injected_activity_mbq": data.injected,
    })
    names = POPULATION_PARAMETERS
    if model == "uptake-mono":
        lam_u = posterior["uptake_rate"].stack(sample=("chain", "draw"))
        per_cycle["uptake_rate_per_h"] = np.median(
            lam_u.transpose("patient_cycle", ...).to_numpy(), axis=1)
        names = (*POPULATION_PARAMETERS, *UPTAKE_PARAMETERS)
    rows = []
    for name in names:
        values = posterior[name].to_numpy().ravel()
        rows.append({
            "parameter": name,
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
            "lower": float(np.quantile(values, lo_q)),
            "upper": float(np.quantile(values, hi_q)),
            "r_hat": float(r_hat[name]),
            "ess_bulk": float(e_ss[name]),
        })
    population = pd.DataFrame(rows)
    all_rhat = np.concatenate([np.atleast_1d(r_hat[v].to_numpy()).ravel() for v in r_hat])
    all_ess = np.concatenate([np.atleast_1d(e_ss[v].to_numpy()).ravel() for v in e_ss])
    max_rhat = float(np.nanmax(all_rhat))
    min_ess = float(np.nanmin(all_ess))
    n_chains = posterior.sizes["chain"]
    converged = (n_div == 0 and min_ess >= _ESS_MIN
                 and (n_chains < 2 or max_rhat <= _RHAT_MAX))
    diagnostics = {"max_rhat": max_rhat, "min_ess_bulk": min_ess, "divergences": n_div,
                   "converged": bool(converged), "rhat_threshold": _RHAT_MAX,
                   "ess_threshold": _ESS_MIN}
    if not converged:
        warnings.warn(
            f"population time-activity fit did NOT pass its diagnostics (max R-hat "
            f"{max_rhat:.3f} vs {_RHAT_MAX}, min bulk ESS {min_ess:.0f} vs {_ESS_MIN}, "
            f"{n_div} divergent transitions): the TIAs and their SDs are not reliable. Run "
            "more draws/tune, raise target_accept, or check the data (units, outliers).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return PopulationKineticsFit(
        per_cycle=per_cycle, population=population, diagnostics=diagnostics,
        posterior=posterior, ci_prob=level, model=model,
        measurement_error_model=MEASUREMENT_ERROR_MODEL, nuclide=nuclide,
    )


def _prior_vector(priors: Mapping[str, Any] | None, data: _PopulationData,
                  model: str = "mono-exponential") -> NDArray:
    """``[mu_a loc, scale, mu_l loc, scale, omega scales (4), sigma scale]`` (+ uptake 3)."""
    given = dict(priors or {})
    unknown = sorted(set(given) - set(_PRIOR_DEFAULTS))
    if unknown:
        raise DoseResponseError(
            f"priors: unknown key(s) {unknown}; valid keys are {sorted(_PRIOR_DEFAULTS)}."
        )
    misplaced = sorted(set(given) & set(_UPTAKE_PRIOR_KEYS))
    if misplaced and model != "uptake-mono":
        raise DoseResponseError(
            f"priors: {misplaced} apply to model='uptake-mono' only; the {model!r} model has "
            "no uptake phase. Drop them or fit model='uptake-mono'."
        )
    merged = {**_PRIOR_DEFAULTS, **given}
    half, log_sd = merged["biological_half_life_h"]
    half = check_scalar(half, "priors['biological_half_life_h'] median", positive=True, unit="h")
    log_sd = check_scalar(log_sd, "priors['biological_half_life_h'] log-SD", positive=True)
    a_sd = check_scalar(merged["amplitude_log_sd"], "priors['amplitude_log_sd']", positive=True)
    om_p = [check_scalar(v, "priors['omega_patient']", positive=True)
            for v in merged["omega_patient"]]
    om_c = [check_scalar(v, "priors['omega_cycle']", positive=True)
            for v in merged["omega_cycle"]]
    sig = check_scalar(merged["sigma"], "priors['sigma']", positive=True)
    centre = float(np.median(data.log_y - data.log_offset[data.obs_cycle]))
    vector = [centre, a_sd, math.log(_LN2 / half), log_sd, *om_p, *om_c, sig]
    if model == "uptake-mono":
        u_half, u_log_sd = merged["uptake_half_life_h"]
        u_half = check_scalar(u_half, "priors['uptake_half_life_h'] median", positive=True,
                              unit="h")
        u_log_sd = check_scalar(u_log_sd, "priors['uptake_half_life_h'] log-SD", positive=True)
        om_u = check_scalar(merged["omega_uptake_patient"], "priors['omega_uptake_patient']",
                            positive=True)
        vector += [math.log(_LN2 / u_half), u_log_sd, om_u]
    return np.array(vector, dtype=np.float64)


def _validated(samples: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(samples, pd.DataFrame):
        raise DataValidationError(
            f"samples must be a pandas DataFrame with columns {list(_REQUIRED)}; got "
            f"{type(samples).__name__}."
        )
    missing = [c for c in _REQUIRED if c not in samples.columns]
    if missing:
        raise DataValidationError(
            f"samples is missing column(s) {missing}; it has {list(samples.columns)} "
            "(rb.read_time_activity_samples maps other names and units)."
        )
    if "region" in samples.columns and samples["region"].nunique() > 1:
        raise DataValidationError(
            "samples holds several regions "
            f"({list(samples['region'].unique()[:5])}); fit one region at a time, e.g. "
            "samples[samples['region'] == 'kidneys']."
        )
    if samples.empty:
        raise DataValidationError("samples has no rows.")
    columns = [*_REQUIRED, *(c for c in _OPTIONAL if c in samples.columns)]
    frame = samples.loc[:, columns].copy()
    frame["patient"] = frame["patient"].astype(str)
    cycles = pd.to_numeric(frame["cycle"], errors="coerce")
    if not (cycles.notna() & (cycles == cycles.round()) & (cycles >= 1)).all():
        raise DataValidationError("samples: column 'cycle' needs whole numbers >= 1.")
    frame["cycle"] = cycles.astype(np.int64)
    for column, unit in (("time_h", "h"), ("activity_mbq", "MBq"),
                         ("activity_sd_mbq", "MBq"), ("injected_activity_mbq", "MBq")):
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~(values.notna() & np.isfinite(values) & (values > 0))
        if bad.any():
            row = frame.index[bad.to_numpy()][0]
            raise DataValidationError(
                f"samples: column {column!r} needs finite numbers > 0 {unit} (the population "
                f"model works on log activity); row {row!r} has {samples.loc[row, column]!r} "
                f"({int(bad.sum())} bad row(s)). Drop or correct those samples."
            )
        frame[column] = values.astype(float)
    return frame


def _centred_cycles(n_points: NDArray, cycle_patient: NDArray, n_patients: int) -> NDArray:
    """1 for cycles with >= 3 samples of a patient with two or more such cycles, else 0.

    A patient's only well-sampled cycle cannot separate its cycle effect from the patient effect
    (only their sum is informed); centring both would leave a ridge, so that cycle's effect
    stays non-centred (prior-scaled).
    """
    rich = n_points >= _CENTRED_MIN_POINTS
    per_patient = np.bincount(cycle_patient, weights=rich, minlength=n_patients)
    return (rich & (per_patient[cycle_patient] >= 2)).astype(np.int64)


def _cycle_label(patient: Any, cycle: Any) -> str:
    return f"{patient}|{int(cycle)}"
