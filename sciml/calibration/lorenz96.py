"""Two-scale Lorenz96 as a calibration target: parameters ``(F, h, c, b)``, trajectory statistics, ensembles.

The statistics are time and ``k`` means over a window of an ensemble of runs. Lguensat et al. (2023) use the
first five (``x, ybar, x2, xybar, ybar2``, with ``ybar_k`` the mean of ``Y_{j,k}`` over ``j``); ``y2`` (the
mean of ``Y^2``) and ``ylag`` (the lag covariance ``<Y(t) Y(t - lag dt)>``) see the fast time scale ``c``,
which the five constrain only weakly (docs/calibration.md shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.sim import TwoScaleLorenz96
from sciml.sim.lorenz96 import random_state

PARAMETERS = ("F", "h", "c", "b")
STATISTICS = ("x", "ybar", "x2", "xybar", "ybar2", "y2", "ylag")
PAPER_STATISTICS = ("x", "ybar", "x2", "xybar", "ybar2")


def _moments(x: torch.Tensor, lagged: torch.Tensor, K: int, J: int, names: tuple[str, ...]) -> torch.Tensor:
    """``(*batch, S)``: the named statistics of one state (``lagged`` is the state ``lag`` steps before)."""
    X, Y = x[..., :K], x[..., K:]
    ybar = Y.unflatten(-1, (K, J)).mean(-1)
    values = {"x": lambda: X.mean(-1), "ybar": lambda: ybar.mean(-1), "x2": lambda: X.square().mean(-1),
              "xybar": lambda: (X * ybar).mean(-1), "ybar2": lambda: ybar.square().mean(-1),
              "y2": lambda: Y.square().mean(-1), "ylag": lambda: (Y * lagged[..., K:]).mean(-1)}
    return torch.stack([values[n]() for n in names], dim=-1)


@dataclass
class Lorenz96Calibration:
    """The two-scale model and what is measured of it.

    Attributes:
      K, J: slow variables and fast variables per slow one; dt: RK4 step (model time units).
      statistics: names from :data:`STATISTICS`, in order.
      lag: steps between the two states of ``ylag``.
      spin_up: steps from a perturbed rest state to the attractor (no gradient).
    """

    K: int = 36
    J: int = 10
    dt: float = 0.005
    statistics: tuple[str, ...] = PAPER_STATISTICS
    lag: int = 4
    spin_up: int = 1000

    def __post_init__(self) -> None:
        unknown = [s for s in self.statistics if s not in STATISTICS]
        if unknown or not self.statistics:
            raise ValueError(f"unknown statistics {unknown} (known: {', '.join(STATISTICS)})")
        self.statistics = tuple(self.statistics)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return PARAMETERS

    def simulator(self, theta: torch.Tensor) -> TwoScaleLorenz96:
        """A simulator for a batch of parameter sets ``theta (B, 4)`` in the order ``F, h, c, b``."""
        F, h, c, b = (theta[:, i : i + 1] for i in range(4))
        return TwoScaleLorenz96(self.K, self.J, F=F, h=h, b=b, c=c)

    def initial_states(self, theta: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, K + K J)`` states after ``spin_up`` steps under each row of ``theta``."""
        sim = self.simulator(theta)
        x = random_state(TwoScaleLorenz96(self.K, self.J, F=10.0), (theta.shape[0],), generator, theta.dtype)
        with torch.no_grad():
            for _ in range(self.spin_up):
                x = sim.step(x, self.dt)
        return x

    def window(self, theta: torch.Tensor, state: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` steps from ``state`` under ``theta (B, 4)``; returns the window means of the
        statistics ``(B, S)`` and the final state. Differentiable in ``theta`` when gradients are on."""
        if steps <= self.lag:
            raise ValueError(f"a window needs more than lag={self.lag} steps, got {steps}")
        sim = self.simulator(theta)
        lagged_stat = [i for i, name in enumerate(self.statistics) if name == "ylag"]
        # ylag needs the state lag steps before: it averages over the steps that have one, the others over all
        counts = torch.full((len(self.statistics),), float(steps), dtype=state.dtype, device=state.device)
        counts[lagged_stat] = steps - self.lag + 1
        history, total = [state], 0
        for i in range(1, steps + 1):
            state = sim.step(state, self.dt)
            history.append(state)
            lagged = history.pop(0) if len(history) > self.lag else history[0]
            moments = _moments(state, lagged, self.K, self.J, self.statistics)
            if i < self.lag and lagged_stat:
                moments = moments.index_fill(-1, torch.tensor(lagged_stat, device=state.device), 0.0)
            total = total + moments
        return total / counts, state

    def ensemble_statistics(self, theta: torch.Tensor, members: int, steps: int,
                            generator: torch.Generator, chunk: int = 512) -> torch.Tensor:
        """``(P, members, S)``: each member's window statistics for each of ``P`` parameter sets (no gradient);
        non-finite where a run blew up."""
        rows = theta.repeat_interleave(members, dim=0)
        out = []
        with torch.no_grad():
            for start in range(0, rows.shape[0], chunk):
                part = rows[start : start + chunk]
                x = self.initial_states(part, generator)
                out.append(self.window(part, x, steps)[0])
        return torch.cat(out).unflatten(0, (theta.shape[0], members))
