"""A stand-in for torch-cluster's ``radius_graph`` and ``knn_graph``, for running released reference code.

torch-cluster has no wheels for our torch, and the references import it for these two calls only.
``benchmarks/parity.py`` puts this folder on the reference's ``PYTHONPATH``; nothing in ``sciml`` imports it.
It computes what torch-cluster computes, by a dense distance matrix (fine for the graphs of a 1D bundle):

- ``radius_graph(x, r, batch)``: every pair of nodes of the same graph closer than ``r`` (strictly, as
  torch-cluster's nanoflann search), no self-loops unless ``loop``, at most ``max_num_neighbors`` sources
  per target. Edges are ``[source, target]`` for ``flow="source_to_target"`` (torch-cluster's default).
  Beyond ``max_num_neighbors`` torch-cluster keeps an unspecified subset (kd-tree order); this keeps the
  nearest. No periodic wrap: positions are plain coordinates, as in torch-cluster.
- ``knn_graph(x, k, batch)``: the ``k`` nearest nodes of the same graph for every node.

Tested against a direct computation in ``tests/test_parity.py``.
"""

from __future__ import annotations

import torch

__version__ = "0.0.0+sciml-shim"


def _distances(x: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
    x = x.view(-1, 1) if x.dim() == 1 else x
    d = torch.cdist(x.double(), x.double())
    if batch is not None:
        d = d.masked_fill(batch.view(-1, 1) != batch.view(1, -1), float("inf"))
    return d


def _edges(target: torch.Tensor, source: torch.Tensor, flow: str) -> torch.Tensor:
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"flow must be 'source_to_target' or 'target_to_source', got {flow!r}")
    return torch.stack([source, target] if flow == "source_to_target" else [target, source])


def _keep(d: torch.Tensor, within: torch.Tensor, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, source) pairs of ``within``, at most ``cap`` nearest sources per target, ordered by target."""
    d = d.masked_fill(~within, float("inf"))
    cap = min(cap, d.shape[1])
    nearest, index = d.topk(cap, dim=1, largest=False)
    keep = torch.isfinite(nearest)
    target = torch.arange(d.shape[0], device=d.device).view(-1, 1).expand_as(index)[keep]
    source = index[keep]
    order = torch.argsort(target * d.shape[1] + source)  # by target, then by source index
    return target[order], source[order]


def radius_graph(x: torch.Tensor, r: float, batch: torch.Tensor | None = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target", num_workers: int = 1,
                 batch_size: int | None = None) -> torch.Tensor:
    """Edges ``(2, E)`` between nodes of ``x`` ``(N[, D])`` closer than ``r`` within each graph of ``batch``."""
    d = _distances(x, batch)
    within = d < r
    if not loop:
        within.fill_diagonal_(False)
    target, source = _keep(d, within, max_num_neighbors)
    return _edges(target, source, flow).to(x.device)


def knn_graph(x: torch.Tensor, k: int, batch: torch.Tensor | None = None, loop: bool = False,
              flow: str = "source_to_target", cosine: bool = False, num_workers: int = 1,
              batch_size: int | None = None) -> torch.Tensor:
    """Edges ``(2, N k)`` from each node's ``k`` nearest nodes of the same graph to the node."""
    if cosine:
        raise NotImplementedError("the shim computes Euclidean k-NN graphs only")
    d = _distances(x, batch)
    within = torch.isfinite(d)
    if not loop:
        within.fill_diagonal_(False)
    target, source = _keep(d, within, k)
    return _edges(target, source, flow).to(x.device)
