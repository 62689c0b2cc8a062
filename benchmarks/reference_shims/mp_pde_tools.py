"""Our helpers that drive the released MP-PDE code (run with its checkout and this folder on ``sys.path``).

    python mp_pde_tools.py rollout MODEL.pt TEST_FILE EXPERIMENT NX OUT.npz [--batch 16]

The reference model's test rollout, as its ``test_unrolled_losses`` does it (frames 25-49 given as the second
bundle, 8 bundles of 25 predicted), kept frame by frame for our scoring function, with the true frames its
loader gives (``pde_250-200`` projected by its 5-point kernel: they must equal ours) and the released metric
computed the released way, to check ours against.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common.utils import GraphCreator, HDF5Dataset  # the reference's modules
from equations.PDEs import CE
from experiments.models_gnn import MP_PDE_Solver
from torch.utils.data import DataLoader

EQ_VARIABLES = {"E1": {}, "E2": {"beta": 0.2}, "E3": {"alpha": 3.0, "beta": 0.4, "gamma": 1.0}}  # train.py


def dataset(path: str, split: str, nx: int) -> HDF5Dataset:
    return HDF5Dataset(path, pde=CE(device="cpu"), mode=split, base_resolution=[250, nx], super_resolution=[250, 200])


@torch.no_grad()
def rollout(model_path: str, test_path: str, experiment: str, nx: int, out: str, batch_size: int = 16) -> None:
    data = dataset(test_path, "test", nx)
    pde = CE(device="cpu")
    pde.tmin, pde.tmax, pde.grid_size, pde.dt = data.tmin, data.tmax, [250, nx], data.dt
    creator = GraphCreator(pde=pde, neighbors=3, time_window=25, t_resolution=250, x_resolution=nx)
    model = MP_PDE_Solver(pde=pde, time_window=25, eq_variables=EQ_VARIABLES[experiment])
    model.load_state_dict(torch.load(model_path, map_location="cpu", weights_only=True))
    model.eval()
    criterion = torch.nn.MSELoss(reduction="sum")
    tw, nr_gt_steps = 25, 2
    preds, truths, released = [], [], []
    for _, u_super, x, variables in DataLoader(data, batch_size=batch_size, shuffle=False):
        b = u_super.shape[0]
        steps = [tw * nr_gt_steps] * b
        inputs, labels = creator.create_data(u_super, steps)
        graph = creator.create_graph(inputs, labels, x, variables, steps)
        pred = model(graph)
        frames = [pred.reshape(b, nx, tw)]
        losses = [criterion(pred, graph.y) / nx / batch_size]
        for step in range(tw * (nr_gt_steps + 1), 250 - tw + 1, tw):
            _, labels = creator.create_data(u_super, [step] * b)
            graph = creator.create_next_graph(graph, pred, labels, [step] * b)
            pred = model(graph)
            frames.append(pred.reshape(b, nx, tw))
            losses.append(criterion(pred, graph.y) / nx / batch_size)
        preds.append(torch.cat(frames, -1).transpose(1, 2))  # (b, 200, nx)
        truths.append(torch.as_tensor(u_super)[:, tw * nr_gt_steps:])
        released.append(torch.stack(losses).sum())
    np.savez(out, pred=torch.cat(preds).numpy(), truth=torch.cat(truths).numpy(),
             released_metric=float(torch.stack(released).mean()))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rollout")
    for name in ("model", "test_file", "experiment"):
        r.add_argument(name)
    r.add_argument("nx", type=int)
    r.add_argument("out")
    r.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    rollout(args.model, args.test_file, args.experiment, args.nx, args.out, args.batch)


if __name__ == "__main__":
    main()
