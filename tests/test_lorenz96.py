"""Lorenz96: published statistics, the Lyapunov exponent through the differentiable stepper, gradients."""

import pytest
import torch

from sciml.sim.lorenz96 import Lorenz96, TwoScaleLorenz96, lyapunov_exponents, random_state


def spun_up(sim, batch, dt, spin_steps, seed=0):
    x = random_state(sim, (batch,), torch.Generator().manual_seed(seed))
    return sim.rollout(x, spin_steps, dt, save_every=spin_steps)[..., -1, :]


def test_single_scale_climate_matches_the_literature():
    sim = Lorenz96(K=40, F=8.0)
    x = spun_up(sim, 32, 0.01, 1000)
    traj = sim.rollout(x, 10000, 0.01, save_every=10)  # 32 members x 100 time units
    assert traj.mean().item() == pytest.approx(2.34, abs=0.05)
    assert traj.var().item() == pytest.approx(13.3, abs=0.4)


def test_two_scale_wilks_climate_and_coupling():
    sim = TwoScaleLorenz96.from_preset("wilks2005")
    x = spun_up(sim, 32, 0.001, 3000)
    traj = sim.rollout(x, 10000, 0.001, save_every=10)
    X, coupling = sim.split(traj).X, sim.coupling(traj)
    assert X.mean().item() == pytest.approx(3.70, abs=0.2)
    assert X.var().item() == pytest.approx(25.5, abs=1.5)
    assert coupling.mean().item() == pytest.approx(-3.84, abs=0.2)
    assert coupling.std().item() == pytest.approx(4.6, abs=0.3)


def test_leading_lyapunov_exponent_through_jvp():
    sim = Lorenz96(K=40, F=8.0)
    x = spun_up(sim, 1, 0.01, 2000)[0]
    le = lyapunov_exponents(sim, x, 0.01, 2000, n_exponents=2, generator=torch.Generator().manual_seed(0))
    assert 1.5 < le[0].item() < 1.9, le  # published 1.68-1.7
    assert le[1] < le[0]


def test_rhs_by_hand_and_the_two_forms_agree():
    sim = Lorenz96(K=5, F=1.0)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    # k = 0: (X1 - X3) X4 - X0 + F = (2 - 4) * 5 - 1 + 1
    assert sim.rhs(x)[0].item() == pytest.approx(-10.0)
    two = TwoScaleLorenz96(K=5, J=3, F=1.0, h=0.0)  # no coupling: X obeys the single-scale equation
    state = two.join(x, torch.randn(5, 3, dtype=torch.float64))
    torch.testing.assert_close(two.rhs(state)[:5], sim.rhs(x))


def test_coarse_model_with_the_true_coupling_reproduces_x_for_one_step():
    sim = TwoScaleLorenz96(K=8, J=4)
    state = spun_up(sim, 2, 0.001, 200)
    coupling = sim.coupling(state)
    coarse = sim.coarse_model()
    # with the closure frozen at its current value the X tendencies agree exactly
    torch.testing.assert_close(coarse.rhs(state[..., :8]) + coupling, sim.rhs(state)[..., :8])


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_gradcheck_through_steps(method):
    sim = Lorenz96(K=6, F=8.0, method=method)
    x = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sim.rollout(x, 3, 0.01)[..., -1, :], (x,))


def test_torchdiffeq_rk4_matches_builtin_and_adjoint_matches_direct_gradients():
    torch.manual_seed(0)
    closure = torch.nn.Linear(6, 6).double()
    x0 = torch.randn(3, 6, dtype=torch.float64)
    builtin = Lorenz96(K=6).rollout(x0, 5, 0.01, closure=closure)
    via_diffeq = Lorenz96(K=6, method="rk4", adjoint=True).rollout(x0, 5, 0.01, closure=closure)
    torch.testing.assert_close(via_diffeq, builtin)

    def grads(adjoint):
        closure.zero_grad()
        sim = Lorenz96(K=6, method="dopri5", adjoint=adjoint)
        sim.rollout(x0, 4, 0.05, closure=closure)[..., -1, :].pow(2).sum().backward()
        return [p.grad.clone() for p in closure.parameters()]

    for a, d in zip(grads(True), grads(False), strict=True):
        torch.testing.assert_close(a, d, rtol=1e-5, atol=1e-7)


def test_bad_state_is_named():
    with pytest.raises(ValueError, match="264 values"):
        TwoScaleLorenz96.from_preset("wilks2005").step(torch.zeros(3, 8), 0.001)
