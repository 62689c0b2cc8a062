"""Burgers: spectral ETDRK4 against Cole–Hopf, WENO5 against exact Riemann solutions, gradients."""

import math

import pytest
import torch

from sciml.sim import Burgers
from sciml.sim.weno import weno5_left

pytestmark = pytest.mark.usefixtures("float64_default")  # float64 checks (fixture in conftest)


def cole_hopf(x, t, nu):
    """u = -2 nu phi_x / phi with phi = 2 + e^{-nu t} cos x + 0.5 e^{-4 nu t} cos(2x + 1) solving phi_t = nu phi_xx."""
    e1, e4 = math.exp(-nu * t), math.exp(-4 * nu * t)
    phi = 2 + e1 * torch.cos(x) + 0.5 * e4 * torch.cos(2 * x + 1)
    phi_x = -e1 * torch.sin(x) - e4 * torch.sin(2 * x + 1)
    return -2 * nu * phi_x / phi


def test_spectral_scheme_matches_cole_hopf():
    nu = 0.1
    sim = Burgers(n=64, nu=nu)
    u = sim.rollout(cole_hopf(sim.grid, 0, nu), 200, 0.01, save_every=200)[-1]
    assert (u - cole_hopf(sim.grid, 2.0, nu)).abs().max().item() < 1e-10


def test_weno5_is_fifth_order_on_smooth_data():
    errors = []
    for n in (32, 64):
        x = (torch.arange(n) + 0.5) * 2 * math.pi / n
        h = 2 * math.pi / n
        cell_avg = (torch.cos(x - h / 2) - torch.cos(x + h / 2)) / h  # averages of sin over the cells
        exact = torch.sin(x + h / 2)  # point value at i + 1/2
        errors.append((weno5_left(cell_avg) - exact).abs().max().item())
    assert math.log2(errors[0] / errors[1]) > 4.5, errors


@pytest.mark.parametrize(("u_left", "u_right"), [(1.0, 0.0), (0.0, 1.0)])
def test_weno5_riemann_problems_converge_to_the_exact_solution(u_left, u_right):
    t, errors = 0.5, []
    for n in (200, 400):
        sim = Burgers(n=n, L=2.0, nu=0.0, scheme="weno5", boundary="outflow")
        x = sim.grid - 1.0
        steps = int(round(t / (0.4 * sim.dx)))
        u = sim.rollout(torch.where(x < 0, u_left, u_right), steps, t / steps, save_every=steps)[-1]
        if u_left > u_right:  # shock moving at (u_l + u_r) / 2
            exact = torch.where(x < 0.5 * (u_left + u_right) * t, u_left, u_right)
        else:  # rarefaction fan u = x / t
            exact = torch.clamp(x / t, u_left, u_right)
        errors.append((u - exact).abs().mean().item() * 2.0)
        assert u.max() <= max(u_left, u_right) + 1e-3 and u.min() >= min(u_left, u_right) - 1e-3  # no overshoot
    assert errors[1] < 0.006 and errors[0] / errors[1] > 1.7, errors


def test_weno5_conserves_mass_on_a_periodic_domain_and_refuses_cfl_above_one():
    sim = Burgers(n=64, nu=0.0, scheme="weno5")
    u0 = 1 + torch.sin(sim.grid)
    u = sim.rollout(u0, 100, 0.01)
    torch.testing.assert_close(u.sum(-1), u0.sum().expand(101), rtol=1e-12, atol=1e-12)
    with pytest.raises(FloatingPointError, match="CFL number"):
        sim.step(u0, 1.0)


@pytest.mark.parametrize("scheme", ["spectral", "weno5"])
def test_gradcheck_through_steps(scheme):
    sim = Burgers(n=16, nu=0.05, scheme=scheme)
    u0 = (0.5 + torch.sin(sim.grid)).unsqueeze(0).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u: sim.rollout(u, 3, 0.01)[..., -1, :], (u0,))
