"""2D viscous Burgers: Cole–Hopf solution, spectral convergence in space, fourth order in time, batching,
closures and gradients."""

import math

import pytest
import torch

from sciml.sim import Burgers2D
from sciml.sim.burgers2d import cole_hopf_solution


def _error(n: int, dt: float, nu: float = 0.1, t_end: float = 1.0) -> float:
    sim = Burgers2D(n=n, nu=nu)
    x, y = sim.grid
    u = sim.rollout(cole_hopf_solution(x, y, 0.0, nu)[None], round(t_end / dt), dt)[0, -1]
    exact = cole_hopf_solution(x, y, t_end, nu)
    return float((u - exact).abs().max() / exact.abs().max())


def test_matches_the_cole_hopf_solution():
    assert _error(64, 0.025) < 1e-8


def test_converges_spectrally_in_space_and_at_fourth_order_in_time():
    coarse, fine = _error(16, 0.025), _error(32, 0.025)
    assert fine < coarse / 100  # exponential: 3e-3 -> 1e-5
    order = math.log2(_error(64, 0.1) / _error(64, 0.05))
    assert order > 3.7


def test_batches_dtypes_and_shapes():
    sim = Burgers2D(n=16, nu=0.05)
    g = torch.Generator().manual_seed(0)
    u0 = 0.5 * torch.randn(3, 2, 16, 16, dtype=torch.float64, generator=g)
    traj = sim.rollout(u0, 4, 0.02, save_every=2)
    assert traj.shape == (3, 3, 2, 16, 16)
    torch.testing.assert_close(traj[1], sim.rollout(u0[1], 4, 0.02, save_every=2))
    assert sim.rollout(u0.float(), 2, 0.02).dtype == torch.float32
    torch.testing.assert_close(sim.rollout(u0, 3, 0.02, closure=torch.zeros_like), sim.rollout(u0, 3, 0.02),
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"must end with \(2, 16, 16\)"):
        sim.step(torch.zeros(16, 16), 0.01)


def test_kinetic_energy_decays_and_rhs_matches_the_step():
    sim = Burgers2D(n=32, nu=0.05)
    x, y = sim.grid
    u0 = torch.stack([torch.sin(x) * torch.cos(y), -torch.cos(x) * torch.sin(y)])
    energy = sim.rollout(u0, 50, 0.02).square().mean((-3, -2, -1))
    assert bool((energy[1:] < energy[:-1]).all())
    dt = 1e-4
    finite = (sim.step(u0, dt) - u0) / dt
    torch.testing.assert_close(finite, sim.rhs(u0), rtol=1e-3, atol=1e-3)


def test_gradients_through_the_rollout_match_finite_differences():
    sim = Burgers2D(n=8, nu=0.1)
    u0 = 0.3 * torch.randn(2, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(lambda u: sim.rollout(u, 3, 0.05)[-1].square().sum(), (u0.requires_grad_(),))
