r"""Sample the PyMC model of a hierarchical TCP/NTCP analysis (the autodiff oracle's samplers).

The default fit never comes here: it samples the analytic density without PyMC
(:mod:`doseresponse.models.sampling`). These samplers take the PyMC model that
:func:`doseresponse.models.hierarchical.build_model` builds — the independent twin of the
analytic density — and are what ``sampler="pymc"``, ``"nutpie-pytensor"`` and
``"nutpie-numba"`` run:

``"nutpie-pytensor"``
    nutpie driving the PyMC model's log density compiled by PyTensor (numba backend when
    available) from Python; compiled per model structure.
``"nutpie-numba"``
    nutpie's own :func:`nutpie.compile_pymc_model` (numba backend), compiled in every call.
    (An in-process cache keyed by the spec and the number of studies used to reuse it across
    cohorts; it let a cohort's aggregate arrays and study labels leak into a later fit, so it
    is gone.)
``"pymc"``
    :func:`pymc.sample` (PyMC's NUTS, C backend).

All return the posterior groups as plain :class:`xarray.Dataset` objects (the same on ArviZ 0.x
and 1.x; ``doseresponse._arviz_compat``).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.pytensorf import join_nonshared_inputs

from doseresponse._arviz_compat import Groups, as_groups
from doseresponse.models.sampling import (
    SamplingInfo,
    _run_nutpie,
    finite_draws_per_chain,
    interrupt_watch,
    interrupted_message,
    require_complete_posterior,
    resolve_sampler,
    run_settings,
)

__all__ = ["sample_model"]


def sample_model(
    model: pm.Model,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: str = "auto",
    progressbar: bool | None = None,
    target_accept: float = 0.9,
) -> tuple[Groups, SamplingInfo]:
    """Draw posterior samples of ``model``.

    Parameters
    ----------
    model : pymc.Model
        The model.
    draws, tune, chains : int
        Kept draws, warm-up iterations (discarded) and independent chains per run.
    random_seed : int, optional
        Seed; ``None`` draws one from the OS (recorded in the result).
    sampler : {"auto", "nutpie-pytensor", "nutpie-numba", "pymc"}
        See the module docstring; ``"auto"`` and ``"nutpie"`` mean ``"nutpie-pytensor"`` here
        (a bare PyMC model has no analytic density).
    progressbar : bool, optional
        Show progress; ``None`` shows it when standard error is a terminal.
    target_accept : float
        Target acceptance rate of NUTS step-size adaptation, in (0, 1); raise it (0.95–0.99) to
        remove divergences.

    Returns
    -------
    groups : dict of str to xarray.Dataset
        ``posterior`` (constrained parameters and deterministics, with the model's dims) and
        ``sample_stats`` (including ``diverging``).
    info : SamplingInfo
        Sampler used, timings and seed.

    Raises
    ------
    DoseResponseError
        A run setting is invalid.
    FitError
        The sampler returned fewer or non-finite draws than asked for (nothing is returned).
    KeyboardInterrupt
        The run was interrupted (Ctrl-C); ``pymc.sample`` would return the draws it has, they
        are discarded and the message says how far the chains got.
    """
    draws, tune, chains, random_seed, progressbar = run_settings(
        draws, tune, chains, random_seed, progressbar, target_accept
    )
    name = resolve_sampler(sampler)
    if name in ("nutpie", "nutpie-python"):  # a bare PyMC model has no analytic density
        name = "nutpie-pytensor"
    run = {
        "nutpie-pytensor": _sample_nutpie_c,
        "nutpie-numba": _sample_nutpie_numba,
        "pymc": _sample_pymc,
    }
    settings = dict(draws=draws, tune=tune, chains=chains, seed=random_seed,
                    progressbar=bool(progressbar), target_accept=float(target_accept))
    sampled, compile_s, sample_s = run[name](model, settings)
    info = SamplingInfo(name, compile_s, sample_s, random_seed, draws, tune, chains)
    groups = {g: sampled[g] for g in ("posterior", "sample_stats") if g in sampled}
    require_complete_posterior(groups, draws, chains, name)
    groups["posterior"].attrs.update(info.to_attrs())
    return groups, info


# ---------------------------------------------------------------------------- backends


def _sample_nutpie_c(model, settings: dict) -> tuple[Groups, float, float]:
    from nutpie.compiled_pyfunc import from_pyfunc

    start = time.perf_counter()
    bridge = _CBridge(model)
    compiled = from_pyfunc(
        bridge.ndim,
        bridge.make_logp,
        bridge.make_expand,
        [np.dtype("float64")] * len(bridge.names),
        bridge.shapes,
        bridge.names,
        coords=bridge.coords,
        dims=bridge.dims,
        make_initial_point_fn=bridge.initial_point,
    )
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    groups = as_groups(_run_nutpie(compiled, **settings))
    return groups, compile_s, time.perf_counter() - start


def _sample_nutpie_numba(model, settings: dict) -> tuple[Groups, float, float]:
    import nutpie

    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    groups = as_groups(_run_nutpie(compiled, **settings))
    return groups, compile_s, time.perf_counter() - start


def _sample_pymc(model, settings: dict) -> tuple[Groups, float, float]:
    start = time.perf_counter()
    with _workers_end_with_parent(), interrupt_watch() as watch, model:
        idata = pm.sample(
            draws=settings["draws"],
            tune=settings["tune"],
            chains=settings["chains"],
            cores=min(settings["chains"], 2),
            random_seed=settings["seed"],
            progressbar=settings["progressbar"],
            target_accept=settings["target_accept"],
            nuts_sampler="pymc",  # PyMC 6 would otherwise pick nutpie when it is installed
            compute_convergence_checks=False,
            return_inferencedata=True,
            idata_kwargs={"log_likelihood": False},
        )
    groups = as_groups(idata)
    if watch["interrupted"]:  # pymc.sample swallowed the KeyboardInterrupt
        done = finite_draws_per_chain(groups["posterior"])
        raise KeyboardInterrupt(
            interrupted_message(done, settings["draws"], settings["tune"], settings["chains"])
        )
    total = time.perf_counter() - start
    sample_s = float(groups["posterior"].attrs.get("sampling_time", total))
    return groups, max(total - sample_s, 0.0), sample_s


class _Terminated(BaseException):
    """SIGTERM arrived while PyMC's chain processes ran (raised to run their clean-up)."""


@contextmanager
def _workers_end_with_parent() -> Iterator[None]:
    """Make SIGTERM stop ``pymc.sample``'s chain processes before this process ends.

    By default SIGTERM ends the process at once, without the clean-up that stops PyMC's
    worker processes (they held each other's pipes open and ran on as orphans). Inside this
    context SIGTERM raises in the main thread, PyMC's own exit path terminates the workers, and
    the signal is then delivered again with its default action, so the process still ends as
    SIGTERM asks. A handler the program installed itself is left alone, as is every thread but
    the main one; forked workers that inherit the handler take the default action at once.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    parent = os.getpid()

    def terminate(signum, frame):
        if os.getpid() != parent:  # a forked worker: behave as if no handler were installed
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise  # pragma: no cover - only reached if the default action did not end us
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _CBridge:
    """Log density, gradient and expansion of a PyMC model compiled by PyTensor.

    The model's unconstrained value variables are joined into one vector (``ndim`` long). The
    log density and gradient are compiled with PyTensor's numba backend when numba is installed
    (its generated code is cached on disk by ``pytensor.config.numba__cache``), otherwise with
    the C backend, and called as ordinary PyTensor functions (public interface only).
    The expansion to named parameters (once per draw) uses the C backend. PyTensor ``Function``
    objects hold their own storage and are not thread-safe, so each nutpie chain gets a copy.
    """

    def __init__(self, model: pm.Model) -> None:
        point = model.initial_point()
        value_vars = model.value_vars
        logp = model.logp()
        grads = pt.grad(logp, value_vars)
        grad = pt.concatenate([g.ravel() for g in grads])
        outputs = model.free_RVs + model.deterministics
        expanded = model.replace_rvs_by_values(outputs)
        (logp_j, grad_j), joined = join_nonshared_inputs(point, [logp, grad], value_vars)
        expanded_j, joined_e = join_nonshared_inputs(point, expanded, value_vars)
        self._start = np.concatenate([np.ravel(point[v.name]) for v in value_vars])
        self._logp_fn = self._jitted_logp(joined, logp_j, grad_j)
        self._expand_fn = pytensor.function([joined_e], expanded_j, mode="FAST_RUN")
        self.ndim = int(self._start.size)
        self.names = [v.name for v in outputs]
        values = self._expand_fn(self._start)
        self.shapes = [tuple(np.shape(v)) for v in values]
        self.dims = {
            name: tuple(model.named_vars_to_dims[name])
            for name in self.names
            if name in model.named_vars_to_dims
        }
        used = {dim for dims in self.dims.values() for dim in dims}
        # nutpie's pyfunc models take string coordinate values
        self.coords = {dim: [str(v) for v in model.coords[dim]] for dim in used}

    def _jitted_logp(self, joined, logp, grad):
        """Factory of ``x -> (logp, grad)`` copies (one per chain), through public PyTensor calls.

        Compiled with PyTensor's numba backend when numba is installed, else its C backend;
        ``Function.copy`` gives each nutpie chain its own storage (they are not thread-safe).
        """
        mode = "NUMBA" if importlib.util.find_spec("numba") is not None else "FAST_RUN"
        fn = pytensor.function([joined], [logp, grad], mode=mode)
        fn(self._start)

        def make():
            copy = fn.copy()
            copy.trust_input = True
            return copy

        return make

    def make_logp(self):
        fn = self._logp_fn()

        def logp(x, **_shared):
            value, grad = fn(x)
            return float(value), np.asarray(grad, dtype=np.float64)

        return logp

    def make_expand(self, seed1, seed2, chain):
        fn = self._expand_fn.copy()
        fn.trust_input = True
        names = self.names

        def expand(x, **_shared):
            return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, fn(x), strict=True)}

        return expand

    def initial_point(self, seed: int) -> np.ndarray:
        """Model initial point jittered by U(-1, 1) in the unconstrained space (seeded)."""
        rng = np.random.default_rng(seed)
        return self._start + rng.uniform(-1.0, 1.0, self.ndim)
