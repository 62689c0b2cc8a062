"""Optimisers and one gradient step with mixed precision, clipping and an honest divergence check."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

OPTIMIZERS = ("adam", "adamw")


def build_optimizer(params: Iterable[torch.nn.Parameter], name: str, lr: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    """``adam`` or ``adamw`` (decoupled weight decay)."""
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    return cls(params, lr=lr, weight_decay=weight_decay)


class LossScaler:
    """Dynamic loss scaling for float16 autocast, with ``torch.amp.GradScaler``'s rule and defaults.

    The loss is multiplied by ``scale`` before the backward pass and the gradients divided by it after; a
    step whose gradients overflow is skipped and the scale halved, and after ``growth_interval`` good steps
    in a row it doubles. Written here because ``GradScaler`` cannot unscale complex gradients, and
    spectral layers (the FNO's) have complex weights. Disabled, it does nothing.
    """

    def __init__(self, enabled: bool, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000):
        self.enabled, self.scale = enabled, float(init_scale)
        self.growth_factor, self.backoff_factor, self.growth_interval = growth_factor, backoff_factor, growth_interval
        self.good_steps = 0

    def is_enabled(self) -> bool:
        return self.enabled

    def get_scale(self) -> float:
        return self.scale if self.enabled else 1.0

    def update(self, overflowed: bool) -> None:
        if overflowed:
            self.scale *= self.backoff_factor
            self.good_steps = 0
            return
        self.good_steps += 1
        if self.good_steps == self.growth_interval:
            self.scale *= self.growth_factor
            self.good_steps = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "good_steps": self.good_steps, "enabled": self.enabled}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.good_steps = float(state["scale"]), int(state["good_steps"])


@dataclass(frozen=True)
class StepOutcome:
    grad_norm: float  # global norm of the unscaled gradients before clipping
    skipped: bool  # mixed precision only: the scaled gradients overflowed and the optimiser did not step


def gradient_step(loss: torch.Tensor, params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                  scaler: LossScaler, grad_clip: float = 0.0) -> StepOutcome:
    """Backpropagate ``loss`` and step the optimiser.

    With mixed precision enabled, gradients that overflow in the scaled backward pass make the optimiser
    skip this step and the scaler lower its scale (``skipped=True``); that is routine, not divergence.
    Without it, a non-finite gradient cannot be repaired: the optimiser does not step and the caller is told
    by a non-finite ``grad_norm`` with ``skipped=False`` (the trainer then stops the run).
    ``grad_clip > 0`` clips the global norm of the unscaled gradients.
    """
    optimizer.zero_grad(set_to_none=True)
    (loss * scaler.get_scale() if scaler.is_enabled() else loss).backward()
    grads = [p.grad for p in params if p.grad is not None]
    if scaler.is_enabled() and grads:
        torch._foreach_mul_(grads, 1.0 / scaler.get_scale())
    norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0) if grads else torch.zeros(())
    grad_norm = float(norm)  # the one device sync of a step: an overflow anywhere makes it inf or nan
    finite = math.isfinite(grad_norm)
    if scaler.is_enabled():
        scaler.update(overflowed=not finite)
        if not finite:
            return StepOutcome(grad_norm, skipped=True)
    if finite:
        if grad_clip > 0:
            torch.nn.utils.clip_grads_with_norm_(params, grad_clip, norm)
        optimizer.step()
    return StepOutcome(grad_norm, skipped=False)
