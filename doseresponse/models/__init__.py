"""Dose-response curve families (TCP/NTCP) and the models fitted to them.

curves
    Numpy curve families parametrised by D50 and a slope, their inverses, and the registry
    (:data:`CURVE_FAMILIES`, :func:`get_curve_family`); Poisson/population TCP, LKB with a DVH,
    relative seriality.
ml
    Maximum-likelihood (complete-pooling) fits with profile-likelihood intervals and benchmark
    doses: :func:`fit_ml`, :func:`compare_ml`.
"""

from doseresponse.models.curves import (
    CURVE_FAMILIES,
    CurveFamily,
    cloglog,
    dose_at,
    get_curve_family,
    list_curve_families,
    lkb,
    log_logistic,
    logistic,
    poisson,
    poisson_tcp,
    population_tcp,
    probit,
    relative_seriality,
)
from doseresponse.models.ml import MLFit, compare_ml, fit_ml

__all__ = [
    "CURVE_FAMILIES",
    "CurveFamily",
    "MLFit",
    "cloglog",
    "compare_ml",
    "dose_at",
    "fit_ml",
    "get_curve_family",
    "list_curve_families",
    "lkb",
    "log_logistic",
    "logistic",
    "poisson",
    "poisson_tcp",
    "population_tcp",
    "probit",
    "relative_seriality",
]
