"""Physics-informed solvers (``pinn``, ``pig``): a network ``u(points)`` trained on PDE residuals at collocation
points from a sampler, with initial/boundary terms, against a problem's reference solution.

:class:`PhysicsInformedSolver` meets the solver contract of :mod:`sciml.solvers.base`: named loss terms
(``residual``, ``initial``, ``boundary``), a deterministic validation metric (relative L2 error and the
residual's shape on a fixed grid), the sampler update after each optimiser step and a fixed objective
for the trainer's L-BFGS stage. The collocation task (:mod:`sciml.tasks.collocation`) builds it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from sciml.errors import ConfigError
from sciml.pinn.models import MLP, PIG, HardInitial, TimeMarching
from sciml.pinn.monitor import amplitude_ratios, residual_stats
from sciml.pinn.problems import Problem
from sciml.pinn.samplers import Sampler, UniformFixed
from sciml.pinn.strategies import StrategyConfig, causal_residual_loss, curriculum_value, window_index
from sciml.solvers.base import Solver

LBFGS_CONSTRAINT_SEED = 12345  # the L-BFGS stage draws the same initial/boundary points at every evaluation
CONSTRAINT_SAMPLING = ("resampled", "fixed", "grid")


@dataclass
class PINNConfig:
    """Tanh MLP on the coordinates (Raissi et al. 2019), optionally on periodic or random Fourier features."""

    name: str = "pinn"
    width: int = 50
    depth: int = 4  # hidden layers
    normalise_inputs: bool = False  # map each non-periodic coordinate from the domain to [-1, 1]
    periodic_harmonics: int = 0  # > 0: periodic axes enter as cos/sin of k = 1..harmonics (exact periodicity)
    fourier_features: int = 0  # random Fourier features [cos Bx, sin Bx], B ~ N(0, fourier_scale^2)
    fourier_scale: float = 1.0
    init: str = "xavier_normal"  # xavier_normal | xavier_uniform | torch (nn.Linear's default)
    hard_initial: bool = False  # u = u0(x) + t_hat net(x, t): the initial condition holds exactly


@dataclass
class PIGConfig:
    """Physics-Informed Gaussians (Kang et al., ICLR 2025): trainable Gaussian features, then a tiny MLP."""

    name: str = "pig"
    gaussians: int = 800  # per channel
    channels: int = 4
    hidden: int = 16  # width of the channels -> hidden -> 1 tanh head
    sigma: float = 0.1  # initial width, relative to half the domain's side along each axis
    rotation: bool = False  # full covariances through a trainable rotation per Gaussian


def validate_pinn(cfg: PINNConfig) -> None:
    """Keys that would be silently ignored or conflict are errors."""
    if cfg.init not in MLP.INITS:
        raise ConfigError(f"bad value for 'solver.init': {cfg.init!r} (choose from {', '.join(MLP.INITS)})")
    if cfg.fourier_features > 0:
        ignored = [k for k, on in (("periodic_harmonics", cfg.periodic_harmonics > 0),
                                   ("normalise_inputs", cfg.normalise_inputs)) if on]
        if ignored:
            raise ConfigError(f"solver.fourier_features={cfg.fourier_features} replaces the coordinates, so "
                              f"solver.{ignored[0]} would be ignored: use one or the other")
    for key in ("width", "depth"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")


def validate_pig(cfg: PIGConfig) -> None:
    for key in ("gaussians", "channels", "hidden"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if cfg.sigma <= 0:
        raise ConfigError(f"bad value for 'solver.sigma': {cfg.sigma} (must be > 0)")


@dataclass
class CollocationContext:
    """What a physics-informed solver is built from: the problem, its sampler and the loss settings.

    Attributes:
      problem: the PDE, its domain and reference solution.
      make_sampler: builds the sampler of the PDE loss's collocation points (called after the network is
        drawn, so that both draw from ``generator`` in a fixed order).
      generator: draws network initialisation, constraint points and new collocation points.
      weights: loss weight per constraint term (``initial``, ``boundary``).
      constraint_points: initial/boundary points per term and step.
      constraint_sampling: ``resampled`` (fresh constraint points every step), ``fixed`` (one random set) or
        ``grid`` (evenly spaced, as the released R3 code's initial and boundary points; periodic axes exclude
        their end point).
      eval_grid: the validation grid (points per axis).
      snapshot_steps: optimiser steps whose collocation points are kept for the pictures (0: before training).
      lbfgs_points: > 0: the L-BFGS stage uses this many fresh uniform points instead of the sampler's.
      strategy: curriculum, causal weighting and time-marching (:mod:`sciml.pinn.strategies`; first-order
        stage only).
      max_steps: the first-order steps (the curriculum's length is a share of them).
    """

    problem: Problem
    make_sampler: Callable[[], Sampler]
    generator: torch.Generator | None = None
    weights: dict[str, float] = field(default_factory=lambda: {"initial": 100.0, "boundary": 100.0})
    constraint_points: int = 200
    constraint_sampling: str = "resampled"
    eval_grid: tuple[int, ...] = (256, 100)
    snapshot_steps: frozenset[int] = frozenset()
    lbfgs_points: int = 0
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    max_steps: int = 0


class PhysicsInformedSolver(Solver):
    """A network ``u(points) -> (N,)`` trained on the residual of ``context.problem`` at collocation points."""

    uses_params = False
    selection_metric = "relative_l2"

    def __init__(self, net: torch.nn.Module, context: CollocationContext):
        super().__init__()
        self.net, self.context = net, context
        self.problem, self.generator = context.problem, context.generator
        self.sampler = context.make_sampler()
        self.stage = "adam"
        self.fixed_seed = 0
        device = self.sampler.points.device
        if context.constraint_sampling == "fixed":  # the same points every step: re-seed a private generator
            self.fixed_seed = int(torch.randint(0, 2**62, (1,), generator=self.generator, device=device).item())
        self._constraint_generator = torch.Generator(device=device)
        self.snapshots: list[tuple[int, torch.Tensor]] = []
        if 0 in context.snapshot_steps:
            self.snapshots.append((0, self.sampler.points.detach().clone()))
        self._residual: torch.Tensor | None = None
        self._report = None
        self._coefficient: float | None = None  # the curriculum's value at the current step
        self._causal_min: float | None = None
        self.window = 0  # time-marching: the window being trained
        self._window_range: tuple[float, float] | None = None  # its time range while it trains

    def predict(self, points: torch.Tensor) -> torch.Tensor:
        """``u`` at ``(N, d)`` points, ``(N,)``."""
        return self.net(points).reshape(points.shape[0])

    def _constraint_draws(self) -> torch.Generator | None:
        if self.stage == "lbfgs":
            return self._constraint_generator.manual_seed(LBFGS_CONSTRAINT_SEED)
        if self.context.constraint_sampling == "fixed":
            return self._constraint_generator.manual_seed(self.fixed_seed)
        return self.generator

    def training_loss(self, batch, step: int) -> dict[str, torch.Tensor]:
        """``residual``: mean of the sampler's weights x r^2 (causally weighted over time chunks with
        ``strategy.causal_epsilon``); then each constraint term times its weight. With a curriculum the PDE
        coefficient is the stage's value; with time-marching the loss is the current window's."""
        draws = self._constraint_draws()
        strategy = self.context.strategy
        adam = self.stage == "adam"
        self._coefficient = None
        if adam and strategy.curriculum_start > 0:
            target = getattr(self.problem, self.problem.curriculum_parameter)
            self._coefficient = curriculum_value(step, self.context.max_steps, strategy.curriculum_start, target,
                                                 strategy.curriculum_stages, strategy.curriculum_fraction)
        model, initial = self.net, None
        if isinstance(self.net, TimeMarching):
            model, initial = self._enter_window(window_index(step, self.context.max_steps, strategy.time_windows))
        points = self._in_window(self.sampler.points)
        with self.problem.coefficient(self._coefficient), self._window(initial):
            residual = self.problem.residual(model, points)
            constraints = self._constraint_losses(model, draws)
        self._residual = residual
        squared = self.sampler.weights() * residual.pow(2)
        if adam and strategy.causal_epsilon > 0:
            axis = self.problem.time_axis
            t0, t1 = self._window_range or (self.problem.domain.low[axis], self.problem.domain.high[axis])
            loss, weights = causal_residual_loss(squared, points[:, axis].detach(), t0, t1, strategy.causal_chunks,
                                                 strategy.causal_epsilon)
            self._causal_min = float(weights.min())
        else:
            loss = squared.mean()
        terms = {"residual": loss}
        for name, value in constraints.items():
            terms[name] = self.context.weights.get(name, 1.0) * value
        return terms

    def _constraint_losses(self, model, draws: torch.Generator | None) -> dict[str, torch.Tensor]:
        n = self.context.constraint_points
        if self.context.constraint_sampling == "grid":
            return self.problem.constraint_losses(model, n, grid=True)
        return self.problem.constraint_losses(model, n, draws)

    # -- time-marching ------------------------------------------------------------------------------------
    def _enter_window(self, k: int) -> tuple[torch.nn.Module, torch.nn.Module | None]:
        """Window ``k``'s network and initial condition (the last window's network, None for the first); on
        entering a window its network starts from the last one's weights. Only window ``k`` trains."""
        nets = self.net.nets
        while self.window < k:
            self.window += 1
            nets[self.window].load_state_dict(nets[self.window - 1].state_dict())
        for j, net in enumerate(nets):
            net.requires_grad_(j == k)
        self._window_range = (self.net.edges[k], self.net.edges[k + 1])
        return nets[k], (nets[k - 1] if k > 0 else None)

    def _in_window(self, points: torch.Tensor) -> torch.Tensor:
        """The sampler's points (over the whole domain) mapped affinely in time into the current window."""
        if self._window_range is None:
            return points
        axis, box = self.problem.time_axis, self.problem.domain
        t0, t1 = box.low[axis], box.high[axis]
        a, b = self._window_range
        mapped = points.clone()
        mapped[:, axis] = a + (points[:, axis] - t0) * ((b - a) / (t1 - t0))
        return mapped

    def _window(self, initial: torch.nn.Module | None):
        if self._window_range is None:
            return contextlib.nullcontext()
        return self.problem.time_window(*self._window_range, initial)

    def on_step_end(self, step: int) -> None:
        """Move the collocation points (from this step's residual; RAD scores fresh candidates)."""
        if self.stage != "adam" or self._residual is None:
            return
        model = self.net.nets[self.window] if isinstance(self.net, TimeMarching) else self.net

        def residual_fn(pts):
            with self.problem.coefficient(self._coefficient):
                return self.problem.residual(model, self._in_window(pts))

        self._report = self.sampler.update(self._residual,
                                           residual_fn=residual_fn if self.sampler.needs_candidates else None)
        self._residual = None
        if step in self.context.snapshot_steps:
            self.snapshots.append((step, self._in_window(self.sampler.points).detach().clone()))

    def log_values(self) -> dict[str, float]:
        if self._report is None:
            return {}
        stats = self._report.residual
        out = {"collocation_skewness": stats.skewness, "collocation_kurtosis": stats.kurtosis,
               "points_changed": self._report.changed, "points": self._report.population}
        if self._report.gate_beta is not None:
            out["gate_beta"] = self._report.gate_beta
        if self._coefficient is not None:
            out["curriculum_" + self.problem.curriculum_parameter] = self._coefficient
        if self._causal_min is not None:
            out["causal_min_weight"] = self._causal_min
        if self._window_range is not None:
            out["time_window"] = self.window
        return out

    def begin_stage(self, name: str) -> None:
        """``lbfgs``: a fixed objective: the sampler's last points (or fresh uniform ones), fixed constraints."""
        if name == "lbfgs" and self.stage != "lbfgs":
            if self.context.lbfgs_points:
                self.sampler = UniformFixed(self.problem.domain, self.context.lbfgs_points, self.generator)
            self._report = None
        self.stage = name

    def validation_loss(self, batch=None) -> dict[str, torch.Tensor]:
        """Relative L2 error against the reference and the shape of ``|r|`` on the evaluation grid."""
        error = self.problem.relative_l2(self.net, self.context.eval_grid)
        points = self.problem.domain.grid(self.context.eval_grid)
        residual = torch.cat([self.problem.residual(self.net, c).detach() for c in points.split(8192)])
        stats = residual_stats(residual)
        values = {"relative_l2": error, "residual_mean": stats.mean, "residual_skewness": stats.skewness,
                  "residual_kurtosis": stats.kurtosis}
        if self.problem.conserves_amplitude:
            values["amplitude_ratio"], values["amplitude_ratio_max"] = amplitude_ratios(self.net, self.problem,
                                                                                       self.context.eval_grid)
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}

    # -- resume: the sampler, the generator and the snapshots travel with the weights ------------------
    def get_extra_state(self) -> dict:
        return {"stage": self.stage, "sampler": self.sampler.state_dict(), "fixed_seed": self.fixed_seed,
                "window": self.window,
                "generator": None if self.generator is None else self.generator.get_state(),
                "snapshots": [[s, p.detach().cpu()] for s, p in self.snapshots]}

    def set_extra_state(self, state: dict) -> None:
        if state["stage"] == "lbfgs" and self.stage != "lbfgs":
            self.begin_stage("lbfgs")
        self.stage = state["stage"]
        self.sampler.load_state_dict(state["sampler"])
        self.fixed_seed = int(state["fixed_seed"])
        self.window = int(state.get("window", 0))
        if self.generator is not None and state["generator"] is not None:
            self.generator.set_state(state["generator"].cpu())
        device = self.sampler.points.device
        self.snapshots = [(int(s), p.to(device)) for s, p in state["snapshots"]]


def build_network(cfg: PINNConfig | PIGConfig, problem: Problem,
                  generator: torch.Generator | None = None) -> torch.nn.Module:
    """``pinn``: a tanh MLP; ``pig``: Physics-Informed Gaussians with means spread over the domain."""
    box = problem.domain
    if cfg.name == "pig":
        half = torch.tensor(box.high) - torch.tensor(box.low)
        return PIG(box.dim, cfg.gaussians, cfg.channels, cfg.hidden, box.low, box.high, sigma=cfg.sigma * half / 2,
                   generator=generator, rotation=cfg.rotation)
    periodic = {}
    if cfg.periodic_harmonics > 0:
        periodic = {a: (box.high[a] - box.low[a], cfg.periodic_harmonics) for a in problem.periodic_axes}
    bounds = {"low": box.low, "high": box.high} if cfg.normalise_inputs else {}
    net = MLP(box.dim, cfg.width, cfg.depth, periodic=periodic, fourier_features=cfg.fourier_features,
              fourier_scale=cfg.fourier_scale, init=cfg.init, **bounds)
    if not cfg.hard_initial:
        return net
    if problem.time_axis is None:
        raise ConfigError(f"solver.hard_initial needs an evolution problem; {problem.name!r} has no time axis")
    axis = problem.time_axis
    return HardInitial(net, problem.initial_value, axis, box.low[axis], box.high[axis])


def build_physics_informed(cfg: PINNConfig | PIGConfig, context: CollocationContext) -> PhysicsInformedSolver:
    """The network of ``cfg`` (drawn from ``context.generator``) inside a :class:`PhysicsInformedSolver`; with
    ``strategy.time_windows > 1``, one copy per window (:class:`TimeMarching`)."""
    problem, windows = context.problem, context.strategy.time_windows
    if windows == 1:
        return PhysicsInformedSolver(build_network(cfg, problem, context.generator), context)
    hard = getattr(cfg, "hard_initial", False)
    net = build_network(dataclasses.replace(cfg, hard_initial=False) if hard else cfg, problem, context.generator)
    axis = problem.time_axis
    marching = TimeMarching([net] + [copy.deepcopy(net) for _ in range(windows - 1)], axis,
                            problem.domain.low[axis], problem.domain.high[axis],
                            hard_initial=problem.initial_value if hard else None)
    return PhysicsInformedSolver(marching, context)
