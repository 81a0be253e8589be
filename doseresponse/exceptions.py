"""Exception and warning types raised by doseresponse.

Every validation error is a :class:`DoseResponseError`, a subclass of :class:`ValueError`, so
``except ValueError`` keeps working for callers that do not know this package. Messages name the
offending argument (or row and column) and say how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DataValidationError",
    "DegenerateDataWarning",
    "DoseResponseError",
    "DroppedRowsWarning",
    "FitError",
    "ModelMismatchError",
    "SamplerFallbackWarning",
    "SmallStudyWarning",
    "UnknownNameError",
    "UnverifiedFitWarning",
]


class DoseResponseError(ValueError):
    """Base class for invalid input to a doseresponse function."""


class DataValidationError(DoseResponseError):
    """A data table is malformed (missing column, bad value, inconsistent metric...)."""


class UnknownNameError(DoseResponseError, KeyError):
    """A name (nuclide, tissue, dataset, curve family, study...) is not known.

    The message lists the valid names.
    """

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class FitError(DoseResponseError):
    """A fit could not be carried out or its result is not acceptable."""


class ModelMismatchError(DoseResponseError):
    """A saved model file is tampered with or incompatible with this version."""


class ConvergenceWarning(UserWarning):
    """A fit finished but failed a diagnostic (divergences, R-hat, ESS, fit-acceptance rules)."""


class DegenerateDataWarning(UserWarning):
    """The data cannot inform part of a Bayesian fit, so that part restates its prior.

    No events, only events, a constant covariate, a single study under partial pooling, or a
    study without events (or with only events) under no pooling. The message names the cause
    and the fix (:func:`doseresponse.models.degenerate.prior_driven_causes`). Turn it into an
    error with ``warnings.simplefilter("error", DegenerateDataWarning)``.
    """


class SamplerFallbackWarning(UserWarning):
    """The preferred sampler route was unavailable or failed; a slower, public one was used.

    The fit is still correct (both routes sample the same density); the message says what
    failed and which route ran instead.
    """


class SmallStudyWarning(UserWarning):
    """A study contributes a single patient; its study-level effect is barely identifiable.

    The message names the study. The data are kept: pool it, merge it with a similar centre, or
    drop it explicitly with ``drop_rows=``.
    """


class DroppedRowsWarning(UserWarning):
    """Rows were dropped at the user's explicit request (``drop_rows=``); the message lists them."""


class UnverifiedFitWarning(UserWarning):
    """A saved fit loaded without a full check.

    Either an old (format version 1) file whose posterior no digest covers, or a signed file
    loaded without its key. The message says what was not checked and how to check it.
    """
