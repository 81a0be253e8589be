"""The ``doseresponse`` command line.

Sub-commands::

    doseresponse demo [--out DIR] [--overwrite]   radiobiology pipeline on the example patient
    doseresponse bed --dose GY --effective-half-life H --tissue NAME [...]
    doseresponse tissues | nuclides               print the parameter tables
    doseresponse --version
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError

__all__ = ["main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from doseresponse.demo import run_demo

    result = run_demo(args.out, overwrite=args.overwrite)
    table = result.dosimetry.per_region[["region", "dose_gy", "bed_gy", "eqd2_gy"]]
    print("Multi-cycle dosimetry of the example 177Lu-DOTATATE patient (synthetic):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nReport written to {result.files['html']}")
    return 0


def _cmd_bed(args: argparse.Namespace) -> int:
    from doseresponse.radiobiology.bed import bed_exponential, eqd
    from doseresponse.radiobiology.tissues import tissue_parameters

    if args.tissue is not None:
        tissue = tissue_parameters(args.tissue)
        alpha_beta = args.alpha_beta if args.alpha_beta is not None else tissue.alpha_beta
        repair = (
            args.repair_half_time if args.repair_half_time is not None else tissue.repair_half_time
        )
    elif args.alpha_beta is None or args.repair_half_time is None:
        raise DoseResponseError(
            "give --tissue NAME, or both --alpha-beta (Gy) and --repair-half-time (h)."
        )
    else:
        alpha_beta, repair = args.alpha_beta, args.repair_half_time
    value = float(
        bed_exponential(
            args.dose,
            effective_half_life=args.effective_half_life,
            alpha_beta=alpha_beta,
            repair_half_time=repair,
            uptake_half_life=args.uptake_half_life,
        )
    )
    print(f"BED  = {value:.4g} Gy  (α/β = {alpha_beta:g} Gy, T_rep = {repair:g} h)")
    print(f"EQD2 = {float(eqd(value, alpha_beta=alpha_beta)):.4g} Gy")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    import pandas as pd

    if args.command == "tissues":
        from doseresponse.radiobiology.tissues import list_tissues as listing
    else:
        from doseresponse.radiobiology.nuclides import list_nuclides as listing
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(listing().to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``doseresponse`` command."""
    parser = argparse.ArgumentParser(
        prog="doseresponse",
        description="Dose-response analysis for radiopharmaceutical therapy.",
    )
    parser.add_argument("--version", action="version", version=f"doseresponse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the radiobiology pipeline on the example patient")
    demo.add_argument("--out", default="doseresponse-demo", help="output folder")
    demo.add_argument("--overwrite", action="store_true", help="replace existing report files")
    demo.set_defaults(func=_cmd_demo)

    bed = sub.add_parser("bed", help="BED and EQD2 of a mono-exponential (or uptake) delivery")
    bed.add_argument("--dose", type=float, required=True, help="absorbed dose (Gy)")
    bed.add_argument("--effective-half-life", type=float, required=True, help="h")
    bed.add_argument("--uptake-half-life", type=float, default=None, help="h (optional)")
    bed.add_argument("--tissue", default=None, help="tissue preset, e.g. kidney")
    bed.add_argument("--alpha-beta", type=float, default=None, help="α/β (Gy)")
    bed.add_argument("--repair-half-time", type=float, default=None, help="h")
    bed.set_defaults(func=_cmd_bed)

    for name, text in (("tissues", "tissue presets"), ("nuclides", "nuclide data")):
        table = sub.add_parser(name, help=f"print the {text}")
        table.set_defaults(func=_cmd_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``doseresponse`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DoseResponseError as exc:
        print(f"doseresponse: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
