"""Closures: a learned term ``closure(coarse_state, params=None) -> tendency`` for a coarse simulator.

The same object is trained a priori (regression on the exact subgrid tendency stored in the data), trained
a posteriori (through unrolled rollouts of the differentiable coarse simulator with the closure added to its
right-hand side; the unroll length grows linearly over training, as Frezat et al. 2022 do), evaluated as
the coupled model (its ``rollout`` is the simulator's, with the closure), and exported for a host model.
The coarse simulator is rebuilt from the dataset's physics (:func:`sciml.sim.builders.coarse_simulator`).

A subclass implements :meth:`ClosureSolver.normalised_tendency` (normalised state in, normalised tendency
out); the context's ``fields`` are ``(state, target)`` (the target, the exact subgrid tendency, only for
a-priori training) and its ``stats`` normalise both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.metrics import energy_spectrum
from sciml.sim.base import Simulator
from sciml.sim.builders import coarse_simulator
from sciml.solvers.base import Solver
from sciml.solvers.context import SolverContext

MODES = ("a_priori", "a_posteriori")


@dataclass(frozen=True)
class ClosureTraining:
    """How a closure is trained (set by the closure task from ``task.*``).

    Attributes:
      mode: ``a_priori`` (match the stored subgrid tendency) or ``a_posteriori`` (match the trajectory).
      substeps: simulator steps per model step (``dt / substeps`` each).
      horizon: a posteriori, the most model steps unrolled per window.
      horizon_start: a posteriori, the unroll length at the start of training; it grows linearly to
        ``horizon`` over ``total_steps``.
      total_steps: training length in optimiser steps.
      checkpoint_every: a posteriori, simulator steps per recomputed segment in the backward pass (0: keep
        every step's activations).
      spectrum_weight: a posteriori, weight of a loss on the spectrum of the rolled-out field (the enstrophy
        spectrum for vorticity; Maddu et al. 2024, SMARL): :func:`band_spectrum_loss`.
    """

    mode: str = "a_priori"
    substeps: int = 1
    horizon: int = 1
    horizon_start: int = 1
    total_steps: int = 1
    checkpoint_every: int = 0
    spectrum_weight: float = 0.0

    def unroll(self, step: int) -> int:
        """Model steps unrolled at optimiser step ``step`` (1-based)."""
        progress = min(max((step - 1) / self.total_steps, 0.0), 1.0)
        return min(self.horizon, self.horizon_start + int(progress * (self.horizon - self.horizon_start + 1)))


def band_spectrum_loss(predicted: torch.Tensor, target: torch.Tensor, ndim: int) -> torch.Tensor:
    """Mean over samples, steps and wavenumber shells ``1 <= k < n / 3`` of ``(ln E_pred(k) - ln E_true(k))^2``,
    fields ``(B, T, *space)``: the spectra on the band a 2/3-dealiased coarse model resolves (above it the
    model holds nothing, and a log distance there would be meaningless)."""
    k_max = min(predicted.shape[-ndim:]) // 3
    if k_max < 2:
        raise ValueError(f"a grid of {min(predicted.shape[-ndim:])} points has no band to compare spectra on")
    tiny = torch.finfo(predicted.dtype).tiny
    spectra = [energy_spectrum(x.unsqueeze(-1 - ndim), ndim)[..., 1:k_max].clamp_min(tiny).log()
               for x in (predicted, target)]
    return (spectra[0] - spectra[1]).pow(2).mean()


class ClosureSolver(Solver):
    """Base of learned closures: the coarse simulator, the losses and the coupled rollout."""

    uses_params = False

    def __init__(self, context: SolverContext, simulator: Simulator | None = None):
        super().__init__()
        self.context = context
        self.simulator = simulator or coarse_simulator(context.attrs, context.spatial_shape)
        self.training_plan = ClosureTraining()
        stats = context.stats or {}
        for name, key, default in (("state_mean", "field_mean", 0.0), ("state_std", "field_std", 1.0)):
            self.register_buffer(name, torch.tensor(float(stats.get(key, [default])[0])))
        target = len(context.fields) > 1
        for name, key, default in (("target_mean", "field_mean", 0.0), ("target_std", "field_std", 1.0)):
            self.register_buffer(name, torch.tensor(float(stats[key][1]) if target and stats else default))

    def configure_training(self, plan: ClosureTraining) -> None:
        self.training_plan = plan

    def normalised_tendency(self, z: torch.Tensor) -> torch.Tensor:
        """The closure's model: the normalised state ``(B, *space)`` to the normalised tendency, same shape."""
        raise NotImplementedError

    def tendency(self, state: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """The closure term for ``state`` ``(B, *space)`` in physical units, same shape and dtype."""
        dtype = state.dtype
        z = (state - self.state_mean.to(dtype)) / self.state_std.to(dtype)
        return self.target_mean.to(dtype) + self.target_std.to(dtype) * self.normalised_tendency(z).to(dtype)

    def closure(self, state: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """What a host model calls every step: ``closure(coarse_state, params=None) -> tendency``."""
        return self.tendency(state, params)

    def _roll(self, state: torch.Tensor, n_steps: int) -> torch.Tensor:
        """``(B, n_steps, *space)``: the coarse simulator plus the closure, from ``state`` ``(B, *space)``."""
        plan = self.training_plan
        dt = self.context.dt / plan.substeps
        frames = self.simulator.rollout(state, n_steps * plan.substeps, dt, closure=self.closure,
                                        save_every=plan.substeps, checkpoint_every=plan.checkpoint_every)
        return frames.movedim(-1 - self.context.ndim, 1)[:, 1:]

    def _a_priori(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        error = (self.tendency(batch["state"]) - batch["tendency"]) / self.target_std
        return error.pow(2).mean()

    def _a_posteriori(self, batch: dict[str, torch.Tensor], n_steps: int) -> dict[str, torch.Tensor]:
        predicted = self._roll(batch["input"][:, -1, 0], n_steps)
        target = batch["target"][:, :n_steps, 0]
        terms = {"a_posteriori": ((predicted - target) / self.state_std).pow(2).mean()}
        if self.training_plan.spectrum_weight:
            terms["spectrum"] = self.training_plan.spectrum_weight * band_spectrum_loss(predicted, target,
                                                                                         self.context.ndim)
        return terms

    def training_loss(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        plan = self.training_plan
        if plan.mode == "a_priori":
            return {"a_priori": self._a_priori(batch)}
        return self._a_posteriori(batch, plan.unroll(step))

    @torch.no_grad()
    def validation_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.training_plan.mode == "a_priori":
            return {"loss": self._a_priori(batch)}
        terms = self._a_posteriori(batch, self.training_plan.horizon)
        return {"loss": sum(terms.values()), **{f"loss_{k}": v for k, v in terms.items()}}

    @torch.no_grad()
    def rollout(self, initial: torch.Tensor, n_steps: int, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None) -> torch.Tensor:
        """The coupled model: ``(B, n_steps, 1, *space)`` after ``initial`` ``(B, H, 1, *space)``."""
        return self._roll(initial[:, -1, 0], n_steps).unsqueeze(2)


@dataclass
class PolynomialClosureConfig:
    """A local polynomial of the state (the simplest closure of two-scale Lorenz96; Wilks 2005)."""

    name: str = "polynomial"
    degree: int = 3


class PolynomialClosure(ClosureSolver):
    """``tendency = mean_t + std_t sum_p a_p z^p`` with ``z`` the normalised state, the same at every point."""

    def __init__(self, cfg: PolynomialClosureConfig, context: SolverContext):
        super().__init__(context)
        if cfg.degree < 0:
            raise ValueError(f"solver.degree must be >= 0, got {cfg.degree}")
        self.degree = cfg.degree
        self.coefficients = torch.nn.Parameter(torch.zeros(cfg.degree + 1))

    def normalised_tendency(self, z: torch.Tensor) -> torch.Tensor:
        powers = torch.stack([z**p for p in range(self.degree + 1)], dim=-1)
        return powers @ self.coefficients.to(z.dtype)


def build_polynomial(cfg: PolynomialClosureConfig, context: SolverContext) -> PolynomialClosure:
    return PolynomialClosure(cfg, context)


@dataclass
class LocalMLPClosureConfig:
    """A per-point MLP of the state at a point and ``stencil`` neighbours each side (the same weights at every
    point: a local closure, the usual ML baseline against non-local ones such as the MNO)."""

    name: str = "local_mlp"
    stencil: int = 0  # neighbours each side seen by the MLP (0: the point alone, like the polynomial)
    hidden: int = 32
    layers: int = 2  # hidden layers


class LocalMLPClosure(ClosureSolver):
    """``tendency_k = mean_t + std_t MLP(z_{k-s}, ..., z_{k+s})`` on a periodic 1D grid, ``(B, K)`` in and out."""

    def __init__(self, cfg: LocalMLPClosureConfig, context: SolverContext):
        super().__init__(context)
        if cfg.stencil < 0 or cfg.hidden < 1 or cfg.layers < 1:
            raise ValueError("solver.stencil must be >= 0, solver.hidden and solver.layers >= 1")
        if context.ndim != 1:
            raise ValueError("local_mlp closes a 1D coarse state")
        self.stencil = cfg.stencil
        layers: list[torch.nn.Module] = [torch.nn.Conv1d(1, cfg.hidden, 2 * cfg.stencil + 1), torch.nn.SiLU()]
        for _ in range(cfg.layers - 1):
            layers += [torch.nn.Conv1d(cfg.hidden, cfg.hidden, 1), torch.nn.SiLU()]
        self.net = torch.nn.Sequential(*layers, torch.nn.Conv1d(cfg.hidden, 1, 1))

    def normalised_tendency(self, z: torch.Tensor) -> torch.Tensor:
        z = z.unsqueeze(1).to(self.net[0].weight.dtype)
        if self.stencil:
            z = torch.nn.functional.pad(z, (self.stencil, self.stencil), mode="circular")
        return self.net(z).squeeze(1)


def build_local_mlp(cfg: LocalMLPClosureConfig, context: SolverContext) -> LocalMLPClosure:
    return LocalMLPClosure(cfg, context)
