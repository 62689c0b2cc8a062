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


@dataclass(frozen=True)
class StepOutcome:
    grad_norm: float  # global norm of the unscaled gradients before clipping
    skipped: bool  # mixed precision only: the scaled gradients overflowed and the optimiser did not step


def gradient_step(loss: torch.Tensor, params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                  scaler: torch.amp.GradScaler, grad_clip: float = 0.0) -> StepOutcome:
    """Backpropagate ``loss`` and step the optimiser, as ``GradScaler`` prescribes.

    With mixed precision enabled, gradients that overflow in the scaled backward pass make the optimiser
    skip this step and the scaler lower its scale (``skipped=True``); that is routine, not divergence.
    Without it, a non-finite gradient cannot be repaired: the optimiser does not step and the caller is told
    by a non-finite ``grad_norm`` with ``skipped=False`` (the trainer then stops the run).
    ``grad_clip > 0`` clips the global norm of the unscaled gradients.
    """
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0) if grads else torch.zeros(())
    grad_norm = float(norm)
    finite = math.isfinite(grad_norm)
    if finite and grad_clip > 0:
        torch.nn.utils.clip_grads_with_norm_(params, grad_clip, norm)
    if scaler.is_enabled():
        before = scaler.get_scale()
        scaler.step(optimizer)  # skips the update when unscale_ found inf/NaN
        scaler.update()
        return StepOutcome(grad_norm, skipped=not finite or scaler.get_scale() < before)
    if finite:
        optimizer.step()
    return StepOutcome(grad_norm, skipped=False)
