"""Graphs over the nodes of a grid or a point cloud, for message-passing solvers, built with torch.

PyG's ``radius_graph`` and ``knn_graph`` need ``pyg-lib`` or ``torch-cluster``, compiled packages without
wheels on PyPI for our torch; at the sizes of these solvers (hundreds to a few thousand nodes per graph) a
dense distance matrix on the device is as fast, so the edges come from ``torch.cdist`` (radius: every pair
closer than ``r``; kNN: ``topk``). Distances are periodic (minimum image) along the axes given a length.
Edge indices follow PyG's convention: ``edge_index[0]`` the source ``j``, ``edge_index[1]`` the target ``i``
(messages flow from ``j`` to ``i``).
"""

from __future__ import annotations

import torch


def periodic_difference(a: torch.Tensor, b: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``a - b`` ``(..., d)``, wrapped to the nearest image along axes with a length (``inf``: not periodic)."""
    diff = a - b
    if lengths is None:
        return diff
    periodic = torch.isfinite(lengths)
    wrapped = diff - lengths * torch.round(diff / torch.where(periodic, lengths, 1.0))
    return torch.where(periodic, wrapped, diff)


def _distances(pos: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``(N, N)`` distances between the rows of ``pos`` ``(N, d)``."""
    if lengths is None:
        return torch.cdist(pos, pos)
    return periodic_difference(pos[:, None, :], pos[None, :, :], lengths).norm(dim=-1)


def radius_graph(pos: torch.Tensor, r: float, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Edges between all pairs of distinct nodes closer than ``r``, ``(2, E)``, both directions."""
    near = _distances(pos, lengths) < r
    near.fill_diagonal_(False)
    target, source = near.nonzero(as_tuple=True)
    return torch.stack([source, target])


def knn_graph(pos: torch.Tensor, k: int, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Edges from each node's ``k`` nearest other nodes to it, ``(2, N k)``."""
    n = pos.shape[0]
    if not 0 < k < n:
        raise ValueError(f"k={k} neighbours need between 1 and {n - 1} for {n} nodes")
    dist = _distances(pos, lengths)
    dist.fill_diagonal_(float("inf"))
    source = dist.topk(k, dim=1, largest=False).indices  # (N, k): the neighbours of each target
    target = torch.arange(n, device=pos.device)[:, None].expand(n, k)
    return torch.stack([source.reshape(-1), target.reshape(-1)])


def nearest(query: torch.Tensor, points: torch.Tensor, k: int,
            lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest ``points (..., P, d)`` to each row of ``query (..., Q, d)``: indices and distances,
    ``(..., Q, k)`` each, batched over the leading axes.

    Periodic axes (finite ``lengths``; all or none) are first ranked by the chord distance of each coordinate on
    a circle, ``2 sin(pi |dx| / L) L / pi`` (one ``torch.cdist``, a matrix product; the same order as the
    minimum-image distance up to a relative ``(pi dx / L)^2 / 6``); the ``2 k`` best are then re-ranked by
    their exact minimum-image distances.
    """
    if not 0 < k <= points.shape[-2]:
        raise ValueError(f"k={k} neighbours need between 1 and {points.shape[-2]} points")
    periodic = lengths is not None and bool(torch.isfinite(lengths).all())
    if not periodic:
        found = torch.cdist(query, points).topk(k, dim=-1, largest=False)
        return found.indices, found.values

    def embed(x: torch.Tensor) -> torch.Tensor:
        angle = 2 * torch.pi * x / lengths
        return torch.cat([torch.cos(angle), torch.sin(angle)], -1) * (lengths / (2 * torch.pi)).repeat(2)

    candidates = torch.cdist(embed(query), embed(points)).topk(min(2 * k, points.shape[-2]), dim=-1,
                                                               largest=False).indices
    near = torch.gather(points.unsqueeze(-3).expand(*candidates.shape[:-1], *points.shape[-2:]), -2,
                        candidates[..., None].expand(*candidates.shape, points.shape[-1]))  # (..., Q, 2k, d)
    distance = periodic_difference(near, query[..., None, :], lengths).norm(dim=-1)
    best = distance.topk(k, dim=-1, largest=False)
    return torch.gather(candidates, -1, best.indices), best.values


def batch_edges(edge_index: torch.Tensor, graphs: int, nodes: int) -> torch.Tensor:
    """The edges of ``graphs`` copies of one graph of ``nodes`` nodes, numbered graph after graph."""
    offsets = torch.arange(graphs, device=edge_index.device).repeat_interleave(edge_index.shape[1]) * nodes
    return edge_index.repeat(1, graphs) + offsets
