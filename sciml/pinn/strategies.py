"""Training strategies against propagation failures, composable options of the collocation task (``strategy:``).

- **Curriculum in the PDE coefficient** (Krishnapriyan, Gholami, Zhe, Kirby, Mahoney, "Characterizing possible
  failure modes in physics-informed neural networks", NeurIPS 2021): train at a small coefficient (convection's
  beta), then raise it in stages to the problem's value, each stage starting from the last one's weights.
  Stage ``i`` of ``curriculum_stages`` uses ``start (target / start)^(i / stages)`` for an equal share of the
  first ``curriculum_fraction`` of the steps; the rest train at the target.
- **Causal weighting** (Wang, Sankaran, Perdikaris, "Respecting causality is all you need for training
  physics-informed neural networks", 2022; CMAME 2024): the time interval is cut into ``causal_chunks`` chunks
  with mean squared residuals ``L_i``; the residual loss is ``mean_i w_i L_i`` with
  ``w_i = exp(-epsilon sum_{k<i} L_k)``, the weights held constant in the gradient, so a later time counts only
  once everything before it is resolved. (Not causal R3's gate, which moves collocation points.)
- **Time-marching** (sequence-to-sequence training: Krishnapriyan et al. 2021, section 4.2; Wight & Zhao,
  "Solving Allen-Cahn and Cahn-Hilliard equations using the adaptive physics informed neural networks",
  2020): the time interval is cut into ``time_windows`` equal windows, trained one after another for an equal
  share of the steps. Window ``k`` has its own network, which starts from window ``k - 1``'s trained weights;
  its initial condition is window ``k - 1``'s prediction at the window's start, and the sampler's points are
  mapped affinely into the window in time. The solution is the piecewise network
  (:class:`sciml.pinn.models.TimeMarching`).

All combine with each other and with any sampler (R3 keeps its own point weights inside ``L_i``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.errors import ConfigError
from sciml.pinn.problems import Problem


@dataclass
class StrategyConfig:
    curriculum_start: float = 0.0  # > 0: the coefficient's first value (Krishnapriyan et al. 2021); 0: off
    curriculum_stages: int = 5  # stages below the target, geometric from curriculum_start
    curriculum_fraction: float = 0.5  # share of trainer.max_steps spent below the target
    causal_epsilon: float = 0.0  # > 0: causal weights exp(-epsilon * earlier chunks' losses) (Wang et al. 2022)
    causal_chunks: int = 32  # time chunks of the causal weights
    time_windows: int = 1  # > 1: time-marching over this many windows, trained in turn (seq2seq); 1: off


def validate_strategy(cfg: StrategyConfig, problem: type[Problem]) -> None:
    """Strategies the problem cannot take, and out-of-range values, raise :class:`ConfigError`."""
    name, has_time = problem.name, problem.time_axis is not None
    if cfg.curriculum_start < 0 or cfg.causal_epsilon < 0:
        raise ConfigError("strategy.curriculum_start and strategy.causal_epsilon must be >= 0 (0: off)")
    if cfg.curriculum_start > 0:
        if problem.curriculum_parameter is None:
            raise ConfigError(f"strategy.curriculum_start: problem {name} has no coefficient to grow")
        if cfg.curriculum_stages < 1 or not 0 < cfg.curriculum_fraction < 1:
            raise ConfigError("strategy.curriculum_stages must be >= 1 and strategy.curriculum_fraction in (0, 1)")
    if cfg.causal_epsilon > 0:
        if not has_time:
            raise ConfigError(f"strategy.causal_epsilon needs a time axis; problem {name} has none")
        if cfg.causal_chunks < 2:
            raise ConfigError(f"bad value for 'strategy.causal_chunks': {cfg.causal_chunks} (must be >= 2)")
    if cfg.time_windows < 1:
        raise ConfigError(f"bad value for 'strategy.time_windows': {cfg.time_windows} (must be >= 1)")
    if cfg.time_windows > 1 and not problem.marches_in_time:
        raise ConfigError(f"strategy.time_windows: problem {name} cannot march in time "
                          f"(it needs a first-order-in-time initial condition set by the last window)")


def curriculum_value(step: int, max_steps: int, start: float, target: float, stages: int,
                     fraction: float) -> float:
    """The coefficient at optimiser step ``step`` (1-based): ``start (target / start)^(i / stages)`` in stage
    ``i`` of the first ``fraction`` of the steps, then ``target``."""
    below = fraction * max_steps
    if step > below:
        return target
    stage = min(int((step - 1) * stages / below), stages - 1)
    return start * (target / start) ** (stage / stages)


def causal_weights(chunk_losses: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``w_i = exp(-epsilon sum_{k<i} L_k)`` ``(chunks,)``, without gradient (``w_0 = 1``)."""
    earlier = torch.cumsum(chunk_losses.detach(), 0) - chunk_losses.detach()
    return torch.exp(-epsilon * earlier)


def causal_residual_loss(squared: torch.Tensor, times: torch.Tensor, t0: float, t1: float, chunks: int,
                         epsilon: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The causally weighted residual loss of per-point (weighted) squared residuals ``squared (N,)`` at times
    ``times (N,)`` in ``[t0, t1]``; returns it and the weights ``(chunks,)``. Empty chunks count zero."""
    index = ((times - t0) / (t1 - t0) * chunks).long().clamp(0, chunks - 1)
    sums = torch.zeros(chunks, dtype=squared.dtype, device=squared.device).index_add(0, index, squared)
    counts = torch.zeros(chunks, dtype=squared.dtype, device=squared.device).index_add(
        0, index, torch.ones_like(squared))
    losses = sums / counts.clamp_min(1)
    weights = causal_weights(losses, epsilon)
    return (weights * losses).mean(), weights


def window_index(step: int, max_steps: int, windows: int) -> int:
    """The time window trained at optimiser step ``step`` (1-based): equal shares of ``max_steps``, in order."""
    return min(max(step - 1, 0) * windows // max(max_steps, 1), windows - 1)
