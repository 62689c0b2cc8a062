"""Learned closures of two-scale Lorenz96: the MNO and the local MLP, their plumbing into the coarse model,
a-posteriori fine-tuning from an a-priori checkpoint, and the long-run statistics that score them."""

import math

import numpy as np
import pytest
import torch

from sciml.config import load_config
from sciml.data import open_dataset
from sciml.errors import ConfigError
from sciml.evaluate import evaluate_run
from sciml.metrics import autocorrelation, hellinger_distance, histogram_density, steps_below
from sciml.sim import Lorenz96, NavierStokes2D, TwoScaleLorenz96
from sciml.sim.lorenz96 import random_state
from sciml.solvers import ClosureTraining, SolverContext, build
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics

L96 = ["dataset.n_train=8", "dataset.n_valid=2", "dataset.n_test=4", "dataset.steps_train=100",
       "dataset.steps_eval=150", "trainer.batch_size=64", "trainer.warmup_steps=0", "trainer.progress=lines",
       "trainer.device=cpu", "trainer.optimizer=adam", "trainer.weight_decay=0", "task.name=closure"]


def _context(K: int = 8) -> SolverContext:
    return SolverContext(fields=("X", "coupling"), spatial_shape=(K,), dt=0.01,
                         attrs={"system": "lorenz96_two_scale", "K": K, "F": 20.0},
                         stats={"field_mean": [3.7, -3.8], "field_std": [5.0, 4.6]})


def test_a_zero_closure_leaves_the_coarse_models_unchanged():
    l96 = Lorenz96(K=8, F=20.0)
    x = random_state(l96, (3,), generator=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(l96.rollout(x, 50, 0.01, closure=torch.zeros_like), l96.rollout(x, 50, 0.01),
                               rtol=0, atol=0)
    ns = NavierStokes2D(n=16, nu=0.01, forcing="kolmogorov", k_f=2)
    w = torch.randn(2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ns.rollout(w, 10, 0.01, closure=torch.zeros_like), ns.rollout(w, 10, 0.01),
                               rtol=0, atol=0)


def test_stored_coupling_is_the_two_scale_models_missing_tendency(tmp_path):
    """dX/dt of the stored frames (a sixth-order central difference) minus the X-only right-hand side is the
    stored coupling: the a-priori target closes the coarse model's instantaneous tendency."""
    cfg = load_config(["experiments/mno_l96.yaml", "dataset.n_train=2", "dataset.n_valid=1",
                       "dataset.n_test=1", "dataset.steps_train=20", "dataset.steps_eval=20", "dataset.save_dt=0.001",
                       f"dataset.root={tmp_path}"])
    from sciml import recipes

    ds = open_dataset(recipes.ensure_dataset(cfg.dataset, progress=False)["train"])
    X = torch.as_tensor(ds.X.values, dtype=torch.float64)
    h = float(ds.attrs["dt"])
    c = (1 / 60, -3 / 20, 3 / 4)
    dXdt = sum(ck * (X[:, 3 + k: X.shape[1] - 3 + k] - X[:, 3 - k: X.shape[1] - 3 - k])
               for k, ck in zip((1, 2, 3), c[::-1], strict=True)) / h  # d/dt at frames 3 .. T-4
    coarse = Lorenz96(K=int(ds.attrs["K"]), F=float(ds.attrs["F"]))
    residual = dXdt - coarse.rhs(X[:, 3:-3])
    coupling = torch.as_tensor(ds.coupling.values[:, 3:-3], dtype=torch.float64)
    assert float((residual - coupling).abs().max()) < 2e-3 * float(coupling.abs().max())  # float32 storage
    assert float(coupling.std()) > 1.0


def test_the_mno_is_translation_equivariant_and_runs_at_any_grid_size():
    torch.manual_seed(0)
    mno = build(load_config(["solver.name=mno", "task.name=closure", "task.target=coupling"]).solver, _context())
    x = 5 * torch.randn(4, 8)
    torch.testing.assert_close(mno.closure(torch.roll(x, 3, -1)), torch.roll(mno.closure(x), 3, -1))
    assert mno.closure(5 * torch.randn(2, 64)).shape == (2, 64)  # the same operator on a larger ring
    with pytest.raises(ValueError, match="exceeds the grid's 5 modes"):
        build(load_config(["solver.name=mno", "solver.modes=6", "task.name=closure", "task.target=coupling"]).solver,
              _context())


def test_the_local_mlp_sees_only_its_stencil():
    torch.manual_seed(0)
    cfg = load_config(["solver.name=local_mlp", "solver.stencil=1", "task.name=closure", "task.target=coupling"])
    mlp = build(cfg.solver, _context(16))
    x = torch.randn(1, 16)
    y = x.clone()
    y[0, 8] += 1.0
    changed = (mlp.closure(y) - mlp.closure(x)).abs()[0] > 0
    assert changed.nonzero().flatten().tolist() == [7, 8, 9]


def test_gradients_through_a_checkpointed_coupled_rollout_equal_the_plain_ones():
    torch.manual_seed(0)
    mno = build(load_config(["solver.name=mno", "solver.width=8", "task.name=closure", "task.target=coupling"]).solver,
                _context())  # float32 weights (neuraloperator keeps complex ones), float64 state
    l96 = Lorenz96(K=8, F=20.0)
    x = random_state(l96, (2,), generator=torch.Generator().manual_seed(0)).double()

    def grads(**kwargs):
        mno.zero_grad()
        l96.rollout(x, 12, 0.01, closure=mno.closure, **kwargs)[..., -1, :].pow(2).sum().backward()
        return [p.grad.clone() for p in mno.parameters()]

    for plain, segmented in zip(grads(), grads(checkpoint_every=5), strict=True):
        torch.testing.assert_close(segmented, plain, rtol=1e-6, atol=1e-9)


def test_mno_and_local_mlp_learn_the_coupling_a_priori(tmp_path):
    losses = {}
    for name in ("mno", "local_mlp"):
        run = fit(load_config([*L96, f"solver.name={name}", "task.target=coupling", "trainer.max_steps=150",
                               "trainer.lr=3e-3", "trainer.log_every=10", "trainer.eval_every=150",
                               f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / name}"]))
        rows = read_metrics(run)
        losses[name] = (float(rows[0]["loss"]), float(rows[-1]["val_loss"]))
    for name, (first, last) in losses.items():
        # normalised, predicting the mean scores 1: both explain over 75 % of the coupling's variance
        assert last < 0.25 and last < 0.6 * first, (name, first, last)


def test_a_posteriori_fine_tuning_starts_from_the_a_priori_weights(tmp_path):
    base = [*L96, "solver.name=mno", "solver.width=16", f"dataset.root={tmp_path / 'data'}"]
    prior = fit(load_config([*base, "task.target=coupling", "trainer.max_steps=60", "trainer.lr=3e-3",
                             "trainer.eval_every=60", f"run.dir={tmp_path / 'prior'}"]))
    post_args = [*base, "task.mode=a_posteriori", "task.horizon=6", "task.horizon_start=2", "task.checkpoint_every=3",
                 "trainer.max_steps=30", "trainer.lr=1e-3", "trainer.log_every=1", "trainer.eval_every=30",
                 f"run.dir={tmp_path / 'post'}"]
    post = fit(load_config([*post_args, f"trainer.init_from={prior / 'checkpoints' / 'best.pt'}"]))
    fresh = fit(load_config([*post_args, f"run.dir={tmp_path / 'fresh'}"]))
    tuned, scratch = read_metrics(post), read_metrics(fresh)
    assert "loss_a_posteriori" in tuned[0]
    # the a-priori closure already tracks the trajectory: its first a-posteriori loss is far below a fresh one's
    assert float(tuned[0]["loss"]) < 0.3 * float(scratch[0]["loss"])
    state = load_checkpoint(post / "checkpoints" / "last.pt")
    assert state["model"]["target_std"] == pytest.approx(4.6, abs=0.5)  # the normalisation came along
    with pytest.raises(ConfigError, match="do not fit this solver"):
        fit(load_config([*post_args, "solver.width=8", f"run.dir={tmp_path / 'bad'}",
                         f"trainer.init_from={prior / 'checkpoints' / 'best.pt'}"]))


def test_a_pure_ml_emulator_reads_only_the_chosen_variables(tmp_path):
    run = fit(load_config(["experiments/fno_l96.yaml", *L96[:-1], "task.name=trajectory", "trainer.max_steps=20",
                           "trainer.eval_every=20", f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'fno'}",
                           "evaluate.plots=false"]))
    assert load_checkpoint(run / "checkpoints" / "best.pt")["context"]["fields"] == ["X"]
    results = evaluate_run(run, ["evaluate.rollout_steps=10"], verbose=False)
    assert len(results["per_step"]["mse"]) == 10


def test_long_run_statistics_against_analytic_values():
    phi, n = 0.9, 20000
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(8, n, generator=g, dtype=torch.float64)
    x = torch.zeros(8, n, dtype=torch.float64)
    for t in range(1, n):  # AR(1): autocorrelation phi^lag
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    acf = autocorrelation(x.unsqueeze(-1), 5)
    np.testing.assert_allclose(acf.numpy(), phi ** np.arange(6), atol=0.02)
    edges = torch.linspace(-4, 4, 81, dtype=torch.float64)
    z = torch.randn(200000, generator=g, dtype=torch.float64)
    p = histogram_density(z, edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_allclose(p.numpy(), (torch.exp(-centres**2 / 2) / math.sqrt(2 * math.pi)).numpy(), atol=0.01)
    # two unit Gaussians 1 apart: Hellinger^2 = 1 - exp(-1/8)
    q = histogram_density(z + 1, edges)
    assert hellinger_distance(p, q, edges) == pytest.approx(math.sqrt(1 - math.exp(-1 / 8)), abs=0.01)
    assert hellinger_distance(p, p, edges) == 0.0
    assert steps_below(torch.tensor([0.1, 0.5, 1.2, 0.9]), 1.0) == (2, True)
    assert steps_below(torch.tensor([0.1, 0.5]), 1.0) == (2, False)
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(x[:, :3].unsqueeze(-1), 5)


def test_closure_training_plan_passes_checkpointing_to_the_simulator():
    plan = ClosureTraining(mode="a_posteriori", horizon=4, checkpoint_every=2, total_steps=10)
    assert plan.checkpoint_every == 2
    with pytest.raises(ConfigError, match="a-posteriori training only"):
        load_config(["solver.name=mno", "task.name=closure", "task.target=coupling", "task.checkpoint_every=2"])
    sim = TwoScaleLorenz96.from_preset("wilks2005")
    with pytest.raises(ValueError, match="checkpoint_every >= 0"):
        sim.rollout(random_state(sim, (1,)), 2, 0.001, checkpoint_every=-1)


def _ns_context(n: int = 16) -> SolverContext:
    return SolverContext(fields=("vorticity", "subgrid"), spatial_shape=(n, n), dt=0.1,
                         attrs={"system": "navier_stokes_2d", "param_L": 2 * math.pi, "nu": 0.01, "drag": 0.1,
                                "beta": 0.0, "param_forcing": "kolmogorov", "param_k_f": 2,
                                "param_forcing_amplitude": 1.0, "param_stepper": "cn_rk4"},
                         stats={"field_mean": [0.0, 0.0], "field_std": [2.0, 0.5]})


def test_cnn_closure_is_periodic_and_its_gradients_survive_checkpointed_les_rollouts():
    torch.manual_seed(0)
    cfg = load_config(["solver.name=cnn_closure", "solver.width=4", "solver.layers=3", "task.name=closure",
                       "task.target=subgrid"]).solver
    cnn = build(cfg, _ns_context())
    w = torch.randn(2, 16, 16)
    torch.testing.assert_close(cnn.closure(torch.roll(w, (3, -5), (-2, -1))),
                               torch.roll(cnn.closure(w), (3, -5), (-2, -1)))
    les = cnn.simulator
    assert isinstance(les, NavierStokes2D) and les.n == 16 and les.nu == 0.01

    def grads(**kwargs):
        cnn.zero_grad()
        les.rollout(w.double(), 9, 0.02, closure=cnn.closure, **kwargs)[..., -1, :, :].pow(2).sum().backward()
        return [p.grad.clone() for p in cnn.parameters()]

    for plain, segmented in zip(grads(), grads(checkpoint_every=4), strict=True):
        assert plain.abs().sum() > 0
        torch.testing.assert_close(segmented, plain, rtol=1e-5, atol=1e-8)


def test_the_spectrum_loss_compares_the_resolved_band_only():
    from sciml.solvers.closure import band_spectrum_loss

    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, 32, 32, generator=g, dtype=torch.float64)
    assert float(band_spectrum_loss(w, w, 2)) == 0.0
    # doubling the field multiplies every shell's spectrum by 4: (ln 4)^2 on every compared shell
    assert float(band_spectrum_loss(2 * w, w, 2)) == pytest.approx(math.log(4) ** 2)
    # modes above n / 3 (where the LES holds nothing) do not count
    high = torch.fft.irfft2(torch.fft.rfft2(w) * (torch.fft.rfftfreq(32, 1 / 32) > 12), s=(32, 32))
    assert float(band_spectrum_loss(w - high, w, 2)) < 1e-20
    assert float(band_spectrum_loss(w - high, w, 2)) < float(band_spectrum_loss(0.9 * w, w, 2))


def test_cnn_closure_trains_on_a_les_a_priori_then_a_posteriori_with_the_spectrum_term(tmp_path):
    data = ["dataset.name=kolmogorov2d", "dataset.subgrid=true", "dataset.n_dns=32", "dataset.n=16",
            "dataset.nu=0.01", "dataset.n_train=4", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=20",
            "dataset.steps_eval=10", "dataset.burn_in=1.0", "dataset.dt=0.01", "dataset.save_dt=0.05",
            f"dataset.root={tmp_path / 'data'}"]
    common = [*data, "solver.name=cnn_closure", "solver.width=8", "solver.layers=3", "solver.kernel=3",
              "task.name=closure", "task.state=vorticity", "task.substeps=2", "trainer.warmup_steps=0",
              "trainer.progress=lines", "trainer.device=cpu", "trainer.optimizer=adam", "trainer.weight_decay=0",
              "trainer.batch_size=16"]
    prior = fit(load_config([*common, "task.target=subgrid", "trainer.max_steps=80", "trainer.lr=3e-3",
                             "trainer.log_every=10", "trainer.eval_every=80", f"run.dir={tmp_path / 'prior'}"]))
    rows = read_metrics(prior)
    assert float(rows[-1]["loss"]) < 0.7 * float(rows[0]["loss"])
    post = fit(load_config([*common, "task.mode=a_posteriori", "task.horizon=2", "task.spectrum_weight=0.1",
                            "task.checkpoint_every=2", "trainer.batch_size=4", "trainer.max_steps=6",
                            "trainer.lr=1e-4", "trainer.log_every=3", "trainer.eval_every=6",
                            f"trainer.init_from={prior / 'checkpoints' / 'best.pt'}", f"run.dir={tmp_path / 'post'}"]))
    row = read_metrics(post)[-1]
    assert float(row["loss_spectrum"]) > 0 and float(row["loss_a_posteriori"]) > 0
    assert math.isfinite(float(row["val_loss"]))
