r"""The log posterior of a hierarchical model and its gradient (the default fit's density).

:class:`LogDensity` lays out the unconstrained parameters, packs the data and priors into the
arrays of the compiled kernel ``doseresponse.models._row_kernels.log_posterior`` — the one
implementation of the likelihood terms, priors and per-study parameters on the fast path —
and names posterior draws (:meth:`LogDensity.expand_draws`). Its density is exactly that of the
PyMC model :func:`doseresponse.models.hierarchical.build_model` builds for the same spec and
data — priors with their normalising constants, the log-Jacobians of the log-transformed scale
parameters, the Bernoulli and Binomial likelihoods — on the same unconstrained parameters:
the PyMC graph is the independent autodiff oracle, and the equality of log density and
gradient is tested to 1e-9 on random points for every family, pooling and data layout. No
PyMC or PyTensor is imported here.

Unconstrained parameters, in order (blocks absent from a model are skipped):

==========================  ======================  ===========================================
block                       PyMC value variable     size
==========================  ======================  ===========================================
population log D50          ``log_d50``             1 (partial, complete)
population log slope        ``log_slope``           1 (partial, complete)
between-study SD of D50     ``tau_log__``           1 (partial)
study effects on D50        ``z_d50``               n_study (partial)
between-study SD of slope   ``tau_slope_log__``     1 (partial with ``pool_slope``)
study effects on slope      ``z_slope``             n_study (partial with ``pool_slope``)
study log D50               ``log_d50_study``       n_study (none)
study log slope             ``log_slope_study``     n_study (none)
covariate log factors       ``log_factor``          n_covariate
==========================  ======================  ===========================================

With ``spec.background`` the vector ends (before any measurement-error blocks) with one more
coordinate, ``background_logodds__``: the logit of the background risk b; with an
estimated-discount literature prior (``spec.priors["power_prior"]``,
:mod:`doseresponse.models.power_prior`) one more, ``a0_logodds__``: the logit of the weight
a0, on which the priors of ``log_d50`` and ``log_slope`` then depend.

Notes
-----
The gradient is assembled by the chain rule from the per-row derivatives of
``doseresponse.models._curve_kernel.pair``. For an aggregate bin with
quadrature nodes :math:`d_k` and weights :math:`w_k`,
:math:`\partial \ln \sum_k w_k P_k = \sum_k a_k\, \partial \ln P_k` with
:math:`a_k = w_k P_k / \sum_l w_l P_l` (a softmax of :math:`\ln w_k + \ln P_k`).
The half-normal scale parameters are sampled as :math:`u = \ln\tau`, adding the log-Jacobian
:math:`u` (Stan Development Team 2024, *Stan Reference Manual*, "Lower bounded scalar").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from doseresponse.data import DoseResponseData
from doseresponse.models.design import log_choose, model_inputs
from doseresponse.models.sampler_coordinates import StudyEffectCoordinates
from doseresponse.models.spec import ModelSpec

__all__ = ["LogDensity"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_TINY_DOSE = 1e-300


@dataclass(frozen=True)
class _Block:
    """One named slice of the unconstrained vector."""

    name: str
    start: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


class LogDensity(StudyEffectCoordinates):
    """Log posterior density and analytic gradient of a hierarchical dose-response model.

    Every method works in the model's unconstrained coordinates (the PyMC value variables);
    NUTS runs partially pooled models in the mean-and-contrast coordinates of their study
    effects (:class:`~doseresponse.models.sampler_coordinates.StudyEffectCoordinates`, whose
    ``sampler_*`` methods this class inherits), and its draws are mapped back before they
    are named.

    Parameters
    ----------
    spec : ModelSpec
        Complete model description with resolved priors (``measurement_error="none"``).
    data : DoseResponseData
        The cohort.

    Attributes
    ----------
    ndim : int
        Length of the unconstrained parameter vector.
    blocks : dict of str to slice
        Where each PyMC value variable sits in the vector (see the module docstring).
    names, shapes, dims, coords
        The named outputs of :meth:`expand` (the PyMC model's free variables and
        deterministics), their shapes, dims and coordinate labels.

    Examples
    --------
    >>> from doseresponse.simulate import simulate_cohort
    >>> from doseresponse.models.model import NTCPModel
    >>> sim = simulate_cohort(curve="logistic", d50=40.0, slope=1.5, n_studies=3,
    ...                       patients_per_study=30, tau=0.2, random_seed=1)
    >>> density = LogDensity(NTCPModel().spec_for(sim.data), sim.data)
    >>> value, grad = density.logp_and_grad(density.initial_point(0))
    >>> grad.shape == (density.ndim,)
    True
    """

    def __init__(self, spec: ModelSpec, data: DoseResponseData) -> None:
        inputs = model_inputs(spec, data)
        self.spec = spec
        self._n_study = len(inputs.studies)
        self._n_cov = len(inputs.covariates)
        self._me_rows = inputs.me_rows if spec.measurement_error == "lognormal" else np.zeros(
            0, dtype=np.int64
        )
        self._me_sigma = inputs.ipd_dose_log_sd[self._me_rows]
        self._me_study = np.asarray(inputs.ipd_study, dtype=np.int64)[self._me_rows]
        self._me_log_obs = np.log(np.asarray(inputs.ipd_dose, dtype=np.float64)[self._me_rows])
        self._power_prior = "power_prior" in spec.priors
        self._layout(spec)
        priors = spec.priors
        self._d50_prior = (math.log(priors["d50"]["median"]), priors["d50"]["sigma"])
        self._slope_prior = (math.log(priors["slope"]["median"]), priors["slope"]["sigma"])
        self._tau_sigma = priors["tau"]["sigma"] if spec.pooling == "partial" else None
        self._tau_slope_sigma = priors["tau_slope"]["sigma"] if spec.pool_slope else None
        if self._n_cov:
            self._factor_mu = np.array(
                [math.log(priors[f"factor:{c}"]["median"]) for c in inputs.covariates]
            )
            self._factor_sd = np.array([priors[f"factor:{c}"]["sigma"] for c in inputs.covariates])
        self._outputs(spec, inputs)
        self._prior_tables()
        self._kernel_args = self._compiled_arguments(inputs)
        self._compiled = None

    # ------------------------------------------------------------------------ layout

    def _layout(self, spec: ModelSpec) -> None:
        sizes: list[tuple[str, int]] = []
        n = self._n_study
        if spec.pooling == "none":
            sizes += [("log_d50_study", n), ("log_slope_study", n)]
        else:
            sizes += [("log_d50", 1), ("log_slope", 1)]
            if spec.pooling == "partial":
                sizes += [("tau_log__", 1), ("z_d50", n)]
                if spec.pool_slope:
                    sizes += [("tau_slope_log__", 1), ("z_slope", n)]
        if self._n_cov:
            sizes.append(("log_factor", self._n_cov))
        if spec.background:
            sizes.append(("background_logodds__", 1))
        if self._power_prior:
            sizes.append(("a0_logodds__", 1))
        if self._me_rows.size:
            sizes += [
                ("exposure_log_median", n), ("exposure_sd_log__", n),
                ("dose_error_z", int(self._me_rows.size)),
            ]
        blocks, start = {}, 0
        for name, size in sizes:
            blocks[name] = _Block(name, start, size)
            start += size
        self._blocks = blocks
        self.ndim = start

    @property
    def blocks(self) -> dict[str, slice]:
        """Slice of the unconstrained vector holding each PyMC value variable."""
        return {name: block.slice for name, block in self._blocks.items()}

    def _layout_fields(self) -> tuple[str, ...]:
        from doseresponse.models._row_kernels import LAYOUT_FIELDS

        return LAYOUT_FIELDS

    def _outputs(self, spec: ModelSpec, inputs) -> None:
        slope = spec.slope_name
        study, cov = ("study",), ("covariate",)
        if spec.pooling == "none":
            dims = {
                "log_d50_study": study, "log_slope_study": study,
                "d50_study": study, f"{slope}_study": study,
            }
        else:
            dims = {"log_d50": (), "log_slope": (), "d50": (), slope: ()}
            if spec.pooling == "partial":
                dims.update({"tau": (), "z_d50": study, "d50_study": study})
                if spec.pool_slope:
                    dims.update({"tau_slope": (), "z_slope": study, f"{slope}_study": study})
        if self._n_cov:
            dims.update({"log_factor": cov, "factor": cov})
        if spec.background:
            dims["background"] = ()
        if self._power_prior:
            dims["a0"] = ()
        if self._me_rows.size:
            dims.update({
                "exposure_log_median": study, "exposure_sd": study,
                "dose_error_z": ("me_row",), "true_dose": ("me_row",),
            })
        self.names = list(dims)
        sizes = {"study": self._n_study, "covariate": self._n_cov, "me_row": self._me_rows.size}
        self.shapes = [tuple(sizes[d] for d in dims[name]) for name in self.names]
        self.dims = {name: d for name, d in dims.items() if d}
        used = {d for ds in self.dims.values() for d in ds}
        labels = {
            "study": list(inputs.studies), "covariate": list(inputs.covariates),
            "me_row": [int(i) for i in self._me_rows],
        }
        self.coords = {d: [str(v) for v in labels[d]] for d in sorted(used)}

    # ------------------------------------------------------------------------ parameters

    def _prior_tables(self) -> None:
        """Normal priors of every coordinate but the log scales, as vectors (one pass)."""
        b = self._blocks
        index, mu, sd = [], [], []
        for name, block in b.items():
            if name.endswith(("_log__", "_logodds__")):
                continue
            if self._power_prior and name in ("log_d50", "log_slope"):
                continue  # their prior depends on a0 (the kernel's power-prior block)
            if name in ("log_d50", "log_d50_study"):
                centre, spread = self._d50_prior
            elif name in ("log_slope", "log_slope_study"):
                centre, spread = self._slope_prior
            elif name == "log_factor":
                centre, spread = self._factor_mu, self._factor_sd
            elif name == "exposure_log_median":
                prior = self.spec.priors["exposure"]
                centre, spread = math.log(prior["median"]), prior["sigma"]
            else:  # standardised study effects and dose errors
                centre, spread = 0.0, 1.0
            index.append(np.arange(block.start, block.start + block.size))
            mu.append(np.broadcast_to(centre, block.size))
            sd.append(np.broadcast_to(spread, block.size))
        empty = [np.zeros(0)]
        self._normal_index = np.concatenate(index or [np.zeros(0, dtype=np.int64)])
        self._normal_mu = np.concatenate(mu or empty).astype(np.float64)
        self._normal_inv_sd = 1.0 / np.concatenate(sd or empty).astype(np.float64)
        n_normal = self._normal_index.size
        self._normal_const = float(np.sum(np.log(self._normal_inv_sd)) - n_normal * _LOG_SQRT_2PI)
        self._half_normal = [
            (b[name].start, sigma)
            for name, sigma in (
                ("tau_log__", self._tau_sigma), ("tau_slope_log__", self._tau_slope_sigma)
            )
            if name in b
        ]
        if "exposure_sd_log__" in b:
            sigma = self.spec.priors["exposure_sd"]["sigma"]
            block = b["exposure_sd_log__"]
            self._half_normal += [(block.start + s, sigma) for s in range(block.size)]

    def _compiled_arguments(self, inputs) -> tuple:
        """Arguments (after ``x``) of ``doseresponse.models._row_kernels.log_posterior``."""
        from doseresponse.models._row_kernels import FAMILY_CODES, KERNEL_ARRAYS, LAYOUT_FIELDS

        b = self._blocks
        pooling = {"complete": 0, "partial": 1, "none": 2}[self.spec.pooling]
        fixed = {
            "pooling": pooling, "n_study": self._n_study, "n_cov": self._n_cov,
            "family": FAMILY_CODES[self.spec.curve], "sampler_coordinates": 0,
        }
        layout = np.array(
            [fixed[f] if f in fixed else (b[f].start if f in b else -1) for f in LAYOUT_FIELDS],
            dtype=np.int64,
        )
        half_index = np.array([i for i, _ in self._half_normal], dtype=np.int64)
        half_sigma = np.array([sd for _, sd in self._half_normal], dtype=np.float64)
        *agg, agg_constant = _aggregate_arrays(inputs)
        args = (
            layout, self._normal_index.astype(np.int64), self._normal_mu, self._normal_inv_sd,
            half_index, half_sigma,
            np.array([self._normal_const, agg_constant, *self._background_constants(),
                      *self._power_prior_constants()]),
            *_grouped_ipd(inputs), *agg,
            self._me_rows.astype(np.int64), self._me_sigma.astype(np.float64),
            self._me_study.astype(np.int64), self._me_log_obs.astype(np.float64),
        )
        for value, (name, dtype, ndim) in zip(args, KERNEL_ARRAYS, strict=True):
            if value.dtype != np.dtype(dtype) or value.ndim != ndim:  # pragma: no cover
                raise TypeError(f"kernel argument {name} is {value.dtype}/{value.ndim}-d")
        # writeable C copies: one compiled signature (numba types read-only arrays apart)
        return tuple(np.array(v, order="C", copy=True) for v in args)

    def _background_constants(self) -> tuple[float, ...]:
        """Beta prior (a, β, ln B(a, β)) of the background risk, or nothing without one."""
        if not self.spec.background:
            return ()
        from doseresponse.models.background import beta_parameters, log_beta_function

        a, b = beta_parameters(self.spec.priors["background"])
        return a, b, log_beta_function(a, b)

    def _power_prior_constants(self) -> tuple[float, ...]:
        """Constants of the estimated-discount power prior, or nothing without one."""
        if not self._power_prior:
            return ()
        from doseresponse.models.power_prior import power_prior_constants

        return power_prior_constants(self.spec.priors)

    # ------------------------------------------------------------------------ density

    def logp_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log posterior density (normalising constants included) and its gradient.

        Parameters
        ----------
        x : numpy.ndarray
            Unconstrained parameters, shape ``(ndim,)`` (layout in the module docstring).

        Returns
        -------
        logp : float
            Log density; ``-inf`` where the data are impossible under the parameters.
        grad : numpy.ndarray
            Gradient of ``logp`` with respect to ``x`` (a new array).
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        if self._compiled is None:  # compiles (once per machine) or loads the callback
            from doseresponse.models._nutpie_callbacks import CompiledDensity

            self._compiled = CompiledDensity(self._kernel_args, self.ndim)
        return self._compiled(x)

    def logp_and_grad_function(self):
        """A fast ``x -> (logp, grad)`` for a caller that copies the gradient before the next call.

        Returns
        -------
        callable
            The compiled kernel through its C callback, reusing one gradient buffer (nutpie's
            Python-callback route copies it before the next call).
        """
        if self._compiled is None:
            from doseresponse.models._nutpie_callbacks import CompiledDensity

            self._compiled = CompiledDensity(self._kernel_args, self.ndim)
        return self._compiled.buffered()

    def logp(self, x: np.ndarray) -> float:
        """Log posterior density at ``x`` (see :meth:`logp_and_grad`).

        Parameters
        ----------
        x : numpy.ndarray
            Point in the unconstrained parameter space, shape ``(dim,)``.

        Returns
        -------
        float
            The log density (nats, up to a constant).
        """
        return self.logp_and_grad(x)[0]

    # ------------------------------------------------------------------------ outputs

    def expand(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Named model quantities at ``x``: the PyMC model's free variables and deterministics.

        Parameters
        ----------
        x : numpy.ndarray
            Unconstrained parameters, shape ``(ndim,)``.

        Returns
        -------
        dict of str to numpy.ndarray
            Keys and shapes as ``names`` and ``shapes`` (D50 in the dose unit).
        """
        return self.expand_draws(np.asarray(x, dtype=np.float64))

    def expand_draws(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Named model quantities of many unconstrained draws at once (vectorised).

        Parameters
        ----------
        draws : numpy.ndarray
            Shape ``(..., ndim)``, e.g. ``(chain, draw, ndim)``.

        Returns
        -------
        dict of str to numpy.ndarray
            Each of ``names``, shape ``(..., *shape)`` (D50 in the dose unit).
        """
        draws = np.asarray(draws, dtype=np.float64)
        lead = draws.shape[:-1]
        plan = self.expansion_plan
        values = draws[..., plan[:, 0]].copy()
        scaled = plan[:, 1] >= 0
        if scaled.any():
            values[..., scaled] += (
                np.exp(draws[..., plan[scaled, 1]]) * draws[..., plan[scaled, 2]]
            )
        exponentiated = plan[:, 3] == 1
        values[..., exponentiated] = np.exp(values[..., exponentiated])
        logistic = plan[:, 3] == 2
        values[..., logistic] = 0.5 * (1.0 + np.tanh(0.5 * values[..., logistic]))
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = int(np.prod(shape))
            out[name] = values[..., start : start + size].reshape((*lead, *shape))
            start += size
        if "true_dose" in out:
            out["true_dose"] = np.exp(self._me_log_obs + self._me_sigma * out["dose_error_z"])
        return out

    @property
    def kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """Data arguments of the compiled kernel, in ``KERNEL_ARRAYS`` order."""
        return self._kernel_args

    @property
    def unconstrained_names(self) -> list[str]:
        """A label for each unconstrained coordinate, e.g. ``z_d50_3``."""
        labels = []
        for name, block in self._blocks.items():
            if block.size == 1 and name not in ("z_d50", "z_slope") and "study" not in name:
                labels.append(name)
            else:
                labels.extend(f"{name}_{i}" for i in range(block.size))
        return labels

    @property
    def expansion_plan(self) -> np.ndarray:
        """How each element of the expanded draw is computed from ``x``, shape ``(n, 4)``.

        Row ``k`` = ``(a, b, c, e)``: value ``x[a] + exp(x[b]) * x[c]`` (second term only when
        ``b >= 0``), exponentiated when ``e == 1``, passed through the logistic function when
        ``e == 2``. Rows follow ``names`` and each
        variable's elements in C order — the layout of nutpie's expanded draws.
        """
        b = {name: block.start for name, block in self._blocks.items()}
        slope = self.spec.slope_name
        n, n_cov = self._n_study, self._n_cov
        rows: dict[str, list[tuple[int, int, int, int]]] = {}
        if "log_d50_study" in b:
            for key, start in (("d50", b["log_d50_study"]), ("slope", b["log_slope_study"])):
                label = "d50" if key == "d50" else slope
                rows[f"log_{key}_study"] = [(start + s, -1, -1, 0) for s in range(n)]
                rows[f"{label}_study"] = [(start + s, -1, -1, 1) for s in range(n)]
        else:
            rows["log_d50"] = [(b["log_d50"], -1, -1, 0)]
            rows["d50"] = [(b["log_d50"], -1, -1, 1)]
            rows["log_slope"] = [(b["log_slope"], -1, -1, 0)]
            rows[slope] = [(b["log_slope"], -1, -1, 1)]
            if "tau_log__" in b:
                tau, z = b["tau_log__"], b["z_d50"]
                rows["tau"] = [(tau, -1, -1, 1)]
                rows["z_d50"] = [(z + s, -1, -1, 0) for s in range(n)]
                rows["d50_study"] = [(b["log_d50"], tau, z + s, 1) for s in range(n)]
            if "tau_slope_log__" in b:
                tau, z = b["tau_slope_log__"], b["z_slope"]
                rows["tau_slope"] = [(tau, -1, -1, 1)]
                rows["z_slope"] = [(z + s, -1, -1, 0) for s in range(n)]
                rows[f"{slope}_study"] = [(b["log_slope"], tau, z + s, 1) for s in range(n)]
        if n_cov:
            rows["log_factor"] = [(b["log_factor"] + c, -1, -1, 0) for c in range(n_cov)]
            rows["factor"] = [(b["log_factor"] + c, -1, -1, 1) for c in range(n_cov)]
        if "background_logodds__" in b:
            rows["background"] = [(b["background_logodds__"], -1, -1, 2)]
        if "a0_logodds__" in b:
            rows["a0"] = [(b["a0_logodds__"], -1, -1, 2)]
        if "dose_error_z" in b:
            mu, omega, e = b["exposure_log_median"], b["exposure_sd_log__"], b["dose_error_z"]
            rows["exposure_log_median"] = [(mu + s, -1, -1, 0) for s in range(n)]
            rows["exposure_sd"] = [(omega + s, -1, -1, 1) for s in range(n)]
            rows["dose_error_z"] = [(e + i, -1, -1, 0) for i in range(self._me_rows.size)]
            # placeholder rows; expand_draws computes exp(log obs + sigma * e) itself
            rows["true_dose"] = [(e + i, -1, -1, 0) for i in range(self._me_rows.size)]
        plan = [row for name in self.names for row in rows[name]]
        return np.array(plan, dtype=np.int64).reshape(-1, 4)

    def initial_point(self, seed: int) -> np.ndarray:
        """Prior medians (τ at its prior SD, study effects at 0) jittered by U(−1, 1), seeded.

        Parameters
        ----------
        seed : int
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        numpy.ndarray
            Shape ``(ndim,)``; the same jitter PyMC's ``jitter+adapt_diag`` initialisation uses.
        """
        start = np.zeros(self.ndim)
        b = self._blocks
        for name, block in b.items():
            if name in ("log_d50", "log_d50_study"):
                start[block.slice] = self._d50_prior[0]
            elif name in ("log_slope", "log_slope_study"):
                start[block.slice] = self._slope_prior[0]
            elif name == "tau_log__":
                start[block.slice] = math.log(self._tau_sigma)
            elif name == "tau_slope_log__":
                start[block.slice] = math.log(self._tau_slope_sigma)
            elif name == "log_factor":
                start[block.slice] = self._factor_mu
            elif name == "background_logodds__":
                from doseresponse.models.background import beta_parameters

                a, beta = beta_parameters(self.spec.priors["background"])
                start[block.slice] = math.log(a / beta)  # logit of the prior mean
            elif name == "a0_logodds__":
                power = self.spec.priors["power_prior"]
                start[block.slice] = math.log(power["a0_alpha"] / power["a0_beta"])
        rng = np.random.default_rng(seed)
        return start + rng.uniform(-1.0, 1.0, self.ndim)


def _grouped_ipd(inputs) -> tuple[np.ndarray, ...]:
    """Patient arrays for the kernel: one dose node per row, rows grouped by (study, covariates)."""
    dose = np.asarray(inputs.ipd_dose, dtype=np.float64)
    study = np.asarray(inputs.ipd_study, dtype=np.int64)
    x = np.asarray(inputs.ipd_x, dtype=np.float64).reshape(dose.size, len(inputs.covariates))
    keys = np.column_stack([study.astype(np.float64), x])
    if dose.size:
        unique, group = np.unique(keys, axis=0, return_inverse=True)
    else:
        unique, group = keys, np.zeros(0, dtype=np.int64)
    event = (np.asarray(inputs.ipd_outcome) == 1).astype(np.float64)
    return (
        dose[:, None],
        np.log(np.maximum(dose, _TINY_DOSE))[:, None],
        event,
        1.0 - event,
        np.ravel(group).astype(np.int64),
        unique[:, 0].astype(np.int64),
        unique[:, 1:],
    )


def _aggregate_arrays(inputs) -> tuple:
    """Aggregate arrays for the kernel (each bin its own group), then Σ log C(n, k)."""
    n_nodes = max(int(inputs.log_weights.size), 1)
    nodes = np.asarray(inputs.agg_nodes, dtype=np.float64).reshape(-1, n_nodes)
    events = np.asarray(inputs.agg_events, dtype=np.float64)
    n = np.asarray(inputs.agg_n, dtype=np.float64)
    constant = float(log_choose(inputs.agg_n, inputs.agg_events).sum()) if n.size else 0.0
    return (
        nodes,
        np.log(np.maximum(nodes, _TINY_DOSE)),
        np.asarray(inputs.log_weights, dtype=np.float64),
        events,
        n - events,
        np.arange(nodes.shape[0], dtype=np.int64),
        np.asarray(inputs.agg_study, dtype=np.int64),
        np.asarray(inputs.agg_x, dtype=np.float64).reshape(nodes.shape[0], len(inputs.covariates)),
        constant,
    )
