"""Smagorinsky, Leith, their dynamic variants, filters and the exact subgrid term."""

import math

import numpy as np
import pytest
import torch
from test_ns2d import random_band_limited

from sciml.sim import NavierStokes2D
from sciml.sim.closures import (
    EddyViscosityClosure,
    coarsen,
    dynamic_coefficient,
    eddy_tendency,
    germano_l,
    germano_m,
    spectral_cutoff,
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


# -- an independent NumPy implementation (full complex FFTs) of the pieces of the dynamic procedure -------
def _np_wavenumbers(n: int):
    k = np.fft.fftfreq(n, 1.0 / n)  # integer wavenumbers on [0, 2 pi)
    return k[:, None], k[None, :]  # states are indexed [x, y]


def _np_derivative(f_hat, ax: int, ay: int):
    kx, ky = _np_wavenumbers(f_hat.shape[-1])
    return np.fft.ifft2((1j * kx) ** ax * (1j * ky) ** ay * f_hat).real


def _np_cut(f, n_keep: int):
    """Sharp test filter: keep |k_x|, |k_y| < n_keep / 2."""
    kx, ky = _np_wavenumbers(f.shape[-1])
    return np.fft.ifft2(np.fft.fft2(f) * ((np.abs(kx) < n_keep / 2) & (np.abs(ky) < n_keep / 2))).real


def _np_streamfunction_hat(w):
    kx, ky = _np_wavenumbers(w.shape[-1])
    k2 = kx**2 + ky**2
    return np.where(k2 > 0, -np.fft.fft2(w) / np.where(k2 > 0, k2, 1), 0)


def _np_model(w, model: str, delta: float):
    """Unit-coefficient eddy-viscosity tendency with the domain-mean viscosity: <nu_e> lap(w)."""
    psi_hat, w_hat = _np_streamfunction_hat(w), np.fft.fft2(w)
    if model == "smagorinsky":
        s11 = _np_derivative(psi_hat, 1, 1)
        s12 = 0.5 * (_np_derivative(psi_hat, 0, 2) - _np_derivative(psi_hat, 2, 0))
        nu = delta**2 * 2 * np.sqrt(s11**2 + s12**2)
    else:
        nu = delta**3 * np.sqrt(_np_derivative(w_hat, 1, 0) ** 2 + _np_derivative(w_hat, 0, 1) ** 2)
    return nu.mean((-2, -1), keepdims=True) * (_np_derivative(w_hat, 2, 0) + _np_derivative(w_hat, 0, 2))


def _np_jacobian(w):
    """J(psi, w) = u w_x + v w_y with u = -psi_y, v = psi_x, then the 2/3 rule (|k| < n/3 per axis)."""
    n = w.shape[-1]
    psi_hat, w_hat = _np_streamfunction_hat(w), np.fft.fft2(w)
    j = -_np_derivative(psi_hat, 0, 1) * _np_derivative(w_hat, 1, 0) + \
        _np_derivative(psi_hat, 1, 0) * _np_derivative(w_hat, 0, 1)
    kx, ky = _np_wavenumbers(n)
    return np.fft.ifft2(np.fft.fft2(j) * ((np.abs(kx) < n / 3) & (np.abs(ky) < n / 3))).real


@pytest.mark.parametrize("model", ["smagorinsky", "leith"])
def test_dynamic_procedure_matches_an_independent_calculation(model):
    """M, L and c = <(L M)+> / <M M> against the NumPy implementation above (test filter at n / 4)."""
    n = 64
    sim = NavierStokes2D(n=n)
    w = random_band_limited(n, seed=1, kmax=20, batch=(2,))  # beyond the test filter, inside the 2/3 band
    delta = 2 * sim.L / n
    w_np = w.numpy()
    m_np = -(_np_model(_np_cut(w_np, n // 2), model, 2 * delta) - _np_cut(_np_model(w_np, model, delta), n // 2))
    np.testing.assert_allclose(germano_m(sim, w, model, delta).numpy(), m_np, rtol=1e-10, atol=1e-10 * abs(m_np).max())
    l_np = _np_cut(_np_jacobian(w_np), n // 2) - _np_jacobian(_np_cut(w_np, n // 2))
    np.testing.assert_allclose(germano_l(sim, w, n // 2).numpy(), l_np, rtol=1e-10, atol=1e-10 * abs(l_np).max())
    assert abs(l_np).max() > 1e-2 and abs(m_np).max() > 1e-3  # both are far from zero on this field
    raw = np.clip((l_np * m_np).mean((-2, -1)), 0, None) / (m_np * m_np).mean((-2, -1))
    expected = np.sqrt(raw) if model == "smagorinsky" else np.cbrt(raw)
    np.testing.assert_allclose(dynamic_coefficient(sim, w, model, delta).numpy(), expected, rtol=1e-9)


def test_germano_identity_links_the_subgrid_terms_at_both_filter_levels():
    """T - test(tau) = L: the subgrid term at the combined (grid then test) filter level minus the test-filtered
    grid-level subgrid term is the resolved stress of the grid-filtered field (Germano 1991)."""
    n_fine, n = 192, 64
    fine = NavierStokes2D(n=n_fine)
    coarse = NavierStokes2D(n=n)
    w = random_band_limited(n_fine, seed=4, kmax=40)

    def jac(sim, field):
        return sim.to_physical(sim.jacobian_hat(torch.fft.rfft2(field)))

    w_bar, tau = subgrid_term(fine, w, n)  # tau = bar(J(psi, w)) - J(bar psi, bar w)
    big_t = spectral_cutoff(coarsen(jac(fine, w), n), n // 2) - jac(coarse, spectral_cutoff(w_bar, n // 2))
    ell = germano_l(coarse, w_bar, n // 2)
    torch.testing.assert_close(big_t - spectral_cutoff(tau, n // 2), ell, rtol=1e-9, atol=1e-12)
    assert tau.abs().max() > 1e-2 and ell.abs().max() > 1e-2  # a rough field: neither term vanishes


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


def test_subgrid_term_of_two_unresolved_modes_by_hand():
    """w = cos(p.x) + cos(q.x) with p, q beyond the coarse grid and p - q on it: the filtered field is zero, and
    Pi = bar J(psi, w) = (p_y q_x - p_x q_y)(1/|p|^2 - 1/|q|^2) cos((p - q).x) / 2 (psi = -w_k / |k|^2 per
    mode; p + q is filtered out)."""
    n, p, q = 64, (10, 1), (9, 3)
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    w = torch.cos(p[0] * X + p[1] * Y) + torch.cos(q[0] * X + q[1] * Y)
    w_bar, pi = subgrid_term(NavierStokes2D(n=n), w, 16)
    amplitude = (p[1] * q[0] - p[0] * q[1]) * (1 / (p[0] ** 2 + p[1] ** 2) - 1 / (q[0] ** 2 + q[1] ** 2)) / 2
    xc = torch.arange(16, dtype=torch.float64) * 2 * math.pi / 16
    Xc, Yc = torch.meshgrid(xc, xc, indexing="ij")
    expected = amplitude * torch.cos((p[0] - q[0]) * Xc + (p[1] - q[1]) * Yc)
    assert w_bar.abs().max() < 1e-12
    torch.testing.assert_close(pi, expected, rtol=0, atol=1e-12)
    assert amplitude == pytest.approx(231 / 9090 / 2)


def test_the_recipe_stores_the_subgrid_tendency_that_closes_the_coarse_model(tmp_path):
    """One coarse step with the stored -Pi added tracks the truncated DNS better than without it (compared on
    the band the coarse model resolves: its 2/3 rule drops the stored frames' top third of modes)."""
    from sciml import recipes
    from sciml.config import load_config
    from sciml.data import open_dataset
    from sciml.sim.builders import coarse_simulator

    cfg = load_config(["dataset.name=kolmogorov2d", "dataset.subgrid=true", "dataset.n_dns=64", "dataset.n=16",
                       "dataset.nu=0.005", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
                       "dataset.steps_train=4", "dataset.steps_eval=2", "dataset.burn_in=2.0", "dataset.dt=0.005",
                       "dataset.save_dt=0.005", f"dataset.root={tmp_path}"]).dataset
    ds = open_dataset(recipes.ensure_dataset(cfg, progress=False)["train"])
    w = torch.as_tensor(ds.vorticity.values, dtype=torch.float64)
    target = torch.as_tensor(ds.subgrid.values, dtype=torch.float64)
    les = coarse_simulator(dict(ds.attrs), (16, 16))
    band = lambda v: les.to_physical(les.to_spectral(v))  # noqa: E731
    exact = band(w[:, 2:] - w[:, :-2]) / 0.01  # central difference of the truncated DNS about frames 1..T-2
    mid = w[:, 1:-1]
    bare = (les.step(mid, 0.005) - band(mid)) / 0.005
    closed = (les.step(mid, 0.005, closure=lambda v: target[:, 1:-1]) - band(mid)) / 0.005
    # what is left is the O(dt) error of one-step differences: 0.73 against 27.6 without the term
    assert float((closed - exact).norm()) < 0.05 * float((bare - exact).norm())
