"""doseresponse: dose-response analysis for radiopharmaceutical therapy.

Subpackages
-----------
radiobiology
    Time-activity fits, time-integrated activity, absorbed dose, BED/EQDx and EUD (numpy/scipy).
models
    Dose-response curve families (TCP/NTCP) and, with PyMC, Bayesian hierarchical models.

Units throughout: dose Gy, time h, activity MBq, time-integrated activity MBq·h.
"""

from doseresponse import exceptions, radiobiology
from doseresponse._version import __version__

__all__ = ["__version__", "exceptions", "radiobiology"]
