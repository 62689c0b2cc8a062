"""MP-PDE beside the released code (brandstetter-johannes/MP-Neural-PDE-Solvers) on E2 at nx = 50.

Protocol, for each budget and seed:

1. our E2 data (``datasets/mp_pde_E2.yaml``: WENO5 at 200 cells) at nx = 200 and 50, the first
   ``n_train`` training trajectories, written in MP-PDE's layout (``sciml.data.export``);
2. the frames the released loader gives (``pde_250-200`` averaged down by its 5-point kernel): both codes
   train and are scored on these numbers, so the data cannot differ;
3. the released ``experiments/train.py``, unchanged, seeded by our launcher, with its defaults (GNN, batch 16,
   AdamW 1e-4, weight decay 1e-2, MultiStepLR at epochs 1, 5, 10, 15, pushforward from epoch 1, bundles of
   25, 3 neighbours) for ``epochs`` epochs, each ``250 x n_train / 16`` gradient steps;
4. ours with the same settings (``task.params=[beta]`` as the released E2 model, milestones and pushforward at
   the same steps, the best validation checkpoint once per epoch as the released loop keeps it);
5. both test rollouts (frames 25-49 given, 50-249 predicted) scored by ``parity_common.score``; the released
   test metric is also read from its log and checked against ours on its own model.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from parity_common import Row, score

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset, trajectories_dataset, write_dataset
from sciml.data.export import write_mp_pde

ROOT = Path(__file__).resolve().parents[1]
SHIMS = Path(__file__).resolve().parent / "reference_shims"
EXPERIMENT, NX, NT, BATCH, T_RES = "E2", 50, 250, 16, 250
GIVEN, FIRST = 25, 50
METRIC = "accumulated_error"


@dataclass(frozen=True)
class Budget:
    n_train: int
    epochs: int
    n_valid: int = 16
    n_test: int = 32

    @property
    def steps_per_epoch(self) -> int:
        return T_RES * math.ceil(self.n_train / BATCH)

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


BUDGETS = {
    "small": Budget(n_train=16, epochs=1),  # 250 steps
    "medium": Budget(n_train=64, epochs=1),  # 1,000 steps (the first measurement)
    "cpu": Budget(n_train=64, epochs=4),  # 4,000 steps, pushforward and the first decay included
    "gpu": Budget(n_train=2048, epochs=20, n_valid=128, n_test=128),  # the paper's 640,000 steps
}


def reference_env(reference: Path, threads: int) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(reference), str(SHIMS)]),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def our_datasets(budget: Budget, root: Path) -> dict[int, dict[str, Path]]:
    n_train = max(budget.n_train, 64)
    out = {}
    for nx in (200, NX):
        cfg = load_config([str(ROOT / "datasets" / "mp_pde_E2.yaml"), f"dataset.root={root}", f"dataset.nx={nx}",
                           f"dataset.n_train={n_train}", f"dataset.n_valid={max(budget.n_valid, 16)}",
                           f"dataset.n_test={max(budget.n_test, 32)}"]).dataset
        out[nx] = recipes.ensure_dataset(cfg, progress=False)
    return out


def prepare(work: Path, budget: Budget, reference: Path, threads: int) -> dict[str, Path]:
    """MP-PDE-layout files under ``work/data``; the released loader's frames as our files in ``work/ours_data``."""
    sizes = {"train": budget.n_train, "valid": budget.n_valid, "test": budget.n_test}
    sources = our_datasets(budget, work.parent / "sources")
    ours = {}
    for split, n in sizes.items():
        target = work / "data" / f"CE_{split}_{EXPERIMENT}.h5"
        ours[split] = work / "ours_data" / f"{split}.nc"
        if ours[split].is_file():
            continue
        with open_dataset(sources[200][split]) as fine, open_dataset(sources[NX][split]) as coarse:
            write_mp_pde([fine.isel(sample=slice(0, n)), coarse.isel(sample=slice(0, n))], target, split=split)
            attrs = dict(coarse.attrs)
        dump = work / "ours_data" / f"{split}.npz"
        dump.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(SHIMS / "mp_pde_tools.py"), "project", str(target), split, str(NX),
                        str(dump)], check=True, env=reference_env(reference, threads), cwd=work)
        d = np.load(dump)
        length = float(attrs.get("L", 16.0))
        ds = trajectories_dataset({"u": d["u"].astype(np.float32)}, time=np.linspace(d["tmin"], d["tmax"], NT),
                                  space={"x": np.arange(NX) * length / NX},
                                  attrs={**attrs, "projection": "MP-PDE HDF5Dataset: 5-point kernel, stride 4"})
        for k in ("alpha", "beta", "gamma"):
            ds[k] = ("sample", d[k])
        write_dataset(ds, ours[split])
    return ours


def _run(cmd: list[str], log: Path, **kwargs) -> float:
    start = time.perf_counter()
    with open(log, "w") as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({result.returncode}); the end of {log}:\n{tail}")
    return time.perf_counter() - start


def released_metric(log: str) -> float:
    """The last test ``Unrolled forward losses`` of the released log (the saved model's)."""
    test = log.rsplit("Evaluation on test dataset:", 1)
    found = re.findall(r"Unrolled forward losses ([0-9.eE+-]+|nan|inf)", test[-1]) if len(test) == 2 else []
    if not found:
        raise SystemExit("the released log holds no test evaluation ('Unrolled forward losses')")
    return float(found[0])


def run_reference(work: Path, reference: Path, budget: Budget, seed: int, threads: int, truth: np.ndarray,
                  dt: float) -> Row:
    cwd = work / "reference" / f"seed{seed}"
    (cwd / "experiments").mkdir(parents=True, exist_ok=True)  # train.py writes experiments/log and models here
    (cwd / "data").unlink(missing_ok=True)
    (cwd / "data").symlink_to(work / "data", target_is_directory=True)
    timings = cwd / "timings.json"
    env = reference_env(reference, threads)
    done = (cwd / "train.log").is_file() and "Test loss:" in (cwd / "train.log").read_text() and timings.is_file()
    if not done:  # a finished training is reused (delete its folder to run it again)
        _run([sys.executable, str(SHIMS / "run_seeded.py"), "--seed", str(seed), "--threads", str(threads),
              "--time", "experiments.train_helper:training_loop", "--timings", str(timings),
              str(reference / "experiments" / "train.py"), f"--experiment={EXPERIMENT}",
              f"--base_resolution=250,{NX}", f"--num_epochs={budget.epochs}", "--log=False"],
             cwd / "train.log", cwd=cwd, env=env)
    log = (cwd / "train.log").read_text()
    model = max((cwd / "models").glob("GNN_*.pt"), key=lambda p: p.stat().st_mtime)
    out = cwd / "rollout.npz"
    _run([sys.executable, str(SHIMS / "mp_pde_tools.py"), "rollout", str(model),
          str(work / "data" / f"CE_test_{EXPERIMENT}.h5"), EXPERIMENT, str(NX), str(out)], cwd / "rollout.log",
         cwd=cwd, env=env)
    rollout = np.load(out)
    scores = score(rollout["pred"], truth, dt)
    params = int(re.search(r"Number of parameters: (\d+)", log).group(1))
    seconds = json.loads(timings.read_text())["seconds"]
    extra = {"released_metric": released_metric(log), "released_metric_recomputed": float(rollout["released_metric"])}
    return Row("reference", seed, scores, seconds / budget.steps, budget.steps, params, extra)


def our_overrides(budget: Budget, ours: dict[str, Path], run_dir: Path, seed: int, threads: int) -> list[str]:
    spe = budget.steps_per_epoch
    milestones = [e * spe for e in (1, 5, 10, 15) if e < budget.epochs]
    return [str(ROOT / "solvers" / "mp_pde.yaml"), str(ROOT / "experiments" / "mp_pde_training.yaml"),
            "dataset.name=files", *(f"dataset.{s}={p}" for s, p in ours.items()),
            "task.params=[beta]", f"task.pushforward_every={spe}",
            f"trainer.max_steps={budget.steps}",
            f"trainer.milestones=[{','.join(map(str, milestones or [budget.steps]))}]",  # [steps]: no decay
            f"trainer.eval_every={spe}", f"trainer.checkpoint_every={spe}", f"trainer.log_every={min(spe, 250)}",
            f"trainer.seed={seed}", f"trainer.threads={threads}", "trainer.device=cpu", "trainer.progress=lines",
            "run.evaluate=false", f"run.dir={run_dir}"]


def train_seconds(run_dir: Path) -> float:
    """Seconds spent in training steps: the elapsed time of the last training row, less the validations."""
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    train = [r for r in rows if r.get("loss")]
    elapsed = float(train[-1]["elapsed_s"])
    validations, previous = 0.0, 0.0
    for r in rows:  # a validation row's elapsed minus the preceding row's is the validation's cost
        if not r.get("loss") and float(r["elapsed_s"]) <= elapsed:
            validations += float(r["elapsed_s"]) - previous
        previous = float(r["elapsed_s"])
    return elapsed - validations


@torch.no_grad()
def our_rollout(run_dir: Path) -> tuple[np.ndarray, int]:
    from sciml.data import TrajectoryWindows
    from sciml.tasks.trajectory.evaluation import load_solver

    cfg = load_config([str(run_dir / "config.yaml")])
    model, _ = load_solver(run_dir, cfg, "best", torch.device("cpu"))
    windows = TrajectoryWindows(cfg.dataset.test, full_trajectory=True, params=list(cfg.task.params))
    batch = torch.utils.data.default_collate([windows[i] for i in range(len(windows))])
    pred = model.rollout(batch["trajectory"][:, GIVEN:FIRST], windows.n_times - FIRST, batch["params"],
                         batch["time"][:, FIRST - 1])
    return pred[:, :, 0].numpy(), sum(p.numel() for p in model.parameters())


def run_ours(work: Path, ours: dict[str, Path], budget: Budget, seed: int, threads: int, truth: np.ndarray,
             dt: float) -> Row:
    run_dir = work / "ours" / f"seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "sciml.train", *our_overrides(budget, ours, run_dir, seed, threads)],
         work / "ours" / f"seed{seed}.log", cwd=ROOT, env=env)
    pred, params = our_rollout(run_dir)
    return Row("ours", seed, score(pred, truth, dt), train_seconds(run_dir) / budget.steps, budget.steps, params)


def truth_of(ours: dict[str, Path]) -> tuple[np.ndarray, float]:
    with xr.open_dataset(ours["test"], engine="h5netcdf") as ds:
        return ds.u.values[:, FIRST:], float(ds.time.values[1] - ds.time.values[0])


def run(reference: Path, budget_name: str, seeds: int, threads: int, work: Path, only: str = "both") -> list[Row]:
    budget = BUDGETS[budget_name]
    work = work / "mp_pde" / budget_name
    print(f"mp_pde parity, budget {budget_name}: E2 nx {NX}, {budget.n_train}/{budget.n_valid}/{budget.n_test} "
          f"trajectories, {budget.epochs} epoch(s) = {budget.steps} steps of batch {BATCH}, {threads} threads, "
          f"torch {torch.__version__}", flush=True)
    ours = prepare(work, budget, reference, threads)
    truth, dt = truth_of(ours)
    rows = []
    for seed in range(seeds):  # interleaved: reference then ours at each seed
        if only in ("both", "reference"):
            rows.append(run_reference(work, reference, budget, seed, threads, truth, dt))
            print(f"  reference seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
        if only in ("both", "ours"):
            rows.append(run_ours(work, ours, budget, seed, threads, truth, dt))
            print(f"  ours seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
    return rows
