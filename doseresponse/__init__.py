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
    models (:class:`NTCPModel`, :class:`TCPModel`).
results, io, checks, plotting
    Fitted models (:class:`FittedModel`), :func:`save` / :func:`load`, posterior predictive checks,
    LOO and :func:`compare`, figures.

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
    "FittedModel": "doseresponse.results",
    "load": "doseresponse.io",
    "save": "doseresponse.io",
    "compare": "doseresponse.checks",
    "ppc_table": "doseresponse.checks",
    "loo": "doseresponse.checks",
    "waic": "doseresponse.checks",
    "plot_curve": "doseresponse.plotting",
    "plot_study_forest": "doseresponse.plotting",
    "plot_prior_posterior": "doseresponse.plotting",
    "plot_prior_predictive": "doseresponse.plotting",
    "models": "doseresponse.models",
    "checks": "doseresponse.checks",
    "plotting": "doseresponse.plotting",
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
    "NTCPModel",
    "SmallStudyWarning",
    "TCPModel",
    "__version__",
    "checks",
    "compare",
    "exceptions",
    "list_datasets",
    "load",
    "load_dataset",
    "loo",
    "models",
    "plot_curve",
    "plot_prior_posterior",
    "plot_prior_predictive",
    "plot_study_forest",
    "plotting",
    "ppc_table",
    "radiobiology",
    "save",
    "simulate_cohort",
    "waic",
]
