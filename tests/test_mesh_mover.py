"""The mesh mover (``mesh_mover``) and the ``mesh`` task: the identity on constant solutions, boundary nodes on
their faces, the eigenvalue penalty catching folds the diagonal one misses, short trainings that reduce the
Monge–Ampère residual and concentrate nodes at a front (1D and 2D), the task end to end with exact resume."""

import json
from pathlib import Path

import pytest
import torch

from sciml.config import ConfigError, load_config
from sciml.mesh import uniform_mesh
from sciml.mesh.monge_ampere import convexity_violation
from sciml.solvers.mesh_mover import MeshMover, MeshMoverConfig, mesh_quality
from sciml.tasks import evaluate, fit
from sciml.tasks.mesh import interpolation_errors
from sciml.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _mover(dim: int = 2, seed: int = 0, **overrides) -> MeshMover:
    torch.manual_seed(seed)
    cfg = MeshMoverConfig(interior_points=256, boundary_points=16, **overrides)
    return MeshMover(cfg, channels=1, dim=dim, generator=torch.Generator().manual_seed(seed)).double()


def _train(mover: MeshMover, solutions: torch.Tensor, steps: int, lr: float = 3e-3) -> list[float]:
    opt = torch.optim.Adam(mover.parameters(), lr=lr)
    history = []
    for step in range(steps):
        terms = mover.training_loss(solutions, step + 1)
        opt.zero_grad()
        sum(terms.values()).backward()
        opt.step()
        history.append(float(terms["monge_ampere"].detach()))
    return history


def _fronts(dim: int, n: int = 33, width: float = 0.05) -> torch.Tensor:
    s = torch.linspace(0, 1, n, dtype=torch.float64)
    centres = torch.tensor([0.35, 0.5, 0.65], dtype=torch.float64)
    if dim == 1:
        return torch.tanh((s - centres[:, None]) / width)[:, None]
    return torch.tanh((s[:, None] - centres[:, None, None]) / width).expand(3, n, n)[:, None].contiguous()


def test_a_constant_solution_keeps_the_uniform_mesh():
    """The untrained mover is the identity; on constant solutions (M = 1) the identity is a stationary point of
    every loss term, so training keeps it (``test_monge_ampere`` shows a potential started elsewhere pulled back)."""
    for hard_boundary in (True, False):
        mover = _mover(hard_boundary=hard_boundary)
        constant = torch.full((2, 1, 17, 17), 0.7, dtype=torch.float64)  # 0.7: its differences round, not 0
        assert float(mover.monitor(constant).max()) == 1.0
        assert torch.equal(mover.mesh(constant, 17), uniform_mesh(17).expand(2, 17, 17, 2))
        terms = mover.training_loss(constant, 1)
        assert max(float(v.detach()) for v in terms.values()) < 1e-30
        sum(terms.values()).backward()
        assert max(float(p.grad.abs().max()) for p in mover.parameters() if p.grad is not None) < 1e-14


@pytest.mark.parametrize("dim", [1, 2])
def test_hard_boundary_keeps_boundary_nodes_on_their_faces(dim):
    mover = _mover(dim, scale=1.0)
    torch.nn.init.normal_(mover.net.mlp[-1].weight)  # large displacements inside
    x = mover.mesh(_fronts(dim), 21)
    quality = mesh_quality(mover, _fronts(dim), 21)
    assert float((x - uniform_mesh(21, torch.float64, dim)).abs().max()) > 1e-3
    assert float(quality["boundary_drift"].max()) < 1e-12
    terms = mover.training_loss(_fronts(dim), 1)
    assert float(terms["boundary"]) < 1e-20


def test_the_eigenvalue_penalty_catches_folds_the_diagonal_one_misses():
    saddle = torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=torch.float64)  # I + H has eigenvalues 3 and -1
    assert float(convexity_violation(saddle, "diagonal")) == 0.0
    assert float(convexity_violation(saddle, "eigenvalue")) == pytest.approx(1.0, abs=1e-6)
    stretched = torch.diag(torch.tensor([0.5, -0.5], dtype=torch.float64))  # convex, smallest eigenvalue 0.5
    assert float(convexity_violation(stretched, "eigenvalue", margin=0.05)) == 0.0
    assert float(convexity_violation(stretched, "eigenvalue", margin=0.6)) == pytest.approx(0.1)


@pytest.mark.parametrize("dim", [1, 2])
def test_a_short_training_moves_nodes_to_the_front_without_folding(dim):
    fronts = _fronts(dim)[1:2]  # one front: the equations and the network, not generalisation (the task's runs)
    mover = _mover(dim, seed=1, alpha=10.0)
    history = _train(mover, fronts, 200)
    assert sum(history[-20:]) / 20 < 0.5 * sum(history[:20]) / 20
    quality = mesh_quality(mover, fronts, 33)
    assert int(quality["inverted_cells"].sum()) == 0 and float(quality["min_jacobian"].min()) > 0
    assert float(quality["equidistribution_ratio"].max()) < 0.8
    coarse = mover.mesh(fronts, 12)
    for i in range(len(fronts)):
        moved = interpolation_errors(fronts[i], coarse[i])
        uniform = interpolation_errors(fronts[i], uniform_mesh(12, torch.float64, dim))
        assert moved < uniform


def test_interpolation_error_of_a_linear_function_is_zero_on_a_moved_mesh():
    s = torch.linspace(0, 1, 25, dtype=torch.float64)
    linear = (0.3 + 2 * s[:, None] - s[None, :])[None]
    mesh = uniform_mesh(9) + 0.03 * torch.sin(torch.pi * uniform_mesh(9)).prod(-1, keepdim=True)
    assert interpolation_errors(linear, mesh) < 1e-12
    assert interpolation_errors(linear, uniform_mesh(9)) < 1e-12


TINY = ["dataset.n=24", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=3",
        "dataset.steps_eval=3", "solver.interior_points=128", "solver.boundary_points=8", "solver.hidden=16",
        "solver.latent=8", "solver.encoder_channels=4", "trainer.batch_size=2", "trainer.log_every=2",
        "trainer.eval_every=4", "trainer.checkpoint_every=4", "trainer.threads=1", "evaluate.mesh_size=8",
        "evaluate.frames=2", "trainer.progress=lines", "trainer.schedule=constant"]  # lr independent of max_steps


def test_the_mesh_task_trains_evaluates_and_resumes_exactly(tmp_path):
    base = [str(ROOT / "experiments/mesh_mover_flow_mixing.yaml"), *TINY, f"dataset.root={tmp_path / 'data'}"]
    straight = fit(load_config([*base, "trainer.max_steps=8", f"run.dir={tmp_path / 'straight'}"]))
    fit(load_config([*base, "trainer.max_steps=4", f"run.dir={tmp_path / 'split'}"]))
    split = fit(load_config([*base, "trainer.max_steps=8", f"run.dir={tmp_path / 'split'}"]))
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt")["model"] for run in (straight, split))
    assert all(torch.equal(a[k], b[k]) for k in a if torch.is_tensor(a[k]))
    assert torch.equal(a["_extra_state"]["generator"], b["_extra_state"]["generator"])  # the sampler's draws too
    results = evaluate(load_config([*base, "trainer.max_steps=8", f"run.dir={straight}"]), straight)
    saved = json.loads((straight / "evaluation" / "results.json").read_text())
    assert saved["solutions"] == results["solutions"] == 4  # one test trajectory, four frames
    assert {"inverted_cells", "interpolation_ratio_median", "equidistribution_ratio_mean"} <= set(saved["summary"])
    assert (straight / "evaluation" / "moving_mesh.png").is_file()


@pytest.mark.parametrize(("override", "needle"), [
    ("solver.convexity=trace", "solver.convexity"),
    ("solver.weights={monge_ampere: 1.0, smoothness: 1.0}", "smoothness"),
    ("trainer.amp=true", "second derivatives"),
    ("evaluate.mesh_size=2", "evaluate.mesh_size"),
])
def test_bad_mesh_configs_name_the_problem(override, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config([str(ROOT / "experiments/mesh_mover_flow_mixing.yaml"), override])
