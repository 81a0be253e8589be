r"""Cross-validation of late-toxicity fits by refitting: K-fold by patient, leave-one-study-out.

The late-toxicity counterpart of :mod:`doseresponse.models.crossval` (whose
:func:`~doseresponse.models.crossval.kfold` and
:func:`~doseresponse.models.crossval.leave_one_study_out` call the functions here for a
:class:`~doseresponse.models.late_toxicity.LateToxicityFit`). The folds, the run settings, the
new-centre quadrature and the result are those of the binary cross-validation; only the
refit (:class:`~doseresponse.models.late_density.LateToxicityDensity`) and the held-out
likelihood differ. A held-out patient's likelihood is its censored, exact or interval-censored
term (:meth:`~doseresponse.models.late_toxicity.LateToxicityFit.pointwise_log_likelihood`, the
one implementation of those terms), evaluated with the refit's draws:

* K-fold: patients of a study in the training folds with their study's effect
  (``d50_study`` of the refit); a patient whose whole study was held out as a new centre;
* leave-one-study-out: every patient of the held-out study as a **new centre**, one new study
  effect :math:`u \sim N(0, \tau^2)` on :math:`\ln D_{50}` shared by its patients and
  integrated out per draw by the Gauss–Hermite nodes of
  :func:`doseresponse.models.predictive.draw_parameters` (``new_study="averaged"``). The
  onset-time parameters are shared by all studies in the model, so a new centre has the
  refit's.

Measurement-error fits (``measurement_error="lognormal"``): a held-out patient's latent true
dose is integrated out given the recorded dose, with the functions of
:mod:`doseresponse.models.crossval_dose_error` and the same rules as for binary fits (the
held-out recorded doses inform their study's exposure distribution: importance weights on the
refit's draws for a known study, the exposure posterior given the study's own doses for a new
centre).

Notes
-----
K-fold ELPD :math:`\mathrm{elpd}_i = \log \frac1S \sum_s p(y_i \mid
\theta^{(s)}_{-f(i)})` and leave-one-group-out :math:`\mathrm{elpd}_j = \log \frac1S \sum_s
\sum_k w_k \prod_{i \in j} p(y_i \mid \theta^{(s)}_{-j}, u = \tau^{(s)} x_k)` (Vehtari A,
Gelman A, Gabry J 2017 Stat Comput 27:1413, section 2.3; Vehtari's cross-validation FAQ,
https://users.aalto.fi/~ave/CV-FAQ.html). The per-patient likelihood terms of the mixture cure
model: interval :math:`(L, R]`: :math:`\pi(D)(F(R) - F(L))`; right-censored at :math:`C`:
:math:`1 - \pi(D)F(C)`; exact at :math:`t`: :math:`\pi(D) f(t)` (Farewell VT 1982 Biometrics
38:1041).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import special

from doseresponse.data import DoseResponseData
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.checks import ELPDResult, _joined_log_likelihood, _rows_by_draws
from doseresponse.models.crossval import (
    _check_folds,
    _flat,
    _loso_studies,
    _lppd,
    _new_study_exposure,
    _refit_exposure,
    _result,
    _row_studies,
    _settings,
    _subset,
    _warn_divergent,
    _warn_low_ess,
    kfold_folds,
)
from doseresponse.models.crossval_dose_error import (
    exposure_log_likelihood,
    integrate_latent_dose,
    latent_log_dose,
)
from doseresponse.models.late_density import late_rows
from doseresponse.models.late_toxicity import LateToxicityFit
from doseresponse.models.predictive import draw_parameters

__all__ = ["late_held_out_log_lik", "late_kfold", "late_leave_one_study_out"]


def late_kfold(
    fit: LateToxicityFit,
    k: int,
    *,
    random_seed: int,
    folds: Sequence[int] | None,
    draws: int | None,
    tune: int,
    chains: int | None,
    target_accept: float | None,
) -> ELPDResult:
    """K-fold cross-validation of a late-toxicity fit by patient (see the module docstring).

    Parameters
    ----------
    fit : doseresponse.models.late_toxicity.LateToxicityFit
        The fit; its spec is refitted on the training patients of every fold.
    k : int
        Number of folds (:func:`doseresponse.models.crossval.kfold_folds`, by patient,
        stratified by study).
    random_seed : int
        Seed of the folds and of the refits (fold number *n* uses ``random_seed + 1 + n``).
    folds : sequence of int, optional
        Your own fold of every patient (order of ``fit.data.ipd``).
    draws, chains : int, optional
        Draws per chain and chains of each refit; default those of ``fit``.
    tune : int
        Warm-up iterations per chain of each refit.
    target_accept : float, optional
        NUTS target acceptance of the refits; default that of the model (0.95).

    Returns
    -------
    doseresponse.models.checks.ELPDResult
        ``kind="kfold"``, one ``elpd_i`` per patient (nats), ``p`` the full fit's lppd minus
        the ELPD, ``warning`` True when a refit had divergent transitions.

    Warns
    -----
    UserWarning
        Refits with divergent transitions; with measurement error, folds whose held-out
        recorded doses leave an importance-sampling effective size below 10 % of the draws.

    Raises
    ------
    DoseResponseError
        Bad ``k``/``folds``; with ``pooling="none"``, a fold holding every patient of a study.
    """
    data = fit.data
    if folds is None:
        folds_arr = kfold_folds(data, k, random_seed=random_seed)
    else:
        folds_arr = _check_folds(folds, data.n_ipd)
    settings = _settings(fit, draws, tune, chains, target_accept)
    elpd_i = np.empty(folds_arr.size)
    divergent: dict[int, int] = {}
    patients = np.arange(data.n_ipd)
    low_ess: dict[int, float] = {}
    for number, f in enumerate(np.unique(folds_arr)):
        train = _subset(data, folds_arr != f, np.zeros(0, dtype=bool))[0]
        refit, n_div = _refit_late(fit, train, random_seed + 1 + number, settings)
        rng = np.random.default_rng([random_seed, number])  # exposure draws of unseen studies
        if n_div:
            divergent[int(f)] = n_div
        held_rows = patients[folds_arr == f]
        studies = _row_studies(data, held_rows, np.zeros(0, dtype=np.int64))
        known = np.isin(studies, list(train.studies))
        if (~known).any() and fit.spec.pooling == "none":
            raise DoseResponseError(
                f"fold {f} holds every patient of study(ies) {sorted(set(studies[~known]))}; "
                "with pooling='none' a study without patients in the training folds cannot "
                "be predicted. Use fewer folds (k=) or your own folds=."
            )
        for seen in (True, False):
            rows_here = held_rows[known if seen else ~known]
            if not rows_here.size:
                continue
            held, ipd_index, _ = _subset(
                data, np.isin(patients, rows_here), np.zeros(0, dtype=bool)
            )
            ll_nodes, log_w = late_held_out_log_lik(refit, held, new_centre=not seen, rng=rng)
            ll = special.logsumexp(ll_nodes + log_w[None, :, None], axis=1)  # (S, n)
            dose_w = _held_dose_log_weights(refit, held) if seen else None
            if dose_w is not None:  # held-out recorded doses join the exposure posterior
                dose_w = dose_w - special.logsumexp(dose_w)
                ll = ll + dose_w[:, None] + math.log(ll.shape[0])
                low_ess[int(f)] = float(np.exp(-special.logsumexp(2.0 * dose_w)))
            elpd_i[ipd_index] = special.logsumexp(ll, axis=0) - math.log(ll.shape[0])
    values, labels = _joined_log_likelihood(fit)
    lppd = _lppd(_rows_by_draws(values))
    _warn_divergent(divergent, "fold")
    _warn_low_ess(low_ess, settings)
    return _result(
        "kfold", elpd_i, float(lppd.sum() - elpd_i.sum()), settings, bool(divergent),
        tuple(str(v) for v in values["observation"].values), tuple(labels),
    )


def late_leave_one_study_out(
    fit: LateToxicityFit,
    *,
    random_seed: int,
    draws: int | None,
    tune: int,
    chains: int | None,
    target_accept: float | None,
) -> ELPDResult:
    """Leave-one-study-out of a late-toxicity fit: each study predicted as a new centre.

    Parameters
    ----------
    fit : doseresponse.models.late_toxicity.LateToxicityFit
        A fit with ``pooling="partial"`` or ``"complete"`` and at least two studies.
    random_seed : int
        Seed of the refits (the refit without study *j* uses ``random_seed + 1 + j``).
    draws, chains : int, optional
        Draws per chain and chains of each refit; default those of ``fit``.
    tune : int
        Warm-up iterations per chain of each refit.
    target_accept : float, optional
        NUTS target acceptance of the refits; default that of the model (0.95).

    Returns
    -------
    doseresponse.models.checks.ELPDResult
        ``kind="loso"``: one observation per study (``"study:<label>"``), ``elpd_i`` the log
        predictive density of all its patients jointly as a new centre (nats); ``p`` the full
        fit's lppd study by study minus the ELPD.

    Raises
    ------
    DoseResponseError
        ``pooling="none"`` or fewer than two studies.
    """
    data = fit.data
    studies = _loso_studies(fit)
    settings = _settings(fit, draws, tune, chains, target_accept)
    values, _ = _joined_log_likelihood(fit)
    full_ll = _rows_by_draws(values)  # (patients, S)
    row_study = _row_studies(data, np.arange(data.n_ipd), np.zeros(0, dtype=np.int64))
    elpd_j, lppd_j, divergent, labels = [], [], {}, []
    for j, study in enumerate(studies):
        train = data.select_studies([s for s in studies if s != study])
        refit, n_div = _refit_late(fit, train, random_seed + 1 + j, settings)
        if n_div:
            divergent[study] = n_div
        held = data.select_studies([study])
        rng = np.random.default_rng([random_seed, j])  # the study's exposure parameters
        ll_nodes, log_w = late_held_out_log_lik(refit, held, new_centre=True, rng=rng)
        joint = special.logsumexp(ll_nodes.sum(axis=2) + log_w[None, :], axis=1)  # (S,)
        elpd_j.append(special.logsumexp(joint) - math.log(joint.size))
        own = full_ll[row_study == study].sum(axis=0)
        lppd_j.append(special.logsumexp(own) - math.log(own.size))
        labels.append(f"study {study} ({held.n_ipd} patients), predicted as a new centre")
    _warn_divergent(divergent, "study")
    elpd = np.asarray(elpd_j)
    return _result(
        "loso", elpd, float(np.sum(lppd_j) - elpd.sum()), settings, bool(divergent),
        tuple(f"study:{s}" for s in studies), tuple(labels),
    )


def late_held_out_log_lik(
    refit: LateToxicityFit,
    held: DoseResponseData,
    *,
    new_centre: bool,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Log-likelihood of held-out patients under a refit's draws, ``(S, K, n)`` and weights.

    Parameters
    ----------
    refit : doseresponse.models.late_toxicity.LateToxicityFit
        The fit on the training patients.
    held : DoseResponseData
        The held-out patients (with their times).
    new_centre : bool
        False: every held-out study is in ``refit`` and its patients get its study effect
        (one node, K = 1). True: the held-out studies are new centres; with partial pooling
        a new study effect on :math:`\ln D_{50}` is integrated over the Gauss–Hermite nodes of
        :func:`doseresponse.models.predictive.draw_parameters` (``new_study="averaged"``),
        with complete pooling a new centre has the population curve (K = 1).
    rng : numpy.random.Generator, optional
        Measurement-error models: draws the exposure parameters of studies the refit has
        none for (new centres; needed then).

    Returns
    -------
    ll : numpy.ndarray
        Shape ``(S, K, n)``: per draw, node and held-out patient (order of ``held.ipd``), the
        censored, exact or interval-censored log-likelihood (nats), from
        :meth:`~doseresponse.models.late_toxicity.LateToxicityFit.pointwise_log_likelihood`.
    log_weights : numpy.ndarray
        Shape ``(K,)``: log quadrature weights of the nodes (they sum to 1).

    Raises
    ------
    DoseResponseError
        A new centre under ``pooling="none"``, or a known study missing from the refit.

    Notes
    -----
    The same study effect is shared by all patients of a held-out study at a node, so the
    joint density of a study is :math:`\sum_k w_k \prod_i p_{ik}` (sum over axis 2 before the
    log-sum-exp over nodes), not a product of per-patient integrals.

    Measurement-error models: a held-out patient with a dose uncertainty has its latent true
    dose integrated out given the recorded dose, per draw, as for binary fits
    (:mod:`doseresponse.models.crossval_dose_error`: :math:`\ln D \mid \ln d^{obs}` normal,
    :func:`~doseresponse.models.crossval_dose_error.latent_log_dose`; adaptive Gauss–Hermite
    quadrature, :func:`~doseresponse.models.crossval_dose_error.integrate_latent_dose`), with
    its study's exposure parameters from the refit when the study is known, otherwise drawn
    given the study's recorded doses
    (:func:`~doseresponse.models.crossval_dose_error.exposure_posterior_draws`). The
    importance weights that add the held-out recorded doses to a known study's exposure
    posterior are applied by the caller (:func:`late_kfold`).
    """
    spec, post = refit.spec, refit.posterior
    studies = list(late_rows(held, ()).studies)
    per_draw = {
        name: values for name, values in post.data_vars.items() if "me_row" not in values.dims
    }
    if not new_centre or spec.pooling == "complete":
        if not new_centre:
            missing = [s for s in studies if s not in refit.data.studies]
            if missing:
                raise DoseResponseError(  # pragma: no cover - callers route them as new
                    f"internal error: studies {missing} are not in the refit; please report."
                )
        variables = {}
        for name, values in per_draw.items():
            if "study" not in values.dims:
                variables[name] = values
            elif not new_centre:  # the held-out patients' own study effects
                variables[name] = values.sel(study=studies)
        posterior, n_nodes, weights = xr.Dataset(variables), 1, np.ones(1)
    else:
        if spec.pooling == "none":
            raise DoseResponseError(
                "a new centre cannot be predicted by a model with pooling='none' (it has no "
                "population curve); refit with pooling='partial'."
            )
        params = draw_parameters(
            spec.family, log_d50=_flat(post, "log_d50"), log_slope=_flat(post, "log_slope"),
            tau=_flat(post, "tau"), new_study="averaged",
        )
        n_nodes, weights = params.log_d50.shape[1], params.weights
        variables = {}
        for name, values in per_draw.items():
            if "study" in values.dims:
                continue
            extra = [d for d in values.dims if d not in ("chain", "draw")]
            variables[name] = xr.DataArray(
                np.repeat(_flat(post, name), n_nodes, axis=0)[None],
                dims=("chain", "draw", *extra),
                coords={d: values.coords[d].values for d in extra if d in values.coords},
            )
        variables["d50_study"] = xr.DataArray(
            np.repeat(np.exp(params.log_d50.reshape(1, -1, 1)), len(studies), axis=2),
            dims=("chain", "draw", "study"), coords={"study": studies},
        )
        posterior = xr.Dataset(variables)
    ll = _pointwise(LateToxicityFit({"posterior": posterior}, spec, held))
    me = _held_dose_rows(refit, held)
    if me is not None:
        rows, log_obs, sigma, labels = me
        n_draws = ll.shape[0] // n_nodes
        if not new_centre and "exposure_log_median" in post:
            mu, omega = _refit_exposure(refit, labels)
        else:
            if rng is None:
                raise DoseResponseError(  # pragma: no cover - internal callers pass one
                    "internal error: a seeded generator is needed; please report this."
                )
            mu, omega = _new_study_exposure(spec, log_obs, sigma, labels, n_draws, rng)
        mean, sd = (np.repeat(a, n_nodes, axis=0) for a in latent_log_dose(log_obs, sigma, mu,
                                                                          omega))
        shape = (posterior.sizes["chain"], posterior.sizes["draw"], rows.size)

        def log_lik(z: np.ndarray) -> np.ndarray:
            true_dose = xr.DataArray(np.exp(mean + sd * z).reshape(shape),
                                     dims=("chain", "draw", "me_row"))
            at = posterior.assign(true_dose=true_dose)
            return _pointwise(LateToxicityFit({"posterior": at}, spec, held))[:, rows]

        ll[:, rows] = integrate_latent_dose(log_lik, mean.shape)
    return ll.reshape(-1, n_nodes, ll.shape[-1]), np.log(weights)


def _pointwise(fit: LateToxicityFit) -> np.ndarray:
    """Per-patient log-likelihood ``(chain·draw, n)`` of a (synthetic) late fit."""
    values = fit.pointwise_log_likelihood()
    ll = np.asarray(values.transpose("chain", "draw", "ipd_row"), dtype=np.float64)
    return ll.reshape(-1, ll.shape[-1])


def _held_dose_rows(refit: LateToxicityFit, held: DoseResponseData):
    """Rows, log recorded dose, log-SD and study of each held-out patient with a dose error."""
    if refit.spec.measurement_error == "none":
        return None
    rows = late_rows(held, ())
    me = rows.me_rows
    if not me.size:
        return None
    labels = np.asarray(rows.studies, dtype=object)[rows.study[me]]
    return me, np.log(rows.dose[me]), rows.dose_log_sd[me], labels


def _held_dose_log_weights(refit: LateToxicityFit, held: DoseResponseData) -> np.ndarray | None:
    """Log importance weights ``(S,)`` adding held-out recorded doses to the refit's exposure.

    The recorded doses are covariates, known when the outcomes are predicted, and inform only
    their studies' exposure distributions (:mod:`doseresponse.models.crossval_dose_error`).
    None without held-out dose uncertainties or without exposure parameters in the refit
    (those draws come from the exposure posterior given the held-out doses already).
    """
    me = _held_dose_rows(refit, held)
    if me is None or "exposure_log_median" not in refit.posterior:
        return None
    _, log_obs, sigma, labels = me
    mu, omega = _refit_exposure(refit, labels)
    return exposure_log_likelihood(log_obs, sigma, mu, omega)


def _refit_late(
    fit: LateToxicityFit, data: DoseResponseData, seed: int, settings: dict
) -> tuple[LateToxicityFit, int]:
    """The fit's spec sampled on ``data`` (nutpie, as the fit); also its divergence count."""
    from doseresponse.models.late_density import LateToxicityDensity
    from doseresponse.models.sampling import sample_density

    groups, _ = sample_density(
        LateToxicityDensity(fit.spec, data), random_seed=int(seed), progressbar=False,
        **settings,
    )
    diverging = groups.get("sample_stats", xr.Dataset()).get("diverging")
    n_div = int(np.asarray(diverging).sum()) if diverging is not None else 0
    return LateToxicityFit(groups, fit.spec, data), n_div
