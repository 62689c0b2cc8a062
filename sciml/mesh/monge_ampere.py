"""The data-free mesh mover's equations (DMM, Hu, Wang & Ma, ICLR 2024): a potential ``phi(xi)`` on the
computational square ``[0, 1]^2`` moves the mesh to ``x = xi + grad phi``; the mesh equidistributes a monitor
``M`` when the Monge–Ampère equation ``M(x(xi)) det(I + hess phi) = theta`` holds, ``theta = int M dx`` (the
square's area is 1).

Loss terms (the released MM-PDE weights them 1 : 1000 : 1): the equation's residual
``M(x) det(I + H) / theta - 1`` at interior points (sampled in proportion to M), boundary nodes kept on their
edges (``d phi / d xi_1 = 0`` on ``xi_1 in {0, 1}``, likewise for ``xi_2``), and a convexity penalty on the
Hessian's diagonal (``1 + H_ii >= 0``: necessary, not sufficient, against folding — the released code's choice).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Potential = Callable[[torch.Tensor], torch.Tensor]  # phi: (m, 2) points -> (m,) values


def monitor(u: torch.Tensor, alpha: float = 100.0) -> torch.Tensor:
    """``M = 1 + alpha |grad u| / mean |grad u|`` of a solution ``u (*batch, n, n)`` on the uniform grid of the unit
    square (second-order differences); ``M = 1`` where ``u`` is constant."""
    n = u.shape[-1]
    gx, gy = torch.gradient(u, spacing=1.0 / (n - 1), dim=(-2, -1), edge_order=2)
    size = torch.sqrt(gx**2 + gy**2)
    mean = size.mean((-2, -1), keepdim=True)
    return 1 + alpha * torch.where(mean > 0, size / mean.clamp_min(torch.finfo(u.dtype).tiny), torch.zeros_like(size))


def sample_grid(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear values of ``field (n, n)`` (nodes of the unit square, indexed ``[i, j]``) at ``points (m, 2)``,
    differentiable in the points."""
    grid = (2 * points - 1).flip(-1).view(1, 1, -1, 2)  # grid_sample wants (x=j, y=i) in [-1, 1]
    return F.grid_sample(field[None, None], grid.to(field.dtype), mode="bilinear", align_corners=True).view(-1)


def mesh_and_hessian(phi: Potential, xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = xi + grad phi`` ``(m, 2)`` and ``hess phi`` ``(m, 2, 2)`` by autograd (differentiable further)."""
    xi = xi.detach().requires_grad_(True)
    grad = _grad(phi(xi), xi)
    rows = [_grad(grad[:, k], xi) for k in range(2)]
    return xi + grad, torch.stack(rows, dim=1)


def _grad(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``d sum(values) / d points`` with the graph kept; zeros where ``values`` does not depend on the points."""
    if not values.requires_grad:
        return torch.zeros_like(points)
    return torch.autograd.grad(values.sum(), points, create_graph=True, allow_unused=True,
                               materialize_grads=True)[0]


def monge_ampere_terms(phi: Potential, monitor_field: torch.Tensor, interior: torch.Tensor,
                       boundary: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three loss terms (means of squares) for ``phi`` and a monitor on the grid ``(n, n)``.

    ``interior (m, 2)``: computational points; ``boundary (b, 2)``: points on the square's edges.
    """
    theta = monitor_field.mean()  # int M over the unit square, trapezoid-free node mean (uniform grid)
    x, hess = mesh_and_hessian(phi, interior)
    det = (1 + hess[:, 0, 0]) * (1 + hess[:, 1, 1]) - hess[:, 0, 1] * hess[:, 1, 0]
    residual = sample_grid(monitor_field, x.clamp(0, 1)) * det / theta - 1
    xb = boundary.detach().requires_grad_(True)
    grad_b = _grad(phi(xb), xb)
    on_x_edge = (xb[:, 0] == 0) | (xb[:, 0] == 1)
    on_y_edge = (xb[:, 1] == 0) | (xb[:, 1] == 1)
    normal = torch.cat([grad_b[on_x_edge, 0], grad_b[on_y_edge, 1]])
    convexity = F.relu(-(1 + hess[:, 0, 0])) + F.relu(-(1 + hess[:, 1, 1]))
    return {"monge_ampere": residual.square().mean(), "boundary": normal.square().mean(),
            "convexity": convexity.square().mean()}


def sample_interior(monitor_field: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(m, 2)`` computational points drawn with density proportional to the monitor (a grid cell by its node
    value, then uniformly inside it)."""
    n = monitor_field.shape[-1]
    weights = monitor_field.flatten().double()
    cells = torch.multinomial(weights, m, replacement=True, generator=generator)
    ij = torch.stack([cells // n, cells % n], -1).to(monitor_field.dtype)
    jitter = torch.rand(m, 2, generator=generator, dtype=monitor_field.dtype) - 0.5
    return ((ij + jitter) / (n - 1)).clamp(0, 1)


def boundary_points(k: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(4 k, 2)`` points evenly along the four edges of the unit square."""
    s = torch.linspace(0, 1, k, dtype=dtype)
    zero, one = torch.zeros_like(s), torch.ones_like(s)
    return torch.cat([torch.stack(p, -1) for p in ((zero, s), (one, s), (s, zero), (s, one))])
