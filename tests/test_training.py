"""The training loop: end to end, exact resume after a kill, atomic checkpoints, divergence, mixed precision,
schedules after a run is extended, DDP on gloo."""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import kill_after_first_checkpoint, tiny_overrides

from sciml import train
from sciml.cli import run_cli
from sciml.config import load_config
from sciml.solvers import NeuralSolver
from sciml.tasks import fit
from sciml.training import CheckpointError, TrainingDiverged, load_checkpoint, read_metrics, save_checkpoint
from sciml.training.optim import LossScaler, gradient_step

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def steps_logged(run_dir: Path) -> list[int]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_end_to_end_run_writes_everything(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, tiny_overrides(tmp_path, **{"trainer.max_steps": 80, "solver.width": 32,
                                                        "solver.modes": 16}))
    assert exit_info.value.code == 0
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.csv", "checkpoints/last.pt", "checkpoints/best.pt",
                 "evaluation/results.json", "evaluation/correlation.png", "evaluation/spacetime.png",
                 "evaluation/spectra.png", "evaluation/errors.png"):
        assert (run / name).is_file(), name
    with open(run / "metrics.csv", newline="") as f:
        val = [float(r["val_loss"]) for r in csv.DictReader(f) if r["val_loss"]]
    assert len(val) == 8 and val[-1] < 0.5 * val[0], val
    out = capsys.readouterr().out
    assert "high-correlation time" in out and "nrmse" in out
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 80


def test_resume_after_kill_equals_uninterrupted_run_bitwise(tmp_path):
    common = {"trainer.max_steps": 150, "trainer.checkpoint_every": 5, "trainer.eval_every": 25,
              "trainer.ema_decay": 0.9, "run.evaluate": False}
    cmd = [sys.executable, "-m", "sciml.train"]
    killed = tiny_overrides(tmp_path, **common, **{"run.dir": str(tmp_path / "killed")})
    straight = tiny_overrides(tmp_path, **common, **{"run.dir": str(tmp_path / "straight")})
    subprocess.run(cmd + straight, env=ENV, check=True, capture_output=True)

    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    kill_after_first_checkpoint(cmd + killed, last, ENV)
    interrupted_at = load_checkpoint(last)["step"]
    assert interrupted_at < 150

    subprocess.run(cmd + killed, env=ENV, check=True, capture_output=True)
    a = load_checkpoint(tmp_path / "killed" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 150
    for section in ("model", "ema"):
        for key in b[section]:
            assert torch.equal(a[section][key], b[section][key]), f"{section}.{key} differs after resume"
    assert a["optimizer"]["state"][0]["exp_avg"].equal(b["optimizer"]["state"][0]["exp_avg"])
    assert a["best_val"] == b["best_val"]
    logged = steps_logged(tmp_path / "killed")
    assert logged == sorted(set(logged)), "metrics.csv repeats steps after resume"


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["step"] == 1 and state["w"].equal(torch.ones(3))
    assert list(tmp_path.iterdir()) == [path], "temporary file left behind"


def test_truncated_checkpoint_gives_a_clear_error(tmp_path, capsys):
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 10, "run.evaluate": False})
    fit(load_config(args))
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    best = tmp_path / "run" / "checkpoints" / "best.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(last)
    assert load_checkpoint(best)["step"] == 10  # the other checkpoint stays usable
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, args)
    assert exit_info.value.code == 2
    assert str(last) in capsys.readouterr().err


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    original = NeuralSolver.training_loss

    def loss_with_nan(self, batch, step):
        terms = original(self, batch, step)
        return {k: v * float("nan") for k, v in terms.items()} if step == 7 else terms

    monkeypatch.setattr(NeuralSolver, "training_loss", loss_with_nan)
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 20, "trainer.checkpoint_every": 5,
                                       "trainer.eval_every": 100})
    with pytest.raises(TrainingDiverged, match="loss became nan at step 7"):
        fit(load_config(args))
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 5 and all(torch.isfinite(v).all() for v in state["model"].values())
    with pytest.raises(SystemExit) as exit_info:  # the command line: exit 1 and one line
        run_cli(train.main, [*args, "run.dir=" + str(tmp_path / "run2")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: loss became nan at step 7")


def test_a_non_finite_gradient_without_mixed_precision_stops_before_the_weights_change(tmp_path, monkeypatch):
    original = NeuralSolver.training_loss

    def infinite_gradient(self, batch, step):  # a finite loss whose gradient is inf
        terms = original(self, batch, step)
        if step == 4:
            w = next(self.parameters())
            terms["spike"] = (w * torch.tensor(float("inf"))).sum() * 0.0 + 0.0 * w.sum()
        return terms

    monkeypatch.setattr(NeuralSolver, "training_loss", infinite_gradient)
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 10, "trainer.checkpoint_every": 3})
    with pytest.raises(TrainingDiverged, match="at step 4"):
        fit(load_config(args))


def test_mixed_precision_unscales_complex_gradients_like_real_ones():
    """Spectral layers have complex weights, which torch's GradScaler cannot unscale."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(4, dtype=torch.complex64))
    x = torch.randn(3, 4, dtype=torch.complex64)
    grads = []
    for scaler in (LossScaler(False), LossScaler(True, init_scale=2.0**16)):
        optimizer = torch.optim.SGD([weight], lr=0.0)
        gradient_step((x * weight).abs().pow(2).sum(), [weight], optimizer, scaler)
        grads.append(weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0])


def test_mixed_precision_skips_a_step_whose_scaled_gradients_overflow():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    before = [p.detach().clone() for p in params]
    scaler = LossScaler(True, init_scale=1e38)  # any gradient > 3.4 overflows once scaled
    loss = (model(torch.full((8, 4), 10.0)) ** 2).mean()
    outcome = gradient_step(loss, params, optimizer, scaler, grad_clip=1.0)
    assert outcome.skipped and all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    assert scaler.get_scale() == 0.5e38  # the scale backs off, as GradScaler does
    scaler = LossScaler(True, init_scale=1024.0, growth_interval=2)
    for _ in range(2):
        loss = (model(torch.full((8, 4), 10.0)) ** 2).mean()
        outcome = gradient_step(loss, params, optimizer, scaler, grad_clip=1.0)
        assert not outcome.skipped and math.isfinite(outcome.grad_norm)
    assert scaler.get_scale() == 2048.0  # grows after growth_interval good steps
    assert not all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    # without mixed precision the same overflow is not repaired: the caller is told (the trainer stops)
    plain = LossScaler(False)
    loss = (model(torch.full((8, 4), 1e30)) ** 2).mean()
    frozen = [p.detach().clone() for p in params]
    outcome = gradient_step(loss, params, optimizer, plain)
    assert not outcome.skipped and not math.isfinite(outcome.grad_norm)
    assert all(torch.equal(p, b) for p, b in zip(params, frozen, strict=True))


def test_resume_refuses_a_different_model(tmp_path, capsys):
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 5, "run.evaluate": False})
    fit(load_config(args))
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, [*args, "solver.width=16"])
    assert exit_info.value.code == 2
    assert "solver.width=8" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, [*args, "run.resume=false"])
    assert exit_info.value.code == 2 and "run.resume=false" in capsys.readouterr().err


def test_extending_a_finished_run_schedules_the_new_length(tmp_path):
    """A 10-step cosine run extended to 20 trains steps 11-20 on the 20-step schedule, not at min_lr."""
    from sciml.training.schedules import LRFactor

    common = {"trainer.warmup_steps": 0, "trainer.lr": 1e-3, "trainer.min_lr": 1e-5, "trainer.log_every": 1,
              "trainer.eval_every": 100, "run.evaluate": False}
    args = tiny_overrides(tmp_path, **common, **{"trainer.max_steps": 10})
    fit(load_config(args))
    fit(load_config([*args, "trainer.max_steps=20"]))
    rows = {int(r["step"]): float(r["lr"]) for r in read_metrics(tmp_path / "run")}
    assert sorted(rows) == list(range(1, 21))
    ten = LRFactor("cosine", max_steps=10, min_factor=1e-2)
    twenty = LRFactor("cosine", max_steps=20, min_factor=1e-2)
    assert rows[10] == pytest.approx(1e-3 * ten(10)) == pytest.approx(1e-5)  # the first run ended at min_lr
    for step in range(11, 21):  # the lr logged after step k is the one of step k + 1
        assert rows[step] == pytest.approx(1e-3 * twenty(step), rel=1e-6), step
    assert rows[11] > 40 * rows[10]  # the old schedule would have stayed at min_lr
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 20


def test_ddp_on_gloo_matches_a_single_process_with_the_global_batch(tmp_path):
    common = {"trainer.max_steps": 10, "run.evaluate": False, "trainer.eval_every": 5}
    fit(load_config(tiny_overrides(tmp_path, **common, **{"trainer.batch_size": 16,
                                                          "run.dir": str(tmp_path / "single")})))
    ddp_args = tiny_overrides(tmp_path, **common, **{"trainer.batch_size": 8, "run.dir": str(tmp_path / "ddp")})
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "sciml.train", *ddp_args], env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "single" / "checkpoints" / "last.pt")
    assert a["step"] == 10
    for key, value in b["model"].items():
        torch.testing.assert_close(a["model"][key], value, rtol=1e-4, atol=1e-5)
    assert steps_logged(tmp_path / "ddp") == sorted(set(steps_logged(tmp_path / "ddp")))  # rank 0 writes alone


def test_schedules_warm_up_then_anneal_and_short_runs_still_anneal():
    from sciml.training.schedules import LRFactor, effective_warmup

    cosine = LRFactor("cosine", max_steps=100, warmup_steps=10, min_factor=0.01)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(100) == pytest.approx(0.01)
    assert cosine(55) == pytest.approx(0.01 + 0.99 * 0.5)
    step = LRFactor("step", max_steps=100, step_size=30, gamma=0.5)
    assert [step(s) for s in (0, 29, 30, 60)] == [1.0, 1.0, 0.5, 0.25]
    multistep = LRFactor("multistep", max_steps=100, gamma=0.4, milestones=(10, 50))  # MP-PDE: at epochs
    assert [multistep(s) for s in (0, 9, 10, 49, 50, 99)] == pytest.approx([1, 1, 0.4, 0.4, 0.16, 0.16])
    short = load_config(["trainer.max_steps=60"]).trainer  # default warm-up 100 would never end
    assert effective_warmup(short) == 6
