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
