"""Kuramoto–Sivashinsky equation on a periodic interval, pseudo-spectral with ETDRK4."""

from __future__ import annotations

import torch

from sciml.sim.base import Closure, Simulator, check_periodic_1d
from sciml.sim.integrators import etdrk4_step
from sciml.sim.spectral import etdrk4_coefficients, rfft_wavenumbers, two_thirds_mask


class KuramotoSivashinsky(Simulator):
    """``u_t + u u_x + u_xx + nu u_xxxx = 0`` on ``[0, L)``, periodic.

    In Fourier space ``v_t = (k^2 - nu k^4) v - (i k / 2) F[u^2]``: the linear part is integrated exactly
    by ETDRK4 (Cox & Matthews 2002, Kassam & Trefethen 2005 contour coefficients), the nonlinear term
    pseudo-spectrally. The spatial mean of ``u`` is conserved.
    Args:
      n: grid points; the grid is ``x_j = j L / n``.
      L: domain length (same units as x).
      nu: hyperviscosity coefficient (1 in the standard scaling).
      dealias: zero the modes above 2/3 of the Nyquist wavenumber in the nonlinear term.
    States are ``(*batch, n)`` real tensors, float32 or float64, on any device.
    """

    def __init__(self, n: int = 256, L: float = 64.0, nu: float = 1.0, dealias: bool = False):
        super().__init__()
        if n < 4 or L <= 0 or nu <= 0:
            raise ValueError(f"need n >= 4, L > 0, nu > 0; got n={n}, L={L}, nu={nu}")
        self.n, self.L, self.nu, self.dealias = n, float(L), float(nu), dealias
        self._cache: dict[tuple, tuple[torch.Tensor, ...]] = {}

    @property
    def space_dims(self) -> int:
        return 1

    @property
    def grid(self) -> torch.Tensor:
        """Grid points ``(n,)`` in float64."""
        return torch.arange(self.n, dtype=torch.float64) * self.L / self.n

    def _operators(self, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Wavenumbers and the nonlinear-term factor ``-i k / 2`` (dealiased), in ``dtype``'s complex type."""
        key = ("ops", dtype, device)
        if key not in self._cache:
            k = rfft_wavenumbers(self.n, self.L)
            g = -0.5j * k.to(torch.complex128)
            if self.dealias:
                g = g * two_thirds_mask(self.n)
            cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            self._cache[key] = (k.to(dtype=dtype, device=device), g.to(dtype=cdtype, device=device))
        return self._cache[key]

    def linear_operator(self) -> torch.Tensor:
        """Eigenvalues ``k^2 - nu k^4`` of the linear part, float64, ``(n // 2 + 1,)``."""
        k = rfft_wavenumbers(self.n, self.L)
        return k**2 - self.nu * k**4

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """``u_t = -u u_x - u_xx - nu u_xxxx``, same shape as ``state``."""
        check_periodic_1d(state, self.n, "KS")
        k, g = self._operators(state.dtype, state.device)
        v = torch.fft.rfft(state)
        lin = (k**2 - self.nu * k**4) * v
        nonlin = g * torch.fft.rfft(state**2)
        return torch.fft.irfft(lin + nonlin, n=self.n)

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        """One ETDRK4 step of size ``dt``; ``closure(u)`` is added to the nonlinear term."""
        check_periodic_1d(state, self.n, "KS")
        _, g = self._operators(state.dtype, state.device)
        key = ("etdrk4", float(dt), state.dtype, state.device)
        if key not in self._cache:
            coef = etdrk4_coefficients(self.linear_operator(), dt)
            self._cache[key] = {name: c.to(dtype=g.dtype, device=state.device) for name, c in coef.items()}
        coef = self._cache[key]
        n = self.n

        def nonlinear(v: torch.Tensor) -> torch.Tensor:
            u = torch.fft.irfft(v, n=n)
            out = g * torch.fft.rfft(u * u)
            if closure is not None:
                out = out + torch.fft.rfft(closure(u))
            return out

        return torch.fft.irfft(etdrk4_step(torch.fft.rfft(state), nonlinear, coef), n=n)
