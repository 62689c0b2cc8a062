"""``mp_pde``: the message-passing neural PDE solver (Brandstetter, Worrall, Welling, ICLR 2022).

A graph over the grid points (or an irregular point cloud): each node carries the last ``K`` frames of the
field (a temporal bundle), its position, the time and the PDE parameters. An encoder (two Swish layers)
lifts these to ``hidden`` features; ``layers`` message-passing layers (torch-geometric ``MessagePassing``,
mean aggregation) update them with messages ``phi(h_i, h_j, u_i - u_j, x_i - x_j, theta)`` and updates
``h_i + psi(h_i, mean_j m_ij, theta)``, each followed by instance normalisation per graph; a small 1D CNN
over each node's features decodes ``K`` slopes ``d^l``, and the next bundle is ``u^{t+l} = u^t + l dt d^l``
for ``l = 1..K``. The loss is the paper's: the square root of the summed squared error.

Graphs: a periodic 1D grid gets the radius graph with ``neighbours`` nodes on each side (``r = neighbours
dx`` plus a small margin, as the released code), anything else (2D grids, irregular points) a kNN graph with
``k`` neighbours; distances and relative positions are periodic (minimum image). The graph is built once,
when the solver is built, and the batched copies are cached per batch size and device
(:mod:`sciml.solvers.graphs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import InstanceNorm, MessagePassing

from sciml.errors import ConfigError
from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.conditioning import ParamScaling
from sciml.solvers.context import SolverContext
from sciml.solvers.graphs import batch_edges, knn_graph, periodic_difference, radius_graph

GRAPHS = ("auto", "radius", "knn")


@dataclass
class MPPDEConfig:
    """The released configuration: bundles of 25 frames, 128 hidden features, 6 layers."""

    name: str = "mp_pde"
    time_window: int = 25  # K: frames in (task.history) and frames out per call
    hidden: int = 128
    layers: int = 6
    graph: str = "auto"  # auto (radius on a uniform 1D grid, else knn) | radius | knn
    neighbours: int = 3  # radius graph: nodes on each side of a uniform grid point (r = neighbours dx + margin)
    k: int = 6  # knn graph: neighbours per node


def validate_mp_pde(cfg: MPPDEConfig) -> None:
    if cfg.graph not in GRAPHS:
        raise ConfigError(f"bad value for 'solver.graph': {cfg.graph!r} (choose from {', '.join(GRAPHS)})")
    for key in ("time_window", "hidden", "layers", "neighbours", "k"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if _decoder_kernels(cfg.hidden, cfg.time_window) is None:
        raise ConfigError(f"solver.hidden={cfg.hidden} is too small to decode solver.time_window={cfg.time_window} "
                          "frames (the decoder's first convolution has kernel 16, stride 3)")


def _decoder_kernels(hidden: int, window: int) -> tuple[int, int] | None:
    """Kernel sizes of the two decoder convolutions (the first: 16, stride 3) that map ``hidden`` to ``window``."""
    if hidden < 16:
        return None
    length = (hidden - 16) // 3 + 1
    second = length - window + 1
    return (16, second) if second >= 1 else None


def _mlp(inputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())


class MessagePassingLayer(MessagePassing):
    """``h_i + psi(h_i, mean_j phi(h_i, h_j, u_i - u_j, x_i - x_j, theta_i), theta_i)``, then instance norm."""

    def __init__(self, hidden: int, n_values: int, n_space: int, n_params: int):
        super().__init__(aggr="mean", node_dim=0)
        self.message_net = _mlp(2 * hidden + n_values + n_space + n_params, hidden)
        self.update_net = _mlp(2 * hidden + n_params, hidden)
        self.norm = InstanceNorm(hidden)

    def forward(self, h, u, theta, edge_index, relative, batch, graphs: int):
        h = self.propagate(edge_index, h=h, u=u, theta=theta, relative=relative)
        return self.norm(h, batch, batch_size=graphs)

    def message(self, h_i, h_j, u_i, u_j, theta_i, relative):
        return self.message_net(torch.cat([h_i, h_j, u_i - u_j, relative, theta_i], dim=-1))

    def update(self, aggregated, h, theta):
        return h + self.update_net(torch.cat([h, aggregated, theta], dim=-1))


def _node_positions(context: SolverContext) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Positions ``(N, d)``, periodic lengths ``(d,)`` and whether the nodes form a uniform 1D grid."""
    coords = [torch.tensor(c, dtype=torch.float64) for c in context.coords] or [
        torch.arange(n, dtype=torch.float64) for n in context.spatial_shape]
    lengths = []
    uniform = True
    for axis, c in enumerate(coords):
        spacing = 1.0
        if len(c) > 1:
            steps = c.diff()
            spacing = float(steps.mean())
            uniform = uniform and bool((steps - spacing).abs().max() < 1e-6 * abs(spacing))
        name = context.axes[axis] if context.axes else ""
        length = context.attrs.get(f"L_{name}", context.attrs.get("L", len(c) * spacing))
        lengths.append(float(length))
    grid = torch.stack(torch.meshgrid(*coords, indexing="ij"), dim=-1).reshape(-1, len(coords))
    return grid, torch.tensor(lengths, dtype=torch.float64), uniform and len(coords) == 1


def processor(cfg: MPPDEConfig, channels: int, n_space: int, n_params: int):
    """The encoder, message-passing layers and decoder of one MP-PDE network for ``channels`` fields."""
    k = cfg.time_window
    encoder = _mlp(k * channels + n_space + 1 + n_params, cfg.hidden)
    layers = nn.ModuleList(MessagePassingLayer(cfg.hidden, k * channels, n_space, n_params)
                           for _ in range(cfg.layers))
    first, second = _decoder_kernels(cfg.hidden, k) or (0, 0)
    if not first:
        raise ValueError(f"solver.hidden={cfg.hidden} is too small to decode {k} frames")
    decoder = nn.Sequential(nn.Conv1d(1, 8, first, stride=3), nn.SiLU(), nn.Conv1d(8, channels, second))
    return encoder, layers, decoder


def process(net: nn.Module, u, pos, t, theta, edges, relative, batch, graphs: int) -> torch.Tensor:
    """The slopes ``(G N, C, K)`` of ``net`` (with ``encoder``, ``layers``, ``decoder``) for node bundles ``u
    (G N, K C)`` at positions ``pos (G N, d)``, times ``t (G N,)`` and parameters ``theta (G N, P)``."""
    h = net.encoder(torch.cat([u, pos, t[:, None], theta], dim=-1))
    for layer in net.layers:
        h = layer(h, u, theta, edges, relative.to(h.dtype), batch, graphs)
    return net.decoder(h[:, None, :])


class MPPDE(AutoregressiveSolver):
    """Windows ``(B, K, C, *space)`` -> the next ``K`` frames ``(B, K, C, *space)``."""

    def __init__(self, cfg: MPPDEConfig, context: SolverContext):
        super().__init__(context)
        k, c = cfg.time_window, context.channels
        if context.history != k:
            raise ValueError(f"mp_pde reads task.history = solver.time_window = {k} frames, got task.history="
                             f"{context.history}")
        self.frames_per_step = k
        positions, lengths, uniform_1d = _node_positions(context)
        # derived from the context (saved beside the weights): not part of the state dict
        self.register_buffer("positions", (positions / lengths).float(), persistent=False)  # x / L in [0, 1)
        graph = cfg.graph if cfg.graph != "auto" else ("radius" if uniform_1d else "knn")
        if graph == "radius":
            spacing = float(positions[1, 0] - positions[0, 0]) if len(positions) > 1 else 1.0
            edges = radius_graph(positions, (cfg.neighbours + 1e-3) * spacing, lengths)
        else:
            edges = knn_graph(positions, cfg.k, lengths)
        relative = periodic_difference(positions[edges[1]], positions[edges[0]], lengths) / lengths  # x_i - x_j
        self.register_buffer("edge_index", edges, persistent=False)
        self.register_buffer("edge_relative", relative.float(), persistent=False)
        self.graph = graph
        self._batched: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        n_space, n_params = positions.shape[1], context.n_params
        self.param_scaling = ParamScaling(context.param_ranges)
        self.encoder, self.layers, self.decoder = processor(cfg, c, n_space, n_params)
        self.duration = float(context.duration) or 1.0

    def _graph(self, graphs: int, device: torch.device):
        """Edges, relative positions and the node-to-graph index of ``graphs`` copies (cached)."""
        key = (graphs, device)
        if key not in self._batched:
            if len(self._batched) > 8:
                self._batched.clear()
            nodes = len(self.positions)
            edges = batch_edges(self.edge_index.to(device), graphs, nodes)
            relative = self.edge_relative.to(device).repeat(graphs, 1)
            batch = torch.arange(graphs, device=device).repeat_interleave(nodes)
            self._batched[key] = (edges, relative, batch)
        return self._batched[key]

    def advance_with_loss(self, window, target, params, time=None):
        b, k, c = window.shape[:3]
        nodes = len(self.positions)
        u = window.reshape(b, k, c, nodes).permute(0, 3, 1, 2).reshape(b * nodes, k * c)  # the bundle at each node
        pos = self.positions.to(window.dtype).repeat(b, 1)
        t = (torch.zeros(b, device=window.device) if time is None else time / self.duration).to(window.dtype)
        theta = (self.param_scaling(params) if params is not None
                 else window.new_zeros(b, 0)).repeat_interleave(nodes, dim=0)
        edges, relative, batch = self._graph(b, window.device)
        slopes = process(self, u, pos, t.repeat_interleave(nodes), theta, edges, relative, batch, b)  # (B N, C, K)
        steps = torch.arange(1, k + 1, device=window.device, dtype=window.dtype) * self.context.dt
        last = window[:, -1].reshape(b, c, nodes).permute(0, 2, 1).reshape(b * nodes, c)
        frames = last[..., None] + steps * slopes  # u^{t + l} = u^t + l dt d^l
        frames = frames.reshape(b, nodes, c, k).permute(0, 3, 2, 1).reshape(b, k, c, *self.context.spatial_shape)
        loss = None if target is None else torch.sqrt(((frames - target) ** 2).sum())
        return frames, loss


def build_mp_pde(cfg: MPPDEConfig, context: SolverContext) -> MPPDE:
    return MPPDE(cfg, context)


__all__ = ["MPPDE", "MPPDEConfig", "build_mp_pde", "validate_mp_pde"]
