"""Ensembles for every solver and the climate of free runs, through ``python -m sciml.evaluate``."""

import numpy as np
import pytest
import torch
from conftest import tiny_overrides

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.errors import ConfigError
from sciml.evaluate import evaluate_run
from sciml.tasks import fit
from sciml.tasks.trajectory.climate import FreeRun, free_run
from sciml.tasks.trajectory.evaluation import load_solver
from sciml.training import load_checkpoint

ENSEMBLE = ["evaluate.samples=3", "evaluate.ic_perturbation=0.01"]
CLIMATE = ["evaluate.climate_steps=60", "evaluate.climate_chunk=25", "evaluate.climate_max_lag=5"]


@pytest.fixture(scope="module")
def ks_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ks")
    cfg = load_config(tiny_overrides(tmp, **{"trainer.max_steps": 10, "run.evaluate": False, "task.time_step": 1}))
    return fit(cfg), cfg


def test_a_deterministic_ensemble_needs_a_perturbation(ks_run):
    run, _ = ks_run
    with pytest.raises(ConfigError, match="deterministic and evaluate.ic_perturbation is 0"):
        evaluate_run(run, ["evaluate.samples=2", "evaluate.plots=false"], verbose=False)
    with pytest.raises(ConfigError, match="ic_perturbation"):
        evaluate_run(run, ["evaluate.ic_perturbation=-1"], verbose=False)


def test_perturbed_ensemble_and_climate_blocks_leave_the_deterministic_metrics_alone(ks_run):
    run, cfg = ks_run
    plain = evaluate_run(run, ["evaluate.plots=false"], verbose=False)
    full = evaluate_run(run, [*ENSEMBLE, *CLIMATE], verbose=False)
    assert full["per_step"] == plain["per_step"] and full["unstable"] == plain["unstable"]
    ens = full["ensemble"]
    n = full["rollout_steps"]
    assert ens["members"] == 3 and ens["source"] == "perturbed initial conditions"
    assert len(ens["crps"]) == len(ens["spread_skill"]) == n
    assert all(v > 0 for v in ens["crps"]) and all(v > 0 for v in ens["spread_skill"])
    points = cfg.dataset.n_test * cfg.dataset.n  # one channel
    assert [sum(h["counts"]) for h in ens["rank_histogram"]] == [points] * len(ens["rank_histogram"])
    assert len(ens["rank_histogram"][0]["counts"]) == 4
    # a 1 % perturbation has not spread yet at the first step: the ensemble is under-dispersive
    assert ens["spread_skill"][0] < 1
    climate = full["climate"]
    assert climate["truth"] == "simulator" and climate["truth_steps"] == 60 and climate["steps"] == 60
    u = climate["fields"]["u"]
    for key in ("mean_error", "variance_ratio", "wasserstein1", "spectrum_error", "autocorrelation_error"):
        assert u[key] is not None and np.isfinite(u[key])
    assert climate["blew_up"]["fraction"] == 0 and climate["blew_up"]["first_step"] == [None] * 4
    for name in ("ensemble.png", "climate.png"):
        assert (run / "evaluation" / name).stat().st_size > 10_000


def test_the_truth_long_run_continues_the_test_trajectories(ks_run):
    _, cfg = ks_run
    stored = open_dataset(recipes.split_path(cfg.dataset, "test")).u.values
    long = open_dataset(recipes.long_run(cfg.dataset, "test", 200)).u.values
    assert long.shape[1] == 200 and stored.shape[1] == 49
    np.testing.assert_allclose(long[:, :49], stored, atol=1e-5)
    assert recipes.long_run(cfg.dataset, "train", 200) is None


def test_a_free_run_in_chunks_is_the_one_long_rollout(ks_run):
    run, cfg = ks_run
    model, _ = load_solver(run, cfg, "best", torch.device("cpu"))
    initial = torch.from_numpy(open_dataset(recipes.split_path(cfg.dataset, "test")).u.values[:, :1, None])
    with torch.no_grad():
        whole = model.rollout(initial, 30, None, None)
    first = torch.zeros(4, dtype=torch.long)
    chunks = list(free_run(model, initial, None, None, FreeRun(30, 7, 1e6, 0.2), first))
    assert [c.shape[1] for c, _ in chunks] == [7, 7, 7, 7, 2]
    torch.testing.assert_close(torch.cat([c for c, _ in chunks], 1), whole, rtol=1e-5, atol=1e-5)
    assert (first == 0).all() and all(bool(v.all()) for _, v in chunks)
    first = torch.zeros(4, dtype=torch.long)
    tight = list(free_run(model, initial, None, None, FreeRun(30, 7, 0.5 * float(whole[:2].abs().max()), 0.2), first))
    assert (first[:2] > 0).all()  # the bound is below what these runs reach
    valid = torch.cat([v for _, v in tight], 1)
    for i in range(2):
        assert not valid[i, first[i] - 1:].any() and valid[i, :first[i] - 1].all()


def test_the_coupled_lorenz96_keeps_the_climate_of_the_two_scale_model(tmp_path):
    args = ["solver.name=polynomial", "dataset.n_train=8", "dataset.n_valid=2", "dataset.n_test=4",
            "dataset.steps_train=100", "dataset.steps_eval=150", "trainer.batch_size=32", "trainer.warmup_steps=0",
            "trainer.progress=lines", "trainer.device=cpu", "task.target=coupling", "trainer.max_steps=300",
            "trainer.lr=0.05", "trainer.eval_every=300", "run.evaluate=false",
            f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    overrides = ["evaluate.climate_steps=2000", "evaluate.climate_chunk=500", "evaluate.climate_max_lag=40",
                 "evaluate.plots=false"]
    results = evaluate_run(run, [*overrides, "evaluate.samples=4", "evaluate.ic_perturbation=0.01"], verbose=False)
    ens = results["ensemble"]  # a closure's coupled model gets members from perturbed states too
    # over-dispersive at first (the 1 % perturbation exceeds one step's model error), under-dispersive later (the
    # perturbations do not represent the closure's error): measured 2.3 and 0.31
    assert ens["members"] == 4 and ens["spread_skill"][0] > 1 > ens["spread_skill"][-1]
    climate = results["climate"]
    assert climate["truth"] == "simulator" and climate["truth_steps"] == 2000 and climate["blew_up"]["fraction"] == 0
    x = climate["fields"]["X"]
    sd = x["truth_variance"] ** 0.5  # about 5
    assert abs(x["mean_error"]) < 0.05 * sd and 0.9 < x["variance_ratio"] < 1.1  # measured: 0.04, 1.005
    assert x["wasserstein1"] < 0.05 * sd and x["spectrum_error"] < 0.1  # 0.09, 0.024
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    state["model"]["coefficients"].zero_()  # the closure of climatology: the mean coupling, no feedback
    torch.save(state, run / "checkpoints" / "best.pt")
    x = evaluate_run(run, overrides, verbose=False)["climate"]["fields"]["X"]
    assert x["variance_ratio"] > 1.3 and x["wasserstein1"] > 0.15 * sd  # measured: 1.52, 1.08
