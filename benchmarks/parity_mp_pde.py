"""MP-PDE beside the released code (brandstetter-johannes/MP-Neural-PDE-Solvers) on E2 at nx = 50.

Protocol, for each budget and seed:

1. our E2 data (``datasets/mp_pde_E2.yaml``: WENO5 at 200 cells), the first ``n_train`` training
   trajectories, written in MP-PDE's layout at nx = 200, 100, 50, 40 (``sciml.data.export``);
2. the frames the released loader trains and tests on (``pde_250-200`` projected by its 5-point kernel) are
   our recipe's ``projection: released_loader``; both codes train and are scored on these numbers (checked:
   the reference's loader must return our test frames);
3. the released ``experiments/train.py``, unchanged, seeded by our launcher, with its defaults (GNN, batch 16,
   AdamW 1e-4, weight decay 1e-2, MultiStepLR at epochs 1, 5, 10, 15, pushforward from epoch 1, bundles of
   25, 3 neighbours) for ``epochs`` epochs of ``250 x n_train / 16`` gradient steps;
4. ours with the same settings (``task.params=[beta]`` as the released E2 model, milestones and pushforward at
   the same steps, the best validation checkpoint once per epoch as the released loop keeps it);
5. both test rollouts (frames 25-49 given, 50-249 predicted) scored by ``parity_common.score``; the released
   test metric is also read from its log and recomputed the released way, to check ours against.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from parity_common import SHIMS, Budget, Row, check_same_truth, our_rollout, run_logged, score, train_seconds

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset, write_dataset
from sciml.data.export import write_mp_pde

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT, NX, NT, BATCH, T_RES = "E2", 50, 250, 16, 250
RESOLUTIONS = (200, 100, 50, 40)  # as the released files (LE-PDE's loader also reads pde_250-100)
GIVEN, FIRST = 25, 50
METRIC = "accumulated_error"


BUDGETS = {  # an epoch: T_RES passes over the loader, one random window per trajectory each
    "small": Budget(n_train=16, epochs=1, passes=T_RES),  # 250 steps
    "medium": Budget(n_train=64, epochs=1, passes=T_RES),  # 1,000 steps (the first measurement)
    "cpu": Budget(n_train=64, epochs=4, passes=T_RES),  # 4,000 steps, pushforward and the first decay included
    "gpu": Budget(n_train=2048, epochs=20, passes=T_RES, n_valid=128, n_test=128),  # the paper's 640,000 steps
}


def reference_env(paths: list[Path], threads: int) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in [*paths, SHIMS]),
                OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def source_config(budget: Budget, root: Path, nx: int, projection: str = "average"):
    return load_config([str(ROOT / "datasets" / "mp_pde_E2.yaml"), f"dataset.root={root}", f"dataset.nx={nx}",
                        f"dataset.n_train={max(budget.n_train, 64)}", f"dataset.n_valid={max(budget.n_valid, 16)}",
                        f"dataset.n_test={max(budget.n_test, 32)}", f"dataset.projection={projection}"]).dataset


def prepare(work: Path, budget: Budget) -> dict[str, Path]:
    """MP-PDE-layout files in ``work/data`` (the reference's) and our files in ``work/ours_data``."""
    sizes = {"train": budget.n_train, "valid": budget.n_valid, "test": budget.n_test}
    root = work.parent.parent / "sources"
    sources = {nx: recipes.ensure_dataset(source_config(budget, root, nx), progress=False) for nx in RESOLUTIONS}
    projected = recipes.ensure_dataset(source_config(budget, root, NX, "released_loader"), progress=False)
    ours = {}
    for split, n in sizes.items():
        ours[split] = work / "ours_data" / f"{split}.nc"
        target = work / "data" / f"CE_{split}_{EXPERIMENT}.h5"
        if not target.is_file():
            inputs = [open_dataset(sources[nx][split]).isel(sample=slice(0, n)) for nx in RESOLUTIONS]
            write_mp_pde(inputs, target, split=split)
        if not ours[split].is_file():
            with open_dataset(projected[split]) as ds:
                write_dataset(ds.isel(sample=slice(0, n)).load(), ours[split])
    return ours


def released_metric(log: str) -> float:
    """The last test ``Unrolled forward losses`` of the released log (the saved model's)."""
    test = log.rsplit("Evaluation on test dataset:", 1)
    found = re.findall(r"Unrolled forward losses ([0-9.eE+-]+|nan|inf)", test[-1]) if len(test) == 2 else []
    if not found:
        raise SystemExit("the released log holds no test evaluation ('Unrolled forward losses')")
    return float(found[0])


def run_reference(work: Path, reference: Path, python: str, budget: Budget, seed: int, threads: int,
                  truth: np.ndarray, dt: float, device: str = "cpu") -> Row:
    cwd = work / "reference" / f"seed{seed}"
    (cwd / "experiments").mkdir(parents=True, exist_ok=True)  # train.py writes experiments/log and models here
    (cwd / "data").unlink(missing_ok=True)
    (cwd / "data").symlink_to(work / "data", target_is_directory=True)
    timings = cwd / "timings.json"
    env = reference_env([reference], threads)
    log_path = cwd / "train.log"
    if not (log_path.is_file() and "Test loss:" in log_path.read_text() and timings.is_file()):
        run_logged([python, str(SHIMS / "run_seeded.py"), "--seed", str(seed), "--threads", str(threads),
                    "--time", "experiments.train_helper:training_loop", "--timings", str(timings),
                    str(reference / "experiments" / "train.py"), f"--experiment={EXPERIMENT}",
                    f"--base_resolution=250,{NX}", f"--num_epochs={budget.epochs}", "--log=False",
                    f"--device={'cuda:0' if device == 'cuda' else 'cpu'}"],
                   log_path, cwd=cwd, env=env)
    log = log_path.read_text()
    model = max((cwd / "models").glob("GNN_*.pt"), key=lambda p: p.stat().st_mtime)
    out = cwd / "rollout.npz"
    run_logged([python, str(SHIMS / "mp_pde_tools.py"), "rollout", str(model),
                str(work / "data" / f"CE_test_{EXPERIMENT}.h5"), EXPERIMENT, str(NX), str(out)], cwd / "rollout.log",
               cwd=cwd, env=env)
    rollout = np.load(out)
    check_same_truth(truth, rollout["truth"], "the released MP-PDE")
    params = int(re.search(r"Number of parameters: (\d+)", log).group(1))
    record = json.loads(timings.read_text())
    seconds = record.get("experiments.train_helper:training_loop", record).get("seconds")  # older files: flat
    extra = {"released_metric": released_metric(log), "released_metric_recomputed": float(rollout["released_metric"])}
    return Row("reference", seed, score(rollout["pred"], truth, dt), seconds / budget.steps, budget.steps, params,
               extra)


def our_overrides(budget: Budget, ours: dict[str, Path], run_dir: Path, seed: int, threads: int,
                  device: str = "cpu") -> list[str]:
    spe = budget.steps_per_epoch
    milestones = [e * spe for e in (1, 5, 10, 15) if e < budget.epochs] or [budget.steps]  # [steps]: no decay
    return [str(ROOT / "solvers" / "mp_pde.yaml"), str(ROOT / "experiments" / "mp_pde_training.yaml"),
            "dataset.name=files", *(f"dataset.{s}={p}" for s, p in ours.items()),
            "task.params=[beta]", f"task.pushforward_every={spe}",
            f"trainer.max_steps={budget.steps}", f"trainer.milestones=[{','.join(map(str, milestones))}]",
            f"trainer.eval_every={spe}", f"trainer.checkpoint_every={spe}", f"trainer.log_every={min(spe, 250)}",
            f"trainer.seed={seed}", f"trainer.threads={threads}", f"trainer.device={device}", "trainer.progress=lines",
            "run.evaluate=false", f"run.dir={run_dir}"]


def run_ours(work: Path, overrides: list[str], steps: int, seed: int, threads: int, truth: np.ndarray,
             dt: float) -> Row:
    run_dir = work / "ours" / f"seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run_logged([sys.executable, "-m", "sciml.train", *overrides], work / "ours" / f"seed{seed}.log", cwd=ROOT, env=env)
    pred, params = our_rollout(run_dir, GIVEN, FIRST)
    return Row("ours", seed, score(pred, truth, dt), train_seconds(run_dir) / steps, steps, params)


def truth_of(ours: dict[str, Path]) -> tuple[np.ndarray, float]:
    with xr.open_dataset(ours["test"], engine="h5netcdf") as ds:
        return ds.u.values[:, FIRST:], float(ds.time.values[1] - ds.time.values[0])


def header(family: str, budget_name: str, budget: Budget, threads: int, steps: int) -> None:
    print(f"{family} parity, budget {budget_name}: E2 nx {NX}, {budget.n_train}/{budget.n_valid}/{budget.n_test} "
          f"trajectories, {budget.epochs} epoch(s) = {steps} steps of batch {BATCH}, {threads} threads, "
          f"torch {torch.__version__}", flush=True)


def run(reference: Path, budget_name: str, seeds: int, threads: int, work: Path, only: str = "both",
        python: str = sys.executable, device: str = "cpu") -> list[Row]:
    budget = BUDGETS[budget_name]
    work = work / "mp_pde" / budget_name
    header("mp_pde", budget_name, budget, threads, budget.steps)
    ours = prepare(work, budget)
    truth, dt = truth_of(ours)
    rows = []
    for seed in range(seeds):  # interleaved: reference then ours at each seed
        if only in ("both", "reference"):
            rows.append(run_reference(work, reference, python, budget, seed, threads, truth, dt, device))
            print(f"  reference seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
        if only in ("both", "ours"):
            overrides = our_overrides(budget, ours, work / "ours" / f"seed{seed}", seed, threads, device)
            rows.append(run_ours(work, overrides, budget.steps, seed, threads, truth, dt))
            print(f"  ours seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
    return rows
