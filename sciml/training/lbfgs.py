"""The L-BFGS stage of the trainer: exactly the requested number of iterations on a fixed objective.

``torch.optim.LBFGS`` runs with its tolerances at zero, in calls that end at each evaluation. In float32
its curvature pairs go stale and it stops early when the two-loop direction is no longer a descent
direction (loss still far from converged: on PIG Helmholtz after ~1,200 of 2,000 iterations at loss
4e-3). It is then restarted with an empty history (a steepest-descent first step, always a descent
direction), which the note counts; after ``MAX_RESTARTS`` restarts in a row without a lower loss it gives
up and the note says so. Repeated ``max_iter=1`` calls are avoided: they stall in float32 (a peer wart:
"L-BFGS that stops after a few iterations").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sciml.errors import TrainingDiverged

MAX_RESTARTS = 20  # fresh-history restarts in a row without a lower loss before L-BFGS gives up


@dataclass
class LBFGSOutcome:
    iterations: int
    restarts: int
    gave_up: bool

    def note(self, requested: int) -> str:
        text = f"ran {self.iterations} of {requested} requested iterations"
        if self.restarts:
            text += f"; restarted {self.restarts} times with an empty history after it found no descent direction"
        if self.gave_up:
            text += f"; gave up after {MAX_RESTARTS} restarts without a lower loss (converged to float precision " \
                    "or stalled)"
        return text


def run_lbfgs(loss_fn: Callable[[], torch.Tensor], params: list[torch.nn.Parameter], iterations: int,
              chunk: int, on_chunk: Callable[[int, float], None], first_step: int = 0) -> LBFGSOutcome:
    """L-BFGS (strong Wolfe, lr 1, history 50) on ``loss_fn`` for exactly ``iterations`` iterations.

    ``on_chunk(done, loss)`` is called whenever the iteration count reaches a multiple of ``chunk`` and at
    the end (the trainer validates and logs there). A non-finite loss raises :class:`TrainingDiverged`
    naming the global step ``first_step + done``.
    """
    def fresh() -> torch.optim.LBFGS:
        return torch.optim.LBFGS(params, lr=1.0, max_iter=iterations, max_eval=10**9, history_size=50,
                                 tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")

    lbfgs = fresh()
    state = {"loss": math.nan}

    def closure() -> torch.Tensor:
        lbfgs.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        state["loss"] = loss.detach().item()
        return loss

    done, restarts, fruitless, best_loss, gave_up = 0, 0, 0, math.inf, False
    while done < iterations:
        target = min((done // chunk + 1) * chunk, iterations)
        lbfgs.param_groups[0]["max_iter"] = target - done
        before = lbfgs.state[params[0]].get("n_iter", 0)
        lbfgs.step(closure)
        ran = lbfgs.state[params[0]].get("n_iter", 0) - before
        if not math.isfinite(state["loss"]):
            raise TrainingDiverged(f"loss became {state['loss']} at L-BFGS iteration {done + ran} "
                                   f"(step {first_step + done + ran})")
        done += ran
        if done < target:  # stopped early: no descent direction from the stored curvature pairs
            fruitless = 0 if state["loss"] < best_loss else fruitless + 1
            best_loss = min(best_loss, state["loss"])
            if fruitless >= MAX_RESTARTS:
                gave_up = True
                on_chunk(done, state["loss"])
                break
            restarts += 1
            lbfgs = fresh()
            continue
        best_loss = min(best_loss, state["loss"])
        on_chunk(done, state["loss"])
    return LBFGSOutcome(done, restarts, gave_up)
