"""Moving meshes: structured node sets ``x (*batch, n, n, 2)`` that map a uniform computational grid on
``[0, 1]^2`` to the physical square, and their quality metrics (tangling, boundary drift, equidistribution,
interpolation error)."""

from sciml.mesh.quality import (
    boundary_drift,
    cell_jacobians,
    centroids,
    equidistribution,
    interpolate_to,
    inverted_cells,
    signed_areas,
    triangles,
    uniform_mesh,
)

__all__ = ["boundary_drift", "centroids", "equidistribution", "interpolate_to", "inverted_cells",
           "cell_jacobians", "signed_areas", "triangles", "uniform_mesh"]
