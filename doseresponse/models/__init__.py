"""Dose-response curves and the models fitted to them, from the curve formulas to saved fits.

Modules, in dependency order (each imports only modules above it; enforced by
``tests/test_layering.py``):

=====================  ==========================================================================
``_curve_kernel``      each curve family written once (compiled): log P, log(1 − P), derivatives
``curves``             the family registry, inverses, DVH models; evaluates ``_curve_kernel``
``result_types``       ``CurveBand``, ``DoseAt``: the result types of every fit (a leaf)
``ml``                 maximum-likelihood (complete-pooling) fits → result types
``spec``, ``priors``   the model description and its priors (data, no code)
``design``             numeric arrays from a spec and a cohort (numpy only)
``_row_kernels``       the compiled log posterior: likelihood terms, priors, study parameters
``density``            ``LogDensity``: layout, kernel arrays, naming of draws (no PyMC)
``sampling``           nutpie on the analytic density (C callbacks, public fallback; no PyMC)
``predictive``         per-draw parameters of every prediction (population, study, new centre)
``results``            ``FittedModel``: summaries, diagnostics, curves, doses (the Bayesian leaf:
                       no module-level import of ``checks``/``plotting``/``io``; its delegating
                       methods import them on call)
``checks``             pointwise log-likelihood, PPC, LOO/WAIC, compare — depends on ``results``
``plotting``           figures — depends on ``results``
``io``                 save/load NetCDF — depends on ``results``
``model_weights``      stacking and pseudo-BMA(+) weights from pointwise ELPDs (numpy/scipy)
``crossval``           K-fold and leave-one-study-out by refitting — depends on ``checks``
``averaging``          ``ModelAverage``: mixture of fits' posteriors — depends on ``checks``
``averaging_io``       saved averages: fit files + JSON manifest — depends on ``io``
``prior_predictive``   curves drawn from the priors alone
``model``              ``NTCPModel`` / ``TCPModel``: spec → density → sampling → ``FittedModel``
``hierarchical``       the PyMC graph: the independent autodiff oracle, ``model.build()``
``tensor_curves``      PyTensor twins of the curve families, for the oracle
``pymc_sampling``      ``sampler="pymc"``/``"nutpie-pytensor"``/``"nutpie-numba"`` on the PyMC graph
=====================  ==========================================================================

Only ``hierarchical``, ``tensor_curves`` and ``pymc_sampling`` import PyMC/PyTensor; the default
fit, loading a fit, LOO and PPC never do.

Imported here: the curve families (:data:`CURVE_FAMILIES`, :func:`get_curve_family`, ...) and
the maximum-likelihood fits (:func:`fit_ml`, :func:`compare_ml`; ``fit_ml(...,
background=True)`` returns a :class:`BackgroundMLFit`).
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
from doseresponse.models.ml_background import BackgroundMLFit

__all__ = [
    "CURVE_FAMILIES",
    "BackgroundMLFit",
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
