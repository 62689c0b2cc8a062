"""Quality of a structured moving mesh ``x (*batch, n, n, 2)`` over the unit square.

Node ``x[..., i, j, :]`` is the image of the computational point ``xi = (i, j) / (n - 1)``. Each quad cell
``(i, j)-(i+1, j+1)`` is split along its ``(i, j)-(i+1, j+1)`` diagonal into two triangles, the same split
everywhere, so a mesh and its uniform reference share a triangulation.
"""

from __future__ import annotations

import numpy as np
import torch


def uniform_mesh(n: int, dtype: torch.dtype = torch.float64, dim: int = 2) -> torch.Tensor:
    """The computational grid: ``(n, n, 2)`` nodes ``(i, j) / (n - 1)`` (``(n, 1)`` in 1D)."""
    s = torch.linspace(0, 1, n, dtype=dtype)
    if dim == 1:
        return s[:, None]
    return torch.stack(torch.meshgrid(s, s, indexing="ij"), dim=-1)


def triangles(n: int) -> np.ndarray:
    """``(2 (n-1)^2, 3)`` node indices (flattened ``i n + j``) of the triangles, counter-clockwise on the uniform
    grid."""
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a, b, c, d = i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1  # quad corners, ccw in (x, y)
    lower = np.stack([a, b, c], -1).reshape(-1, 3)
    upper = np.stack([a, c, d], -1).reshape(-1, 3)
    return np.concatenate([lower, upper])


def signed_areas(x: torch.Tensor) -> torch.Tensor:
    """``(*batch, 2 (n-1)^2)``: the signed area of every triangle (positive when counter-clockwise)."""
    n = x.shape[-2]
    flat = x.flatten(-3, -2)
    tri = torch.as_tensor(triangles(n), device=x.device)
    p0, p1, p2 = (flat[..., tri[:, k], :] for k in range(3))
    e1, e2 = p1 - p0, p2 - p0
    return 0.5 * (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0])


def inverted_cells(x: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """``(*batch,)``: how many triangles changed the sign of their area relative to ``reference`` (default the
    uniform mesh) — UM2N's definition of an inverted (tangled) cell."""
    reference = uniform_mesh(x.shape[-2], x.dtype).to(x.device) if reference is None else reference
    return (torch.sign(signed_areas(x)) != torch.sign(signed_areas(reference))).sum(-1)


def cell_jacobians(x: torch.Tensor) -> torch.Tensor:
    """``(*batch, 2 (n-1)^2)``: ``det(dx / dxi)`` of the piecewise-linear map on each triangle (its area over its
    computational area): 1 on the uniform mesh, <= 0 on a folded cell. A nodal finite-difference Jacobian would
    miss a fold of a single node (central differences skip the node itself); this one does not."""
    return signed_areas(x) / signed_areas(uniform_mesh(x.shape[-2], x.dtype).to(x.device))


def boundary_drift(x: torch.Tensor) -> torch.Tensor:
    """``(*batch,)``: the largest distance of a boundary node from its edge of the unit square (corners from
    both of theirs)."""
    parts = [x[..., 0, :, 0].abs(), (x[..., -1, :, 0] - 1).abs(), x[..., :, 0, 1].abs(), (x[..., :, -1, 1] - 1).abs()]
    return torch.stack([p.amax(-1) for p in parts], -1).amax(-1)


def equidistribution(x: torch.Tensor, monitor_at_centroids: torch.Tensor) -> dict[str, torch.Tensor]:
    """How evenly the monitor ``M`` is spread over cells: ``M * area`` per triangle, normalised by its mean;
    returns its ``std`` and ``range`` (max - min), ``(*batch,)`` each (0 for a perfectly equidistributed mesh).

    ``monitor_at_centroids`` is ``(*batch, 2 (n-1)^2)``, M at the triangles' centroids (:func:`centroids`).
    """
    mass = monitor_at_centroids * signed_areas(x).abs()
    mass = mass / mass.mean(-1, keepdim=True)
    return {"std": mass.std(-1), "range": mass.amax(-1) - mass.amin(-1)}


def centroids(x: torch.Tensor) -> torch.Tensor:
    """``(*batch, 2 (n-1)^2, 2)``: the triangles' centroids."""
    flat = x.flatten(-3, -2)
    tri = torch.as_tensor(triangles(x.shape[-2]), device=x.device)
    return sum(flat[..., tri[:, k], :] for k in range(3)) / 3


def interpolate_to(x: np.ndarray, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of nodal ``values (n, n)`` on mesh ``x (n, n, 2)`` (its own triangles) at
    ``points (m, 2)``; NaN outside the mesh. Exact for linear functions on any untangled mesh."""
    from matplotlib.tri import LinearTriInterpolator, Triangulation

    n = x.shape[0]
    tri = Triangulation(x[..., 0].ravel(), x[..., 1].ravel(), triangles(n))
    out = LinearTriInterpolator(tri, values.ravel())(points[:, 0], points[:, 1])
    return np.ma.filled(out.astype(np.float64), np.nan)
