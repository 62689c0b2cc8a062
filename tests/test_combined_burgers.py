"""MP-PDE's combined equation by finite volumes: exact pieces, conservation and the measured order."""

import math

import pytest
import torch

from sciml.sim.combined_burgers import CombinedBurgers, SineForcing, average_down

pytestmark = pytest.mark.usefixtures("float64_default")


def smooth_forcing() -> SineForcing:
    t = torch.tensor
    return SineForcing(t([[0.3, -0.2]]), t([[0.2, -0.3]]), t([[1.0, 2.0]]), t([[0.4, 1.3]]))


def test_the_forcing_enters_as_exact_cell_averages():
    forcing = smooth_forcing()
    n, L, t = 16, 16.0, 0.7
    fine = forcing.cell_averages(t, 16 * 64, L)
    torch.testing.assert_close(forcing.cell_averages(t, n, L), average_down(fine, n), rtol=0, atol=1e-5)
    x = torch.linspace(0, L, 2001)[:-1]
    point = sum(forcing.amplitude[0, j] * torch.sin(forcing.omega[0, j] * t + 2 * math.pi * forcing.wavenumber[0, j]
                                                    * x / L + forcing.phase[0, j]) for j in range(2))
    assert abs(point.mean().item()) < 1e-12  # l >= 1: the forcing adds no mass
    draws = SineForcing.random(4000, torch.Generator().manual_seed(0))
    assert set(draws.wavenumber.unique().tolist()) == {1.0, 2.0}
    assert draws.amplitude.abs().max() <= 0.5 and draws.omega.abs().max() <= 0.4
    assert 0 <= draws.phase.min() and draws.phase.max() <= 2 * math.pi


def test_mass_is_conserved_and_a_shock_forms_without_oscillations():
    u = torch.sin(2 * math.pi * (torch.arange(64) + 0.5) / 64)[None] + 0.3
    out = CombinedBurgers(n=64, L=1.0, alpha=0.5, beta=0.01, gamma=0.001, forcing=smooth_forcing()).rollout(
        u, 200, 1e-3)
    torch.testing.assert_close(out.sum(-1), u.sum(-1).expand(201)[None], rtol=0, atol=1e-10)
    # inviscid Burgers steepens sin into a shock by t = 1 / (2 pi): WENO keeps it within the initial range
    shock = CombinedBurgers(n=64, L=1.0, alpha=0.5).rollout(u, 600, 5e-4)[:, -1]
    assert shock.max() <= u.max() + 1e-3 and shock.min() >= u.min() - 1e-3
    assert (shock.diff(dim=-1).abs().max() > 0.3)  # the jump is there (two cells at most)


@pytest.mark.parametrize(("beta", "gamma"), [(0.3, 0.0), (0.0, 0.2)])
def test_linear_terms_give_the_exact_decay_and_dispersion_of_a_fourier_mode(beta, gamma):
    """alpha = 0, no forcing: a cell-averaged mode k evolves as exp((-beta k^2 + i gamma k^3) t), up to the
    stencils' leading errors (1/90) dx^4 k^6 (u_xx, five points) and (7/120) dx^4 k^7 (u_xxx, seven points)."""
    L, k, t_end = 2 * math.pi, 2.0, 0.5
    errors = []
    for n in (32, 64):
        sim = CombinedBurgers(n=n, L=L, alpha=0.0, beta=beta, gamma=gamma)
        centres, dx = sim.grid, L / n
        sinc = math.sin(k * dx / 2) / (k * dx / 2)
        u0 = sinc * torch.sin(k * centres)[None]
        u = sim.rollout(u0, 500, t_end / 500)[:, -1]
        exact = sinc * math.exp(-beta * k**2 * t_end) * torch.sin(k * centres + gamma * k**3 * t_end)
        errors.append((u[0] - exact).abs().max().item())
        leading = sinc * t_end * dx**4 * (beta * k**6 / 90 + gamma * 7 * k**7 / 120) * math.exp(-beta * k**2 * t_end)
        assert errors[-1] == pytest.approx(leading, rel=0.1), (errors[-1], leading)
    assert math.log2(errors[0] / errors[1]) > 3.8, errors  # fourth order in space


def test_the_full_equation_converges_at_fourth_order_on_a_smooth_case():
    """All terms on (E3-like coefficients, smooth data, t = 0.25): the error against a 320-cell solution,
    averaged down, falls by at least ~2^4 per halving of dx (measured 4.6 and 5.2 from 20 to 80 cells)."""
    L, t_end = 16.0, 0.25
    kw = {"L": L, "alpha": 0.5, "beta": 0.2, "gamma": 0.1, "forcing": smooth_forcing()}
    times = torch.tensor([0.0, t_end])

    def solution(n):
        sim = CombinedBurgers(n=n, **kw)
        return sim.solve(sim.initial_condition(), times, rtol=1e-10, atol=1e-10)[..., -1, :]

    reference = solution(320)
    errors = [(solution(n) - average_down(reference, n)).abs().max().item() for n in (20, 40, 80)]
    orders = [math.log2(a / b) for a, b in zip(errors, errors[1:], strict=False)]
    assert errors[-1] < 1e-6 and min(orders) > 3.5, (errors, orders)
