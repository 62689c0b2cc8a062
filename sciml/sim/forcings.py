"""Vorticity forcings for :class:`sciml.sim.NavierStokes2D`, as physical fields ``(n, n)`` indexed ``[x, y]``."""

from __future__ import annotations

import math

import torch


def grid_2d(n: int, length: float, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell-corner coordinates ``x, y`` of shape ``(n, n)`` (``indexing="ij"``)."""
    c = torch.arange(n, dtype=dtype) * length / n
    return torch.meshgrid(c, c, indexing="ij")


def kolmogorov(n: int, length: float = 2 * math.pi, k_f: int = 4, amplitude: float = 1.0,
               dtype=torch.float64) -> torch.Tensor:
    """Kolmogorov forcing of Kochkov et al. (2021): the velocity forcing ``A sin(k_f y) x_hat``.

    In vorticity form ``f = curl(F) = -dF_x/dy = -A k_f cos(k_f y)`` (wavenumber ``k_f`` in units of
    ``2 pi / L``).
    """
    _, y = grid_2d(n, length, dtype)
    k = 2 * math.pi / length * k_f
    return -amplitude * k * torch.cos(k * y)


def py2d(n: int, length: float = 2 * math.pi, k_f: int = 4, amplitude: float = 1.0,
         dtype=torch.float64) -> torch.Tensor:
    """The py2d / SMARL vorticity forcing ``A k_f [cos(k_f x) + cos(k_f y)]``."""
    x, y = grid_2d(n, length, dtype)
    k = 2 * math.pi / length * k_f
    return amplitude * k_f * (torch.cos(k * x) + torch.cos(k * y))


def fno_benchmark(n: int, length: float = 1.0, k_f: int = 1, amplitude: float = 0.1,
                  dtype=torch.float64) -> torch.Tensor:
    """The FNO paper's vorticity forcing ``A (sin(2 pi k_f (x + y) / L) + cos(2 pi k_f (x + y) / L))``, A = 0.1."""
    x, y = grid_2d(n, length, dtype)
    phase = 2 * math.pi * k_f * (x + y) / length
    return amplitude * (torch.sin(phase) + torch.cos(phase))


FORCINGS = {"kolmogorov": kolmogorov, "py2d": py2d, "fno": fno_benchmark}


def gaussian_random_field(n: int, length: float = 1.0, batch: tuple[int, ...] = (), alpha: float = 2.5,
                          tau: float = 7.0, sigma: float | None = None, generator: torch.Generator | None = None,
                          dtype=torch.float64) -> torch.Tensor:
    """Samples of ``N(0, sigma^2 (-lap + tau^2)^(-alpha))`` on a periodic square (the FNO benchmark's initial
    vorticity with ``alpha = 2.5``, ``tau = 7``, ``sigma = tau^(alpha - 1) = 7^1.5``), zero mean, ``(*batch, n, n)``."""
    from sciml.sim.spectral import rfft2_wavenumbers

    sigma = tau ** (alpha - 1) if sigma is None else sigma
    kx, ky = rfft2_wavenumbers(n, length, dtype)
    std = sigma * (kx**2 + ky**2 + tau**2) ** (-alpha / 2)
    std[0, 0] = 0.0
    noise = torch.randn(*batch, n, n // 2 + 1, 2, generator=generator, dtype=dtype)
    coeff = torch.view_as_complex(noise.contiguous()) * std * n * n / math.sqrt(2)
    return torch.fft.irfft2(coeff, s=(n, n))


def mcwilliams_initial(n: int, length: float = 2 * math.pi, batch: tuple[int, ...] = (), k0: float = 6.0,
                       generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
    """Random vorticity for decaying turbulence (McWilliams 1984): energy spectrum peaked at ``k0``,
    ``E(k) ~ k^6 / (1 + k / k0)^18`` with random phases, inside the 2/3 band (so it is already dealiased),
    normalised to kinetic energy ``0.5 <u^2 + v^2> = 0.5``. Returns ``(*batch, n, n)``.
    """
    from sciml.sim.spectral import rfft2_wavenumbers, two_thirds_mask_2d

    kx, ky = rfft2_wavenumbers(n, length, dtype)
    k = torch.sqrt(kx**2 + ky**2) * length / (2 * math.pi)
    # per-mode |w_hat|^2 ~ Z(k) / k = k E(k): |w_hat| ~ k^3.5 / (1 + k / k0)^9
    amplitude = torch.where(k > 0, k**3.5 / (1 + k / k0) ** 9, torch.zeros_like(k))
    phase = torch.rand(*batch, *k.shape, generator=generator, dtype=dtype) * 2 * math.pi
    w_hat = amplitude * torch.exp(1j * phase) * n * n * two_thirds_mask_2d(n)
    w = torch.fft.irfft2(w_hat, s=(n, n))
    w_hat = torch.fft.rfft2(w)
    k2 = kx**2 + ky**2
    psi_hat = torch.where(k2 > 0, -w_hat / torch.where(k2 > 0, k2, 1), 0)
    energy = 0.5 * ((torch.fft.irfft2(1j * ky * psi_hat, s=(n, n)) ** 2
                     + torch.fft.irfft2(1j * kx * psi_hat, s=(n, n)) ** 2).mean((-2, -1), keepdim=True))
    return w / torch.sqrt(2 * energy)
