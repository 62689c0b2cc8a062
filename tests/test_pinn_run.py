"""Physics-informed runs on the shared machinery: typed sections, clear errors, one trainer run per seed,
exact resume after a kill, ``python -m sciml.evaluate`` tables and pictures, exit statuses."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import kill_after_first_checkpoint

from sciml import train
from sciml.cli import run_cli
from sciml.config import ConfigError, load_config
from sciml.evaluate import evaluate_run
from sciml.pinn.config import build_problem, build_sampler
from sciml.pinn.problems import Convection
from sciml.solvers.physics_informed import build_network
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_steps=30", "trainer.eval_every=10", "trainer.log_every=10", "trainer.eval_points=400",
        "sampler.points=64", "trainer.constraint_points=16", "trainer.snapshots=2", "trainer.progress=lines",
        "trainer.device=cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_physics_informed_sections_are_typed_by_solver_and_problem():
    cfg = load_config([str(ROOT / "experiments/pinn_convection.yaml")])
    assert cfg.solver.name == "pinn" and cfg.problem.beta == 50.0 and cfg.sampler.name == "r3"
    assert cfg.task.name == "collocation" and cfg.trainer.seeds == [0, 1, 2, 3, 4] and not hasattr(cfg, "dataset")
    assert cfg.trainer.schedule == "step" and cfg.trainer.gamma == 0.9 and cfg.trainer.step_size == 5000
    cfg = load_config(["solver.name=pig", "problem.name=helmholtz2d", "problem.a1=10"])
    assert cfg.solver.gaussians == 800 and cfg.problem.a1 == 10.0


@pytest.mark.parametrize(("args", "needle"), [
    (["solver.name=pinn", "problem.name=helmholtz2d", "problem.beta=3"], "unknown config key 'problem.beta'"),
    (["solver.name=pinn", "problem.name=heat"], "unknown problem.name 'heat'"),
    (["solver.name=pinn", "sampler.name=sobol"], "sampler.name"),
    (["solver.name=pig", "solver.width=3"], "unknown config key 'solver.width'"),
    (["solver.name=pinn", "trainer.seeds=[]"], "trainer.seeds is empty"),
    (["solver.name=pinn", "trainer.max_steps=0"], "'trainer.max_steps': 0 (must be >= 1)"),
    (["solver.name=pinn", "trainer.adam_steps=10"], "unknown config key 'trainer.adam_steps'"),
    (["solver.name=pinn", "trainer.weights.boundry=3"], "unknown constraint term(s) ['boundry']"),
    (["solver.name=pinn", "problem.name=helmholtz2d", "sampler.name=causal_r3"], "needs a time axis"),
    (["solver.name=pinn", "solver.init=glorot"], "bad value for 'solver.init': 'glorot'"),
    (["solver.name=pinn", "trainer.device=gpu"], "bad value for 'trainer.device': 'gpu'"),
    (["solver.name=pinn", "problem.name=helmholtz2d", "solver.hard_initial=true"], "hard_initial needs a time axis"),
    (["solver.name=pinn", "trainer.amp=true"], "trainer.amp=true"),
    (["solver.name=pinn", "trainer.dtype=half"], "trainer.dtype"),
])
def test_bad_physics_informed_configs_name_the_problem(args, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(args)


def test_built_pieces_follow_the_config():
    cfg = load_config([str(ROOT / "experiments/pinn_allen_cahn.yaml")])
    problem = build_problem(cfg.problem)
    model = build_network(cfg.solver, problem)
    t = torch.rand(8, 1)
    left, right = torch.cat([-torch.ones_like(t), t], 1), torch.cat([torch.ones_like(t), t], 1)
    torch.testing.assert_close(model(left), model(right))  # periodic_harmonics: exactly periodic in x
    sampler = build_sampler(cfg.sampler, problem)
    assert type(sampler).__name__ == "CausalR3" and sampler.time_axis == 1 and len(sampler.points) == 2000
    cfg = load_config(["solver.name=pig", "problem.name=flow_mixing"])
    pig = build_network(cfg.solver, build_problem(cfg.problem))
    sigma = pig.features.log_sigma.exp()[0, 0]
    torch.testing.assert_close(sigma, torch.tensor([0.4, 0.4, 0.2]))  # 0.1 x half of each side (8, 8, 4)


def test_each_seed_is_a_trainer_run_and_finished_seeds_are_skipped(tmp_path, capsys):
    args = ["solver.name=pinn", "problem.name=convection", "problem.beta=1", "sampler.name=r3",
            "trainer.seeds=[3,4]", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit(load_config(args))
    results = evaluate_run(run)
    rows = read_metrics(run)
    for seed in (3, 4):
        state = load_checkpoint(run / "checkpoints" / f"seed_{seed}" / "last.pt")
        assert state["finished"] and state["step"] == 30 and state["seed"] == seed
        mine = [r for r in rows if r["seed"] == str(seed)]
        assert [int(r["step"]) for r in mine] == [10, 20, 30]
        assert {"loss_residual", "loss_initial", "loss_boundary", "val_relative_l2"} <= set(mine[0])
        row = next(r for r in results["seeds"] if r["seed"] == seed)
        errors = [float(r["val_relative_l2"]) for r in mine]
        # best is the smallest error seen at a validation; final is the last checkpoint's, recomputed
        assert row["best_error"] == min(errors) and row["best_step"] == 10 * (1 + errors.index(min(errors)))
        assert row["final_error"] == pytest.approx(errors[-1], rel=1e-6) and math.isfinite(row["final_error"])
        assert (run / "evaluation" / f"solution_seed_{seed}.png").stat().st_size > 1000
    assert results["summary"]["seeds"] == 2 and (run / "evaluation" / "errors.png").exists()
    saved = json.loads((run / "evaluation" / "results.json").read_text())
    assert saved["summary"] == results["summary"]
    assert "| 3 |" in (run / "evaluation" / "summary.md").read_text()
    # one more seed trains only the new one; where and how fast it runs may change
    before = (run / "checkpoints" / "seed_3" / "last.pt").stat().st_mtime_ns
    capsys.readouterr()
    fit(load_config([*args, "trainer.seeds=[3,4,5]", "trainer.threads=1"]))
    out = capsys.readouterr().out
    assert "seed 3: done before" in out and "seed 5: trained" in out and "seed 4: trained" not in out
    assert (run / "checkpoints" / "seed_3" / "last.pt").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="holds a run with trainer.lr=0.001, this config has 0.5"):
        fit(load_config([*args, "trainer.lr=0.5"]))


def test_train_evaluate_and_exact_resume_after_a_kill_from_the_command_line(tmp_path):
    args = ["solver.name=pinn", "problem.name=convection", "problem.beta=2", "sampler.name=causal_r3",
            "trainer.max_steps=400", "trainer.checkpoint_every=5", "trainer.eval_every=100", "trainer.log_every=50",
            "trainer.lbfgs_steps=4", "trainer.eval_points=400", "sampler.points=64", "trainer.constraint_points=16",
            "trainer.progress=lines", "trainer.device=cpu", "trainer.threads=1"]
    cmd = [sys.executable, "-m", "sciml.train", *args]
    straight = subprocess.run([*cmd, f"run.dir={tmp_path / 'straight'}"], env=ENV, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    assert "final rel. L2" in straight.stdout  # train evaluates at the end: the table is printed

    last = tmp_path / "killed" / "checkpoints" / "seed_0" / "last.pt"
    kill_after_first_checkpoint([*cmd, f"run.dir={tmp_path / 'killed'}"], last, ENV)
    interrupted_at = load_checkpoint(last)["step"]
    assert interrupted_at < 400
    resumed = subprocess.run([*cmd, f"run.dir={tmp_path / 'killed'}"], env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from step {interrupted_at}" in resumed.stdout

    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "seed_0" / "last.pt")
    b = load_checkpoint(last)
    assert a["step"] == b["step"] == 404 and b["finished"]
    for key in a["model"]:
        if key != "_extra_state":
            assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["model"]["_extra_state"]["sampler"]["points"], b["model"]["_extra_state"]["sampler"]["points"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]  # noqa: E731
    assert strip(read_metrics(tmp_path / "straight")) == strip(read_metrics(tmp_path / "killed"))

    evaluated = subprocess.run([sys.executable, "-m", "sciml.evaluate", str(tmp_path / "killed")], env=ENV,
                               capture_output=True, text=True)
    assert evaluated.returncode == 0, evaluated.stderr
    one = json.loads((tmp_path / "straight" / "evaluation" / "results.json").read_text())["seeds"][0]
    two = json.loads((tmp_path / "killed" / "evaluation" / "results.json").read_text())["seeds"][0]
    assert one["final_error"] == two["final_error"] and one["best_error"] == two["best_error"]


def test_a_seed_resumes_only_on_the_kind_of_device_it_started_on(tmp_path):
    args = ["solver.name=pinn", "problem.beta=1", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit(load_config(args))
    path = run / "checkpoints" / "seed_0" / "last.pt"
    save_checkpoint({**load_checkpoint(path), "device_type": "cuda"}, path)
    with pytest.raises(ConfigError, match="written on cuda"):
        fit(load_config(args))


def test_a_diverged_physics_informed_run_exits_1_with_one_line(tmp_path, monkeypatch, capsys):
    original = Convection.residual

    def blow_up(self, model, points):
        r = original(self, model, points)
        return r * float("nan") if blow_up.calls == 7 else r

    def counting(self, model, points):
        blow_up.calls += 1
        return blow_up(self, model, points)

    blow_up.calls = 0
    monkeypatch.setattr(Convection, "residual", counting)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, ["solver.name=pinn", f"run.dir={tmp_path / 'run'}", "trainer.eval_every=1000", *TINY])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"error: loss became nan at step \d+", err[0]), err


def test_evaluating_a_run_that_never_trained_is_a_one_line_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("solver:\n  name: pinn\n")
    from sciml import evaluate

    with pytest.raises(SystemExit) as exit_info:
        run_cli(evaluate.main, [str(run)])
    assert exit_info.value.code == 2 and "holds no checkpoints yet" in capsys.readouterr().err
    # a run made before the shared trainer (its keys have other names): one line naming the file and key
    (run / "config.yaml").write_text("solver:\n  name: pinn\ntrainer:\n  adam_steps: 100\n")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(evaluate.main, [str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert "config.yaml" in err[0] and "unknown config key 'trainer.adam_steps'" in err[0]


def test_train_command_line_runs_a_pig_problem_with_lbfgs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml.train", "solver.name=pig", "problem.name=helmholtz2d",
                           "solver.gaussians=50", "sampler.name=uniform", "trainer.lbfgs_steps=5",
                           "trainer.lbfgs_points=100", f"run.dir={tmp_path / 'pig'}", *TINY],
                          capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "pig" / "evaluation" / "results.json").read_text())["seeds"][0]
    assert result["lbfgs"].startswith("ran 5 of 5") and result["parameters"] == 4 * 50 * 5 + 4 * 16 + 16 + 17
    assert result["collocation_points"] == 100 and result["lbfgs_points"] == 100
    assert result["step"] == 35


def test_registry_builds_physics_informed_solvers():
    from sciml import solvers
    from sciml.pinn.models import MLP, PIG
    from sciml.tasks.collocation import build_seed

    assert solvers.get("pinn").tasks == solvers.get("pig").tasks == ("collocation",)
    assert solvers.get("fno").tasks == ("trajectory",)
    solver = build_seed(load_config(["solver.name=pig", "problem.name=klein_gordon"]), 0, torch.device("cpu"))
    assert isinstance(solver.net, PIG) and solver.predict(torch.zeros(5, 3)).shape == (5,)
    solver = build_seed(load_config(["solver.name=pinn"]), 0, torch.device("cpu"))
    assert isinstance(solver.net, MLP) and not solver.uses_params


def test_float64_runs_keep_the_default_dtype_of_the_caller(tmp_path):
    args = ["solver.name=pig", "solver.gaussians=20", "problem.name=helmholtz2d", "sampler.name=uniform",
            "trainer.dtype=float64", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit(load_config(args))
    state = load_checkpoint(run / "checkpoints" / "seed_0" / "last.pt")["model"]
    assert all(v.dtype == torch.float64 for k, v in state.items() if k != "_extra_state")
    assert torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize("problem_name", ["convection", "allen_cahn", "klein_gordon", "flow_mixing"])
def test_hard_initial_condition_holds_exactly(problem_name):
    cfg = load_config(["solver.name=pinn", f"problem.name={problem_name}", "solver.hard_initial=true"])
    problem = build_problem(cfg.problem)
    model = build_network(cfg.solver, problem, torch.Generator().manual_seed(0))
    points = problem.domain.sample(64, torch.Generator().manual_seed(1))
    start = points.clone()
    start[:, problem.time_axis] = problem.domain.low[problem.time_axis]
    with torch.no_grad():
        torch.testing.assert_close(model(start), problem.initial_value(start), rtol=0, atol=1e-6)
        # the initial value is the reference's (Allen-Cahn's reference is a table interpolated in x: 1.3e-5)
        torch.testing.assert_close(problem.initial_value(start), problem.reference(start), rtol=0, atol=1e-4)
        assert (model(points) - problem.reference(points)).abs().max() > 1e-2  # the network is still untrained
    assert problem.initial_value(points).shape == (64,)


def test_helmholtz_diagnosis_script_reports_the_runs_error(tmp_path):
    """experiments/pig_helmholtz_diagnose.py: its relative L2 matches the problem's own on a grid of its
    own, its wavenumber bands hold all the error energy, and a run of another problem is refused."""
    from sciml.tasks.collocation import trained_solver
    from sciml.training.devices import default_dtype

    args = ["solver.name=pig", "solver.gaussians=20", "problem.name=helmholtz2d", "sampler.name=uniform",
            "trainer.dtype=float64", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit(load_config(args))
    checkpoint = run / "checkpoints" / "seed_0" / "last.pt"
    state = load_checkpoint(checkpoint)  # shift the output by 0.7: an error far from the trivial 1.0
    state["model"][next(k for k in state["model"] if k.endswith("head.2.bias"))] += 0.7
    save_checkpoint(state, checkpoint)
    script = ROOT / "experiments" / "pig_helmholtz_diagnose.py"
    proc = subprocess.run([sys.executable, str(script), str(run), "--grid", "64", "--points", "500"],
                          capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr
    lines = [line.rpartition(": ") for line in proc.stdout.splitlines()]
    numbers = {key: float(value.split()[0]) for key, _, value in lines}
    cfg = load_config([str(run / "config.yaml")])
    solver = trained_solver(cfg, checkpoint, 0, torch.device("cpu"))
    with default_dtype("float64"):
        expected = solver.problem.relative_l2(solver.net, (201, 201))
    assert expected > 1.3
    assert numbers["relative L2 on a 64^2 grid"] == pytest.approx(expected, rel=0.05)
    shares = [v for k, v in numbers.items() if k.startswith("error energy")]
    assert len(shares) == 5 and sum(shares) == pytest.approx(1.0, abs=2e-3)
    assert numbers["boundary rms of u (exact: 0)"] > 0 and numbers["interior residual rms at 500 fresh points"] > 0

    other = fit(load_config(["solver.name=pinn", "problem.name=convection", f"run.dir={tmp_path / 'conv'}", *TINY]))
    proc = subprocess.run([sys.executable, str(script), str(other)], capture_output=True, text=True, env=ENV)
    assert proc.returncode != 0 and "convection run, not helmholtz2d" in proc.stderr
