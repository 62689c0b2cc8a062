"""The data-free mesh mover's equations: autograd Hessians and determinants, the identity on a constant solution,
boundary nodes on their edges, monitor-weighted sampling, and short fits that reduce the Monge–Ampère residual."""

import pytest
import torch
from torch import nn

from sciml.mesh import uniform_mesh
from sciml.mesh.monge_ampere import (
    boundary_points,
    mesh_and_hessian,
    monge_ampere_terms,
    monitor,
    sample_interior,
)


def _phi(p: torch.Tensor) -> torch.Tensor:
    return 0.01 * torch.sin(2 * torch.pi * p[:, 0]) * torch.cos(torch.pi * p[:, 1]) + 0.02 * p[:, 0] ** 2 * p[:, 1]


def test_mesh_and_hessian_by_autograd_against_finite_differences():
    pts = torch.rand(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x, hess = mesh_and_hessian(_phi, pts)
    h = 1e-4
    eye = torch.eye(2, dtype=torch.float64)

    def grad_fd(p):
        return torch.stack([(_phi(p + h * eye[k]) - _phi(p - h * eye[k])) / (2 * h) for k in range(2)], -1)

    torch.testing.assert_close(x - pts, grad_fd(pts), rtol=0, atol=1e-7)
    hess_fd = torch.stack([(grad_fd(pts + h * eye[k]) - grad_fd(pts - h * eye[k])) / (2 * h) for k in range(2)], 1)
    torch.testing.assert_close(hess, hess_fd, rtol=0, atol=1e-6)


class _Potential(nn.Module):
    def __init__(self, width: int = 32, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1)).double()

    def forward(self, p):
        return self.net(p).squeeze(-1)


def _fit(phi: nn.Module, field: torch.Tensor, steps: int, lr: float = 3e-3) -> list[float]:
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(phi.parameters(), lr=lr)
    boundary = boundary_points(32)
    history = []
    for _ in range(steps):
        terms = monge_ampere_terms(phi, field, sample_interior(field, 512, g), boundary)
        loss = terms["monge_ampere"] + 1000 * terms["boundary"] + terms["convexity"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(terms["monge_ampere"]))
    return history


def _mesh(phi: nn.Module, n: int = 17) -> torch.Tensor:
    xi = uniform_mesh(n).reshape(-1, 2)
    x, _ = mesh_and_hessian(phi, xi)
    return x.detach().reshape(n, n, 2)


def test_a_constant_solution_keeps_the_uniform_mesh():
    field = monitor(torch.full((33, 33), 2.5, dtype=torch.float64))
    assert bool((field == 1).all())
    terms = monge_ampere_terms(lambda p: torch.zeros(len(p), dtype=p.dtype) + 0 * p.sum(-1), field,
                               torch.rand(64, 2, dtype=torch.float64), boundary_points(8))
    assert all(float(v.detach()) < 1e-20 for v in terms.values())  # phi = 0 solves it (up to rounding)
    phi = _Potential()
    start = (_mesh(phi) - uniform_mesh(17)).abs().max()
    _fit(phi, field, 300)
    end = (_mesh(phi) - uniform_mesh(17)).abs().max()
    assert float(end) < 0.2 * float(start)  # x -> xi


def test_boundary_term_vanishes_only_for_edge_preserving_potentials():
    edges = boundary_points(16)
    field = torch.ones(9, 9, dtype=torch.float64)
    inside = torch.rand(8, 2, dtype=torch.float64)
    keeps = monge_ampere_terms(lambda p: 0.02 * torch.cos(torch.pi * p[:, 0]) * torch.cos(torch.pi * p[:, 1]),
                               field, inside, edges)["boundary"]
    shifts = monge_ampere_terms(lambda p: 0.02 * p[:, 0], field, inside, edges)["boundary"]
    assert float(keeps) < 1e-30 and float(shifts) == pytest.approx(0.5 * 0.02**2)


def test_interior_points_follow_the_monitor():
    field = torch.ones(21, 21, dtype=torch.float64)
    field[:, 10:] = 9.0  # nine times the density on the right half
    pts = sample_interior(field, 20000, torch.Generator().manual_seed(0))
    right = float((pts[:, 1] > 0.5 + 1 / 40).float().mean())
    left = float((pts[:, 1] < 0.5 - 1 / 40).float().mean())
    assert 7 < right / left < 11


def test_a_short_fit_to_a_front_reduces_the_residual():
    s = torch.linspace(0, 1, 33, dtype=torch.float64)
    u = torch.tanh((s[:, None] - 0.5) / 0.05).expand(33, 33)
    field = monitor(u, alpha=5.0)
    assert float(field.max()) > 5 and float(field.min()) == pytest.approx(1.0, abs=1e-3)
    history = _fit(_Potential(seed=2), field, 400)
    assert sum(history[-20:]) / 20 < 0.5 * sum(history[:20]) / 20
