"""The complete example solver of docs/architecture.md runs as printed and learns what the page says."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml import solvers
from sciml.config import load_config
from sciml.evaluate import evaluate_run
from sciml.tasks import fit
from sciml.training import load_checkpoint

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


@pytest.fixture
def example(monkeypatch):
    code = re.search(r"## A complete example.*?```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    assert len(code.splitlines()) < 100
    monkeypatch.setattr(solvers, "registry", solvers.registry)  # restored below: the example registers itself
    entries = dict(solvers.registry._entries)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    yield namespace
    solvers.registry._entries.clear()
    solvers.registry._entries.update(entries)


def test_the_example_learns_the_exact_phase_shift_of_advection(tmp_path, example):
    beta, dt, n = 0.7, 0.01, 32
    args = ["solver.name=spectral_linear", "solver.modes=8", "dataset.name=advection1d", f"dataset.n={n}",
            f"dataset.speeds=[{beta}]", f"dataset.dt={dt}", "dataset.max_wavenumber=3", "dataset.n_train=32",
            "dataset.n_valid=8", "dataset.n_test=4", "dataset.steps_train=20", "dataset.steps_eval=100",
            "task.time_step=1", "trainer.max_steps=400", "trainer.lr=0.02", "trainer.weight_decay=0",
            "trainer.batch_size=32", "trainer.eval_every=200", "trainer.progress=lines", "trainer.device=cpu",
            f"dataset.root={tmp_path / 'data'}", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    weight = load_checkpoint(run / "checkpoints" / "best.pt")["model"]["weight"]
    learned = torch.view_as_complex(weight)[0, 1:4]  # the modes the data excites (wavenumbers 1..3)
    k = 2 * math.pi * torch.arange(1, 4)
    exact = torch.exp(-1j * k * beta * dt)
    assert (learned - exact.to(learned.dtype)).abs().max() < 1e-5, (learned, exact)  # measured: 7e-8
    results = evaluate_run(run, verbose=False)
    assert results["rollout_steps"] == 100 and results["per_step"]["nrmse"][-1] < 1e-4  # measured: 3e-6
    assert results["high_correlation_time"]["reached_within_horizon"] is False
    assert np.isfinite(results["per_step"]["mse"]).all()
