"""PDE problems for physics-informed solvers: domain, residual (autograd), initial/boundary terms, reference.

A model is any callable ``u = model(points)`` mapping ``(N, d)`` points to ``(N,)`` values (or ``(N, 1)``);
a model with ``with_derivatives(points) -> (u, grad u, pure second derivatives)`` (PIG) is differentiated in
closed form instead of by nested autograd.
Coordinates are ordered as in ``Box.names`` (space first, time last for evolution problems).
New tensors follow torch's default dtype and device (``with torch.device("cuda"):`` puts a whole run on the
GPU); random draws follow their generator, which must live on that device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from sciml.sim.allen_cahn import AllenCahn as AllenCahnSimulator

Model = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Box:
    """An axis-aligned domain ``[low_i, high_i]`` per coordinate."""

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.names)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=None) -> torch.Tensor:
        """``n`` points uniformly in the box, ``(n, d)`` (dtype: torch's default unless given)."""
        dtype = dtype or torch.get_default_dtype()
        u = torch.rand(n, self.dim, generator=generator, dtype=dtype)
        low = torch.tensor(self.low, dtype=dtype)
        return low + u * (torch.tensor(self.high, dtype=dtype) - low)

    def normalised(self, points: torch.Tensor, axis: int) -> torch.Tensor:
        """Coordinate ``axis`` mapped to [0, 1] (e.g. ``t_hat`` of the causal gate)."""
        return (points[:, axis] - self.low[axis]) / (self.high[axis] - self.low[axis])

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        low = torch.tensor(self.low, dtype=points.dtype, device=points.device)
        high = torch.tensor(self.high, dtype=points.dtype, device=points.device)
        return ((points >= low) & (points <= high)).all(-1)

    def sample_faces(self, n: int, axes: tuple[int, ...], generator: torch.Generator | None = None,
                     dtype=None) -> torch.Tensor:
        """``n`` points uniformly on the faces ``x_a = low_a`` and ``x_a = high_a`` for each ``a`` in ``axes``
        (each face equally likely), ``(n, d)``."""
        points = self.sample(n, generator, dtype)
        face = torch.randint(0, 2 * len(axes), (n,), generator=generator)
        for i, axis in enumerate(axes):
            for side, value in enumerate((self.low[axis], self.high[axis])):
                points[face == 2 * i + side, axis] = value
        return points

    def grid(self, sizes: tuple[int, ...], dtype=None) -> torch.Tensor:
        """A tensor-product grid ``(prod(sizes), d)`` including the end points."""
        dtype = dtype or torch.get_default_dtype()
        axes = [torch.linspace(lo, hi, s, dtype=dtype) for lo, hi, s in zip(self.low, self.high, sizes, strict=True)]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, self.dim)


def _eval(model: Model, points: torch.Tensor) -> torch.Tensor:
    out = model(points)
    return out.reshape(points.shape[0])


def _derivatives(model: Model, points: torch.Tensor):
    """``(u, grad u, pure second derivatives)`` from a model that has them in closed form (PIG), else None."""
    if hasattr(model, "with_derivatives"):
        return model.with_derivatives(points)
    return None


def _unit(n: int, generator: torch.Generator | None, grid: bool, periodic: bool) -> torch.Tensor:
    """``(n, 1)`` numbers in [0, 1]: uniform draws, or evenly spaced (the end point left out if ``periodic``)."""
    if not grid:
        return torch.rand(n, 1, generator=generator)
    return (torch.arange(n) / n if periodic else torch.linspace(0, 1, n)).unsqueeze(1).to(torch.get_default_dtype())


def _grad(u: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    return torch.autograd.grad(u, points, torch.ones_like(u), create_graph=True)[0]


class Problem:
    """Interface: ``domain``, ``time_axis`` (or None), ``residual``, ``constraint_losses``, ``reference``."""

    name = ""
    domain: Box
    time_axis: int | None = None
    periodic_axes: tuple[int, ...] = ()  # axes on which the solution is periodic over the domain
    curriculum_parameter: str | None = None  # the coefficient a curriculum may grow (sciml.pinn.strategies)
    conserves_amplitude: bool = False  # the solution's spatial RMS is constant in time (the amplitude monitor)
    marches_in_time: bool = False  # constraint_losses honour time_window (strategy.time_windows)
    constraint_grids: bool = False  # constraint_losses take grid=True (evenly spaced points)
    _window_initial: Model | None = None

    @contextmanager
    def coefficient(self, value: float | None):
        """Within the block, the curriculum coefficient is ``value`` (None: unchanged)."""
        if value is None or self.curriculum_parameter is None:
            yield
            return
        saved = getattr(self, self.curriculum_parameter)
        setattr(self, self.curriculum_parameter, float(value))
        try:
            yield
        finally:
            setattr(self, self.curriculum_parameter, saved)

    @contextmanager
    def time_window(self, start: float, end: float, initial: Model | None = None):
        """Within the block the domain's time axis is ``[start, end]`` and the initial condition, imposed at
        ``start``, is ``initial(points)`` (None: the problem's own): one window of time-marching."""
        axis = self.time_axis
        saved = self.domain, self._window_initial
        low, high = list(self.domain.low), list(self.domain.high)
        low[axis], high[axis] = float(start), float(end)
        self.domain, self._window_initial = Box(self.domain.names, tuple(low), tuple(high)), initial
        try:
            yield
        finally:
            self.domain, self._window_initial = saved

    def initial_target(self, points: torch.Tensor) -> torch.Tensor:
        """What ``u`` must equal at the (window's) initial time, at ``points`` ``(N, d)`` -> ``(N,)``."""
        if self._window_initial is not None:
            with torch.no_grad():
                return _eval(self._window_initial, points)
        return self.initial_value(points)

    def _time_range(self) -> tuple[float, float]:
        return self.domain.low[self.time_axis], self.domain.high[self.time_axis]

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        """PDE residual ``(N,)`` at ``points`` (``requires_grad`` is set here)."""
        raise NotImplementedError

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None) -> dict:
        """Mean-squared initial/boundary misfits on ``n`` fresh points each, by name (problems with
        ``constraint_grids`` also take ``grid=True``: ``n`` evenly spaced points per term instead)."""
        raise NotImplementedError

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def initial_value(self, points: torch.Tensor) -> torch.Tensor:
        """``u(x, t0)`` at the space coordinates of ``points`` ``(N, d)`` -> ``(N,)`` (evolution problems)."""
        raise NotImplementedError(f"problem {self.name!r} has no initial condition")

    def relative_l2(self, model: Model, sizes: tuple[int, ...]) -> float:
        """``||u - u_ref|| / ||u_ref||`` on a tensor-product evaluation grid."""
        points = self.domain.grid(sizes)
        with torch.no_grad():
            u, ref = _eval(model, points), self.reference(points)
        return float((u - ref).norm() / ref.norm())


class Convection(Problem):
    """``u_t + beta u_x = 0`` on ``x in [0, 2 pi)`` periodic, ``t in [0, 1]``, ``u(x, 0) = sin x``.

    Exact: ``u = sin(x - beta t)``. PINNs fail at beta = 50 without help (Krishnapriyan et al. 2021).
    """

    name = "convection"
    time_axis = 1
    periodic_axes = (0,)
    curriculum_parameter = "beta"
    conserves_amplitude = True  # pure transport
    marches_in_time = True
    constraint_grids = True

    def __init__(self, beta: float = 50.0):
        self.beta = float(beta)
        self.domain = Box(("x", "t"), (0.0, 0.0), (2 * math.pi, 1.0))

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        closed = _derivatives(model, points.detach())
        if closed is not None:
            return closed[1][:, 1] + self.beta * closed[1][:, 0]
        points = points.detach().requires_grad_(True)
        g = _grad(_eval(model, points), points)
        return g[:, 1] + self.beta * g[:, 0]

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None,
                          grid: bool = False) -> dict:
        t0, t1 = self._time_range()
        x = _unit(n, generator, grid, periodic=True) * 2 * math.pi
        t = t0 + _unit(n, generator, grid, periodic=False) * (t1 - t0)
        x0 = torch.cat([x, torch.full_like(x, t0)], 1)
        initial = _eval(model, x0) - self.initial_target(x0)
        periodic = (_eval(model, torch.cat([torch.zeros_like(t), t], 1))
                    - _eval(model, torch.cat([torch.full_like(t, 2 * math.pi), t], 1)))
        return {"initial": initial.pow(2).mean(), "boundary": periodic.pow(2).mean()}

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sin(points[:, 0] - self.beta * points[:, 1])

    def initial_value(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sin(points[:, 0])


class AllenCahn(Problem):
    """``u_t - d u_xx + 5 u^3 - 5 u = 0`` on ``x in [-1, 1]`` periodic, ``t in [0, 1]``, d = 1e-4,
    ``u(x, 0) = x^2 cos(pi x)``.

    Reference: :class:`sciml.sim.allen_cahn.AllenCahn` (Fourier pseudo-spectral, ETDRK4; 512 points, dt 1e-4,
    float64) stored every 0.005 and interpolated bilinearly in x and t. (The released R3 code computes
    ``u_xt`` where ``u_xx`` belongs; this is the correct term.)
    """

    name = "allen_cahn"
    time_axis = 1
    periodic_axes = (0,)
    marches_in_time = True
    constraint_grids = True

    def __init__(self, diffusion: float = 1e-4, n_ref: int = 512, n_times: int = 201):
        self.d = float(diffusion)
        self.domain = Box(("x", "t"), (-1.0, 0.0), (1.0, 1.0))
        self.n_ref, self.n_times = n_ref, n_times
        self._table: torch.Tensor | None = None

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        closed = _derivatives(model, points.detach())
        if closed is not None:
            u, g, second = closed
            return g[:, 1] - self.d * second[:, 0] + 5 * u**3 - 5 * u
        points = points.detach().requires_grad_(True)
        u = _eval(model, points)
        g = _grad(u, points)
        u_xx = _grad(g[:, 0], points)[:, 0]
        return g[:, 1] - self.d * u_xx + 5 * u**3 - 5 * u

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None,
                          grid: bool = False) -> dict:
        t0, t1 = self._time_range()
        x = _unit(n, generator, grid, periodic=True) * 2 - 1
        t = t0 + _unit(n, generator, grid, periodic=False) * (t1 - t0)
        x0 = torch.cat([x, torch.full_like(x, t0)], 1)
        initial = _eval(model, x0) - self.initial_target(x0)
        left = torch.cat([-torch.ones_like(t), t], 1).requires_grad_(True)
        right = torch.cat([torch.ones_like(t), t], 1).requires_grad_(True)
        ul, ur = _eval(model, left), _eval(model, right)
        dl, dr = _grad(ul, left)[:, 0], _grad(ur, right)[:, 0]
        return {"initial": initial.pow(2).mean(), "boundary": (ul - ur).pow(2).mean() + (dl - dr).pow(2).mean()}

    def initial_value(self, points: torch.Tensor) -> torch.Tensor:
        return points[:, 0] ** 2 * torch.cos(math.pi * points[:, 0])

    def reference_table(self) -> torch.Tensor:
        """``u`` on the grid ``x_j = -1 + 2 j / n_ref``, ``t_i = i / (n_times - 1)``: ``(n_times, n_ref)``."""
        if self._table is None:
            sim = AllenCahnSimulator(self.n_ref, L=2.0, diffusion=self.d, reaction=5.0, x0=-1.0)
            dt = 1e-4
            steps_per_frame = int(round(1.0 / (self.n_times - 1) / dt))
            u0 = self.initial_value(sim.grid[:, None])
            self._table = sim.rollout(u0, (self.n_times - 1) * steps_per_frame, dt, save_every=steps_per_frame)
        return self._table

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        table = self.reference_table().to(points.device)
        n, nt = self.n_ref, self.n_times
        xs = (points[:, 0].double() + 1) / 2 * n  # fractional grid index, periodic
        ts = points[:, 1].double().clamp(0, 1) * (nt - 1)
        j0, i0 = xs.floor().long(), ts.floor().long().clamp(max=nt - 2)
        fx, ft = xs - j0, ts - i0
        j0, j1 = j0 % n, (j0 + 1) % n
        u = ((1 - ft) * ((1 - fx) * table[i0, j0] + fx * table[i0, j1])
             + ft * ((1 - fx) * table[i0 + 1, j0] + fx * table[i0 + 1, j1]))
        return u.to(points.dtype)


class Helmholtz2D(Problem):
    """``u_xx + u_yy + k^2 u = q`` on ``[-1, 1]^2``, ``u = 0`` on the boundary, with the exact solution
    ``u = sin(a1 pi x) sin(a2 pi y)`` (so ``q = (k^2 - (a1^2 + a2^2) pi^2) u``); (a1, a2) = (4, 1) or (10, 10)."""

    name = "helmholtz2d"
    time_axis = None

    def __init__(self, a1: float = 4.0, a2: float = 1.0, k: float = 1.0):
        self.a1, self.a2, self.k = float(a1), float(a2), float(k)
        self.domain = Box(("x", "y"), (-1.0, -1.0), (1.0, 1.0))

    def source(self, points: torch.Tensor) -> torch.Tensor:
        return (self.k**2 - (self.a1**2 + self.a2**2) * math.pi**2) * self.reference(points)

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        closed = _derivatives(model, points.detach())
        if closed is not None:
            u, _, second = closed
            return second.sum(-1) + self.k**2 * u - self.source(points.detach())
        points = points.detach().requires_grad_(True)
        u = _eval(model, points)
        g = _grad(u, points)
        lap = _grad(g[:, 0], points)[:, 0] + _grad(g[:, 1], points)[:, 1]
        return lap + self.k**2 * u - self.source(points.detach())

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None) -> dict:
        s = torch.rand(n, generator=generator) * 2 - 1
        side = torch.randint(0, 4, (n,), generator=generator)
        fixed = torch.where(side % 2 == 0, -1.0, 1.0)
        points = torch.where((side < 2)[:, None], torch.stack([fixed, s], 1), torch.stack([s, fixed], 1))
        return {"boundary": _eval(model, points).pow(2).mean()}

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.a1 * math.pi * points[:, 0]) * torch.sin(self.a2 * math.pi * points[:, 1])


class KleinGordon(Problem):
    """(2+1)-D Klein–Gordon ``u_tt - (u_xx + u_yy) + u^2 = f`` on ``[-1, 1]^2 x [0, T]`` with the manufactured
    solution ``u = (x + y) cos(k t) + x y sin(k t)`` (separable-PINN / PIG benchmark; ``f = u^2 - k^2 u``),
    Dirichlet data from it on the spatial boundary, ``u`` and ``u_t`` from it at ``t = 0``."""

    name = "klein_gordon"
    time_axis = 2

    def __init__(self, k: float = 1.0, t_end: float = 10.0):
        self.k, self.t_end = float(k), float(t_end)
        self.domain = Box(("x", "y", "t"), (-1.0, -1.0, 0.0), (1.0, 1.0, self.t_end))

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        x, y, t = points.unbind(-1)
        return (x + y) * torch.cos(self.k * t) + x * y * torch.sin(self.k * t)

    def initial_value(self, points: torch.Tensor) -> torch.Tensor:
        return points[:, 0] + points[:, 1]

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        closed = _derivatives(model, points.detach())
        if closed is not None:
            u, _, second = closed
        else:
            points = points.detach().requires_grad_(True)
            u = _eval(model, points)
            g = _grad(u, points)
            second = torch.stack([_grad(g[:, i], points)[:, i] for i in range(3)], -1)
        ref = self.reference(points.detach())
        source = ref**2 - self.k**2 * ref
        return second[:, 2] - second[:, 0] - second[:, 1] + u**2 - source

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None) -> dict:
        initial = self.domain.sample(n, generator)
        initial[:, 2] = 0.0
        initial.requires_grad_(True)
        u0 = _eval(model, initial)
        u0_t = _grad(u0, initial)[:, 2]
        x, y = initial[:, 0].detach(), initial[:, 1].detach()
        boundary = self.domain.sample_faces(n, (0, 1), generator)
        return {"initial": (u0 - self.initial_value(initial)).pow(2).mean() + (u0_t - self.k * x * y).pow(2).mean(),
                "boundary": (_eval(model, boundary) - self.reference(boundary)).pow(2).mean()}


class FlowMixing(Problem):
    """(2+1)-D flow mixing ``u_t + a u_x + b u_y = 0`` on ``[-4, 4]^2 x [0, 4]``: a vortex with tangential speed
    ``v_t = sech^2(r) tanh(r)`` (normalised by ``v_t,max = 0.385``) winds up ``u0 = -tanh(y / 2)``;
    ``a = -(v_t / v_t,max) y / r``, ``b = (v_t / v_t,max) x / r``. Exact:
    ``u = -tanh((y / 2) cos(w t) - (x / 2) sin(w t))`` with ``w = v_t / (v_t,max r)`` (separable-PINN / PIG)."""

    name = "flow_mixing"
    time_axis = 2
    vt_max = 0.385

    def __init__(self, half_width: float = 4.0, t_end: float = 4.0):
        self.domain = Box(("x", "y", "t"), (-half_width, -half_width, 0.0), (half_width, half_width, float(t_end)))

    def _omega(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = torch.sqrt(x**2 + y**2)
        # v_t / r = sech^2(r) tanh(r) / r -> 1 as r -> 0: a safe r keeps the limit finite at the centre
        safe = torch.where(r > 1e-6, r, torch.ones_like(r))
        ratio = torch.where(r > 1e-6, torch.tanh(safe) / safe, torch.ones_like(r))
        return ratio / torch.cosh(r) ** 2 / self.vt_max

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        x, y, t = points.unbind(-1)
        wt = self._omega(x, y) * t
        return -torch.tanh(0.5 * y * torch.cos(wt) - 0.5 * x * torch.sin(wt))

    def initial_value(self, points: torch.Tensor) -> torch.Tensor:
        return -torch.tanh(0.5 * points[:, 1])

    def residual(self, model: Model, points: torch.Tensor) -> torch.Tensor:
        closed = _derivatives(model, points.detach())
        if closed is not None:
            g = closed[1]
        else:
            points = points.detach().requires_grad_(True)
            g = _grad(_eval(model, points), points)
        x, y = points[:, 0].detach(), points[:, 1].detach()
        w = self._omega(x, y)
        return g[:, 2] - w * y * g[:, 0] + w * x * g[:, 1]

    def constraint_losses(self, model: Model, n: int, generator: torch.Generator | None = None) -> dict:
        initial = self.domain.sample(n, generator)
        initial[:, 2] = 0.0
        boundary = self.domain.sample_faces(n, (0, 1), generator)
        return {"initial": (_eval(model, initial) - self.reference(initial)).pow(2).mean(),
                "boundary": (_eval(model, boundary) - self.reference(boundary)).pow(2).mean()}


PROBLEMS: dict[str, type[Problem]] = {
    "convection": Convection, "allen_cahn": AllenCahn, "helmholtz2d": Helmholtz2D, "klein_gordon": KleinGordon,
    "flow_mixing": FlowMixing,
}


def get_problem(name: str, **params) -> Problem:
    if name not in PROBLEMS:
        raise KeyError(f"unknown problem {name!r} (known: {', '.join(sorted(PROBLEMS))})")
    return PROBLEMS[name](**params)
