"""The physician report of a model average: mixture curves and doses, weights and members shown."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import doseresponse as dr
from doseresponse import prescribe as rx
from doseresponse.exceptions import DoseResponseError
from doseresponse.models.averaging import ModelAverage
from doseresponse.report import tolerance_table, write_report
from tests.report.conftest import derived_fit


@pytest.fixture(scope="module")
def average(covariate_fit):
    """Log-logistic and logistic on the same draws, pseudo-BMA+ weights from PSIS-LOO."""
    fits = {"log-logistic": covariate_fit, "logistic": derived_fit(covariate_fit, "logistic")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 200 draws: a few Pareto k notes
        return dr.average_models(fits, "pseudo-bma+", ic="loo", n_draws=1000)


@pytest.fixture(scope="module")
def average_html(average, tmp_path_factory):
    """The report of the average with a prescription from it (written once: ~20 s)."""
    region = rx.Region(0.46, effective_half_life=50.0, tissue="kidney")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = rx.prescribe({"kidney": region}, cycles=4, ntcp={"kidney": average},
                            which="new_study")
    path = tmp_path_factory.mktemp("average_report") / "avg.html"
    return write_report(average, path, plan=plan).read_text(encoding="utf-8")


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _tolerance_rows(html):
    """(level, centre, covariates) -> predictive dose, read from the page's tolerance table."""
    section = html[html.index('<section id="tolerance">'):html.index('<section id="diagnostics">')]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section):
        cells = re.findall(r"<td>(.*?)</td>", row)
        if cells:
            rows[tuple(cells[:3])] = float(cells[6])
    return rows


def test_report_of_a_model_average_shows_weights_method_and_members(average, average_html):
    html = average_html
    text = _text(html)
    assert "NTCP report: " in html and "(model average)" in html
    assert "mixture" in text and "pseudo-bma+" in text and "LOO" in text
    for name, weight in average.weights.items():
        assert name in text
        assert f"{weight:.3g}" in text  # the weights table
    # every member's diagnostics and model are shown
    assert "NTCP member log-logistic" in text and "NTCP member logistic" in text
    # the in-page lookup of the mixture: every member's draws and weight embedded
    assert 'id="lookup-ntcp"' in html and "NTCP model average (pseudo-bma+ weights)" in text
    draws = json.loads(re.search(r'<script type="application/json" id="report-draws">(.*?)'
                                 r"</script>", html, re.S).group(1))
    (model,) = draws["models"]
    assert model["id"] == "ntcp" and model["n_draws"] == 1000
    assert {m["name"]: m["weight"] for m in model["members"]} == pytest.approx(average.weights)
    print(f"\naverage report: {len(html.encode()) / 1024:.0f} KB")
    # the curves and the plan's activity curve (no single forest plot for an average)
    assert html.count("data:image/png;base64,") == 2
    assert '<section id="prescription">' in html and "GBq per cycle × 4 cycles" in html


def test_tolerance_doses_of_the_average_are_the_mixtures(average, average_html):
    rows = _tolerance_rows(average_html)
    assert {key[2] for key in rows} == {"none", "hypertension = 1", "diabetes = 1"}
    for level, p in (("TD5", 0.05), ("TD50", 0.5)):
        direct = average.dose_at(p, which="new_study")["predictive"]
        np.testing.assert_allclose(rows[(level, "new", "none")], direct, atol=0.05)  # 0.1 f
        # a mixture's predictive dose lies between the members'
        members = [fit.dose_at(p, which="new_study")["predictive"]
                   for fit in average.fits.values()]
        assert min(members) - 0.05 <= rows[(level, "new", "none")] <= max(members) + 0.05
    direct = average.dose_at(0.05, which="population", covariates={"hypertension": 1.0})
    np.testing.assert_allclose(rows[("TD5", "typical", "hypertension = 1")],
                               direct["predictive"], atol=0.05)


def test_all_weight_on_one_member_reports_that_members_doses(average, covariate_fit):
    names = list(average.fits)
    one = ModelAverage(average.fits, {names[0]: 1.0, names[1]: 0.0}, method="stacking",
                       ic="loo")
    ours = tolerance_table(one)
    theirs = tolerance_table(covariate_fit)
    np.testing.assert_allclose(ours["predictive"], theirs["predictive"], rtol=1e-6)


def test_average_report_method_delegates(average, monkeypatch, tmp_path):
    import doseresponse.report as report

    seen = {}
    monkeypatch.setattr(report, "write_report",
                        lambda source, path, **kw: seen.update(source=source, path=path, **kw))
    average.report(tmp_path / "r.html", overwrite=True)
    assert seen == {"source": average, "path": tmp_path / "r.html", "overwrite": True}


def test_refuses_what_is_not_a_fit_or_an_average(tmp_path):
    with pytest.raises(DoseResponseError, match="ModelAverage"):
        write_report("fit.nc", tmp_path / "x.html")
