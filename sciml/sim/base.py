"""The interface every simulator shares: ``rhs``, ``step`` and ``rollout``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint

Closure = Callable[[torch.Tensor], torch.Tensor]
Coefficient = float | torch.Tensor


def coefficient(value: float | torch.Tensor) -> Coefficient:
    """A model coefficient (forcing, coupling, viscosity...): a float, or a tensor kept as given so that a
    rollout is differentiable with respect to it; a tensor of shape ``(*batch, 1)`` (``(*batch, 1, 1)`` for
    2D fields) gives each batch member its own value."""
    return value if isinstance(value, torch.Tensor) else float(value)


def coefficient_tensors(*values: Coefficient) -> tuple[torch.Tensor, ...]:
    """The coefficients that are tensors requiring gradients (what an adjoint must differentiate)."""
    return tuple(v for v in values if isinstance(v, torch.Tensor) and v.requires_grad)


def check_periodic_1d(state: torch.Tensor, n: int, name: str) -> None:
    """A 1-D periodic simulator's state must be a real float tensor ``(*batch, n)``."""
    if state.shape[-1] != n:
        raise ValueError(f"{name} state must end with n={n} grid points, got shape {tuple(state.shape)}")
    if not state.is_floating_point():
        raise TypeError(f"{name} state must be a real float tensor, got {state.dtype}")


def check_finite(state: torch.Tensor, name: str, start: int, stop: int, dt: float) -> None:
    """Raise ``FloatingPointError`` naming the steps when a saved state holds NaN/inf (a blown-up run)."""
    if not bool(torch.isfinite(state.detach()).all()):
        raise FloatingPointError(f"{name} rollout blew up (NaN/inf) between steps {start} and {stop} "
                                 f"(dt={dt}); reduce dt or check the parameters and the closure")


class Simulator(torch.nn.Module):
    """Base class: subclasses implement ``rhs`` and ``step``; ``rollout`` is shared.

    A state is a tensor ``(*batch, *space)`` in physical space. A closure is any callable
    ``closure(state) -> tendency`` of the state's shape, added to the right-hand side.
    """

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        raise NotImplementedError

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        raise NotImplementedError

    def rollout(
        self,
        state: torch.Tensor,
        n_steps: int,
        dt: float,
        closure: Closure | None = None,
        save_every: int = 1,
        checkpoint_every: int = 0,
    ) -> torch.Tensor:
        """Advance ``n_steps`` steps of size ``dt`` and keep every ``save_every``-th state.

        Returns ``(*batch, T, *space)`` with ``T = n_steps // save_every + 1``: the initial state
        first, then the saved states. Differentiable with respect to ``state`` and to the closure's
        parameters; ``checkpoint_every > 0`` recomputes segments of that many steps in the backward pass
        (``torch.utils.checkpoint``, non-reentrant) instead of keeping every stage's activations.
        """
        if n_steps < 0 or save_every < 1 or checkpoint_every < 0:
            raise ValueError(f"need n_steps >= 0, save_every >= 1 and checkpoint_every >= 0, got {n_steps}, "
                             f"{save_every} and {checkpoint_every}")
        n_space = self.space_dims

        def advance(x: torch.Tensor, count: int) -> torch.Tensor:
            for _ in range(count):
                x = self.step(x, dt, closure=closure)
            return x

        saved, done = [state], 0
        while done < n_steps:
            count = min(save_every - done % save_every, n_steps - done)
            if checkpoint_every and torch.is_grad_enabled():
                count = min(count, checkpoint_every)
                state = checkpoint(advance, state, count, use_reentrant=False)
            else:
                state = advance(state, count)
            done += count
            if done % save_every == 0:
                check_finite(state, type(self).__name__, done - save_every, done, dt)
                saved.append(state)
        return torch.stack(saved, dim=state.dim() - n_space)

    @property
    def space_dims(self) -> int:
        """Number of trailing spatial dimensions of a state."""
        raise NotImplementedError
