r"""Log posterior of the late-toxicity mixture cure model, laid out for nutpie (no PyMC).

:func:`late_rows` turns the patient rows of a
:class:`~doseresponse.data.DoseResponseData` (``follow_up``, ``event_time``,
``event_time_lower`` in ``time_unit``) into censored / exact / interval-censored observations,
with a :class:`~doseresponse.exceptions.DataValidationError` listing every row that cannot be
used. :class:`LateToxicityDensity` lays out the unconstrained parameters, packs data and priors
into the arrays of the compiled kernel
``doseresponse.models._late_kernel.late_log_posterior`` and names posterior draws. It has
the interface :func:`doseresponse.models.sampling.sample_density` samples (C callbacks of
``doseresponse.models._late_callbacks``, or nutpie's public Python callbacks).

Unconstrained parameters, in order (the PyMC oracle's value variables,
:func:`doseresponse.models.late_hierarchical.build_late_model`):

=========================  ================================================  ================
block                      meaning                                           size
=========================  ================================================  ================
``log_d50``                population ln D50 (dose unit)                     1 (partial,
                                                                             complete)
``log_slope``              ln slope (γ50 or m)                               1 (partial,
                                                                             complete)
``tau_log__``              ln τ, between-study SD of ln D50                  1 (partial)
``z_d50``                  standardised study effects                        n_study (partial)
``log_d50_study``          per-study ln D50                                  n_study (none)
``log_slope_study``        per-study ln slope                                n_study (none)
``log_factor``             ln dose-modifying factor per covariate            n_covariate
``log_onset_median``       ln t50, median onset given toxicity (time unit)   1
``log_onset_shape``        ln k                                              1
``onset_dose_slope``       ψ, :math:`t_{50}(D) = t_{50}(D/D_{ref})^\psi`     1 (with dose
                                                                             effect)
``exposure_log_median``    μ_s, mean true log dose per study                 n_study (measure-
                                                                             ment error)
``exposure_sd_log__``      ln ω_s, SD of the true log doses per study        n_study (measure-
                                                                             ment error)
``dose_error_z``           e_i, true log dose ln d_obs + σ_i e_i             n_me_row (measure-
                                                                             ment error)
=========================  ================================================  ================

Notes
-----
Study effects are non-centred, :math:`\ln D_{50,s} = \ln D_{50} + \tau z_s`; covariates multiply
D50 by :math:`\prod_c f_c^{x_c}` (dose-modifying factors, as in the binary model). Doses below
:math:`10^{-3} D_{ref}` enter the onset dose effect at :math:`10^{-3} D_{ref}` (the eventual
probability there is negligible for every family with a realistic slope).

With ``measurement_error="lognormal"`` the patients whose dose has a ``dose_se`` get latent true
doses exactly as in the binary model (``doseresponse.models.hierarchical._latent_true_dose``,
the same compiled helpers): :math:`\ln d^{true}_i = \ln d^{obs}_i + \sigma_i e_i`,
:math:`e_i \sim N(0, 1)`, :math:`\ln d^{true}_i \sim N(\mu_s, \omega_s)`, with
:math:`\sigma_i = \sqrt{\ln(1 + (\mathrm{SE}_i/d_i)^2)}` (Carroll RJ, Ruppert D, Stefanski LA,
Crainiceanu CM 2006 *Measurement Error in Nonlinear Models*, 2nd ed., ch. 8-9: the classical
error model with a structural exposure distribution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DataValidationError
from doseresponse.models.design import _dose_log_sd
from doseresponse.models.late_spec import LateToxicitySpec
from doseresponse.models.sampler_coordinates import StudyEffectCoordinates

__all__ = ["LateRows", "LateToxicityDensity", "late_rows"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY_DOSE = 1e-300
ONSET_DOSE_FLOOR = 1e-3
"""Doses enter the onset dose effect as max(D, 1e-3 · D_ref)."""


@dataclass(frozen=True)
class LateRows:
    """Patient rows as observations of the mixture cure model.

    Attributes
    ----------
    dose : numpy.ndarray
        Dose per patient (dose unit).
    study : numpy.ndarray
        Study code per patient (index into ``studies``).
    studies : tuple of str
        Study labels.
    covariates : numpy.ndarray
        Shape ``(n, n_covariate)``.
    kind : numpy.ndarray
        0 censored (no event by ``upper``), 1 exact event at ``upper``, 2 event in
        ``(lower, upper]``.
    lower, upper : numpy.ndarray
        Times (``time_unit``); ``lower`` is 0 unless ``kind == 2``.
    dose_log_sd : numpy.ndarray
        Log-scale SD of each dose measurement from ``dose_se`` (0: taken as exact), as the
        binary model's :class:`doseresponse.models.design.ModelInputs`.
    """

    dose: np.ndarray
    study: np.ndarray
    studies: tuple[str, ...]
    covariates: np.ndarray
    kind: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    dose_log_sd: np.ndarray

    @property
    def event(self) -> np.ndarray:
        """True for patients with the event."""
        return self.kind > 0

    @property
    def me_rows(self) -> np.ndarray:
        """Indices of the patient rows whose dose carries measurement error."""
        return np.flatnonzero(self.dose_log_sd > 0)


def late_rows(data: DoseResponseData, covariates: tuple[str, ...] = ()) -> LateRows:
    """Censored, exact and interval-censored observations of every patient row.

    Parameters
    ----------
    data : DoseResponseData
        Patient rows with ``outcome`` and the time columns: ``follow_up`` (needed for patients
        without the event), ``event_time`` (needed for patients with it) and optionally
        ``event_time_lower``.
    covariates : tuple of str
        Covariate columns to carry.

    Returns
    -------
    LateRows

    Raises
    ------
    DataValidationError
        Aggregate rows (they carry no times), a missing time column, events without an event
        time, patients without the event but with an event time or without follow-up, exact
        event times of 0.
    """
    if not isinstance(data, DoseResponseData):
        raise DataValidationError(
            "data must be a DoseResponseData with patient rows and times (build it with "
            "DoseResponseData.from_frame(..., follow_up=..., event_time=...)); got "
            f"{type(data).__name__}."
        )
    problems: list[str] = []
    if data.has_aggregate:
        problems.append(
            f"{data.n_aggregate} aggregate rows: the late-toxicity model needs each patient's "
            "times; fit aggregate rows with NTCPModel or drop them."
        )
    ipd = data.ipd
    if ipd.empty:
        problems.append("no patient rows: the late-toxicity model needs patient rows with times.")
        raise DataValidationError(_message(problems))
    event = ipd["outcome"].to_numpy() == 1
    nan = np.full(len(ipd), np.nan)
    follow = ipd["follow_up"].to_numpy(dtype=float) if "follow_up" in ipd else nan
    upper = ipd["event_time"].to_numpy(dtype=float) if "event_time" in ipd else nan
    lower = ipd["event_time_lower"].to_numpy(dtype=float) if "event_time_lower" in ipd else nan
    labels = ipd["study"].astype(str) + "/" + ipd["patient"].astype(str)
    if "follow_up" not in ipd and (~event).any():
        problems.append(
            "no follow_up column: patients without the event need their last visit time; map "
            "it with from_frame(..., follow_up=...)."
        )
    if "event_time" not in ipd and event.any():
        problems.append(
            "no event_time column: patients with the event need the time it was first seen; "
            "map it with from_frame(..., event_time=...)."
        )
    checks = [
        (event & ~np.isfinite(upper) & ("event_time" in ipd),
         "event without an event time", "give the first visit with the event in event_time"),
        (~event & np.isfinite(upper),
         "event time on a patient without the event",
         "clear event_time or set outcome to 1"),
        (~event & ~np.isfinite(follow) & ("follow_up" in ipd),
         "patient without the event and without follow_up",
         "give the last visit time in follow_up"),
        (~event & (follow == 0.0),
         "zero follow-up", "a patient seen only at time 0 carries no information; drop the row"),
        (event & (upper == 0.0),
         "event at time 0", "events are first seen after treatment; check event_time"),
    ]
    for mask, what, fix in checks:
        if mask.any():
            shown = ", ".join(labels[mask].head(5))
            more = f" and {int(mask.sum()) - 5} more" if mask.sum() > 5 else ""
            problems.append(f"{what} (study/patient {shown}{more}); {fix}.")
    if problems:
        raise DataValidationError(_message(problems))
    interval = event & np.isfinite(lower) & (lower < upper)
    kind = np.where(interval, 2, np.where(event, 1, 0)).astype(np.int64)
    codes = {label: i for i, label in enumerate(data.studies)}
    study = np.array([codes[s] for s in ipd["study"]], dtype=np.int64)
    cov = ipd[list(covariates)].to_numpy(dtype=float).reshape(len(ipd), len(covariates))
    return LateRows(
        dose=ipd["dose"].to_numpy(dtype=float),
        study=study,
        studies=tuple(data.studies),
        covariates=cov,
        kind=kind,
        lower=np.where(interval, lower, 0.0),
        upper=np.where(event, upper, follow),
        dose_log_sd=_dose_log_sd(ipd),
    )


def _message(problems: list[str]) -> str:
    head = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} for the late-toxicity model:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


@dataclass(frozen=True)
class _Block:
    start: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


class LateToxicityDensity(StudyEffectCoordinates):
    """Log posterior density and analytic gradient of the late-toxicity model.

    Parameters
    ----------
    spec : LateToxicitySpec
        Model description with resolved priors.
    data : DoseResponseData
        The cohort (patient rows with times).

    Attributes
    ----------
    ndim : int
        Length of the unconstrained vector.
    names, shapes, dims, coords
        The named outputs of :meth:`expand_draws`.
    rows : LateRows
        The observations.
    """

    def __init__(self, spec: LateToxicitySpec, data: DoseResponseData) -> None:
        self.spec = spec
        self.rows = late_rows(data, spec.covariates)
        self._n_study = len(self.rows.studies)
        self._n_cov = len(spec.covariates)
        self._me_rows = (self.rows.me_rows if spec.measurement_error == "lognormal"
                         else np.zeros(0, dtype=np.int64))
        self._layout()
        self._outputs()
        self._kernel_args = self._compiled_arguments()
        self._compiled = None

    # ------------------------------------------------------------------ layout

    def _layout(self) -> None:
        n, spec = self._n_study, self.spec
        sizes: list[tuple[str, int]] = []
        if spec.pooling == "none":
            sizes += [("log_d50_study", n), ("log_slope_study", n)]
        else:
            sizes += [("log_d50", 1), ("log_slope", 1)]
            if spec.pooling == "partial":
                sizes += [("tau_log__", 1), ("z_d50", n)]
        if self._n_cov:
            sizes.append(("log_factor", self._n_cov))
        sizes += [("log_onset_median", 1), ("log_onset_shape", 1)]
        if spec.onset_dose_effect:
            sizes.append(("onset_dose_slope", 1))
        if self._me_rows.size:
            sizes += [("exposure_log_median", n), ("exposure_sd_log__", n),
                      ("dose_error_z", int(self._me_rows.size))]
        blocks, start = {}, 0
        for name, size in sizes:
            blocks[name] = _Block(start, size)
            start += size
        self._blocks = blocks
        self.ndim = start

    @property
    def blocks(self) -> dict[str, slice]:
        """Slice of the unconstrained vector holding each parameter block."""
        return {name: block.slice for name, block in self._blocks.items()}

    def _layout_fields(self) -> tuple[str, ...]:
        from doseresponse.models._late_kernel import LATE_LAYOUT_FIELDS

        return LATE_LAYOUT_FIELDS

    @property
    def unconstrained_names(self) -> list[str]:
        """A label for each unconstrained coordinate."""
        labels = []
        for name, block in self._blocks.items():
            if block.size == 1 and name not in ("z_d50", "log_factor", "exposure_log_median",
                                                "exposure_sd_log__", "dose_error_z"):
                labels.append(name)
            else:
                labels.extend(f"{name}_{i}" for i in range(block.size))
        return labels

    def _outputs(self) -> None:
        slope = self.spec.slope_name
        study = ("study",)
        if self.spec.pooling == "none":
            dims = {"log_d50_study": study, "log_slope_study": study, "d50_study": study,
                    f"{slope}_study": study}
        else:
            dims = {"log_d50": (), "log_slope": (), "d50": (), slope: ()}
            if self.spec.pooling == "partial":
                dims.update({"tau": (), "z_d50": study, "d50_study": study})
        if self._n_cov:
            dims.update({"log_factor": ("covariate",), "factor": ("covariate",)})
        dims.update({"log_onset_median": (), "onset_median": (), "log_onset_shape": (),
                     "onset_shape": ()})
        if self.spec.onset_dose_effect:
            dims["onset_dose_slope"] = ()
        if self._me_rows.size:
            dims.update({"exposure_log_median": study, "exposure_sd": study,
                         "dose_error_z": ("me_row",), "true_dose": ("me_row",)})
        self.names = list(dims)
        sizes = {"study": self._n_study, "covariate": self._n_cov,
                 "me_row": int(self._me_rows.size)}
        self.shapes = [tuple(sizes[d] for d in dims[name]) for name in self.names]
        self.dims = {name: d for name, d in dims.items() if d}
        labels = {"study": list(self.rows.studies), "covariate": list(self.spec.covariates),
                  "me_row": [int(i) for i in self._me_rows]}
        used = {d for ds in self.dims.values() for d in ds}
        self.coords = {d: [str(v) for v in labels[d]] for d in sorted(used)}

    def _priors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, float]]]:
        priors = self.spec.priors
        table = {
            "log_d50": (math.log(priors["d50"]["median"]), priors["d50"]["sigma"]),
            "log_d50_study": (math.log(priors["d50"]["median"]), priors["d50"]["sigma"]),
            "log_slope": (math.log(priors["slope"]["median"]), priors["slope"]["sigma"]),
            "log_slope_study": (math.log(priors["slope"]["median"]), priors["slope"]["sigma"]),
            "z_d50": (0.0, 1.0),
            "log_onset_median": (math.log(priors["onset_median"]["median"]),
                                 priors["onset_median"]["sigma"]),
            "log_onset_shape": (math.log(priors["onset_shape"]["median"]),
                                priors["onset_shape"]["sigma"]),
            "onset_dose_slope": (priors["onset_dose_slope"]["mean"],
                                 priors["onset_dose_slope"]["sigma"]),
            "dose_error_z": (0.0, 1.0),
        }
        if self._me_rows.size:
            table["exposure_log_median"] = (math.log(priors["exposure"]["median"]),
                                            priors["exposure"]["sigma"])
        if self._n_cov:
            table["log_factor"] = (
                np.array([math.log(priors[f"factor:{c}"]["median"]) for c in self.spec.covariates]),
                np.array([priors[f"factor:{c}"]["sigma"] for c in self.spec.covariates]),
            )
        index, mu, sd = [], [], []
        for name, block in self._blocks.items():
            if name in ("tau_log__", "exposure_sd_log__"):
                continue
            centre, spread = table[name]
            index.append(np.arange(block.start, block.start + block.size))
            mu.append(np.broadcast_to(centre, block.size))
            sd.append(np.broadcast_to(spread, block.size))
        half = []
        if "tau_log__" in self._blocks:
            half.append((self._blocks["tau_log__"].start, float(priors["tau"]["sigma"])))
        if "exposure_sd_log__" in self._blocks:
            block = self._blocks["exposure_sd_log__"]
            sigma = float(priors["exposure_sd"]["sigma"])
            half += [(block.start + s, sigma) for s in range(block.size)]
        return (np.concatenate(index).astype(np.int64), np.concatenate(mu).astype(np.float64),
                np.concatenate(sd).astype(np.float64), half)

    def _compiled_arguments(self) -> tuple[np.ndarray, ...]:
        from doseresponse.models._curve_kernel import FAMILY_CODES
        from doseresponse.models._late_kernel import (
            LATE_KERNEL_ARRAYS,
            LATE_LAYOUT_FIELDS,
            ONSET_CODES,
        )

        spec, rows, b = self.spec, self.rows, self._blocks
        fixed = {
            "pooling": {"complete": 0, "partial": 1, "none": 2}[spec.pooling],
            "n_study": self._n_study, "n_cov": self._n_cov,
            "family": FAMILY_CODES[spec.curve], "onset": ONSET_CODES[spec.onset],
            "sampler_coordinates": 0,
        }
        layout = np.array(
            [fixed[f] if f in fixed else (b[f].start if f in b else -1)
             for f in LATE_LAYOUT_FIELDS],
            dtype=np.int64,
        )
        index, mu, sd, half = self._priors()
        self._normal = (index, mu, sd)
        inv_sd = 1.0 / sd
        constant = float(np.sum(np.log(inv_sd)) - index.size * _LOG_SQRT_2PI)
        onset_x = np.zeros(rows.dose.size)
        if spec.onset_dose_effect:
            onset_x = np.log(np.maximum(rows.dose, ONSET_DOSE_FLOOR * spec.dose_reference)
                             / spec.dose_reference)
        args = (
            layout, index, mu, inv_sd,
            np.array([i for i, _ in half], dtype=np.int64),
            np.array([s for _, s in half], dtype=np.float64),
            np.array([constant, math.log(spec.dose_reference), math.log(ONSET_DOSE_FLOOR)]),
            rows.dose.astype(np.float64), np.log(np.maximum(rows.dose, _TINY_DOSE)),
            rows.study.astype(np.int64), rows.covariates.astype(np.float64),
            rows.kind.astype(np.int64), rows.lower.astype(np.float64),
            rows.upper.astype(np.float64), onset_x.astype(np.float64),
            self._me_rows.astype(np.int64), rows.dose_log_sd[self._me_rows].astype(np.float64),
            rows.study[self._me_rows].astype(np.int64),
            np.log(rows.dose[self._me_rows]).astype(np.float64),
        )
        for value, (name, dtype, ndim) in zip(args, LATE_KERNEL_ARRAYS, strict=True):
            if value.dtype != np.dtype(dtype) or value.ndim != ndim:  # pragma: no cover
                raise TypeError(f"kernel argument {name} is {value.dtype}/{value.ndim}-d")
        return tuple(np.array(v, order="C", copy=True) for v in args)

    @property
    def kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """Data arguments of the compiled kernel, in ``LATE_KERNEL_ARRAYS`` order."""
        return self._kernel_args

    @property
    def logp_callback(self):
        """The C callback (``numba.cfunc``) nutpie calls for this density."""
        from doseresponse.models._late_callbacks import late_logp_callback

        return late_logp_callback

    # ------------------------------------------------------------------ density

    def _compiled_density(self):
        if self._compiled is None:
            from doseresponse.models._nutpie_callbacks import CompiledDensity

            self._compiled = CompiledDensity(self._kernel_args, self.ndim,
                                             callback=self.logp_callback)
        return self._compiled

    def logp_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log posterior density (normalising constants included) and its gradient.

        Parameters
        ----------
        x : numpy.ndarray
            Unconstrained parameters, shape ``(ndim,)``.

        Returns
        -------
        logp : float
            Log density; ``-inf`` where it is not finite.
        grad : numpy.ndarray
            Gradient with respect to ``x`` (a new array).
        """
        return self._compiled_density()(np.ascontiguousarray(x, dtype=np.float64))

    def logp_and_grad_function(self):
        """A fast ``x -> (logp, grad)`` reusing one gradient buffer (see ``CompiledDensity``).

        Returns
        -------
        callable
        """
        return self._compiled_density().buffered()

    def logp(self, x: np.ndarray) -> float:
        """Log posterior density at ``x``.

        Parameters
        ----------
        x : numpy.ndarray
            Unconstrained parameters, shape ``(ndim,)``.

        Returns
        -------
        float
            The log posterior density (normalising constants included).
        """
        return self.logp_and_grad(x)[0]

    # ------------------------------------------------------------------ outputs

    def expand(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Named quantities at one unconstrained point.

        Parameters
        ----------
        x : numpy.ndarray
            Unconstrained parameters, shape ``(ndim,)``.

        Returns
        -------
        dict of str to numpy.ndarray
            As :meth:`expand_draws` for a single draw.
        """
        return self.expand_draws(np.asarray(x, dtype=np.float64))

    def expand_draws(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Named model quantities of unconstrained draws of shape ``(..., ndim)``.

        Parameters
        ----------
        draws : numpy.ndarray
            Unconstrained draws, last axis the parameter vector.

        Returns
        -------
        dict of str to numpy.ndarray
            Each of ``names`` (D50 in the dose unit, onset median in the time unit).
        """
        draws = np.asarray(draws, dtype=np.float64)
        b = self.blocks
        slope = self.spec.slope_name
        out: dict[str, np.ndarray] = {}
        if "log_d50_study" in b:
            out["log_d50_study"] = draws[..., b["log_d50_study"]]
            out["log_slope_study"] = draws[..., b["log_slope_study"]]
            out["d50_study"] = np.exp(out["log_d50_study"])
            out[f"{slope}_study"] = np.exp(out["log_slope_study"])
        else:
            out["log_d50"] = draws[..., b["log_d50"].start]
            out["log_slope"] = draws[..., b["log_slope"].start]
            out["d50"] = np.exp(out["log_d50"])
            out[slope] = np.exp(out["log_slope"])
            if "tau_log__" in b:
                out["tau"] = np.exp(draws[..., b["tau_log__"].start])
                out["z_d50"] = draws[..., b["z_d50"]]
                out["d50_study"] = np.exp(out["log_d50"][..., None]
                                          + out["tau"][..., None] * out["z_d50"])
        if "log_factor" in b:
            out["log_factor"] = draws[..., b["log_factor"]]
            out["factor"] = np.exp(out["log_factor"])
        out["log_onset_median"] = draws[..., b["log_onset_median"].start]
        out["onset_median"] = np.exp(out["log_onset_median"])
        out["log_onset_shape"] = draws[..., b["log_onset_shape"].start]
        out["onset_shape"] = np.exp(out["log_onset_shape"])
        if "onset_dose_slope" in b:
            out["onset_dose_slope"] = draws[..., b["onset_dose_slope"].start]
        if "dose_error_z" in b:
            rows = self._me_rows
            out["exposure_log_median"] = draws[..., b["exposure_log_median"]]
            out["exposure_sd"] = np.exp(draws[..., b["exposure_sd_log__"]])
            out["dose_error_z"] = draws[..., b["dose_error_z"]]
            out["true_dose"] = np.exp(np.log(self.rows.dose[rows])
                                      + self.rows.dose_log_sd[rows] * out["dose_error_z"])
        return {name: np.array(out[name]) for name in self.names}

    def initial_point(self, seed: int) -> np.ndarray:
        """Prior centres (τ at its prior SD) jittered by U(−1, 1), seeded.

        Parameters
        ----------
        seed : int
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        numpy.ndarray
            Shape ``(ndim,)``.
        """
        index, mu, _ = self._normal
        start = np.zeros(self.ndim)
        start[index] = mu
        if "tau_log__" in self._blocks:
            start[self._blocks["tau_log__"].start] = math.log(self.spec.priors["tau"]["sigma"])
        rng = np.random.default_rng(seed)
        return start + rng.uniform(-1.0, 1.0, self.ndim)
