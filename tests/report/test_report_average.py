"""The physician report of a model average: mixture curves and doses, weights and members shown."""

from __future__ import annotations

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


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_report_of_a_model_average_shows_weights_method_and_members(average, tmp_path):
    html = write_report(average, tmp_path / "avg.html").read_text(encoding="utf-8")
    text = _text(html)
    assert "NTCP report: " in html and "(model average)" in html
    assert "mixture" in text and "pseudo-bma+" in text and "LOO" in text
    for name, weight in average.weights.items():
        assert name in text
        assert f"{weight:.3g}" in text  # the weights table
    # every member's diagnostics and model are shown
    assert "NTCP member log-logistic" in text and "NTCP member logistic" in text
    # no in-page lookup for an average (one family's draws), said in the page
    assert 'id="lookup-ntcp"' not in html and 'id="lookup-ntcp-average"' in html
    assert '"models": []' in html
    assert html.count("data:image/png;base64,") == 1  # the curves (no single forest plot)


def test_tolerance_doses_of_the_average_are_the_mixtures(average, tmp_path):
    table = tolerance_table(average)
    assert set(table["covariates"]) == {"none", "hypertension = 1", "diabetes = 1"}
    row = table[(table["level"] == "TD5") & (table["centre"] == "new")
                & (table["covariates"] == "none")].iloc[0]
    direct = average.dose_at(0.05, which="new_study")
    for column in ("median", "lower", "upper", "predictive"):
        np.testing.assert_allclose(row[column], direct[column], rtol=1e-12)
    # the predictive dose lies between the members' (a mixture of their predictive risks)
    members = [fit.dose_at(0.05, which="new_study")["predictive"]
               for fit in average.fits.values()]
    assert min(members) - 1e-9 <= row["predictive"] <= max(members) + 1e-9
    html = write_report(average, tmp_path / "t.html").read_text(encoding="utf-8")
    assert f"{row['predictive']:.1f}" in _text(html)


def test_all_weight_on_one_member_reports_that_members_doses(average, covariate_fit):
    names = list(average.fits)
    one = ModelAverage(average.fits, {names[0]: 1.0, names[1]: 0.0}, method="stacking",
                       ic="loo")
    ours = tolerance_table(one)
    theirs = tolerance_table(covariate_fit)
    np.testing.assert_allclose(ours["predictive"], theirs["predictive"], rtol=1e-6)


def test_average_with_plan_and_tcp_fit(average, saved_fit, covariate_fit, tmp_path):
    region = rx.Region(0.46, effective_half_life=50.0, tissue="kidney")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = rx.prescribe({"kidney": region}, cycles=4, ntcp={"kidney": average},
                            which="new_study")
    html = write_report(average, tmp_path / "p.html", plan=plan).read_text(encoding="utf-8")
    assert '<section id="prescription">' in html and "GBq per cycle × 4 cycles" in html


def test_refuses_what_is_not_a_fit_or_an_average(tmp_path):
    with pytest.raises(DoseResponseError, match="ModelAverage"):
        write_report("fit.nc", tmp_path / "x.html")
