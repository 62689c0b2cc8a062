"""Format writers: round trips through our readers, the references' layouts, and one-line refusals."""

import h5py
import numpy as np
import pytest
from formats_fixtures import code, mp_pde

from sciml.data import DataError, open_dataset, trajectories_dataset, write_dataset
from sciml.data.__main__ import main as data_main
from sciml.data.export import convert


def burgers_like(folder, nx=16, n=3, nt=7, name="train.nc", x0=None):
    """A 1D periodic dataset on cell centres (as our recipes write), with per-sample parameters."""
    L = 16.0
    dx = L / nx
    x = (np.arange(nx) + 0.5) * dx if x0 is None else x0 + np.arange(nx) * dx
    ds = trajectories_dataset({"u": code(n, nt, nx)}, time=np.linspace(0, 4, nt), space={"x": x},
                              attrs={"L": L, "dt": 4 / (nt - 1)})
    ds["alpha"] = ("sample", np.ones(n))
    ds["beta"] = ("sample", np.linspace(0.0, 0.2, n))
    ds["gamma"] = ("sample", np.zeros(n))
    return write_dataset(ds, folder / name)


def field_2d(folder, name="valid.nc"):
    ds = trajectories_dataset({"u": code(2, 4, 6, 5), "vx": code(2, 4, 6, 5) + 0.5},
                              time=np.linspace(18, 102, 4), space={"x": np.linspace(0, 1, 6, endpoint=False),
                                                                     "y": np.linspace(0, 1, 5, endpoint=False)},
                              attrs={})
    ds["buo_y"] = ("sample", np.array([0.2, 0.4]))
    return write_dataset(ds, folder / name)


def assert_same(a, b, fields, params):
    for fa, fb in fields:
        np.testing.assert_allclose(b[fb].values, a[fa].values, rtol=1e-7)
    for dim in ("time", *a[fields[0][0]].dims[2:]):
        np.testing.assert_allclose(b[dim].values, a[dim].values, rtol=1e-12, atol=1e-12)
    for p in params:
        np.testing.assert_array_equal(b[p].values, a[p].values)


def test_mp_pde_round_trip_and_the_released_layout(tmp_path):
    fine = burgers_like(tmp_path / "fine", nx=16)
    coarse = burgers_like(tmp_path / "coarse", nx=8)
    out = convert([fine, coarse], tmp_path / "CE_train_E2.h5", "mp_pde")
    (tmp_path / "released").mkdir()
    released = mp_pde(tmp_path / "released")  # the released generator's layout
    with h5py.File(out) as f, h5py.File(released) as r:
        assert set(f) == set(r) == {"train"} and set(f["train"]) == {"pde_7-16", "pde_7-8", "alpha", "beta", "gamma"}
        d = f["train/pde_7-8"]
        assert set(r["train/pde_20-8"].attrs) <= set(d.attrs) and d.dtype == np.float64
        np.testing.assert_allclose(d.attrs["x"], np.linspace(0, 16, 8))  # the periodic endpoint, as released
        assert d.attrs["dx"] == 2.0 and d.attrs["nt"] == 7 and d.attrs["nx"] == 8
        assert d.attrs["dt"] == pytest.approx(4 / 6) and (d.attrs["tmin"], d.attrs["tmax"]) == (0.0, 4.0)
    for key, ours in (("pde_7-16", fine), ("pde_7-8", coarse)):
        assert_same(open_dataset(ours), open_dataset(out, key=key), [("u", "u")], ["alpha", "beta", "gamma"])


def test_mp_pde_refuses_2d_data_and_mismatched_resolutions(tmp_path):
    with pytest.raises(DataError, match=r"^mp_pde: MP-PDE's layout is 1D .* space dims \('x', 'y'\)"):
        convert([field_2d(tmp_path)], tmp_path / "out.h5", "mp_pde")
    a = burgers_like(tmp_path / "a", nx=16, n=3)
    b = burgers_like(tmp_path / "b", nx=8, n=2)
    with pytest.raises(DataError, match="same trajectories"):
        convert([a, b], tmp_path / "out.h5", "mp_pde")
    with pytest.raises(DataError, match="same resolution"):
        convert([a, a], tmp_path / "out.h5", "mp_pde")
    assert not (tmp_path / "out.h5").exists()


def test_pdearena_round_trip_1d_and_2d(tmp_path):
    one = burgers_like(tmp_path, name="test.nc")
    out = convert([one], tmp_path / "KS_test_seed0.h5", "pdearena")
    with h5py.File(out) as f:
        assert {"pde_7-16", "dt", "dx", "x", "t"} <= set(f["test"]) and f["test/dt"].shape == (3,)
    assert_same(open_dataset(one), open_dataset(out), [("u", "u")], ["alpha", "beta", "gamma"])
    two = field_2d(tmp_path)
    out2 = convert([two], tmp_path / "NavierStokes2D_valid_seed0.h5", "pdearena")
    back = open_dataset(out2)
    assert back.attrs["split"] == "valid"
    assert_same(open_dataset(two), back, [("u", "u"), ("vx", "vx")], ["buo_y"])


def test_pdebench_round_trip(tmp_path):
    src = burgers_like(tmp_path)
    out = convert([src], tmp_path / "1D_Burgers_Sols.hdf5", "pdebench")
    with h5py.File(out) as f:
        assert f["tensor"].shape == (3, 7, 16) and len(f["t-coordinate"]) == 8  # one more, as PDEBench
        # a parameter with one value in the file is also a root attribute (CAPE's loader reads those)
        assert dict(f.attrs) == {"alpha": 1.0, "gamma": 0.0}
    assert_same(open_dataset(src), open_dataset(out), [("u", "tensor")], ["alpha", "beta", "gamma"])
    with pytest.raises(DataError, match=r"^pdebench: a single file holds one field"):
        convert([field_2d(tmp_path)], tmp_path / "two.hdf5", "pdebench")


def test_bad_input_is_one_line_naming_the_problem(tmp_path, capsys):
    src = burgers_like(tmp_path)
    with pytest.raises(DataError, match="unknown format 'zarr'"):
        convert([src], tmp_path / "o.h5", "zarr")
    ds = open_dataset(src).load()
    ds = ds.assign_coords(time=np.array([0, 1, 2, 3, 5, 8, 13.0]))
    uneven = write_dataset(ds, tmp_path / "uneven.nc")
    with pytest.raises(DataError, match="uniform time"):
        convert([uneven], tmp_path / "o.h5", "mp_pde")
    assert data_main(["convert", str(tmp_path / "missing.nc"), str(tmp_path / "o.h5"), "--format", "pdebench"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such file" in err and err.count("\n") == 1
    assert data_main(["convert", str(src), str(tmp_path / "ok.h5"), "--format", "mp_pde"]) == 0
    assert "wrote" in capsys.readouterr().out
