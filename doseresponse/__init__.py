"""doseresponse: dose-response analysis for radiopharmaceutical therapy.

Subpackages and modules
-----------------------
radiobiology
    Time-activity fits, time-integrated activity, absorbed dose, BED/EQDx and EUD (numpy/scipy).
data
    :class:`DoseResponseData`, the validated container for patient-level and aggregate rows.
datasets
    Shipped published, classic and simulated datasets (:func:`list_datasets`, :func:`load_dataset`).
simulate
    Multi-study cohorts with known truth (:func:`simulate_cohort`).
models
    Dose-response curve families (TCP/NTCP), maximum-likelihood fits and Bayesian hierarchical
    models (:class:`NTCPModel`, :class:`TCPModel`), with their results
    (``models.results``: :class:`FittedModel`), checks (``models.checks``: PPC, LOO,
    :func:`compare`), figures (``models.plotting``) and saved fits (``models.io``:
    :func:`save` / :func:`load`); the module table in :mod:`doseresponse.models` gives the
    dependency direction.

The PyMC-based names (``NTCPModel``, ``TCPModel``, ``FittedModel``, ``load``, ``save``,
``compare``) are imported on first use, so ``import doseresponse`` stays fast for radiobiology
and data work.

Units throughout: dose Gy, time h, activity MBq, time-integrated activity MBq·h.
"""

from doseresponse import exceptions, radiobiology
from doseresponse._version import __version__
from doseresponse.data import DoseResponseData
from doseresponse.datasets import list_datasets, load_dataset
from doseresponse.exceptions import (
    ConvergenceWarning,
    DataValidationError,
    DoseResponseError,
    DroppedRowsWarning,
    SmallStudyWarning,
)
from doseresponse.simulate import simulate_cohort

_LAZY = {
    "NTCPModel": "doseresponse.models.model",
    "TCPModel": "doseresponse.models.model",
    "FittedModel": "doseresponse.models.results",
    "load": "doseresponse.models.io",
    "save": "doseresponse.models.io",
    "compare": "doseresponse.models.checks",
    "average_models": "doseresponse.models.averaging",
    "ModelAverage": "doseresponse.models.averaging",
    "load_average": "doseresponse.models.averaging_io",
    "kfold": "doseresponse.models.crossval",
    "leave_one_study_out": "doseresponse.models.crossval",
    "ppc_table": "doseresponse.models.checks",
    "loo": "doseresponse.models.checks",
    "waic": "doseresponse.models.checks",
    "plot_curve": "doseresponse.models.plotting",
    "plot_study_forest": "doseresponse.models.plotting",
    "plot_prior_posterior": "doseresponse.models.plotting",
    "plot_prior_predictive": "doseresponse.models.plotting",
    "ResponseCurve": "doseresponse.models.response_curve",
    "LateToxicityModel": "doseresponse.models.late_toxicity",
    "LateToxicityFit": "doseresponse.models.late_toxicity",
    "simulate_late_toxicity": "doseresponse.simulate_late",
    "prescribe": "doseresponse.prescribe",
    "models": "doseresponse.models",
    "checks": "doseresponse.models.checks",
    "plotting": "doseresponse.models.plotting",
}


def __getattr__(name: str):
    """Import the PyMC-dependent public names on first access (PEP 562)."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.endswith(f".{name}") else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'doseresponse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "ConvergenceWarning",
    "DataValidationError",
    "DoseResponseData",
    "DoseResponseError",
    "DroppedRowsWarning",
    "FittedModel",
    "LateToxicityFit",
    "LateToxicityModel",
    "ModelAverage",
    "NTCPModel",
    "ResponseCurve",
    "SmallStudyWarning",
    "TCPModel",
    "__version__",
    "average_models",
    "checks",
    "compare",
    "exceptions",
    "kfold",
    "leave_one_study_out",
    "list_datasets",
    "load",
    "load_average",
    "load_dataset",
    "loo",
    "models",
    "plot_curve",
    "plot_prior_posterior",
    "plot_prior_predictive",
    "plot_study_forest",
    "plotting",
    "ppc_table",
    "prescribe",
    "radiobiology",
    "save",
    "simulate_cohort",
    "simulate_late_toxicity",
    "waic",
]
