"""Physician report of fitted dose-response models: one self-contained HTML file.

:func:`write_report` (also ``FittedModel.report`` and ``doseresponse report``) writes the
question and data in words, the fitted curves of a typical and a new centre over the observed
rates, the study forest plot, the TD5/TD10/TD50 table, the diagnostics in plain words (with a
loud banner when they fail), the model and its priors, and an interactive lookup that computes
NTCP/TCP at a typed dose (or activity and Gy/GBq) in the page from embedded posterior draws.
The page opens from disk with no server and loads nothing from the network.

==================================  ===========================================================
:func:`write_report`                the HTML file (and optionally PNG/PDF/SVG figures)
:func:`tolerance_table`             the TD5/TD10/TD50 table as a DataFrame
:func:`embedded_fit`                the fit restricted to the draws the page embeds (the
                                    Python twin of the in-page lookup)
:func:`embedded_average`            a model average over the draws the page embeds for it
                                    (the Python twin of its in-page mixture)
:func:`lookup_payload`              the JSON-ready draws and quadrature of one fit or
                                    average
==================================  ===========================================================
"""

from doseresponse.report.build import (
    FIGURE_FORMATS,
    REPORT_SECTIONS,
    TOLERANCE_LEVELS,
    tolerance_table,
    write_report,
)
from doseresponse.report.lookup import (
    MAX_EMBEDDED_DRAWS,
    embedded_average,
    embedded_fit,
    lookup_payload,
)

__all__ = [
    "FIGURE_FORMATS",
    "MAX_EMBEDDED_DRAWS",
    "REPORT_SECTIONS",
    "TOLERANCE_LEVELS",
    "embedded_average",
    "embedded_fit",
    "lookup_payload",
    "tolerance_table",
    "write_report",
]
