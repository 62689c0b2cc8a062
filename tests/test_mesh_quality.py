"""Mesh-quality metrics of structured moving meshes: tangling, Jacobians, boundary drift, equidistribution,
interpolation."""

import numpy as np
import pytest
import torch

from sciml.mesh import (
    boundary_drift,
    cell_jacobians,
    centroids,
    equidistribution,
    interpolate_to,
    inverted_cells,
    signed_areas,
    uniform_mesh,
)


def _smooth_mesh(n: int, amplitude: float = 0.05) -> torch.Tensor:
    """A smooth, untangled deformation that keeps boundary nodes on their edges: x = xi + a sin(pi xi) ..."""
    xi = uniform_mesh(n)
    bump = torch.sin(torch.pi * xi[..., 0]) * torch.sin(torch.pi * xi[..., 1])
    return xi + amplitude * bump[..., None] * torch.tensor([1.0, -0.5], dtype=torch.float64)


def test_uniform_mesh_is_perfect():
    x = uniform_mesh(9)
    assert signed_areas(x).sum() == pytest.approx(1.0) and (signed_areas(x) > 0).all()
    assert int(inverted_cells(x)) == 0 and float(boundary_drift(x)) == 0
    torch.testing.assert_close(cell_jacobians(x), torch.ones(2 * 8 * 8, dtype=torch.float64))
    eq = equidistribution(x, torch.ones(2 * 8 * 8, dtype=torch.float64))
    assert float(eq["std"]) < 1e-12 and float(eq["range"]) < 1e-12


def _jacobian_error(n: int, a: float = 0.05) -> float:
    x = _smooth_mesh(n, a)
    c = centroids(uniform_mesh(n))  # the computational centroids
    s, co = torch.sin(torch.pi * c), torch.cos(torch.pi * c)
    bx, by = torch.pi * co[..., 0] * s[..., 1], torch.pi * s[..., 0] * co[..., 1]  # gradient of the bump
    exact = (1 + a * bx) * (1 - 0.5 * a * by) - (a * by) * (-0.5 * a * bx)
    assert float(signed_areas(x).sum()) == pytest.approx(1.0, abs=1e-12)  # the square's area is kept
    return float((cell_jacobians(x) - exact).abs().max())


def test_cell_jacobians_converge_to_the_analytic_determinant():
    coarse, fine = _jacobian_error(33), _jacobian_error(65)
    assert fine < 5e-3 and coarse / fine > 1.8  # first order at the centroids (a linear map per cell)


def test_a_fold_is_counted_and_drift_measured():
    x = uniform_mesh(9).clone()
    x[4, 4] = x[5, 5] + 0.02  # push an interior node past its neighbour: cells invert
    assert int(inverted_cells(x)) > 0 and float(cell_jacobians(x).min()) <= 0
    assert int((cell_jacobians(x) <= 0).sum()) == int(inverted_cells(x))
    y = uniform_mesh(9).clone()
    y[0, 3, 0] = 0.004  # a left-edge node leaves its edge
    assert float(boundary_drift(y)) == pytest.approx(0.004)


def test_equidistribution_of_a_mesh_built_for_its_monitor():
    """In 1D-like stretching x = xi^2 (along x only) cells are sized 2 xi h: a monitor 1 / (2 x^(1/2)) equidistributes
    them, a constant monitor does not."""
    xi = uniform_mesh(33)
    x = torch.stack([xi[..., 0] ** 2, xi[..., 1]], -1)
    cx = centroids(x)[..., 0]
    matched = equidistribution(x, 1 / (2 * cx.sqrt()))
    constant = equidistribution(x, torch.ones_like(cx))
    assert float(matched["std"]) < 0.1 * float(constant["std"])


def test_interpolation_reproduces_linear_functions_on_a_moved_mesh():
    x = _smooth_mesh(17, 0.08).numpy()
    points = np.random.default_rng(0).uniform(0.01, 0.99, (500, 2))

    def f(p):
        return 2.0 - 3.0 * p[..., 0] + 0.5 * p[..., 1]

    got = interpolate_to(x, f(x), points)
    np.testing.assert_allclose(got, f(points), rtol=0, atol=1e-12)
    quadratic = interpolate_to(x, (x**2).sum(-1), points)
    assert np.abs(quadratic - (points**2).sum(-1)).max() > 1e-5  # not exact beyond linear: the test can fail
