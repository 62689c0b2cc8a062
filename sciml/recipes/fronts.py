"""``flow_mixing2d``: moving fronts for training and testing mesh movers, solved exactly.

The flow-mixing problem (separable-PINN / PIG): a vortex with tangential speed ``v_t = sech^2(r) tanh(r)``
(normalised by ``v_t,max = 0.385``) winds up a tanh front. Each trajectory has its own vortex centre
``(x0, y0)`` and initial front angle ``a``; with ``x', y'`` relative to the centre and rotated by ``a``,
``u = -tanh((y' cos(w t) - x' sin(w t)) / (2 width))``, ``w = v_t / (v_t,max r)``. Frames are stored on the
nodes of ``[-L/2, L/2]^2``, both ends included (a mesh mover's square), not on a periodic grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import sciml.recipes.checks as checks
from sciml.recipes.layout import SplitLayout, parameter_attrs, split_index, split_sizes

VT_MAX = 0.385


@dataclass
class FlowMixing2DConfig:
    name: str = "flow_mixing2d"
    root: str = "data"
    L: float = 8.0  # side of the square [-L/2, L/2]^2
    n: int = 96  # nodes per side, ends included
    dt: float = 0.25  # between stored frames
    width: float = 1.0  # front width factor (1: the classic -tanh(y / 2))
    centre_spread: float = 1.0  # vortex centres uniform in [-spread, spread]^2
    n_train: int = 16
    n_valid: int = 4
    n_test: int = 4
    steps_train: int = 16
    steps_eval: int = 16
    seed: int = 0
    batch_size: int = 64
    device: str = "cpu"  # exact solution in NumPy


def validate_flow_mixing2d(cfg: FlowMixing2DConfig) -> None:
    checks.common(cfg)
    checks.positive(cfg, "width")
    checks.non_negative(cfg, "centre_spread")


def _parameters(cfg: FlowMixing2DConfig, split: str) -> dict[str, np.ndarray]:
    n_samples, _ = split_sizes(cfg, split)
    rng = np.random.default_rng([cfg.seed, split_index(split), 7])
    centre = rng.uniform(-cfg.centre_spread, cfg.centre_spread, (n_samples, 2))
    return {"x0": centre[:, 0], "y0": centre[:, 1], "angle": rng.uniform(0, np.pi, n_samples)}


def flow_mixing_solution(x: np.ndarray, y: np.ndarray, t: np.ndarray, x0: float = 0.0, y0: float = 0.0,
                         angle: float = 0.0, width: float = 1.0) -> np.ndarray:
    """``u(x, y, t)`` (broadcast shapes) of one trajectory."""
    dx, dy = x - x0, y - y0
    r = np.hypot(dx, dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(r > 1e-6, np.tanh(r) / np.where(r > 1e-6, r, 1.0), 1.0)  # tanh(r) / r -> 1 at r = 0
    wt = ratio / np.cosh(r) ** 2 / VT_MAX * t
    xr = dx * np.cos(angle) + dy * np.sin(angle)
    yr = -dx * np.sin(angle) + dy * np.cos(angle)
    return -np.tanh((yr * np.cos(wt) - xr * np.sin(wt)) / (2 * width))


def flow_mixing_layout(cfg: FlowMixing2DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    s = np.linspace(-cfg.L / 2, cfg.L / 2, cfg.n)
    attrs = parameter_attrs(cfg)
    attrs.update(title=f"Flow mixing fronts ({split})", system="flow_mixing",
                 equation="u_t + a u_x + b u_y = 0 (vortex winding a tanh front)", dataset=cfg.name, split=split,
                 dt=cfg.dt, L=cfg.L, grid="nodes, both ends included", method="exact, float64")
    return SplitLayout(fields={"u": (n_samples, steps + 1, cfg.n, cfg.n)}, time=np.arange(steps + 1) * cfg.dt,
                       space={"x": s, "y": s}, attrs=attrs, params=_parameters(cfg, split),
                       long_names={"u": "mixed scalar"})


def flow_mixing_simulate(cfg: FlowMixing2DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    _, steps = split_sizes(cfg, split)
    s = np.linspace(-cfg.L / 2, cfg.L / 2, cfg.n)
    x, y = np.meshgrid(s, s, indexing="ij")
    t = np.arange(steps + 1)[:, None, None] * cfg.dt
    p = _parameters(cfg, split)
    u = [flow_mixing_solution(x, y, t, p["x0"][i], p["y0"][i], p["angle"][i], cfg.width) for i in range(start, stop)]
    return {"u": np.stack(u).astype(np.float32)}
