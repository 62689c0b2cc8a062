"""Collocation-point samplers. Each keeps a population of points in a :class:`Box` and updates it from
the residual the loss has just computed (no extra forward pass), except RAD and RAR-D, which by design
score a fresh candidate set.

- ``UniformFixed``: drawn once.
- ``UniformResampled``: redrawn entirely every ``every`` updates.
- ``R3`` (Daw et al., ICML 2023): retain the points with ``|r| > mean |r|``, redraw the rest uniformly;
  the population size is constant.
- ``CausalR3``: R3 on the gated residual ``|r| g`` with the causal gate ``g(t_hat) = (1 - tanh(alpha (t_hat -
  beta))) / 2``, ``alpha = 5``; beta starts at -0.5 and grows by ``eta min(exp(-epsilon mean((r g)^2)), 0.1)``
  (eta 1e-3, epsilon 20), so the gate opens forward in time as the early residual falls. The PDE loss is
  ``mean((r g)^2)`` (:meth:`CausalR3.weights`). The speed sits at its cap (1e-4 per step) whenever
  ``mean((r g)^2) < ln(10) / epsilon`` (0.115): on Allen–Cahn that is every step, so the gate is fully
  open after ~20k steps whatever the fit, and a run needs steps after that (docs/pinn.md).
- ``RAD`` (Wu et al. 2023): redraw all points from candidates with density ``|r|^k / mean|r|^k + c``.
- ``RARD``: add ``n_add`` candidates drawn with that density (the population grows).
Every update returns a :class:`SamplerReport` with how many points changed and the residual statistics
(and, for causal R3, where the gate stands).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sciml.pinn.monitor import ResidualStats, residual_stats
from sciml.pinn.problems import Box


@dataclass(frozen=True)
class SamplerReport:
    changed: int  # points replaced or added
    retained: int
    population: int
    residual_values: torch.Tensor  # (N,) the residual the update used, detached
    gate_beta: float | None = None  # causal R3: the gate's position in normalised time after the update

    @functools.cached_property
    def residual(self) -> ResidualStats:
        """Statistics of ``|r|``, computed on first access only (a GPU sync; most steps never ask)."""
        return residual_stats(self.residual_values)


class Sampler:
    needs_candidates = False  # True: update() wants a residual function for fresh candidates

    def __init__(self, domain: Box, n: int, generator: torch.Generator | None = None):
        if n < 1:
            raise ValueError(f"need at least one collocation point, got {n}")
        self.domain, self.generator = domain, generator
        self.points = domain.sample(n, generator)
        self.updates = 0

    def state_dict(self) -> dict:
        """The population and the update count (and what subclasses add): enough to resume exactly."""
        return {"points": self.points.detach().clone(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.points = state["points"].to(self.points.device, self.points.dtype)
        self.updates = int(state["updates"])

    def weights(self) -> torch.Tensor:
        """Per-point weights of the PDE loss (ones unless the sampler is causal)."""
        return torch.ones(len(self.points), dtype=self.points.dtype, device=self.points.device)

    def update(self, residual: torch.Tensor, **kwargs) -> SamplerReport:
        raise NotImplementedError

    def _check(self, residual: torch.Tensor) -> torch.Tensor:
        residual = residual.detach().reshape(-1)
        if residual.shape[0] != len(self.points):
            raise ValueError(f"residual has {residual.shape[0]} values for {len(self.points)} points")
        if not torch.isfinite(residual).all():
            raise FloatingPointError("the PDE residual holds NaN/inf; the run diverged")
        return residual


class UniformFixed(Sampler):
    def update(self, residual: torch.Tensor, **kwargs) -> SamplerReport:
        residual = self._check(residual)
        self.updates += 1
        return SamplerReport(0, len(self.points), len(self.points), residual)


class UniformResampled(Sampler):
    def __init__(self, domain: Box, n: int, generator: torch.Generator | None = None, every: int = 1):
        super().__init__(domain, n, generator)
        self.every = every

    def update(self, residual: torch.Tensor, **kwargs) -> SamplerReport:
        residual = self._check(residual)
        self.updates += 1
        changed = 0
        if self.updates % self.every == 0:
            self.points = self.domain.sample(len(self.points), self.generator)
            changed = len(self.points)
        return SamplerReport(changed, len(self.points) - changed, len(self.points), residual)


class R3(Sampler):
    def _retain_and_resample(self, score: torch.Tensor, residual: torch.Tensor) -> SamplerReport:
        keep = score > score.mean()
        retained = int(keep.sum())  # the one device sync of an update
        n_new = len(self.points) - retained
        self.points = torch.cat([self.points[keep], self.domain.sample(n_new, self.generator)])
        self.updates += 1
        return SamplerReport(n_new, retained, len(self.points), residual)

    def update(self, residual: torch.Tensor, **kwargs) -> SamplerReport:
        residual = self._check(residual)
        return self._retain_and_resample(residual.abs(), residual)


def causal_gate(t_hat: torch.Tensor, beta: float, alpha: float = 5.0) -> torch.Tensor:
    """``g = (1 - tanh(alpha (t_hat - beta))) / 2``: 1 well before ``beta``, 1/2 at ``beta``, 0 well after."""
    return 0.5 * (1 - torch.tanh(alpha * (t_hat - beta)))


class CausalR3(R3):
    def __init__(self, domain: Box, n: int, time_axis: int, generator: torch.Generator | None = None,
                 alpha: float = 5.0, beta0: float = -0.5, eta: float = 1e-3, epsilon: float = 20.0):
        super().__init__(domain, n, generator)
        self.time_axis, self.alpha, self.beta, self.eta, self.epsilon = time_axis, alpha, beta0, eta, epsilon

    def state_dict(self) -> dict:
        return {**super().state_dict(), "beta": self.beta}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.beta = float(state["beta"])

    def gate(self) -> torch.Tensor:
        return causal_gate(self.domain.normalised(self.points, self.time_axis), self.beta, self.alpha)

    def weights(self) -> torch.Tensor:
        """``g^2``: the PDE loss is ``mean((r g)^2)``, the quantity the gate's speed rule reads (as in the
        released R3 code; before 2026-11-28 sciml weighted by ``g``)."""
        return self.gate().pow(2)

    def update(self, residual: torch.Tensor, **kwargs) -> SamplerReport:
        residual = self._check(residual)
        gate = self.gate()
        gated_loss = float((residual * gate).pow(2).mean())
        self.beta += self.eta * min(math.exp(-self.epsilon * gated_loss), 0.1)
        report = self._retain_and_resample(residual.abs() * gate, residual)
        return dataclasses.replace(report, gate_beta=self.beta)


class RAD(Sampler):
    """Residual-based adaptive distribution: all points redrawn from ``n_candidates`` uniform candidates."""

    needs_candidates = True

    def __init__(self, domain: Box, n: int, generator: torch.Generator | None = None, k: float = 1.0,
                 c: float = 1.0, n_candidates: int = 10000, every: int = 1):
        super().__init__(domain, n, generator)
        self.k, self.c, self.n_candidates, self.every = k, c, n_candidates, every

    def _draw(self, residual_fn: Callable[[torch.Tensor], torch.Tensor], count: int) -> torch.Tensor:
        candidates = self.domain.sample(self.n_candidates, self.generator)
        score = residual_fn(candidates).detach().abs().pow(self.k)
        density = score / score.mean() + self.c
        index = torch.multinomial(density / density.sum(), count, replacement=False, generator=self.generator)
        return candidates[index]

    def _refresh(self, residual_fn) -> int:
        """Replace every point; return how many changed."""
        self.points = self._draw(residual_fn, len(self.points))
        return len(self.points)

    def update(self, residual: torch.Tensor, residual_fn=None, **kwargs) -> SamplerReport:
        residual = self._check(residual)
        self.updates += 1
        changed = 0
        if self.updates % self.every == 0:
            if residual_fn is None:
                raise ValueError(f"{type(self).__name__} needs residual_fn to score its candidates")
            changed = self._refresh(residual_fn)
        return SamplerReport(changed, len(self.points) - changed, len(self.points), residual)


class RARD(RAD):
    """RAR-D: every ``every`` updates, add ``n_add`` points drawn with the RAD density."""

    def __init__(self, domain: Box, n: int, generator: torch.Generator | None = None, n_add: int = 100, **kwargs):
        super().__init__(domain, n, generator, **kwargs)
        self.n_add = n_add

    def _refresh(self, residual_fn) -> int:
        self.points = torch.cat([self.points, self._draw(residual_fn, self.n_add)])
        return self.n_add
