"""Physics-informed runs from configs: typed sections, clear errors, per-seed outputs, seed-level resume."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sciml.config import ConfigError, load_config
from sciml.pinn.run import build_model, build_problem, build_sampler, fit_pinn

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.adam_steps=30", "trainer.eval_every=10", "trainer.eval_points=400", "sampler.points=64",
        "trainer.constraint_points=16", "trainer.snapshots=2", "trainer.progress=lines"]


def test_physics_informed_sections_are_typed_by_solver_and_problem():
    cfg = load_config([str(ROOT / "experiments/pinn_convection.yaml")])
    assert cfg.solver.name == "pinn" and cfg.problem.beta == 50.0 and cfg.sampler.name == "r3"
    assert cfg.trainer.seeds == [0, 1, 2, 3, 4] and not hasattr(cfg, "dataset")
    cfg = load_config(["solver.name=pig", "problem.name=helmholtz2d", "problem.a1=10"])
    assert cfg.solver.gaussians == 800 and cfg.problem.a1 == 10.0


@pytest.mark.parametrize(("args", "needle"), [
    (["solver.name=pinn", "problem.name=helmholtz2d", "problem.beta=3"], "unknown config key 'problem.beta'"),
    (["solver.name=pinn", "problem.name=heat"], "unknown problem.name 'heat'"),
    (["solver.name=pinn", "sampler.name=sobol"], "sampler.name"),
    (["solver.name=pig", "solver.width=3"], "unknown config key 'solver.width'"),
    (["solver.name=pinn", "trainer.seeds=[]"], "trainer.seeds is empty"),
    (["solver.name=pinn", "trainer.adam_steps=0"], "nothing to train"),
    (["solver.name=pinn", "trainer.weights.boundry=3"], "unknown constraint term(s) ['boundry']"),
    (["solver.name=pinn", "problem.name=helmholtz2d", "sampler.name=causal_r3"], "needs a time axis"),
    (["solver.name=pinn", "solver.init=glorot"], "bad value for 'solver.init': 'glorot'"),
    (["solver.name=pinn", "trainer.device=gpu"], "bad value for 'trainer.device': 'gpu'"),
    (["solver.name=pinn", "problem.name=helmholtz2d", "solver.hard_initial=true"], "hard_initial needs a time axis"),
])
def test_bad_physics_informed_configs_name_the_problem(args, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(args)


def test_built_pieces_follow_the_config():
    cfg = load_config([str(ROOT / "experiments/pinn_allen_cahn.yaml")])
    problem = build_problem(cfg.problem)
    model = build_model(cfg.solver, problem)
    t = torch.rand(8, 1)
    left, right = torch.cat([-torch.ones_like(t), t], 1), torch.cat([torch.ones_like(t), t], 1)
    torch.testing.assert_close(model(left), model(right))  # periodic_harmonics: exactly periodic in x
    sampler = build_sampler(cfg.sampler, problem)
    assert type(sampler).__name__ == "CausalR3" and sampler.time_axis == 1 and len(sampler.points) == 2000
    pig = build_model(load_config(["solver.name=pig", "problem.name=flow_mixing"]).solver,
                      build_problem(load_config(["solver.name=pig", "problem.name=flow_mixing"]).problem))
    sigma = pig.features.log_sigma.exp()[0, 0]
    torch.testing.assert_close(sigma, torch.tensor([0.4, 0.4, 0.2]))  # 0.1 x half of each side (8, 8, 4)


def test_fit_writes_each_seed_and_resumes_at_seed_granularity(tmp_path, capsys):
    args = ["solver.name=pinn", "problem.name=convection", "problem.beta=1", "sampler.name=r3",
            "trainer.seeds=[3,4]", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit_pinn(load_config(args))
    for seed in (3, 4):
        result = json.loads((run / f"seed_{seed}" / "result.json").read_text())
        assert result["seed"] == seed and math.isfinite(result["final_error"]) and result["device"] == "cpu"
        assert result["best_error"] <= result["final_error"]
        state = torch.load(run / f"seed_{seed}" / "model.pt", weights_only=True)
        assert "model" in state and state["seed"] == seed
        assert (run / f"seed_{seed}" / "solution.png").stat().st_size > 1000
        rows = (run / f"seed_{seed}" / "history.csv").read_text().splitlines()
        assert rows[0].startswith("step,phase,loss,error") and len(rows) == 1 + 3
    summary = json.loads((run / "summary.json").read_text())
    assert summary["summary"]["seeds"] == 2 and (run / "errors.png").exists()
    assert "| 3 |" in (run / "summary.md").read_text()
    # a second run with one more seed trains only the new seed; where and how fast it runs may change
    before = (run / "seed_3" / "result.json").stat().st_mtime_ns
    capsys.readouterr()
    fit_pinn(load_config([*args, "trainer.seeds=[3,4,5]", "trainer.device=cpu", "trainer.threads=1"]))
    out = capsys.readouterr().out
    assert "seed 3: done before" in out and "seed 5: final" in out and "seed 4: final" not in out
    assert (run / "seed_3" / "result.json").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="different config"):
        fit_pinn(load_config([*args, "trainer.lr=0.5"]))


def test_an_interrupted_seed_resumes_exactly_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    import sciml.pinn.run as pinn_run
    from sciml.training.checkpoint import load_checkpoint, save_checkpoint

    args = ["solver.name=pinn", "problem.name=convection", "problem.beta=1", "sampler.name=causal_r3",
            "trainer.seeds=[0]", "trainer.checkpoint_every=10", "trainer.lbfgs_steps=2", *TINY]
    whole = fit_pinn(load_config([*args, f"run.dir={tmp_path / 'whole'}"]))
    assert not (whole / "seed_0" / "checkpoint.pt").exists()  # removed once the seed is done

    real_train = pinn_run.train

    def interrupted(*a, **kw):
        training = a[3]
        save = training.on_checkpoint

        def save_then_stop(state):
            save(state)
            raise KeyboardInterrupt

        training.on_checkpoint = save_then_stop
        return real_train(*a, **kw)

    monkeypatch.setattr(pinn_run, "train", interrupted)
    cut = [*args, f"run.dir={tmp_path / 'cut'}"]
    with pytest.raises(KeyboardInterrupt):
        fit_pinn(load_config(cut))
    checkpoint = tmp_path / "cut" / "seed_0" / "checkpoint.pt"
    assert load_checkpoint(checkpoint)["training"]["step"] == 10
    monkeypatch.setattr(pinn_run, "train", real_train)
    with pytest.raises(ConfigError, match="different config"):
        fit_pinn(load_config([*cut, "trainer.lr=0.5"]))
    capsys.readouterr()
    fit_pinn(load_config([*cut, "trainer.checkpoint_every=7"]))  # the interval may change
    assert "resuming from Adam step 10" in capsys.readouterr().out
    history = (whole / "seed_0" / "history.csv").read_text()
    assert history == (tmp_path / "cut" / "seed_0" / "history.csv").read_text() and "lbfgs" in history
    a = torch.load(whole / "seed_0" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "seed_0" / "model.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not checkpoint.exists()

    # a checkpoint from another kind of device is refused with a way out
    monkeypatch.setattr(pinn_run, "train", interrupted)
    other = [*args, f"run.dir={tmp_path / 'other'}"]
    with pytest.raises(KeyboardInterrupt):
        fit_pinn(load_config(other))
    monkeypatch.setattr(pinn_run, "train", real_train)
    path = tmp_path / "other" / "seed_0" / "checkpoint.pt"
    save_checkpoint({**load_checkpoint(path), "device_type": "cuda"}, path)
    with pytest.raises(ConfigError, match="written on cuda"):
        fit_pinn(load_config(other))


def test_train_command_line_runs_a_pig_problem(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml.train", "solver.name=pig", "problem.name=helmholtz2d",
                           "solver.gaussians=50", "sampler.name=uniform", "trainer.lbfgs_steps=5",
                           "trainer.lbfgs_points=100", f"run.dir={tmp_path / 'pig'}", "run.evaluate=false", *TINY],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "pig" / "seed_0" / "result.json").read_text())
    assert result["lbfgs"].startswith("ran 5 of 5") and result["parameters"] == 4 * 50 * 5 + 4 * 16 + 16 + 17
    assert result["collocation_points"] == 64 and result["lbfgs_points"] == 100
    assert not (tmp_path / "pig" / "seed_0" / "solution.png").exists()


def test_registry_builds_physics_informed_solvers():
    from sciml import solvers
    from sciml.pinn.models import MLP, PIG

    assert solvers.get("pinn").kind == solvers.get("pig").kind == "physics_informed"
    assert solvers.get("fno").kind == "operator"
    cfg = load_config(["solver.name=pig", "problem.name=klein_gordon"])
    model = solvers.get("pig").build(cfg.solver, build_problem(cfg.problem))
    assert isinstance(model, PIG) and model(torch.zeros(5, 3)).shape == (5,)
    cfg = load_config(["solver.name=pinn"])
    assert isinstance(solvers.get("pinn").build(cfg.solver, build_problem(cfg.problem)), MLP)


def test_float64_runs_keep_the_default_dtype_of_the_caller(tmp_path):
    args = ["solver.name=pig", "solver.gaussians=20", "problem.name=helmholtz2d", "sampler.name=uniform",
            "trainer.dtype=float64", f"run.dir={tmp_path / 'run'}", *TINY]
    run = fit_pinn(load_config(args))
    state = torch.load(run / "seed_0" / "model.pt", weights_only=True)["model"]
    assert all(v.dtype == torch.float64 for v in state.values())
    assert torch.get_default_dtype() == torch.float32
    with pytest.raises(ConfigError, match="trainer.dtype"):
        load_config(["solver.name=pinn", "trainer.dtype=half"])


@pytest.mark.parametrize("problem_name", ["convection", "allen_cahn", "klein_gordon", "flow_mixing"])
def test_hard_initial_condition_holds_exactly(problem_name):
    cfg = load_config(["solver.name=pinn", f"problem.name={problem_name}", "solver.hard_initial=true"])
    problem = build_problem(cfg.problem)
    model = build_model(cfg.solver, problem, torch.Generator().manual_seed(0))
    points = problem.domain.sample(64, torch.Generator().manual_seed(1))
    start = points.clone()
    start[:, problem.time_axis] = problem.domain.low[problem.time_axis]
    with torch.no_grad():
        torch.testing.assert_close(model(start), problem.initial_value(start), rtol=0, atol=1e-6)
        # the initial value is the reference's (Allen-Cahn's reference is a table interpolated in x: 1.3e-5)
        torch.testing.assert_close(problem.initial_value(start), problem.reference(start), rtol=0, atol=1e-4)
        assert (model(points) - problem.reference(points)).abs().max() > 1e-2  # the network is still untrained
    assert problem.initial_value(points).shape == (64,)
