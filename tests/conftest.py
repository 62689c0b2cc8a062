import os
import signal
import subprocess
import time
from pathlib import Path

# One thread per test worker: parallel workers on 2 cores collapse with OpenMP oversubscription.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def tiny_overrides(tmp_path, **extra) -> list[str]:
    """A KS dataset and model small enough that a run takes a few seconds."""
    opts = {
        "dataset.root": str(tmp_path / "data"),
        "dataset.n": 64,
        "dataset.L": 32.0,
        "dataset.n_train": 16,
        "dataset.n_valid": 4,
        "dataset.n_test": 4,
        "dataset.steps_train": 24,
        "dataset.steps_eval": 48,
        "dataset.burn_in": 20.0,
        "solver.modes": 8,
        "solver.width": 8,
        "solver.n_layers": 2,
        "trainer.batch_size": 8,
        "trainer.max_steps": 20,
        "trainer.warmup_steps": 2,
        "trainer.eval_every": 10,
        "trainer.val_batches": 2,
        "trainer.checkpoint_every": 5,
        "trainer.log_every": 5,
        "trainer.progress": "lines",
        "trainer.device": "cpu",
        "run.dir": str(tmp_path / "run"),
    }
    opts.update(extra)
    return [f"{k}={v}" for k, v in opts.items()]


@pytest.fixture
def tiny(tmp_path):
    return tiny_overrides(tmp_path)


@pytest.fixture
def float64_default():
    """Run a test in float64 and restore the default dtype, so other tests in the worker are unaffected."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def kill_after_first_checkpoint(cmd: list[str], checkpoint: Path, env: dict, timeout: float = 120.0) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``checkpoint`` exists; fail if it finished first."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
