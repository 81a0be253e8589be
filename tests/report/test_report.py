"""The HTML report without a browser: self-contained, complete, safe to write, right numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from doseresponse import prescribe as rx
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.results import FittedModel
from doseresponse.report import (
    REPORT_SECTIONS,
    TOLERANCE_LEVELS,
    embedded_fit,
    lookup_payload,
    tolerance_table,
    write_report,
)


@pytest.fixture(scope="module")
def report_html(covariate_fit, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "kidney.html"
    write_report(covariate_fit, path)
    return path.read_text(encoding="utf-8")


def test_html_is_self_contained(report_html):
    lowered = report_html.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", lowered)
    assert not re.search(r"<script[^>]*\bsrc\s*=", lowered)
    assert "<link" not in lowered and "@import" not in lowered and "@font-face" not in lowered
    for url in re.findall(r"url\(([^)]*)\)", lowered):
        assert url.strip("'\" ").startswith("data:")
    for src in re.findall(r"""\bsrc\s*=\s*["']([^"']*)""", lowered):
        assert src.startswith("data:image/png;base64,")


def test_report_has_every_section(report_html, covariate_fit):
    for sid in REPORT_SECTIONS[:-1]:
        assert f'<section id="{sid}">' in report_html
    assert 'id="prescription"' not in report_html
    data = covariate_fit.data
    text = re.sub(r"<[^>]+>", "", report_html)
    assert f"{len(data.studies)} studies (centres), {data.n_patients} patients, " \
           f"{data.n_events} events" in text
    assert f"Dose metric: {data.dose_metric} in {data.dose_unit}" in text
    for word in ("TD5", "TD10", "TD50", "predictive", "new", "hypertension = 1",
                 "diabetes = 1", "Priors", "halfnormal", "log-logistic"):
        assert word in text, word
    assert report_html.count("data:image/png;base64,") == 2
    assert 'id="lookup-ntcp"' in report_html


def test_failed_diagnostics_give_a_loud_banner(report_html, covariate_fit, monkeypatch,
                                               tmp_path):
    assert not covariate_fit.diagnostics()["ok"].all()  # 2 × 200 draws: ESS below 400
    assert 'id="diagnostics-banner"' in report_html
    assert "FAILED" in report_html and "Fix: draw more samples" in report_html

    passing = covariate_fit.diagnostics().assign(ok=True)
    monkeypatch.setattr(covariate_fit, "diagnostics", lambda: passing)
    html = write_report(covariate_fit, tmp_path / "ok.html").read_text(encoding="utf-8")
    assert 'id="diagnostics-banner"' not in html
    assert "All convergence checks passed." in html


def test_refuses_to_overwrite(saved_fit, tmp_path):
    path = tmp_path / "r.html"
    assert write_report(saved_fit, path) == path
    path.write_text("mine", encoding="utf-8")
    with pytest.raises(DoseResponseError, match=r"exists; pass overwrite=True"):
        write_report(saved_fit, path)
    assert path.read_text(encoding="utf-8") == "mine"
    write_report(saved_fit, path, overwrite=True)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_exports_figures_next_to_the_html(saved_fit, tmp_path):
    path = tmp_path / "r.html"
    write_report(saved_fit, path, figures=("png", "pdf"))
    for name in ("ntcp_curve", "ntcp_forest"):
        assert (tmp_path / f"r_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"r_{name}.pdf").read_bytes()[:5] == b"%PDF-"
    path.unlink()
    with pytest.raises(DoseResponseError, match=r"figures: .*r_ntcp_curve.png.* overwrite=True"):
        write_report(saved_fit, path, figures=("png",))
    assert not path.exists()  # nothing written when a figure would be overwritten


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "report.txt"}, r"path must end in \.html"),
        ({"path": "missing_dir/report.html"}, r"folder .* does not exist"),
        ({"figures": ("gif",)}, r"figures: unknown format.*png, pdf, svg"),
        ({"fit": "fit.nc"}, r"fit must be a FittedModel"),
        ({"tcp": 3}, r"tcp must be a FittedModel"),
        ({"plan": {"activity": 7.4}}, r"plan must be a doseresponse\.prescribe\.Plan"),
        ({"overwrite": "yes"}, r"overwrite must be True or False"),
    ],
)
def test_bad_arguments_name_the_argument_and_fix(saved_fit, tmp_path, monkeypatch, kwargs,
                                                 message):
    monkeypatch.chdir(tmp_path)
    args = {"fit": saved_fit, "path": "report.html", **kwargs}
    with pytest.raises(DoseResponseError, match=message):
        write_report(args.pop("fit"), args.pop("path"), **args)


def test_tolerance_table_rows_and_numbers(covariate_fit):
    table = tolerance_table(covariate_fit)
    assert len(table) == len(TOLERANCE_LEVELS) * 2 * 3
    assert list(table.columns) == ["level", "centre", "covariates", "median", "lower", "upper",
                                   "predictive"]
    row = table.loc[(table["level"] == "TD10") & (table["centre"] == "typical")
                    & (table["covariates"] == "hypertension = 1")].iloc[0]
    res = covariate_fit.dose_at(0.10, covariates={"hypertension": 1.0})
    assert row["median"] == pytest.approx(res["median"], rel=1e-12)
    assert row["predictive"] == pytest.approx(res["predictive"], rel=1e-12)
    new = table.loc[(table["level"] == "TD5") & (table["centre"] == "new")
                    & (table["covariates"] == "none")].iloc[0]
    res = covariate_fit.dose_at(0.05, which="new_study")
    assert new["median"] == pytest.approx(res["median"], rel=1e-12)
    assert new["predictive"] == pytest.approx(
        covariate_fit.dose_at(0.05, which="new_study", new_study="averaged")["predictive"],
        rel=1e-9)
    assert (table["lower"] <= table["median"]).all() and (table["median"] <= table["upper"]).all()


def test_embedded_fit_keeps_evenly_spaced_draws(covariate_fit):
    sub = embedded_fit(covariate_fit, max_draws=100)
    assert sub.posterior.sizes["chain"] == 1 and sub.posterior.sizes["draw"] == 100
    flat = covariate_fit.posterior["d50"].values.reshape(-1)
    assert np.isin(sub.posterior["d50"].values.ravel(), flat).all()
    everything = embedded_fit(covariate_fit)
    assert everything.posterior.sizes["draw"] == 400  # fewer than the 1000 cap: all kept
    with pytest.raises(DoseResponseError, match="max_draws must be an integer"):
        embedded_fit(covariate_fit, max_draws=3)


def test_lookup_payload_matches_the_python_twin(covariate_fit):
    payload = lookup_payload(covariate_fit, "ntcp", max_draws=50)
    sub = embedded_fit(covariate_fit, max_draws=50)
    assert payload["n_draws"] == 50 and payload["covariates"] == ["hypertension", "diabetes"]
    assert np.allclose(np.exp(payload["log_d50"]), sub.posterior["d50"].values.ravel())
    assert len(payload["quadrature"]["nodes"]) == 64
    assert sum(payload["quadrature"]["weights"]) == pytest.approx(1.0)
    # numpy replay of the page's new-centre rule on the payload
    x = np.array(payload["quadrature"]["nodes"])
    w = np.array(payload["quadrature"]["weights"])
    eta = np.array(payload["log_d50"])[:, None] + np.array(payload["tau"])[:, None] * x
    g = np.exp(np.array(payload["log_slope"]))[:, None]
    p = (1 / (1 + np.exp(-4 * g * (np.log(23.0) - eta)))) @ w
    expected = sub.probability_draws([23.0], "new_study", new_study="averaged")[:, 0]
    assert np.allclose(p, expected, rtol=1e-12, atol=1e-15)


def test_tcp_fit_and_plan_sections(saved_fit, tmp_path):
    import dataclasses

    tcp = FittedModel({"posterior": saved_fit.posterior},
                      dataclasses.replace(saved_fit.spec, kind="TCP"), saved_fit.data)
    region = rx.Region(0.46, effective_half_life=50.0, tissue="kidney")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = rx.prescribe({"kidney": region}, cycles=4, ntcp={"kidney": saved_fit},
                            which="new_study")
    html = write_report(saved_fit, tmp_path / "r.html", tcp=tcp, plan=plan,
                        figures=("png",)).read_text(encoding="utf-8")
    assert 'id="lookup-ntcp"' in html and 'id="lookup-tcp"' in html
    assert '<section id="prescription">' in html and "GBq per cycle × 4 cycles" in html
    assert "TCD50" in html
    assert (tmp_path / "r_plan_activity.png").exists()
    assert isinstance(tolerance_table(tcp), pd.DataFrame)


def test_fitted_model_report_delegates(saved_fit, tmp_path):
    if not hasattr(saved_fit, "report"):
        pytest.skip("FittedModel.report is not added yet (a delegate to write_report)")
    path = saved_fit.report(tmp_path / "r.html", figures=("png",))
    assert path == tmp_path / "r.html" and (tmp_path / "r_ntcp_curve.png").exists()
