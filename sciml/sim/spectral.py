"""Fourier helpers for periodic domains: wavenumbers, dealiasing masks, ETDRK4 coefficients."""

from __future__ import annotations

import math

import torch


def rfft_wavenumbers(n: int, length: float, dtype=torch.float64, device=None) -> torch.Tensor:
    """Angular wavenumbers ``2 pi k / L`` of ``torch.fft.rfft`` on ``n`` points, shape ``(n // 2 + 1,)``."""
    return 2 * math.pi / length * torch.fft.rfftfreq(n, d=1.0 / n, dtype=dtype, device=device)


def two_thirds_mask(n: int, device=None) -> torch.Tensor:
    """Boolean mask of the rfft modes kept by the 2/3 rule (|k| < n/3), shape ``(n // 2 + 1,)``."""
    k = torch.arange(n // 2 + 1, device=device)
    return k < n / 3


def etdrk4_coefficients(linear: torch.Tensor, dt: float, n_contour: int = 32) -> dict[str, torch.Tensor]:
    """ETDRK4 coefficients for a diagonal linear operator (Cox & Matthews 2002).

    The phi-functions are evaluated by a contour integral around each ``dt * linear`` value
    (Kassam & Trefethen 2005), which avoids the cancellation of the direct formulas near 0.
    Args:
      linear: eigenvalues of the linear operator, any shape, real or complex (computed in float64).
      dt: time step.
      n_contour: points on the unit circle of the contour integral (32 is accurate to round-off).
    Returns:
      ``E, E2, Q, f1, f2, f3``, each of ``linear``'s shape, complex128 (cast them to the state's dtype).
    """
    lin = linear.to(torch.complex128)
    h = dt
    roots = torch.exp(1j * math.pi * (torch.arange(1, n_contour + 1, dtype=torch.float64) - 0.5) / n_contour)
    lr = h * lin[..., None] + roots.to(lin.device)
    e_lr = torch.exp(lr)

    def mean(z: torch.Tensor) -> torch.Tensor:
        out = z.mean(dim=-1)
        # The contour is symmetric about the real axis when the operator is real: keep only the real part.
        return out.real.to(torch.complex128) if not torch.is_complex(linear) else out

    return {
        "E": torch.exp(h * lin),
        "E2": torch.exp(h * lin / 2),
        "Q": h * mean((torch.exp(lr / 2) - 1) / lr),
        "f1": h * mean((-4 - lr + e_lr * (4 - 3 * lr + lr**2)) / lr**3),
        "f2": h * mean((2 + lr + e_lr * (lr - 2)) / lr**3),
        "f3": h * mean((-4 - 3 * lr - lr**2 + e_lr * (4 - lr)) / lr**3),
    }


def rfft2_wavenumbers(n: int, length: float, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular wavenumbers of ``torch.fft.rfft2`` on an ``n x n`` grid indexed ``[x, y]``.

    Returns ``kx`` ``(n, 1)`` (full axis, dim -2) and ``ky`` ``(1, n // 2 + 1)`` (half axis, dim -1).
    """
    scale = 2 * math.pi / length
    kx = scale * torch.fft.fftfreq(n, d=1.0 / n, dtype=dtype, device=device)[:, None]
    ky = scale * torch.fft.rfftfreq(n, d=1.0 / n, dtype=dtype, device=device)[None, :]
    return kx, ky


def two_thirds_mask_2d(n: int, device=None) -> torch.Tensor:
    """2/3-rule mask for rfft2 modes: ``|k_x| < n/3`` and ``|k_y| < n/3`` (integer wavenumbers)."""
    kx = torch.fft.fftfreq(n, d=1.0 / n, device=device).abs()[:, None]
    ky = torch.fft.rfftfreq(n, d=1.0 / n, device=device)[None, :]
    return (kx < n / 3) & (ky < n / 3)


def nyquist_free_mask_2d(n: int, device=None) -> torch.Tensor:
    """rfft2 modes without the Nyquist row and column (``|k_x| < n/2``, ``k_y < n/2``)."""
    kx = torch.fft.fftfreq(n, d=1.0 / n, device=device).abs()[:, None]
    ky = torch.fft.rfftfreq(n, d=1.0 / n, device=device)[None, :]
    return (kx < n / 2) & (ky < n / 2)


def pad_spectrum_2d(w_hat: torch.Tensor, m: int) -> torch.Tensor:
    """Zero-pad rfft2 coefficients of an ``n x n`` grid to an ``m x m`` grid (m > n), amplitudes kept."""
    n = w_hat.shape[-2]
    out = w_hat.new_zeros(*w_hat.shape[:-2], m, m // 2 + 1)
    half = n // 2
    out[..., :half, : n // 2 + 1] = w_hat[..., :half, :]
    out[..., m - half:, : n // 2 + 1] = w_hat[..., n - half:, :]
    return out * (m / n) ** 2


def truncate_spectrum_2d(w_hat: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse of :func:`pad_spectrum_2d`: keep the modes of an ``n x n`` grid."""
    m = w_hat.shape[-2]
    half = n // 2
    out = torch.cat([w_hat[..., :half, : n // 2 + 1], w_hat[..., m - half:, : n // 2 + 1]], dim=-2)
    return out * (n / m) ** 2
