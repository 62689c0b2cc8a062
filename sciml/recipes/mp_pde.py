"""``mp_pde``: the Burgers benchmark of MP-PDE (Brandstetter, Worrall, Welling 2022), experiments E1–E3.

``u_t + (alpha u^2 - beta u_x + gamma u_xx)_x = delta(t, x)`` on a periodic ``[0, 16)``, forced by five
random sines that also give the initial condition (:class:`sciml.sim.combined_burgers.CombinedBurgers`),
solved at ``nx_fine = 200`` cells with WENO5 and adaptive dopri5, 250 frames over ``[0, t_end]``, and
averaged down to ``nx`` cells (a divisor of ``nx_fine``), or with ``projection: released_loader`` projected
as the released loader does (:func:`loader_projection`: the numbers the released code trains on).
A coarse dataset is derived from the fine one
(generated first, then read block by block), so the resolutions of one experiment hold the same
trajectories. Parameters are drawn per trajectory (the released generator draws one set per group of
four) and stored as the per-sample parameters ``alpha``, ``beta``, ``gamma``, with the forcing's
``A_j``, ``omega_j``, ``l_j``, ``phi_j`` (``j = 0..4``; a numerical baseline needs them to rerun a trajectory):

- E1: alpha = 1, beta = gamma = 0 (Burgers), t_end = 4;
- E2: alpha = 1, beta ~ U[0, 0.2], gamma = 0, t_end = 4;
- E3: alpha ~ U[0, 6], beta ~ U[0.1, 0.4], gamma ~ U[0, 1] (the released generator's ranges), t_end = 2.

The grid is stored without the periodic endpoint (cell centres ``(j + 1/2) L / nx``); the released files'
``x`` includes ``x = L``, which their reader handles (:mod:`sciml.data.formats.pdearena`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

import sciml.recipes.checks as checks
from sciml.errors import ConfigError
from sciml.recipes.layout import SplitLayout, parameter_attrs, resolve_device, split_index
from sciml.sim.combined_burgers import CombinedBurgers, SineForcing, average_down

EXPERIMENTS = {  # parameter ranges (low, high) and final time
    "E1": {"alpha": (1.0, 1.0), "beta": (0.0, 0.0), "gamma": (0.0, 0.0), "t_end": 4.0},
    "E2": {"alpha": (1.0, 1.0), "beta": (0.0, 0.2), "gamma": (0.0, 0.0), "t_end": 4.0},
    "E3": {"alpha": (0.0, 6.0), "beta": (0.1, 0.4), "gamma": (0.0, 1.0), "t_end": 2.0},
}
PARAMS = ("alpha", "beta", "gamma")
PROJECTIONS = ("average", "released_loader")


def loader_projection(u: torch.Tensor, nx: int) -> torch.Tensor:
    """What the released MP-PDE loader trains and tests on: ``(..., n_fine)`` -> ``(..., nx)``.

    The mean of the 5 fine values centred on every ``r = n_fine / nx``-th one (``r i - 2 .. r i + 2``), the
    array padded periodically with its values ``[-3, -2]`` on the left and ``[1, 2]`` on the right, as its
    ``HDF5Dataset`` does (for ``i = 0`` that skips the last fine value and repeats the third-last, an
    off-by-one of the released files' duplicated endpoint). Output ``i`` is centred on fine value ``r i``.
    """
    n = u.shape[-1]
    if n % nx:
        raise ValueError(f"{n} fine values cannot be projected to {nx}")
    padded = torch.cat([u[..., -3:-1], u, u[..., 1:3]], -1)
    return padded.unfold(-1, 5, n // nx)[..., :nx, :].mean(-1)


def project(cfg: MPPDEConfig, u: torch.Tensor) -> torch.Tensor:
    """The stored ``nx`` cells of fine cell averages ``(..., nx_fine)``: ``dataset.projection``."""
    if cfg.nx == cfg.nx_fine:
        return u
    return loader_projection(u, cfg.nx) if cfg.projection == "released_loader" else average_down(u, cfg.nx)


def grid(cfg: MPPDEConfig) -> np.ndarray:
    """Where the stored values sit: cell centres, or the fine centres the released kernel is centred on."""
    if cfg.projection == "released_loader" and cfg.nx != cfg.nx_fine:
        return (np.arange(cfg.nx) * (cfg.nx_fine // cfg.nx) + 0.5) * cfg.L / cfg.nx_fine
    return (np.arange(cfg.nx) + 0.5) * cfg.L / cfg.nx


@dataclass
class MPPDEConfig:
    name: str = "mp_pde"
    root: str = "data"
    experiment: str = "E1"  # E1 | E2 | E3
    L: float = 16.0
    nx_fine: int = 200  # simulated cells
    nx: int = 100  # stored cells: nx_fine averaged down (the paper: 100, 50, 40)
    nt: int = 250  # stored frames over [0, t_end] (t_end 4 for E1/E2, 2 for E3)
    projection: str = "average"  # average (cell averages) | released_loader (the released loader's 5-point kernel)
    n_train: int = 256
    n_valid: int = 32
    n_test: int = 64
    seed: int = 0
    rtol: float = 1e-6  # dopri5 tolerances
    atol: float = 1e-8
    batch_size: int = 256
    device: str = "auto"


def validate_mp_pde(cfg: MPPDEConfig) -> None:
    checks.common(cfg)
    checks.choice(cfg, "experiment", tuple(EXPERIMENTS))
    checks.positive(cfg, "nx", "nx_fine", "nt", "rtol", "atol")
    if cfg.nx_fine % cfg.nx:
        raise ConfigError(f"dataset.nx={cfg.nx} must divide dataset.nx_fine={cfg.nx_fine} (cells are averaged down)")
    checks.choice(cfg, "projection", PROJECTIONS)
    if cfg.nx < 6 or cfg.nt < 2:
        raise ConfigError(f"dataset.nx={cfg.nx} and dataset.nt={cfg.nt} are too small (need nx >= 6, nt >= 2)")


def sizes(cfg: MPPDEConfig, split: str) -> int:
    return (cfg.n_train, cfg.n_valid, cfg.n_test)[split_index(split)]


def draw_parameters(cfg: MPPDEConfig, split: str) -> dict[str, np.ndarray]:
    """``alpha``, ``beta``, ``gamma`` of every trajectory of a split (one seeded stream per split)."""
    rng = np.random.default_rng([cfg.seed, split_index(split), 7])
    n, ranges = sizes(cfg, split), EXPERIMENTS[cfg.experiment]
    return {p: rng.uniform(*ranges[p], size=n) for p in PARAMS}


def draw_forcing(cfg: MPPDEConfig, split: str) -> SineForcing:
    """The forcing of every trajectory of a split, ``(n, 5)`` per coefficient (one seeded stream per split)."""
    generator = torch.Generator().manual_seed(int(cfg.seed) * 3 + split_index(split))
    return SineForcing.random(sizes(cfg, split), generator)


def forcing_parameters(forcing: SineForcing) -> dict[str, np.ndarray]:
    """``A_j``, ``omega_j``, ``l_j``, ``phi_j`` as per-sample parameters."""
    out = {}
    for name, values in (("A", forcing.amplitude), ("omega", forcing.omega), ("l", forcing.wavenumber),
                         ("phi", forcing.phase)):
        for j in range(values.shape[1]):
            out[f"{name}_{j}"] = values[:, j].numpy()
    return out


def forcing_from_parameters(params: dict[str, np.ndarray | torch.Tensor], terms: int = 5) -> SineForcing:
    """The inverse of :func:`forcing_parameters` (e.g. from a file's per-sample parameters)."""
    def stack(name: str) -> torch.Tensor:
        return torch.stack([torch.as_tensor(params[f"{name}_{j}"], dtype=torch.float64) for j in range(terms)], -1)

    return SineForcing(stack("A"), stack("omega"), stack("l"), stack("phi"))


def times(cfg: MPPDEConfig) -> np.ndarray:
    return np.linspace(0.0, EXPERIMENTS[cfg.experiment]["t_end"], cfg.nt)


def mp_pde_layout(cfg: MPPDEConfig, split: str) -> SplitLayout:
    t = times(cfg)
    attrs = parameter_attrs(cfg)
    attrs.update(title=f"MP-PDE combined equation, {cfg.experiment} ({split})", system="mp_pde_combined",
                 equation="u_t + (alpha u^2 - beta u_x + gamma u_xx)_x = delta(t, x), periodic",
                 dataset=cfg.name, split=split, dt=float(t[1] - t[0]), L=cfg.L, experiment=cfg.experiment,
                 method=f"finite volumes: WENO5 + Rusanov flux, 4th-order differences, dopri5 (rtol {cfg.rtol}, "
                        f"atol {cfg.atol}), float64, {cfg.nx_fine} cells "
                        + ("averaged down" if cfg.projection == "average" else "projected by the released loader's "
                           "5-point kernel") + f" to {cfg.nx}")
    return SplitLayout(fields={"u": (sizes(cfg, split), cfg.nt, cfg.nx)}, time=t,
                       space={"x": grid(cfg)}, attrs=attrs,
                       params={**draw_parameters(cfg, split), **forcing_parameters(draw_forcing(cfg, split))},
                       long_names={"u": "u (cell averages)"})


def fine(cfg: MPPDEConfig) -> MPPDEConfig | None:
    """The dataset a coarse one is averaged down from (None for the fine one itself)."""
    return None if cfg.nx == cfg.nx_fine else replace(cfg, nx=cfg.nx_fine, projection="average")


def coarsen(cfg: MPPDEConfig, fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: project(cfg, torch.from_numpy(v)).numpy() for k, v in fields.items()}


def mp_pde_simulate(cfg: MPPDEConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    """Trajectories ``start..stop-1`` at ``nx_fine`` cells (float64), averaged down, as float32."""
    device = resolve_device(cfg.device)
    forcing = draw_forcing(cfg, split)  # the whole split: independent of batching
    forcing = SineForcing(*(v[start:stop] for v in (forcing.amplitude, forcing.omega, forcing.wavenumber,
                                                    forcing.phase))).to(device=device)
    params = {k: torch.as_tensor(v[start:stop], device=device) for k, v in draw_parameters(cfg, split).items()}
    sim = CombinedBurgers(n=cfg.nx_fine, L=cfg.L, forcing=forcing, **params)
    with torch.no_grad():
        u = sim.solve(sim.initial_condition(), torch.from_numpy(times(cfg)), rtol=cfg.rtol, atol=cfg.atol)
    return {"u": project(cfg, u).cpu().numpy().astype(np.float32)}
