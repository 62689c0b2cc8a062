"""LE-PDE beside the released code (snap-stanford/le_pde, with its pytorch_net and MP_Neural_PDE_Solvers
submodules) on MP-PDE's E2 at nx = 50.

Protocol, for each budget and seed (the data and scoring of ``parity_mp_pde``):

1. the same files: MP-PDE's layout in ``data/mppde1d_data/`` where the released loader looks, our
   ``projection: released_loader`` files for ours (checked: its loader must return our test frames);
2. the README's 1D command, unchanged but for ``--epochs``, ``--save_interval=1`` (keep the best validation
   model of every epoch, as ours does), ``--gpuid=False`` (CPU) and the seed, run by our launcher with the
   compatibility aliases current Python/NumPy/torch need (``reference_shims/run_seeded.py``); its
   interpreter needs its requirements (``--reference-python``; ``docs/parity.md`` lists them);
3. ours with the same settings: the released encoder/decoder (``solver.layout: released``, the same
   1,630,976 parameters), latent 128, bundles of 25, M = 4 with weights 1, consistency 1, autoencoding 1,
   RMSE, latent noise 1e-5, Adam 1e-3 with a cosine schedule to 0, batch 16, the same number of steps;
4. both rollouts scored by ``parity_common.score``, the reference's the way its ``analysis_1d.ipynb``
   makes it (best validation model, frames 25-49 given, 8 bundles predicted); the notebook's metric is
   recomputed beside ours.

Differences that remain and are named in ``docs/parity.md``: the reference steps its cosine schedule once per
epoch, ours every step; the reference sweeps every training window once per epoch in a shuffled order, ours
draws windows at random.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import parity_mp_pde as data
from parity_common import SHIMS, Budget, Row, check_same_truth, our_rollout, run_logged, score, train_seconds

ROOT = Path(__file__).resolve().parents[1]
BATCH, BUNDLE, M = 16, 25, 4
WINDOWS = 250 - BUNDLE * (1 + M) + 1  # training windows per trajectory (126)
METRIC = "accumulated_error"


BUDGETS = {
    "small": Budget(n_train=16, epochs=2, windows=WINDOWS),  # 252 steps
    "medium": Budget(n_train=64, epochs=2, windows=WINDOWS),  # 1,008 steps
    "cpu": Budget(n_train=64, epochs=8, windows=WINDOWS),  # 4,032 steps
    "gpu": Budget(n_train=2048, epochs=50, windows=WINDOWS, n_valid=128, n_test=128),  # the README's command
}

README_1D = ("--dataset=mppde1d-E2-50 --n_train=-1 --time_interval=1 --algo=contrast --no_latent_evo=False "
             "--encoder_type=cnn-s --input_steps=1 --evolution_type=mlp-3-elu-2 --decoder_type=cnn-tr "
             "--encoder_n_linear_layers=0 --n_conv_blocks=4 --n_latent_levs=1 --n_conv_layers_latent=3 "
             "--channel_mode=exp-32 --is_latent_flatten=True --evo_groups=1 --recons_coef=1 --consistency_coef=1 "
             "--contrastive_rel_coef=0 --hinge=0 --density_coef=0.001 --latent_noise_amp=1e-5 "
             "--normalization_type=gn --latent_size=128 --kernel_size=4 --stride=2 --padding=1 "
             "--padding_mode=zeros --act_name=elu --multi_step=1^2^3^4 --latent_multi_step=1^2^3^4 "
             "--temporal_bundle_steps=25 --use_grads=False --use_pos=False --is_y_diff=False --loss_type=rmse "
             "--loss_type_consistency=mse --batch_size=16 --val_batch_size=16 --opt=adam --weight_decay=0 --id=0 "
             "--verbose=1 --save_iterations=1000 --latent_loss_normalize_mode=targetindi --n_workers=0 "
             "--static_encoder_type=param-0 --static_latent_size=3").split()


def reference_paths(work: Path, reference: Path) -> list[Path]:
    """The reference imports itself as ``le_pde``: a folder holding a link of that name to the checkout."""
    package = work / "package"
    package.mkdir(parents=True, exist_ok=True)
    link = package / "le_pde"
    if not link.is_symlink() or link.resolve() != reference:
        link.unlink(missing_ok=True)
        link.symlink_to(reference, target_is_directory=True)
    return [package, reference]


def run_reference(work: Path, reference: Path, python: str, budget: Budget, seed: int, threads: int,
                  truth: np.ndarray, dt: float, device: str = "cpu") -> Row:
    cwd = work / "reference" / f"seed{seed}"
    (cwd / "data").mkdir(parents=True, exist_ok=True)
    link = cwd / "data" / "mppde1d_data"
    link.unlink(missing_ok=True)
    link.symlink_to(work / "data", target_is_directory=True)
    env = data.reference_env(reference_paths(work, reference), threads)
    timings, log_path = cwd / "timings.json", cwd / "train.log"
    launcher = [python, str(SHIMS / "run_seeded.py"), "--seed", str(seed), "--threads", str(threads),
                "--legacy-aliases"]
    results = sorted((cwd / "results").glob("*/*.p"))
    if not (results and timings.is_file()):
        run_logged([*launcher, "--time", "le_pde.datasets.load_dataset:load_data", "--time", "le_pde.models:test",
                    "--timings", str(timings), str(reference / "train.py"), "--exp_id=parity",
                    f"--date_time=seed{seed}", *README_1D, f"--epochs={budget.epochs}", "--save_interval=1",
                    f"--seed={seed}", f"--gpuid={'0' if device == 'cuda' else 'False'}"], log_path, cwd=cwd, env=env)
        results = sorted((cwd / "results").glob("*/*.p"))
    out = cwd / "rollout.npz"
    run_logged([*launcher, str(SHIMS / "le_pde_tools.py"), "rollout", str(results[-1]), str(budget.n_test),
                str(out)], cwd / "rollout.log", cwd=cwd, env=env)
    rollout = np.load(out)
    check_same_truth(truth, rollout["truth"], "the released LE-PDE")
    params = int(re.search(r"n_params_model: (\d+)", log_path.read_text()).group(1))
    record = json.loads(timings.read_text())
    seconds = record["total_seconds"] - sum(v["seconds"] for k, v in record.items() if k != "total_seconds")
    extra = {"released_metric_recomputed": float(rollout["released_metric"]),
             "best_epoch": float(rollout["best_epoch"])}
    return Row("reference", seed, score(rollout["pred"], truth, dt), seconds / budget.steps, budget.steps, params,
               extra)


def our_overrides(budget: Budget, ours: dict[str, Path], run_dir: Path, seed: int, threads: int,
                  device: str = "cpu") -> list[str]:
    spe = budget.steps_per_epoch
    return [str(ROOT / "solvers" / "le_pde.yaml"), "solver.layout=released",
            "dataset.name=files", *(f"dataset.{s}={p}" for s, p in ours.items()),
            f"task.history={BUNDLE}", "task.time_step=1", f"task.horizon={M}", "task.params=[alpha,beta,gamma]",
            f"trainer.max_steps={budget.steps}", f"trainer.batch_size={BATCH}", "trainer.optimizer=adam",
            "trainer.lr=1e-3", "trainer.weight_decay=0", "trainer.schedule=cosine", "trainer.min_lr=0",
            "trainer.warmup_steps=0", "trainer.grad_clip=0", f"trainer.eval_every={spe}",
            f"trainer.checkpoint_every={spe}", f"trainer.log_every={min(spe, 250)}", f"trainer.seed={seed}",
            f"trainer.threads={threads}", f"trainer.device={device}", "trainer.progress=lines", "run.evaluate=false",
            f"run.dir={run_dir}"]


def run(reference: Path, budget_name: str, seeds: int, threads: int, work: Path, only: str = "both",
        python: str = sys.executable, device: str = "cpu") -> list[Row]:
    budget = BUDGETS[budget_name]
    work = work / "le_pde" / budget_name
    data.header("le_pde", budget_name, budget, threads, budget.steps)
    ours = data.prepare(work, budget)
    truth, dt = data.truth_of(ours)
    rows = []
    for seed in range(seeds):
        if only in ("both", "reference"):
            rows.append(run_reference(work, reference, python, budget, seed, threads, truth, dt, device))
            print(f"  reference seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
        if only in ("both", "ours"):
            run_dir = work / "ours" / f"seed{seed}"
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            overrides = our_overrides(budget, ours, run_dir, seed, threads, device)
            run_logged([sys.executable, "-m", "sciml.train", *overrides],
                       work / "ours" / f"seed{seed}.log", cwd=ROOT, env=env)
            pred, params = our_rollout(run_dir, data.GIVEN, data.FIRST)
            rows.append(Row("ours", seed, score(pred, truth, dt), train_seconds(run_dir) / budget.steps,
                            budget.steps, params))
            print(f"  ours seed {seed}: {rows[-1].scores} ({rows[-1].seconds_per_step:.4f} s/step)", flush=True)
    return rows
