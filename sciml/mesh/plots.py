"""Pictures of moving meshes: a solution with the mesh drawn over it, frame by frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def moving_mesh_figure(frames: list[tuple[float, np.ndarray, np.ndarray]], path: str | Path, title: str) -> Path:
    """One panel per ``(time, u (n, n), mesh (m, m, 2))``: ``u`` on the unit square with the mesh's lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(frames), figsize=(3.2 * len(frames), 3.4), squeeze=False)
    for ax, (time, u, mesh) in zip(axes[0], frames, strict=True):
        ax.imshow(u.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", alpha=0.8)
        for lines in (mesh, mesh.transpose(1, 0, 2)):
            ax.plot(lines[..., 0].T, lines[..., 1].T, color="k", lw=0.5)
        ax.set(title=f"t = {time:g}", xticks=[], yticks=[], aspect="equal", xlim=(0, 1), ylim=(0, 1))
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
