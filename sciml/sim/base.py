"""The interface every simulator shares: ``rhs``, ``step`` and ``rollout``."""

from __future__ import annotations

from collections.abc import Callable

import torch

Closure = Callable[[torch.Tensor], torch.Tensor]


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
    ) -> torch.Tensor:
        """Advance ``n_steps`` steps of size ``dt`` and keep every ``save_every``-th state.

        Returns ``(*batch, T, *space)`` with ``T = n_steps // save_every + 1``: the initial state
        first, then the saved states. Differentiable with respect to ``state``.
        """
        if n_steps < 0 or save_every < 1:
            raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps} and {save_every}")
        n_space = self.space_dims
        saved = [state]
        for i in range(1, n_steps + 1):
            state = self.step(state, dt, closure=closure)
            if i % save_every == 0:
                check_finite(state, type(self).__name__, i - save_every, i, dt)
                saved.append(state)
        return torch.stack(saved, dim=state.dim() - n_space)

    @property
    def space_dims(self) -> int:
        """Number of trailing spatial dimensions of a state."""
        raise NotImplementedError
