"""The data-free mesh mover's equations (DMM, Hu, Wang & Ma, ICLR 2024), in one or two dimensions.

A potential ``phi(xi)`` on the computational cube ``[0, 1]^d`` moves the mesh to ``x = xi + grad phi``; the mesh
equidistributes a monitor ``M`` when the Monge–Ampère equation ``M(x(xi)) det(I + hess phi) = theta`` holds,
``theta = int M dx`` (the cube's volume is 1).

Loss terms (the released MM-PDE weights them 1 : 1000 : 1): the equation's residual
``M(x) det(I + H) / theta - 1`` at interior points (sampled in proportion to M), boundary nodes kept on their
edges (``d phi / d xi_k = 0`` where ``xi_k in {0, 1}``), and a convexity penalty. The released code penalises
only the Hessian's diagonal (``1 + H_kk >= 0``: necessary, not sufficient, against folding); ``"eigenvalue"``
penalises the smallest eigenvalue of ``I + H`` below a margin, which makes ``|xi|^2 / 2 + phi`` strictly convex
and so the map one-to-one (Brenier).

Shapes: a batch of ``B`` monitors ``(B, *space)`` goes with points ``(B, m, d)``; a single monitor ``(*space)``
with points ``(m, d)``. ``phi`` maps points ``(..., d)`` to values ``(...)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Potential = Callable[[torch.Tensor], torch.Tensor]  # phi: (..., d) points -> (...) values
CONVEXITY = ("eigenvalue", "diagonal")


def monitor(u: torch.Tensor, alpha: float = 100.0, dim: int = 2, channels: bool = False) -> torch.Tensor:
    """``M = 1 + alpha |grad u| / mean |grad u|`` of a solution on the uniform grid of the unit cube
    (second-order differences over the last ``dim`` axes). ``u``: ``(*batch, *space)``, or
    ``(*batch, C, *space)`` with ``channels=True`` (``|grad u|`` is then the Frobenius norm over channels).
    Returns ``(*batch, *space)``; ``M = 1`` where ``u`` is constant."""
    axes = tuple(range(-dim, 0))
    spacing = [1.0 / (u.shape[a] - 1) for a in axes]
    grads = torch.gradient(u, spacing=spacing, dim=axes, edge_order=2)
    size = sum(g.square() for g in grads)
    size = (size.sum(-dim - 1) if channels else size).sqrt()
    mean = size.mean(axes, keepdim=True)
    # differences of a constant field are rounding noise, which the normalisation would blow up: below this
    # level of the difference quotients, u counts as constant
    magnitude = u.abs().flatten(-dim - 1 if channels else -dim).amax(-1)
    noise = 100 * torch.finfo(u.dtype).eps * magnitude / min(spacing)
    noise = noise.reshape(*noise.shape, *(1,) * dim)
    flat = mean <= noise
    return 1 + alpha * torch.where(flat, torch.zeros_like(size), size / torch.where(flat, torch.ones_like(mean), mean))


def sample_grid(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Linear (1D) or bilinear (2D) values of ``field (B, *space)`` (nodes of the unit cube, indexed ``[i, j]``)
    at ``points (B, m, d)``, differentiable in the points; ``(B, m)``. Unbatched: ``(*space)``, ``(m, d)``."""
    if points.dim() == 2:
        return sample_grid(field[None], points[None])[0]
    b, m, d = points.shape
    if d == 1:  # a 1D field is a 2D one of height 1
        field, points = field[:, None, :], torch.cat([torch.zeros_like(points), points], -1)
    grid = (2 * points - 1).flip(-1).view(b, 1, m, 2)  # grid_sample wants (x=j, y=i) in [-1, 1]
    return F.grid_sample(field[:, None], grid.to(field.dtype), mode="bilinear", align_corners=True).view(b, m)


def mesh_and_hessian(phi: Potential, xi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = xi + grad phi`` ``(..., d)`` and ``hess phi`` ``(..., d, d)`` by autograd (differentiable further)."""
    xi = xi.detach().requires_grad_(True)
    grad = _grad(phi(xi), xi)
    rows = [_grad(grad[..., k], xi) for k in range(xi.shape[-1])]
    return xi + grad, torch.stack(rows, dim=-2)


def moved_points(phi: Potential, xi: torch.Tensor) -> torch.Tensor:
    """``x = xi + grad phi`` ``(..., d)`` alone, detached: no Hessian, no graph kept (using a trained mover)."""
    with torch.enable_grad():
        xi = xi.detach().requires_grad_(True)
        values = phi(xi)
        if not values.requires_grad:
            return xi.detach()
        grad = torch.autograd.grad(values.sum(), xi, allow_unused=True, materialize_grads=True)[0]
    return (xi + grad).detach()


def _grad(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``d sum(values) / d points`` with the graph kept; zeros where ``values`` does not depend on the points."""
    if not values.requires_grad:
        return torch.zeros_like(points)
    return torch.autograd.grad(values.sum(), points, create_graph=True, allow_unused=True,
                               materialize_grads=True)[0]


def jacobian_determinant(hess: torch.Tensor) -> torch.Tensor:
    """``det(I + H)`` for Hessians ``(..., d, d)``, d = 1 or 2 (closed form, differentiable)."""
    if hess.shape[-1] == 1:
        return 1 + hess[..., 0, 0]
    return (1 + hess[..., 0, 0]) * (1 + hess[..., 1, 1]) - hess[..., 0, 1] * hess[..., 1, 0]


def smallest_eigenvalue(hess: torch.Tensor) -> torch.Tensor:
    """The smallest eigenvalue of the symmetric ``I + H`` ``(..., d, d)``, d = 1 or 2 (closed form)."""
    if hess.shape[-1] == 1:
        return 1 + hess[..., 0, 0]
    a, d = 1 + hess[..., 0, 0], 1 + hess[..., 1, 1]
    b = 0.5 * (hess[..., 0, 1] + hess[..., 1, 0])
    return 0.5 * (a + d) - torch.sqrt(0.25 * (a - d) ** 2 + b**2 + 1e-12)


def convexity_violation(hess: torch.Tensor, kind: str = "eigenvalue", margin: float = 0.0) -> torch.Tensor:
    """Per point ``(...)``: how far ``I + H`` is from convex. ``diagonal``: ``sum_k relu(-(1 + H_kk))`` (the
    released code's); ``eigenvalue``: ``relu(margin - lambda_min(I + H))``."""
    if kind == "diagonal":
        return sum(F.relu(-(1 + hess[..., k, k])) for k in range(hess.shape[-1]))
    if kind == "eigenvalue":
        return F.relu(margin - smallest_eigenvalue(hess))
    raise ValueError(f"unknown convexity penalty {kind!r} (choose from {', '.join(CONVEXITY)})")


def monge_ampere_terms(phi: Potential, monitor_field: torch.Tensor, interior: torch.Tensor,
                       boundary: torch.Tensor, convexity: str = "diagonal",
                       margin: float = 0.0) -> dict[str, torch.Tensor]:
    """The three loss terms (means of squares) for ``phi`` and monitors on the grid.

    ``monitor_field (B, *space)``, ``interior (B, m, d)``: computational points; ``boundary (b, d)``: points on
    the cube's faces (shared by the batch). Unbatched: ``(*space)`` and ``(m, d)``.
    """
    d = interior.shape[-1]
    theta = monitor_field.mean(tuple(range(-d, 0)))  # int M over the unit cube (node mean, uniform grid)
    x, hess = mesh_and_hessian(phi, interior)
    residual = sample_grid(monitor_field, x.clamp(0, 1)) * jacobian_determinant(hess) / theta[..., None] - 1
    if interior.dim() == 3:
        boundary = boundary.expand(interior.shape[0], *boundary.shape)
    xb = boundary.detach().requires_grad_(True)
    grad_b = _grad(phi(xb), xb)
    on_face = (xb == 0) | (xb == 1)
    normal = grad_b[on_face]
    violation = convexity_violation(hess, convexity, margin)
    return {"monge_ampere": residual.square().mean(), "boundary": normal.square().mean(),
            "convexity": violation.square().mean()}


def sample_interior(monitor_field: torch.Tensor, m: int, generator: torch.Generator | None = None,
                    dim: int = 2) -> torch.Tensor:
    """``(B, m, d)`` computational points drawn with density proportional to the monitor ``(B, *space)`` (a grid
    cell by its node value, then uniformly inside it); unbatched ``(*space)`` gives ``(m, d)``."""
    if monitor_field.dim() == dim:
        return sample_interior(monitor_field[None], m, generator, dim)[0]
    shape = monitor_field.shape[-dim:]
    weights = monitor_field.flatten(-dim).double()
    cells = torch.multinomial(weights, m, replacement=True, generator=generator)  # (B, m)
    index = torch.stack(torch.unravel_index(cells, shape), -1).to(monitor_field.dtype)
    jitter = torch.rand(*index.shape, generator=generator, dtype=monitor_field.dtype,
                        device=monitor_field.device) - 0.5
    sizes = torch.tensor(shape, dtype=monitor_field.dtype, device=monitor_field.device) - 1
    return ((index + jitter) / sizes).clamp(0, 1)


def boundary_points(k: int, dtype: torch.dtype = torch.float64, dim: int = 2) -> torch.Tensor:
    """Points evenly along the faces of the unit cube: ``(4 k, 2)`` in 2D, the two ends ``(2, 1)`` in 1D."""
    if dim == 1:
        return torch.tensor([[0.0], [1.0]], dtype=dtype)
    s = torch.linspace(0, 1, k, dtype=dtype)
    zero, one = torch.zeros_like(s), torch.ones_like(s)
    return torch.cat([torch.stack(p, -1) for p in ((zero, s), (one, s), (s, zero), (s, one))])
