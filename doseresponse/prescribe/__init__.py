"""Prescription: from TCP/NTCP curves and a patient's dosimetry to the activity to give.

Units: activity GBq (per cycle), Gy/GBq, doses Gy, half-lives h.

Usage::

    from doseresponse import prescribe as rx
    plan = rx.prescribe({"kidney": rx.Region(0.46, effective_half_life=50.0, tissue="kidney")},
                        cycles=4, ntcp={"kidney": kidney_curve}, ntcp_limit=0.05)
    plan.activity_gbq, plan.limiting, plan.summary_frame()

Modules
-------
regions     Region: Gy/GBq per cycle, kinetics, α/β; activity → absorbed dose, BED, EQD2
sources     curve sources (fitted models, ResponseCurve) evaluated per draw
objectives  prescribe(): ntcp-limit, max-p-plus, target-tcp; activity or number of cycles
plan        Plan: summary_frame, activity_curve, plot, save / load_plan (JSON)
strategies  compare_strategies(): fixed vs dosimetry-guided over a population

Theory and sources: ``docs/theory/prescription.md``; a worked example:
``docs/howto/prescribe_for_my_patient.md``.
"""

from doseresponse.prescribe.objectives import OBJECTIVES, prescribe
from doseresponse.prescribe.plan import Plan, load_plan
from doseresponse.prescribe.regions import Region
from doseresponse.prescribe.strategies import (
    Strategy,
    activity_to_limit,
    compare_strategies,
    cycles_to_limit,
    fixed,
)

__all__ = [
    "OBJECTIVES",
    "Plan",
    "Region",
    "Strategy",
    "activity_to_limit",
    "compare_strategies",
    "cycles_to_limit",
    "fixed",
    "load_plan",
    "prescribe",
]
