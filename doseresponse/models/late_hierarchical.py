r"""PyMC model of the late-toxicity mixture cure model: the autodiff oracle of the fast path.

:func:`build_late_model` writes the same model as
:class:`~doseresponse.models.late_density.LateToxicityDensity` with PyMC's own distributions —
the curve through its PyTensor twin (:mod:`doseresponse.models.tensor_curves`), the onset
through ``pm.Weibull`` / ``pm.LogNormal`` and PyMC's ``logp`` / ``logcdf`` / ``logccdf`` — so
that an error in the hand-written kernel and its gradient shows up as a disagreement of log
densities (``tests/models/test_late_density.py``). Its value variables are the density's
unconstrained blocks, in the same order. It imports PyMC, so only tests and
:meth:`~doseresponse.models.late_toxicity.LateToxicityModel.build` load it.

Notes
-----
Weibull with shape :math:`k` and median :math:`t_{50}` has PyMC scale
:math:`\beta = t_{50}(\ln 2)^{-1/k}`; the log-normal has :math:`\mu = \ln t_{50}`,
:math:`\sigma = 1/k`. Row terms as in ``doseresponse.models._late_kernel`` (Farewell VT 1982
Biometrics 38:1041).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from doseresponse.data import DoseResponseData
from doseresponse.models.hierarchical import _latent_true_dose, _study_parameters
from doseresponse.models.late_density import ONSET_DOSE_FLOOR, late_rows
from doseresponse.models.late_spec import LateToxicitySpec
from doseresponse.models.tensor_curves import _log_normal_cdf, tensor_log_probabilities

__all__ = ["build_late_model"]


def build_late_model(spec: LateToxicitySpec, data: DoseResponseData) -> pm.Model:
    """Build the PyMC late-toxicity model (no sampling).

    Parameters
    ----------
    spec : LateToxicitySpec
        Model with resolved priors.
    data : DoseResponseData
        Patient rows with times.

    Returns
    -------
    pymc.Model
        Free variables ``log_d50``, ``log_slope``, ``tau``, ``z_d50`` (or the per-study ones),
        ``log_factor``, ``log_onset_median``, ``log_onset_shape`` (, ``onset_dose_slope``).
    """
    rows = late_rows(data, spec.covariates)
    priors = spec.priors
    coords = {"study": list(rows.studies), "covariate": list(spec.covariates)}
    me_rows = rows.me_rows if spec.measurement_error == "lognormal" else None
    if me_rows is not None:
        coords["me_row"] = me_rows
    log_pair = tensor_log_probabilities(spec.curve)
    with pm.Model(coords=coords) as model:
        log_d50_study, log_slope_study = _study_parameters(spec, spec.slope_name)
        log_d50 = log_d50_study[rows.study] if log_d50_study.ndim else log_d50_study
        log_slope = log_slope_study[rows.study] if log_slope_study.ndim else log_slope_study
        if spec.covariates:
            mu = [math.log(priors[f"factor:{c}"]["median"]) for c in spec.covariates]
            sd = [priors[f"factor:{c}"]["sigma"] for c in spec.covariates]
            beta = pm.Normal("log_factor", mu=np.array(mu), sigma=np.array(sd), dims="covariate")
            pm.Deterministic("factor", pt.exp(beta), dims="covariate")
            log_d50 = log_d50 + pt.dot(rows.covariates, beta)
        theta = pm.Normal("log_onset_median", math.log(priors["onset_median"]["median"]),
                          priors["onset_median"]["sigma"])
        log_k = pm.Normal("log_onset_shape", math.log(priors["onset_shape"]["median"]),
                          priors["onset_shape"]["sigma"])
        pm.Deterministic("onset_median", pt.exp(theta))
        pm.Deterministic("onset_shape", pt.exp(log_k))
        psi = None
        if spec.onset_dose_effect:
            psi = pm.Normal("onset_dose_slope", priors["onset_dose_slope"]["mean"],
                            priors["onset_dose_slope"]["sigma"])
        dose = pt.as_tensor_variable(rows.dose)
        if me_rows is not None:  # the binary model's latent true doses and exposure density
            inputs = SimpleNamespace(me_rows=me_rows, ipd_dose=rows.dose,
                                     ipd_dose_log_sd=rows.dose_log_sd, ipd_study=rows.study)
            dose = _latent_true_dose(spec, inputs, dose)
        log_p, log_q = log_pair(dose, pt.exp(log_d50), pt.exp(log_slope))
        if psi is not None:
            ref = spec.dose_reference
            theta = theta + psi * pt.log(pt.maximum(dose, ONSET_DOSE_FLOOR * ref) / ref)
        k = pt.exp(log_k)
        total = 0.0
        for code, index in ((0, np.flatnonzero(rows.kind == 0)),
                            (1, np.flatnonzero(rows.kind == 1)),
                            (2, np.flatnonzero(rows.kind == 2))):
            if index.size == 0:
                continue
            t = rows.upper[index]
            th = theta[index] if spec.onset_dose_effect else theta
            if code == 0:
                row_terms = pt.logaddexp(log_q[index],
                                         log_p[index] + _log_ccdf(spec.onset, t, th, k))
            elif code == 1:
                row_terms = log_p[index] + _log_pdf(spec.onset, t, th, k)
            else:
                lower = rows.lower[index]
                inner = np.flatnonzero(lower > 0)
                from_zero = np.flatnonzero(lower <= 0)
                row_terms = pt.zeros(index.size)
                if from_zero.size:
                    row_terms = pt.set_subtensor(
                        row_terms[from_zero],
                        _log_cdf(spec.onset, t[from_zero], _pick(th, from_zero), k))
                if inner.size:
                    row_terms = pt.set_subtensor(
                        row_terms[inner],
                        pm.math.logdiffexp(
                            _log_cdf(spec.onset, t[inner], _pick(th, inner), k),
                            _log_cdf(spec.onset, lower[inner], _pick(th, inner), k)))
                row_terms = log_p[index] + row_terms
            total = total + row_terms.sum()
        pm.Potential("late_toxicity_likelihood", total)
    return model


def _onset(onset: str, theta, k):
    if onset == "weibull":
        return pm.Weibull.dist(alpha=k, beta=pt.exp(theta) * math.log(2.0) ** (-1.0 / k))
    return pm.LogNormal.dist(mu=theta, sigma=1.0 / k)


def _pick(theta, index):
    return theta[index] if getattr(theta, "ndim", 0) else theta


def _log_cdf(onset: str, t, theta, k):
    if onset == "weibull":
        return pm.logcdf(_onset(onset, theta, k), t)
    # PyMC's normal_lcdf rounds sqrt(2) to float32 (~1e-8 relative); the accurate twin instead
    return _log_normal_cdf(k * (np.log(t) - theta))


def _log_ccdf(onset: str, t, theta, k):
    if onset == "weibull":
        return pm.logccdf(_onset(onset, theta, k), t)
    return _log_normal_cdf(-k * (np.log(t) - theta))


def _log_pdf(onset: str, t, theta, k):
    return pm.logp(_onset(onset, theta, k), t)
