"""Viscous Burgers ``u_t + u u_x = nu u_xx`` in 1D: pseudo-spectral ETDRK4 or WENO5 finite volumes."""

from __future__ import annotations

import torch

from sciml.sim.base import Closure, Simulator
from sciml.sim.integrators import etdrk4_step
from sciml.sim.spectral import etdrk4_coefficients, rfft_wavenumbers, two_thirds_mask
from sciml.sim.weno import lax_friedrichs_weno5_flux


class Burgers(Simulator):
    """``u_t + (u^2 / 2)_x = nu u_xx`` on ``[0, L)``.

    ``scheme="spectral"``: periodic, Fourier pseudo-spectral with 2/3 dealiasing and ETDRK4 (smooth
    viscous solutions; checked against Cole–Hopf). ``scheme="weno5"``: finite volumes with WENO5-JS
    reconstruction of the Lax–Friedrichs split flux, second-order central viscosity and SSP-RK3 in time
    (shocks; checked against exact Riemann solutions), with ``boundary="periodic"`` or ``"outflow"``
    (zero-gradient ghost cells). WENO5 steps check the CFL number ``max|u| dt / dx <= 1`` and raise when it
    is exceeded. States are ``(*batch, n)`` cell values (cell centres ``(j + 1/2) L / n`` for WENO5,
    nodes ``j L / n`` for the spectral scheme).
    """

    def __init__(self, n: int = 256, L: float = 2 * torch.pi, nu: float = 0.01, scheme: str = "spectral",
                 boundary: str = "periodic"):
        super().__init__()
        if scheme not in ("spectral", "weno5"):
            raise ValueError(f"unknown scheme {scheme!r} (spectral or weno5)")
        if boundary not in ("periodic", "outflow") or (scheme == "spectral" and boundary != "periodic"):
            raise ValueError(f"boundary {boundary!r} is not available for the {scheme} scheme")
        self.n, self.L, self.nu, self.scheme, self.boundary = n, float(L), float(nu), scheme, boundary
        self.dx = self.L / n
        self._cache: dict = {}

    @property
    def space_dims(self) -> int:
        return 1

    @property
    def grid(self) -> torch.Tensor:
        offset = 0.5 if self.scheme == "weno5" else 0.0
        return (torch.arange(self.n, dtype=torch.float64) + offset) * self.dx

    def _check(self, u: torch.Tensor) -> None:
        if u.shape[-1] != self.n:
            raise ValueError(f"Burgers state must end with n={self.n} points, got shape {tuple(u.shape)}")

    # -- spectral -------------------------------------------------------------------------------------
    def _spectral_ops(self, dtype, device):
        key = ("ops", dtype, device)
        if key not in self._cache:
            k = rfft_wavenumbers(self.n, self.L)
            g = -0.5j * k.to(torch.complex128) * two_thirds_mask(self.n)
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            self._cache[key] = (k.to(dtype=dtype, device=device), g.to(dtype=cdtype, device=device))
        return self._cache[key]

    # -- finite volumes -------------------------------------------------------------------------------
    def _pad(self, u: torch.Tensor) -> torch.Tensor:
        """Three ghost cells on each side (periodic or zero-gradient)."""
        if self.boundary == "periodic":
            return torch.cat([u[..., -3:], u, u[..., :3]], dim=-1)
        return torch.cat([u[..., :1].expand(*u.shape[:-1], 3), u, u[..., -1:].expand(*u.shape[:-1], 3)], dim=-1)

    def _fv_rhs(self, u: torch.Tensor) -> torch.Tensor:
        padded = self._pad(u)
        speed = padded.abs().amax(-1, keepdim=True)
        flux = lax_friedrichs_weno5_flux(padded, lambda v: 0.5 * v * v, speed)  # at i + 1/2 of padded cells
        f_right = flux[..., 3:3 + self.n]
        f_left = flux[..., 2:2 + self.n]
        out = -(f_right - f_left) / self.dx
        if self.nu:
            out = out + self.nu * (padded[..., 4:4 + self.n] - 2 * u + padded[..., 2:2 + self.n]) / self.dx**2
        return out

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        self._check(state)
        if self.scheme == "weno5":
            return self._fv_rhs(state)
        k, g = self._spectral_ops(state.dtype, state.device)
        v = torch.fft.rfft(state)
        return torch.fft.irfft(-self.nu * k**2 * v + g * torch.fft.rfft(state**2), n=self.n)

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        self._check(state)
        if self.scheme == "weno5":
            cfl = float(state.detach().abs().max()) * dt / self.dx
            if not cfl <= 1.0:
                raise FloatingPointError(f"Burgers WENO5 step unstable: CFL number {cfl:.3g} > 1 "
                                         f"(max|u| dt / dx with dt={dt}, dx={self.dx:.4g})")

            def f(u):
                return self._fv_rhs(u) if closure is None else self._fv_rhs(u) + closure(u)

            u1 = state + dt * f(state)
            u2 = 0.75 * state + 0.25 * (u1 + dt * f(u1))
            return state / 3 + 2 / 3 * (u2 + dt * f(u2))
        _, g = self._spectral_ops(state.dtype, state.device)
        key = ("etdrk4", float(dt), state.dtype, state.device)
        if key not in self._cache:
            k = rfft_wavenumbers(self.n, self.L)
            coef = etdrk4_coefficients(-self.nu * k**2, dt)
            self._cache[key] = {name: c.to(dtype=g.dtype, device=state.device) for name, c in coef.items()}
        n = self.n

        def nonlinear(v):
            u = torch.fft.irfft(v, n=n)
            out = g * torch.fft.rfft(u * u)
            return out if closure is None else out + torch.fft.rfft(closure(u))

        return torch.fft.irfft(etdrk4_step(torch.fft.rfft(state), nonlinear, self._cache[key]), n=n)
