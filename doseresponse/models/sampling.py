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
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from doseresponse._arviz_compat import Groups, as_groups
from doseresponse._validation import lookup_name
from doseresponse.exceptions import DoseResponseError, SamplerFallbackWarning

__all__ = [
    "ROUTES",
    "SAMPLERS",
    "SamplingInfo",
    "c_callback_route_status",
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
    values = density.expand_draws(raw)
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values}
    coords.update({dim: list(labels) for dim, labels in density.coords.items()})
    variables = {
        var: (("chain", "draw", *density.dims.get(var, ())), values[var]) for var in density.names
    }
    return xr.Dataset(variables, coords=coords, attrs=dict(posterior.attrs))


def _run_nutpie(compiled, *, draws, tune, chains, seed, progressbar, target_accept):
    """``nutpie.sample`` with the package's settings (warm-up draws discarded)."""
    import nutpie

    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        progress_bar=progressbar,
        save_warmup=False,
        target_accept=float(target_accept),
    )


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
    next call, so the buffer is reused without allocation.
    """
    from nutpie.compiled_pyfunc import from_pyfunc

    names = list(density.names)

    def make_logp():
        evaluate = density.logp_and_grad_function()
        return lambda x, **_shared: evaluate(x)

    def make_expand(seed1, seed2, chain):
        expand = density.expand
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
        make_initial_point_fn=density.initial_point,
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
        A setting is not a valid integer or ``target_accept`` is outside (0, 1).
    """
    draws = _positive_int(draws, "draws")
    tune = _positive_int(tune, "tune", minimum=0)
    chains = _positive_int(chains, "chains")
    if not 0.0 < float(target_accept) < 1.0:
        raise DoseResponseError(f"target_accept must lie in (0, 1); got {target_accept!r}.")
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0])
    random_seed = _positive_int(random_seed, "random_seed", minimum=0)
    if progressbar is None:
        progressbar = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return draws, tune, chains, random_seed, bool(progressbar)


def _positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DoseResponseError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)
