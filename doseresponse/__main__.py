"""``python -m doseresponse``: the ``doseresponse`` command (see :mod:`doseresponse.cli`)."""

import sys

from doseresponse.cli import main

if __name__ == "__main__":
    sys.exit(main())
