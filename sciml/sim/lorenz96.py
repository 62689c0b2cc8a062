"""Lorenz96, one scale (Lorenz 1996) and two scales (m2lines ``L96_2t_xdot_ydot`` form)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sciml.sim.base import Closure, Coefficient, Simulator, coefficient, coefficient_tensors
from sciml.sim.integrators import rk4_step

PRESETS: dict[str, dict[str, float]] = {
    "lorenz96_single": {"K": 40, "F": 8.0},  # chaotic single scale, leading Lyapunov exponent ~1.69
    "lorenz1996": {"K": 36, "J": 10, "h": 1.0, "b": 10.0, "c": 10.0, "F": 10.0},
    "wilks2005": {"K": 8, "J": 32, "h": 1.0, "b": 10.0, "c": 10.0, "F": 20.0},  # m2lines
    "wilks2005_f18": {"K": 8, "J": 32, "h": 1.0, "b": 10.0, "c": 10.0, "F": 18.0},
}


class _ODEFunc(nn.Module):
    """``f(t, x)`` for torchdiffeq; a module so that the adjoint sees the closure's parameters."""

    def __init__(self, sim: Simulator, closure: Closure | None):
        super().__init__()
        self.sim = sim
        self.closure = closure if isinstance(closure, nn.Module) else None
        self._closure_fn = closure

    def forward(self, t, x):
        dx = self.sim.rhs(x, t)
        return dx if self._closure_fn is None else dx + self._closure_fn(x)


class _Lorenz96Base(Simulator):
    """Time stepping shared by both models: built-in RK4, or any torchdiffeq method (optionally adjoint)."""

    def __init__(self, method: str = "rk4", adjoint: bool = False):
        super().__init__()
        self.method, self.adjoint = method, adjoint

    @property
    def space_dims(self) -> int:
        return 1

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        """One step of size ``dt``: built-in RK4 when ``method="rk4"`` and not adjoint, else torchdiffeq."""
        self._check(state)
        if self.method == "rk4" and not self.adjoint:
            f = (lambda x: self.rhs(x)) if closure is None else (lambda x: self.rhs(x) + closure(x))
            return rk4_step(f, state, dt)
        import torchdiffeq

        func = _ODEFunc(self, closure)
        t = torch.tensor([0.0, dt], dtype=state.dtype, device=state.device)
        if self.adjoint:
            params = tuple(func.closure.parameters()) if func.closure is not None else ()
            params = params + coefficient_tensors(*self.coefficients())
            return torchdiffeq.odeint_adjoint(func, state, t, method=self.method, adjoint_params=params)[-1]
        return torchdiffeq.odeint(func, state, t, method=self.method)[-1]

    def coefficients(self) -> tuple[Coefficient, ...]:
        """The model's coefficients (floats or tensors, see :func:`sciml.sim.base.coefficient`)."""
        raise NotImplementedError

    def _check(self, state: torch.Tensor) -> None:
        if state.shape[-1] != self.state_size:
            raise ValueError(f"{type(self).__name__} state must end with {self.state_size} values, "
                             f"got shape {tuple(state.shape)}")


class Lorenz96(_Lorenz96Base):
    """``dX_k/dt = (X_{k+1} - X_{k-2}) X_{k-1} - X_k + F``, k periodic in ``0..K-1``.

    States are ``(*batch, K)``. With a closure it is the coarse ("GCM") model of the two-scale system:
    ``closure(X)`` stands in for the coupling ``-(h c / b) sum_j Y_{j,k}``.
    Args:
      K: number of variables; F: forcing (a float, or a tensor to differentiate with respect to it; shape
      ``(*batch, 1)`` for one value per batch member); method: ``"rk4"`` (built in) or any torchdiffeq method;
      adjoint: backpropagate with torchdiffeq's adjoint.
    """

    def __init__(self, K: int = 40, F: Coefficient = 8.0, method: str = "rk4", adjoint: bool = False):
        super().__init__(method, adjoint)
        if K < 4:
            raise ValueError(f"Lorenz96 needs K >= 4, got {K}")
        self.K, self.F = K, coefficient(F)

    def coefficients(self) -> tuple[Coefficient, ...]:
        return (self.F,)

    @property
    def state_size(self) -> int:
        return self.K

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        x = state
        return (torch.roll(x, -1, -1) - torch.roll(x, 2, -1)) * torch.roll(x, 1, -1) - x + self.F

    @classmethod
    def from_preset(cls, name: str, **overrides) -> Lorenz96:
        params = {k: v for k, v in PRESETS[name].items() if k in ("K", "F")}
        return cls(**{**params, **overrides})


@dataclass(frozen=True)
class TwoScaleState:
    """Views of a two-scale state: ``X`` ``(*batch, K)`` and ``Y`` ``(*batch, K, J)``."""

    X: torch.Tensor
    Y: torch.Tensor


class TwoScaleLorenz96(_Lorenz96Base):
    """Two-scale Lorenz96 (Lorenz 1996), in the m2lines form:

    ``dX_k/dt = -X_{k-1}(X_{k-2} - X_{k+1}) - X_k + F - (h c / b) sum_j Y_{j,k}``
    ``dY_{j,k}/dt = -c b Y_{j+1,k}(Y_{j+2,k} - Y_{j-1,k}) - c Y_{j,k} + (h c / b) X_k``
    with Y one periodic ring of length J*K (``Y_{j,k}`` at ring index ``k J + j``).
    States are ``(*batch, K + K J)``: X first, then the Y ring (see :meth:`split` and :meth:`join`).
    ``F, h, b, c`` are floats or tensors (differentiable; shape ``(*batch, 1)`` for one value per batch
    member, e.g. a whole calibration design in one batched rollout).
    """

    def __init__(self, K: int = 36, J: int = 10, F: Coefficient = 10.0, h: Coefficient = 1.0,
                 b: Coefficient = 10.0, c: Coefficient = 10.0, method: str = "rk4", adjoint: bool = False):
        super().__init__(method, adjoint)
        self.K, self.J = K, J
        self.F, self.h, self.b, self.c = coefficient(F), coefficient(h), coefficient(b), coefficient(c)

    def coefficients(self) -> tuple[Coefficient, ...]:
        return (self.F, self.h, self.b, self.c)

    @property
    def state_size(self) -> int:
        return self.K * (1 + self.J)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TwoScaleLorenz96:
        return cls(**{**PRESETS[name], **overrides})

    def split(self, state: torch.Tensor) -> TwoScaleState:
        return TwoScaleState(state[..., : self.K], state[..., self.K:].unflatten(-1, (self.K, self.J)))

    def join(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return torch.cat([X, Y.flatten(-2)], dim=-1)

    def coupling(self, state: torch.Tensor) -> torch.Tensor:
        """The term a closure replaces: ``-(h c / b) sum_j Y_{j,k}``, ``(*batch, K)``."""
        return -(self.h * self.c / self.b) * self.split(state).Y.sum(-1)

    def coarse_model(self) -> Lorenz96:
        """The X-only ("GCM") model; pass a closure for the coupling to its ``rollout``."""
        return Lorenz96(K=self.K, F=self.F, method=self.method, adjoint=self.adjoint)

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        X = state[..., : self.K]
        Y = state[..., self.K:]
        hcb = self.h * self.c / self.b
        dX = -torch.roll(X, 1, -1) * (torch.roll(X, 2, -1) - torch.roll(X, -1, -1)) - X + self.F
        dX = dX - hcb * Y.unflatten(-1, (self.K, self.J)).sum(-1)
        dY = -self.c * self.b * torch.roll(Y, -1, -1) * (torch.roll(Y, -2, -1) - torch.roll(Y, 1, -1))
        dY = dY - self.c * Y + hcb * X.repeat_interleave(self.J, dim=-1)
        return torch.cat([dX, dY], dim=-1)


def lyapunov_exponents(sim: Simulator, state: torch.Tensor, dt: float, n_steps: int, n_exponents: int = 1,
                       transient: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Leading Lyapunov exponents by the QR (Benettin) method, in units of 1 / model time.

    Tangent vectors are propagated with ``torch.func.jvp`` through ``sim.step`` — the differentiable
    stepper's Jacobian, never a hand-written tangent model — and re-orthonormalised by QR every step.
    Args:
      state: one state ``(n,)`` on the attractor (or run ``transient`` steps first).
      n_exponents: how many of the largest exponents.
    Returns ``(n_exponents,)`` float64, in decreasing order.
    """
    from torch.func import jvp, vmap

    x = state.detach()
    for _ in range(transient):
        x = sim.step(x, dt)
    n = x.shape[-1]
    q = torch.linalg.qr(torch.randn(n, n_exponents, dtype=x.dtype, device=x.device, generator=generator))[0]
    log_sum = torch.zeros(n_exponents, dtype=torch.float64, device=x.device)

    def step(y):
        return sim.step(y, dt)

    def push(v):
        return jvp(step, (x,), (v,))[1]

    for _ in range(n_steps):
        tangents = vmap(push)(q.T).T  # (n, m)
        x = step(x).detach()
        q, r = torch.linalg.qr(tangents)
        log_sum += torch.log(torch.abs(torch.diagonal(r))).double()
    return log_sum / (n_steps * dt)


def random_state(sim: Simulator, batch: tuple[int, ...] = (), generator: torch.Generator | None = None,
                 dtype=torch.float64) -> torch.Tensor:
    """A small perturbation of the rest state ``X = F`` (and ``Y = 0``), the usual start before spin-up."""
    size = sim.state_size
    forcing = torch.as_tensor(sim.F, dtype=dtype).detach()
    x = torch.zeros(*batch, size, dtype=dtype)
    x[..., : sim.K] = forcing
    return x + 0.01 * forcing.abs().sqrt() * torch.randn(*batch, size, dtype=dtype, generator=generator)
