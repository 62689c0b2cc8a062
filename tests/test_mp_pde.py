"""The message-passing neural PDE solver: graphs, equivariance, bundles, point clouds, a smoke training."""

import math

import pytest
import torch

from sciml import solvers
from sciml.config import load_config
from sciml.solvers import SolverContext, grid_context
from sciml.solvers.graphs import batch_edges, knn_graph, nearest, periodic_difference, radius_graph
from sciml.tasks import fit
from sciml.tasks.trajectory.fit import unroll_plan
from sciml.training import read_metrics


def small(**overrides):
    cfg = solvers.get("mp_pde").config()
    cfg.time_window, cfg.hidden, cfg.layers = 5, 32, 2
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def test_the_periodic_grid_graph_has_three_neighbours_a_side_across_the_boundary():
    n, dx = 20, 0.8
    pos = (torch.arange(n, dtype=torch.float64) * dx)[:, None]
    edges = radius_graph(pos, 3 * dx + 1e-4, torch.tensor([n * dx]))
    assert edges.shape == (2, 6 * n)
    incoming = {i: sorted(edges[0, edges[1] == i].tolist()) for i in range(n)}
    assert all(len(v) == 6 for v in incoming.values())
    assert incoming[0] == [1, 2, 3, 17, 18, 19] and incoming[19] == [0, 1, 2, 16, 17, 18]
    offsets = periodic_difference(pos[edges[1]], pos[edges[0]], torch.tensor([n * dx]))
    assert offsets.abs().max() <= 3 * dx + 1e-12 and offsets.abs().min() >= dx - 1e-12
    batched = batch_edges(edges, 3, n)
    assert batched.shape == (2, 18 * n) and batched.max() == 3 * n - 1 and (batched[:, -1] >= 2 * n).all()


def test_a_knn_graph_on_a_periodic_2d_grid_joins_each_node_to_its_four_axis_neighbours():
    n = 6
    ij = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij"), -1).reshape(-1, 2).double()
    edges = knn_graph(ij, 4, torch.tensor([float(n), float(n)]))
    d = periodic_difference(ij[edges[1]], ij[edges[0]], torch.tensor([float(n), float(n)]))
    assert edges.shape == (2, 4 * n * n) and torch.allclose(d.norm(dim=-1), torch.ones(len(d), dtype=d.dtype))
    with pytest.raises(ValueError, match="k=40"):
        knn_graph(ij, 40)


def test_nearest_matches_a_brute_force_minimum_image_search():
    g = torch.Generator().manual_seed(0)
    points = torch.rand(2, 300, 2, generator=g, dtype=torch.float64)
    query = torch.rand(2, 40, 2, generator=g, dtype=torch.float64)
    lengths = torch.ones(2, dtype=torch.float64)
    index, distance = nearest(query, points, 5, lengths)
    brute = periodic_difference(query[:, :, None], points[:, None], lengths).norm(dim=-1)  # (2, 40, 300)
    expected = brute.topk(5, dim=-1, largest=False)
    torch.testing.assert_close(distance, expected.values)  # across the wrap-around too
    assert torch.equal(index.sort(-1).values, expected.indices.sort(-1).values)
    plain_index, plain = nearest(query[0], points[0], 3)
    torch.testing.assert_close(plain, torch.cdist(query[0], points[0]).topk(3, largest=False).values)


def test_the_solver_is_equivariant_to_a_permutation_of_the_nodes():
    """An irregular 1D point cloud: relabelling the points relabels the prediction, nothing else."""
    torch.manual_seed(0)
    x = torch.sort(torch.rand(24, dtype=torch.float64) * 16).values
    perm = torch.randperm(24)
    common = {"fields": ("u",), "spatial_shape": (24,), "history": 5, "dt": 0.1, "attrs": {"L": 16.0}}
    model = solvers.build(small(), SolverContext(coords=(tuple(x.tolist()),), **common))
    moved = solvers.build(small(), SolverContext(coords=(tuple(x[perm].tolist()),), **common))
    moved.load_state_dict(model.state_dict())
    assert model.graph == "knn"
    window = torch.randn(2, 5, 1, 24)
    time = torch.tensor([0.3, 0.7])
    torch.testing.assert_close(moved.advance(window[..., perm], time=time), model.advance(window, time=time)[..., perm],
                               rtol=1e-5, atol=1e-6)


def test_bundles_are_the_last_frame_plus_l_dt_times_the_decoded_slopes():
    model = solvers.build(small(), grid_context((16,), history=5, dt=0.25))
    with torch.no_grad():  # make the decoder output a constant slope 2 for every l
        for m in model.decoder:
            if isinstance(m, torch.nn.Conv1d):
                m.weight.zero_()
        model.decoder[-1].bias.fill_(2.0)
    window = torch.randn(3, 5, 1, 16)
    out = model.advance(window)
    expected = window[:, -1:] + 2.0 * 0.25 * torch.arange(1, 6).view(1, 5, 1, 1)
    torch.testing.assert_close(out, expected)
    assert model.rollout(window, 7).shape == (3, 7, 1, 16)  # two calls, the second truncated


def test_a_2d_grid_gets_a_knn_graph_and_gradients_reach_every_layer():
    model = solvers.build(small(k=8), grid_context((8, 8), channels=2, history=5, n_params=1))
    assert model.graph == "knn" and model.edge_index.shape == (2, 8 * 64)
    batch = {"input": torch.randn(2, 5, 2, 8, 8), "target": torch.randn(2, 5, 2, 8, 8), "params": torch.rand(2, 1),
             "time": torch.tensor([0.0, 1.0])}
    model.training_loss(batch, step=1)["mse"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_pushforward_draws_follow_the_epoch_as_mp_pde_does():
    cfg = load_config(["solver.name=mp_pde", "task.history=25", "task.horizon=3", "task.pushforward=2"])
    plan = unroll_plan(cfg, steps_per_epoch=100)  # pushforward_every = 0: one epoch per increase
    assert [plan.pushforward_range(s) for s in (1, 100, 101, 200, 201, 5000)] == [0, 0, 1, 1, 2, 2]


def test_the_history_must_be_the_time_window():
    with pytest.raises(ValueError, match="task.history = solver.time_window = 5"):
        solvers.build(small(), grid_context((16,), history=1))
    with pytest.raises(ValueError, match="too small to decode"):
        load_config(["solver.name=mp_pde", "solver.hidden=20"])


def test_a_smoke_training_on_the_combined_equation_reduces_the_loss(tmp_path):
    args = ["solver.name=mp_pde", "solver.time_window=5", "solver.hidden=32", "solver.layers=2",
            "dataset.name=mp_pde", "dataset.experiment=E2", "dataset.nx_fine=40", "dataset.nx=20", "dataset.nt=30",
            "dataset.n_train=8", "dataset.n_valid=2", "dataset.n_test=2", f"dataset.root={tmp_path / 'data'}",
            "task.history=5", "task.time_step=1", "task.params=[beta]", "trainer.max_steps=150",
            "trainer.batch_size=8", "trainer.lr=3e-3", "trainer.log_every=5", "trainer.eval_every=150",
            "trainer.progress=lines", "trainer.device=cpu", f"run.dir={tmp_path / 'run'}", "run.evaluate=false"]
    run = fit(load_config(args))
    rows = read_metrics(run)
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.5 * losses[0], losses
    assert math.isfinite(float(rows[-1]["val_loss"]))


def test_files_in_the_released_mp_pde_layout_feed_the_same_solver(tmp_path):
    """CE_*_E2.h5 with {split}/pde_{nt}-{nx} and x including the endpoint L, through dataset.name=files."""
    import shutil

    from formats_fixtures import mp_pde as released_file

    from sciml.evaluate import evaluate_run
    from sciml.training import load_checkpoint

    source = released_file(tmp_path)
    paths = {split: tmp_path / f"CE_{split}_E2.h5" for split in ("train", "valid", "test")}
    for path in paths.values():
        if path != source:
            shutil.copy(source, path)
    args = ["solver.name=mp_pde", "solver.time_window=5", "solver.hidden=32", "solver.layers=2",
            "dataset.name=files", *[f"dataset.{s}={p}" for s, p in paths.items()], "dataset.key=pde_20-16",
            "task.history=5", "task.time_step=1", "task.params=[alpha,beta,gamma]", "trainer.max_steps=10",
            "trainer.batch_size=4", "trainer.eval_every=10", "trainer.progress=lines", "trainer.device=cpu",
            f"run.dir={tmp_path / 'run'}", "run.evaluate=false"]
    run = fit(load_config(args))
    context = load_checkpoint(run / "checkpoints" / "last.pt")["context"]
    assert context["coords"] == [[float(i) for i in range(16)]] and context["attrs"]["L"] == 16.0
    assert context["param_names"] == ["alpha", "beta", "gamma"] and context["dt"] == 0.2  # the file's dt
    results = evaluate_run(run, ["evaluate.plots=false"], verbose=False)
    assert results["rollout_steps"] == 15 and results["accumulated_mse"] is not None
    with pytest.raises(ValueError, match="needs a path for each split"):
        load_config(["dataset.name=files", f"dataset.train={paths['train']}"])


def test_the_batched_graph_is_cached_per_batch_size_and_rebuilt_for_a_new_one():
    model = solvers.build(small(), grid_context((16,), history=5, dt=0.25))
    nodes, edges = 16, model.edge_index.shape[1]
    two = model._graph(2, torch.device("cpu"))
    assert model._graph(2, torch.device("cpu"))[0] is two[0]  # cached: the same tensors, not rebuilt
    three = model._graph(3, torch.device("cpu"))
    assert three[0].shape[1] == 3 * edges and two[0].shape[1] == 2 * edges
    # the third copy is the first shifted by two graphs' nodes
    torch.testing.assert_close(three[0][:, 2 * edges:], model.edge_index + 2 * nodes)
    assert three[2].tolist() == [i for i in range(3) for _ in range(nodes)]
    # a model step on a batch of 3 after one of 2 uses the graph of 3 (else its shapes would not fit)
    window = torch.randn(3, 5, 1, 16)
    assert model.advance(window[:2]).shape[0] == 2 and model.advance(window).shape[0] == 3
