"""NavierStokes2D against analytic solutions, conservation laws, budgets and measured orders (float64)."""

import math
import os
import subprocess
import sys

import pytest
import torch

from sciml.sim.forcings import grid_2d, mcwilliams_initial
from sciml.sim.ns2d import STEPPERS, NavierStokes2D

pytestmark = pytest.mark.usefixtures("float64_default")  # float64 checks (fixture in conftest)


def random_band_limited(n, seed=0, kmax=4, batch=()):
    x, y = grid_2d(n, 2 * math.pi)
    g = torch.Generator().manual_seed(seed)
    w = torch.zeros(*batch, n, n)
    for kx in range(-kmax, kmax + 1):
        for ky in range(0, kmax + 1):
            if kx == 0 and ky == 0:
                continue
            a, p = torch.randn(*batch, 1, 1, generator=g), torch.rand(*batch, 1, 1, generator=g) * 2 * math.pi
            w = w + a * torch.cos(kx * x + ky * y + p) / (1 + kx**2 + ky**2)
    return w


def test_sign_convention_velocity_and_streamfunction():
    n = 32
    sim = NavierStokes2D(n=n)
    x, y = grid_2d(n, 2 * math.pi)
    psi = torch.sin(x) * torch.cos(2 * y)
    w = -5 * psi  # omega = lap(psi)
    u, v = sim.velocity(w)
    torch.testing.assert_close(sim.streamfunction(w), psi)
    torch.testing.assert_close(u, 2 * torch.sin(x) * torch.sin(2 * y))  # u = -psi_y
    torch.testing.assert_close(v, torch.cos(x) * torch.cos(2 * y))  # v = psi_x


def test_single_wavenumber_eigenstate_has_zero_jacobian_and_decays_exactly():
    n, nu, drag = 32, 0.01, 0.1
    x, y = grid_2d(n, 2 * math.pi)
    w0 = torch.cos(3 * x + 4 * y) + torch.sin(5 * x)  # |k| = 5 in both terms
    sim = NavierStokes2D(n=n, nu=nu, drag=drag, stepper="etdrk4")
    w_hat = sim.to_spectral(w0)
    assert sim.jacobian_hat(w_hat).abs().max() < 1e-10 * w_hat.abs().max()
    rate = nu * 25 + drag  # vorticity amplitude; the energy decays at twice this rate
    w = sim.rollout(w0, 100, 0.01, save_every=100)[-1]
    assert ((w - w0 * math.exp(-rate)).norm() / w0.norm()).item() < 1e-10
    assert sim.energy(w).item() == pytest.approx(sim.energy(w0).item() * math.exp(-2 * rate), rel=1e-10)


def test_laminar_kolmogorov_steady_state():
    n, nu, drag, k_f = 32, 0.05, 0.1, 4
    sim = NavierStokes2D(n=n, nu=nu, drag=drag, forcing="kolmogorov", k_f=k_f, stepper="etdrk4")
    steady = sim.forcing / (nu * k_f**2 + drag)  # omega_hat = f_hat / (nu k_f^2 + alpha)
    assert sim.rhs(steady).abs().max().item() < 1e-12
    w = sim.rollout(torch.zeros(n, n), 400, 0.1, save_every=400)[-1]  # 40 relaxation times of 1 / 0.9
    assert ((w - steady).norm() / steady.norm()).item() < 1e-10


def test_rossby_wave_propagates_westward_at_the_dispersion_relation():
    n, beta, kx, ky = 32, 10.0, 2, 1
    x, y = grid_2d(n, 2 * math.pi)
    k2 = kx**2 + ky**2
    sigma = -beta * kx / k2
    sim = NavierStokes2D(n=n, nu=0.0, beta=beta, stepper="etdrk4")
    w0 = -k2 * torch.cos(kx * x + ky * y)
    t = 1.0
    w = sim.rollout(w0, 200, t / 200, save_every=200)[-1]
    exact = -k2 * torch.cos(kx * x + ky * y - sigma * t)
    assert ((w - exact).norm() / exact.norm()).item() < 1e-8
    assert sigma / kx < 0  # westward phase speed


def test_enstrophy_budget_closes():
    n = 64
    sim = NavierStokes2D(n=n, nu=0.01, drag=0.1, forcing="kolmogorov", stepper="etdrk4")
    w = sim.rollout(random_band_limited(n, seed=3) * 5, 200, 0.01, save_every=200)[-1]
    dt = 1e-4
    w1 = sim.step(w, dt)
    w2 = sim.step(w1, dt)
    dzdt = (sim.enstrophy(w2) - sim.enstrophy(w)) / (2 * dt)
    budget = sim.enstrophy_budget(w1)["total"]
    assert abs((dzdt - budget).item()) < 1e-5 * abs(budget.item()) + 1e-8
    assert sim.enstrophy_budget(w1)["viscous"].item() < 0


@pytest.mark.parametrize("dealias", ["2/3", "3/2"])
def test_inviscid_unforced_run_conserves_energy_and_enstrophy(dealias):
    n = 32
    w0 = random_band_limited(n, kmax=8) * 3
    drifts = []
    for dt in (0.02, 0.01):
        sim = NavierStokes2D(n=n, nu=0.0, dealias=dealias, stepper="cn_rk4")
        w = sim.rollout(w0, int(round(1 / dt)), dt, save_every=int(round(1 / dt)))
        drifts.append([abs((f(w[-1]) - f(w[0])) / f(w[0])).item() for f in (sim.energy, sim.enstrophy)])
    # The 2/3-truncated (or padded) Galerkin system conserves both invariants exactly; what remains is the
    # time-stepping error, which must fall at least as fast as the RK4 order when dt halves.
    assert all(a / b > 2**4 for a, b in zip(drifts[0], drifts[1], strict=True)), drifts
    assert max(drifts[1]) < 1e-5, drifts


def test_two_thirds_and_three_halves_dealiasing_agree_on_band_limited_fields():
    n = 48
    w_hat = NavierStokes2D(n=n).to_spectral(random_band_limited(n, kmax=10))
    a = NavierStokes2D(n=n, dealias="2/3").jacobian_hat(w_hat)
    b = NavierStokes2D(n=n, dealias="3/2").jacobian_hat(w_hat)
    mask = NavierStokes2D(n=n).operators(torch.float64, w_hat.device)["mask"]
    torch.testing.assert_close(a, b * mask, rtol=0, atol=1e-9 * b.abs().max().item())


@pytest.mark.parametrize(("stepper", "order"), [("cn_rk4", 2), ("ab2_cn", 2), ("etdrk4", 4)])
def test_measured_temporal_order(stepper, order):
    n, t_end = 32, 0.5
    w0 = random_band_limited(n, seed=1) * 4
    ref = NavierStokes2D(n=n, nu=0.05, forcing="kolmogorov", stepper="etdrk4").rollout(w0, 4000, t_end / 4000)[-1]
    sim = NavierStokes2D(n=n, nu=0.05, forcing="kolmogorov", stepper=stepper)
    errors = []
    # CN-RK4 looks fourth order at large steps (explicit error dominates) and reaches its asymptotic
    # second order (Crank–Nicolson) only below dt ~ 3e-3 here: measure there.
    for steps in (80, 160, 320):
        errors.append(((sim.rollout(w0, steps, t_end / steps)[-1] - ref).norm() / ref.norm()).item())
    measured = math.log2(errors[-2] / errors[-1])
    assert abs(measured - order) < 0.35, (errors, measured)


@pytest.mark.parametrize("stepper", STEPPERS)
def test_gradcheck_through_steps(stepper):
    sim = NavierStokes2D(n=8, nu=0.05, drag=0.1, beta=1.0, forcing="py2d", k_f=1, stepper=stepper)
    w0 = random_band_limited(8, kmax=2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda w: sim.rollout(w, 3, 0.05)[-1], (w0,))


@pytest.mark.parametrize("stepper", ["cn_rk4", "ab2_cn"])
def test_segment_checkpointing_gives_the_same_gradient(stepper):
    sim = NavierStokes2D(n=16, nu=0.02, forcing="kolmogorov", k_f=2, stepper=stepper)
    w0 = random_band_limited(16, kmax=4).requires_grad_(True)
    g1 = torch.autograd.grad(sim.rollout(w0, 12, 0.02)[-1].pow(2).sum(), w0)[0]
    sim.rollout(w0, 12, 0.02, checkpoint_every=4)[-1].pow(2).sum().backward()  # reentrant: .backward()
    torch.testing.assert_close(w0.grad, g1)
    g3 = torch.autograd.grad(sim.rollout(w0, 12, 0.02, checkpoint_every=5, checkpoint_reentrant=False)[-1]
                             .pow(2).sum(), w0)[0]
    torch.testing.assert_close(g3, g1)


def test_spectrum_sums_to_the_energy_and_batches_are_independent():
    n = 32
    sim = NavierStokes2D(n=n, nu=1e-3)
    w = mcwilliams_initial(n, batch=(3,), generator=torch.Generator().manual_seed(0))
    k, e = sim.spectrum(w)
    torch.testing.assert_close(e.sum(-1), sim.energy(w))
    torch.testing.assert_close(sim.energy(w), torch.full((3,), 0.5))
    traj = sim.rollout(w, 5, 0.01)
    torch.testing.assert_close(sim.rollout(w[1], 5, 0.01), traj[1])
    assert sim.rollout(w.float(), 5, 0.01).dtype == torch.float32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown stepper"):
        NavierStokes2D(n=16, stepper="rk45")
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        NavierStokes2D(n=16).step(torch.zeros(2, 16, 15), 0.1)


def test_a_blown_up_rollout_raises_and_names_the_steps():
    n = 32
    sim = NavierStokes2D(n=n, nu=0.0)
    w = random_band_limited(n, kmax=8) * 200  # CFL far above 1 with dt = 0.1
    with pytest.raises(FloatingPointError, match=r"blew up \(NaN/inf\) between steps \d+ and \d+; CFL number"):
        sim.rollout(w, 200, 0.1, save_every=10)


def test_hyperviscosity_damps_a_mode_at_its_rate():
    n, nu_h, p = 32, 1e-4, 2
    x, y = grid_2d(n, 2 * math.pi)
    w0 = torch.cos(3 * x + 4 * y)  # |k|^2 = 25
    sim = NavierStokes2D(n=n, nu=0.0, hyperviscosity=nu_h, hyper_order=p, stepper="etdrk4")
    w = sim.rollout(w0, 50, 0.02, save_every=50)[-1]
    torch.testing.assert_close(w, w0 * math.exp(-nu_h * 25**p * 1.0), rtol=1e-10, atol=1e-12)
    assert "hyperviscous" in sim.enstrophy_budget(w0) and sim.enstrophy_budget(w0)["hyperviscous"] < 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
@pytest.mark.parametrize(("opt_out", "expected"), [("0", "True"), ("1", "False")])
def test_importing_the_simulators_keeps_freed_memory_unless_opted_out(opt_out, expected):
    code = "import sciml.sim, sciml.runtime as r; print(r.allocator_tuned())"
    env = {**os.environ, "SCIML_NO_MALLOC_TUNING": opt_out}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
