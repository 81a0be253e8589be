"""The ``doseresponse`` command line (also ``python -m doseresponse``).

Sub-commands::

    doseresponse fit DATA.csv --dose COL --outcome COL --study COL -o FIT.nc   fit and save
    doseresponse curve FIT.nc --dose 20 23 30        NTCP/TCP at doses, with its interval
    doseresponse dose-at FIT.nc 0.05                 dose giving a response probability (TD5)
    doseresponse summary FIT.nc                      model, data, parameters and diagnostics
    doseresponse compare A.nc B.nc                   rank fits of the same data by PSIS-LOO
    doseresponse plot FIT.nc -o curve.png            curve figure (png, pdf or svg)
    doseresponse dosimetry SAMPLES.csv --mass R=KG   per-cycle TIA, dose, BED, EQD2, totals
    doseresponse prescribe PLAN.json [-o OUT.json]   activity per cycle for a patient
    doseresponse report FIT.nc -o report.html        self-contained physician report
    doseresponse datasets [NAME] [--csv OUT]         shipped datasets
    doseresponse demo [--out DIR] [--overwrite]      the whole loop on shipped simulated data
    doseresponse bed --dose GY --effective-half-life H --tissue NAME [...]
    doseresponse tissues | nuclides                  print the parameter tables
    doseresponse --version

Conventions shared by every sub-command: ``--help`` shows an example; ``--json`` prints
machine-readable output (plain JSON: ``NaN`` becomes ``null``); ``--quiet`` hides progress and
notes (results, warnings and errors are still printed); ``--debug`` shows the traceback of an
error. Exit status 0 means success, 2 a usage error (a bad or missing argument, including an
unknown study label, covariate, curve family or dataset name), 1 a data or runtime error
(missing or damaged file, invalid table, refused overwrite, failed fit...). Every error is
one line on standard error saying what went wrong and how to fix it. An existing output file is
never replaced without ``--overwrite``. A closed output pipe (``doseresponse tissues | head``)
ends quietly with status 0.

Doses are in the fitted dose metric's unit (e.g. Gy BED); probabilities are dimensionless.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import math
import os
import sys
import textwrap
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from doseresponse._version import __version__
from doseresponse.exceptions import DoseResponseError

__all__ = ["UsageError", "build_parser", "main"]

PROG = "doseresponse"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
_FLOAT = "{:.6g}"
_PLOT_FORMATS = ("png", "pdf", "svg")

# CLI wording of the remedy of each failed diagnostic (FittedModel.diagnostics gives the Python one)
_CLI_FIX = {
    "divergences": "refit with --target-accept 0.98 (or 0.99); if they persist, simplify "
    "--pooling",
    "r_hat": "refit with more --tune and --draws (the chains have not mixed)",
    "ess_bulk": "refit with more --draws",
    "ess_tail": "refit with more --draws (tail intervals are unreliable until then)",
}


class UsageError(DoseResponseError):
    """A command-line argument is invalid; the command exits with status 2."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; lists ``-o, --output FIT.nc`` as Python 3.13 does."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {metavar}"


class _ArgumentParser(argparse.ArgumentParser):
    """Argument parser whose errors are one line on standard error (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line with a pointer to ``--help`` and exit with 2."""
        one_line = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``doseresponse`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 data or runtime error, 2 usage error. A parse error of the
        arguments (and ``--help``/``--version``) raise :class:`SystemExit` as argparse does.
    """
    # OpenMP threads of numba's parallel kernels sleep instead of spinning between the many
    # small parallel regions of a report or prescription: on 2 cores shared with other work
    # this halved the physician report's wall time (56 -> 27 s) and its CPU time (13.7 ->
    # 6.6 s); a user's own setting wins. Read by libgomp when it loads (the first parallel call).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with _encodable_output():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help, --version or a usage error: argparse has printed it
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_broken_pipe()
        raise
    except BrokenPipeError:
        return _quiet_broken_pipe()
    debug = bool(getattr(args, "debug", False))
    prog = f"{PROG} {args.command}"
    try:
        with _plain_warnings():
            code = int(args.func(args))
        sys.stdout.flush()
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt as exc:  # a fit says how far it got; nothing was saved
        detail = f": {_one_line(exc)}" if str(exc) else ""
        print(f"{prog}: interrupted{detail}", file=sys.stderr)
        return 130
    except Exception as exc:  # every error becomes one line (traceback with --debug)
        if debug:
            traceback.print_exc()
        code, message = _describe_error(exc)
        hint = ""
        if not (debug or _is_expected(exc)):
            hint = " (rerun with --debug for the traceback and report it as a bug)"
        try:
            sys.stdout.flush()
        except OSError:  # standard output itself failed (full disk): drop what is left
            _quiet_broken_pipe()
        print(f"{prog}: error: {message}{hint}", file=sys.stderr)
        return code
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``doseresponse`` command.

    Returns
    -------
    argparse.ArgumentParser
        One sub-parser per command; ``args.func(args)`` runs the command and returns its exit
        status.
    """
    parser = _ArgumentParser(
        prog=PROG,
        description="Dose-response analysis for radiopharmaceutical therapy.",
        epilog=_example(
            "doseresponse fit cohort.csv --dose bed --outcome tox --study centre -o fit.nc",
            "doseresponse curve fit.nc --dose 20 23 30 --which new_study",
            "doseresponse <command> --help",
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"doseresponse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    for add in (_add_fit, _add_curve, _add_dose_at, _add_summary, _add_compare, _add_plot,
                _add_dosimetry, _add_prescribe, _add_report, _add_datasets, _add_demo,
                _add_bed, _add_voxel, _add_tables):
        add(sub, common)
    return parser


# ---------------------------------------------------------------------------------- commands


def _cmd_fit(args: argparse.Namespace) -> int:
    import doseresponse as dr

    out = _check_output(args.output, args.overwrite, "-o")
    mapping = _fit_mapping(args)
    model_class = dr.NTCPModel if args.kind == "NTCP" else dr.TCPModel
    with _usage_errors():
        model = model_class(
            curve=args.curve, pooling=args.pooling, pool_slope=args.pool_slope,
            priors=args.priors, measurement_error=args.measurement_error,
        )
    _note(args, f"reading {_existing_file(args.data, 'DATA')}")
    data = dr.DoseResponseData.from_csv(args.data, **mapping)
    _note(args, f"data: {len(data.studies)} studies, {data.n_patients} patients, "
                f"{data.n_events} events; dose metric {data.dose_label}")
    _note(args, f"fitting {model!r}: {args.chains} chains x ({args.tune} warm-up + "
                f"{args.draws} draws)")
    fit = model.fit(
        data, draws=args.draws, tune=args.tune, chains=args.chains, random_seed=args.seed,
        target_accept=args.target_accept, check=False,
        progressbar=sys.stderr.isatty() and not args.quiet,
    )
    fit.save(out, overwrite=args.overwrite)
    diag = fit.diagnostics()
    ok = bool(diag["ok"].all())
    if args.json:
        _print_json({**_fit_record(fit, args.ci_prob), "output": str(out)})
    else:
        print(fit.summary(**_ci(args)))
        print()
        print("\n".join(_diagnostics_lines(diag)))
        print(f"\nfit saved to {out}")
    if not ok:
        failed = ", ".join(diag.loc[~diag["ok"], "check"])
        _warn(f"diagnostics FAILED ({failed}): the intervals are not reliable; "
              "see the fixes above and refit")
    return EXIT_OK


def _cmd_curve(args: argparse.Namespace) -> int:
    fit = _load_fit(args.fit)
    with _usage_errors():
        band = fit.curve(args.dose, which=args.which, covariates=_covariates(args),
                         **_ci(args), **_seed(args))
    frame = band.to_frame()
    if args.json:
        _print_json(_records(frame))
        return EXIT_OK
    print(band.header())
    print(frame.to_string(index=False, float_format=_FLOAT.format))
    return EXIT_OK


def _cmd_dose_at(args: argparse.Namespace) -> int:
    fit = _load_fit(args.fit)
    with _usage_errors():
        result = fit.dose_at(args.p, which=args.which, covariates=_covariates(args),
                             **_ci(args), **_seed(args))
    record = _dose_at_record(result)
    if args.json:
        _print_json(record)
        return EXIT_OK
    cov = ", ".join(f"{k}={v:g}" for k, v in result.covariates.items())
    print(f"{result.label}: dose at {fit.spec.kind} = {result.p:g}, "
          f"{_describe_which(result.which)}" + (f" ({cov})" if cov else "")
          + f"; {result.metric} in {result.unit}; {100 * result.ci_prob:g} % {result.interval} "
          f"interval, {result.method}")
    width = max(len(k) for k in result)
    for key in result:
        if key != "draws":
            print(f"{key:<{width}}  {_FLOAT.format(result[key])}")
    if result.n_at_zero:
        print(f"note: {result.n_at_zero} draws exceed p already at dose 0 and count as dose 0")
    return EXIT_OK


def _cmd_summary(args: argparse.Namespace) -> int:
    fit = _load_fit(args.fit)
    if args.json:
        _print_json(_fit_record(fit, args.ci_prob))
        return EXIT_OK
    print(fit.summary(**_ci(args)))
    print()
    print("\n".join(_diagnostics_lines(fit.diagnostics())))
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    import doseresponse as dr

    if len(args.fits) < 2:
        raise UsageError("compare needs at least two fit files, e.g. compare A.nc B.nc.")
    out = None
    if args.average is not None:
        if args.output is None:
            raise UsageError("--average needs -o DIR, the folder to save the model average in.")
        out = Path(args.output)
        if out.exists() and not args.overwrite:
            raise FileExistsError(
                f"-o {args.output} already exists; pass --overwrite to replace it, or choose "
                "another name."
            )
    elif args.output is not None:
        raise UsageError("-o is only used with --average (it saves the model average).")
    fits: dict[str, Any] = {}
    for path in args.fits:
        name = Path(path).stem
        number = 2
        while name in fits:
            name, number = f"{Path(path).stem}#{number}", number + 1
        fits[name] = _load_comparable_fit(path)
    options = {"k": args.k} if args.ic in ("kfold", "auto") else {}
    table = dr.compare(fits, ic=args.ic, **options)
    average = None
    if args.average is not None:
        average = dr.ModelAverage(
            fits, {n: float(table.loc[n, "weight" if args.average == "stacking"
                                     else "pseudo_bma_weight"]) for n in fits},
            method=args.average, ic=str(table.attrs["ic"]), comparison=table,
        )
        average.save(out, overwrite=args.overwrite)
    if args.json:
        _print_json(_records(table.reset_index(names="name")))
        return EXIT_OK
    print(f"fits ranked by {table.attrs['ic'].upper()} expected log predictive density (elpd, "
          "nats; best first); weight = stacking, pseudo_bma_weight = pseudo-BMA+.")
    print(f"criterion: {table.attrs['ic_reason']}.")
    print(table.to_string(float_format="{:.4g}".format,
                          formatters={"weight": "{:.2f}".format,
                                      "pseudo_bma_weight": "{:.2f}".format}))
    print()
    print(table.attrs["verdict"])
    if average is not None:
        print(f"\nmodel average ({args.average} weights) saved to {out}")
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    suffix = Path(args.output).suffix.lower().lstrip(".")
    if suffix not in _PLOT_FORMATS:
        raise UsageError(
            f"-o {args.output}: unknown figure format {suffix!r}; end the name in "
            f"{', '.join('.' + f for f in _PLOT_FORMATS)}."
        )
    out = _check_output(args.output, args.overwrite, "-o")
    fit = _load_fit(args.fit)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with _usage_errors():
        ax = fit.plot_curve(args.which, _covariates(args), show_data=not args.no_data,
                            **_ci(args))
    try:
        ax.figure.savefig(out, format=suffix, bbox_inches="tight", dpi=args.dpi)
    finally:
        plt.close(ax.figure)
    if args.json:
        _print_json({"output": str(out), "format": suffix, "which": args.which})
    else:
        _note(args, f"figure saved to {out}")
    return EXIT_OK


def _cmd_datasets(args: argparse.Namespace) -> int:
    import doseresponse as dr

    if args.name is None:
        if args.csv is not None:
            raise UsageError("--csv needs a dataset NAME, e.g. datasets bliss_beetles --csv b.csv.")
        table = dr.list_datasets()
        if args.json:
            _print_json(_records(table))
            return EXIT_OK
        columns = ["name", "kind", "level", "n_rows", "dose_metric", "dose_unit"]
        with _wide_pandas():
            print(table[columns].to_string(index=False))
        return EXIT_OK
    with _usage_errors():  # an unknown NAME: the message lists the valid names
        info = dr.datasets.dataset_info(args.name)
    if args.csv is not None:
        out = _check_output(args.csv, args.overwrite, "--csv")
        dr.load_dataset(info["name"], as_frame=True).to_csv(out, index=False)
        _note(args, f"{info['name']} written to {out}")
    if args.json:
        _print_json(info)
    elif args.csv is None:
        _print_dataset_info(info)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from doseresponse.demo import run_demo, summary_lines

    result = run_demo(args.out, overwrite=args.overwrite, random_seed=args.seed,
                      progress=None if args.quiet else lambda text: _note(args, text))
    files = {key: str(path) for key, path in result.files.items()}
    if args.json:
        _print_json({**result.results, "files": files})
    else:
        print("\n".join(summary_lines(result.results)))
        print(f"\nReport written to {result.files['report_html']}; summary of every output in "
              f"{result.files['html']}")
    for key in ("ntcp", "tcp"):
        failed = result.results["fits"][key]["diagnostics"]["failed"]
        if failed:
            _warn(f"{key.upper()} fit diagnostics FAILED ({', '.join(failed)}): its intervals "
                  "and the prescription are not reliable")
    return EXIT_OK


def _cmd_bed(args: argparse.Namespace) -> int:
    from doseresponse.radiobiology.bed import bed_exponential, eqd

    with _usage_errors():  # every input of this command is an argument
        alpha_beta, repair = _lq_parameters(args)
        value = float(
            bed_exponential(
                args.dose,
                effective_half_life=args.effective_half_life,
                alpha_beta=alpha_beta,
                repair_half_time=repair,
                uptake_half_life=args.uptake_half_life,
            )
        )
        eqd2 = float(eqd(value, alpha_beta=alpha_beta))
    if args.json:
        _print_json({"bed_gy": value, "eqd2_gy": eqd2, "alpha_beta_gy": alpha_beta,
                     "repair_half_time_h": repair})
        return EXIT_OK
    print(f"BED  = {value:.4g} Gy  (α/β = {alpha_beta:g} Gy, T_rep = {repair:g} h)")
    print(f"EQD2 = {eqd2:.4g} Gy")
    return EXIT_OK


def _lq_parameters(args: argparse.Namespace) -> tuple[float, float]:
    """α/β (Gy) and repair half-time (h) from --tissue and/or --alpha-beta, --repair-half-time."""
    from doseresponse.radiobiology.tissues import tissue_parameters

    if args.tissue is not None:
        tissue = tissue_parameters(args.tissue)
        alpha_beta = args.alpha_beta if args.alpha_beta is not None else tissue.alpha_beta
        repair = (
            args.repair_half_time if args.repair_half_time is not None
            else tissue.repair_half_time
        )
        return alpha_beta, repair
    if args.alpha_beta is None or args.repair_half_time is None:
        raise UsageError(
            "give --tissue NAME, or both --alpha-beta (Gy) and --repair-half-time (h)."
        )
    return args.alpha_beta, args.repair_half_time


def _cmd_voxel(args: argparse.Namespace) -> int:
    from doseresponse.radiobiology import voxel_io as vio
    from doseresponse.radiobiology import voxel_maps as vmaps

    table_out = None if args.output is None else _check_output(args.output, args.overwrite, "-o")
    bed_out = (None if args.bed_out is None
               else _check_output(args.bed_out, args.overwrite, "--bed-out"))
    with _usage_errors():
        alpha_beta, repair = _lq_parameters(args)
        if (args.effective_half_life is None) == (args.half_life_map is None):
            raise UsageError("give one of --effective-half-life H or --half-life-map FILE.")
    dose = vio.read_dose_map(_existing_file(args.dose, "DOSE"), quantity=args.quantity,
                             unit=args.unit)
    half_life = args.effective_half_life
    if args.half_life_map is not None:
        half_life = vio.read_dose_map(_existing_file(args.half_life_map, "--half-life-map"),
                                      quantity="half_life", unit="h")
    if dose.quantity == "dose_rate":
        if args.time_h is None:
            raise UsageError("a dose-rate map needs --time-h (h after administration).")
        dose = vmaps.dose_from_dose_rate(dose, time_h=args.time_h, effective_half_life=half_life)
    labels_path = _existing_file(args.labels, "LABELS")
    if args.series is not None:
        labels = vio.read_rtstruct(labels_path, args.series, roi_names=args.roi or None)
    else:
        labels = vio.read_label_map(labels_path, _unique_pairs(args.names, "--names") or None)
    _note(args, f"{dose}; {len(labels.names)} regions")
    bed = vmaps.bed_map(dose, effective_half_life=half_life, alpha_beta=alpha_beta,
                        repair_half_time=repair)
    frame = vmaps.organ_dosimetry(dose, labels, bed=bed, geud_a=args.geud_a, alpha=args.alpha)
    if table_out is not None:
        frame.to_csv(table_out, index=False)
    if bed_out is not None:
        nifti = bed_out.name.endswith((".nii", ".nii.gz"))
        write = vio.write_nifti if nifti else vio.write_rtdose
        write(bed, bed_out, overwrite=args.overwrite)
    if args.json:
        _print_json({"rows": _records(frame), "alpha_beta_gy": alpha_beta,
                     "repair_half_time_h": repair,
                     "output": None if table_out is None else str(table_out),
                     "bed_map": None if bed_out is None else str(bed_out)})
        return EXIT_OK
    print(f"voxel dosimetry of {args.dose} (doses Gy, volumes mL; BED with α/β = "
          f"{alpha_beta:g} Gy, T_rep = {repair:g} h)")
    with _wide_pandas():
        print(frame.to_string(index=False, float_format="{:.4g}".format))
    for path, what in ((table_out, "table"), (bed_out, "BED map")):
        if path is not None:
            print(f"{what} saved to {path}")
    return EXIT_OK


def _cmd_table(args: argparse.Namespace) -> int:
    if args.command == "tissues":
        from doseresponse.radiobiology.tissues import list_tissues as listing
    else:
        from doseresponse.radiobiology.nuclides import list_nuclides as listing
    table = listing()
    if args.json:
        _print_json(_records(table))
        return EXIT_OK
    with _wide_pandas():
        print(table.to_string(index=False))
    return EXIT_OK


# ---------------------------------------------------------------------------------- parsers


def _common_options() -> argparse.ArgumentParser:
    common = _ArgumentParser(add_help=False)
    group = common.add_argument_group("output and error options")
    group.add_argument("--json", action="store_true",
                       help="print machine-readable JSON instead of text")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="hide progress and notes (results, warnings and errors still show)")
    group.add_argument("--debug", action="store_true",
                       help="show the Python traceback of an error")
    return common


def _command(sub, common, name: str, summary: str, examples: Sequence[str], func: Callable,
             description: str | None = None) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name, help=summary,
        description=textwrap.fill(description or summary[0].upper() + summary[1:] + ".", 88),
        epilog=_example(*examples), parents=[common],
        formatter_class=_HelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _add_fit(sub, common) -> None:
    p = _command(
        sub, common, "fit", "fit a hierarchical NTCP/TCP model to a CSV table and save it",
        [
            "doseresponse fit cohort.csv --dose bed_gy --outcome toxicity --study centre \\\n"
            "    --covariate htn --dose-metric BED --dose-unit Gy --curve log-logistic \\\n"
            "    --seed 1 -o kidney.nc",
            "doseresponse fit bins.csv --dose dose --events events --n n --study study "
            "-o fit.nc",
        ],
        _cmd_fit,
        description="Validate a tidy CSV table (one row per patient, or events/n per dose "
        "bin), fit a Bayesian hierarchical dose-response model, print the summary and the "
        "convergence diagnostics in plain words, and save the fit (NetCDF). Progress is shown "
        "on standard error when it is a terminal. Failed diagnostics are reported loudly; the "
        "fit is still saved.",
    )
    p.add_argument("data", metavar="DATA.csv", help="tidy CSV table")
    p.add_argument("-o", "--output", required=True, metavar="FIT.nc", help="fit file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    cols = p.add_argument_group("columns of DATA.csv")
    cols.add_argument("--dose", required=True, metavar="COL", help="dose column")
    cols.add_argument("--outcome", metavar="COL", help="patient rows: 0/1 outcome column")
    cols.add_argument("--events", metavar="COL", help="aggregate rows: events column")
    cols.add_argument("--n", metavar="COL", help="aggregate rows: patients-at-risk column")
    cols.add_argument("--study", required=True, metavar="COL", help="study / centre column")
    cols.add_argument("--patient", metavar="COL", help="patient id column (unique per study)")
    cols.add_argument("--covariate", action="extend", nargs="+", default=[], metavar="COL",
                      help="patient-level covariate columns (numeric, 0/1 for factors)")
    cols.add_argument("--study-covariate", action="extend", nargs="+", default=[],
                      metavar="COL", help="study-level covariate columns")
    cols.add_argument("--dose-se", metavar="COL", help="absolute dose standard-error column")
    cols.add_argument("--dose-rel-se", metavar="COL",
                      help="relative dose standard-error column (0.2 = 20 %%)")
    meta = p.add_argument_group("what the columns mean")
    meta.add_argument("--dose-metric", default="dose",
                      help="dose metric, e.g. BED, EQD2, 'mean absorbed dose' (default: dose)")
    meta.add_argument("--dose-unit", default="Gy", help="dose unit (default: Gy)")
    meta.add_argument("--outcome-name", help="readable outcome, e.g. 'grade >= 3 toxicity'")
    model = p.add_argument_group("model")
    model.add_argument("--kind", choices=("NTCP", "TCP"), default="NTCP",
                       help="normal-tissue complication or tumour control (default: NTCP)")
    model.add_argument("--curve", default="logistic",
                       help="curve family: logistic, log-logistic, probit (lkb), cloglog "
                       "(weibull) or poisson (default: logistic)")
    model.add_argument("--pooling", choices=("partial", "complete", "none"), default="partial",
                       help="pooling of D50 across studies (default: partial)")
    model.add_argument("--pool-slope", action="store_true",
                       help="with partial pooling, pool the slope across studies too")
    model.add_argument("--measurement-error", choices=("none", "lognormal"), default="none",
                       help="lognormal: treat doses with --dose-se/--dose-rel-se as noisy "
                       "measurements (default: none)")
    model.add_argument("--priors", metavar="JSON",
                       help="prior overrides as JSON text, e.g. "
                       "'{\"d50\": {\"median\": 40, \"lower\": 20, \"upper\": 80}}'")
    run = p.add_argument_group("sampler")
    run.add_argument("--seed", type=int, default=None, help="sampler seed (default: random, "
                     "recorded in the fit)")
    run.add_argument("--draws", type=_positive_int, default=1000,
                     help="kept draws per chain (default: 1000)")
    run.add_argument("--tune", type=_positive_int, default=1000,
                     help="warm-up iterations per chain (default: 1000)")
    run.add_argument("--chains", type=_positive_int, default=4, help="chains (default: 4)")
    run.add_argument("--target-accept", type=_open_unit, default=None,
                     help="NUTS target acceptance in (0, 1) (default: the model's, 0.95; "
                          "0.99 with an estimated literature weight)")
    _ci_option(p)


def _add_curve(sub, common) -> None:
    p = _command(
        sub, common, "curve", "print the fitted NTCP/TCP at given doses with its interval",
        [
            "doseresponse curve fit.nc --dose 20 23 30",
            "doseresponse curve fit.nc --dose 23 --which new_study --covariate htn=1 --json",
        ],
        _cmd_curve,
        description="Print the posterior response probability at each dose: mean, median and "
        "the equal-tailed interval. The header says which curve (typical centre, new centre "
        "or a study), the dose metric and unit, and the interval level. --json prints a list "
        "of records with the columns dose, mean, median, lower, upper.",
    )
    p.add_argument("fit", metavar="FIT.nc", help="fit file written by 'doseresponse fit'")
    p.add_argument("--dose", type=_nonnegative_float, nargs="+", required=True, metavar="D",
                   help="doses in the fit's dose unit")
    _prediction_options(p)


def _add_dose_at(sub, common) -> None:
    p = _command(
        sub, common, "dose-at", "print the dose at which the response probability is P "
        "(TD5, TCD50, ...)",
        [
            "doseresponse dose-at fit.nc 0.05",
            "doseresponse dose-at fit.nc 0.05 --which new_study --covariate htn=1 --json",
        ],
        _cmd_dose_at,
        description="Print the posterior of the dose giving response probability P (TDp for "
        "an NTCP fit, TCDp for a TCP fit): mean, median and the equal-tailed interval, in the "
        "fit's dose unit.",
    )
    p.add_argument("fit", metavar="FIT.nc", help="fit file written by 'doseresponse fit'")
    p.add_argument("p", type=_open_unit, metavar="P", help="response probability in (0, 1)")
    _prediction_options(p)


def _add_summary(sub, common) -> None:
    p = _command(sub, common, "summary",
                 "print a saved fit's model, data, parameters and diagnostics",
                 ["doseresponse summary fit.nc", "doseresponse summary fit.nc --json"],
                 _cmd_summary)
    p.add_argument("fit", metavar="FIT.nc", help="fit file written by 'doseresponse fit'")
    _ci_option(p)


def _add_compare(sub, common) -> None:
    p = _command(
        sub, common, "compare", "rank fits of the same data by expected predictive accuracy",
        ["doseresponse compare logistic.nc log-logistic.nc",
         "doseresponse compare a.nc b.nc --ic kfold --k 10",
         "doseresponse compare a.nc b.nc --average stacking -o average"], _cmd_compare,
        description="Rank two or more fits of the same data by expected log predictive "
        "density (PSIS-LOO, WAIC, K-fold or leave-one-study-out), best first, with stacking "
        "and pseudo-BMA+ weights, and say in words which fits the data cannot tell apart. "
        "Fits are named by their file names; late-toxicity fits (LateToxicityFit.save) are "
        "compared with each other the same way. --average saves the model average (mixture "
        "of the fits' posteriors; binary fits only) to a folder.",
    )
    p.add_argument("fits", nargs="+", metavar="FIT.nc", help="two or more fit files")
    p.add_argument("--ic", choices=("loo", "waic", "kfold", "loso", "auto"), default="auto",
                   help="criterion (default: auto = PSIS-LOO, no refit, unless some fit has "
                   "Pareto k > 0.7, then K-fold for every fit; kfold and loso refit every "
                   "model)")
    p.add_argument("--k", type=int, default=10, help="folds of --ic kfold/auto (default: 10)")
    p.add_argument("--average", choices=("stacking", "pseudo-bma+"), default=None,
                   help="save the model average with these weights (needs -o)")
    p.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="folder for the model average (with --average)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing model average folder")


def _add_plot(sub, common) -> None:
    p = _command(
        sub, common, "plot", "draw the fitted curve with its band over the binned data",
        ["doseresponse plot fit.nc -o curve.png",
         "doseresponse plot fit.nc --which new_study --covariate htn=1 -o curve.pdf"],
        _cmd_plot,
    )
    p.add_argument("fit", metavar="FIT.nc", help="fit file written by 'doseresponse fit'")
    p.add_argument("-o", "--output", required=True, metavar="FIGURE",
                   help="figure file; the format follows the extension (.png, .pdf or .svg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--no-data", action="store_true", help="do not draw the binned observations")
    p.add_argument("--dpi", type=_positive_int, default=150, help="resolution (default: 150)")
    _prediction_options(p, seed=False)


def _add_datasets(sub, common) -> None:
    p = _command(
        sub, common, "datasets", "list the shipped datasets, describe one, or write it as CSV",
        ["doseresponse datasets", "doseresponse datasets sim_kidney_prrt",
         "doseresponse datasets sim_kidney_prrt --csv kidney.csv"],
        _cmd_datasets,
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="dataset name")
    p.add_argument("--csv", metavar="OUT.csv", help="write the dataset's tidy table to OUT.csv")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _add_demo(sub, common) -> None:
    p = _command(
        sub, common, "demo", "the whole loop on shipped simulated data: samples, BED, pooled "
        "NTCP/TCP, a prescription, the report",
        ["doseresponse demo", "doseresponse demo --out demo-report --seed 7 --json"], _cmd_demo,
        description="Run the package's whole loop on shipped SIMULATED data and write every "
        "output to a folder: the example patient's 4-cycle dosimetry (TIA, absorbed dose, BED, "
        "EQD2, EUD); the course kidney and lesion BED of a 4-centre cohort "
        "(sim_lu177_multicentre_samples) from its time-activity samples; partially pooled "
        "kidney NTCP and lesion TCP fits with their diagnostics; the example patient's "
        "activity per cycle (expected new-centre kidney NTCP 5%); and the physician report "
        "(report.html). Progress goes to standard error, results to standard output.",
    )
    p.add_argument("--out", default="doseresponse-demo", help="output folder "
                   "(default: doseresponse-demo)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--seed", type=_nonnegative_int, default=None,
                   help="seed of the fits and the prescription (default: the demo's fixed seed)")


def _add_bed(sub, common) -> None:
    p = _command(sub, common, "bed",
                 "BED and EQD2 of a mono-exponential (or uptake) delivery",
                 ["doseresponse bed --dose 5 --effective-half-life 50 --tissue kidney"], _cmd_bed)
    p.add_argument("--dose", type=float, required=True, help="absorbed dose (Gy)")
    p.add_argument("--effective-half-life", type=float, required=True, help="h")
    p.add_argument("--uptake-half-life", type=float, default=None, help="h (optional)")
    p.add_argument("--tissue", default=None, help="tissue preset, e.g. kidney")
    p.add_argument("--alpha-beta", type=float, default=None, help="α/β (Gy)")
    p.add_argument("--repair-half-time", type=float, default=None, help="h")


def _add_voxel(sub, common) -> None:
    p = _command(
        sub, common, "voxel", "per-organ dose, DVH points, gEUD, BED and EUBED of a voxel map",
        ["doseresponse voxel dose.dcm segmentation.nii.gz --names kidney=1 tumour=2 \\\n"
         "    --effective-half-life 50 --tissue kidney --alpha 0.15 --bed-out bed.nii.gz",
         "doseresponse voxel rate.nii.gz RS.dcm --series ct/ --roi Kidney_L --quantity "
         "dose_rate \\\n    --unit Gy/h --time-h 24 --half-life-map teff.nii.gz --tissue "
         "kidney -o organs.csv"],
        _cmd_voxel,
        description="Read an absorbed-dose (or dose-rate) map from DICOM RTDOSE or NIfTI and a "
        "segmentation (NIfTI label map, or DICOM RTSTRUCT with --series, which needs the "
        "rtstruct extra), compute the voxel BED map with one effective half-life or a "
        "half-life map, and print per organ the volume, mean/min/max dose, D2/D50/D98, "
        "optional gEUD, mean BED and optional EUBED. --bed-out writes the BED map (NIfTI for "
        ".nii/.nii.gz, else DICOM RTDOSE); -o writes the table as CSV.",
    )
    p.add_argument("dose", metavar="DOSE", help="RTDOSE .dcm or NIfTI .nii/.nii.gz map")
    p.add_argument("labels", metavar="LABELS", help="NIfTI label map, or RTSTRUCT with --series")
    p.add_argument("--names", action="extend", nargs="+", type=_key_label, default=[],
                   metavar="ORGAN=LABEL", help="organ names of label values (default: label_N)")
    p.add_argument("--series", default=None, metavar="DIR",
                   help="image series folder of an RTSTRUCT given as LABELS")
    p.add_argument("--roi", action="extend", nargs="+", default=[], metavar="NAME",
                   help="RTSTRUCT ROIs to read (default: all)")
    p.add_argument("--quantity", choices=("dose", "dose_rate"), default=None,
                   help="what DOSE holds (required for NIfTI; RTDOSE: dose)")
    p.add_argument("--unit", default=None,
                   help="unit of DOSE: Gy, cGy, mGy, Gy/h, mGy/h (required for NIfTI)")
    p.add_argument("--time-h", type=float, default=None, metavar="H",
                   help="time of a dose-rate map after administration (h)")
    p.add_argument("--effective-half-life", type=float, default=None, metavar="H",
                   help="effective half-life of every voxel (h)")
    p.add_argument("--half-life-map", default=None, metavar="FILE",
                   help="NIfTI effective half-life map (h) on the dose grid")
    p.add_argument("--tissue", default=None, metavar="PRESET",
                   help="tissue preset for α/β and T_rep, e.g. kidney")
    p.add_argument("--alpha-beta", type=float, default=None, metavar="GY", help="α/β (Gy)")
    p.add_argument("--repair-half-time", type=float, default=None, metavar="H",
                   help="repair half-time (h)")
    p.add_argument("--alpha", type=float, default=None, metavar="PER_GY",
                   help="α (1/Gy) for EUBED")
    p.add_argument("--geud-a", type=float, default=None, metavar="A",
                   help="gEUD volume-effect parameter a")
    p.add_argument("--bed-out", default=None, metavar="FILE", help="write the BED map")
    p.add_argument("-o", "--output", default=None, metavar="organs.csv",
                   help="write the table as CSV")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _key_label(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"expected ORGAN=LABEL with a label > 0 such as "
                                         f"kidney=1, got {text!r}")
    return name, int(value)


def _add_tables(sub, common) -> None:
    for name, text in (("tissues", "tissue presets"), ("nuclides", "nuclide data")):
        _command(sub, common, name, f"print the {text}", [f"doseresponse {name}"], _cmd_table)


def _ci_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ci-prob", type=_open_unit, default=None, metavar="PROB",
                        help="probability of the intervals in (0, 1) (default: 0.95)")


def _prediction_options(parser: argparse.ArgumentParser, *, seed: bool = True) -> None:
    parser.add_argument("--which", default="population",
                        help="population (typical centre, default), new_study (a new centre: "
                        "includes between-study spread) or a study label")
    parser.add_argument("--covariate", action="extend", nargs="+", type=_key_value,
                        default=[], metavar="NAME=VALUE",
                        help="covariate values, e.g. htn=1 (a covariate not given is 0)")
    _ci_option(parser)
    if seed:
        parser.add_argument("--seed", type=int, default=None,
                            help="seed of the new-centre random effects (default: the "
                            "package's fixed seed, so repeated calls agree)")


def _example(*lines: str) -> str:
    return "example" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(
        f"  {line}" for line in lines
    )


# ---------------------------------------------------------------------------------- arguments


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a dose >= 0, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite dose >= 0, got {text!r}")
    return value


def _open_unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a probability in (0, 1) such as 0.05, got {text!r}"
        ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a probability in (0, 1) such as 0.05, got {text!r}"
        )
    return value


def _key_value(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not name or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER such as htn=1, got {text!r}")
    return name, number


def _fit_mapping(args: argparse.Namespace) -> dict[str, Any]:
    if args.outcome is None and (args.events is None or args.n is None):
        raise UsageError(
            "give --outcome COL (patient rows) or both --events COL and --n COL (dose bins)."
        )
    if (args.events is None) != (args.n is None):
        raise UsageError("--events and --n go together: give both columns, or neither.")
    if args.measurement_error == "lognormal" and not (args.dose_se or args.dose_rel_se):
        raise UsageError("--measurement-error lognormal needs --dose-se COL or --dose-rel-se COL.")
    mapping: dict[str, Any] = {
        "dose": args.dose, "outcome": args.outcome, "events": args.events, "n": args.n,
        "study": args.study, "patient": args.patient, "dose_se": args.dose_se,
        "dose_rel_se": args.dose_rel_se, "covariates": list(args.covariate),
        "study_covariates": list(args.study_covariate), "dose_metric": args.dose_metric,
        "dose_unit": args.dose_unit, "outcome_name": args.outcome_name,
    }
    return {k: v for k, v in mapping.items() if v is not None}


def _covariates(args: argparse.Namespace) -> dict[str, float] | None:
    values = dict(args.covariate)
    if len(values) != len(args.covariate):
        raise UsageError("--covariate: each name may be given once.")
    return values or None


def _ci(args: argparse.Namespace) -> dict[str, float]:
    return {} if args.ci_prob is None else {"ci_prob": args.ci_prob}


def _seed(args: argparse.Namespace) -> dict[str, int]:
    return {} if args.seed is None else {"random_seed": args.seed}


# ---------------------------------------------------------------------------------- files


def _existing_file(path: str, what: str) -> str:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {path}: no such file; check the path.")
    if p.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give a file.")
    return path


def _load_fit(path: str):
    import doseresponse as dr

    return dr.load(_existing_file(path, "fit file"))


def _load_comparable_fit(path: str):
    """A saved FittedModel or LateToxicityFit (``compare`` ranks either kind)."""
    import doseresponse as dr
    from doseresponse.models.io import saved_format
    from doseresponse.models.late_io import LATE_FORMAT, load_late_fit

    path = _existing_file(path, "fit file")
    if saved_format(path) == LATE_FORMAT:
        return load_late_fit(path)
    return dr.load(path)


def _check_output(path: str, overwrite: bool, option: str) -> Path:
    """Refuse an existing output (without --overwrite) or a missing folder before any work."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder; give a file name.")
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"{option} {path} already exists; pass --overwrite to replace it, or choose "
            "another name."
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{option} {path}: folder {parent} does not exist; create it.")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"{option} {path}: folder {parent} is not writable; choose "
                              "another folder.")
    return out


# ---------------------------------------------------------------------------------- output


def _print_json(payload: Any) -> None:
    print(json.dumps(_jsonable(payload), indent=2, ensure_ascii=False, allow_nan=False))


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become None."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _records(frame) -> list[dict[str, Any]]:
    return [_jsonable(row) for row in frame.to_dict(orient="records")]


def _dose_at_record(result) -> dict[str, Any]:
    record = {key: result[key] for key in result if key != "draws"}
    for name in ("p", "which", "metric", "unit", "ci_prob", "label", "covariates",
                 "n_at_zero", "interval", "method"):
        record[name] = getattr(result, name)
    return _jsonable(record)


def _fit_record(fit, ci_prob: float | None) -> dict[str, Any]:
    spec, data = fit.spec, fit.data
    summary = fit.summary_frame(**({} if ci_prob is None else {"ci_prob": ci_prob}))
    diag = fit.diagnostics()
    post = fit.posterior
    return _jsonable({
        "model": {"kind": spec.kind, "curve": spec.curve, "pooling": spec.pooling,
                  "pool_slope": spec.pool_slope, "covariates": list(spec.covariates),
                  "study_covariates": list(spec.study_covariates),
                  "measurement_error": spec.measurement_error, "priors": spec.priors,
                  "dose_metric": spec.dose_metric, "dose_unit": spec.dose_unit},
        "data": {"studies": list(data.studies), "n_patients": data.n_patients,
                 "n_events": data.n_events, "outcome": data.outcome_name},
        "sampling": {"chains": int(post.sizes["chain"]), "draws": int(post.sizes["draw"])},
        "ci_prob": summary.attrs.get("ci_prob"),
        "parameters": _records(summary.reset_index()),
        "diagnostics": _records(diag),
        "diagnostics_ok": bool(diag["ok"].all()),
    })


def _diagnostics_lines(diag) -> list[str]:
    ok = bool(diag["ok"].all())
    lines = ["convergence diagnostics: " + (
        "all passed" if ok else "FAILED - do not report these intervals until the fit is redone"
    )]
    for row in diag.itertuples():
        if row.check == "divergences":
            what = f"divergent transitions after warm-up: {int(row.value)} (must be 0)"
        elif row.check == "r_hat":
            what = (f"worst R-hat (chains agree): {row.value:.3f} at {row.worst_parameter} "
                    f"(must be <= {row.threshold:g})")
        else:
            label = "bulk" if row.check == "ess_bulk" else "tail"
            what = (f"smallest {label} effective sample size: {row.value:.0f} at "
                    f"{row.worst_parameter} (must be >= {row.threshold:g})")
        status = "ok    " if row.ok else "FAILED"
        fix = "" if row.ok else f"; fix: {_CLI_FIX.get(row.check, row.fix)}"
        lines.append(f"  {status} {what}{fix}")
    return lines


def _describe_which(which: str) -> str:
    return {"population": "typical centre (population)",
            "new_study": "new centre (new_study)"}.get(which, f"study {which}")


def _print_dataset_info(info: Mapping[str, Any]) -> None:
    print(f"{info['name']}: {info['title']}")
    print(f"  {info['description']}")
    print(f"kind: {info['kind']}; level: {info['level']}; rows: {info['n_rows']}")
    print(f"outcome: {info['outcome']}")
    print(f"dose: {info['dose_metric']} [{info['dose_unit']}]")
    columns = info.get("columns") or {}
    if columns:
        print("columns:")
        for name, meta in columns.items():
            text = meta if isinstance(meta, str) else "; ".join(
                f"{v}" for v in (meta.get("description"), meta.get("unit")) if v
            )
            print(f"  {name}: {text}")
    for citation in info.get("citations") or []:
        print(f"citation: {citation}")
    print(f"licence: {info['licence']}")
    print(f"write it as CSV: doseresponse datasets {info['name']} --csv {info['name']}.csv")


@contextlib.contextmanager
def _wide_pandas() -> Iterator[None]:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        yield


def _note(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- plans

# PLAN.json keys (docs/plan_schema.md): top level, per region, per literature curve
_PLAN_KEYS = ("description", "regions", "curves", "objective", "cycles", "activity_per_cycle",
              "max_cycles", "ntcp_limit", "risk", "target_tcp", "limits", "which",
              "new_study", "covariates", "ci_prob", "max_activity_gbq", "random_seed")
_REGION_KEYS = ("gy_per_gbq", "effective_half_life", "tissue", "alpha_beta",
                "repair_half_time", "uptake_half_life", "rel_se")
_CURVE_KEYS = ("curve", "d50", "slope", "dose_metric", "dose_unit", "kind", "label")
_CURVE_REQUIRED = ("curve", "d50", "slope", "dose_metric", "dose_unit")


class PlanInputError(DoseResponseError):
    """A PLAN.json input is invalid; the message names the key and the fix (exit status 1)."""


def _read_json(path: str, what: str) -> Any:
    text = Path(_existing_file(path, what)).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PlanInputError(f"{path} is not valid JSON ({exc}); fix the syntax (see "
                             "docs/plan_schema.md for an example).") from None


def _plan_error(path: str, key: str, text: str) -> PlanInputError:
    return PlanInputError(f"{path}: {key}: {text} (see docs/plan_schema.md)")


def _check_keys(path: str, where: str, value: Any, allowed: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _plan_error(path, where or "top level",
                          f"expected a JSON object {{...}}, got {type(value).__name__}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise _plan_error(path, f"{where + '.' if where else ''}{unknown[0]}",
                          f"unknown key; use one of {', '.join(allowed)}")
    return value


def _plan_number(path: str, key: str, value: Any, *, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (not integer and not math.isfinite(value)):
        kind = "a whole number" if integer else "a number"
        raise _plan_error(path, key, f"expected {kind}, got {json.dumps(value)}")
    return value


def _plan_inputs(path: str) -> dict[str, Any]:
    """Validate PLAN.json and return the keyword arguments of ``rx.prescribe``."""
    import doseresponse as dr
    from doseresponse import prescribe as rx

    data = _check_keys(path, "", _read_json(path, "PLAN.json"), _PLAN_KEYS)
    for key in ("regions", "curves"):
        if key not in data:
            raise _plan_error(path, key, "missing; every plan needs 'regions' and 'curves'")
    regions: dict[str, Any] = {}
    for name, spec in _check_keys(path, "regions", data["regions"], list(data["regions"])
                                  if isinstance(data["regions"], dict) else ()).items():
        where = f"regions.{name}"
        spec = _check_keys(path, where, spec, _REGION_KEYS)
        for key in ("gy_per_gbq", "effective_half_life"):
            if key not in spec:
                raise _plan_error(path, f"{where}.{key}", "missing; give it (Gy/GBq, h)")
        for key, value in spec.items():
            if key == "tissue":
                if not isinstance(value, str):
                    raise _plan_error(path, f"{where}.tissue", "expected a tissue name such as "
                                      "\"kidney\" ('doseresponse tissues' lists them)")
            elif key == "gy_per_gbq" and isinstance(value, list):
                for i, v in enumerate(value):
                    _plan_number(path, f"{where}.gy_per_gbq[{i}]", v)
            elif value is not None:
                _plan_number(path, f"{where}.{key}", value)
        try:
            regions[name] = rx.Region(spec["gy_per_gbq"], **{k: v for k, v in spec.items()
                                                              if k != "gy_per_gbq"})
        except DoseResponseError as exc:
            raise _plan_error(path, where, _one_line(exc)) from None
    if not regions:
        raise _plan_error(path, "regions", "empty; give at least one region")
    folder = Path(path).resolve().parent
    tcp: dict[str, Any] = {}
    ntcp: dict[str, Any] = {}
    curves = data["curves"]
    if not isinstance(curves, dict) or not curves:
        raise _plan_error(path, "curves", "expected an object of region name to fit file or "
                          "curve parameters, e.g. {\"kidney\": \"kidney_fit.nc\"}")
    for name, source in curves.items():
        where = f"curves.{name}"
        if name not in regions:
            raise _plan_error(path, where, f"no region {name!r}; add it to 'regions' or use one "
                              f"of {', '.join(regions)}")
        if isinstance(source, str):
            fit_path = folder / source
            if not fit_path.is_file():
                raise _plan_error(path, where, f"fit file {fit_path} not found; the path is "
                                  "relative to the folder of the plan file")
            curve = dr.load(fit_path)
            kind = curve.spec.kind
        else:
            spec = _check_keys(path, where, source, _CURVE_KEYS)
            missing = [k for k in _CURVE_REQUIRED if k not in spec]
            if missing:
                raise _plan_error(path, f"{where}.{missing[0]}",
                                  "missing; a literature curve needs " + ", ".join(_CURVE_REQUIRED))
            for key in ("d50", "slope"):
                values = spec[key] if isinstance(spec[key], list) else [spec[key]]
                for v in values:
                    _plan_number(path, f"{where}.{key}", v)
            try:
                curve = dr.ResponseCurve(spec["curve"], **{k: v for k, v in spec.items()
                                                           if k != "curve"})
            except DoseResponseError as exc:
                raise _plan_error(path, where, _one_line(exc)) from None
            kind = curve.kind
        (tcp if kind == "TCP" else ntcp)[name] = curve
    kwargs: dict[str, Any] = {"tcp": tcp or None, "ntcp": ntcp or None}
    for key in ("cycles", "max_cycles", "random_seed"):
        if data.get(key) is not None:
            kwargs[key] = _plan_number(path, key, data[key], integer=True)
    for key in ("activity_per_cycle", "risk", "target_tcp", "ci_prob", "max_activity_gbq"):
        if data.get(key) is not None:
            kwargs[key] = _plan_number(path, key, data[key])
    if "ntcp_limit" in data:  # null: no NTCP constraint
        if data["ntcp_limit"] is not None:
            _plan_number(path, "ntcp_limit", data["ntcp_limit"])
        kwargs["ntcp_limit"] = data["ntcp_limit"]
    for key in ("objective", "new_study"):
        if key in data:
            if not isinstance(data[key], str):
                raise _plan_error(path, key, f"expected a string, got {json.dumps(data[key])}")
            kwargs[key] = data[key]
    if "which" in data:
        which = data["which"]
        if not (isinstance(which, str) or (isinstance(which, dict) and all(
                isinstance(v, str) for v in which.values()))):
            raise _plan_error(path, "which", "expected \"new_study\", \"population\", a study "
                              "label, or an object of region name to one of these")
        kwargs["which"] = which
    if "limits" in data:
        limits = _check_keys(path, "limits", data["limits"], list(regions))
        checked = {}
        for name, value in limits.items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
                checked[name] = (_plan_number(path, f"limits.{name}[0]", value[0]), value[1])
            else:
                checked[name] = _plan_number(path, f"limits.{name}", value)
        kwargs["limits"] = checked
    if "covariates" in data:
        cov = _check_keys(path, "covariates", data["covariates"], list(curves))
        kwargs["covariates"] = {
            name: {k: _plan_number(path, f"covariates.{name}.{k}", v)
                   for k, v in _check_keys(path, f"covariates.{name}", values,
                                           list(values) if isinstance(values, dict) else ()
                                           ).items()}
            for name, values in cov.items()
        }
    if "cycles" in kwargs and "activity_per_cycle" in kwargs:
        raise _plan_error(path, "cycles", "give either 'cycles' (the activity is decided) or "
                          "'activity_per_cycle' with 'max_cycles' (the cycles are decided), "
                          "not both")
    return {"regions": regions, **kwargs}


def _run_plan(path: str, seed: int | None = None):
    from doseresponse import prescribe as rx

    inputs = _plan_inputs(path)
    regions = inputs.pop("regions")
    if seed is not None:  # --seed overrides the file's random_seed
        inputs["random_seed"] = seed
    try:
        return rx.prescribe(regions, **inputs)
    except PlanInputError:
        raise
    except DoseResponseError as exc:
        raise PlanInputError(f"{path}: {_one_line(exc)} (see docs/plan_schema.md)") from None


def _plan_record(plan) -> dict[str, Any]:
    record = {k: v for k, v in plan.to_dict().items() if k not in ("activity_table",)}
    record["optimum"] = {k: v for k, v in plan.optimum.items() if k != "draws"}
    return _jsonable(record)


def _print_plan(plan) -> None:
    print(f"prescription ({plan.settings['objective']}): {plan.activity_gbq:.4g} GBq per "
          f"cycle x {plan.cycles} cycles = {plan.total_activity_gbq:.4g} GBq")
    print(f"limiting: {plan.limiting}; {plan.reason}")
    views = sorted({c["view"] for c in plan.curves})
    if views:
        print("prediction: " + "; ".join(views))
    frame = plan.summary_frame()
    columns = ["quantity", "region", "detail", "measured", "mean", "median", "lower", "upper",
               "unit"]
    print(f"mean = expected (predictive) value; lower/upper = "
          f"{100 * plan.settings['ci_prob']:g} % interval over draws")
    with _wide_pandas():
        print(frame[columns].to_string(index=False, float_format=_FLOAT.format, na_rep=""))
    for flag in plan.flags:
        _warn(flag)


def _cmd_prescribe(args: argparse.Namespace) -> int:
    out = None if args.output is None else _check_output(args.output, args.overwrite, "-o")
    plan = _run_plan(args.plan, args.seed)
    if out is not None:
        plan.save(out, overwrite=args.overwrite)
    if args.json:
        _print_json({**_plan_record(plan), "output": None if out is None else str(out)})
        return EXIT_OK
    _print_plan(plan)
    if out is not None:
        print(f"\nplan saved to {out}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from doseresponse.report import write_report

    suffix = Path(args.output).suffix.lower()
    if suffix not in (".html", ".htm"):
        raise UsageError(f"-o {args.output}: the report is HTML; end the name in .html.")
    out = _check_output(args.output, args.overwrite, "-o")
    fit = _load_report_source(args.fit)
    tcp = None if args.tcp is None else _load_report_source(args.tcp)
    plan = None
    if args.plan is not None:
        from doseresponse import prescribe as rx
        from doseresponse.prescribe.plan import PLAN_FORMAT

        data = _read_json(args.plan, "--plan")
        if isinstance(data, dict) and data.get("format") == PLAN_FORMAT:
            plan = rx.load_plan(args.plan)
        else:
            _note(args, f"prescribing from {args.plan}")
            plan = _run_plan(args.plan)
    _note(args, "writing the report")
    path = write_report(fit, out, tcp=tcp, plan=plan, overwrite=args.overwrite,
                        figures=tuple(args.figures), **_ci(args))
    figures = sorted(str(p) for p in path.parent.glob(f"{path.stem}_*")
                     if p.suffix.lstrip(".") in args.figures)
    if args.json:
        _print_json({"output": str(path), "figures": figures})
    else:
        print(f"report written to {path}")
        for figure in figures:
            print(f"figure written to {figure}")
    return EXIT_OK


def _load_report_source(path: str):
    """A fit file, or a model-average folder (from 'doseresponse compare --average -o DIR')."""
    import doseresponse as dr

    if Path(path).is_dir():
        return dr.load_average(path)
    return _load_fit(path)


def _add_prescribe(sub, common) -> None:
    p = _command(
        sub, common, "prescribe", "prescribe the activity (or cycles) for a patient from a "
        "PLAN.json file",
        ["doseresponse prescribe plan.json",
         "doseresponse prescribe plan.json --json -o plan_result.json"],
        _cmd_prescribe,
        description="Read PLAN.json (the patient's regions with Gy/GBq per cycle and kinetics, "
        "one TCP/NTCP curve per region as a saved fit file or literature parameters, and the "
        "objective; schema and example: docs/plan_schema.md and "
        "doseresponse/examples/plan_example.json), prescribe, and print the decision: activity "
        "per cycle, cycles, what limits it, each region's course dose and each curve's "
        "expected probability with its interval and which prediction it is. -o saves the plan "
        "(JSON, readable by 'doseresponse report --plan' and rx.load_plan).",
    )
    p.add_argument("plan", metavar="PLAN.json", help="prescription input (docs/plan_schema.md)")
    p.add_argument("-o", "--output", metavar="PLAN_RESULT.json", default=None,
                   help="save the plan as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the dosimetry and new-centre draws (default: the file's "
                   "random_seed, else the package's fixed seed)")


def _add_report(sub, common) -> None:
    p = _command(
        sub, common, "report", "write the physician report of a fit as one self-contained "
        "HTML file",
        ["doseresponse report kidney.nc -o report.html",
         "doseresponse report kidney.nc --tcp tumour.nc --plan plan.json -o report.html "
         "--figures png pdf",
         "doseresponse report average/ -o report.html"],
        _cmd_report,
        description="Write one HTML file that opens from disk without a network: the data in "
        "words, the fitted curves with bands for a typical and a new centre, the study forest "
        "plot, the tolerance-dose table, the diagnostics, the model and priors, and an "
        "interactive dose lookup computed from embedded posterior draws. --tcp adds a tumour "
        "fit, --plan a prescription (a plan saved by 'doseresponse prescribe -o', or a "
        "PLAN.json input, prescribed first). A model-average folder (written by "
        "'doseresponse compare --average -o DIR') may replace a fit file: its curves and "
        "doses are those of the mixture, and the page shows the weights and member models.",
    )
    p.add_argument("fit", metavar="FIT.nc",
                   help="fit file written by 'doseresponse fit', or a model-average folder")
    p.add_argument("--tcp", metavar="TCP.nc", default=None,
                   help="tumour-control fit file (or model-average folder)")
    p.add_argument("--plan", metavar="PLAN.json", default=None,
                   help="saved plan or PLAN.json input")
    p.add_argument("-o", "--output", required=True, metavar="report.html",
                   help="HTML file to write")
    p.add_argument("--figures", nargs="+", choices=_PLOT_FORMATS, default=[], metavar="FORMAT",
                   help="also write each figure as png, pdf and/or svg next to the HTML")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing report (and figure files)")
    _ci_option(p)


_TIME_UNITS = ("h", "min", "d")  # the units of read_time_activity_samples (tested equal)
_ACTIVITY_UNITS = ("MBq", "kBq", "GBq", "%IA")
_INJECTED_UNITS = ("MBq", "kBq", "GBq")
_MASS_UNITS = ("kg", "g")
_DOSIMETRY_COLUMNS = ["region", "cycle", "n_points", "model", "tia_mbq_h", "tia_se_mbq_h",
                      "effective_half_life_h", "dose_gy", "dose_se_gy", "bed_gy", "bed_se_gy",
                      "eqd2_gy", "alpha_beta_gy", "flags"]


def _cmd_dosimetry(args: argparse.Namespace) -> int:
    import pandas as pd

    from doseresponse.radiobiology import (
        eqd,
        get_nuclide,
        masses_by_region_and_cycle,
        multicycle_dosimetry,
        tissue_parameters,
    )

    out = None if args.output is None else _check_output(args.output, args.overwrite, "-o")
    with _usage_errors():
        nuclide = get_nuclide(args.nuclide).name
    _check_dosimetry_options(args)
    masses = _unique_pairs(args.mass, "--mass")
    tissue_names = _unique_pairs(args.tissue, "--tissue")
    samples = _dosimetry_samples(args)
    regions = list(dict.fromkeys(samples["region"]))
    unknown = [r for r in {**masses, **tissue_names} if r not in regions]
    if unknown:
        raise UsageError(f"region {unknown[0]!r} is not in {args.samples} (regions: "
                         f"{', '.join(regions)}).")
    if args.mass_col is not None:
        try:  # per-cycle masses from the table: {region: {cycle: kg}}
            masses = masses_by_region_and_cycle(samples)
        except DoseResponseError as err:
            raise DoseResponseError(f"{args.samples}: {err}") from None
    no_mass = [r for r in regions if r not in masses]
    if no_mass:
        raise UsageError(f"--mass: no mass for region {no_mass[0]!r}; add --mass "
                         f"{no_mass[0]}=KG, or give a mass column with --mass-col COL "
                         f"(regions: {', '.join(regions)}).")
    tissues = {}
    for region in regions:
        name = tissue_names.get(region, region)
        try:
            tissues[region] = tissue_parameters(name)
        except DoseResponseError:
            raise UsageError(
                f"--tissue: no tissue preset {name!r} for region {region!r}; add --tissue "
                f"{region}=PRESET ('doseresponse tissues' lists them)."
            ) from None
    _note(args, f"fitting {len(samples)} samples: {len(regions)} regions, "
                f"{samples['cycle'].nunique()} cycles, {nuclide}")
    population = _unique_pairs(args.population_half_life, "--population-half-life")
    unknown = [r for r in population if r not in regions]
    if unknown:
        raise UsageError(f"--population-half-life: region {unknown[0]!r} is not in "
                         f"{args.samples} (regions: {', '.join(regions)}).")
    result = multicycle_dosimetry(
        samples, masses_kg=masses, tissues=tissues, nuclide=nuclide, model=args.model,
        single_time_point=args.single_time_point,
        population_half_life_h=population or None,
        half_life_rel_sd=args.half_life_rel_sd, calibration_rel_sd=args.calibration_rel_sd,
        partial_volume_rel_sd=args.partial_volume_rel_sd,
        systematic_correlated_across_cycles=not args.independent_systematics)
    per_cycle = result.per_cycle.copy()
    alpha_beta = {r: tissues[r].alpha_beta for r in regions}
    per_cycle["alpha_beta_gy"] = per_cycle["region"].map(alpha_beta)
    per_cycle["eqd2_gy"] = [float(eqd(b, alpha_beta=ab)) for b, ab
                            in zip(per_cycle["bed_gy"], per_cycle["alpha_beta_gy"], strict=True)]
    per_cycle["cycle"] = per_cycle["cycle"].astype(str)
    course = result.per_region.copy()
    sums = result.per_cycle.groupby("region", sort=False)
    course["cycle"] = "course"
    course["model"] = ""
    course["n_points"] = course["region"].map(sums["n_points"].sum())
    course["tia_mbq_h"] = course["region"].map(sums["tia_mbq_h"].sum())
    course["tia_se_mbq_h"] = math.nan  # per-cycle TIA errors are partly correlated: not summed
    course["effective_half_life_h"] = math.nan
    course["flags"] = course["se_excluded_cycles"].map(
        lambda c: f"cycles {c} left out of the course SE" if c else "")
    frame = pd.concat([per_cycle[_DOSIMETRY_COLUMNS], course[_DOSIMETRY_COLUMNS]],
                      ignore_index=True)
    order = {r: i for i, r in enumerate(regions)}
    frame = frame.sort_values("region", key=lambda s: s.map(order), kind="stable")
    if out is not None:
        frame.to_csv(out, index=False)
    if args.json:
        _print_json({"rows": _records(frame), "output": None if out is None else str(out)})
        return EXIT_OK
    print(f"{nuclide} dosimetry of {args.samples}: per cycle and course totals (TIA MBq·h, "
          "doses Gy; SE = standard error; course BED sums the cycles)")
    columns = ["region", "cycle", "model", "tia_mbq_h", "tia_se_mbq_h", "dose_gy",
               "dose_se_gy", "bed_gy", "bed_se_gy", "eqd2_gy"]
    with _wide_pandas():
        print(frame[columns].to_string(index=False, float_format="{:.4g}".format, na_rep=""))
    if out is not None:
        print(f"\ndoses saved to {out}")
    return EXIT_OK


def _check_dosimetry_options(args: argparse.Namespace) -> None:
    """Usage errors of option combinations, before any file is read."""
    if args.mass and args.mass_col is not None:
        raise UsageError("give region masses either with --mass REGION=KG or from the table "
                         "with --mass-col COL, not both.")
    if not args.mass and args.mass_col is None:
        raise UsageError("region masses are needed: --mass REGION=KG ... or --mass-col COL.")
    if args.injected_activity is not None and args.injected_activity_col is not None:
        raise UsageError("give the administered activity either with --injected-activity or "
                         "with --injected-activity-col, not both.")
    injected = args.injected_activity is not None or args.injected_activity_col is not None
    if args.activity_unit == "%IA" and not injected:
        raise UsageError("--activity-unit %IA needs the administered activity: "
                         "--injected-activity MBQ (or CYCLE=MBQ ...) or "
                         "--injected-activity-col COL.")
    if args.patient is not None and args.patient_col is None:
        raise UsageError("--patient needs the patient column: --patient-col COL.")
    if args.region is not None and args.region_col != "region":
        raise UsageError("--region NAME (no region column) and --region-col COL exclude each "
                         "other.")


def _dosimetry_samples(args: argparse.Namespace):
    """SAMPLES.csv through :func:`read_time_activity_samples` with the column and unit options.

    Returns the package's tidy samples (one patient's rows when the table has several).
    """
    import pandas as pd

    from doseresponse.radiobiology import read_time_activity_samples

    table = pd.read_csv(_existing_file(args.samples, "SAMPLES.csv"))
    columns = {"time": args.time_col, "activity": args.activity_col,
               "cycle": None if args.one_cycle else args.cycle_col,
               "region": None if args.region is not None else args.region_col,
               "patient": args.patient_col, "activity-sd": args.activity_sd_col,
               "injected-activity": args.injected_activity_col, "mass": args.mass_col}
    missing = [(what, col) for what, col in columns.items()
               if col is not None and col not in table.columns]
    if missing:
        what, col = missing[0]
        hint = {"cycle": " (or --one-cycle if the table has one cycle)",
                "region": " (or --region NAME if the table holds one region)"}.get(what, "")
        raise DoseResponseError(
            f"{args.samples} has no column {col!r} (it has {', '.join(map(str, table.columns))});"
            f" name the {what} column with --{what}-col COL{hint}."
        )
    injected_col = args.injected_activity_col
    if args.injected_activity is not None:
        injected_col = _injected_activity_column(table, args)
    try:  # the one reader of time-activity tables (units, ranges) shared with the Python API
        samples = read_time_activity_samples(
            table, time=args.time_col, activity=args.activity_col,
            cycle=columns["cycle"], region=columns["region"], patient=args.patient_col,
            activity_sd=args.activity_sd_col, injected_activity=injected_col,
            mass=args.mass_col, time_unit=args.time_unit, activity_unit=args.activity_unit,
            injected_activity_unit=args.injected_activity_unit, mass_unit=args.mass_unit,
            default_region=args.region or "region")
    except DoseResponseError as err:
        raise DoseResponseError(f"{args.samples}: {err}") from None
    if args.patient_col is not None:
        patients = list(dict.fromkeys(samples["patient"]))
        if args.patient is None and len(patients) > 1:
            raise UsageError(f"{args.samples} holds {len(patients)} patients "
                             f"({', '.join(patients[:5])}{', ...' if len(patients) > 5 else ''}"
                             "); choose one with --patient LABEL.")
        if args.patient is not None:
            if args.patient not in patients:
                raise UsageError(f"--patient {args.patient!r} is not in the {args.patient_col!r}"
                                 f" column of {args.samples} (patients: "
                                 f"{', '.join(patients)}).")
            samples = samples[samples["patient"] == args.patient].reset_index(drop=True)
        samples = samples.drop(columns="patient")
    return samples


def _injected_activity_column(table, args: argparse.Namespace) -> str:
    """Add the --injected-activity value(s) to ``table`` as a column; return its name."""
    values = args.injected_activity
    name = "__injected_activity__"
    if len(values) == 1 and values[0][0] is None:
        table[name] = values[0][1]
        return name
    if any(cycle is None for cycle, _ in values):
        raise UsageError("--injected-activity: give one value for every cycle, or CYCLE=VALUE "
                         "pairs such as 1=7400 2=7400, not a mix.")
    per_cycle = _unique_pairs(values, "--injected-activity")
    if args.one_cycle:
        raise UsageError("--injected-activity CYCLE=VALUE needs a cycle column; with "
                         "--one-cycle give one value.")
    cycles = _cycle_labels(table[args.cycle_col])
    missing = sorted({c for c in cycles if c not in per_cycle}, key=str)
    if missing:
        raise UsageError(f"--injected-activity: no value for cycle {missing[0]}; add "
                         f"{missing[0]}=VALUE (or one value for every cycle).")
    table[name] = [per_cycle.get(c, math.nan) for c in cycles]
    return name


def _cycle_labels(column) -> list[Any]:
    """Cycle labels of the table as ints where they are whole numbers (else as written)."""
    out: list[Any] = []
    for value in column:
        try:
            number = float(value)
        except (TypeError, ValueError):
            out.append(value)
            continue
        out.append(int(number) if math.isfinite(number) and number.is_integer() else value)
    return out


def _unique_pairs(pairs: Sequence[tuple[str, Any]], option: str) -> dict[str, Any]:
    values = dict(pairs)
    if len(values) != len(pairs):
        raise UsageError(f"{option}: each region may be given once.")
    return values


def _key_text(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected REGION=NAME such as kidney=kidney, "
                                         f"got {text!r}")
    return name, value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a relative SD >= 0 such as 0.05, got "
                                         f"{text!r}")
    return value


def _key_half_life(text: str) -> tuple[str, float | tuple[float, float]]:
    name, sep, value = text.partition("=")
    mean_text, colon, sd_text = value.partition(":")
    try:
        mean = float(mean_text)
        sd = float(sd_text) if colon else 0.0
    except ValueError:
        mean = sd = math.nan
    if not sep or not name or not (math.isfinite(mean) and mean > 0 and math.isfinite(sd)
                                   and sd >= 0):
        raise argparse.ArgumentTypeError(f"expected REGION=H or REGION=H:SD with a half-life "
                                         f"> 0 h such as kidneys=50:10, got {text!r}")
    return name, ((mean, sd) if colon else mean)


def _key_injected(text: str) -> tuple[int | None, float]:
    cycle_text, sep, value = text.rpartition("=")
    try:
        number = float(value)
        cycle = int(cycle_text) if sep else None
    except ValueError:
        number, cycle = math.nan, None
    if (sep and (cycle is None or cycle < 1)) or not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"expected an activity > 0 (e.g. 7400) or CYCLE=A "
                                         f"with a cycle >= 1 (e.g. 2=7400), got {text!r}")
    return cycle, number


def _key_mass(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not name or not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"expected REGION=KG with a mass > 0 such as "
                                         f"kidneys=0.3, got {text!r}")
    return name, number


def _add_dosimetry(sub, common) -> None:
    p = _command(
        sub, common, "dosimetry", "per-cycle and course TIA, absorbed dose, BED and EQD2 of "
        "scan samples",
        ["doseresponse dosimetry samples.csv --nuclide Lu-177 --mass kidneys=0.3 "
         "tumour=0.02 -o doses.csv",
         "doseresponse dosimetry scans.csv --time-col days --time-unit d --activity-col kbq "
         "\\\n    --activity-unit kBq --mass left_kidney=0.15 --tissue left_kidney=kidney",
         "doseresponse dosimetry cohort.csv --patient-col id --patient P07 --activity-col "
         "pct \\\n    --activity-unit %IA --injected-activity 1=7400 2=7400 3=7200 "
         "4=7400 \\\n    --mass-col mass_g --mass-unit g --activity-sd-col pct_sd"],
        _cmd_dosimetry,
        description="Read a tidy CSV table of time-activity samples (one row per region, cycle "
        "and scan time), fit each region's time-activity curve per cycle (model chosen by "
        "AICc; one scan per cycle uses the region's first fitted cycle), and print per cycle "
        "the time-integrated activity (TIA) and its standard error, the absorbed dose "
        "(local-deposition S value of the region mass), BED and EQD2 with the region's tissue "
        "radiobiology, and the course totals. -o writes the same table as CSV (cycle "
        "'course' for the totals; the course TIA SE is left empty because the per-cycle "
        "errors are partly correlated). The table is read by the Python API's "
        "read_time_activity_samples: the column options name its columns, activities may be "
        "in MBq, kBq, GBq or percent of the injected activity (%IA, with the administered "
        "activity as a column or as values per cycle), times in h, min or d, region masses "
        "may come from a column (per cycle), and a table of several patients is read for "
        "the one chosen with --patient.",
    )
    p.add_argument("samples", metavar="SAMPLES.csv", help="tidy time-activity table")
    p.add_argument("--nuclide", default="Lu-177", help="radionuclide (default: Lu-177; "
                   "'doseresponse nuclides' lists them)")
    p.add_argument("--mass", action="extend", nargs="+", type=_key_mass, default=[],
                   metavar="REGION=KG", help="mass of every region (kg); or --mass-col")
    p.add_argument("--tissue", action="extend", nargs="+", type=_key_text, default=[],
                   metavar="REGION=PRESET", help="tissue preset of a region for α/β and the "
                   "repair half-time (default: the region's name, e.g. kidneys)")
    p.add_argument("--model", default="auto", help="time-activity model for every region "
                   "(default: auto, by AICc)")
    p.add_argument("-o", "--output", default=None, metavar="doses.csv",
                   help="write the table as CSV")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    cols = p.add_argument_group("columns of SAMPLES.csv")
    cols.add_argument("--cycle-col", default="cycle", metavar="COL",
                      help="cycle number column (default: cycle)")
    cols.add_argument("--region-col", default="region", metavar="COL",
                      help="region column (default: region)")
    cols.add_argument("--time-col", default="time_h", metavar="COL",
                      help="time after administration column (default: time_h)")
    cols.add_argument("--activity-col", default="activity_mbq", metavar="COL",
                      help="activity in the region column (default: activity_mbq)")
    cols.add_argument("--activity-sd-col", default=None, metavar="COL",
                      help="optional activity standard-deviation column, in the activity "
                      "unit (weights the fits)")
    cols.add_argument("--one-cycle", action="store_true",
                      help="the table has no cycle column: every row is cycle 1")
    cols.add_argument("--region", default=None, metavar="NAME",
                      help="the table has no region column: every row is region NAME")
    cols.add_argument("--patient-col", default=None, metavar="COL",
                      help="patient label column of a table holding several patients")
    cols.add_argument("--patient", default=None, metavar="LABEL",
                      help="the patient to compute (needed when --patient-col holds several)")
    cols.add_argument("--mass-col", default=None, metavar="COL",
                      help="region mass column, one value per region and cycle (per-cycle "
                      "masses), instead of --mass")
    cols.add_argument("--injected-activity-col", default=None, metavar="COL",
                      help="administered activity of the row's cycle (needed for %%IA)")
    cols.add_argument("--injected-activity", action="extend", nargs="+",
                      type=_key_injected, default=None, metavar="A|CYCLE=A",
                      help="administered activity: one value for every cycle, or CYCLE=A "
                      "pairs (instead of --injected-activity-col)")
    unc = p.add_argument_group("single-scan cycles and stated uncertainties")
    unc.add_argument("--single-time-point", choices=("reference", "madsen", "hanscheid"),
                     default="reference",
                     help="method for cycles with one scan: the region's first fitted cycle "
                     "rescaled through the point, or Madsen / Hänscheid with "
                     "--population-half-life (default: reference)")
    unc.add_argument("--population-half-life", action="extend", nargs="+",
                     type=_key_half_life, default=[], metavar="REGION=H[:SD]",
                     help="population effective half-life of a region and its SD (h)")
    unc.add_argument("--half-life-rel-sd", type=_fraction, default=0.0, metavar="F",
                     help="relative SD of T_eff between the reference cycle and a one-scan "
                     "cycle (default: 0)")
    unc.add_argument("--calibration-rel-sd", type=_fraction, default=0.0, metavar="F",
                     help="relative SD of the activity calibration, added to every TIA SE "
                     "(e.g. 0.05; default: 0)")
    unc.add_argument("--partial-volume-rel-sd", type=_fraction, default=0.0, metavar="F",
                     help="relative SD of the partial-volume correction (default: 0)")
    unc.add_argument("--independent-systematics", action="store_true",
                     help="treat the calibration and partial-volume errors as independent "
                     "between cycles (default: the same in every cycle, added linearly)")
    units = p.add_argument_group("units of SAMPLES.csv")
    units.add_argument("--time-unit", choices=_TIME_UNITS, default="h",
                       help="unit of the time column (default: h)")
    units.add_argument("--activity-unit", choices=_ACTIVITY_UNITS, default="MBq",
                       help="unit of the activity and activity-SD columns; %%IA = percent of "
                       "the injected activity (default: MBq)")
    units.add_argument("--injected-activity-unit", choices=_INJECTED_UNITS, default="MBq",
                       help="unit of the administered activity (default: MBq)")
    units.add_argument("--mass-unit", choices=_MASS_UNITS, default="kg",
                       help="unit of the --mass-col column (default: kg)")


# ---------------------------------------------------------------------------------- errors


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Turn package errors raised by argument values into usage errors (exit status 2)."""
    try:
        yield
    except UsageError:
        raise
    except DoseResponseError as exc:
        raise UsageError(str(exc)) from exc


@contextlib.contextmanager
def _plain_warnings() -> Iterator[None]:
    """Show warnings as one line each (``doseresponse: warning: ...``), without source lines."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *args, **kwargs: _warn(message)
        yield


_SAMPLE_TEXT = "α/β γ50 τ ± · ≈ § ½ µ ×"
"""Characters the output uses; a stream that cannot encode them gets escapes instead."""


@contextlib.contextmanager
def _encodable_output() -> Iterator[None]:
    r"""On an ASCII-only (or other narrow) terminal write ``\u03b1`` for ``α``, never crash.

    Standard output and error are text streams with a fixed encoding (``PYTHONIOENCODING=ascii``,
    a legacy code page); characters they cannot encode are written as backslash escapes for the
    duration of the command, and the streams' error handlers are restored afterwards.
    """
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper) or stream.errors == "backslashreplace":
            continue
        try:
            _SAMPLE_TEXT.encode(stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            changed.append((stream, stream.errors))
            stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in changed:
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)


def _is_expected(exc: BaseException) -> bool:
    return isinstance(exc, (DoseResponseError, OSError))


def _describe_error(exc: BaseException) -> tuple[int, str]:
    """Exit status and one-line message of an error."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE, _one_line(exc)
    if isinstance(exc, OSError):
        return EXIT_FAILURE, _os_error_text(exc)
    if isinstance(exc, DoseResponseError):
        return EXIT_FAILURE, _one_line(exc)
    return EXIT_FAILURE, f"unexpected {type(exc).__name__}: {_one_line(exc)}"


def _os_error_text(exc: OSError) -> str:
    if exc.filename is None:
        if exc.errno == errno.ENOSPC:
            return "no space left on the device being written; free disk space or write elsewhere."
        return _one_line(exc)
    name = exc.filename
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file or folder; check the path."
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied; choose a file or folder you can read and write."
    if isinstance(exc, IsADirectoryError):
        return f"{name} is a folder; give a file."
    reason = exc.strerror or _one_line(exc)
    return f"{name}: {reason}; check the path and the free disk space."


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _quiet_broken_pipe() -> int:
    """The reader of standard output went away (or it failed): discard what is left, exit 0."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
