"""Kuramoto–Sivashinsky: ETDRK4 against independent truth (convergence order, scipy Radau, conservation)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sciml.sim import KuramotoSivashinsky


def smooth_initial(sim: KuramotoSivashinsky, dtype=torch.float64) -> torch.Tensor:
    x = sim.grid.to(dtype)
    return torch.cos(2 * math.pi * x / sim.L) * (1 + torch.sin(2 * math.pi * x / sim.L))


def final_state(sim, u0, dt, t_end):
    n = int(round(t_end / dt))
    return sim.rollout(u0, n, dt, save_every=n)[-1]


def test_temporal_order_approaches_four_at_small_steps():
    sim = KuramotoSivashinsky(n=64, L=22.0)
    u0 = smooth_initial(sim)
    ref = final_state(sim, u0, 0.001, 2.0)
    dts = [0.05, 0.025, 0.0125, 0.00625]
    errors = [float((final_state(sim, u0, dt, 2.0) - ref).norm() / ref.norm()) for dt in dts]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
    # Stiff order reduction at large steps, approaching 4 as dt shrinks.
    assert orders[-1] > 3.6, orders
    assert orders[-1] < 4.4, orders
    assert orders[-1] >= orders[0] - 0.05, orders


def numpy_ks_rhs(u: np.ndarray, L: float, nu: float) -> np.ndarray:
    """Independent Fourier RHS of u_t = -u u_x - u_xx - nu u_xxxx in physical space (NumPy)."""
    n = u.size
    k = 2 * np.pi * np.fft.rfftfreq(n, d=L / n)
    v = np.fft.rfft(u)
    return np.fft.irfft((k**2 - nu * k**4) * v - 0.5j * k * np.fft.rfft(u * u), n=n)


def test_agrees_with_scipy_radau():
    L, n, t_end = 22.0, 64, 5.0
    sim = KuramotoSivashinsky(n=n, L=L)
    u0 = smooth_initial(sim)
    sol = solve_ivp(lambda t, u: numpy_ks_rhs(u, L, 1.0), (0, t_end), u0.numpy(), method="Radau",
                    rtol=1e-10, atol=1e-12, t_eval=[t_end])
    assert sol.success
    ours = final_state(sim, u0, 0.005, t_end).numpy()
    rel = np.linalg.norm(ours - sol.y[:, -1]) / np.linalg.norm(sol.y[:, -1])
    assert rel < 1e-7, rel


def test_rhs_matches_independent_numpy_rhs():
    sim = KuramotoSivashinsky(n=32, L=20.0, nu=0.7)
    u = torch.randn(3, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = sim.rhs(u).numpy()
    ref = np.stack([numpy_ks_rhs(row, 20.0, 0.7) for row in u.numpy()])
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_mean_is_conserved_and_batches_are_independent():
    sim = KuramotoSivashinsky(n=64, L=32.0)
    u0 = torch.randn(4, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.3
    traj = sim.rollout(u0, 200, 0.05, save_every=50)
    assert traj.shape == (4, 5, 64)
    torch.testing.assert_close(traj.mean(-1), u0.mean(-1, keepdim=True).expand(4, 5), rtol=0, atol=1e-12)
    single = sim.rollout(u0[2], 200, 0.05, save_every=50)
    torch.testing.assert_close(single, traj[2], rtol=1e-12, atol=1e-12)


def test_float32_tracks_float64():
    sim = KuramotoSivashinsky(n=64, L=22.0)
    u0 = smooth_initial(sim)
    u64 = final_state(sim, u0, 0.05, 2.0)
    u32 = final_state(sim, u0.float(), 0.05, 2.0)
    assert u32.dtype == torch.float32
    assert float((u32.double() - u64).norm() / u64.norm()) < 1e-5


def test_gradcheck_through_steps():
    sim = KuramotoSivashinsky(n=16, L=10.0)
    u0 = torch.randn(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    assert torch.autograd.gradcheck(lambda u: sim.rollout(u, 3, 0.1)[..., -1, :], (u0,))


def test_closure_enters_the_tendency_exactly():
    # The mean mode of KS has zero tendency, so with the closure -a u it obeys d(mean)/dt = -a mean exactly.
    sim = KuramotoSivashinsky(n=32, L=16.0)
    u0 = smooth_initial(sim) + 0.7
    a, t_end = 0.5, 1.0
    u = sim.rollout(u0, 100, t_end / 100, closure=lambda u: -a * u, save_every=100)[-1]
    expected = float(u0.mean()) * math.exp(-a * t_end)
    assert abs(float(u.mean()) - expected) < 1e-10


def test_bad_shape_is_named():
    sim = KuramotoSivashinsky(n=32, L=16.0)
    with pytest.raises(ValueError, match="n=32"):
        sim.step(torch.zeros(2, 31), 0.1)
