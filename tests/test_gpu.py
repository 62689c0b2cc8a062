"""GPU checks, run by benchmarks/gpu_check.sh (marker ``gpu``; skipped without CUDA)."""

import pytest
import torch
from conftest import tiny_overrides

from sciml.config import load_config
from sciml.evaluate import evaluate_run
from sciml.sim import KuramotoSivashinsky
from sciml.solvers import build, get, grid_context
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics

DEVICE_ARG = "trainer.device=cuda"
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_ks_on_gpu_matches_cpu():
    sim = KuramotoSivashinsky(n=256, L=64.0)
    u0 = torch.randn(8, 256, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cpu = sim.rollout(u0, 100, 0.05, save_every=100)
    gpu = sim.rollout(u0.cuda(), 100, 0.05, save_every=100).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("stepper", ["cn_rk4", "ab2_cn", "etdrk4"])
def test_ns2d_on_gpu_matches_cpu(stepper):
    from sciml.sim import NavierStokes2D

    sim = NavierStokes2D(n=64, nu=1e-3, drag=0.1, forcing="kolmogorov", stepper=stepper)
    w0 = torch.randn(4, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cpu = sim.rollout(w0, 50, 1e-3, save_every=50)
    gpu = sim.rollout(w0.cuda(), 50, 1e-3, save_every=50).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-9, atol=1e-9)


def test_lorenz96_on_gpu_matches_cpu():
    from sciml.sim import TwoScaleLorenz96
    from sciml.sim.lorenz96 import random_state

    sim = TwoScaleLorenz96.from_preset("wilks2005")
    x = random_state(sim, (16,), torch.Generator().manual_seed(0))
    torch.testing.assert_close(sim.rollout(x.cuda(), 200, 1e-3).cpu(), sim.rollout(x, 200, 1e-3))


@pytest.mark.parametrize("name", ["fno", "unet"])
def test_solver_rollout_on_gpu_matches_cpu(name, monkeypatch):
    # cuDNN convolutions run in TF32 by default on Ampere and later (10-bit mantissa): compare in float32
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    model = build(get(name).config(), grid_context((256,))).eval()
    h = torch.randn(4, 1, 1, 256)
    cpu = model.rollout(h, 5)  # a call on the CPU first: moving the model afterwards must work (neuralop caches)
    gpu = model.cuda().rollout(h.cuda(), 5).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


def test_mamba_fused_scan_agrees_with_the_pure_one():
    pytest.importorskip("mamba_ssm", reason="the gpu extra (mamba-ssm) is not installed")
    from sciml.solvers.selective_scan import MambaBlock

    torch.manual_seed(0)
    pure = MambaBlock(64, scan="pure").cuda()
    fused = MambaBlock(64, scan="fused").cuda()
    fused.load_state_dict(pure.state_dict())
    x = torch.randn(4, 16, 64, device="cuda")
    # stated tolerance: float32 sums in a different order over 16 steps
    torch.testing.assert_close(fused(x), pure(x), rtol=1e-4, atol=1e-4)


def test_cape_rollout_on_gpu_matches_cpu(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    cfg = get("cape").config(base_options={"width": 20, "modes": 12}, multiplier=16)
    model = build(cfg, grid_context((128,), n_params=1)).eval()
    h, p = torch.randn(4, 1, 1, 128), torch.rand(4, 1)
    cpu = model.rollout(h, 5, p)
    gpu = model.cuda().rollout(h.cuda(), 5, p.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


def test_short_amp_training_on_gpu(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path, **{"trainer.device": "cuda", "trainer.amp": True,
                                                  "trainer.max_steps": 30, "run.evaluate": False}))
    fit(cfg)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 30
    assert state["scaler"]["scale"] > 0
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())



def _pinn_on_gpu(tmp_path, *args: str):
    run = fit(load_config([DEVICE_ARG, "sampler.points=256", "trainer.progress=lines",
                           f"run.dir={tmp_path / 'run'}", *args]))
    result = evaluate_run(run)["seeds"][0]
    errors = [float(r["val_relative_l2"]) for r in read_metrics(run) if r["val_relative_l2"]]
    state = load_checkpoint(run / "checkpoints" / "seed_0" / "last.pt")
    assert state["device_type"] == "cuda" and result["device"] == "cuda"
    assert all(torch.isfinite(torch.tensor(errors)))
    return result, errors, run


def test_pinn_learns_on_gpu(tmp_path):
    # on the CPU this config ends at 0.07-0.11 on seeds 0-4 (first evaluation 0.12-0.24)
    result, errors, _ = _pinn_on_gpu(tmp_path, "solver.name=pinn", "problem.name=convection", "problem.beta=1",
                                     "sampler.name=r3", "trainer.max_steps=600", "trainer.eval_every=300",
                                     "trainer.lr=3e-3")
    assert errors[-1] < errors[0] and result["final_error"] < 0.3


@pytest.mark.parametrize("args", [
    ("solver.name=pinn", "problem.name=allen_cahn", "sampler.name=causal_r3"),  # reference table made on the GPU
    ("solver.name=pinn", "problem.name=convection", "sampler.name=r3", "strategy.time_windows=2",
     "solver.hard_initial=true", "strategy.causal_epsilon=1.0"),
    ("solver.name=pig", "problem.name=helmholtz2d", "sampler.name=rad", "solver.gaussians=50",
     "trainer.lbfgs_steps=5", "trainer.lbfgs_points=300", "trainer.dtype=float64"),
    ("solver.name=pig", "problem.name=klein_gordon", "sampler.name=resampled", "solver.gaussians=50",
     "solver.rotation=true"),
])
def test_physics_informed_pieces_run_on_gpu(tmp_path, args):
    result, _, run = _pinn_on_gpu(tmp_path, *args, "trainer.max_steps=50", "trainer.eval_every=25")
    assert (run / "evaluation" / "solution_seed_0.png").stat().st_size > 1000
    if "trainer.lbfgs_steps=5" in args:
        assert result["lbfgs"].startswith("ran 5 of 5")


def test_pde_refiner_noise_is_seeded_on_gpu(tmp_path):
    torch.manual_seed(0)
    model = build(get("pde_refiner").config(), grid_context((256,), length=64.0, dt=0.8)).cuda().eval()
    window = torch.randn(4, 1, 1, 256, device="cuda")
    a, b, c = (model.rollout(window, 3, seed=s) for s in (1, 1, 2))
    assert a.is_cuda and torch.equal(a, b) and not torch.equal(a, c)
    batch = {"input": window, "target": torch.randn(4, 1, 1, 256, device="cuda")}
    assert model.validation_loss(batch)["loss"] == model.validation_loss(batch)["loss"]
    overrides = {k: v for k, v in (a.split("=", 1) for a in tiny_overrides(tmp_path)) if not k.startswith("solver.")}
    overrides.update({"solver.name": "pde_refiner", "solver.hidden": 16, "trainer.device": "cuda",
                      "trainer.max_steps": 20, "evaluate.samples": 2, "evaluate.rollout_steps": 10})
    run = fit(load_config([f"{k}={v}" for k, v in overrides.items()]))
    result = evaluate_run(run)
    assert result["uncertainty"]["samples"] == 2 and result["unstable"]["count"] == 0
