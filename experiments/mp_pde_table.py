"""MP-PDE's Burgers table (Brandstetter et al. 2022, Table 1): accumulated error and unroll time of the
coarse WENO5 solver, FNO-PF and MP-PDE on E1–E3 at nx = 100, 50, 40, ours beside the paper's.

Protocol: the test split of ``datasets/mp_pde_E*.yaml`` at each ``nx``; frames 25–49 are given and frames
50–249 predicted; the accumulated error is ``sum_t (1/nx) sum_x (u - u_hat)^2`` averaged over the test
trajectories. The neural rows are read from ``runs/{mp_pde,fno_pf}_{E}_nx{nx}/evaluation/results.json``
(``experiments/mp_pde_burgers.sh`` trains them); the WENO5 row is our finite-volume solver
(:class:`sciml.sim.combined_burgers.CombinedBurgers`) run here on the coarse grid from the true frame 49 with
each trajectory's parameters and forcing (stored in the files), dopri5 at the data's tolerances. Unroll times:
all test trajectories in one batch, on ``--device``, median of 3 (the neural ones from their best checkpoint).

    python experiments/mp_pde_table.py [--runs runs] [--device cpu] [--experiments E1 E2 E3] [--nx 100 50 40]
                                       [--plots DIR]

``--plots DIR`` also draws, per experiment and resolution, the mean squared error against time of the three
methods (``errors_{E}_nx{nx}.png``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sciml import recipes
from sciml.config import load_config
from sciml.data import TrajectoryWindows, open_dataset
from sciml.recipes.mp_pde import forcing_from_parameters
from sciml.sim.combined_burgers import CombinedBurgers
from sciml.tasks.trajectory.evaluation import load_solver

ROOT = Path(__file__).resolve().parents[1]
GIVEN, FIRST = 25, 50  # frames 25..49 are given, 50..249 predicted
PAPER = {  # (WENO5, FNO-PF, MP-PDE), Brandstetter et al. 2022, Table 1
    ("E1", 100): (2.02, 0.54, 1.55), ("E1", 50): (6.23, 0.51, 1.67), ("E1", 40): (9.63, 0.57, 1.47),
    ("E2", 100): (1.19, 2.53, 1.58), ("E2", 50): (5.35, 2.27, 1.63), ("E2", 40): (8.05, 2.38, 1.45),
    ("E3", 100): (4.71, 5.69, 4.26), ("E3", 50): (11.71, 5.39, 3.74), ("E3", 40): (15.97, 5.98, 3.70),
}


def timed(fn, repeats: int = 3, device: torch.device | None = None) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = fn()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def weno_row(experiment: str, nx: int, device: torch.device) -> tuple[float | None, float, np.ndarray | None]:
    cfg = load_config([str(ROOT / "datasets" / f"mp_pde_{experiment}.yaml"), f"dataset.nx={nx}"]).dataset
    path = recipes.ensure_dataset(cfg, progress=False)["test"]
    with open_dataset(path) as ds:
        u = torch.tensor(ds.u.values, dtype=torch.float64, device=device)
        times = torch.tensor(ds.time.values, dtype=torch.float64, device=device)
        params = {k: ds[k].values for k in ds.data_vars if ds[k].dims == ("sample",)}
    sim = CombinedBurgers(n=nx, L=cfg.L, forcing=forcing_from_parameters(params).to(device=device),
                          **{k: torch.tensor(params[k], device=device) for k in ("alpha", "beta", "gamma")})
    try:
        seconds, pred = timed(lambda: sim.solve(u[:, FIRST - 1], times[FIRST - 1:], rtol=cfg.rtol, atol=cfg.atol),
                              device=device)
    except FloatingPointError:
        return None, float("nan"), None
    per_step = ((pred[:, 1:] - u[:, FIRST:]) ** 2).mean(-1).mean(0)
    return float(per_step.sum()), seconds, per_step.cpu().numpy()


def neural_row(run_dir: Path, device: torch.device) -> tuple[float | None, float, np.ndarray | None]:
    results = run_dir / "evaluation" / "results.json"
    if not results.is_file():
        return None, float("nan"), None
    data = json.loads(results.read_text())
    if data.get("start") != GIVEN:
        raise SystemExit(f"{results}: evaluated from frame {data.get('start')}, not {GIVEN}: re-run "
                         f"python -m sciml.evaluate {run_dir} evaluate.start={GIVEN}")
    cfg = load_config([str(run_dir / "config.yaml")])
    model, _ = load_solver(run_dir, cfg, "best", device)
    path = recipes.ensure_dataset(cfg.dataset, progress=False)["test"]
    windows = TrajectoryWindows(path, full_trajectory=True, params=list(cfg.task.params))
    batch = torch.utils.data.default_collate([windows[i] for i in range(len(windows))])
    initial = batch["trajectory"][:, GIVEN:FIRST].to(device)
    params = batch["params"].to(device)
    time_given = batch["time"][:, FIRST - 1].to(device)
    with torch.no_grad():
        seconds, _ = timed(lambda: model.rollout(initial, windows.n_times - FIRST, params, time_given), device=device)
    per_step = np.array([np.nan if v is None else v for v in data["per_step"]["mse"]])
    return data["accumulated_mse"], seconds, per_step


def plot(path: Path, title: str, curves: dict[str, np.ndarray | None]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    for label, values in curves.items():
        if values is not None:
            ax.semilogy(np.arange(FIRST, FIRST + len(values)), values, label=label)
    ax.set(xlabel="frame", ylabel="mean squared error", title=f"{title}: error against time (frames 25-49 given)")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fmt(value: float | None) -> str:
    return "unstable" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--experiments", nargs="+", default=["E1", "E2", "E3"])
    parser.add_argument("--nx", nargs="+", type=int, default=[100, 50, 40])
    parser.add_argument("--plots", default="", help="folder for the error-against-time plots")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; errors: accumulated "
          "sum_t mean_x (u - u_hat)^2 over frames 50-249, mean over the test trajectories; times: one unroll of all "
          "test trajectories")
    print("| exp. | nx | WENO5 (ours / paper) | FNO-PF (ours / paper) | MP-PDE (ours / paper) | WENO5 s | FNO-PF s | "
          "MP-PDE s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for experiment in args.experiments:
        for nx in args.nx:
            weno, weno_s, weno_t = weno_row(experiment, nx, device)
            fno, fno_s, fno_t = neural_row(Path(args.runs) / f"fno_pf_{experiment}_nx{nx}", device)
            mp, mp_s, mp_t = neural_row(Path(args.runs) / f"mp_pde_{experiment}_nx{nx}", device)
            if args.plots:
                plot(Path(args.plots) / f"errors_{experiment}_nx{nx}.png", f"{experiment}, nx = {nx}",
                     {"WENO5 (coarse grid)": weno_t, "FNO-PF": fno_t, "MP-PDE": mp_t})
            paper = PAPER.get((experiment, nx), (np.nan,) * 3)
            print(f"| {experiment} | {nx} | {fmt(weno)} / {paper[0]} | {fmt(fno)} / {paper[1]} | {fmt(mp)} / "
                  f"{paper[2]} | {weno_s:.2f} | {fno_s:.2f} | {mp_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
