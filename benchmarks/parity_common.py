"""What every parity benchmark shares: one scoring function for both codes' rollouts, the table, the last line.

``score`` is applied to our rollouts and to the reference's alike (``(N, T, nx)`` predicted frames against
the same true frames), so that a difference between the codes cannot come from the metric.
"""

from __future__ import annotations

import csv
import math
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sciml.metrics import correlation, high_correlation_steps

SHIMS = Path(__file__).resolve().parent / "reference_shims"

BLOWUP_FACTOR = 10.0  # as sciml.evaluate: a frame beyond 10 x max|truth| (or non-finite) is unstable


def score(pred: np.ndarray, truth: np.ndarray, dt: float, threshold: float = 0.8) -> dict[str, float]:
    """The paper's accumulated error, the high-correlation time and the unstable count of a rollout.

    Args:
      pred, truth: ``(N, T, *space)`` predicted and true frames (the first predicted frame first).
      dt: time between frames (time units).
    Returns ``accumulated_error``: ``mean_n sum_t mean_x (pred - truth)^2`` (MP-PDE's ``test_unrolled_losses``;
    infinite when a rollout is not finite), ``correlation_time``: time until the mean Pearson correlation
    over samples first drops below ``threshold`` (the horizon when it never does), and ``unstable``: the
    number of rollouts that leave ``10 x max|truth|`` or turn non-finite.
    """
    p = torch.as_tensor(np.asarray(pred), dtype=torch.float64)
    t = torch.as_tensor(np.asarray(truth), dtype=torch.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and truth {tuple(t.shape)} differ in shape")
    bound = BLOWUP_FACTOR * float(t.abs().max())
    bad = ~torch.isfinite(p).flatten(2).all(-1) | (p.abs().flatten(2).amax(-1) > bound)
    err = ((p - t) ** 2).flatten(2).mean(-1).sum(-1)
    accumulated = float(err.mean()) if torch.isfinite(err).all() else math.inf
    corr = correlation(p.unsqueeze(2), t.unsqueeze(2)).nan_to_num(nan=-1.0).mean(0)
    steps, _ = high_correlation_steps(corr, threshold)
    return {"accumulated_error": accumulated, "correlation_time": steps * dt, "unstable": int(bad.any(1).sum())}


@dataclass(frozen=True)
class Budget:
    """Trajectories and epochs of a parity run. An epoch is ``passes`` sweeps of ``n_train x windows`` training
    windows in batches of ``batch`` (MP-PDE: 250 passes of one random window per trajectory; LE-PDE: one pass
    over its 126 windows per trajectory)."""

    n_train: int
    epochs: int
    passes: int = 1
    windows: int = 1
    batch: int = 16
    n_valid: int = 16
    n_test: int = 32

    @property
    def steps_per_epoch(self) -> int:
        return self.passes * math.ceil(self.n_train * self.windows / self.batch)

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass
class Row:
    """One training of one code at one seed."""

    code: str  # "ours" | "reference"
    seed: int
    scores: dict[str, float]
    seconds_per_step: float
    steps: int
    parameters: int
    extra: dict[str, float] = field(default_factory=dict)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def table(rows: list[Row], metric: str) -> str:
    """A markdown table: a line per run, then mean ± std per code."""
    extras = sorted({k for r in rows for k in r.extra})
    head = ["code", "seed", metric, "correlation time", "unstable", "s / step", "steps", "parameters", *extras]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([r.code, str(r.seed), f"{r.scores[metric]:.3f}",
                                        f"{r.scores['correlation_time']:.3f}", str(r.scores["unstable"]),
                                        f"{r.seconds_per_step:.4f}", str(r.steps), str(r.parameters),
                                        *(f"{r.extra.get(k, float('nan')):.3f}" for k in extras)]) + " |")
    for code in ("reference", "ours"):
        mine = [r for r in rows if r.code == code]
        if mine:
            m, s = mean_std([r.scores[metric] for r in mine])
            c, cs = mean_std([r.scores["correlation_time"] for r in mine])
            w, _ = mean_std([r.seconds_per_step for r in mine])
            lines.append(f"| {code} mean ± std | {len(mine)} seeds | {m:.3f} ± {s:.3f} | {c:.3f} ± {cs:.3f} | "
                         f"{sum(r.scores['unstable'] for r in mine)} | {w:.4f} | | |" + " |" * len(extras))
    return "\n".join(lines)


def last_line(family: str, metric: str, budget: str, rows: list[Row]) -> str:
    """``FAMILY: ours/reference = R on METRIC (budget B, N seeds; reference M ± S, ours M ± S)``."""
    ref = [r.scores[metric] for r in rows if r.code == "reference"]
    ours = [r.scores[metric] for r in rows if r.code == "ours"]
    (rm, rs), (om, os_) = mean_std(ref), mean_std(ours)
    return (f"{family}: ours/reference = {om / rm:.2f} on {metric} (budget {budget}, {len(ours)} seeds; "
            f"reference {rm:.3f} ± {rs:.3f}, ours {om:.3f} ± {os_:.3f})")


def run_logged(cmd: list[str], log: Path, **kwargs) -> float:
    """Run ``cmd`` with its output in ``log``; a failure ends the benchmark with the log's tail. Returns seconds."""
    start = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd[:4]))} ... failed ({result.returncode}); the end of {log}:\n"
                         f"{log.read_text()[-3000:]}")
    return time.perf_counter() - start


def train_seconds(run_dir: Path) -> float:
    """Seconds our run spent in training steps: the elapsed time of its last training row, less validations."""
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    elapsed = float([r for r in rows if r.get("loss")][-1]["elapsed_s"])
    validations, previous = 0.0, 0.0
    for r in rows:  # a validation row's elapsed minus the preceding row's is the validation's cost
        if not r.get("loss") and float(r["elapsed_s"]) <= elapsed:
            validations += float(r["elapsed_s"]) - previous
        previous = float(r["elapsed_s"])
    return elapsed - validations


@torch.no_grad()
def our_rollout(run_dir: Path, given: int, first: int, seed: int | None = None,
                batch_size: int | None = None) -> tuple[np.ndarray, int]:
    """Our run's best checkpoint rolled out over its test split from model steps ``given..first-1`` (every
    ``task.time_step``-th frame): ``(N, T, *space)`` (the first channel) and the parameter count. ``seed`` is
    the noise seed of a stochastic solver (PDE-Refiner); ``batch_size`` trajectories go at once (all)."""
    from sciml.config import load_config
    from sciml.data import TrajectoryWindows
    from sciml.tasks.trajectory.evaluation import load_solver

    cfg = load_config([str(run_dir / "config.yaml")])
    model, _ = load_solver(run_dir, cfg, "best", torch.device("cpu"))
    windows = TrajectoryWindows(cfg.dataset.test, full_trajectory=True, params=list(cfg.task.params),
                                time_step=cfg.task.time_step)
    options = {} if seed is None else {"seed": seed}
    size = batch_size or len(windows)
    preds = []
    for start in range(0, len(windows), size):
        batch = torch.utils.data.default_collate([windows[i] for i in range(start, min(start + size, len(windows)))])
        frames = batch["trajectory"]  # (b, T, C, *space), one frame per model step
        preds.append(model.rollout(frames[:, given:first], frames.shape[1] - first, batch.get("params"),
                                   batch["time"][:, first - 1], **options))
    return torch.cat(preds)[:, :, 0].numpy(), sum(p.numel() for p in model.parameters())


def check_same_truth(ours: np.ndarray, theirs: np.ndarray, code: str) -> None:
    """The reference's loader must give the frames we score against (else the data differ: stop)."""
    if ours.shape != theirs.shape or not np.allclose(ours, theirs, atol=1e-5, rtol=1e-5):
        diff = np.abs(ours - theirs).max() if ours.shape == theirs.shape else f"shapes {ours.shape}, {theirs.shape}"
        raise SystemExit(f"{code}'s loader gives other test frames than ours (max difference {diff}): the data differ")
