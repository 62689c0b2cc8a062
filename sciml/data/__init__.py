"""Data layer: our xarray schema on HDF5/netCDF, lazy training windows, normalisation statistics."""

from sciml.data.io import DataError, TrajectoryWriter, open_dataset, write_dataset
from sciml.data.schema import field_names, trajectories_dataset
from sciml.data.stats import compute_stats, load_or_compute_stats
from sciml.data.windows import TrajectoryWindows

__all__ = [
    "DataError",
    "TrajectoryWindows",
    "TrajectoryWriter",
    "compute_stats",
    "field_names",
    "load_or_compute_stats",
    "open_dataset",
    "trajectories_dataset",
    "write_dataset",
]
