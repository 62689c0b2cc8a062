"""CAPE-FNO beside the released code (nec-research/CAPE-ML4Sci) on our PDEBench-layout advection and Burgers.

Protocol, for each PDE, budget and seed:

1. the data of ``experiments/cape_{advection,burgers}_setup.yaml`` (128 points, 41 frames every 0.05): for
   the reference, one PDEBench-layout file per training value with the value as its root attribute, holding
   that value's training and validation trajectories (its loader concatenates the files, shuffles them and
   keeps ``test_ratio`` of them for validation: set to our validation share); our test split as one file for
   both codes' rollouts;
2. the released ``train_models.py``, unchanged, with its 1D CAPE-FNO config (``config_PrmEmbd_{Adv,Bgs}.yaml``,
   ``if_param_embed=True``: width 20, 12 modes, CAPE width 64, kernel 5, λ = 5.7e-5, gradient penalty,
   curriculum, 3 warm-up epochs, batch 50, Adam 3e-3 with weight decay 1e-4, StepLR halving every fifth of
   the epochs) at our resolution (no subsampling), for ``epochs`` epochs, seeded by our launcher
   (``reference_shims/run_seeded.py``, which also lets its CUDA-only calls run on CPU and stands in for the
   two modules it imports but does not ship);
3. ours with the same settings: CAPE-FNO (width 20, 12 modes, CAPE hidden channels sized to the reference's
   parameter count ±5 %), the whole 40-step trajectory unrolled with gradients through it and the
   curriculum, 3 warm-up epochs, batch 50, the same optimiser, schedule, steps and seeds, the best
   validation checkpoint kept once per epoch as the reference keeps it;
4. both codes' rollouts of the test split from its first frame scored by ``score_by_value``.

Differences that remain (``docs/parity.md``): the reference adds N(0, 0.001²) noise to every training input,
sums the per-step losses and re-adds the guess's accumulated loss at every step (ours: the paper's equation,
per-step mean); its curriculum feeds predictions for the first ``t_ar`` steps and true frames after (ours:
true frames first); its validation set is a random 10 % of its files (ours: our validation split, of the same
size); its schedule counts epochs after the warm-up; its seconds per step include the per-epoch validation.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from parity_common import SHIMS, Budget, Row, our_rollout, run_logged, score, train_seconds

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset, write_dataset
from sciml.data.export import write_pdebench

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
METRIC = "rel_l2"
CLASSES = ("seen", "interpolated", "extrapolated")
PDES = {  # our setup, the parameter, the recipe's key of training values, the released config and file stem
    "advection": ("cape_advection_setup.yaml", "beta", "speeds", "config_PrmEmbd_Adv.yaml", "1D_Advection_Sols_beta"),
    "burgers": ("cape_burgers_setup.yaml", "nu", "nus", "config_PrmEmbd_Bgs.yaml", "1D_Burgers_Sols_Nu"),
}

BUDGETS = {  # n_train and n_valid over all training values (an equal share each, n_train a multiple of the
    # batch: ours drops a last partial batch, the reference does not); an epoch is one pass in batches of 50
    "small": Budget(n_train=150, epochs=16, batch=BATCH, n_valid=30, n_test=70),  # 48 steps
    "medium": Budget(n_train=300, epochs=50, batch=BATCH, n_valid=30, n_test=70),  # 300 steps
    "cpu": Budget(n_train=300, epochs=100, batch=BATCH, n_valid=30, n_test=70),  # 600 steps: the config's epochs
    "gpu": Budget(n_train=9000, epochs=100, batch=BATCH, n_valid=1020, n_test=700),  # PDEBench's 10^4 per value
}


def classify(value: float, seen: list[float]) -> str:
    if any(math.isclose(value, s, rel_tol=1e-6) for s in seen):  # float32 files
        return "seen"
    return "interpolated" if min(seen) < value < max(seen) else "extrapolated"


def score_by_value(pred: np.ndarray, truth: np.ndarray, param: np.ndarray, seen: list[float],
                   dt: float) -> tuple[dict[str, float], dict[str, float]]:
    """Both codes' rollouts scored alike: the relative L2 error of each whole rollout,
    ``sqrt(Σ_t Σ_x (û − u)² / Σ_t Σ_x u²)``, averaged over the trajectories of a parameter value, then the
    geometric mean over the values of a class (and over all values: ``rel_l2``).

    A rollout that blows up counts as a loss, not as a missing value: its frames are saturated at the blow-up
    bound (``10 max|truth|``, non-finite values included) before the error is taken, and it is counted in
    ``unstable_{class}``. Returns the class scores (with ``correlation_time`` and ``unstable`` of
    ``parity_common.score``) and the per-value means ``{"v=VALUE": error}``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    base = score(pred, truth, dt)
    bound = 10.0 * float(np.abs(truth).max())
    saturated = np.clip(np.nan_to_num(pred, nan=bound, posinf=bound, neginf=-bound), -bound, bound)
    err = np.sqrt(((saturated - truth) ** 2).reshape(len(pred), -1).sum(1) / (truth ** 2).reshape(len(pred), -1).sum(1))
    unstable = ~np.isfinite(pred).reshape(len(pred), -1).all(1) | (np.abs(np.nan_to_num(pred, nan=np.inf))
                                                                   .reshape(len(pred), -1).max(1) > bound)
    values = np.unique(param)
    per_value = {float(v): float(err[param == v].mean()) for v in values}
    scores = {METRIC: float(np.exp(np.mean(np.log(list(per_value.values()))))),
              "correlation_time": base["correlation_time"], "unstable": int(unstable.sum())}
    for c in CLASSES:
        mine = [v for v in per_value if classify(v, seen) == c]
        scores[c] = float(np.exp(np.mean(np.log([per_value[v] for v in mine])))) if mine else math.nan
        scores[f"unstable_{c}"] = int(sum(unstable[param == v].sum() for v in mine))
    return scores, {f"v={v:g}": e for v, e in per_value.items()}


def source_config(pde: str, budget: Budget, root: Path):
    setup = PDES[pde][0]
    return load_config([str(ROOT / "experiments" / setup), f"dataset.root={root}",
                        f"dataset.n_train={2 * budget.n_train}", f"dataset.n_valid={2 * budget.n_valid}",
                        f"dataset.n_test={budget.n_test}"]).dataset


def balanced(ds: xr.Dataset, name: str, values: list[float], total: int) -> xr.Dataset:
    """The first ``total / len(values)`` trajectories of each value (the released loader needs files of one
    size: it sizes its array by the first file)."""
    each = total // len(values)
    picks = []
    for value in values:
        found = np.flatnonzero(np.isclose(ds[name].values, value))
        if len(found) < each:
            raise SystemExit(f"{name} = {value:g}: {len(found)} trajectories, {each} needed")
        picks.extend(found[:each])
    return ds.isel(sample=picks)


def prepare(pde: str, work: Path, budget: Budget) -> tuple[dict[str, Path], list[str], list[float]]:
    """Our files in ``work/ours_data`` (the same trajectories: an equal number per training value), the
    reference's in ``work/data``; returns ours, the reference's file names and the training values."""
    _, name, key, _, stem = PDES[pde]
    source = source_config(pde, budget, work.parent.parent / "sources" / pde)
    paths = recipes.ensure_dataset(source, progress=False)
    seen = [float(v) for v in getattr(source, key)]
    ours = {split: work / "ours_data" / f"{split}.nc" for split in ("train", "valid", "test")}
    sizes = {"train": budget.n_train, "valid": budget.n_valid}
    for split, path in ours.items():
        if not path.is_file():
            with open_dataset(paths[split]) as ds:
                ds = balanced(ds, name, seen, sizes[split]) if split in sizes else ds
                write_dataset(ds.load(), path)
    files = [f"{stem}{value:g}.hdf5" for value in seen]
    (work / "data").mkdir(parents=True, exist_ok=True)
    with open_dataset(ours["train"]) as train, open_dataset(ours["valid"]) as valid:
        extra = [v for v in train.data_vars if train[v].dims == ("sample",) and v != name]
        for value, file in zip(seen, files, strict=True):
            if not (work / "data" / file).is_file():
                both = [ds.isel(sample=np.flatnonzero(np.isclose(ds[name].values, value))).drop_vars(extra)
                        for ds in (train, valid)]
                write_pdebench(xr.concat(both, "sample"), work / "data" / file)
    if not (work / "data" / "test.hdf5").is_file():
        with open_dataset(ours["test"]) as ds:
            write_pdebench(ds.load(), work / "data" / "test.hdf5")
    return ours, files, seen


def reference_env(reference: Path, threads: int) -> dict[str, str]:
    models = reference / "CAPE" / "models"
    return dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, [models, SHIMS])), OMP_NUM_THREADS=str(threads),
                MKL_NUM_THREADS=str(threads))


def run_reference(pde: str, work: Path, reference: Path, python: str, budget: Budget, seed: int, threads: int,
                  files: list[str], seen: list[float], truth: np.ndarray, param: np.ndarray, dt: float) -> Row:
    _, name, _, config, stem = PDES[pde]
    cwd = work / "reference" / f"seed{seed}"
    cwd.mkdir(parents=True, exist_ok=True)
    data_link = work / "reference" / "data"  # the released loader reads ../data/ from its working directory
    if not data_link.is_symlink():
        data_link.symlink_to(work / "data", target_is_directory=True)
    env = reference_env(reference, threads)
    n_all = budget.n_train + budget.n_valid
    log_path, timings = cwd / "train.log", cwd / "timings.json"
    model = cwd / f"{files[0][:-5]}multi_FNO.pt"
    if not (log_path.is_file() and model.is_file() and f"ep: {budget.epochs - 1}," in log_path.read_text()):
        run_logged([python, str(SHIMS / "run_seeded.py"), "--seed", str(seed), "--threads", str(threads),
                    "--legacy-aliases", "--cpu-for-cuda", "--missing", "pinn.train:run_training",
                    "--missing", "fno.fno_test:FNO1d_test", "--timings", str(timings),
                    str(reference / "CAPE" / "models" / "train_models.py"), f"+args={config}",
                    "++args.if_param_embed=True", f"++args.filename=[{','.join(files)}]",
                    "++args.reduced_resolution=1", "++args.reduced_resolution_t=1", f"++args.epochs={budget.epochs}",
                    f"++args.scheduler_step={max(budget.epochs // 5, 1)}",
                    f"++args.test_ratio={(budget.n_valid + 0.5) / n_all}", f"++args.batch_size={BATCH}"],
                   log_path, cwd=cwd, env=env)
    log = log_path.read_text()
    out = cwd / "rollout.npz"
    run_logged([python, str(SHIMS / "cape_tools.py"), "rollout", str(model), str(work / "data" / "test.hdf5"), name,
                str(out), "--model", "cape"], cwd / "rollout.log", cwd=cwd, env=env)
    rollout = np.load(out)
    if not np.allclose(rollout["truth"], truth, atol=1e-6):
        raise SystemExit("the reference's test file gives other frames than ours: the data differ")
    epochs = [float(t) for t in re.findall(r"t2-t1: ([0-9.]+)", log)]
    steps = budget.steps
    scores, per_value = score_by_value(rollout["pred"], truth, param, seen, dt)
    return Row("reference", seed, scores, sum(epochs) / steps, steps, int(rollout["parameters"]),
               {**{c: scores[c] for c in CLASSES}, **per_value})


def our_overrides(pde: str, budget: Budget, ours: dict[str, Path], run_dir: Path, seed: int, threads: int,
                  device: str = "cpu", extra: tuple[str, ...] = ()) -> list[str]:
    spe = budget.steps_per_epoch
    return [str(ROOT / "experiments" / "cape_parity.yaml"), "dataset.name=files",
            *(f"dataset.{s}={p}" for s, p in ours.items()),
            f"task.params=[{PDES[pde][1]}]", f"trainer.max_steps={budget.steps}",
            f"trainer.step_size={max(budget.epochs // 5, 1) * spe}", f"trainer.eval_every={spe}",
            f"trainer.checkpoint_every={spe}", f"trainer.log_every={spe}", f"trainer.seed={seed}",
            f"trainer.threads={threads}", f"trainer.device={device}", "trainer.progress=lines", "run.evaluate=false",
            f"run.dir={run_dir}", *extra]


def run_ours(pde: str, work: Path, budget: Budget, ours: dict[str, Path], seed: int, threads: int,
             seen: list[float], truth: np.ndarray, param: np.ndarray, dt: float, device: str,
             overrides: tuple[str, ...] = (), tag: str | None = None) -> Row:
    folder = work / (f"ours-{tag}" if tag else "ours")
    run_dir = folder / f"seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run_logged([sys.executable, "-m", "sciml.train",
                *our_overrides(pde, budget, ours, run_dir, seed, threads, device, overrides)],
               folder / f"seed{seed}.log", cwd=ROOT, env=env)
    pred, params = our_rollout(run_dir, 0, 1)  # from the first frame
    scores, per_value = score_by_value(pred, truth, param, seen, dt)
    return Row("ours", seed, scores, train_seconds(run_dir) / budget.steps, budget.steps, params,
               {**{c: scores[c] for c in CLASSES}, **per_value})


def run(reference: Path, budget_name: str, seeds: int, threads: int, work: Path, only: str = "both",
        python: str = sys.executable, device: str = "cpu", pdes: tuple[str, ...] = tuple(PDES),
        overrides: tuple[str, ...] = (), tag: str | None = None) -> dict[str, list[Row]]:
    budget = BUDGETS[budget_name]
    out = {}
    for pde in pdes:
        here = work / "cape" / budget_name / pde
        print(f"cape parity ({pde}), budget {budget_name}: {budget.n_train}/{budget.n_valid}/{budget.n_test} "
              f"trajectories, {budget.epochs} epochs = {budget.steps} steps of batch {BATCH}, {threads} threads, "
              f"torch {torch.__version__}", flush=True)
        ours, files, seen = prepare(pde, here, budget)
        with open_dataset(ours["test"]) as ds:
            truth = ds.u.values[:, 1:]
            param = ds[PDES[pde][1]].values.astype(float)
            dt = float(ds.time.values[1] - ds.time.values[0])
        rows = []
        for seed in range(seeds):  # interleaved: reference then ours at each seed
            if only in ("both", "reference"):
                rows.append(run_reference(pde, here, reference, python, budget, seed, threads, files, seen, truth,
                                          param, dt))
                print(f"  reference seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.3f} s/step)",
                      flush=True)
            if only in ("both", "ours"):
                rows.append(run_ours(pde, here, budget, ours, seed, threads, seen, truth, param, dt, device,
                                     overrides, tag))
                print(f"  ours{'-' + tag if tag else ''} seed {seed}: {rows[-1].scores} "
                      f"({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
        out[pde] = rows
    return out
