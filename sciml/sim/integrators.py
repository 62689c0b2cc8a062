"""Time integrators shared by the simulators."""

from __future__ import annotations

from collections.abc import Callable

import torch


def etdrk4_step(
    v: torch.Tensor,
    nonlinear: Callable[[torch.Tensor], torch.Tensor],
    coef: dict[str, torch.Tensor],
) -> torch.Tensor:
    """One ETDRK4 step of ``v_t = L v + N(v)`` with ``L`` diagonal (Cox & Matthews 2002).

    Fourth order for non-stiff problems; stiff problems show order reduction at large steps.
    Args:
      v: state in Fourier space, complex, broadcastable against the coefficients.
      nonlinear: ``N(v)``, same shape as ``v``.
      coef: output of :func:`sciml.sim.spectral.etdrk4_coefficients` cast to ``v``'s dtype.
    """
    e, e2, q = coef["E"], coef["E2"], coef["Q"]
    nv = nonlinear(v)
    a = e2 * v + q * nv
    na = nonlinear(a)
    b = e2 * v + q * na
    nb = nonlinear(b)
    c = e2 * a + q * (2 * nb - nv)
    nc = nonlinear(c)
    return e * v + coef["f1"] * nv + 2 * coef["f2"] * (na + nb) + coef["f3"] * nc


def rk4_step(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dt: float) -> torch.Tensor:
    """Classical fourth-order Runge–Kutta step of ``x' = f(x)``."""
    k1 = f(x)
    k2 = f(x + 0.5 * dt * k1)
    k3 = f(x + 0.5 * dt * k2)
    k4 = f(x + dt * k3)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
