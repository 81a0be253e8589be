r"""Run NUTS on the package's analytic log density with nutpie (no PyMC or PyTensor imported).

This is the default path of :meth:`~doseresponse.models.model.DoseResponseModel.fit`: nutpie's
Rust NUTS (mass matrix adapted on gradients, Seyboldt 2023) drives the log density and analytic
gradient of :class:`~doseresponse.models.density.LogDensity` — the same density as the PyMC
model, tested to 1e-9 — computed by one compiled numba kernel. Two routes reach nutpie:

``"c-callbacks"`` (used when available)
    nutpie calls the kernel through fixed C callbacks
    (``doseresponse.models._nutpie_callbacks``), so chains run in parallel threads without
    the Python interpreter. This rests on nutpie's numba-model interface
    (``nutpie.compile_pymc.CompiledPyMCModel``), which nutpie does not document: the route is
    feature-detected (:func:`c_callback_route_status`), exercised by a test on every supported
    stack, and **any** failure of it — ``TypeError`` from a changed constructor included —
    falls back to the public route with one :class:`SamplerFallbackWarning`, never a crash.
``"python-callbacks"`` (public)
    nutpie's documented Python-callback interface (:func:`nutpie.compiled_pyfunc.from_pyfunc`)
    calling the same compiled kernel. Each call re-enters the interpreter, so the chains hold
    the GIL in turn; measured on the 500-patient benchmark (2 cores) it samples about 3–4×
    slower than the C callbacks (``tests/benchmarks/bench_ntcp_fit.py``).

The kernel is compiled once per machine and loaded from numba's disk cache afterwards, for
every model and cohort. The PyMC model is sampled by :mod:`doseresponse.models.pymc_sampling`
(``sampler="pymc"``, ``"nutpie-pytensor"``, ``"nutpie-numba"``), which is the only module of the
fit path that imports PyMC.

Every sampler is seeded: ``random_seed=None`` draws a seed from the operating system, which is
recorded in the posterior's ``attrs["random_seed"]`` so a run can be repeated.

Notes
-----
Seyboldt A (2023) nutpie, https://github.com/pymc-devs/nutpie; Hoffman MD, Gelman A (2014) J Mach
Learn Res 15:1593 (NUTS).
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from doseresponse._arviz_compat import Groups, as_groups
from doseresponse._validation import lookup_name
from doseresponse.exceptions import DoseResponseError, FitError, SamplerFallbackWarning

__all__ = [
    "ROUTES",
    "SAMPLERS",
    "SamplingInfo",
    "c_callback_route_status",
    "interrupt_watch",
    "require_complete_posterior",
    "resolve_sampler",
    "run_settings",
    "sample_density",
]

SAMPLERS = {
    "auto": "nutpie when installed, else pymc",
    "nutpie": "nutpie NUTS on the package's analytic log density (C callbacks when available)",
    "nutpie-python": "nutpie NUTS on the analytic log density through nutpie's public "
    "Python-callback interface (from_pyfunc)",
    "nutpie-pytensor": "nutpie NUTS on the PyMC model's log density compiled by PyTensor",
    "nutpie-numba": "nutpie NUTS on nutpie's numba compilation of the PyMC model",
    "pymc": "pymc.sample (PyMC NUTS)",
}
"""Every ``sampler=`` value with what it runs."""

ROUTES = ("c-callbacks", "python-callbacks")
"""How nutpie reaches the analytic density (see the module docstring)."""

DENSITY_SAMPLERS = ("nutpie", "nutpie-python")
"""Samplers that run on :class:`~doseresponse.models.density.LogDensity` (no PyMC)."""


@dataclass(frozen=True)
class SamplingInfo:
    """What was run and how long it took.

    Attributes
    ----------
    sampler : str
        Sampler actually used (a key of :data:`SAMPLERS`, never ``"auto"``).
    compile_seconds : float
        Wall time to prepare (and, the first time on a machine, compile) the log density (s).
    sampling_seconds : float
        Wall time of warm-up plus draws (s).
    random_seed : int
        Seed passed to the sampler.
    draws, tune, chains : int
        Run settings.
    route : str
        For the analytic density: ``"c-callbacks"`` or ``"python-callbacks"``; ``""`` for
        samplers of the PyMC model.
    """

    sampler: str
    compile_seconds: float
    sampling_seconds: float
    random_seed: int
    draws: int
    tune: int
    chains: int
    route: str = ""

    def to_attrs(self) -> dict[str, Any]:
        """Flat dict for the posterior's ``attrs``.

        Returns
        -------
        dict
            Attribute name → value (str, number, or None for an unset seed).
        """
        return {
            "sampler": self.sampler,
            "sampler_route": self.route,
            "compile_seconds": self.compile_seconds,
            "sampling_seconds": self.sampling_seconds,
            "random_seed": self.random_seed,
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
        }


def resolve_sampler(sampler: str) -> str:
    """Map a ``sampler=`` argument to an installed sampler.

    Parameters
    ----------
    sampler : str
        A key of :data:`SAMPLERS`.

    Returns
    -------
    str
        The sampler to run (``"auto"`` resolved).

    Raises
    ------
    UnknownNameError
        Unknown name (the message lists the valid ones).
    DoseResponseError
        A nutpie sampler was requested but nutpie is not installed.
    """
    name = lookup_name(str(sampler), {k: k for k in SAMPLERS}, "sampler")
    has_nutpie = importlib.util.find_spec("nutpie") is not None
    if name == "auto":
        if has_nutpie:
            return "nutpie"
        warnings.warn(
            "nutpie is not installed, sampling with pymc.sample instead (slower); "
            "`pip install nutpie` for faster fits.",
            SamplerFallbackWarning,
            stacklevel=3,
        )
        return "pymc"
    if name.startswith("nutpie") and not has_nutpie:
        raise DoseResponseError(
            f"sampler={sampler!r} needs nutpie, which is not installed; `pip install nutpie` "
            "or use sampler='pymc'."
        )
    return name


def c_callback_route_status() -> tuple[bool, str]:
    """Whether the installed nutpie offers the numba-model interface the C callbacks need.

    Returns
    -------
    available : bool
    reason : str
        Empty when available, else what is missing (for messages and tests).

    Notes
    -----
    Feature detection only: it does not compile the callbacks. A route that passes this check
    can still fail when nutpie builds its sampler; :func:`sample_density` falls back then too.
    """
    if importlib.util.find_spec("nutpie") is None:
        return False, "nutpie is not installed"
    from doseresponse.models._nutpie_callbacks import interface_problem

    problem = interface_problem()
    return problem == "", problem


def sample_density(
    density,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    progressbar: bool | None = None,
    target_accept: float = 0.95,
    route: str = "auto",
) -> tuple[Groups, SamplingInfo]:
    """Draw posterior samples with nutpie's NUTS on an analytic log density.

    Parameters
    ----------
    density : LogDensity
        The model's log density and gradient
        (:class:`doseresponse.models.density.LogDensity`).
    draws, tune, chains : int
        Kept draws, warm-up iterations (discarded) and independent chains.
    random_seed : int, optional
        Seed; ``None`` draws one from the OS (recorded in the result).
    progressbar : bool, optional
        Show progress; ``None`` shows it when standard error is a terminal.
    target_accept : float
        Target acceptance rate of NUTS step-size adaptation, in (0, 1).
    route : {"auto", "c-callbacks", "python-callbacks"}
        ``"auto"``: the C callbacks when :func:`c_callback_route_status` says they are
        available, else the public Python callbacks. ``"c-callbacks"`` insists on trying them
        (still falling back, with a warning, if they fail). ``"python-callbacks"``: the public
        route only.

    Returns
    -------
    groups : dict of str to xarray.Dataset
        ``posterior`` (the model's named variables, dims and coordinates) and
        ``sample_stats`` (``diverging``, ``tree_depth``, ...).
    info : SamplingInfo
        ``sampler="nutpie"`` (or ``"nutpie-python"``) and the route actually taken.

    Raises
    ------
    DoseResponseError
        nutpie is not installed, or a run setting is invalid.
    FitError
        nutpie failed inside its Rust code (a panic) or returned fewer or non-finite draws
        than asked for; nothing is returned.
    KeyboardInterrupt
        The run was interrupted (Ctrl-C); the message says how many draws each chain had.
        The partial trace is discarded, never returned.

    Warns
    -----
    SamplerFallbackWarning
        The C-callback route was tried and failed; the public route was used.
    """
    draws, tune, chains, random_seed, progressbar = run_settings(
        draws, tune, chains, random_seed, progressbar, target_accept
    )
    route = lookup_name(str(route), {r: r for r in ("auto", *ROUTES)}, "route")
    if importlib.util.find_spec("nutpie") is None:
        raise DoseResponseError(
            "sampler='nutpie' needs nutpie, which is not installed; `pip install nutpie` or use "
            "sampler='pymc'."
        )
    run = dict(draws=draws, tune=tune, chains=chains, seed=random_seed,
               progressbar=progressbar, target_accept=float(target_accept))
    start = time.perf_counter()  # the route check imports (first time: compiles) the callbacks
    use_c = route == "c-callbacks" or (route == "auto" and c_callback_route_status()[0])
    groups = None
    if use_c:
        try:
            groups, compile_s, sample_s = _sample_c_callbacks(density, start, run)
            taken = "c-callbacks"
        except FitError:  # nutpie itself failed (not the route): the other route would too
            raise
        except Exception as err:  # any failure of the undocumented route -> the public one
            warnings.warn(
                f"nutpie's C-callback route failed ({type(err).__name__}: {err}); sampling "
                "through nutpie's public Python callbacks instead (slower).",
                SamplerFallbackWarning,
                stacklevel=2,
            )
    if groups is None:
        start = time.perf_counter()
        compiled = public_callback_model(density)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        groups = as_groups(_run_nutpie(compiled, **run))
        sample_s = time.perf_counter() - start
        taken = "python-callbacks"
    sampler = "nutpie" if route != "python-callbacks" else "nutpie-python"
    info = SamplingInfo(sampler, compile_s, sample_s, random_seed, draws, tune, chains, taken)
    groups = {name: groups[name] for name in ("posterior", "sample_stats") if name in groups}
    require_complete_posterior(groups, draws, chains, sampler)
    groups["posterior"].attrs.update(info.to_attrs())
    return groups, info


def _sample_c_callbacks(density, start: float, run: dict) -> tuple[Groups, float, float]:
    """Sample through the C callbacks; raises whatever the undocumented interface raises."""
    # importing the callbacks compiles them (once per machine; then loaded from disk)
    from doseresponse.models._nutpie_callbacks import UNCONSTRAINED, compiled_model

    compiled = compiled_model(density)
    compile_s = time.perf_counter() - start
    begin = time.perf_counter()
    groups = as_groups(_run_nutpie(compiled, **run))
    sample_s = time.perf_counter() - begin
    groups["posterior"] = _named_posterior(density, groups["posterior"], UNCONSTRAINED)
    return groups, compile_s, sample_s


def _named_posterior(density, posterior: xr.Dataset, name: str) -> xr.Dataset:
    """Replace the unconstrained draws by the model's named variables, dims and coordinates."""
    raw = posterior[name].transpose("chain", "draw", ...).to_numpy()
    to_model = getattr(density, "model_from_sampler_points", None)
    values = density.expand_draws(raw if to_model is None else to_model(raw))
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    coords.update({dim: list(labels) for dim, labels in density.coords.items()})
    variables = {
        var: (("chain", "draw", *density.dims.get(var, ())), values[var]) for var in density.names
    }
    return xr.Dataset(variables, coords=coords, attrs=dict(posterior.attrs))


def _run_nutpie(compiled, *, draws, tune, chains, seed, progressbar, target_accept):
    """``nutpie.sample`` with the package's settings (warm-up draws discarded).

    nutpie's blocking ``sample`` answers Ctrl-C by returning the draws it has; this runs it in
    the background (its public ``blocking=False``) and waits, so an interrupt discards the
    partial trace and propagates as :class:`KeyboardInterrupt` saying how far the chains got,
    and a Rust panic (``pyo3_runtime.PanicException``, a :class:`BaseException`) becomes a
    :class:`~doseresponse.exceptions.FitError`.
    """
    import nutpie

    sampler = None
    try:
        sampler = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress_bar=progressbar,
            save_warmup=False,
            target_accept=float(target_accept),
            blocking=False,
        )
        return sampler.wait()
    except KeyboardInterrupt:
        done = _abort_and_count(sampler)
        raise KeyboardInterrupt(interrupted_message(done, draws, tune, chains)) from None
    except BaseException as err:
        _cancel(sampler)
        if isinstance(err, (Exception, SystemExit, GeneratorExit)):
            raise
        raise FitError(  # a Rust panic: not an Exception, so it escapes `except Exception`
            f"nutpie failed inside its sampler ({type(err).__name__}: {err}) with draws="
            f"{draws}, tune={tune}, chains={chains}; no draws were kept. Check the run "
            "settings, or try sampler='pymc'."
        ) from err


def _cancel(sampler) -> None:
    """Stop a failed nutpie run; a second panic from its poisoned state is not the news."""
    if sampler is None:
        return
    try:
        sampler.cancel()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # the original failure is raised by the caller
        pass


def _abort_and_count(sampler) -> list[int] | None:
    """Stop an interrupted nutpie run; kept (finite) draws per chain, ``None`` if unknown."""
    if sampler is None:
        return None
    try:
        trace = as_groups(sampler.abort())
        return finite_draws_per_chain(trace["posterior"])
    except Exception:  # the count only decorates the message; never mask the interrupt
        return None


def finite_draws_per_chain(posterior: xr.Dataset) -> list[int]:
    """Number of draws per chain at which every posterior variable is finite.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``(chain, draw, ...)``.

    Returns
    -------
    list of int
        One count per chain (nutpie pads unfinished chains with NaN).
    """
    if not posterior.data_vars or posterior.sizes.get("draw", 0) == 0:
        return [0] * int(posterior.sizes.get("chain", 0))
    ok = None
    for values in posterior.data_vars.values():
        arr = values.transpose("chain", "draw", ...).to_numpy()
        if not np.issubdtype(arr.dtype, np.number):
            continue
        finite = np.isfinite(arr.reshape(arr.shape[0], arr.shape[1], -1)).all(axis=2)
        ok = finite if ok is None else ok & finite
    if ok is None:
        return [int(posterior.sizes["draw"])] * int(posterior.sizes["chain"])
    return [int(n) for n in ok.sum(axis=1)]


def interrupted_message(done: list[int] | None, draws: int, tune: int, chains: int) -> str:
    """Text of the :class:`KeyboardInterrupt` raised when a fit is interrupted."""
    if done is None:
        progress = "how many draws the chains had is unknown"
    elif not any(done):
        progress = f"during warm-up ({tune} iterations per chain): no draw was kept yet"
    else:
        got = str(min(done)) if min(done) == max(done) else f"{min(done)}-{max(done)}"
        progress = f"after {got} of {draws} draws per chain ({chains} chains)"
    return (
        f"fit interrupted {progress}; the partial posterior was discarded and nothing was "
        "returned or saved. Run fit() again to the end (fewer draws= finish sooner)."
    )


def require_complete_posterior(groups: Groups, draws: int, chains: int, sampler: str) -> None:
    """Refuse a posterior with fewer chains or draws than asked for, or non-finite draws.

    Parameters
    ----------
    groups : dict of str to xarray.Dataset
        What the sampler returned (``posterior`` group).
    draws, chains : int
        The run settings.
    sampler : str
        Sampler name, for the message.

    Raises
    ------
    FitError
        The posterior is incomplete (an interrupted or failed run); the message says how
        many draws each chain has.
    """
    posterior = groups["posterior"]
    got_chains = int(posterior.sizes.get("chain", 0))
    got_draws = int(posterior.sizes.get("draw", 0))
    done = finite_draws_per_chain(posterior)
    if got_chains == chains and got_draws == draws and all(n == draws for n in done):
        return
    shown = ", ".join(str(n) for n in done) or "none"
    raise FitError(
        f"sampler {sampler!r} returned an incomplete posterior: {got_chains} of {chains} "
        f"chains, finite draws per chain {shown} of {draws} asked for (an interrupted or "
        "failed run). It was discarded; run the fit again."
    )


@contextmanager
def interrupt_watch() -> Iterator[dict[str, bool]]:
    """Note a Ctrl-C (SIGINT) that a sampler swallows, so the caller can still raise it.

    ``pymc.sample`` catches :class:`KeyboardInterrupt` and returns the draws it has. Inside
    this context a SIGINT sets ``state["interrupted"]`` and then runs the previous handler as
    before. Outside the main thread, or when SIGINT is not handled by Python, it only yields.

    Yields
    ------
    dict
        ``{"interrupted": bool}``.
    """
    state = {"interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield state
        return

    def note(signum, frame):
        state["interrupted"] = True
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def public_callback_model(density):
    """Nutpie model of ``density`` through nutpie's public ``from_pyfunc`` interface.

    Parameters
    ----------
    density : LogDensity
        The log density (:class:`~doseresponse.models.density.LogDensity`).

    Returns
    -------
    nutpie.compiled_pyfunc.PyFuncModel
        Ready for :func:`nutpie.sample`; draws carry the model's named variables.

    Notes
    -----
    Each chain gets its own gradient buffer; nutpie copies the returned gradient before the
    next call, so the buffer is reused without allocation. Densities with sampler coordinates
    (:class:`~doseresponse.models.sampler_coordinates.StudyEffectCoordinates`) are sampled in
    them, as on the C-callback route, and each draw is mapped back before it is named.
    """
    from nutpie.compiled_pyfunc import from_pyfunc

    names = list(density.names)
    # the sampler's coordinates of partially pooled study effects, where the density has them
    # (as on the C-callback route); draws are mapped back to the model's before naming
    sampler = hasattr(density, "sampler_logp_and_grad_function")
    make_function = (density.sampler_logp_and_grad_function if sampler
                     else density.logp_and_grad_function)
    initial_point = density.sampler_initial_point if sampler else density.initial_point

    def make_logp():
        evaluate = make_function()
        return lambda x, **_shared: evaluate(x)

    def make_expand(seed1, seed2, chain):
        expand = density.expand
        if sampler:
            to_model = density.model_from_sampler_points
            return lambda x, **_shared: expand(to_model(x))
        return lambda x, **_shared: expand(x)

    return from_pyfunc(
        density.ndim,
        make_logp,
        make_expand,
        [np.dtype("float64")] * len(names),
        density.shapes,
        names,
        coords=density.coords,
        dims=density.dims,
        make_initial_point_fn=initial_point,
    )


def run_settings(draws, tune, chains, random_seed, progressbar, target_accept):
    """Validate the run settings shared by every sampler; fill in the seed and progress bar.

    Parameters
    ----------
    draws, tune, chains, random_seed, progressbar, target_accept
        As in :func:`sample_density`.

    Returns
    -------
    tuple
        ``(draws, tune, chains, random_seed, progressbar)`` with the seed drawn from the OS
        when ``None`` and the progress bar shown when standard error is a terminal.

    Raises
    ------
    DoseResponseError
        A setting is not a valid integer (``draws``, ``tune`` and ``chains`` >= 1: nutpie
        cannot run without warm-up), or ``target_accept`` is not a number in (0, 1).
    """
    draws = _positive_int(draws, "draws", hint="kept draws per chain; 1000 is usual")
    tune = _positive_int(
        tune, "tune", hint="warm-up iterations adapt the step size and mass matrix; 1000 is usual"
    )
    chains = _positive_int(chains, "chains", hint="4 chains let R-hat detect poor mixing")
    try:
        accept = float(target_accept)
    except (TypeError, ValueError):
        accept = float("nan")
    if isinstance(target_accept, bool) or not 0.0 < accept < 1.0:
        raise DoseResponseError(
            f"target_accept must be a number in (0, 1), e.g. 0.95; got {target_accept!r}."
        )
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0])
    random_seed = _positive_int(random_seed, "random_seed", minimum=0, hint="any integer seed")
    if progressbar is None:
        progressbar = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return draws, tune, chains, random_seed, bool(progressbar)


def _positive_int(value: Any, name: str, *, minimum: int = 1, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DoseResponseError(
            f"{name} must be an integer >= {minimum}; got {value!r}" + (f" ({hint})." if hint
                                                                         else ".")
        )
    return int(value)
