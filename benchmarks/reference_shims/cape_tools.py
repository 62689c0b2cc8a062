"""Roll out a model trained by the released CAPE code (nec-research/CAPE-ML4Sci) on a PDEBench-layout file.

    python cape_tools.py rollout CHECKPOINT TEST.hdf5 PARAM OUT.npz --model cape|fno|conditional
                         [--width 20] [--modes 12] [--widening 64] [--kernel 5]

Runs in the reference's interpreter with ``CAPE/models`` on the path. The model is rebuilt the way the
released ``fno/train.py`` builds it for 1D data with one input frame (``FNO1d`` wrapped by ``_wrap_model``:
with the CAPE block for ``cape``, the parameter as an input channel for ``conditional``), its saved
``model_state_dict`` loaded with ``weights_only=True``, and rolled out from the first frame over the whole
file as its validation loop does (no input noise). ``OUT.npz`` holds ``pred`` and ``truth``
``(N, T - 1, nx)`` (the frames after the first) and the parameter ``(N,)``.
"""

from __future__ import annotations

import argparse

import h5py
import numpy as np
import torch


def build(kind: str, width: int, modes: int, widening: int, kernel: int, nx: int) -> torch.nn.Module:
    from fno.fno import FNO1d
    from PrmEmbd.PrmEmbd import _wrap_model

    if kind == "cape":  # train.py: num_channels * (num_channels_PrmEmb + 1) FNO inputs, 3 blocks asked, 1 built
        return _wrap_model(FNO1d(num_channels=2, width=width, modes=modes, initial_step=1),
                           widening_factor=widening, kernel_size=kernel, num_params=1, num_PrmEmb_Pre=3,
                           num_channels=1, num_channels_PrmEmb=1, if_11cnv=True, n_dim=1, normed_dim=[nx])
    channels = 2 if kind == "conditional" else 1
    return _wrap_model(FNO1d(num_channels=channels, width=width, modes=modes, initial_step=1),
                       widening_factor=widening, kernel_size=kernel, num_params=1, num_PrmEmb_Pre=0)


@torch.no_grad()
def rollout(model: torch.nn.Module, kind: str, u: np.ndarray, grid: np.ndarray, param: np.ndarray,
            batch: int = 64) -> np.ndarray:
    """``u`` ``(N, T, nx)``: the model's ``(N, T - 1, nx)`` prediction from ``u[:, 0]``."""
    out = []
    for start in range(0, len(u), batch):
        x = torch.as_tensor(u[start:start + batch, 0], dtype=torch.float32)[..., None]  # (B, nx, 1)
        p = torch.as_tensor(param[start:start + batch], dtype=torch.float32)[:, None]  # (B, 1)
        g = torch.as_tensor(grid, dtype=torch.float32)[None, :, None].expand(len(x), -1, -1)
        frames = []
        for _ in range(u.shape[1] - 1):
            inp = torch.cat([x, p[:, None, :].expand(-1, x.shape[1], -1)], -1) if kind == "conditional" else x
            y, _ = model(inp, p, g)
            y = y.reshape(len(x), -1, y.shape[-1])[..., :1]  # (B, nx, 1); the conditional model's first channel
            frames.append(y[..., 0])
            x = y
        out.append(torch.stack(frames, 1).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["rollout"])
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("param")
    parser.add_argument("out")
    parser.add_argument("--model", required=True, choices=["cape", "fno", "conditional"])
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--modes", type=int, default=12)
    parser.add_argument("--widening", type=int, default=64)
    parser.add_argument("--kernel", type=int, default=5)
    args = parser.parse_args()
    with h5py.File(args.data, "r") as f:
        u = np.asarray(f["tensor"], dtype=np.float32)
        grid = np.asarray(f["x-coordinate"], dtype=np.float32)
        param = np.asarray(f[args.param], dtype=np.float32)
    model = build(args.model, args.width, args.modes, args.widening, args.kernel, u.shape[-1])
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model_state_dict"])
    model.eval()
    pred = rollout(model, args.model, u, grid, param)
    np.savez(args.out, pred=pred, truth=u[:, 1:], param=param,
             parameters=sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
