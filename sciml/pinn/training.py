"""Training physics-informed models: Adam on resampled collocation points, then L-BFGS for exactly the
requested number of iterations, with the error tracked against the problem's reference."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from sciml.pinn.monitor import ResidualStats, looks_like_propagation_failure, residual_stats
from sciml.pinn.problems import Problem
from sciml.pinn.samplers import Sampler, UniformFixed


@dataclass
class PINNResult:
    final_error: float  # relative L2 of the last iterate
    best_error: float  # smallest relative L2 seen at an evaluation (what some papers report)
    history: list[dict] = field(default_factory=list)
    lbfgs_steps: int = 0
    lbfgs_note: str = ""
    propagation_failure: bool = False
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (Adam step, collocation points)


@dataclass
class PINNTraining:
    adam_steps: int = 10000
    lr: float = 1e-3
    lr_decay: float = 0.9  # multiply every decay_every Adam steps
    decay_every: int = 5000
    lbfgs_steps: int = 0
    constraint_points: int = 200
    constraint_resample: bool = True  # False: one fixed set of initial/boundary points (the released R3 code)
    weights: dict[str, float] = field(default_factory=lambda: {"initial": 100.0, "boundary": 100.0})
    eval_grid: tuple[int, ...] = (256, 100)
    eval_every: int = 500
    progress: bool = False
    snapshots: int = 3  # copies of the collocation points kept at evenly spaced Adam steps (0 and the last)
    lbfgs_points: int = 0  # > 0: L-BFGS on this many fresh uniform points (fixed) instead of the sampler's last
    on_record: Callable[[dict], None] | None = None  # called with each history row (e.g. to print a log line)
    checkpoint_every: int = 0  # > 0: hand the training state to on_checkpoint every this many Adam steps
    on_checkpoint: Callable[[dict], None] | None = None  # and after the last Adam step (e.g. to save it)


def _loss(problem: Problem, model, sampler: Sampler, cfg: PINNTraining, generator) -> tuple[torch.Tensor, torch.Tensor]:
    residual = problem.residual(model, sampler.points)
    loss = (sampler.weights() * residual.pow(2)).mean()
    for name, value in problem.constraint_losses(model, cfg.constraint_points, generator).items():
        loss = loss + cfg.weights.get(name, 1.0) * value
    return loss, residual


def evaluate(problem: Problem, model, grid: tuple[int, ...]) -> tuple[float, ResidualStats]:
    """Relative L2 error and the residual statistics on the evaluation grid."""
    error = problem.relative_l2(model, grid)
    points = problem.domain.grid(grid)
    residual = torch.cat([problem.residual(model, c).detach() for c in points.split(8192)])
    return error, residual_stats(residual)


MAX_LBFGS_RESTARTS = 20  # fresh-history restarts in a row without a lower loss before L-BFGS gives up


def _run_lbfgs(problem, model, sampler, cfg, result, record, bar) -> None:
    """L-BFGS (strong Wolfe) on the final collocation points for exactly ``cfg.lbfgs_steps`` iterations.

    ``torch.optim.LBFGS`` runs with its tolerances at zero, in calls that end at each evaluation. In float32
    its curvature pairs go stale and it stops early when the two-loop direction is no longer a descent
    direction (loss still far from converged: on PIG Helmholtz after ~1,200 of 2,000 iterations at loss
    4e-3). It is then restarted with an empty history (a steepest-descent first step, always a descent
    direction), which the note counts; after ``MAX_LBFGS_RESTARTS`` restarts in a row without a lower loss
    it gives up and the note says so. Repeated ``max_iter=1`` calls are avoided: they stall in float32.
    """
    def fresh():
        return torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=cfg.lbfgs_steps, max_eval=10**9,
                                 history_size=50, tolerance_grad=0.0, tolerance_change=0.0,
                                 line_search_fn="strong_wolfe")

    lbfgs = fresh()
    constraint_gen = torch.Generator(device=sampler.points.device)
    state = {"loss": math.nan}

    def closure():
        lbfgs.zero_grad(set_to_none=True)
        constraint_gen.manual_seed(12345)  # fixed constraint points: a deterministic objective
        loss, _ = _loss(problem, model, sampler, cfg, constraint_gen)
        loss.backward()
        state["loss"] = loss.detach().item()
        return loss

    done, restarts, fruitless, best_loss, gave_up = 0, 0, 0, math.inf, False
    params = list(model.parameters())
    while done < cfg.lbfgs_steps:
        next_eval = min((done // cfg.eval_every + 1) * cfg.eval_every, cfg.lbfgs_steps)
        chunk = next_eval - done
        lbfgs.param_groups[0]["max_iter"] = chunk
        before = lbfgs.state[params[0]].get("n_iter", 0)
        lbfgs.step(closure)
        ran = lbfgs.state[params[0]].get("n_iter", 0) - before
        if not math.isfinite(state["loss"]):
            raise FloatingPointError(f"PINN loss became {state['loss']} at L-BFGS iteration {done + ran}")
        done += ran
        bar.update(ran)
        if ran < chunk:  # stopped early: no descent direction from the stored curvature pairs
            fruitless = 0 if state["loss"] < best_loss else fruitless + 1
            best_loss = min(best_loss, state["loss"])
            if fruitless >= MAX_LBFGS_RESTARTS:
                gave_up = True
                record(cfg.adam_steps + done, "lbfgs", state["loss"])
                break
            restarts += 1
            lbfgs = fresh()
            continue
        best_loss = min(best_loss, state["loss"])
        record(cfg.adam_steps + done, "lbfgs", state["loss"])
    note = f"ran {done} of {cfg.lbfgs_steps} requested iterations"
    if restarts:
        note += f"; restarted {restarts} times with an empty history after it found no descent direction"
    if gave_up:
        note += (f"; gave up after {MAX_LBFGS_RESTARTS} restarts without a lower loss "
                 "(converged to float precision or stalled)")
    result.lbfgs_steps = done
    result.lbfgs_note = note


def _training_state(step, model, opt, sched, sampler, generator, fixed_seed, result) -> dict:
    """Everything an Adam step depends on, as tensors and primitives (loads with ``weights_only=True``);
    a copy, so later steps do not change it."""
    return copy.deepcopy({"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "sampler": sampler.state_dict(),
            "generator": None if generator is None else generator.get_state(), "torch_rng": torch.get_rng_state(),
            "fixed_seed": fixed_seed, "history": list(result.history), "best_error": result.best_error,
            "final_error": result.final_error, "propagation_failure": result.propagation_failure,
            "snapshots": [[s, p] for s, p in result.snapshots]})


def _restore(state: dict, model, opt, sched, sampler, generator, result) -> tuple[int, int]:
    """Load :func:`_training_state`'s output; return the next Adam step and the fixed-constraint seed."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    if (generator is None) != (state["generator"] is None):
        raise ValueError("resume with a generator exactly when the checkpointed run had one")
    if generator is not None:
        generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    result.history = list(state["history"])
    result.best_error, result.final_error = state["best_error"], state["final_error"]
    result.propagation_failure = state["propagation_failure"]
    result.snapshots = [(int(s), p.to(sampler.points.device)) for s, p in state["snapshots"]]
    return state["step"] + 1, state["fixed_seed"]


def train(problem: Problem, model: torch.nn.Module, sampler: Sampler, cfg: PINNTraining,
          generator: torch.Generator | None = None, resume: dict | None = None) -> PINNResult:
    """Adam (``adam_steps``, the sampler updated from each step's residual), then L-BFGS (exactly
    ``lbfgs_steps`` iterations of ``torch.optim.LBFGS`` with a strong-Wolfe line search on the final points).

    A non-finite loss raises ``FloatingPointError`` naming the step. The result carries the last and the
    best evaluated errors and flags a likely propagation failure (large error, heavy-tailed residual).
    With ``cfg.checkpoint_every``, ``cfg.on_checkpoint`` receives the training state every that many Adam
    steps and after the last; ``resume`` (such a state) continues the run exactly where it was taken, on the
    same device (an interrupted L-BFGS phase restarts from the end of Adam).
    """
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg.decay_every, cfg.lr_decay)
    result = PINNResult(math.inf, math.inf)

    def record(step: int, phase: str, loss: float, sampler_stats=None) -> None:
        error, stats = evaluate(problem, model, cfg.eval_grid)
        result.best_error = min(result.best_error, error)
        row = {"step": step, "phase": phase, "loss": loss, "error": error, "eval_skewness": stats.skewness,
               "eval_kurtosis": stats.kurtosis, "eval_mean_residual": stats.mean}
        if sampler_stats is not None:
            row.update(collocation_skewness=sampler_stats.residual.skewness,
                       collocation_kurtosis=sampler_stats.residual.kurtosis, changed=sampler_stats.changed)
            if sampler_stats.gate_beta is not None:
                row["gate_beta"] = sampler_stats.gate_beta
        result.history.append(row)
        if cfg.on_record is not None:
            cfg.on_record(row)
        result.final_error = error
        result.propagation_failure = looks_like_propagation_failure(error, stats)

    residual_fn = (lambda pts: problem.residual(model, pts)) if sampler.needs_candidates else None
    bar = tqdm(total=cfg.adam_steps + cfg.lbfgs_steps, disable=not cfg.progress, desc=problem.name)
    snapshot_steps = {round(i * cfg.adam_steps / max(cfg.snapshots - 1, 1)) for i in range(cfg.snapshots)}
    device = sampler.points.device
    if resume is not None:
        first, fixed_seed = _restore(resume, model, opt, sched, sampler, generator, result)
        bar.update(first - 1)
    else:
        first, fixed_seed = 1, 0
        if 0 in snapshot_steps:
            result.snapshots.append((0, sampler.points.detach().clone()))
        if not cfg.constraint_resample:  # the same points every step: re-seed a private generator
            fixed_seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=device).item())
    fixed_gen = None if cfg.constraint_resample else torch.Generator(device=device)
    for step in range(first, cfg.adam_steps + 1):
        if fixed_gen is not None:
            fixed_gen.manual_seed(fixed_seed)
        loss, residual = _loss(problem, model, sampler, cfg, generator if fixed_gen is None else fixed_gen)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"PINN loss became {loss.detach().item()} at Adam step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        report = sampler.update(residual, residual_fn=residual_fn)
        bar.update(1)
        if step in snapshot_steps:
            result.snapshots.append((step, sampler.points.detach().clone()))
        if step % cfg.eval_every == 0 or step == cfg.adam_steps:
            record(step, "adam", loss.detach().item(), report)
        if cfg.on_checkpoint is not None and cfg.checkpoint_every > 0 and (
                step % cfg.checkpoint_every == 0 or step == cfg.adam_steps):
            cfg.on_checkpoint(_training_state(step, model, opt, sched, sampler, generator, fixed_seed, result))
    if cfg.lbfgs_steps:
        if cfg.lbfgs_points:
            sampler = UniformFixed(problem.domain, cfg.lbfgs_points, generator)
        _run_lbfgs(problem, model, sampler, cfg, result, record, bar)
    bar.close()
    if result.propagation_failure:
        warnings.warn(f"{problem.name}: relative L2 error {result.final_error:.3g} with a heavy-tailed residual "
                      "(high kurtosis): this looks like a propagation failure (a trivial solution)", stacklevel=2)
    return result
