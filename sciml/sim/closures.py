"""Physics closures for 2D turbulence in vorticity form, filters, and the exact subgrid term.

All act on the *filtered* vorticity of a :class:`~sciml.sim.NavierStokes2D` grid and return a vorticity
tendency ``(*batch, n, n)`` to add to the right-hand side (pass them as ``closure=``). The filter width
``delta`` is an explicit argument because codes disagree (``2L/N`` vs ``L/N``: a factor 4 in Smagorinsky's
and 8 in Leith's eddy viscosity).

- Smagorinsky: ``nu_e = (C_S delta)^2 |S|`` with ``|S| = 2 sqrt(S11^2 + S12^2)``, ``S11 = psi_xy``,
  ``S12 = (psi_yy - psi_xx) / 2``;
- Leith: ``nu_e = (C_L delta)^3 |grad omega|``;
- the tendency is ``div(nu_e grad omega)`` (local) or ``nu_e lap(omega)`` with the domain mean of ``nu_e``.
- Dynamic variants (Germano identity) compute the coefficient from the resolved field with a test filter
  at ``n / 4`` (spectral cutoff): ``c = <(L M)_+> / <M M>`` (clipped at 0), where ``L = test(J(psi, w)) -
  J(test psi, test w)`` and ``M`` is the model at the test scale minus the test-filtered model.
"""

from __future__ import annotations

import math

import torch

from sciml.sim.ns2d import NavierStokes2D


def _derivative(sim: NavierStokes2D, field_hat: torch.Tensor, ax: int, ay: int) -> torch.Tensor:
    ops = sim.operators(torch.float64 if field_hat.dtype == torch.complex128 else torch.float32, field_hat.device)
    return sim.to_physical((1j * ops["kx"]) ** ax * (1j * ops["ky"]) ** ay * field_hat)


def strain_rate(sim: NavierStokes2D, w: torch.Tensor) -> torch.Tensor:
    """``|S| = 2 sqrt(S11^2 + S12^2)`` with ``S11 = psi_xy`` and ``S12 = (psi_yy - psi_xx) / 2``."""
    ops = sim.operators(w.dtype, w.device)
    psi_hat = -torch.fft.rfft2(w) * ops["inv_k2"]
    s11 = _derivative(sim, psi_hat, 1, 1)
    s12 = 0.5 * (_derivative(sim, psi_hat, 0, 2) - _derivative(sim, psi_hat, 2, 0))
    return 2 * torch.sqrt(s11**2 + s12**2)


def vorticity_gradient(sim: NavierStokes2D, w: torch.Tensor) -> torch.Tensor:
    w_hat = torch.fft.rfft2(w)
    return torch.sqrt(_derivative(sim, w_hat, 1, 0) ** 2 + _derivative(sim, w_hat, 0, 1) ** 2)


def eddy_viscosity(sim: NavierStokes2D, w: torch.Tensor, model: str, coefficient: float | torch.Tensor,
                   delta: float) -> torch.Tensor:
    """``nu_e`` field ``(*batch, n, n)`` of ``"smagorinsky"`` or ``"leith"``."""
    if model == "smagorinsky":
        return (coefficient * delta) ** 2 * strain_rate(sim, w)
    if model == "leith":
        return (coefficient * delta) ** 3 * vorticity_gradient(sim, w)
    raise ValueError(f"unknown eddy-viscosity model {model!r} (smagorinsky or leith)")


def eddy_tendency(sim: NavierStokes2D, w: torch.Tensor, nu_e: torch.Tensor, local: bool) -> torch.Tensor:
    """``div(nu_e grad w)`` (local) or ``<nu_e> lap(w)`` (domain mean)."""
    w_hat = torch.fft.rfft2(w)
    ops = sim.operators(w.dtype, w.device)
    if not local:
        return nu_e.mean((-2, -1), keepdim=True) * sim.to_physical(-ops["k2"] * w_hat)
    fx = torch.fft.rfft2(nu_e * _derivative(sim, w_hat, 1, 0))
    fy = torch.fft.rfft2(nu_e * _derivative(sim, w_hat, 0, 1))
    return sim.to_physical(1j * ops["kx"] * fx + 1j * ops["ky"] * fy)


class EddyViscosityClosure:
    """Smagorinsky or Leith closure, ``closure(w) -> tendency``; ``coefficient="dynamic"`` for the
    Germano procedure (recomputed from the field at every call, clipped at 0).
    Args:
      sim: the (coarse) simulator whose grid ``w`` lives on.
      model: ``"smagorinsky"`` or ``"leith"``.
      coefficient: ``C_S`` / ``C_L``, or ``"dynamic"``.
      delta: filter width in the simulator's length units (e.g. ``sim.L / sim.n`` or ``2 sim.L / sim.n``).
      local: local eddy viscosity, else its domain mean (py2d, SMARL).
    """

    def __init__(self, sim: NavierStokes2D, model: str = "smagorinsky", coefficient: float | str = 0.17,
                 delta: float | None = None, local: bool = False):
        self.sim, self.model, self.coefficient, self.local = sim, model, coefficient, local
        self.delta = sim.L / sim.n if delta is None else float(delta)
        eddy_viscosity(sim, torch.zeros(1, sim.n, sim.n), model, 0.0, self.delta)  # validates the model name

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        c = self.coefficient
        if isinstance(c, str):  # "dynamic"
            c = dynamic_coefficient(self.sim, w, self.model, self.delta, local=self.local)
            c = c.view(*c.shape, 1, 1)
        nu_e = eddy_viscosity(self.sim, w, self.model, c, self.delta)
        return eddy_tendency(self.sim, w, nu_e, self.local)


def spectral_cutoff(w: torch.Tensor, n_keep: int) -> torch.Tensor:
    """Sharp spectral filter keeping ``|k_x|, |k_y| < n_keep / 2`` (integer wavenumbers), same grid."""
    n = w.shape[-1]
    kx = torch.fft.fftfreq(n, d=1.0 / n, device=w.device).abs()[:, None]
    ky = torch.fft.rfftfreq(n, d=1.0 / n, device=w.device)[None, :]
    mask = (kx < n_keep / 2) & (ky < n_keep / 2)
    return torch.fft.irfft2(torch.fft.rfft2(w) * mask, s=(n, n))


def gaussian_filter(w: torch.Tensor, width: float, length: float = 2 * math.pi) -> torch.Tensor:
    """Gaussian filter of width ``width`` (transfer function ``exp(-k^2 width^2 / 24)``), same grid."""
    n = w.shape[-1]
    kx = 2 * math.pi / length * torch.fft.fftfreq(n, d=1.0 / n, device=w.device, dtype=w.dtype)[:, None]
    ky = 2 * math.pi / length * torch.fft.rfftfreq(n, d=1.0 / n, device=w.device, dtype=w.dtype)[None, :]
    return torch.fft.irfft2(torch.fft.rfft2(w) * torch.exp(-(kx**2 + ky**2) * width**2 / 24), s=(n, n))


def coarsen(w: torch.Tensor, n_coarse: int) -> torch.Tensor:
    """Spectral truncation of a fine ``(n, n)`` field to an ``(n_coarse, n_coarse)`` grid."""
    n = w.shape[-1]
    w_hat = torch.fft.rfft2(w)
    half = n_coarse // 2
    w_hat = torch.cat([w_hat[..., :half, : half + 1], w_hat[..., n - half:, : half + 1]], dim=-2)
    w_hat[..., half, :] = 0  # drop the ambiguous Nyquist row and column of the coarse grid
    w_hat[..., :, half] = 0
    return torch.fft.irfft2(w_hat * (n_coarse / n) ** 2, s=(n_coarse, n_coarse))


def subgrid_term(fine: NavierStokes2D, w: torch.Tensor, n_coarse: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact subgrid forcing of a DNS field: ``Pi = bar(J(psi, w)) - J(bar psi, bar w)``.

    The bar is :func:`coarsen` to ``n_coarse``; ``J(bar psi, bar w)`` is the coarse simulator's own dealiased
    Jacobian (its 2/3 rule drops the top third of ``bar w``'s modes first), so that ``-Pi`` added to the coarse
    right-hand side gives ``d bar w / dt`` exactly on the band it resolves. Returns ``(bar w, Pi)`` on the
    coarse grid.
    """
    j_fine = fine.to_physical(fine.jacobian_hat(fine.to_spectral(w)))
    w_bar = coarsen(w, n_coarse)
    coarse = NavierStokes2D(n=n_coarse, L=fine.L, dealias=fine.dealias)
    j_coarse = coarse.to_physical(coarse.jacobian_hat(coarse.to_spectral(w_bar)))  # as the coarse model sees it
    return w_bar, coarsen(j_fine, n_coarse) - j_coarse


def germano_l(sim: NavierStokes2D, w: torch.Tensor, test_n: int) -> torch.Tensor:
    """``L = test(J(psi, w)) - J(test psi, test w)`` on the simulator's grid (its dealiased Jacobian, as in
    :func:`subgrid_term`)."""
    def jac(field):
        return sim.to_physical(sim.jacobian_hat(sim.to_spectral(field)))

    return spectral_cutoff(jac(w), test_n) - jac(spectral_cutoff(w, test_n))


def germano_m(sim: NavierStokes2D, w: torch.Tensor, model: str, delta: float, test_ratio: float = 2.0,
               local: bool = False) -> torch.Tensor:
    """``M``: the unit-coefficient model at the test scale minus the test-filtered model (as a Pi)."""
    test_n = sim.n // 2
    w_test = spectral_cutoff(w, test_n)
    grid_model = eddy_tendency(sim, w, eddy_viscosity(sim, w, model, 1.0, delta), local)
    test_model = eddy_tendency(sim, w_test, eddy_viscosity(sim, w_test, model, 1.0, test_ratio * delta), local)
    return -(test_model - spectral_cutoff(grid_model, test_n))


def dynamic_coefficient(sim: NavierStokes2D, w: torch.Tensor, model: str, delta: float,
                        test_ratio: float = 2.0, local: bool = False,
                        leonard: torch.Tensor | None = None) -> torch.Tensor:
    """Germano–Lilly coefficient per sample ``(*batch,)``: ``c = <(L M)_+> / <M M>``.

    The test filter keeps ``n / 4`` modes per axis (width ``test_ratio * delta``); the model enters as
    ``-tendency`` (the closure term a Jacobian residual corresponds to), with unit coefficient, so that
    ``L ~ c M``. For Smagorinsky the returned value is ``C_S^2``-like and is converted back to ``C_S``
    (``sqrt``); for Leith ``C_L^3`` -> ``C_L``. ``leonard`` replaces the resolved ``L`` (for tests or
    other definitions of the resolved stress).
    """
    m = germano_m(sim, w, model, delta, test_ratio, local)
    ell = germano_l(sim, w, sim.n // 2) if leonard is None else leonard
    lm = (ell * m).mean((-2, -1)).clamp_min(0)
    raw = lm / (m * m).mean((-2, -1)).clamp_min(torch.finfo(w.dtype).tiny)
    return raw.sqrt() if model == "smagorinsky" else raw.pow(1 / 3)
