r"""Build the self-contained HTML report of one or two fits (and optionally a prescription).

A source may also be a model average (:class:`doseresponse.models.averaging.ModelAverage`,
from :func:`doseresponse.average_models` or :func:`doseresponse.load_average`): its curves,
tolerance doses and any prescription come from the mixture of the member fits' posteriors,
and the page shows the weights, the weighting method, the criterion and the member models
(their diagnostics too). Its in-page lookup embeds every member's draws (at most
``max_draws`` in total, allocated by weight) and the weights, and mixes them in the page as the
average does (:func:`doseresponse.report.lookup.embedded_average` is its Python twin).

:func:`write_report` writes one HTML file that opens from disk with no server and no network:
the figures are inline PNG images, the style sheet and the lookup script are inline, and the
lookup computes NTCP/TCP in the page from posterior draws embedded as JSON
(:mod:`doseresponse.report.lookup`). Sections, in order, have the ids of
:data:`REPORT_SECTIONS` (``prescription`` only with ``plan=``).

Doses are in the unit of each fit's dose metric (e.g. Gy BED); activities in GBq.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from os import PathLike
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.averaging import ModelAverage
from doseresponse.models.result_types import DEFAULT_CI_PROB
from doseresponse.models.results import FittedModel
from doseresponse.report.lookup import MAX_EMBEDDED_DRAWS, lookup_payload

__all__ = [
    "FIGURE_FORMATS", "REPORT_SECTIONS", "TOLERANCE_LEVELS", "tolerance_table", "write_report",
]

REPORT_SECTIONS = (
    "question", "data", "curves", "forest", "tolerance", "diagnostics", "model", "lookup",
    "prescription",
)
"""Section ids of the report, in order (``prescription`` appears only with a plan)."""

TOLERANCE_LEVELS = (0.05, 0.10, 0.50)
"""Response probabilities of the tolerance-dose table (TD5, TD10, TD50; TCD for TCP)."""

FIGURE_FORMATS = ("png", "pdf", "svg")
"""File formats :func:`write_report` can also export the figures in (``figures=``)."""

_DPI = 110
_LOOKUP_DEFAULTS = {  # (tissue preset, Gy/GBq placeholder): see radiobiology.tissues
    "NTCP": "kidney",
    "TCP": "tumour-net",
}


def write_report(
    fit: FittedModel | ModelAverage,
    path: str | PathLike[str],
    *,
    tcp: FittedModel | ModelAverage | None = None,
    plan: Any = None,
    overwrite: bool = False,
    figures: Sequence[str] = (),
    ci_prob: float = DEFAULT_CI_PROB,
    max_draws: int = MAX_EMBEDDED_DRAWS,
    title: str | None = None,
) -> Path:
    """Write the physician report of a fit as one self-contained HTML file.

    Parameters
    ----------
    fit : FittedModel or doseresponse.models.averaging.ModelAverage
        The main fit (usually NTCP), with ``pooling="partial"`` or ``"complete"``, or a model
        average of such fits (curves, tolerance doses and prescription from the mixture;
        weights, method and member models shown).
    path : str or path-like
        The HTML file to write (suffix ``.html`` or ``.htm``; its folder must exist).
    tcp : FittedModel or doseresponse.models.averaging.ModelAverage, optional
        A second fit or model average (usually tumour TCP) reported beside the first (a fit
        with its own lookup).
    plan : doseresponse.prescribe.Plan, optional
        A prescription: its decision, table and activity curve are added.
    overwrite : bool
        Replace ``path`` (and exported figure files) if they exist.
    figures : sequence of {"png", "pdf", "svg"}
        Also write every figure in these formats next to the HTML, named
        ``<stem>_<figure>.<format>`` (e.g. ``report_ntcp_curve.png``).
    ci_prob : float
        Probability of the credible bands and intervals of the figures and the table. The
        in-page lookup uses the package default, 0.95.
    max_draws : int
        Largest number of posterior draws embedded per fit for the lookup (for a model
        average: in total over its members, allocated by weight).
    title : str, optional
        Page title; default from the fit (e.g. "NTCP report: renal toxicity").

    Returns
    -------
    pathlib.Path
        The HTML file written.

    Raises
    ------
    DoseResponseError
        A source that is not a FittedModel or ModelAverage, or a fit (or member fit) with
        ``pooling="none"``; a ``path``
        that exists without ``overwrite=True``, lacks the ``.html`` suffix or whose folder
        does not exist; an unknown figure format.

    Notes
    -----
    The tolerance table reports, per level, per-draw dose quantiles (median and interval) and
    the *predictive* dose, at which the posterior predictive risk equals the level (the dose
    a decision should use; :meth:`~doseresponse.models.results.FittedModel.dose_at`). For a
    new centre, the per-draw doses and the figure's band use the spread view (where a new
    centre's own curve may lie), the predictive dose and the in-page lookup the
    population-averaged view (the new-centre effect integrated out per draw); both views have
    the same mean.

    Examples
    --------
    >>> import doseresponse as dr
    >>> data = dr.load_dataset("sim_kidney_prrt")
    >>> fit = dr.NTCPModel(curve="log-logistic").fit(data)  # doctest: +SKIP
    >>> write_report(fit, "kidney_report.html", figures=("png",))  # doctest: +SKIP
    PosixPath('kidney_report.html')
    """
    fits = _check_fits(fit, tcp)
    from doseresponse._stats import check_ci_prob

    ci_prob = check_ci_prob(ci_prob)
    out = _check_output(path, overwrite)
    formats = _check_formats(figures)
    if plan is not None and not (hasattr(plan, "summary_frame") and hasattr(plan, "plot")):
        raise DoseResponseError(
            f"plan must be a doseresponse.prescribe.Plan (from prescribe(...)); got "
            f"{type(plan).__name__}."
        )
    figure_files = {}
    sections = []
    payloads = []
    for key, one in fits.items():
        figs = {f"{key}_curve": _curve_figure(one, ci_prob)}
        if not _is_average(one):
            figs[f"{key}_forest"] = _forest_figure(one, ci_prob)
        payloads.append(lookup_payload(one, key, max_draws))
        figure_files.update(figs)
        sections.append((key, one, figs))
    plan_fig = None
    if plan is not None:
        plan_fig = _plan_figure(plan)
        figure_files["plan_activity"] = plan_fig
    exported = _export_targets(out, figure_files, formats, overwrite)

    body = [
        _banner(fits),
        _section_question(fits),
        _section_data(fits),
        _section_curves(sections, ci_prob),
        _section_forest(sections, ci_prob),
        _section_tolerance(fits, ci_prob),
        _section_diagnostics(fits),
        _section_model(fits, ci_prob),
        _section_lookup(payloads),
    ]
    if plan is not None:
        body.append(_section_plan(plan, plan_fig))
    main = fits["ntcp"] if "ntcp" in fits else next(iter(fits.values()))
    page_title = title or f"{_kind(main)} report: {main.data.outcome_name}" + (
        " (model average)" if _is_average(main) else ""
    )
    draws_json = json.dumps({"models": payloads}, allow_nan=False).replace("</", "<\\/")
    page = _template("template.html").substitute(
        title=_esc(page_title),
        created=_esc(datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        version=_esc(__version__),
        body="\n".join(b for b in body if b),
        draws_json=draws_json,
        script=_template("static/lookup.js").template.replace("</", "<\\/"),
    )
    for name, fig in figure_files.items():
        for fmt, target in exported.get(name, {}).items():
            fig.savefig(target, format=fmt, dpi=2 * _DPI, bbox_inches="tight",
                        metadata=_metadata(fmt))
    out.write_text(page, encoding="utf-8")
    return out


# ---------------------------------------------------------------------------- checks


def _check_fits(fit, tcp) -> dict[str, Any]:
    fits = {}
    for name, value in (("fit", fit), ("tcp", tcp)):
        if value is None and name == "tcp":
            continue
        if not isinstance(value, (FittedModel, ModelAverage)):
            raise DoseResponseError(
                f"{name} must be a FittedModel (from Model.fit or doseresponse.load) or a "
                "ModelAverage (from doseresponse.average_models or doseresponse.load_average); "
                f"got {type(value).__name__}."
            )
        members = value.fits.items() if _is_average(value) else [(None, value)]
        for member, one in members:
            if one.spec.pooling == "none":
                which = name if member is None else f"{name} (member {member!r})"
                raise DoseResponseError(
                    f"{which} was fitted with pooling='none'; a report needs the typical and "
                    "new centre: refit with pooling='partial'."
                )
    key = _kind(fit).lower()
    fits[key] = fit
    if tcp is not None:
        other = _kind(tcp).lower()
        fits["tcp" if other == key else other] = tcp
    return fits


def _is_average(source) -> bool:
    return isinstance(source, ModelAverage)


def _kind(source) -> str:
    return source.kind if _is_average(source) else source.spec.kind


def _metric(source) -> tuple[str, str]:
    """Dose metric and unit of a fit or a model average."""
    if _is_average(source):
        return source.dose_metric, source.dose_unit
    return source.spec.dose_metric, source.spec.dose_unit


def _covariates(source) -> tuple[str, ...]:
    """Covariates of a fit; of a model average, those every member model uses."""
    if not _is_average(source):
        return tuple(source.spec.all_covariates)
    members = [set(f.spec.all_covariates) for f in source.fits.values()]
    first = next(iter(source.fits.values())).spec.all_covariates
    return tuple(c for c in first if all(c in m for m in members))


def _member_fits(key: str, source) -> list[tuple[str, FittedModel]]:
    """(label, fit) of a fit, or of every member of a model average."""
    if _is_average(source):
        return [(f"{key.upper()} member {name}", fit) for name, fit in source.fits.items()]
    return [(key.upper(), source)]


def _check_output(path, overwrite: bool) -> Path:
    if not isinstance(overwrite, bool):
        raise DoseResponseError(f"overwrite must be True or False; got {overwrite!r}.")
    try:
        out = Path(path)
    except TypeError:
        raise DoseResponseError(
            f"path must be a file path such as 'report.html'; got {type(path).__name__}."
        ) from None
    if out.suffix.lower() not in (".html", ".htm"):
        raise DoseResponseError(f"path must end in .html (the report is HTML); got {str(out)!r}.")
    if not out.parent.is_dir():
        raise DoseResponseError(
            f"path: folder {str(out.parent)!r} does not exist; create it first."
        )
    if out.exists() and not overwrite:
        raise DoseResponseError(
            f"path: {str(out)!r} exists; pass overwrite=True to replace it."
        )
    return out


def _check_formats(figures) -> tuple[str, ...]:
    if isinstance(figures, str):
        figures = (figures,)
    formats = tuple(str(f).lower().lstrip(".") for f in figures)
    unknown = [f for f in formats if f not in FIGURE_FORMATS]
    if unknown:
        raise DoseResponseError(
            f"figures: unknown format(s) {unknown}; use any of {', '.join(FIGURE_FORMATS)}."
        )
    return formats


def _export_targets(out: Path, figs: dict, formats, overwrite: bool) -> dict[str, dict[str, Path]]:
    targets: dict[str, dict[str, Path]] = {}
    for name in figs:
        for fmt in formats:
            target = out.with_name(f"{out.stem}_{name}.{fmt}")
            if target.exists() and not overwrite:
                raise DoseResponseError(
                    f"figures: {str(target)!r} exists; pass overwrite=True to replace it."
                )
            targets.setdefault(name, {})[fmt] = target
    return targets


# ---------------------------------------------------------------------------- sections


def _banner(fits) -> str:
    failed = []
    for key, source in fits.items():
        for label, fit in _member_fits(key, source):
            diag = fit.diagnostics()
            for row in diag.loc[~diag["ok"]].itertuples():
                failed.append(f"{label}: {_diagnostic_words(row)}")
    if not failed:
        return ""
    items = "".join(f"<li>{_esc(t)}</li>" for t in failed)
    return (
        '<div class="banner fail" id="diagnostics-banner" role="alert"><strong>Warning: the '
        "sampler's convergence checks FAILED.</strong> The numbers below may be wrong; do not use "
        f"them for decisions until the fit is rerun as advised.<ul>{items}</ul></div>"
    )


def _section_question(fits) -> str:
    parts = []
    for fit in fits.values():
        data, kind = fit.data, _kind(fit)
        verb = "complication" if kind == "NTCP" else "tumour control"
        parts.append(
            f"<p><b>{_esc(kind)}</b>: how does the probability of "
            f"<b>{_esc(data.outcome_name)}</b> ({verb}) rise with <b>{_esc(data.dose_label)}</b>"
            f", at a typical centre of the data and at a new centre (such as yours)?</p>"
        )
    return _section("question", "The question", "".join(parts))


def _section_data(fits) -> str:
    parts = []
    for fit in fits.values():
        data, kind = fit.data, _kind(fit)
        metric, unit = _metric(fit)
        covs = ", ".join(_covariates(fit)) or "none"
        summary = data.summary().reset_index()
        keep = [c for c in ("study", "kind", "patients", "events", "rate", "dose_min",
                            "dose_median", "dose_max") if c in summary.columns]
        parts.append(
            f"<h3>{_esc(kind)}</h3><p>{len(data.studies)} studies (centres), "
            f"{data.n_patients} patients, {data.n_events} events of "
            f"{_esc(data.outcome_name)}. Dose metric: <b>{_esc(metric)}</b> in "
            f"<b>{_esc(unit)}</b>. Covariates in the model: {_esc(covs)}.</p>"
            + _table(summary[keep], float_format="{:.3g}")
        )
    return _section("data", "The data", "".join(parts))


def _section_curves(sections, ci_prob: float) -> str:
    parts = []
    for key, fit, figs in sections:
        mixture = (
            f" Model average of {len(fit.fits)} models ({_esc(fit.method)} weights): the "
            "curves are those of the mixture of their posteriors."
            if _is_average(fit) else ""
        )
        parts.append(
            f"<figure>{_img(figs[f'{key}_curve'], f'{_kind(fit)} curves')}<figcaption>"
            f"{_esc(_kind(fit))} against {_esc(fit.data.dose_label)}: typical centre (grey "
            f"line, per-draw median; grey band {ci_prob:.0%}) and a new centre (blue band "
            f"{ci_prob:.0%}: where a new centre's own curve may lie; dashed: its predictive "
            "risk). Dots: observed rates per study in dose bins (bars: dose range of the bin "
            f"and {ci_prob:.0%} Wilson interval; dot area grows with patients). Covariates at 0."
            f"{mixture}</figcaption></figure>"
        )
    return _section("curves", "Fitted curves", "".join(parts))


def _section_forest(sections, ci_prob: float) -> str:
    parts = []
    for key, fit, figs in sections:
        if _is_average(fit):
            parts.append(
                f"<p>{_esc(_kind(fit))}: a model average has no single per-centre D50 (each "
                "member model has its own parameters; their reports show their forest "
                "plots).</p>"
            )
            continue
        parts.append(
            f"<figure>{_img(figs[f'{key}_forest'], f'{fit.spec.kind} study forest plot')}"
            f"<figcaption>D50 (dose of 50 % {_esc(fit.spec.kind)}) per study with "
            f"{ci_prob:.0%} intervals, of the typical centre and of a new centre."
            "</figcaption></figure>"
        )
    return _section("forest", "Centres compared (forest plot)", "".join(parts))


def _section_tolerance(fits, ci_prob: float) -> str:
    parts = []
    for fit in fits.values():
        frame = tolerance_table(fit, ci_prob)
        metric, unit = _metric(fit)
        source = " — from the model average (mixture)" if _is_average(fit) else ""
        parts.append(
            f"<h3>{_esc(_kind(fit))}: doses in {_esc(metric)} [{_esc(unit)}]{source}</h3>"
            + _table(frame, float_format="{:.1f}")
        )
    note = (
        "<p class=\"note\"><b>Predictive dose</b>: the dose at which the expected risk over the "
        "posterior (for a new centre, averaged over centres) equals the level; use it for "
        "decisions. <b>Median and interval</b>: of the per-draw tolerance doses (the uncertainty "
        f"about the dose; {ci_prob:.0%} interval); for a new centre, of its own tolerance dose "
        "(one new-centre effect per draw). Covariates: none (all 0), or one covariate present.</p>"
    )
    return _section("tolerance", "Tolerance doses", note + "".join(parts))


def tolerance_table(
    fit: FittedModel | ModelAverage, ci_prob: float = DEFAULT_CI_PROB
) -> pd.DataFrame:
    """TD5/TD10/TD50 (TCD for TCP) of the typical and a new centre, without and with covariates.

    Parameters
    ----------
    fit : FittedModel or doseresponse.models.averaging.ModelAverage
        A fitted model with population parameters, or a model average (doses of the mixture;
        covariates: those every member model uses).
    ci_prob : float
        Probability of the per-draw interval.

    Returns
    -------
    pandas.DataFrame
        One row per level × centre (``"typical"``: the population; ``"new"``: a new centre,
        per-draw doses of its own curve, ``new_study="spread"``) × covariate setting (none,
        then each covariate = 1 alone), columns ``level`` (e.g. ``"TD5"``), ``centre``,
        ``covariates``, ``median``, ``lower``, ``upper``, ``predictive`` (doses in the unit of
        the fit's dose metric).
    """
    settings = [("none", {})] + [(f"{c} = 1", {c: 1.0}) for c in _covariates(fit)]
    rows = []
    for p in TOLERANCE_LEVELS:
        for centre, which in (("typical", "population"), ("new", "new_study")):
            for label, cov in settings:
                res = fit.dose_at(p, which=which, covariates=cov, ci_prob=ci_prob)
                rows.append({
                    "level": res.label,
                    "centre": centre,
                    "covariates": label,
                    "median": res["median"],
                    "lower": res["lower"],
                    "upper": res["upper"],
                    "predictive": res["predictive"],
                })
    return pd.DataFrame(rows)


def _section_diagnostics(fits) -> str:
    parts = []
    for key, source in fits.items():
        for label, fit in _member_fits(key, source):
            parts.append(_diagnostics_part(label, fit))
    return _section("diagnostics", "Can the numbers be trusted? (diagnostics)", "".join(parts))


def _diagnostics_part(label: str, fit: FittedModel) -> str:
    diag = fit.diagnostics()
    ok = bool(diag["ok"].all())
    post = fit.posterior
    items = "".join(
        f'<li class="{"ok" if row.ok else "bad"}">{_esc(_diagnostic_words(row))}</li>'
        for row in diag.itertuples()
    )
    verdict = ("All convergence checks passed." if ok else
               "Some convergence checks FAILED (see the warning at the top).")
    return (
        f"<h3>{_esc(label)}</h3><p><b>{verdict}</b> {post.sizes['chain']} chains × "
        f"{post.sizes['draw']} draws.</p><ul>{items}</ul>"
    )


def _diagnostic_words(row) -> str:
    from doseresponse.models.results import ESS_MIN, RHAT_MAX

    status = "passed" if row.ok else "FAILED"
    where = f" (worst: {row.worst_parameter})" if row.worst_parameter else ""
    if row.check == "divergences":
        text = f"Divergent transitions: {int(row.value)} (should be 0): {status}"
    elif row.check == "r_hat":
        text = (f"Chains agree (R-hat {row.value:.3f}, should be at most {RHAT_MAX}){where}: "
                f"{status}")
    else:
        which = "bulk" if row.check == "ess_bulk" else "tail"
        text = (f"Effective number of independent draws ({which} ESS {row.value:.0f}, should be "
                f"at least {ESS_MIN}){where}: {status}")
    if not row.ok:
        text += f". Fix: {row.fix}."
    return text


def _section_model(fits, ci_prob: float) -> str:
    parts = []
    for key, source in fits.items():
        if _is_average(source):
            parts.append(_average_part(source))
        for label, fit in _member_fits(key, source):
            parts.append(_model_part(label, fit, ci_prob))
    return _section("model", "Model and priors", "".join(parts))


def _average_part(average: ModelAverage) -> str:
    """Weights, method, criterion and member models of a model average."""
    frame = average.summary_frame().reset_index()
    verdict = ""
    reason = ""
    if average.comparison is not None:
        verdict = str(average.comparison.attrs.get("verdict", ""))
        reason = str(average.comparison.attrs.get("ic_reason", ""))
    criterion = average.ic.upper() if average.ic else "given weights"
    return (
        f"<h3>{_esc(average.kind)} model average</h3><p>The curves, tolerance doses and any "
        f"prescription on this page come from the <b>mixture</b> of the posteriors of "
        f"{len(average.fits)} models, weighted by <b>{_esc(average.method)}</b> weights "
        f"computed from <b>{_esc(criterion)}</b>"
        + (f" ({_esc(reason)})" if reason else "")
        + f"; {average.n_draws} resampled draws (the predictive risk and dose use the weights "
        "exactly). Weights choose the best combination of predictions; they are not "
        "probabilities that a model is true.</p>"
        + _table(frame, float_format="{:.3g}")
        + (f"<p class=\"note\">{_esc(verdict)}</p>" if verdict else "")
    )


def _model_part(label: str, fit: FittedModel, ci_prob: float) -> str:
    spec = fit.spec
    priors = pd.DataFrame(
        [{"parameter": name, "prior": _prior_words(value)}
         for name, value in sorted(spec.priors.items())]
    )
    frame = fit.summary_frame(ci_prob)[["median", "lower", "upper", "r_hat", "ess_bulk"]]
    return (
        f"<h3>{_esc(label)}</h3><p>Bayesian hierarchical <b>{_esc(spec.curve)}</b> "
        f"{_esc(spec.kind)} curve in {_esc(spec.dose_metric)} [{_esc(spec.dose_unit)}], "
        f"<b>{_esc(spec.pooling)}</b> pooling of D50 across centres"
        + (" (slope pooled too)" if spec.pool_slope else "")
        + (f"; covariates multiply D50 by a factor each: {_esc(', '.join(spec.all_covariates))}"
           if spec.all_covariates else "")
        + f"; dose measurement error: {_esc(spec.measurement_error)}. Fitted with "
        f"doseresponse {_esc(spec.package_version)}.</p><h4>Priors</h4>"
        + _table(priors)
        + _prior_checks(fit)
        + f"<h4>Posterior parameters ({ci_prob:.0%} intervals)</h4>"
        + _table(frame.reset_index(), float_format="{:.4g}")
    )


def _prior_checks(fit: FittedModel) -> str:
    """Background statement and prior-data conflict check, as in ``fit.summary()``."""
    from doseresponse.models.background import background_note
    from doseresponse.models.prior_conflict import conflict_note

    lines = conflict_note(fit) + background_note(fit)
    items = "".join(
        f'<li class="{"bad" if ("CONFLICT:" in line or "WARNING" in line) else "ok"}">'
        f"{_esc(line)}</li>"
        for line in lines
    )
    return (
        "<h4>Do the data agree with the prior?</h4><p class=\"note\">Box's prior predictive "
        "check: how surprising the data's own estimate of D50 and slope is under the prior "
        "(p below 0.05: the prior and the data disagree, and the posterior is a compromise "
        "between them).</p><ul>" + items + "</ul>"
    )


def _prior_words(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    return str(value)


def _section_lookup(payloads) -> str:
    panels = []
    from doseresponse.radiobiology.tissues import tissue_parameters

    for model in payloads:
        mid = model["id"]
        tissue = tissue_parameters(_LOOKUP_DEFAULTS.get(model["kind"], "kidney"))
        covs = "".join(
            f'<label><input type="checkbox" data-covariate="{_esc(c)}"> {_esc(c)}'
            f"{_used_by(model, c)}</label> "
            for c in model["covariates"]
        )
        radiobiology = ""
        if model["metric_kind"] != "dose":
            radiobiology = (
                f'<label>α/β [Gy] <input class="in-ab" type="number" step="any" min="0" '
                f'value="{tissue.alpha_beta:g}"></label> '
                f'<label>repair half-time [h] <input class="in-trep" type="number" step="any" '
                f'min="0" value="{tissue.repair_half_time:g}"></label> '
                '<label>effective half-life [h] <input class="in-teff" type="number" step="any" '
                'min="0" value="50"></label>'
                f'<span class="note"> (defaults: {_esc(tissue.name)} preset of the package, '
                "not verified for your patient; BED per cycle by Dale 1985 for mono-exponential "
                "clearance)</span>"
            )
        else:
            radiobiology = ('<input class="in-ab" type="hidden" value="1">'
                            '<input class="in-trep" type="hidden" value="1">'
                            '<input class="in-teff" type="hidden" value="1">')
        panels.append(
            f'<div class="lookup" id="lookup-{_esc(mid)}">{_lookup_heading(model)}'
            f'<p><label><input type="radio" name="mode-{_esc(mid)}" value="dose" checked> '
            f'{_esc(model["metric"])} [{_esc(model["unit"])}]</label> '
            f'<input class="in-dose" type="number" step="any" min="0" value="23"></p>'
            f'<p><label><input type="radio" name="mode-{_esc(mid)}" value="activity"> from '
            'activity:</label> <label>activity per cycle [GBq] <input class="in-activity" '
            'type="number" step="any" min="0" value="7.4"></label> <label>absorbed dose per '
            'activity [Gy/GBq] <input class="in-gygbq" type="number" step="any" min="0" '
            'value="0.6"></label> <label>cycles <input class="in-cycles" type="number" step="1" '
            f'min="1" value="4"></label> {radiobiology}</p>'
            + (f"<p>Covariates present: {covs}</p>" if covs else "")
            + '<div class="lookup-result" aria-live="polite"></div></div>'
        )
    note = (
        "<p class=\"note\">Computed in this page from the embedded posterior draws (no "
        "network). The predictive risk is the mean over draws; the median and 95 % interval "
        "are over draws. New centre: the centre effect is integrated out per draw "
        "(population-averaged; 64-node Gauss–Hermite rule).</p>"
    )
    if any(model["members"] for model in payloads):
        note += (
            "<p class=\"note\">Model average: the page embeds each member's draws (allocated "
            "by weight) and its weight; the predictive risk is the weighted mean of the "
            "members' predictive risks, the median and interval are over the pooled draws of "
            "the mixture, as in the Python API.</p>"
        )
    return _section("lookup", "Look up a dose", note + "".join(panels)
                    + '<pre id="selftest" hidden></pre>')


def _lookup_heading(model: dict) -> str:
    """Heading of one lookup panel: the curve (or the average's members and weights)."""
    if not model["members"]:
        return (f'<h3>{_esc(model["kind"])} ({_esc(model["curve"])}, {model["n_draws"]} '
                "posterior draws)</h3>")
    members = ", ".join(
        f'{_esc(m["name"])} ('
        + (f'{_esc(m["curve"])}, ' if m["curve"] != m["name"] else "")
        + f'weight {m["weight"]:.3g}, {m["n_draws"]} draws'
        + ("" if m["in_mixture"] else ", its mean risk only: too light for a mixture draw")
        + ")"
        for m in model["members"]
    )
    return (f'<h3>{_esc(model["kind"])} model average ({_esc(model["method"])} weights)</h3>'
            f'<p class="note">Members: {members}.</p>')


def _used_by(model: dict, covariate: str) -> str:
    """Of an average's lookup: which members use a covariate, when not all do."""
    if not model["members"]:
        return ""
    users = [m["name"] for m in model["members"] if covariate in m["covariates"]]
    if len(users) == len(model["members"]):
        return ""
    return f" (in {_esc(', '.join(users))} only)"


def _section_plan(plan, fig) -> str:
    frame = plan.summary_frame()
    flags = "".join(f"<li>{_esc(f)}</li>" for f in getattr(plan, "flags", []))
    body = (
        f"<p><b>{plan.activity_gbq:.2f} GBq per cycle × {plan.cycles} cycles</b> "
        f"(total {plan.total_activity_gbq:.1f} GBq). {_esc(plan.reason)}</p>"
        + (f'<ul class="bad">{flags}</ul>' if flags else "")
        + _table(frame.reset_index() if frame.index.name else frame, float_format="{:.4g}")
        + f"<figure>{_img(fig, 'activity curve of the prescription')}<figcaption>Expected "
        "probabilities against activity per cycle at the plan's number of cycles."
        "</figcaption></figure>"
    )
    return _section("prescription", "Prescription", body)


# ---------------------------------------------------------------------------- figures


def _new_figure(size=(6.4, 4.4)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _curve_figure(fit: FittedModel | ModelAverage, ci_prob: float):
    from doseresponse.models.plotting import plot_curve

    fig, ax = _new_figure((7.0, 4.6))
    doses = fit.data.ipd["dose"].to_numpy(dtype=float)
    doses = np.concatenate([doses, fit.data.aggregate["dose"].to_numpy(dtype=float)])
    grid = np.linspace(0.0, 1.05 * float(np.nanmax(doses)) if doses.size else 1.0, 160)
    new = fit.curve(grid, which="new_study", ci_prob=ci_prob)
    ax.fill_between(new.dose, new.lower, new.upper, color="tab:blue", alpha=0.15, lw=0,
                    label=f"new centre, {ci_prob:.0%} band (spread)")
    ax.plot(new.dose, new.mean, color="tab:blue", lw=1.5, ls="--",
            label="new centre, predictive risk")
    if _is_average(fit):
        fit.plot_curve("population", ci_prob=ci_prob, dose_grid=grid, ax=ax)
    else:
        plot_curve(fit, "population", ci_prob=ci_prob, dose_grid=grid, ax=ax)
    return fig


def _forest_figure(fit: FittedModel, ci_prob: float):
    fig, ax = _new_figure((6.4, 0.9 + 0.35 * (len(fit.data.studies) + 2)))
    fit.plot_forest(ci_prob, ax=ax)
    return fig


def _plan_figure(plan):
    fig, ax = _new_figure()
    plan.plot(ax=ax)
    return fig


def _img(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata=_metadata("png"))
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _metadata(fmt: str) -> dict:
    # no software URL or date in the files (reproducible, and no link in the page)
    if fmt == "png":
        return {"Software": None}
    if fmt == "pdf":
        return {"Creator": None, "Producer": None, "CreationDate": None}
    return {"Creator": None, "Date": None}


# ---------------------------------------------------------------------------- html helpers


def _section(sid: str, heading: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_esc(heading)}</h2>{body}</section>'


def _table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    head = "".join(f"<th>{_esc(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = "".join(f"<td>{_esc(_fmt(v, float_format))}</td>" for v in values)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fmt(value, float_format: str = "{:.4g}") -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "–" if not math.isfinite(value) else float_format.format(float(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v, float_format) for v in value)
    return str(value)


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _template(name: str) -> Template:
    return Template(resources.files("doseresponse.report").joinpath(name).read_text("utf-8"))

