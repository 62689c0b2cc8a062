"""Long rollouts written to disk as they run: memory holds one chunk of frames, never the trajectory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sciml.data import TrajectoryWriter
from sciml.sim.base import Closure, Simulator


def rollout_to_file(sim: Simulator, state: torch.Tensor, n_steps: int, dt: float, path: str | os.PathLike,
                    save_every: int = 1, chunk: int = 100, closure: Closure | None = None,
                    variable: str = "state", attrs: dict | None = None, progress: bool = False) -> Path:
    """Roll ``sim`` out from ``state`` ``(B, *space)`` and write every ``save_every``-th frame to ``path``.

    Frames are computed ``chunk`` at a time under ``torch.no_grad`` and appended to a file in our schema
    (``variable`` with dims ``(sample, time, *space)``), written under a temporary name and renamed at
    the end. ``n_steps`` must be a multiple of ``save_every``. Returns the path.
    """
    if n_steps % save_every:
        raise ValueError(f"n_steps={n_steps} must be a multiple of save_every={save_every}")
    n_frames = n_steps // save_every + 1
    space_shape = tuple(state.shape[-sim.space_dims:])
    if state.dim() != sim.space_dims + 1:
        raise ValueError(f"state must be (batch, *space) with {sim.space_dims} space dims, got {tuple(state.shape)}")
    length = float(getattr(sim, "L", 1.0))
    dims = ("x", "y", "z")[: sim.space_dims]
    space = {d: np.arange(s) * length / s for d, s in zip(dims, space_shape, strict=True)}
    file_attrs = {"system": type(sim).__name__, "dt": dt * save_every, "solver_dt": dt, **(attrs or {})}
    with TrajectoryWriter(path, {variable: (state.shape[0], n_frames, *space_shape)},
                          time=np.arange(n_frames) * dt * save_every, space=space, attrs=file_attrs) as writer:
        done = 0  # frames written; the first chunk also writes the initial frame as the simulator sees it
        with torch.no_grad(), tqdm(total=n_frames, disable=not progress, desc="rollout", leave=False) as bar:
            while done < n_frames:
                k = min(chunk, n_frames - max(done, 1))
                traj = sim.rollout(state, k * save_every, dt, closure=closure, save_every=save_every)
                frames = traj.movedim(-sim.space_dims - 1, 1)  # (B, k + 1, *space)
                frames = frames if done == 0 else frames[:, 1:]
                writer.write_times(done, {variable: frames.cpu().numpy().astype(np.float32)})
                state = traj.select(-sim.space_dims - 1, -1)
                done += frames.shape[1]
                bar.update(frames.shape[1])
    return Path(path)
