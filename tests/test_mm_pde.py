"""MM-PDE (``mm_pde``): the learnable interpolation (starts as inverse-distance weights, keeps constants,
learns round trips), the residual cut (the untrained model is its uniform branch), the frozen mover's meshes,
and a short training through the shared trainer; the 2D Burgers recipe."""

import numpy as np
import pytest
import torch

from sciml import solvers
from sciml.config import ConfigError, load_config
from sciml.recipes.burgers2d import Burgers2DConfig, burgers2d_simulate, validate_burgers2d
from sciml.solvers import grid_context
from sciml.solvers.mesh_mover import MeshMover, MeshMoverConfig
from sciml.solvers.mm_pde import MMPDE, LearnedInterpolation, MMPDEConfig, load_mover
from sciml.solvers.mp_pde import process
from sciml.training.checkpoint import FORMAT_VERSION


def _mover_file(tmp_path, channels: int = 2, trained_front: bool = True):
    """A mover checkpoint as the mesh task writes it (its weights nudged so that meshes move)."""
    torch.manual_seed(0)
    cfg = MeshMoverConfig(hidden=16, latent=8, encoder_channels=4)
    mover = MeshMover(cfg, channels, 2)
    if trained_front:
        torch.nn.init.normal_(mover.net.mlp[-1].weight, std=0.05)
    path = tmp_path / "mover.pt"
    torch.save({"format_version": FORMAT_VERSION, "model": mover.state_dict(), "config": {"solver": vars(cfg)},
                "channels": channels, "dim": 2, "step": 1}, path)
    return path


def _model(tmp_path, n: int = 12, **overrides) -> MMPDE:
    settings = {"hidden": 32, "layers": 2, "k": 6, "interpolation_neighbours": 6, "pretrain_steps": 0} | overrides
    cfg = MMPDEConfig(mover=str(_mover_file(tmp_path)), **settings)
    torch.manual_seed(1)
    return solvers.build(cfg, grid_context((n, n), channels=2, history=1, dt=0.1))


def test_interpolation_starts_as_inverse_distance_weights_and_keeps_constants():
    g = torch.Generator().manual_seed(0)
    source = torch.rand(1, 200, 2, generator=g, dtype=torch.float64)
    target = torch.rand(1, 50, 2, generator=g, dtype=torch.float64)
    itp = LearnedInterpolation(2, 6, 16).double()
    lengths = torch.ones(2, dtype=torch.float64)
    constant = torch.full((1, 200, 3), 2.5, dtype=torch.float64)
    torch.testing.assert_close(itp(constant, source, target, 0.1, lengths), torch.full((1, 50, 3), 2.5,
                                                                                          dtype=torch.float64))
    values = torch.randn(1, 200, 1, generator=g, dtype=torch.float64)
    on_nodes = itp(values, source, source, 0.1, lengths)  # a node's own value dominates (distance 0)
    assert float((on_nodes - values).detach().abs().max()) < 0.05 * float(values.abs().max())


def test_the_untrained_model_is_its_uniform_branch(tmp_path):
    model = _model(tmp_path)
    for p in model.moving_branch.parameters():
        torch.nn.init.normal_(p)  # whatever the moving branch says, the cut starts closed
    window = torch.randn(3, 1, 2, 12, 12)
    frames, _ = model.advance_with_loss(window, None, None)
    nodes = 144
    u = window.reshape(3, 1, 2, nodes).permute(0, 3, 1, 2).reshape(3 * nodes, 2)
    edges = torch.cat([model.edge_index + i * nodes for i in range(3)], 1)
    pos = model.positions.repeat(3, 1)
    from sciml.solvers.graphs import periodic_difference
    relative = periodic_difference(pos[edges[1]], pos[edges[0]], torch.ones(2))
    batch = torch.arange(3).repeat_interleave(nodes)
    slopes = process(model.uniform_branch, u, pos, torch.zeros(3 * nodes), torch.zeros(3 * nodes, 0), edges,
                     relative, batch, 3)
    expected = (u + 0.1 * slopes[..., 0]).reshape(3, nodes, 2).permute(0, 2, 1).reshape(3, 1, 2, 12, 12)
    torch.testing.assert_close(frames, expected, rtol=1e-5, atol=1e-6)


def test_moved_nodes_come_from_the_frozen_mover_and_stay_in_the_square(tmp_path):
    model = _model(tmp_path)
    s = torch.linspace(0, 1, 13)[:-1]
    front = torch.tanh((s[:, None] - 0.5) / 0.05).expand(12, 12)
    frame = torch.stack([front, 0 * front])[None]
    nodes = model.moved_nodes(frame)
    assert nodes.shape == (1, 144, 2) and float(nodes.min()) >= 0 and float(nodes.max()) < 1
    assert float((nodes - model.positions).abs().max()) > 1e-3  # the mesh moved
    assert not any(p.requires_grad for p in model.mover.parameters())
    loss = model.advance_with_loss(torch.randn(2, 1, 2, 12, 12), torch.randn(2, 1, 2, 12, 12), None)[1]
    sum(loss.values()).backward()
    assert all(p.grad is None for p in model.mover.parameters())


def test_round_trip_pretraining_reduces_the_interpolation_error(tmp_path):
    model = _model(tmp_path, pretrain_steps=100)
    model.train()
    s = torch.arange(12) / 12
    waves = torch.stack([torch.sin(2 * torch.pi * (k * s[:, None] + s[None, :])) for k in (1, 2, 3)])
    window = torch.stack([waves[:2], waves[1:]])[:, None]  # (2, 1, 2, 12, 12)
    batch = {"input": window, "target": window}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    history = []
    for step in range(1, 41):
        terms = model.training_loss(batch, step)
        assert set(terms) == {"roundtrip"}  # only the interpolators train during pre-training
        opt.zero_grad()
        sum(terms.values()).backward()
        opt.step()
        history.append(float(terms["roundtrip"].detach()))
    assert history[-1] < 0.7 * history[0]


def test_mover_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_mover(tmp_path / "missing")
    cfg = MMPDEConfig(mover=str(_mover_file(tmp_path, channels=1)), hidden=32, layers=2)
    with pytest.raises(ConfigError, match="1 fields"):
        solvers.build(cfg, grid_context((8, 8), channels=2, history=1))
    with pytest.raises(ConfigError, match="solver.mover is empty"):
        load_config(["solver.name=mm_pde", "dataset.name=burgers2d", "solver.mover=''"])


def test_burgers2d_recipe_keeps_energy_bounded_and_subsamples_the_fine_grid():
    cfg = Burgers2DConfig(n=16, n_sim=32, n_train=2, steps_train=4, substeps=5, max_wavenumber=2, n_sines=3)
    validate_burgers2d(cfg)
    out = burgers2d_simulate(cfg, "train", 0, 2)
    assert out["u"].shape == out["v"].shape == (2, 5, 16, 16) and np.isfinite(out["u"]).all()
    speed = np.sqrt(out["u"] ** 2 + out["v"] ** 2).max(axis=(-2, -1))
    assert np.allclose(speed[:, 0], cfg.amplitude, rtol=0.05)  # the largest initial speed, seen on every 2nd node
    energy = (out["u"] ** 2 + out["v"] ** 2).mean(axis=(-2, -1))
    assert (np.diff(energy, axis=1) < 0).all()  # viscous Burgers only loses energy
    with pytest.raises(ConfigError, match="multiple"):
        validate_burgers2d(Burgers2DConfig(n=48, n_sim=200))


def test_mm_pde_trains_and_evaluates_through_the_trajectory_task(tmp_path):
    from pathlib import Path

    from sciml.tasks import evaluate, fit

    root = Path(__file__).resolve().parents[1]
    args = [str(root / "experiments/mm_pde_burgers2d.yaml"), f"solver.mover={_mover_file(tmp_path)}",
            f"dataset.root={tmp_path / 'data'}", "dataset.n=16", "dataset.n_sim=32", "dataset.n_train=2",
            "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=3", "dataset.steps_eval=3",
            "dataset.max_wavenumber=2", "solver.hidden=32", "solver.layers=2", "solver.k=6",
            "solver.interpolation_neighbours=4", "solver.pretrain_steps=2", "trainer.max_steps=4",
            "trainer.batch_size=2", "trainer.eval_every=2", "trainer.checkpoint_every=2", "trainer.log_every=1",
            "trainer.threads=1", "trainer.progress=lines", "evaluate.plots=false", f"run.dir={tmp_path / 'run'}"]
    cfg = load_config(args)
    run = fit(cfg)
    rows = (run / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    first, last = dict(zip(header, rows[1].split(","), strict=True)), dict(zip(header, rows[-1].split(","),
                                                                                strict=True))
    assert first["loss_roundtrip"] and not first["loss_mse"]  # pre-training: the interpolators alone
    assert last["loss_mse"] and last["loss_roundtrip"]
    results = evaluate(cfg, run)
    assert np.isfinite(results["accumulated_mse"]) and results["rollout_steps"] == 3
