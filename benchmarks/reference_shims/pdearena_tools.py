"""What ``benchmarks/parity_pde_refiner.py`` needs around the released PDEArena code (pdearena/pdearena), our code.

    python pdearena_tools.py config RELEASED.yaml OUT.yaml
    python pdearena_tools.py train [--mse] SCRIPT [ARGS...]
    python pdearena_tools.py rollout [--mse] CHECKPOINT TEST.h5 OUT.npz [--steps N] [--seed S] [--batch B]

``config`` copies a released config without the ``trainer`` keys that the installed Lightning's ``Trainer`` no
longer takes (the configs were written for an older Lightning; 1.9.5 lacks ``weights_save_path``; the dropped
keys are printed), so that the release's own CLI accepts it. ``train`` runs a released training script
(``scripts/pderefiner_train.py``) unchanged as ``__main__``, after

- registering the released 1D modern U-Net at other widths: ``Unetmod-1d-{H}`` is ``Unetmod-1d-64`` with
  ``hidden_channels = H`` (the registry holds only 64, whose 53.9M parameters a CPU cannot train);
- with ``--mse``: swapping the script's model class for :class:`MSEUNet`, the MSE U-Net baseline of the
  PDE-Refiner paper, which the release does not ship for 1D (its ``CondPDEModel`` raises on 1D data);
- replacing the test the script runs after training (with the best validation checkpoint, which a run
  without validation does not have) by saving the final state to ``DEFAULT_ROOT_DIR/ckpts/last.ckpt``
  (the release's ``on_save_checkpoint`` adds the EMA weights): parity rolls that out with ``rollout``.

``rollout`` rolls a checkpoint's EMA weights (what the release validates and tests with) out from the first
frame of every trajectory of a PDEArena-layout test file, read by the release's own KS opener, with the
release's ``cond_rollout2d``; writes ``pred`` and ``truth`` ``(N, steps, nx)`` and ``parameters``. The
checkpoint is loaded with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import runpy
import sys

import numpy as np
import torch
from pdearena.models.pderefiner import PDERefiner
from pdearena.models.registry import COND_MODEL_REGISTRY

WIDTHS = range(8, 257, 8)  # GroupNorm(8) needs a multiple of 8


def register_widths() -> None:
    base = COND_MODEL_REGISTRY["Unetmod-1d-64"]
    for width in WIDTHS:
        COND_MODEL_REGISTRY.setdefault(f"Unetmod-1d-{width}", {
            "class_path": base["class_path"], "init_args": {**base["init_args"], "hidden_channels": width}})


class MSEUNet(PDERefiner):
    """The PDE-Refiner network trained as a plain one-step model: the same inputs ``[u(t), 0]`` (the noise
    channel held at zero), the refinement step held at 0, the same target ``(u(t + Δt) - u(t)) / w`` with
    ``predict_difference``, the MSE of the prediction; one call per physical step. EMA, optimiser, data and
    logging are the release's."""

    def _predict(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        zeros = torch.zeros(x.shape[0], self.hparams.time_future, *x.shape[2:], dtype=x.dtype, device=x.device)
        time = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        return self.model(torch.cat([x, zeros], dim=1), time=time, z=cond)

    def train_step(self, batch):
        x, y, cond = batch
        if self.hparams.predict_difference:
            y = (y - x[:, -1:]) / self.hparams.difference_weight
        pred = self._predict(x, cond)
        return self.train_criterion(pred, y), pred, y

    def predict_next_solution(self, x, cond):
        y = self._predict(x, cond)
        if self.hparams.predict_difference:
            y = y * self.hparams.difference_weight + x[:, -1:]
        return y


def supported_config(released: str, out: str) -> list[str]:
    """``released`` written to ``out`` without the trainer keys that ``Trainer`` does not take; returns them."""
    import inspect

    import yaml
    from pytorch_lightning import Trainer

    with open(released) as f:
        config = yaml.safe_load(f)
    known = set(inspect.signature(Trainer.__init__).parameters)
    dropped = sorted(k for k in config.get("trainer", {}) if k not in known)
    for key in dropped:
        del config["trainer"][key]
    with open(out, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return dropped


def train(mse: bool, script: str, args: list[str]) -> None:
    register_widths()
    if mse:
        import pdearena.models.pderefiner as module

        module.PDERefiner = MSEUNet  # the script imports the class by name from this module
    import os

    from pytorch_lightning import Trainer

    def save_instead_of_test(trainer: Trainer, *args, **kwargs) -> None:
        path = os.path.join(trainer.default_root_dir, "ckpts", "last.ckpt")
        trainer.save_checkpoint(path)
        print(f"pdearena_tools: the final state saved to {path} (the script's test is not run)", flush=True)

    Trainer.test = save_instead_of_test
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


def load(checkpoint: str, mse: bool = False) -> PDERefiner:
    """The checkpoint's model (:class:`MSEUNet` with ``mse``) with its EMA weights, in eval mode."""
    from pdearena.data.utils import PDEDataConfig

    register_widths()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    hparams = dict(state["hyper_parameters"])
    cls = MSEUNet if mse else PDERefiner
    pde = PDEDataConfig(n_scalar_components=1, n_vector_components=0, trajlen=140, n_spatial_dim=1)
    model = cls(**hparams, pdeconfig=pde)
    model.load_state_dict(state["state_dict"])
    ema = state.get("ema")
    if not ema:
        raise SystemExit(f"{checkpoint}: no EMA weights (the release saves them with every checkpoint)")
    missing = {n for n, _ in model.model.named_parameters()} - set(ema)
    if missing:
        raise SystemExit(f"{checkpoint}: the EMA weights lack {sorted(missing)[:3]}")
    model.model.load_state_dict(ema, strict=False)
    return model.eval()


@torch.no_grad()
def rollout(checkpoint: str, test_file: str, out: str, steps: int | None, seed: int, batch: int,
            mse: bool = False) -> None:
    from pdearena.data.oned.datapipes.kuramotosivashinsky1d import KuramotoSivashinskyDatasetOpener
    from pdearena.rollout import cond_rollout2d

    model = load(checkpoint, mse)
    samples = list(KuramotoSivashinskyDatasetOpener([test_file], mode="test"))
    u = torch.stack([s[0] for s in samples])  # (N, T, 1, nx), every 4th stored frame
    cond = torch.cat([s[2] for s in samples])  # (N, 2): the release's scaled dt, dx
    steps = u.shape[1] - 1 if steps is None else steps
    torch.manual_seed(seed)
    preds = [cond_rollout2d(model, u[i:i + batch, :1], None, None, cond[i:i + batch], None, model.pde, 1, steps)
             for i in range(0, len(u), batch)]
    pred = torch.cat(preds)[:, :, 0]
    np.savez(out, pred=pred.numpy(), truth=u[:, 1:steps + 1, 0].numpy(),
             parameters=sum(p.numel() for p in model.model.parameters()))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "config":
        if len(argv) != 3:
            raise SystemExit("config takes RELEASED.yaml OUT.yaml")
        print("dropped trainer keys:", ", ".join(supported_config(argv[1], argv[2])) or "none")
        return None
    if argv and argv[0] == "train":
        mse = len(argv) > 1 and argv[1] == "--mse"
        rest = argv[2:] if mse else argv[1:]
        if not rest:
            raise SystemExit("train needs the release's training script")
        return train(mse, rest[0], rest[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("rollout",))
    parser.add_argument("--mse", action="store_true", help="the checkpoint is an MSE U-Net's (train --mse)")
    parser.add_argument("checkpoint")
    parser.add_argument("test_file")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    rollout(args.checkpoint, args.test_file, args.out, args.steps, args.seed, args.batch, args.mse)


if __name__ == "__main__":
    main()
