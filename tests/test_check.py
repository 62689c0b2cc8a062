"""python -m sciml.data check: every kind of problem is found, named by sample; clean files pass."""

import h5py
import numpy as np
import pytest
from formats_fixtures import pdebench_single_1d

from sciml.data import trajectories_dataset, write_dataset
from sciml.data.__main__ import main
from sciml.data.check import check_file


def ramp_file(path, time=None, dt=0.5):
    rng = np.random.default_rng(0)
    u = rng.normal(size=(5, 8, 16)).astype(np.float32)
    time = np.arange(8) * 0.5 if time is None else time
    return write_dataset(trajectories_dataset({"u": u}, time=time, space={"x": np.arange(16)}, attrs={"dt": dt}),
                         path), u


def test_clean_file_passes(tmp_path, capsys):
    path, _ = ramp_file(tmp_path / "clean.nc")
    assert check_file(path)[1] == []
    assert main(["check", str(path)]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_each_problem_is_reported_per_sample(tmp_path, capsys):
    path, _ = ramp_file(tmp_path / "bad.nc", time=np.array([0, 0.5, 1.0, 0.9, 2.0, 2.5, 3.0, 3.5]))
    with h5py.File(path, "a") as f:
        f["u"][1, 2, 3] = np.nan
        f["u"][1, 4, 0] = np.inf
        f["u"][3, 6, 7] = 1e4
    _, findings = check_file(path)
    text = [str(f) for f in findings]
    assert "sample 1: nan: 2 NaN/inf values in 'u' (first at time index 2)" in text
    assert any(t.startswith("sample 3: outlier: 'u' reaches") for t in text)
    assert any(t.startswith("file: time: time is not increasing at index 3") for t in text)
    assert not any("sample 0" in t or "sample 2" in t or "sample 4" in t for t in text)
    assert main(["check", str(path)]) == 1
    assert "problems found" in capsys.readouterr().out


def test_dt_attribute_must_match_the_time_axis(tmp_path):
    path, _ = ramp_file(tmp_path / "dt.nc", dt=0.25)
    assert [f.kind for f in check_file(path)[1]] == ["metadata"]


def test_other_formats_and_unreadable_files(tmp_path, capsys):
    path = pdebench_single_1d(tmp_path)
    assert check_file(path)[1] == []
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"garbage")
    assert main(["check", str(junk)]) == 2
    assert "junk.nc: unrecognised format" in capsys.readouterr().err


@pytest.mark.parametrize("z", [3.0])
def test_threshold_is_a_knob(tmp_path, z):
    path, u = ramp_file(tmp_path / "z.nc")
    flagged = {f.sample for f in check_file(path, z_threshold=z)[1]}
    extreme = {s for s in range(5) if np.abs((u[s] - u.mean()) / u.std()).max() > z}
    assert flagged == extreme
