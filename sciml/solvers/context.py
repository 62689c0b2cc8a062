"""What a solver is built from: the data it will see, described once, saved in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SolverContext:
    """Fields, shapes, time step, grid, PDE parameters and physical attributes of a dataset.

    Attributes:
      fields: channel names, in channel order (e.g. ``("u",)``, ``("vorticity",)``).
      spatial_shape: grid shape, e.g. ``(256,)`` or ``(64, 64)``.
      history: frames given as input.
      dt: model time step in the data's time units (stored frame spacing x ``task.time_step``).
      dx: grid spacing per spatial axis, in length units.
      axes: names of the spatial axes (``("x",)``, ``("x", "y")``).
      coords: coordinates along each axis, ``len(coords[i]) == spatial_shape[i]``.
      param_names: per-sample PDE parameters the solver receives, in order.
      param_ranges: ``(min, max)`` of each parameter over the training split.
      attrs: the dataset's physical attributes (``L``, ``nu``, ``dt``, ``param_*``, ...), numbers and strings.
      stats: per-channel normalisation statistics of the training split (``field_mean``, ``field_std``,
        ``delta_mean``, ``delta_std`` over one model step; :func:`sciml.data.compute_stats`), or empty.
      duration: the time span of the training trajectories (for solvers that take ``t / duration`` as input).
    """

    fields: tuple[str, ...]
    spatial_shape: tuple[int, ...]
    history: int = 1
    dt: float = 1.0
    dx: tuple[float, ...] = ()
    axes: tuple[str, ...] = ()
    coords: tuple[tuple[float, ...], ...] = ()
    param_names: tuple[str, ...] = ()
    param_ranges: tuple[tuple[float, float], ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, list[float]] = field(default_factory=dict)
    duration: float = 0.0

    def __post_init__(self) -> None:
        if self.history < 1:
            raise ValueError(f"history must be >= 1, got {self.history}")
        if len(self.param_ranges) != len(self.param_names):
            raise ValueError(f"{len(self.param_names)} parameter names but {len(self.param_ranges)} ranges")
        for name, arg in (("dx", self.dx), ("axes", self.axes), ("coords", self.coords)):
            if arg and len(arg) != len(self.spatial_shape):
                raise ValueError(f"{name} has {len(arg)} entries for {len(self.spatial_shape)} spatial axes")

    @property
    def ndim(self) -> int:
        """Spatial dimensions."""
        return len(self.spatial_shape)

    @property
    def channels(self) -> int:
        return len(self.fields)

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def to_dict(self) -> dict[str, Any]:
        """Lists, numbers and strings only: loads with ``torch.load(..., weights_only=True)``."""
        def plain(value: Any) -> Any:
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SolverContext:
        tuples = {"fields", "spatial_shape", "dx", "axes", "param_names"}
        out = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        out["coords"] = tuple(tuple(c) for c in data.get("coords", ()))
        out["param_ranges"] = tuple(tuple(r) for r in data.get("param_ranges", ()))
        return cls(**out)


def grid_context(spatial_shape: tuple[int, ...], channels: int = 1, history: int = 1, n_params: int = 0,
                 length: float = 1.0, dt: float = 1.0) -> SolverContext:
    """A context for a periodic grid on ``[0, length)`` per axis with parameters in ``[0, 1]`` (tests, scripts)."""
    axes = ("x", "y", "z")[: len(spatial_shape)]
    return SolverContext(
        fields=tuple(f"u{i}" if channels > 1 else "u" for i in range(channels)),
        spatial_shape=tuple(spatial_shape), history=history, dt=dt,
        dx=tuple(length / n for n in spatial_shape), axes=axes,
        coords=tuple(tuple(length * i / n for i in range(n)) for n in spatial_shape),
        param_names=tuple(f"p{i}" for i in range(n_params)), param_ranges=((0.0, 1.0),) * n_params)
