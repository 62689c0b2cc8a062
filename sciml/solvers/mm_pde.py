"""``mm_pde``: the moving-mesh neural PDE solver (MM-PDE, Hu, Wang & Ma, ICLR 2024).

Two message-passing branches (:mod:`sciml.solvers.mp_pde`'s encoder, layers and decoder) predict the next
``K`` frames' slopes: one on the fixed uniform grid, one on a mesh moved by a frozen, trained
``mesh_mover`` (``solver.mover``: a ``mesh`` task run directory) from the current frame. Values travel between
the meshes by learnable interpolation: each target node averages its ``interpolation_neighbours`` nearest
source nodes with softmax weights ``-log(distance) + MLP(offset, distance)`` (the MLP starts at zero, so the
weights start as inverse-distance weights). The interpolators are pre-trained on round trips (uniform -> moved
-> uniform) for ``pretrain_steps`` steps, then trained with the solver, the round trip kept as a named loss
term. A residual cut joins the branches: ``slopes = uniform + gate * moved``, the per-node gate an MLP of both
branches' outputs and the input, initialised at zero, so the model starts as the single-branch MP-PDE (our
reading of the paper's residual cut network).

The data's grid is periodic (``n`` nodes on ``[0, L)``); the mover sees it closed (``n + 1`` nodes, as the mesh
task's ``periodic: true``) and moves an ``(n + 1)^2`` mesh whose last row and column (the images of the first)
are dropped, leaving ``n^2`` moved nodes in the periodic square; graphs on them use periodic distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sciml.errors import CheckpointError, ConfigError
from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.conditioning import ParamScaling
from sciml.solvers.context import SolverContext
from sciml.solvers.graphs import batch_edges, knn_graph, nearest, periodic_difference
from sciml.solvers.mesh_mover import MeshMover, MeshMoverConfig
from sciml.solvers.mp_pde import MPPDEConfig, _mlp, _node_positions, process, processor


@dataclass
class MMPDEConfig(MPPDEConfig):
    """MP-PDE's keys for both branches, plus the mover and the interpolation (paper: kNN 35, 30 neighbours)."""

    name: str = "mm_pde"
    time_window: int = 1
    hidden: int = 64
    layers: int = 4
    k: int = 8  # kNN graph neighbours on both meshes
    mover: str = ""  # a mesh-task run directory (its checkpoints/best.pt) or a mover checkpoint file
    interpolation_neighbours: int = 8
    interpolation_hidden: int = 32
    pretrain_steps: int = 200  # steps of round-trip-only training of the interpolators first
    roundtrip_weight: float = 1.0  # the round-trip term's weight afterwards


def validate_mm_pde(cfg: MMPDEConfig) -> None:
    from sciml.solvers.mp_pde import validate_mp_pde

    validate_mp_pde(cfg)
    if not cfg.mover:
        raise ConfigError("solver.mover is empty: give the run directory of a trained mesh_mover (task.name=mesh)")
    for key in ("interpolation_neighbours", "interpolation_hidden"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    for key in ("pretrain_steps", "roundtrip_weight"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 0)")


def load_mover(path: str | Path) -> MeshMover:
    """A frozen mesh mover from a mesh-task run directory (``checkpoints/best.pt``) or a checkpoint file."""
    path = Path(path)
    file = path / "checkpoints" / "best.pt" if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"solver.mover: {file} does not exist (train a mesh_mover with task.name=mesh first)")
    try:  # solvers sit below the trainer: its load_checkpoint is out of reach, the same safe load is not
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{file}: truncated or corrupt checkpoint ({str(exc).splitlines()[0]})") from exc
    solver_cfg = (state.get("config") or {}).get("solver") or {}
    if solver_cfg.get("name") != "mesh_mover" or "channels" not in state:
        raise ConfigError(f"solver.mover: {file} is not a mesh_mover checkpoint")
    mover = MeshMover(MeshMoverConfig(**solver_cfg), int(state["channels"]), int(state["dim"]))
    mover.load_state_dict(state["model"])
    for p in mover.parameters():
        p.requires_grad_(False)
    return mover.eval()


class LearnedInterpolation(nn.Module):
    """Values at target nodes from the ``neighbours`` nearest source nodes, softmax-weighted."""

    def __init__(self, dim: int, neighbours: int, hidden: int):
        super().__init__()
        self.neighbours = neighbours
        self.score = nn.Sequential(nn.Linear(dim + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                   nn.Linear(hidden, 1))
        nn.init.zeros_(self.score[-1].weight)  # starts as inverse-distance weighting
        nn.init.zeros_(self.score[-1].bias)

    def forward(self, values: torch.Tensor, source: torch.Tensor, target: torch.Tensor, spacing: float,
                lengths: torch.Tensor, neighbours: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``values (G, S, F)`` at ``source (G, S, d)`` -> ``(G, T, F)`` at ``target (G, T, d)``; positions in the
        periodic unit square, offsets scaled by the grid ``spacing``. ``neighbours``: the indices and distances
        ``(G, T, k)`` of each target's nearest sources, when already found."""
        index, distance = neighbours if neighbours is not None else nearest(target, source, self.neighbours, lengths)
        g, s = source.shape[:2]
        flat = (index + s * torch.arange(g, device=index.device)[:, None, None]).reshape(-1)
        near = source.reshape(g * s, -1)[flat].reshape(*index.shape, -1)
        offset = periodic_difference(near, target[..., None, :], lengths) / spacing
        logits = -torch.log(distance / spacing + 1e-3) + self.score(
            torch.cat([offset, distance[..., None] / spacing], -1)).squeeze(-1)
        gathered = values.reshape(g * s, -1)[flat].reshape(*index.shape, values.shape[-1])
        return (logits.softmax(-1)[..., None] * gathered).sum(-2)


class Branch(nn.Module):
    """One MP-PDE network (encoder, message-passing layers, decoder)."""

    def __init__(self, cfg: MMPDEConfig, channels: int, n_space: int, n_params: int):
        super().__init__()
        self.encoder, self.layers, self.decoder = processor(cfg, channels, n_space, n_params)


class MMPDE(AutoregressiveSolver):
    """Windows ``(B, K, C, n, n)`` on a periodic grid -> the next ``K`` frames."""

    def __init__(self, cfg: MMPDEConfig, context: SolverContext, mover: MeshMover | None = None):
        super().__init__(context)
        k, c = cfg.time_window, context.channels
        if context.history != k:
            raise ValueError(f"mm_pde reads task.history = solver.time_window = {k} frames, got {context.history}")
        if len(context.spatial_shape) != 2 or context.spatial_shape[0] != context.spatial_shape[1]:
            raise ValueError(f"mm_pde moves square 2D grids; the data's grid is {context.spatial_shape}")
        self.cfg, self.frames_per_step, self.n = cfg, k, context.spatial_shape[0]
        self.mover = mover if mover is not None else load_mover(cfg.mover)
        if self.mover.dim != 2 or self.mover.net.encoder[0].in_channels != c + 1:
            raise ConfigError(f"solver.mover moves {self.mover.dim}D meshes of "
                              f"{self.mover.net.encoder[0].in_channels - 1} fields; this data has 2D grids of {c}")
        positions, lengths, _ = _node_positions(context)
        self.register_buffer("positions", (positions / lengths).float(), persistent=False)  # in [0, 1)
        self.register_buffer("lengths", torch.ones(2), persistent=False)  # the periodic unit square
        edges = knn_graph(self.positions.double(), cfg.k, self.lengths.double())
        self.register_buffer("edge_index", edges, persistent=False)
        n_params = context.n_params
        self.param_scaling = ParamScaling(context.param_ranges)
        self.uniform_branch = Branch(cfg, c, 2, n_params)
        self.moving_branch = Branch(cfg, c, 2, n_params)
        self.to_moved = LearnedInterpolation(2, cfg.interpolation_neighbours, cfg.interpolation_hidden)
        self.to_uniform = LearnedInterpolation(2, cfg.interpolation_neighbours, cfg.interpolation_hidden)
        self.cut = _mlp(k * c + 2 * c * k, cfg.hidden)
        self.cut.append(nn.Linear(cfg.hidden, c * k))
        nn.init.zeros_(self.cut[-1].weight)  # the model starts as the uniform branch alone
        nn.init.zeros_(self.cut[-1].bias)
        self.duration = float(context.duration) or 1.0
        self._step = 0

    def training_loss(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        self._step = step  # the interpolators' pre-training is a function of the step (exact resume)
        return super().training_loss(batch, step)

    def moved_nodes(self, frame: torch.Tensor) -> torch.Tensor:
        """``(B, n^2, 2)`` moved nodes in the periodic unit square for frames ``(B, C, n, n)``."""
        closed = torch.cat([frame, frame[:, :, :1]], 2)
        closed = torch.cat([closed, closed[:, :, :, :1]], 3)
        with torch.no_grad():
            mesh = self.mover.mesh(closed.to(next(self.mover.parameters()).dtype), self.n + 1)
        return mesh[:, :-1, :-1].reshape(len(frame), -1, 2).to(frame.dtype).clamp(0, 1) % 1.0

    def _moved_graph(self, nodes: torch.Tensor):
        """Batched kNN edges and relative positions over each graph's moved nodes ``(B, N, 2)``."""
        b, n = nodes.shape[:2]
        index, _ = nearest(nodes, nodes, self.cfg.k + 1, self.lengths.to(nodes.dtype))
        offsets = n * torch.arange(b, device=nodes.device)[:, None, None]
        source = (index[..., 1:] + offsets).reshape(-1)  # the first neighbour is the node itself
        target = (torch.arange(n, device=nodes.device)[None, :, None] + offsets).expand(b, n, self.cfg.k).reshape(-1)
        edges = torch.stack([source, target])
        flat = nodes.reshape(-1, 2)
        relative = periodic_difference(flat[edges[1]], flat[edges[0]], self.lengths.to(flat.dtype))
        return edges, relative

    def _neighbours(self, grid: torch.Tensor, moved: torch.Tensor):
        """The interpolators' neighbour sets, found once per step: grid nodes near each moved node and back."""
        lengths, k = self.lengths.to(grid.dtype), self.cfg.interpolation_neighbours
        return nearest(moved, grid, k, lengths), nearest(grid, moved, k, lengths)

    def roundtrip(self, u: torch.Tensor, moved: torch.Tensor, neighbours=None) -> torch.Tensor:
        """Uniform -> moved -> uniform of node values ``u (B, N, F)``."""
        grid = self.positions.to(u.dtype).expand(len(u), -1, -1)
        spacing, lengths = 1.0 / self.n, self.lengths.to(u.dtype)
        to_moved, to_uniform = neighbours if neighbours is not None else self._neighbours(grid, moved)
        there = self.to_moved(u, grid, moved, spacing, lengths, to_moved)
        return self.to_uniform(there, moved, grid, spacing, lengths, to_uniform)

    def advance_with_loss(self, window, target, params, time=None):
        b, k, c = window.shape[:3]
        nodes = self.n * self.n
        spacing, lengths = 1.0 / self.n, self.lengths.to(window.dtype)
        u = window.reshape(b, k, c, nodes).permute(0, 3, 1, 2).reshape(b, nodes, k * c)  # bundles per node
        grid = self.positions.to(window.dtype).expand(b, -1, -1)
        t = (torch.zeros(b, device=window.device) if time is None else time / self.duration).to(window.dtype)
        t = t.repeat_interleave(nodes)
        theta = (self.param_scaling(params) if params is not None
                 else window.new_zeros(b, 0)).repeat_interleave(nodes, dim=0)
        moved = self.moved_nodes(window[:, -1])
        neighbours = self._neighbours(grid, moved)
        roundtrip = ((self.roundtrip(u, moved, neighbours) - u) ** 2).mean() if self.training else None
        if self.training and 0 < self._step <= self.cfg.pretrain_steps:  # interpolators first, on round trips
            frames = window[:, -1:].expand(b, k, *window.shape[2:])
            return frames, {"roundtrip": roundtrip}
        batch = torch.arange(b, device=window.device).repeat_interleave(nodes)
        edges = batch_edges(self.edge_index, b, nodes)
        relative = periodic_difference(grid.reshape(-1, 2)[edges[1]], grid.reshape(-1, 2)[edges[0]], lengths)
        flat_u = u.reshape(b * nodes, k * c)
        uniform = process(self.uniform_branch, flat_u, grid.reshape(-1, 2), t, theta, edges, relative, batch, b)
        u_moved = self.to_moved(u, grid, moved, spacing, lengths, neighbours[0])
        moved_edges, moved_relative = self._moved_graph(moved)
        on_moved = process(self.moving_branch, u_moved.reshape(b * nodes, k * c), moved.reshape(-1, 2), t, theta,
                           moved_edges, moved_relative, batch, b)  # (B N, C, K) at the moved nodes
        back = self.to_uniform(on_moved.reshape(b, nodes, c * k), moved, grid, spacing, lengths, neighbours[1])
        back = back.reshape(b * nodes, c, k)
        gate = self.cut(torch.cat([flat_u, uniform.reshape(b * nodes, -1), back.reshape(b * nodes, -1)], -1))
        slopes = uniform + gate.reshape(b * nodes, c, k) * back
        steps = torch.arange(1, k + 1, device=window.device, dtype=window.dtype) * self.context.dt
        last = window[:, -1].reshape(b, c, nodes).permute(0, 2, 1).reshape(b * nodes, c)
        frames = last[..., None] + steps * slopes
        frames = frames.reshape(b, nodes, c, k).permute(0, 3, 2, 1).reshape(b, k, c, *self.context.spatial_shape)
        if target is None:
            return frames, None
        loss = {"mse": torch.sqrt(((frames - target) ** 2).sum())}
        if self.training:
            loss["roundtrip"] = self.cfg.roundtrip_weight * roundtrip
        return frames, loss


def build_mm_pde(cfg: MMPDEConfig, context: SolverContext) -> MMPDE:
    return MMPDE(cfg, context)


__all__ = ["LearnedInterpolation", "MMPDE", "MMPDEConfig", "build_mm_pde", "load_mover", "validate_mm_pde"]
