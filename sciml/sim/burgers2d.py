"""Viscous Burgers in 2D, ``u_t + (u . grad) u = nu lap u`` for a velocity ``u = (u, v)``: pseudo-spectral ETDRK4."""

from __future__ import annotations

import math

import torch

from sciml.sim.base import Closure, Simulator
from sciml.sim.integrators import etdrk4_step
from sciml.sim.spectral import etdrk4_coefficients, rfft2_wavenumbers, two_thirds_mask_2d


class Burgers2D(Simulator):
    """``u_t + u u_x + v u_y = nu lap u``, ``v_t + u v_x + v v_y = nu lap v`` on ``[0, L)^2``, periodic.

    States are ``(*batch, 2, n, n)``: the components ``(u, v)``, then the grid indexed ``[x, y]`` at nodes
    ``(i L / n, j L / n)`` (the MM-PDE benchmark's 2D Burgers). Fourier pseudo-spectral with the 2/3 rule on the
    products and ETDRK4 on the diagonal viscous term; batched, float32/float64, any device, differentiable
    (checked against the Cole–Hopf solution ``u = -2 nu grad log phi``, ``phi_t = nu lap phi``).
    A closure maps a state to a tendency of the same shape.
    """

    def __init__(self, n: int = 64, L: float = 2 * math.pi, nu: float = 0.01):
        super().__init__()
        if n < 4 or n % 2:
            raise ValueError(f"n must be even and >= 4, got {n}")
        if nu <= 0:
            raise ValueError(f"nu must be positive, got {nu}")
        self.n, self.L, self.nu = n, float(L), float(nu)
        self._cache: dict = {}

    @property
    def space_dims(self) -> int:
        return 3  # the component axis travels with the grid: rollouts are (*batch, T, 2, n, n)

    @property
    def grid(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Node coordinates ``x[i, j], y[i, j]``, each ``(n, n)``, float64."""
        x = torch.arange(self.n, dtype=torch.float64) * self.L / self.n
        return torch.meshgrid(x, x, indexing="ij")

    def _check(self, state: torch.Tensor) -> None:
        if tuple(state.shape[-3:]) != (2, self.n, self.n):
            raise ValueError(f"Burgers2D state must end with (2, {self.n}, {self.n}), got {tuple(state.shape)}")

    def _ops(self, dtype: torch.dtype, device) -> dict[str, torch.Tensor]:
        key = ("ops", dtype, device)
        if key not in self._cache:
            kx, ky = rfft2_wavenumbers(self.n, self.L)
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            mask = two_thirds_mask_2d(self.n).to(torch.float64)
            self._cache[key] = {"ikx": (1j * kx + 0 * ky).to(dtype=cdtype, device=device),
                                "iky": (1j * ky + 0 * kx).to(dtype=cdtype, device=device),
                                "neg_mask": (-mask).to(dtype=cdtype, device=device),
                                "k2": (kx**2 + ky**2).to(dtype=dtype, device=device)}
        return self._cache[key]

    def _advection_hat(self, u_hat: torch.Tensor, closure: Closure | None) -> torch.Tensor:
        """``F[-(u . grad) u (+ closure)]``, dealiased, from ``u_hat`` ``(*batch, 2, n, n//2+1)``."""
        ops, n = self._ops(_real(u_hat), u_hat.device), self.n
        u = torch.fft.irfft2(u_hat, s=(n, n))
        ux = torch.fft.irfft2(u_hat * ops["ikx"], s=(n, n))
        uy = torch.fft.irfft2(u_hat * ops["iky"], s=(n, n))
        advection = u[..., :1, :, :] * ux + u[..., 1:, :, :] * uy
        out = torch.fft.rfft2(advection) * ops["neg_mask"]
        return out if closure is None else out + torch.fft.rfft2(closure(u))

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        self._check(state)
        u_hat = torch.fft.rfft2(state)
        lap = -self.nu * self._ops(state.dtype, state.device)["k2"] * u_hat
        return torch.fft.irfft2(self._advection_hat(u_hat, None) + lap, s=(self.n, self.n))

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        self._check(state)
        key = ("etdrk4", float(dt), state.dtype, state.device)
        if key not in self._cache:
            kx, ky = rfft2_wavenumbers(self.n, self.L)
            coef = etdrk4_coefficients(-self.nu * (kx**2 + ky**2), dt)
            cdtype = torch.complex128 if state.dtype == torch.float64 else torch.complex64
            self._cache[key] = {k: c.to(dtype=cdtype, device=state.device) for k, c in coef.items()}
        u_hat = etdrk4_step(torch.fft.rfft2(state), lambda v: self._advection_hat(v, closure), self._cache[key])
        return torch.fft.irfft2(u_hat, s=(self.n, self.n))


def cole_hopf_solution(x: torch.Tensor, y: torch.Tensor, t: float, nu: float) -> torch.Tensor:
    """An exact periodic solution on ``[0, 2 pi)^2``: ``u = -2 nu grad log phi`` with
    ``phi = 3 + exp(-nu t) cos x + exp(-2 nu t) sin(x + y)``, which solves ``phi_t = nu lap phi``.
    Returns ``(2, *x.shape)``."""
    a, b = math.exp(-nu * t), math.exp(-2 * nu * t)
    phi = 3 + a * torch.cos(x) + b * torch.sin(x + y)
    phi_x = -a * torch.sin(x) + b * torch.cos(x + y)
    phi_y = b * torch.cos(x + y)
    return torch.stack([-2 * nu * phi_x / phi, -2 * nu * phi_y / phi])


def _real(z: torch.Tensor) -> torch.dtype:
    return torch.float64 if z.dtype == torch.complex128 else torch.float32
