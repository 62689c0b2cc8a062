"""Tiny files in the exact public layouts of the formats users bring (values encode their own index)."""

from pathlib import Path

import h5py
import numpy as np


def code(n, t, *space) -> np.ndarray:
    """Values that tell where they came from: 1000 sample + 10 time + space index / 100."""
    grids = np.meshgrid(np.arange(n), np.arange(t), *[np.arange(s) for s in space], indexing="ij")
    return (1000 * grids[0] + 10 * grids[1] + sum(g for g in grids[2:]) / 100).astype(np.float32)


def pdebench_single_1d(folder: Path) -> Path:
    path = folder / "1D_Advection_Sols_beta0.4.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"] = code(3, 5, 8)
        f["x-coordinate"] = np.linspace(0, 1, 8, endpoint=False)
        f["t-coordinate"] = np.linspace(0, 2, 6)  # one entry more than the data, as PDEBench writes it
    return path


def pdebench_cfd_2d(folder: Path) -> Path:
    path = folder / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5"
    with h5py.File(path, "w") as f:
        for i, name in enumerate(("density", "pressure", "Vx", "Vy")):
            f[name] = code(2, 4, 6, 5) + i * 0.001
        f["x-coordinate"] = np.linspace(0, 1, 6)
        f["y-coordinate"] = np.linspace(0, 1, 5)
        f["t-coordinate"] = np.linspace(0, 1, 5)
    return path


def pdebench_multi(folder: Path) -> Path:
    path = folder / "2D_diff-react_NA_NA.h5"
    with h5py.File(path, "w") as f:
        for seed in range(3):
            g = f.create_group(f"{seed:04d}")
            data = np.stack([code(3, 5, 6, 4)[seed], -code(3, 5, 6, 4)[seed]], axis=-1)  # [T, X, Y, V]
            g["data"] = data
            g["grid/x"] = np.linspace(-1, 1, 6)
            g["grid/y"] = np.linspace(-1, 1, 4)
            g["grid/t"] = np.linspace(0, 5, 5)
    return path


def the_well(folder: Path) -> Path:
    data = folder / "rayleigh_benard" / "data" / "train"
    data.mkdir(parents=True)
    path = data / "rayleigh_benard_Rayleigh_1e6_Prandtl_1.hdf5"
    n, t, x, y = 2, 4, 6, 5
    with h5py.File(path, "w") as f:
        f.attrs["simulation_parameters"] = ["Rayleigh", "Prandtl"]
        f.attrs["Rayleigh"] = 1e6
        f.attrs["Prandtl"] = 1.0
        f.attrs["dataset_name"] = "rayleigh_benard"
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = 2
        f.attrs["n_trajectories"] = n
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"] = np.linspace(0, 1, t).astype(np.float32)
        dims["time"].attrs["sample_varying"] = False
        for name, size in (("x", x), ("y", y)):
            dims[name] = np.linspace(0, 1, size).astype(np.float32)
            dims[name].attrs["sample_varying"] = False
            dims[name].attrs["time_varying"] = False
        bc = f.create_group("boundary_conditions/x_periodic")
        bc.attrs["associated_dims"] = ["x"]
        bc.attrs["bc_type"] = "PERIODIC"
        bc.attrs["sample_varying"] = False
        bc.attrs["time_varying"] = False
        bc["mask"] = np.zeros(x, dtype=bool)
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Rayleigh", "Prandtl"]
        for name, value in (("Rayleigh", 1e6), ("Prandtl", 1.0)):
            scalars[name] = value
            scalars[name].attrs["sample_varying"] = False
            scalars[name].attrs["time_varying"] = False
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["buoyancy", "pressure", "coef"]
        t0["buoyancy"] = code(n, t, x, y)
        t0["pressure"] = -code(n, t, x, y)
        t0["coef"] = np.full((x, y), 7.0, dtype=np.float32)
        t0["coef"].attrs["sample_varying"] = False
        t0["coef"].attrs["time_varying"] = False
        for name in ("buoyancy", "pressure"):
            t0[name].attrs["dim_varying"] = [True, True]
            t0[name].attrs["sample_varying"] = True
            t0[name].attrs["time_varying"] = True
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1["velocity"] = np.stack([code(n, t, x, y), code(n, t, x, y) + 0.5], axis=-1)
        t2 = f.create_group("t2_fields")
        t2.attrs["field_names"] = ["stress"]
        base = code(n, t, x, y)[..., None, None]
        t2["stress"] = base + np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    (folder / "rayleigh_benard" / "stats.yaml").write_text(
        "mean:\n  buoyancy: 0.5\n  velocity: [0.1, 0.2]\nstd:\n  buoyancy: 2.0\n  velocity: [1.0, 3.0]\n")
    return path


def mp_pde(folder: Path) -> Path:
    path = folder / "CE_train_E2.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("train")
        for nx in (16, 8):
            d = g.create_dataset(f"pde_20-{nx}", data=code(3, 20, nx).astype(np.float64))
            d.attrs["dt"] = 0.2
            d.attrs["dx"] = 16 / nx
            d.attrs["nt"] = 20
            d.attrs["nx"] = nx
            d.attrs["tmin"] = 0.0
            d.attrs["tmax"] = 4.0
            d.attrs["x"] = np.linspace(0, 16, nx)
        g["alpha"] = np.array([1.0, 1.0, 1.0])
        g["beta"] = np.array([0.1, 0.15, 0.05])
        g["gamma"] = np.zeros(3)
    return path


def pdearena_ns(folder: Path) -> Path:
    path = folder / "NavierStokes2D_train_seed1.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("train")
        g["u"] = code(2, 4, 8, 8)
        g["vx"] = code(2, 4, 8, 8) + 0.5
        g["vy"] = code(2, 4, 8, 8) - 0.5
        g["buo_y"] = np.array([0.2, 0.4])
        g["dt"] = np.array([1.5, 1.5])
        g["dx"] = np.array([0.25, 0.25])
        g["x"] = np.linspace(0, 32, 8)
        g["t"] = np.tile(np.linspace(18, 102, 4), (2, 1))
    return path


def cf_netcdf(folder: Path) -> Path:
    import netCDF4

    path = folder / "tas_day_model_ssp245.nc"
    with netCDF4.Dataset(path, "w") as f:
        f.Conventions = "CF-1.8"
        f.createDimension("t_dim", None)  # names that say nothing: axes must come from the attributes
        f.createDimension("j", 3)
        f.createDimension("i", 4)
        t = f.createVariable("t_dim", "f8", ("t_dim",))
        t.units = "days since 2000-01-01"
        t.calendar = "noleap"
        t.standard_name = "time"
        t[:] = [0, 1, 2, 59, 365]
        lat = f.createVariable("j", "f4", ("j",))
        lat.units = "degrees_north"
        lat[:] = [-10, 0, 10]
        lon = f.createVariable("i", "f4", ("i",))
        lon.units = "degrees_east"
        lon[:] = [0, 90, 180, 270]
        tas = f.createVariable("tas", "f4", ("t_dim", "j", "i"), fill_value=-999.0)
        tas.units = "K"
        tas.standard_name = "air_temperature"
        values = 280 + code(1, 5, 3, 4)[0]
        tas[:] = values
        tas[2, 1, 1] = np.ma.masked  # written as the fill value
    return path
