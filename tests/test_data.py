"""Schema, atomic writes, window semantics, lazy multi-worker loading, statistics, and bad files."""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciml.data import (
    DataError,
    TrajectoryWindows,
    compute_stats,
    load_or_compute_stats,
    open_dataset,
    trajectories_dataset,
    write_dataset,
)


def write_ramp(path, n_samples=3, n_times=12, n_x=8):
    """u[s, t, x] = 1000 s + t + x / 100: every value tells where it came from."""
    s, t, x = np.meshgrid(np.arange(n_samples), np.arange(n_times), np.arange(n_x), indexing="ij")
    u = (1000 * s + t + x / 100).astype(np.float32)
    ds = trajectories_dataset({"u": u, "v": -u}, time=np.arange(n_times) * 0.5, space={"x": np.arange(n_x) * 0.1},
                              attrs={"system": "ramp", "dt": 0.5})
    return write_dataset(ds, path)


def test_schema_round_trip_with_cf_attributes(tmp_path):
    path = write_ramp(tmp_path / "ramp.nc")
    ds = open_dataset(path)
    assert ds.u.dims == ("sample", "time", "x")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["dt"] == 0.5
    assert ds.time.attrs["axis"] == "T" and ds.x.attrs["units"] == "1"
    assert float(ds.u[2, 3, 4]) == pytest.approx(2003.04)
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_window_semantics(tmp_path):
    path = write_ramp(tmp_path / "ramp.nc")
    w = TrajectoryWindows(path, history=2, horizon=2, stride=3, time_step=2)
    # span (2 - 1 + 2) * 2 = 6 raw steps, starts 0, 3 fit into 12 frames (0..11): 0, 3 -> last needs t=9 (ok)
    assert w.windows_per_sample == 2 and len(w) == 6
    item = w[5]  # sample 2, second window: t0 = 3
    assert item["input"].shape == (2, 2, 8) and item["target"].shape == (2, 2, 8)
    np.testing.assert_allclose(item["input"][:, 0, 0].numpy(), [2003, 2005])
    np.testing.assert_allclose(item["target"][:, 0, 0].numpy(), [2007, 2009])  # first target one step after
    np.testing.assert_allclose(item["input"][:, 1], -item["input"][:, 0])  # channels are variables u, v
    full = TrajectoryWindows(path, time_step=2, full_trajectory=True, variables=["u"])
    assert len(full) == 3 and full[1]["trajectory"].shape == (6, 1, 8)


def test_pickles_without_an_open_handle_and_loads_in_workers(tmp_path):
    path = write_ramp(tmp_path / "ramp.nc", n_samples=8)
    w = TrajectoryWindows(path, history=1, time_step=1)
    _ = w[0]  # opens the file in this process
    clone = pickle.loads(pickle.dumps(w))
    assert clone._handle_obj is None
    loader = DataLoader(w, batch_size=16, num_workers=2, shuffle=False, multiprocessing_context="fork")
    got = torch.cat([b["input"] for b in loader])
    expected = torch.stack([w[i]["input"] for i in range(len(w))])
    torch.testing.assert_close(got, expected)


def test_stats_match_numpy_and_are_cached(tmp_path):
    path = write_ramp(tmp_path / "ramp.nc")
    w = TrajectoryWindows(path, time_step=3, variables=["u"])
    stats = compute_stats(w, max_bytes=200)
    u = open_dataset(path).u.values.astype(np.float64)
    diff = u[:, 3:] - u[:, :-3]
    assert stats["field_mean"][0] == pytest.approx(u.mean())
    assert stats["field_std"][0] == pytest.approx(u.std())
    assert stats["delta_mean"][0] == pytest.approx(3.0) and stats["delta_std"][0] == pytest.approx(diff.std(), abs=1e-6)
    cached = load_or_compute_stats(w)
    assert all(cached[k] == pytest.approx(v, rel=1e-12) for k, v in stats.items())
    assert load_or_compute_stats(w) == cached  # read back from the file
    assert (tmp_path / "ramp.nc.stats.json").is_file()


def test_nan_in_data_is_named(tmp_path):
    u = np.zeros((3, 5, 4), dtype=np.float32)
    u[1, 2, 3] = np.nan
    path = write_dataset(trajectories_dataset({"u": u}, time=np.arange(5), space={"x": np.arange(4)}, attrs={}),
                         tmp_path / "nan.nc")
    with pytest.raises(DataError, match="sample 1 holds NaN"):
        compute_stats(TrajectoryWindows(path))


def test_truncated_and_foreign_files_are_named(tmp_path):
    path = write_ramp(tmp_path / "ramp.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="truncated.nc"):
        TrajectoryWindows(truncated)
    with pytest.raises(DataError, match="truncated.nc"):
        open_dataset(truncated)
    with pytest.raises(DataError, match="no such file"):
        TrajectoryWindows(tmp_path / "missing.nc")
    with pytest.raises(DataError, match="missing variable 'w'"):
        TrajectoryWindows(path, variables=["w"])
    with pytest.raises(DataError, match="too short"):
        TrajectoryWindows(path, history=4, time_step=4)


def test_windows_carry_the_time_of_their_last_input_frame(tmp_path):
    from sciml.data import TrajectoryWriter

    path = tmp_path / "t.nc"
    with TrajectoryWriter(path, {"u": (2, 10, 4)}, time=0.5 + 0.1 * np.arange(10), space={"x": np.arange(4.0)},
                          attrs={"dt": 0.1}) as writer:
        writer.write(0, {"u": np.zeros((2, 10, 4), dtype=np.float32)})
    windows = TrajectoryWindows(path, history=2, horizon=1, time_step=3)
    assert windows[0]["time"].item() == pytest.approx(0.8) and windows[1]["time"].item() == pytest.approx(0.9)
    full = TrajectoryWindows(path, time_step=3, full_trajectory=True)[0]
    np.testing.assert_allclose(full["time"].numpy(), [0.5, 0.8, 1.1, 1.4], rtol=1e-6)
    assert len(full["time"]) == len(full["trajectory"])
