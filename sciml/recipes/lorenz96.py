"""``lorenz96_two_scale``: trajectories of the two-scale Lorenz96 system, X and the coupling term."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import sciml.recipes.checks as checks
from sciml.recipes.layout import SplitLayout, parameter_attrs, resolve_device, split_index, split_sizes
from sciml.sim.lorenz96 import PRESETS, TwoScaleLorenz96, random_state


@dataclass
class Lorenz96TwoScaleConfig:
    """Wilks (2005) / m2lines setting by default: K 8, J 32, h 1, b = c = 10, F 20; RK4 at dt 0.001."""

    name: str = "lorenz96_two_scale"
    root: str = "data"
    preset: str = "wilks2005"  # lorenz1996 | wilks2005 | wilks2005_f18
    dt: float = 0.001  # RK4 step
    save_dt: float = 0.01  # time between stored frames
    spin_up: float = 3.0
    n_train: int = 64
    n_valid: int = 8
    n_test: int = 8
    steps_train: int = 500
    steps_eval: int = 1000
    seed: int = 0
    batch_size: int = 64
    device: str = "auto"


def validate_l96(cfg: Lorenz96TwoScaleConfig) -> None:
    checks.common(cfg)
    checks.choice(cfg, "preset", [name for name, p in PRESETS.items() if "J" in p])
    checks.multiple_of(cfg, "save_dt", "dt")


def l96_layout(cfg: Lorenz96TwoScaleConfig, split: str) -> SplitLayout:
    if cfg.preset not in PRESETS or "J" not in PRESETS[cfg.preset]:
        raise ValueError(f"unknown two-scale preset {cfg.preset!r} (lorenz1996, wilks2005, wilks2005_f18)")
    params = PRESETS[cfg.preset]
    n_samples, steps = split_sizes(cfg, split)
    attrs = parameter_attrs(cfg)
    attrs.update({k: float(v) for k, v in params.items()})
    attrs.update(title=f"Two-scale Lorenz96 ({cfg.preset}, {split})", system="lorenz96_two_scale",
                 equation="m2lines L96_2t_xdot_ydot form", dataset=cfg.name, split=split, dt=cfg.save_dt,
                 method="RK4, float64")
    K = int(params["K"])
    shape = (n_samples, steps + 1, K)
    return SplitLayout(fields={"X": shape, "coupling": shape}, time=np.arange(steps + 1) * cfg.save_dt,
                       space={"x": np.arange(K, dtype=float)}, attrs=attrs,
                       long_names={"X": "large-scale variable X_k",
                                   "coupling": "coupling term -(h c / b) sum_j Y_jk (the closure target)"})


def l96_simulate(cfg: Lorenz96TwoScaleConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    n_samples, steps = split_sizes(cfg, split)
    sim = TwoScaleLorenz96.from_preset(cfg.preset)
    device = resolve_device(cfg.device)
    g = torch.Generator().manual_seed(int(cfg.seed) * 3 + split_index(split))
    x = random_state(sim, (n_samples,), generator=g)[start:stop].to(device)
    save_every = int(round(cfg.save_dt / cfg.dt))
    spin = int(round(cfg.spin_up / cfg.dt))
    with torch.no_grad():
        x = sim.rollout(x, spin, cfg.dt, save_every=max(spin, 1))[..., -1, :]
        traj = sim.rollout(x, steps * save_every, cfg.dt, save_every=save_every)
    return {"X": sim.split(traj).X.cpu().numpy().astype(np.float32),
            "coupling": sim.coupling(traj).cpu().numpy().astype(np.float32)}
