"""Smagorinsky, Leith, their dynamic variants, filters and the exact subgrid term."""

import math

import pytest
import torch
from test_ns2d import random_band_limited

from sciml.sim import NavierStokes2D
from sciml.sim.closures import (
    EddyViscosityClosure,
    coarsen,
    dynamic_coefficient,
    eddy_tendency,
    germano_m,
    strain_rate,
    subgrid_term,
    vorticity_gradient,
)
from sciml.sim.forcings import grid_2d, mcwilliams_initial

pytestmark = pytest.mark.usefixtures("float64_default")  # float64 checks (fixture in conftest)


def test_strain_rate_and_vorticity_gradient_by_hand():
    n = 32
    sim = NavierStokes2D(n=n)
    x, y = grid_2d(n, 2 * math.pi)
    psi = torch.sin(x) * torch.sin(y)  # psi_xy = cos x cos y, psi_yy - psi_xx = 0
    w = -2 * psi
    torch.testing.assert_close(strain_rate(sim, w), 2 * (torch.cos(x) * torch.cos(y)).abs())
    grad = torch.sqrt((2 * torch.cos(x) * torch.sin(y)) ** 2 + (2 * torch.sin(x) * torch.cos(y)) ** 2)
    torch.testing.assert_close(vorticity_gradient(sim, w), grad)


def test_constant_eddy_viscosity_is_a_laplacian_in_both_forms():
    n = 32
    sim = NavierStokes2D(n=n)
    w = random_band_limited(n)
    nu = torch.full((n, n), 0.3)
    lap = sim.to_physical(-sim.operators(torch.float64, w.device)["k2"] * torch.fft.rfft2(w))
    torch.testing.assert_close(eddy_tendency(sim, w, nu, local=False), 0.3 * lap)
    torch.testing.assert_close(eddy_tendency(sim, w, nu, local=True), 0.3 * lap)


@pytest.mark.parametrize("model", ["smagorinsky", "leith"])
@pytest.mark.parametrize("local", [False, True])
def test_closures_dissipate_enstrophy(model, local):
    n = 32
    sim = NavierStokes2D(n=n)
    w = mcwilliams_initial(n, batch=(2,), generator=torch.Generator().manual_seed(0))
    closure = EddyViscosityClosure(sim, model, 0.2, delta=2 * sim.L / n, local=local)
    assert ((w * closure(w)).mean((-2, -1)) < 0).all()
    # delta is explicit: doubling it scales the domain-mean Smagorinsky term by 4 and Leith's by 8
    if not local:
        twice = EddyViscosityClosure(sim, model, 0.2, delta=4 * sim.L / n, local=local)
        torch.testing.assert_close(twice(w), closure(w) * (4 if model == "smagorinsky" else 8))


@pytest.mark.parametrize(("model", "c_true"), [("smagorinsky", 0.17), ("leith", 0.25)])
def test_dynamic_procedure_recovers_a_known_coefficient(model, c_true):
    n = 64
    sim = NavierStokes2D(n=n)
    w = mcwilliams_initial(n, batch=(2,), generator=torch.Generator().manual_seed(1))
    delta = 2 * sim.L / n
    m = germano_m(sim, w, model, delta)
    noise = torch.randn(m.shape, generator=torch.Generator().manual_seed(2))
    noise = noise - ((noise * m).mean((-2, -1), keepdim=True) / (m * m).mean((-2, -1), keepdim=True)) * m
    power = 2 if model == "smagorinsky" else 3
    leonard = c_true**power * m + 0.5 * noise.std() * noise  # a synthetic L: exact model plus orthogonal noise
    c = dynamic_coefficient(sim, w, model, delta, leonard=leonard)
    torch.testing.assert_close(c, torch.full((2,), c_true), rtol=1e-10, atol=0)
    assert (dynamic_coefficient(sim, w, model, delta, leonard=-leonard) == 0).all()  # backscatter is clipped


def test_dynamic_closure_runs_on_a_resolved_field():
    n = 64
    sim = NavierStokes2D(n=n)
    w = mcwilliams_initial(n, generator=torch.Generator().manual_seed(3))
    c = dynamic_coefficient(sim, w, "smagorinsky", 2 * sim.L / n)
    assert 0 <= c.item() < 1
    tendency = EddyViscosityClosure(sim, "smagorinsky", "dynamic", delta=2 * sim.L / n)(w)
    assert torch.isfinite(tendency).all()


def test_subgrid_term_vanishes_for_resolved_fields_and_not_otherwise():
    fine = NavierStokes2D(n=96)
    smooth = random_band_limited(96, kmax=4)  # J has |k| <= 8 < 32 / 3: exact on the coarse grid too
    w_bar, pi = subgrid_term(fine, smooth, 32)
    torch.testing.assert_close(w_bar, coarsen(smooth, 32))
    assert pi.abs().max() < 1e-10 * smooth.abs().max() ** 2
    rough = random_band_limited(96, kmax=20)
    _, pi_rough = subgrid_term(fine, rough, 32)
    assert pi_rough.abs().max() > 1e-3


def test_filters_by_their_transfer_functions():
    from sciml.sim.closures import gaussian_filter, spectral_cutoff

    n, width = 64, 0.3
    x, y = grid_2d(n, 2 * math.pi)
    low, high = torch.cos(2 * x), torch.cos(5 * x + 12 * y)
    torch.testing.assert_close(gaussian_filter(low + high, width),
                               low * math.exp(-4 * width**2 / 24) + high * math.exp(-169 * width**2 / 24))
    torch.testing.assert_close(spectral_cutoff(low + high, 16), low)  # keeps |k| < 8 per axis
    coarse = coarsen(low + high, 32)
    xc, _ = grid_2d(32, 2 * math.pi)
    torch.testing.assert_close(coarse, torch.cos(2 * xc) + torch.cos(5 * xc + 12 * grid_2d(32, 2 * math.pi)[1]))
