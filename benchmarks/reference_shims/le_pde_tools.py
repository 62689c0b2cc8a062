"""Our helper that rolls out a model trained by the released LE-PDE code (run with the checkout's parent and
the checkout on ``sys.path``, from the folder it trained in, so that its ``data/`` paths resolve).

    python le_pde_tools.py rollout RESULT.p N_TEST OUT.npz

As the authors' ``analysis_1d.ipynb`` evaluates E2: the best-validation model of the result file, the test
split with ``multi_step = 1^8``, for every test trajectory the window at frame 25 (frames 25-49 given) and
8 bundles of 25 predicted (frames 50-249). Stores the predictions ``(N, 200, nx)``, the true frames its loader
gives, and the notebook's metric (``MSELoss(reduction="sum") / nx``, mean over trajectories).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from le_pde.datasets.load_dataset import load_data  # the reference's modules
from le_pde.models import load_model
from le_pde.pytorch_net.util import ddeepcopy as deepcopy
from le_pde.pytorch_net.util import init_args, pload
from le_pde.utils import parse_multi_step, update_legacy_default_hyperparam


@torch.no_grad()
def rollout(result: str, n_test: int, out: str) -> None:
    record = pload(result)
    args = init_args(update_legacy_default_hyperparam(record["args"]))
    model = load_model(record["best_model_dict"], device="cpu")
    model.eval()
    args_test = deepcopy(args)
    args_test.multi_step = f"1^{(250 - 50) // args_test.temporal_bundle_steps}"
    args_test.is_test_only = True
    (_, dataset_test), _ = load_data(args_test)
    nx = int(args.dataset.split("-")[2])
    per_traj = len(dataset_test) // n_test
    preds, truths, losses = [], [], []
    for i in range(n_test):
        data = deepcopy(dataset_test[i * per_traj + args_test.temporal_bundle_steps])
        out_, _ = model(data, pred_steps=np.arange(1, max(parse_multi_step(args_test.multi_step).keys()) + 1),
                        latent_pred_steps=None, is_recons=False, use_grads=False, use_pos=args.use_pos,
                        is_y_diff=False, is_rollout=False)
        y = data.node_label["n0"]
        pred = out_["n0"].reshape(y.shape)
        losses.append(float(torch.nn.MSELoss(reduction="sum")(pred, y) / nx))
        preds.append(pred.squeeze(-1).T.numpy())  # (nx, 200, 1) -> (200, nx)
        truths.append(y.squeeze(-1).T.numpy())
    np.savez(out, pred=np.stack(preds), truth=np.stack(truths), released_metric=float(np.mean(losses)),
             best_epoch=record.get("best_epoch", -1))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rollout")
    r.add_argument("result")
    r.add_argument("n_test", type=int)
    r.add_argument("out")
    args = parser.parse_args()
    rollout(args.result, args.n_test, args.out)


if __name__ == "__main__":
    main()
