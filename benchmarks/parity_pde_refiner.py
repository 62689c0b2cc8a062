"""PDE-Refiner and the MSE U-Net beside the released PDEArena code (pdearena/pdearena) on our Kuramoto–Sivashinsky.

Protocol, for each budget and seed, for PDE-Refiner and for the MSE U-Net:

1. the data of ``experiments/ks_pde_refiner.yaml`` (L = 64, 256 points, frames every 0.2, training
   trajectories of 140 frames, test trajectories of 640): our files for ours, the same trajectories in
   PDEArena's layout (``KS_{train,valid,test}_256.h5``, ``sciml.data.export.write_pdearena``) for the
   reference, whose own KS opener reads every 4th frame (model step 0.8) as ours does;
2. the released ``scripts/pderefiner_train.py`` with ``configs/kuramotosivashinsky1d.yaml`` (the trainer
   keys this Lightning no longer takes dropped), on CPU, ``max_steps`` gradient steps of batch 32, no
   validation, seeded by our launcher; the U-Net is the released ``Unetmod-1d`` at hidden 16
   (``reference_shims/pdearena_tools.py`` registers the width; 3,384,161 parameters). The MSE U-Net is the
   shim's ``MSEUNet``: the release's network, data, optimiser and EMA trained on the one-step MSE (the
   release has no 1D MSE model);
3. ours with the same settings (``experiments/pde_refiner_parity.yaml``: 3,378,401 parameters, zero-initialised
   block outputs as the release's U-Net, Adam 1e-4 constant, no gradient clipping, EMA 0.995, batch 32, the
   same steps and seeds; ``solver.refinement_steps: 0`` for MSE);
4. both codes' EMA weights rolled out from the first frame of every test trajectory (160 model steps, 128
   time units; the refiner's noise seeded with the seed), scored by ``parity_common.score``: the
   high-correlation time (mean Pearson correlation first below 0.8). The headline is refiner/MSE in each code.

Differences that remain (``docs/parity.md``): the reference draws one random window per trajectory visit,
from a random frame offset in 0..3, ours draws windows at random from all offsets; its learning rate follows a
cosine over 400 epochs that at these budgets stays within 0.1 % of 1e-4; its seconds per step are its
Lightning ``Timer``'s training time, which includes its data pipeline's start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from parity_common import SHIMS, Budget, Row, check_same_truth, mean_std, our_rollout, run_logged, score, train_seconds

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.data.export import write_pdearena

ROOT = Path(__file__).resolve().parents[1]
BATCH = 32
WIDTH = 16  # the released Unetmod-1d's hidden channels that ours matches (3,384,161 against 3,378,401)
METRIC = "correlation_time"
MODELS = ("pde_refiner", "mse_unet")
DT_MODEL = 0.8  # 4 stored frames of 0.2
# a budget "epoch" is 200 gradient steps: 256 trajectories x 25 windows / batch 32
BUDGETS = {
    "small": Budget(n_train=256, epochs=1, windows=25, batch=BATCH, n_valid=8, n_test=16),  # 200 steps
    "medium": Budget(n_train=256, epochs=4, windows=25, batch=BATCH, n_valid=8, n_test=16),  # 800 steps
    "cpu": Budget(n_train=256, epochs=16, windows=25, batch=BATCH, n_valid=8, n_test=16),  # 3,200 steps
}


def prepare(work: Path, budget: Budget) -> dict[str, Path]:
    """Our files (the recipe's, generated once under ``work/../sources``) and the reference's copies in
    ``work/data``; returns ours."""
    source = load_config([str(ROOT / "experiments" / "ks_pde_refiner.yaml"), f"dataset.root={work.parent / 'sources'}",
                          f"dataset.n_train={budget.n_train}", f"dataset.n_valid={budget.n_valid}",
                          f"dataset.n_test={budget.n_test}", "dataset.steps_eval=640"]).dataset
    paths = recipes.ensure_dataset(source, progress=False)
    (work / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        target = work / "data" / f"KS_{split}_256.h5"
        if not target.is_file():
            with open_dataset(paths[split]) as ds:
                write_pdearena(ds.load(), target, split=split)
    return {split: Path(paths[split]) for split in ("train", "valid", "test")}


def reference_env(reference: Path, threads: int, extra: list[Path]) -> dict[str, str]:
    path = os.pathsep.join(map(str, [reference, *extra, SHIMS]))
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def timer_seconds(checkpoint: Path, steps: int) -> float:
    """The training seconds of the Lightning ``Timer`` callback saved in a released checkpoint of ``steps`` steps."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state["global_step"] != steps:
        raise SystemExit(f"{checkpoint}: {state['global_step']} gradient steps, {steps} asked for")
    for key, value in state.get("callbacks", {}).items():
        if "Timer" in str(key):
            return float(value["time_elapsed"]["train"])
    raise SystemExit(f"{checkpoint}: no Timer state (the released config's callbacks include one)")


def run_reference(model: str, work: Path, reference: Path, python: str, budget: Budget, seed: int, threads: int,
                  truth: np.ndarray, extra_path: list[Path]) -> Row:
    cwd = work / "reference" / model / f"seed{seed}"
    cwd.mkdir(parents=True, exist_ok=True)
    env = reference_env(reference, threads, extra_path)
    tools = str(SHIMS / "pdearena_tools.py")
    config = cwd / "config.yaml"
    run_logged([python, tools, "config", str(reference / "configs" / "kuramotosivashinsky1d.yaml"), str(config)],
               cwd / "config.log", cwd=cwd, env=env)
    checkpoint = cwd / "out" / "ckpts" / "last.ckpt"
    mse = ["--mse"] if model == "mse_unet" else []
    if not checkpoint.is_file():
        run_logged([python, str(SHIMS / "run_seeded.py"), "--seed", str(seed), "--threads", str(threads),
                    "--timings", str(cwd / "timings.json"), tools, "train", *mse,
                    str(reference / "scripts" / "pderefiner_train.py"), "-c", str(config),
                    "--data.data_dir", str(work / "data"), "--trainer.default_root_dir", str(cwd / "out"),
                    "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.max_steps", str(budget.steps),
                    "--trainer.num_sanity_val_steps", "0", "--trainer.check_val_every_n_epoch", "100000",
                    "--data.batch_size", str(BATCH), "--data.num_workers", "0", "--data.pin_memory", "false",
                    "--seed_everything", str(seed), "--model.name", f"Unetmod-1d-{WIDTH}"],
                   cwd / "train.log", cwd=cwd, env=env)
    out = cwd / "rollout.npz"
    run_logged([python, tools, "rollout", *mse, str(checkpoint), str(work / "data" / "KS_test_256.h5"), str(out),
                "--steps", str(truth.shape[1]), "--seed", str(seed)], cwd / "rollout.log", cwd=cwd, env=env)
    rollout = np.load(out)
    check_same_truth(truth, rollout["truth"], "the reference")
    seconds = timer_seconds(checkpoint, budget.steps)
    return Row("reference", seed, score(rollout["pred"], truth, DT_MODEL), seconds / budget.steps, budget.steps,
               int(rollout["parameters"]))


def our_overrides(model: str, budget: Budget, ours: dict[str, Path], run_dir: Path, seed: int, threads: int,
                  device: str = "cpu") -> list[str]:
    steps = budget.steps
    return [str(ROOT / "experiments" / "pde_refiner_parity.yaml"), "dataset.name=files",
            *(f"dataset.{s}={p}" for s, p in ours.items()), *(["solver.refinement_steps=0"] if model == "mse_unet"
                                                               else []),
            f"trainer.max_steps={steps}", f"trainer.eval_every={steps}", f"trainer.checkpoint_every={steps}",
            f"trainer.log_every={max(steps // 10, 1)}", f"trainer.seed={seed}", f"trainer.threads={threads}",
            f"trainer.device={device}", "trainer.progress=lines", "run.evaluate=false", f"run.dir={run_dir}"]


def run_ours(model: str, work: Path, budget: Budget, ours: dict[str, Path], seed: int, threads: int, truth: np.ndarray,
             device: str) -> Row:
    run_dir = work / "ours" / model / f"seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if not (run_dir / "checkpoints" / "best.pt").is_file():
        run_logged([sys.executable, "-m", "sciml.train", *our_overrides(model, budget, ours, run_dir, seed, threads,
                                                                      device)],
                   work / "ours" / model / f"seed{seed}.log", cwd=ROOT, env=env)
    pred, params = our_rollout(run_dir, 0, 1, seed=seed if model == "pde_refiner" else None, batch_size=BATCH)
    pred = pred[:, : truth.shape[1]]
    return Row("ours", seed, score(pred, truth, DT_MODEL), train_seconds(run_dir) / budget.steps, budget.steps,
               params)


def summary(groups: dict[str, list[Row]]) -> list[str]:
    """The headline per code: PDE-Refiner's mean correlation time over the MSE U-Net's (paper: 98.3 / 75.4)."""
    lines = []
    for code in ("reference", "ours"):
        means = {}
        for model in MODELS:
            values = [r.scores[METRIC] for r in groups.get(model, []) if r.code == code]
            if values:
                means[model] = mean_std(values)
        if len(means) == 2:
            (rm, rs), (mm, ms) = means["pde_refiner"], means["mse_unet"]
            lines.append(f"{code}: PDE-Refiner/MSE correlation time = {rm / mm:.2f} "
                         f"(PDE-Refiner {rm:.1f} ± {rs:.1f}, MSE U-Net {mm:.1f} ± {ms:.1f}; paper 1.30)")
    return lines


def run(reference: Path, budget_name: str, seeds: int, threads: int, work: Path, only: str = "both",
        python: str = sys.executable, device: str = "cpu", extra_path: tuple[Path, ...] = ()) -> dict[str, list[Row]]:
    budget = BUDGETS[budget_name]
    here = work / "pde_refiner" / budget_name
    print(f"pde_refiner parity, budget {budget_name}: {budget.n_train} trajectories, {budget.steps} steps of batch "
          f"{BATCH}, {threads} threads, torch {torch.__version__}", flush=True)
    ours = prepare(here, budget)
    with open_dataset(ours["test"]) as ds:
        truth = ds.u.values[:, 4::4]  # (N, 160, nx): the model steps after the first frame
    groups: dict[str, list[Row]] = {m: [] for m in MODELS}
    for seed in range(seeds):  # interleaved: the reference then ours, each model, at each seed
        for model in MODELS:
            if only in ("both", "reference"):
                groups[model].append(run_reference(model, here, reference, python, budget, seed, threads, truth,
                                                   list(extra_path)))
                print(f"  reference {model} seed {seed}: {groups[model][-1].scores} "
                      f"({groups[model][-1].seconds_per_step:.3f} s/step)", flush=True)
            if only in ("both", "ours"):
                groups[model].append(run_ours(model, here, budget, ours, seed, threads, truth, device))
                print(f"  ours {model} seed {seed}: {groups[model][-1].scores} "
                      f"({groups[model][-1].seconds_per_step:.3f} s/step)", flush=True)
    return groups
