"""ResponseCurve: the curve-source contract, TDp identities (Burman 1991 / Emami 1991)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from doseresponse.exceptions import DoseResponseError
from doseresponse.models.response_curve import ResponseCurve

# Burman et al. 1991 LKB fits (TD50 Gy, m) and Emami whole-organ TD5/5 (Gy), anchors §3E
BURMAN = {
    "lung": (24.5, 0.18, 17.25, 17.5),
    "liver": (40.0, 0.15, 30.13, 30.0),
    "kidney": (28.0, 0.10, 23.39, 23.0),
    "rectum": (80.0, 0.15, 60.26, 60.0),
    "heart": (48.0, 0.10, 40.10, 40.0),
    "cord": (66.5, 0.175, 47.36, 47.0),
}


@pytest.mark.parametrize("organ", sorted(BURMAN))
def test_td5_burman_emami_identity(organ):
    td50, m, td5_recomputed, td5_emami = BURMAN[organ]
    curve = ResponseCurve("lkb", d50=td50, slope=m, dose_metric="absorbed dose", dose_unit="Gy")
    td5 = curve.dose_at(0.05)["median"]
    closed = td50 * (1.0 + m * norm.ppf(0.05))  # TD5 = TD50 (1 + m Φ⁻¹(0.05))
    assert td5 == pytest.approx(closed, rel=1e-12)
    assert td5 == pytest.approx(td5_recomputed, abs=0.006)
    assert td5 == pytest.approx(td5_emami, abs=0.65)  # Emami's rounded TD5/5
    p = curve.probability_draws([td5])
    assert p.shape == (1, 1)
    assert p[0, 0] == pytest.approx(0.05, abs=1e-12)


def test_draws_contract_shapes_and_band():
    rng = np.random.default_rng(5)
    d50 = rng.lognormal(np.log(60.0), 0.1, 500)
    curve = ResponseCurve("log-logistic", d50=d50, slope=2.0, dose_metric="BED",
                          dose_unit="Gy", kind="TCP", label="test")
    dose = np.array([0.0, 30.0, 60.0, 90.0])
    p = curve.probability_draws(dose, "new_study", None, new_study="averaged")
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + (d50[:, None] / np.maximum(dose, 1e-300)) ** 8.0)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-300)
    # population and new_study agree (no study structure)
    np.testing.assert_array_equal(p, curve.probability_draws(dose, "population"))
    band = curve.curve(dose)
    np.testing.assert_allclose(band.mean, expected.mean(axis=0), rtol=1e-12)
    assert band.kind == "TCP" and band.metric == "BED"
    at = curve.dose_at(0.5)
    np.testing.assert_allclose(at.draws, d50, rtol=1e-12)
    assert curve.n_draws == 500 and curve.curve_name == "log-logistic"
    assert "500 draws" in repr(curve)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d50": -1.0}, "d50"),
        ({"slope": [1.0, 2.0], "d50": [1.0, 2.0, 3.0]}, "same number of draws"),
        ({"kind": "toxicity"}, "kind"),
        ({"dose_metric": ""}, "dose_metric"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"d50": 30.0, "slope": 1.0, "dose_metric": "BED", "dose_unit": "Gy"} | kwargs
    with pytest.raises(DoseResponseError, match=match):
        ResponseCurve("logistic", **args)


def test_contract_refusals():
    curve = ResponseCurve("logistic", d50=30.0, slope=1.0, dose_metric="BED", dose_unit="Gy")
    with pytest.raises(DoseResponseError, match="covariates"):
        curve.probability_draws([1.0], "population", {"hypertension": 1})
    with pytest.raises(DoseResponseError, match="which"):
        curve.probability_draws([1.0], "Uppsala")
    with pytest.raises(DoseResponseError, match="new_study"):
        curve.probability_draws([1.0], "new_study", new_study="mean")
    with pytest.raises(DoseResponseError, match="p must"):
        curve.dose_at(1.5)
    with pytest.raises(DoseResponseError, match="dose"):
        curve.probability_draws([-1.0])
