"""Coupling: export round trips (TorchScript and torch.export, float32 and float64), clear failures, Python hosts,
and the C and Fortran hosts built against the libtorch inside the torch wheel."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sciml.config import load_config
from sciml.couple import ExportError, export, load, numpy_closure
from sciml.sim import Lorenz96, NavierStokes2D
from sciml.solvers import SolverContext, build

SOURCES = Path(__file__).resolve().parents[1] / "sciml" / "couple" / "fortran"


def _l96_closure(name: str, K: int = 8) -> nn.Module:
    ctx = SolverContext(fields=("X", "coupling"), spatial_shape=(K,), dt=0.01,
                        attrs={"system": "lorenz96_two_scale", "K": K, "F": 20.0},
                        stats={"field_mean": [3.7, -3.8], "field_std": [5.0, 4.6]})
    cfg = load_config([f"solver.name={name}", "task.name=closure", "dataset.name=lorenz96_two_scale",
                       "task.target=coupling"])
    torch.manual_seed(0)
    model = build(cfg.solver, ctx).eval()
    for p in model.parameters():  # non-trivial weights (a fresh polynomial closure is zero)
        p.data.add_(0.1 * torch.randn_like(p))
    return model


def _ns_closure() -> nn.Module:
    ctx = SolverContext(fields=("vorticity", "subgrid"), spatial_shape=(16, 16), dt=0.1,
                        attrs={"system": "navier_stokes_2d", "param_L": 6.283185307179586, "nu": 1e-3,
                               "drag": 0.1, "beta": 0.0, "param_forcing": "kolmogorov", "param_k_f": 4,
                               "param_forcing_amplitude": 1.0, "param_stepper": "cn_rk4"},
                        stats={"field_mean": [0.0, 0.0], "field_std": [3.0, 0.5]})
    cfg = load_config(["experiments/closure_ns2d.yaml", "solver.width=4", "solver.layers=2"])
    torch.manual_seed(0)
    return build(cfg.solver, ctx).eval()


@pytest.mark.parametrize("fmt", ["torchscript", "pt2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["polynomial", "local_mlp", "mno", "cnn_closure"])
def test_export_round_trip_matches_the_eager_model(tmp_path, fmt, dtype, name):
    if name == "mno" and dtype == torch.float64:
        pytest.skip("neuraloperator's complex weights do not convert to float64")
    model = _ns_closure() if name == "cnn_closure" else _l96_closure(name)
    model = model if name == "mno" else model.to(dtype)  # .to() would drop the MNO's complex weights' imaginary part
    shape = (3, 16, 16) if name == "cnn_closure" else (3, 8)
    example = 4 * torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    path = export(model, example, tmp_path / f"closure.{fmt}", fmt, units="m s-1")
    reloaded = load(path)
    other = 4 * torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model.tendency(other)
        got = reloaded(other)
    tol = 1e-5 if dtype == torch.float32 else 1e-12  # stated tolerances, relative to the largest value
    assert got.dtype == dtype
    assert float((got - expected).abs().max()) <= tol * float(expected.abs().max())
    spec = reloaded.spec
    assert spec["inputs"][0]["dtype"] == str(dtype).removeprefix("torch.") and spec["inputs"][0]["units"] == "m s-1"
    assert spec["normalisation"]["state_std"] == pytest.approx(float(model.state_std))
    assert spec["torch_version"] == torch.__version__ and "fortran" in spec


class _DataDependent(nn.Module):
    def forward(self, x):
        if x.mean() > 0:  # a branch on values: a trace would keep only one side
            return x
        return -x


def test_a_closure_with_control_flow_on_values_is_refused_with_its_line(tmp_path):
    with pytest.raises(ExportError, match=r"test_couple.py:\d+"):
        export(_DataDependent(), torch.ones(2, 8), tmp_path / "bad.pt")
    with pytest.raises(ExportError, match="tendency of the state's shape"):
        export(nn.Linear(8, 3), torch.ones(2, 8), tmp_path / "bad.pt")


def test_exported_closure_checks_its_inputs(tmp_path):
    path = export(_l96_closure("local_mlp").double(), torch.randn(2, 8, dtype=torch.float64), tmp_path / "c.pt")
    closure = load(path)
    with pytest.raises(ValueError, match="takes torch.float64"):
        closure(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r"takes shape \[-1, 8\]"):
        closure(torch.randn(2, 9, dtype=torch.float64))
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "missing.pt")


def test_exported_closures_drive_the_simulators_and_a_numpy_host(tmp_path):
    model = _l96_closure("local_mlp").double()
    closure = load(export(model, torch.randn(2, 8, dtype=torch.float64), tmp_path / "c.pt2", "pt2"))
    x0 = 3 + 2 * torch.randn(2, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    l96 = Lorenz96(K=8, F=20.0)
    with torch.no_grad():
        eager = l96.rollout(x0, 200, 0.005, closure=model.tendency)
        exported = l96.rollout(x0, 200, 0.005, closure=closure)
    torch.testing.assert_close(exported, eager, rtol=1e-10, atol=1e-10)
    # an external model with its own NumPy time loop (forward Euler here), the closure through the adapter
    f = numpy_closure(closure)
    x = x0.numpy().copy()
    for _ in range(50):
        rhs = (np.roll(x, -1, -1) - np.roll(x, 2, -1)) * np.roll(x, 1, -1) - x + 20.0
        x = x + 0.005 * (rhs + f(x))
    y = x0.clone()
    with torch.no_grad():
        for _ in range(50):
            y = y + 0.005 * (l96.rhs(y) + model.tendency(y))
    np.testing.assert_allclose(x, y.numpy(), rtol=1e-10)
    ns_model = _ns_closure().double()
    w0 = torch.randn(2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ns_closure = load(export(ns_model, w0, tmp_path / "ns.pt"))
    ns = NavierStokes2D(n=16, nu=1e-3, drag=0.1, forcing="kolmogorov")
    with torch.no_grad():
        torch.testing.assert_close(ns.rollout(w0, 10, 0.02, closure=ns_closure),
                                   ns.rollout(w0, 10, 0.02, closure=ns_model.tendency), rtol=1e-10, atol=1e-10)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Path:
    """The shim and the hosts, built once with CMake against the torch wheel's libtorch."""
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (Debian: apt-get install cmake g++ gfortran)")
    build_dir = tmp_path_factory.mktemp("couple_build")
    prefix = torch.utils.cmake_prefix_path
    subprocess.run(["cmake", "-S", str(SOURCES), "-B", str(build_dir), f"-DCMAKE_PREFIX_PATH={prefix}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build_dir), "-j", "2"], check=True, capture_output=True)
    return build_dir


@pytest.mark.fortran
def test_c_host_calls_the_closure_and_reports_bad_input(hosts, tmp_path):
    model = _l96_closure("local_mlp").double()
    path = export(model, torch.randn(2, 8, dtype=torch.float64), tmp_path / "c.pt")
    out = subprocess.run([str(hosts / "c_host"), str(path), "8"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    state = torch.tensor([[i - 4.0 + row for i in range(8)] for row in range(2)], dtype=torch.float64)
    with torch.no_grad():
        expected = model.tendency(state).numpy()
    np.testing.assert_allclose(np.loadtxt(out.stdout.splitlines()), expected, rtol=1e-14)
    wrong = subprocess.run([str(hosts / "c_host"), str(path), "7"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "takes shape (-1, 8)" in wrong.stderr
    missing = subprocess.run([str(hosts / "c_host"), str(tmp_path / "none.pt"), "8"], capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot load" in missing.stderr


@pytest.mark.fortran
def test_fortran_host_matches_the_python_coupled_model(hosts, tmp_path):
    if not (hosts / "l96_host").is_file():
        pytest.skip("no Fortran compiler found by CMake (Debian: apt-get install gfortran)")
    K, F, dt, steps = 8, 20.0, 0.005, 1000
    model = _l96_closure("local_mlp").double()
    path = export(model, torch.randn(2, K, dtype=torch.float64), tmp_path / "closure.pt")
    x0 = 3 + 2 * torch.randn(K, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    np.savetxt(tmp_path / "x0.txt", x0.numpy()[None], fmt="%.17e")
    run = subprocess.run([str(hosts / "l96_host"), str(path), str(K), str(F), str(dt), str(steps),
                          str(tmp_path / "x0.txt"), str(tmp_path / "traj.txt")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    fortran = np.loadtxt(tmp_path / "traj.txt")
    closure = load(path)
    start = time.perf_counter()
    with torch.no_grad():
        python = Lorenz96(K=K, F=F).rollout(x0[None], steps, dt, closure=closure)[0].numpy()
    python_step = (time.perf_counter() - start) / steps
    assert fortran.shape == (steps + 1, K)
    assert np.abs(fortran - python).max() <= 1e-5 * np.abs(python).max()
    print(f"\n{run.stdout.strip()} (Fortran host); {python_step:.4e} s per step (Python host)", file=sys.stderr)
    # bad input from the host: an error code and the shim's message, not a crash
    wrong_k = subprocess.run([str(hosts / "l96_host"), str(path), "7", str(F), str(dt), "3",
                              str(tmp_path / "x0.txt"), str(tmp_path / "t.txt")], capture_output=True, text=True)
    assert wrong_k.returncode != 0 and "error 2" in wrong_k.stdout and "takes shape (-1, 8)" in wrong_k.stdout
    missing = subprocess.run([str(hosts / "l96_host"), str(tmp_path / "none.pt"), str(K), str(F), str(dt), "3",
                              str(tmp_path / "x0.txt"), str(tmp_path / "t.txt")], capture_output=True, text=True)
    assert missing.returncode != 0 and "error 1" in missing.stdout and "cannot load" in missing.stdout
    float32 = export(model.float(), torch.randn(2, K), tmp_path / "f32.pt")
    wrong_type = subprocess.run([str(hosts / "l96_host"), str(float32), str(K), str(F), str(dt), "3",
                                 str(tmp_path / "x0.txt"), str(tmp_path / "t.txt")], capture_output=True, text=True)
    assert wrong_type.returncode != 0 and "takes float32" in wrong_type.stdout
