"""The Allen–Cahn simulator (the physics-informed benchmark's reference) against an independent solution:
SciPy's adaptive DOP853 on a NumPy Fourier right-hand side, and the PDE's invariants."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sciml.sim.allen_cahn import AllenCahn


def _numpy_rhs(n: int, length: float, d: float, r: float):
    k = 2 * np.pi * np.fft.rfftfreq(n, d=length / n)

    def rhs(_t, u):
        return d * np.fft.irfft(-(k**2) * np.fft.rfft(u), n=n) + r * (u - u**3)

    return rhs


def test_etdrk4_matches_an_adaptive_runge_kutta_solution_of_the_benchmark():
    """The benchmark (d = 1e-4, r = 5, u0 = x^2 cos(pi x), 512 points) to t = 0.3, where the interfaces
    have formed: ETDRK4 at dt = 1e-4 agrees with DOP853 at rtol 1e-10 to 1e-8."""
    sim = AllenCahn(512)
    x = sim.grid
    u0 = x**2 * torch.cos(math.pi * x)
    ours = sim.rollout(u0, 3000, 1e-4, save_every=1000)
    truth = solve_ivp(_numpy_rhs(512, 2.0, 1e-4, 5.0), (0.0, 0.3), u0.numpy(), method="DOP853", rtol=1e-10,
                      atol=1e-12, t_eval=[0.1, 0.2, 0.3])
    assert truth.success
    np.testing.assert_allclose(ours[1:].numpy(), truth.y.T, atol=1e-8)
    assert ours[-1].abs().max() > 0.9  # the solution has left u0 (|u0| <= 1) and saturated near +-1


def test_the_stable_states_stay_and_a_small_perturbation_of_zero_grows_at_rate_r():
    sim = AllenCahn(64, diffusion=1e-3)
    ones = torch.ones(2, 64, dtype=torch.float64) * torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    torch.testing.assert_close(sim.rollout(ones, 100, 1e-2)[:, -1], ones)
    eps = 1e-6 * torch.ones(64, dtype=torch.float64)
    grown = sim.rollout(eps, 100, 1e-3)[-1]
    assert grown.mean().item() == pytest.approx(1e-6 * math.exp(5 * 0.1), rel=1e-6)


def test_the_rhs_matches_the_step_and_bad_states_are_refused():
    sim = AllenCahn(128)
    u = sim.grid**2 * torch.cos(math.pi * sim.grid)
    dt = 1e-6
    torch.testing.assert_close((sim.step(u, dt) - u) / dt, sim.rhs(u), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="n=128"):
        sim.step(torch.zeros(127), 1e-3)
    with pytest.raises(TypeError, match="real float"):
        sim.rhs(torch.zeros(128, dtype=torch.long))


def test_gradcheck_through_steps():
    sim = AllenCahn(16, diffusion=1e-2)
    u0 = (0.5 * torch.sin(math.pi * sim.grid)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u: sim.rollout(u, 3, 0.01)[..., -1, :], (u0,))
