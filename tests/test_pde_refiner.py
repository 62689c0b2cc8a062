"""PDE-Refiner: the noise schedule, the v-parametrisation, the k = 0 predictor, seeded noise, a smoke training."""

import math

import pytest
import torch

from sciml import solvers
from sciml.config import load_config
from sciml.errors import ConfigError
from sciml.solvers import grid_context
from sciml.solvers.pde_refiner import RefinementSchedule
from sciml.tasks import fit
from sciml.training import read_metrics


def small(**overrides):
    cfg = solvers.get("pde_refiner").config()
    cfg.hidden, cfg.channel_mults, cfg.blocks_per_level = 8, [1, 2], 1
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def test_the_schedule_is_sigma_min_to_the_k_over_k():
    schedule = RefinementSchedule(3, 4e-7)
    # k = 0 is pure noise; the public code's variances [1, 7.4e-3, 5.4e-5, 4e-7]
    assert schedule.variances.tolist() == pytest.approx([1.0, 7.368e-3, 5.429e-5, 4e-7], rel=1e-3)
    assert schedule.variances[-1] == pytest.approx(4e-7, rel=1e-12)
    assert torch.allclose(schedule.variances[1] ** 3, torch.tensor(4e-7, dtype=torch.float64))
    assert RefinementSchedule(1, 2e-7).variances.tolist() == pytest.approx([1.0, 2e-7])


def test_v_prediction_target_and_its_inverse():
    torch.manual_seed(0)
    schedule = RefinementSchedule(3, 4e-7)
    y, noise = torch.randn(4, 1, 32, dtype=torch.float64), torch.randn(4, 1, 32, dtype=torch.float64)
    for step in range(4):
        k = torch.full((4,), step)
        y_k, v = schedule.noisy(y, noise, k), schedule.velocity(y, noise, k)
        var = schedule.variances[step].item()
        assert torch.allclose(y_k, math.sqrt(1 - var) * y + math.sqrt(var) * noise)
        assert torch.allclose(v, math.sqrt(1 - var) * noise - math.sqrt(var) * y)
        assert torch.allclose(schedule.denoised(y_k, v, k), y, atol=1e-12)
    k0 = torch.zeros(4, dtype=torch.long)
    assert torch.equal(schedule.noisy(y, noise, k0), noise) and torch.equal(schedule.velocity(y, noise, k0), -y)


def test_a_physical_step_is_the_k0_predictor_from_pure_noise_then_k_refinements(monkeypatch):
    torch.manual_seed(0)
    model = solvers.build(small(), grid_context((32,), length=8.0, dt=0.8)).eval()
    window = torch.randn(3, 1, 1, 32)
    calls = []
    velocity = model.velocity

    def record(window_, y_k, k, params):
        calls.append((y_k.clone(), k.clone()))
        return velocity(window_, y_k, k, params)

    monkeypatch.setattr(model, "velocity", record)
    with model.noise_seed(0):
        nxt = model.advance(window)
    assert nxt.shape == (3, 1, 1, 32)  # (B, frames_per_step, C, *space): the one-step predictor's contract
    assert [int(k[0]) for _, k in calls] == [0, 1, 2, 3]  # K + 1 network calls
    with model.noise_seed(0):
        first_noise, second_noise = model._noise(window[:, -1]), model._noise(window[:, -1])
    assert torch.equal(calls[0][0], first_noise)  # k = 0 sees pure noise
    k0, k1 = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    predicted = -velocity(window, first_noise, k0, None)  # the k = 0 one-step prediction of y
    # the first refinement denoises that prediction with noise of variance sigma_1^2 added
    assert torch.allclose(calls[1][0], model.schedule.noisy(predicted, second_noise, k1), atol=1e-6)
    assert not torch.allclose(calls[1][0], calls[0][0])


def test_without_refinement_steps_it_is_a_deterministic_mse_u_net_of_the_same_size():
    ctx = grid_context((32,), length=8.0, dt=0.8)
    refiner, mse = solvers.build(small(), ctx), solvers.build(small(refinement_steps=0), ctx)
    assert refiner.stochastic and not mse.stochastic
    assert sum(p.numel() for p in refiner.parameters()) == sum(p.numel() for p in mse.parameters())
    window = torch.randn(2, 1, 1, 32)
    mse.eval()
    assert torch.equal(mse.rollout(window, 3, seed=0), mse.rollout(window, 3, seed=1))


@pytest.mark.parametrize("steps", [3, 0])
def test_a_zero_initialised_u_net_starts_as_persistence_and_still_learns(steps):
    torch.manual_seed(0)
    ctx = grid_context((32,), length=8.0, dt=0.8)
    model = solvers.build(small(zero_init=True, refinement_steps=steps), ctx).eval()
    window = torch.randn(2, 1, 1, 32)
    frames = model.rollout(window, 2, seed=0)
    if steps == 0:  # exactly u(t)
        assert torch.equal(frames, window.expand(-1, 2, -1, -1))
    else:  # u(t) plus what the refinement's noise leaves with v = 0: of order 0.3 σ_1 = 0.026 per step
        assert (frames - window).std() < 0.06
    default = solvers.build(small(refinement_steps=steps), ctx).eval().rollout(window, 2, seed=0)
    assert (default - window).std() > 2 * (frames - window).std()  # the default init does not start there
    model.train()
    batch = {"input": window, "target": torch.randn(2, 1, 1, 32)}
    loss = sum(model.training_loss(batch, 1).values())
    loss.backward()
    out = model.net.out.weight.grad
    assert out is not None and out.abs().sum() > 0  # the zeroed output layer gets a gradient at once


def test_validation_is_deterministic_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    model = solvers.build(small(), grid_context((32,), length=8.0, dt=0.8)).eval()
    batch = {"input": torch.randn(4, 1, 1, 32), "target": torch.randn(4, 2, 1, 32)}
    state = torch.get_rng_state()
    first, second = model.validation_loss(batch)["loss"], model.validation_loss(batch)["loss"]
    assert first == second and torch.isfinite(first)
    assert torch.equal(state, torch.get_rng_state())


def test_rollouts_repeat_with_a_seed_and_differ_between_seeds():
    torch.manual_seed(0)
    model = solvers.build(small(), grid_context((32,), length=8.0, dt=0.8)).eval()
    window = torch.randn(2, 1, 1, 32)
    a, b, c = model.rollout(window, 4, seed=7), model.rollout(window, 4, seed=7), model.rollout(window, 4, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c) and torch.isfinite(c).all()


def test_parameters_and_2d_grids_reach_the_film_conditioning():
    ctx = grid_context((16, 16), n_params=1, length=6.0, dt=0.5)
    model = solvers.build(small(), ctx)
    window, target = torch.randn(2, 1, 1, 16, 16), torch.randn(2, 1, 1, 16, 16)
    loss = model.training_loss({"input": window, "target": target, "params": torch.rand(2, 1)}, 1)["mse"]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    p0, p1 = torch.zeros(2, 1), torch.ones(2, 1)
    assert not torch.allclose(model.rollout(window, 1, p0), model.rollout(window, 1, p1))


def test_bad_settings_are_refused():
    for key, value in (("refinement_steps", -1), ("min_noise", 0.0), ("min_noise", 1.5), ("difference_scale", -1)):
        with pytest.raises(ConfigError, match=key):
            load_config(["solver.name=pde_refiner", f"solver.{key}={value}"])


def test_a_smoke_training_reduces_the_loss_and_validation_picks_a_deterministic_best(tmp_path, tiny):
    args = [*tiny, "solver.name=pde_refiner", "solver.hidden=8", "solver.channel_mults=[1,2]",
            "solver.blocks_per_level=1", "trainer.max_steps=100", "trainer.lr=3e-3", "trainer.eval_every=50",
            "trainer.batch_size=16", "trainer.log_every=10",
            "trainer.ema_decay=0.9", "run.evaluate=false"]
    args = [a for a in args if not a.startswith(("solver.modes", "solver.width", "solver.n_layers"))]
    run = fit(load_config(args))
    rows = read_metrics(run)
    # the k = 0 term (the one-step predictor) falls; the refinement terms stay near 1 until y is known
    # to within sigma_k, so the total loss is not the signal
    k0 = [float(r["mse_k0"]) for r in rows if r.get("mse_k0")]
    assert len(k0) == 10 and sum(k0[-3:]) < 0.5 * sum(k0[:3]), k0
    assert all(r.get("mse_k3") for r in rows if r.get("loss"))
    val = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    assert len(val) == 2 and val[1] < val[0] and all(math.isfinite(v) for v in val)


def test_evaluation_samples_an_ensemble_and_reports_the_first_seed_unchanged(tmp_path, tiny):
    from sciml.tasks.trajectory.evaluation import evaluate

    args = [*tiny, "solver.name=pde_refiner", "solver.hidden=8", "solver.channel_mults=[1,2]",
            "solver.blocks_per_level=1", "trainer.max_steps=10", "run.evaluate=false", "evaluate.rollout_steps=6"]
    args = [a for a in args if not a.startswith(("solver.modes", "solver.width", "solver.n_layers"))]
    cfg = load_config(args)
    run = fit(cfg)
    single = evaluate(cfg, run)
    cfg.evaluate.samples = 3
    ensemble = evaluate(cfg, run)
    assert ensemble["per_step"]["mse"] == single["per_step"]["mse"]  # the reported rollout is seed 0's
    unc = ensemble["uncertainty"]
    assert unc["samples"] == 3 and "uncertainty" not in single
    assert len(unc["spread"]) == 6 and all(s > 0 for s in unc["spread"])
    assert len(unc["predicted_decorrelation_time"]) == len(unc["actual_decorrelation_time"]) == 4
    assert (run / "evaluation" / "uncertainty.png").exists() and (run / "evaluation" / "error_spectra.png").exists()
    block = ensemble["ensemble"]  # a stochastic solver's own members: noise seeds, no perturbation needed
    assert block["members"] == 3 and block["source"] == "noise seeds" and len(block["crps"]) == 6
    assert all(v is not None and v > 0 for v in block["spread_skill"])
    assert (run / "evaluation" / "ensemble.png").exists()
    horizons = ensemble["spectra"]["horizons"]
    assert [h["step"] for h in horizons] == [1, 2, 5, 6] and len(horizons[0]["error"]) == 33


def test_a_deterministic_solver_refuses_an_ensemble(tmp_path, tiny):
    from sciml.tasks.trajectory.evaluation import evaluate

    cfg = load_config([*tiny, "trainer.max_steps=2", "run.evaluate=false", "evaluate.samples=2"])
    run = fit(cfg)
    with pytest.raises(ConfigError, match="deterministic"):
        evaluate(cfg, run)


def test_the_dns_baseline_at_the_truths_own_resolution_reproduces_it(tmp_path):
    """experiments/kolmogorov_dns_baseline.py: data stored at the DNS grid itself is reproduced from frame 0
    (correlation 1 to the end); a coarser DNS decorrelates no later."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "experiments" / "kolmogorov_dns_baseline.py"
    spec = importlib.util.spec_from_file_location("kolmogorov_dns_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    overrides = ["dataset.name=kolmogorov2d", f"dataset.root={tmp_path}", "dataset.n_dns=32", "dataset.n=32",
                 "dataset.n_train=1", "dataset.n_valid=1", "dataset.n_test=2", "dataset.steps_train=2",
                 "dataset.steps_eval=6", "dataset.burn_in=0.5", "dataset.dt=0.02", "dataset.save_dt=0.1",
                 "task.time_step=2"]
    out = module.main([*overrides, "--resolutions", "32", "16", "--out", str(tmp_path / "dns.json")])
    same, coarse = out["baselines"]["dns_32"], out["baselines"]["dns_16"]
    assert out["rollout_steps"] == 3 and out["dt_model"] == pytest.approx(0.2)
    assert min(same["correlation"]) > 0.99999 and not same["reached_within_horizon"]
    assert coarse["correlation"][-1] < same["correlation"][-1]
