"""Tests of doseresponse.prescribe and ResponseCurve."""
