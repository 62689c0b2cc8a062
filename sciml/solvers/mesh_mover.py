"""``mesh_mover``: the data-free Monge–Ampère mesh mover (DMM, Hu, Wang & Ma, ICLR 2024).

A network maps a solution on a fixed uniform grid of the unit cube (1D or 2D) to a potential ``phi(xi)``; the
mesh is ``x = xi + grad phi``, so node count and topology never change. A convolutional encoder reads the
solution and its monitor ``M = 1 + alpha |grad u| / mean |grad u|`` into a latent vector; an MLP of the
computational coordinate and the latent gives ``phi``. No optimal meshes are needed: the loss is the
Monge–Ampère system of :mod:`sciml.mesh.monge_ampere` (residual at points sampled in proportion to M,
boundary, convexity; weighted 1 : 1000 : 1 as the released MM-PDE code); ``uniform_fraction`` of the
interior points are drawn uniformly, so that the convexity penalty also sees where M is small.

``hard_boundary`` (default) feeds the MLP ``cos(k pi xi)``, ``k = 1..harmonics``, instead of ``xi``: every
feature has zero slope on the faces, so boundary nodes stay on their faces exactly and the boundary term is
identically zero (the paper's soft term remains for ``hard_boundary: false``). ``convexity: eigenvalue``
(default) penalises the smallest eigenvalue of ``I + hess phi`` below ``convexity_margin``, which keeps the map
one-to-one; ``diagonal`` is the released code's weaker penalty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from sciml.errors import ConfigError
from sciml.mesh import boundary_drift, centroids, equidistribution, inverted_cells, uniform_mesh
from sciml.mesh.monge_ampere import (
    CONVEXITY,
    boundary_points,
    jacobian_determinant,
    mesh_and_hessian,
    monge_ampere_terms,
    monitor,
    moved_points,
    sample_grid,
    sample_interior,
)
from sciml.solvers.base import Solver

TERMS = ("monge_ampere", "boundary", "convexity")


@dataclass
class MeshMoverConfig:
    name: str = "mesh_mover"
    alpha: float = 100.0  # monitor strength: M = 1 + alpha |grad u| / mean |grad u|
    hidden: int = 64  # width of the potential MLP
    layers: int = 3  # hidden layers of the potential MLP
    latent: int = 32  # solution code
    encoder_channels: int = 16
    hard_boundary: bool = True  # cos(k pi xi) features: boundary nodes stay on their faces exactly
    harmonics: int = 4  # k = 1..harmonics (hard_boundary only)
    scale: float = 0.1  # the MLP's output times this is phi (small initial displacements)
    convexity: str = "eigenvalue"  # eigenvalue (one-to-one) | diagonal (the released code's)
    convexity_margin: float = 0.05  # eigenvalue penalty below this
    interior_points: int = 1000  # per solution and step, sampled in proportion to M
    uniform_fraction: float = 0.25  # of the interior points drawn uniformly instead: folds where M is small count
    boundary_points: int = 50  # per face
    weights: dict[str, float] = field(
        default_factory=lambda: {"monge_ampere": 1.0, "boundary": 1000.0, "convexity": 1.0})


def validate_mesh_mover(cfg: MeshMoverConfig) -> None:
    if cfg.convexity not in CONVEXITY:
        raise ConfigError(f"bad value for 'solver.convexity': {cfg.convexity!r} (choose from {', '.join(CONVEXITY)})")
    for key in ("hidden", "layers", "latent", "encoder_channels", "harmonics", "interior_points", "boundary_points"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if not 0 <= cfg.uniform_fraction < 1:
        raise ConfigError(f"bad value for 'solver.uniform_fraction': {cfg.uniform_fraction} (0 <= f < 1)")
    for key in ("alpha", "scale", "convexity_margin"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 0)")
    unknown = sorted(set(cfg.weights) - set(TERMS))
    if unknown:
        raise ConfigError(f"unknown loss term(s) {unknown} in 'solver.weights' ({', '.join(TERMS)})")


class MoverNetwork(nn.Module):
    """``encode(u, M) -> z (B, latent)``; ``potential(xi (B, m, d), z) -> phi (B, m)``."""

    def __init__(self, cfg: MeshMoverConfig, channels: int, dim: int):
        super().__init__()
        self.cfg, self.dim = cfg, dim
        conv = nn.Conv1d if dim == 1 else nn.Conv2d
        pool = nn.AdaptiveAvgPool1d if dim == 1 else nn.AdaptiveAvgPool2d
        c = cfg.encoder_channels
        cells = 4 ** dim * (2 if dim == 1 else 1)  # a 4 x 4 (2D) or 8-cell (1D) summary of where M is large
        self.encoder = nn.Sequential(
            conv(channels + 1, c, 3, stride=2, padding=1), nn.GELU(), conv(c, c, 3, stride=2, padding=1), nn.GELU(),
            conv(c, c, 3, stride=1, padding=1), nn.GELU(), pool(8 if dim == 1 else 4), nn.Flatten(),
            nn.Linear(c * cells, cfg.latent))
        features = dim * (cfg.harmonics if cfg.hard_boundary else 1)
        layers: list[nn.Module] = [nn.Linear(features + cfg.latent, cfg.hidden), nn.Tanh()]
        for _ in range(cfg.layers - 1):
            layers += [nn.Linear(cfg.hidden, cfg.hidden), nn.Tanh()]
        self.mlp = nn.Sequential(*layers, nn.Linear(cfg.hidden, 1))
        nn.init.zeros_(self.mlp[-1].weight)  # the untrained mover returns the uniform mesh (phi = const)
        nn.init.zeros_(self.mlp[-1].bias)

    def encode(self, u: torch.Tensor, monitor_field: torch.Tensor) -> torch.Tensor:
        """``u (B, C, *space)`` (normalised per solution) and ``M (B, *space)`` -> ``(B, latent)``."""
        axes = tuple(range(2, u.dim()))
        u = (u - u.mean(axes, keepdim=True)) / u.std(axes, keepdim=True).clamp_min(1e-6)
        return self.encoder(torch.cat([u, monitor_field.log()[:, None]], 1))

    def potential(self, xi: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.cfg.hard_boundary:  # pi k in the points' precision: cos(pi k xi) has zero slope at 0 and 1 to rounding
            k = math.pi * torch.arange(1, self.cfg.harmonics + 1, dtype=xi.dtype, device=xi.device)
            features = torch.cos(xi[..., None] * k).flatten(-2)
        else:
            features = xi
        code = z[:, None, :].expand(*xi.shape[:-1], z.shape[-1])
        return self.cfg.scale * self.mlp(torch.cat([features, code], -1)).squeeze(-1)


class MeshMover(Solver):
    """The mover trained on batches of solutions ``(B, C, *space)`` on the uniform grid of the unit cube."""

    uses_params = False
    selection_metric = "monge_ampere"

    def __init__(self, cfg: MeshMoverConfig, channels: int, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        if dim not in (1, 2):
            raise ConfigError(f"mesh_mover moves 1D or 2D meshes; the data has {dim} space dimensions")
        self.cfg, self.dim, self.generator = cfg, dim, generator
        self.net = MoverNetwork(cfg, channels, dim)
        self.register_buffer("boundary", boundary_points(cfg.boundary_points, torch.get_default_dtype(), dim),
                             persistent=False)

    def monitor(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, C, *space) -> (B, *space)``."""
        return monitor(u, self.cfg.alpha, self.dim, channels=True)

    def _terms(self, u: torch.Tensor, points: torch.Tensor | None) -> dict[str, torch.Tensor]:
        m = self.monitor(u)
        z = self.net.encode(u, m)
        if points is None:
            uniform = round(self.cfg.uniform_fraction * self.cfg.interior_points)
            points = sample_interior(m, self.cfg.interior_points - uniform, self.generator, self.dim)
            spread = torch.rand(len(m), uniform, self.dim, generator=self.generator, dtype=m.dtype, device=m.device)
            points = torch.cat([points, spread], 1)
        terms = monge_ampere_terms(lambda xi: self.net.potential(xi, z), m, points, self.boundary,
                                   self.cfg.convexity, self.cfg.convexity_margin)
        return {k: self.cfg.weights.get(k, 1.0) * v for k, v in terms.items()}

    def training_loss(self, batch: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        return self._terms(batch, None)

    def validation_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Deterministic: the residual at the grid's nodes, and the quality of the mesh on those nodes."""
        n = batch.shape[-1]
        nodes = uniform_mesh(n, batch.dtype, self.dim).to(batch.device).reshape(1, -1, self.dim)
        values = {k: v.detach() for k, v in self._terms(batch, nodes.expand(len(batch), -1, -1)).items()}
        quality = mesh_quality(self, batch, n)
        values.update({k: v.mean() for k, v in quality.items()})
        return values

    def mesh(self, u: torch.Tensor, n: int, with_jacobian: bool = False):
        """The moved mesh ``(B, n, n, 2)`` (2D) or ``(B, n, 1)`` (1D) for solutions ``u (B, C, *space)``; with
        ``with_jacobian`` also ``det(I + hess phi)`` at the nodes ``(B, n[, n])``."""
        m = self.monitor(u)
        z = self.net.encode(u, m)
        xi = uniform_mesh(n, u.dtype, self.dim).to(u.device).reshape(1, -1, self.dim).expand(len(u), -1, -1)
        shape = (len(u),) + (n,) * self.dim
        if not with_jacobian:  # the positions alone: no second derivatives (MM-PDE asks for them every step)
            return moved_points(lambda p: self.net.potential(p, z), xi).reshape(*shape, self.dim)
        with torch.enable_grad():
            x, hess = mesh_and_hessian(lambda p: self.net.potential(p, z), xi)
        return x.detach().reshape(*shape, self.dim), jacobian_determinant(hess).detach().reshape(shape)

    def get_extra_state(self) -> dict:
        return {"generator": None if self.generator is None else self.generator.get_state()}

    def set_extra_state(self, state: dict) -> None:
        if self.generator is not None and state.get("generator") is not None:
            self.generator.set_state(state["generator"].cpu())


def mesh_quality(mover: MeshMover, u: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    """Per solution ``(B,)``: inverted cells, the smallest ``det J`` at the nodes, boundary drift, and the
    equidistribution std of the moved mesh over the uniform one's (M from the solution's grid)."""
    x, det = mover.mesh(u, n, with_jacobian=True)
    m = mover.monitor(u)
    reference = uniform_mesh(n, u.dtype, mover.dim).to(u.device).expand_as(x)
    if mover.dim == 1:
        spread = [_mass_spread_1d(m, mesh) for mesh in (x, reference)]
        inverted = (x[:, 1:, 0] <= x[:, :-1, 0]).sum(-1)
        drift = torch.maximum(x[..., 0, 0].abs(), (x[..., -1, 0] - 1).abs())
    else:
        spread = [equidistribution(mesh, sample_grid(m, centroids(mesh).flatten(1, -2).clamp(0, 1)))["std"]
                  for mesh in (x, reference)]
        inverted, drift = inverted_cells(x), boundary_drift(x)
    return {"inverted_cells": inverted.to(u.dtype), "min_jacobian": det.flatten(1).amin(1), "boundary_drift": drift,
            "equidistribution_ratio": spread[0] / spread[1]}


def _mass_spread_1d(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The std of ``M * h`` over cells (normalised by its mean) of 1D meshes ``x (B, n, 1)``."""
    mass = sample_grid(m, (0.5 * (x[:, 1:] + x[:, :-1])).clamp(0, 1)) * (x[:, 1:, 0] - x[:, :-1, 0])
    return (mass / mass.mean(-1, keepdim=True)).std(-1)


def build_mesh_mover(cfg: MeshMoverConfig, context) -> MeshMover:
    """``context``: the mesh task's, with ``channels``, ``dim`` and a seeded ``generator``."""
    return MeshMover(cfg, context.channels, context.dim, context.generator)
