"""Every reader on tiny files in the exact public layouts; lazy multi-worker loading; bad files."""

import cftime
import h5py
import numpy as np
import pytest
import torch
from formats_fixtures import (
    cf_netcdf,
    code,
    mp_pde,
    pdearena_ns,
    pdebench_cfd_2d,
    pdebench_multi,
    pdebench_single_1d,
    the_well,
)
from torch.utils.data import DataLoader, DistributedSampler

from sciml.data import DataError, TrajectoryWindows, open_dataset
from sciml.data.formats import detect


def test_pdebench_single_1d(tmp_path):
    path = pdebench_single_1d(tmp_path)
    src = detect(path)
    assert src.format == "pdebench-single" and src.variables == ["tensor"]
    assert (src.n_samples, src.n_times, src.spatial_shape) == (3, 5, (8,))
    assert len(src.coords["time"]) == 5  # the extra t-coordinate entry is dropped
    np.testing.assert_allclose(src.params["beta"], 0.4)
    ds = open_dataset(path)
    assert ds.tensor.dims == ("sample", "time", "x")
    assert float(ds.tensor[2, 3, 4]) == pytest.approx(2030.04)
    np.testing.assert_array_equal(ds.tensor.values, code(3, 5, 8))
    item = TrajectoryWindows(path, history=2, time_step=2, params=["beta"])[1]  # sample 1, window 0
    np.testing.assert_allclose(item["input"][:, 0, 0].numpy(), [1000, 1020])
    np.testing.assert_allclose(item["target"][0, 0, 0].numpy(), 1040)
    assert item["params"].tolist() == pytest.approx([0.4])


def test_pdebench_cfd_2d(tmp_path):
    src = detect(pdebench_cfd_2d(tmp_path))
    assert src.variables == ["density", "pressure", "Vx", "Vy"]
    assert src.spatial_shape == (6, 5) and src.space_dims == ("x", "y")
    assert src.params["M"][0] == 0.1 and src.params["Eta"][0] == 0.01 and src.params["Zeta"][0] == 0.01
    frames = TrajectoryWindows(src.path)[0]["input"]
    assert frames.shape == (1, 4, 6, 5)
    np.testing.assert_allclose(frames[0, :, 1, 2].numpy(), 0.03 + np.arange(4) * 0.001, rtol=1e-5)


def test_pdebench_multi(tmp_path):
    path = pdebench_multi(tmp_path)
    src = detect(path)
    assert src.format == "pdebench-multi" and src.variables == ["data_0", "data_1"]
    assert (src.n_samples, src.n_times, src.spatial_shape) == (3, 5, (6, 4))
    ds = open_dataset(path)
    np.testing.assert_array_equal(ds.data_0.values, code(3, 5, 6, 4))
    np.testing.assert_array_equal(ds.data_1[2].values, -code(3, 5, 6, 4)[2])
    np.testing.assert_allclose(ds.y.values, np.linspace(-1, 1, 4))


def test_the_well(tmp_path):
    path = the_well(tmp_path)
    src = detect(path)
    assert src.format == "the-well"
    assert src.variables == ["buoyancy", "pressure", "coef", "velocity_x", "velocity_y",
                             "stress_xx", "stress_xy", "stress_yx", "stress_yy"]
    assert src.params["Rayleigh"].tolist() == [1e6, 1e6] and src.params["Prandtl"].tolist() == [1.0, 1.0]
    assert "x_periodic: PERIODIC on x" in src.attrs["boundary_conditions"]
    assert src.stats["velocity_y"] == {"mean": 0.2, "std": 3.0}
    assert src.stats["buoyancy"]["std"] == 2.0
    ds = open_dataset(path)
    np.testing.assert_array_equal(ds.velocity_y.values, code(2, 4, 6, 5) + 0.5)
    np.testing.assert_allclose(ds.stress_yx.values, code(2, 4, 6, 5) + 0.3, rtol=1e-6)
    np.testing.assert_array_equal(ds.coef.values, 7.0)  # broadcast over samples and times
    item = TrajectoryWindows(path, variables=["pressure", "velocity_x"], params=["Rayleigh"])[5]
    np.testing.assert_array_equal(item["target"][0, 0].numpy(), -code(2, 4, 6, 5)[1, 3])


def test_mp_pde_picks_the_finest_resolution_or_the_named_one(tmp_path):
    path = mp_pde(tmp_path)
    src = detect(path)
    assert src.format == "pdearena" and src.variables == ["u"] and src.spatial_shape == (16,)
    assert src.attrs["dt"] == 0.2 and src.n_times == 20
    np.testing.assert_allclose(src.coords["time"], np.linspace(0, 4, 20))
    # the file's x is linspace(0, 16, 16), the periodic endpoint included, with dx = 16 / 16: the nodes are j dx
    np.testing.assert_allclose(src.coords["x"], np.arange(16.0))
    assert src.attrs["L"] == 16.0
    assert src.params["beta"].tolist() == [0.1, 0.15, 0.05]
    coarse = TrajectoryWindows(path, key="pde_20-8", params=["alpha", "beta", "gamma"])
    assert coarse.spatial_shape == (8,)
    assert coarse[19]["params"].tolist() == pytest.approx([1.0, 0.15, 0.0])  # 19 windows a sample: sample 1
    with pytest.raises(DataError, match="no dataset train/pde_20-4"):
        detect(path, key="pde_20-4")


def test_pdearena_navier_stokes(tmp_path):
    path = pdearena_ns(tmp_path)
    src = detect(path)
    assert src.variables == ["u", "vx", "vy"] and src.spatial_shape == (8, 8)
    assert src.params["buo_y"].tolist() == [0.2, 0.4] and src.attrs["dt"] == 1.5
    np.testing.assert_allclose(src.coords["time"], np.linspace(18, 102, 4))
    ds = open_dataset(path)
    np.testing.assert_array_equal(ds.vy[1, 2].values, code(2, 4, 8, 8)[1, 2] - 0.5)


def test_cf_netcdf_axes_from_attributes_cftime_and_masks(tmp_path):
    path = cf_netcdf(tmp_path)
    src = detect(path)
    assert src.format == "cf-netcdf"
    assert src.space_dims == ("j", "i") and src.n_samples == 1 and src.n_times == 5
    assert src.variables == ["tas", "tas_mask"]
    assert src.attrs["calendar"] == "noleap"
    assert isinstance(src.coords["time"][3], cftime.DatetimeNoLeap)
    assert (src.coords["time"][4].year, src.coords["time"][3].month) == (2001, 3)  # noleap: day 59 is 1 March
    item = TrajectoryWindows(path, time_step=1, full_trajectory=True)[0]["trajectory"]
    assert item.shape == (5, 2, 3, 4)
    assert item[2, 0, 1, 1] == 0.0 and item[2, 1, 1, 1] == 0.0  # filled value -> 0, mask 0
    assert item[2, 0, 1, 2] == pytest.approx(280 + 20.03) and item[2, 1, 1, 2] == 1.0
    assert torch.isfinite(item).all()
    ds = open_dataset(path)
    assert np.isnan(ds.tas.values[0, 2, 1, 1])  # open_dataset keeps the fill as NaN


def test_zarr_store(tmp_path):
    import xarray as xr
    import zarr  # a hard dependency: a broken install must fail here, not skip

    assert zarr.__version__

    nc = cf_netcdf(tmp_path)
    store = tmp_path / "tas.zarr"
    xr.open_dataset(nc, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).to_zarr(store, consolidated=False)
    src = detect(store)
    assert src.format == "zarr" and src.space_dims == ("j", "i") and src.attrs["calendar"] == "noleap"
    item = TrajectoryWindows(store, time_step=1)[3]
    assert item["target"][0, 0, 0, 0] == pytest.approx(280 + 40.0)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_two_workers_read_lazily_and_identically(tmp_path, context):
    path = pdebench_multi(tmp_path)
    windows = TrajectoryWindows(path, history=2, time_step=1)
    expected = torch.stack([windows[i]["input"] for i in range(len(windows))])
    assert windows._handle_obj is not None  # opened here; must not travel to the workers
    loader = DataLoader(windows, batch_size=3, num_workers=2, multiprocessing_context=context)
    got = torch.cat([b["input"] for b in loader])
    torch.testing.assert_close(got, expected)


def test_distributed_sampler_partitions_the_windows(tmp_path):
    windows = TrajectoryWindows(pdebench_single_1d(tmp_path), time_step=1)
    parts = [list(DistributedSampler(windows, num_replicas=2, rank=r, shuffle=True, seed=3)) for r in (0, 1)]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == list(range(len(windows)))


def test_normalisation_round_trip_with_stored_statistics(tmp_path):
    path = pdebench_cfd_2d(tmp_path)
    raw = TrajectoryWindows(path, history=2)
    norm = TrajectoryWindows(path, history=2, normalize=True)
    assert (tmp_path / (path.name + ".stats.json")).is_file()
    x = norm[3]["input"]
    assert abs(float(torch.stack([norm[i]["input"] for i in range(len(norm))]).mean())) < 0.5
    torch.testing.assert_close(norm.denormalise(x), raw[3]["input"], rtol=1e-5, atol=1e-3)


def test_bad_files_are_named(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not a data file at all")
    with pytest.raises(DataError, match="junk.h5: unrecognised format"):
        detect(junk)
    good = pdebench_single_1d(tmp_path)
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(DataError, match="cut.hdf5"):
        detect(cut)
    cfd = pdebench_cfd_2d(tmp_path)
    with h5py.File(cfd, "a") as f:
        del f["Vy"]
        f["Vy"] = np.zeros((2, 4, 6, 4), dtype=np.float32)
    with pytest.raises(DataError, match="different shapes"):
        detect(cfd)
    arena = mp_pde(tmp_path)
    with h5py.File(arena, "a") as f:
        del f["train/beta"]
        f["train/beta"] = np.zeros(4)  # not per sample any more: ignored as a parameter ...
    with pytest.raises(DataError, match="no per-sample parameter 'beta'"):
        TrajectoryWindows(arena, params=["beta"])  # ... so asking for it is an error
    well = the_well(tmp_path / "w")
    with h5py.File(well, "a") as f:
        f["t0_fields/broken"] = np.zeros((2, 4, 6), dtype=np.float32)
    with pytest.raises(DataError, match="t0_fields/broken has shape"):
        detect(well)
    with pytest.raises(DataError, match="missing key 'rho'"):
        detect(good, variables=["rho"])
    with pytest.raises(DataError, match="do not apply"):
        detect(good, split="train")
