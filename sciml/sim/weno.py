"""Fifth-order WENO reconstruction (Jiang & Shu 1996) for finite-volume conservation laws in 1D."""

from __future__ import annotations

import torch

_EPS = 1e-6
_D = (0.1, 0.6, 0.3)


def weno5_left(v: torch.Tensor) -> torch.Tensor:
    """Left-biased WENO5-JS value at ``i + 1/2`` from cell values ``v`` (periodic along the last dim).

    Fifth order where the solution is smooth; the nonlinear weights fall back to the smoothest
    three-point stencil next to a discontinuity.
    """
    vm2, vm1, v0, vp1, vp2 = (torch.roll(v, s, -1) for s in (2, 1, 0, -1, -2))
    q0 = (2 * vm2 - 7 * vm1 + 11 * v0) / 6
    q1 = (-vm1 + 5 * v0 + 2 * vp1) / 6
    q2 = (2 * v0 + 5 * vp1 - vp2) / 6
    b0 = 13 / 12 * (vm2 - 2 * vm1 + v0) ** 2 + 0.25 * (vm2 - 4 * vm1 + 3 * v0) ** 2
    b1 = 13 / 12 * (vm1 - 2 * v0 + vp1) ** 2 + 0.25 * (vm1 - vp1) ** 2
    b2 = 13 / 12 * (v0 - 2 * vp1 + vp2) ** 2 + 0.25 * (3 * v0 - 4 * vp1 + vp2) ** 2
    a0, a1, a2 = (d / (_EPS + b) ** 2 for d, b in zip(_D, (b0, b1, b2), strict=True))
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


def weno5_right(v: torch.Tensor) -> torch.Tensor:
    """Right-biased WENO5-JS value at ``i + 1/2`` (the mirror image of :func:`weno5_left`)."""
    return torch.roll(torch.flip(weno5_left(torch.flip(v, (-1,))), (-1,)), -1, -1)


def lax_friedrichs_weno5_flux(u: torch.Tensor, flux, max_speed: torch.Tensor) -> torch.Tensor:
    """Numerical flux at every ``i + 1/2``: WENO5 of the Lax–Friedrichs split ``f +- a u``."""
    f = flux(u)
    return weno5_left(0.5 * (f + max_speed * u)) + weno5_right(0.5 * (f - max_speed * u))
