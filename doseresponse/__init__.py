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
    Dose-response curve families (TCP/NTCP), maximum-likelihood fits and Bayesian models.

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

__all__ = [
    "ConvergenceWarning",
    "DataValidationError",
    "DoseResponseData",
    "DoseResponseError",
    "DroppedRowsWarning",
    "SmallStudyWarning",
    "__version__",
    "exceptions",
    "list_datasets",
    "load_dataset",
    "radiobiology",
    "simulate_cohort",
]
