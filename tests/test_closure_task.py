"""The closure task: a coarse simulator rebuilt from the data plus a learned term, trained a priori and a
posteriori through the shared trainer, evaluated as the coupled model."""

import glob

import numpy as np
import pytest
import torch

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.errors import ConfigError
from sciml.evaluate import evaluate_run
from sciml.sim import KuramotoSivashinsky, Lorenz96, NavierStokes2D
from sciml.sim.builders import coarse_simulator
from sciml.solvers import ClosureTraining
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics

L96 = ["solver.name=polynomial", "dataset.n_train=8", "dataset.n_valid=2", "dataset.n_test=4",
       "dataset.steps_train=100", "dataset.steps_eval=150", "trainer.batch_size=32", "trainer.warmup_steps=0",
       "trainer.progress=lines", "trainer.device=cpu"]


def test_a_priori_training_finds_the_least_squares_polynomial(tmp_path):
    args = [*L96, "task.target=coupling", "trainer.max_steps=300", "trainer.lr=0.05", "trainer.eval_every=100",
            f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    stats = state["context"]["stats"]
    ds = open_dataset(glob.glob(str(tmp_path / "data" / "lorenz96_two_scale-*" / "train.nc"))[0])
    z = (ds.X.values[:, :-1].ravel() - stats["field_mean"][0]) / stats["field_std"][0]  # every window's input
    y = (ds.coupling.values[:, :-1].ravel() - stats["field_mean"][1]) / stats["field_std"][1]
    powers = np.stack([z**p for p in range(4)], 1)
    best, *_ = np.linalg.lstsq(powers, y, rcond=None)
    learned = state["model"]["coefficients"].numpy()
    assert np.abs(learned - best).max() < 0.02, (learned, best)
    assert np.mean((powers @ learned - y) ** 2) < 1.01 * np.mean((powers @ best - y) ** 2)
    # the statistics of the stored coupling are the two-scale system's (K 8, J 32, F 20: mean -3.84, std 4.6)
    assert stats["field_mean"][1] == pytest.approx(-3.84, abs=0.3)
    assert stats["field_std"][1] == pytest.approx(4.6, abs=0.3)


def test_the_coupled_model_outlasts_the_coarse_model_without_a_closure(tmp_path):
    args = [*L96, "task.target=coupling", "trainer.max_steps=200", "trainer.lr=0.05", "trainer.eval_every=200",
            f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    with_closure = evaluate_run(run, verbose=False)["high_correlation_time"]["steps"]
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    state["model"]["coefficients"].zero_()  # tendency = the mean coupling: the closure of climatology
    torch.save(state, run / "checkpoints" / "best.pt")
    climatology = evaluate_run(run, verbose=False)["high_correlation_time"]["steps"]
    assert with_closure > 1.3 * climatology, (with_closure, climatology)


def test_a_posteriori_training_backpropagates_through_the_simulator_with_a_growing_unroll(tmp_path):
    plan = ClosureTraining(mode="a_posteriori", horizon=8, horizon_start=2, total_steps=60)
    # a linear ramp from 2 to 8: each of the 7 lengths holds for 60 / 7 = 8.6 steps
    assert [plan.unroll(s) for s in (1, 9, 10, 21, 31, 52, 53, 60, 1000)] == [2, 2, 3, 4, 5, 7, 8, 8, 8]
    args = [*L96, "task.mode=a_posteriori", "task.horizon=4", "task.horizon_start=1", "task.substeps=2",
            "trainer.max_steps=40", "trainer.lr=0.05", "trainer.eval_every=20", "trainer.log_every=10",
            f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    assert "loss_a_posteriori" in read_metrics(run)[0]
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    assert state["model"]["coefficients"].abs().sum() > 0  # gradients reached it through the unrolled RK4 steps
    trained = evaluate_run(run, ["evaluate.rollout_steps=20"], verbose=False)["per_step"]["mse"]
    state["model"]["coefficients"].zero_()  # the starting point: the mean coupling
    torch.save(state, run / "checkpoints" / "best.pt")
    start = evaluate_run(run, ["evaluate.rollout_steps=20"], verbose=False)["per_step"]["mse"]
    assert trained[3] < 0.5 * start[3] and trained[19] < start[19], (trained[3], start[3])


@pytest.mark.parametrize(("args", "needle"), [
    (["solver.name=polynomial"], "task.mode=a_priori needs task.target"),
    (["solver.name=polynomial", "task.mode=a_posteriori", "task.target=coupling"], "used by a-priori"),
    (["solver.name=polynomial", "task.target=coupling", "task.horizon=3"], "a-posteriori training only"),
    (["solver.name=polynomial", "task.mode=sideways"], "task.mode"),
    (["solver.name=fno", "task.name=closure"], "solver fno cannot be trained by task closure"),
])
def test_bad_closure_configs_name_the_problem(args, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(args)


def test_coarse_simulators_are_rebuilt_from_the_files_physics(tmp_path):
    cases = {
        "lorenz96_two_scale": (["dataset.n_train=1", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=2",
                                "dataset.steps_eval=2", "dataset.spin_up=0.01"], Lorenz96, {"K": 8, "F": 20.0}),
        "ks1d": (["dataset.n=64", "dataset.L=32", "dataset.nu=0.5", "dataset.n_train=1", "dataset.n_valid=1",
                  "dataset.n_test=1", "dataset.steps_train=2", "dataset.steps_eval=2", "dataset.burn_in=1"],
                 KuramotoSivashinsky, {"n": 64}),
        "kolmogorov2d": (["dataset.n_dns=32", "dataset.n=16", "dataset.nu=0.01", "dataset.drag=0.2",
                          "dataset.n_train=1", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=2",
                          "dataset.steps_eval=2", "dataset.burn_in=0.05", "dataset.dt=0.01", "dataset.save_dt=0.05"],
                         NavierStokes2D, {"n": 16, "nu": 0.01, "drag": 0.2}),
    }
    for name, (args, cls, expected) in cases.items():
        cfg = load_config([f"dataset.name={name}", f"dataset.root={tmp_path}", *args]).dataset
        ds = open_dataset(recipes.ensure_dataset(cfg, progress=False)["train"])
        field = next(v for v in ds.data_vars if ds[v].dims[:2] == ("sample", "time"))
        sim = coarse_simulator(dict(ds.attrs), tuple(ds[field].shape[2:]))
        assert isinstance(sim, cls), name
        for key, value in expected.items():
            assert getattr(sim, key) == value, (name, key)
    assert sim.forcing is not None and sim.L == pytest.approx(2 * np.pi)  # the Kolmogorov forcing came back
    with pytest.raises(ValueError, match="no simulator for system 'advection'"):
        coarse_simulator({"system": "advection"}, (32,))
