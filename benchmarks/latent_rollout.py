"""Rollout throughput and peak memory of LE-PDE, LE-PDE-Mamba and FNO at matched parameter counts (fixed
protocol).

1D: MP-PDE's E2 grid (nx = 50, three PDE parameters), bundles of 25 frames in and out (FNO: 25-frame bundles,
as FNO-PF), 200 frames per rollout. 2D: 64 x 64 vorticity, 10 frames in, one out, 40 frames per rollout. FNO
widths are chosen to match LE-PDE's parameter count (1D: width 196, 16 modes; 2D: width 104, 12 modes).
Batches 1 and 64; best of 3 rollouts after a warm-up; each measurement runs in its own process, so peak memory
is the process's maximum resident size above its size before the model was built (weights, warm-up and
rollouts; CPU) or ``torch.cuda.max_memory_allocated`` during the timed rollouts (CUDA). Prints a table with
ratios against LE-PDE measured in the same run.

    python benchmarks/latent_rollout.py [--device cuda] [--threads 2] [--dims 1 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from sciml import solvers
from sciml.solvers import grid_context
from sciml.solvers.fno import FNOConfig
from sciml.solvers.le_pde import LEPDEConfig, LEPDEMambaConfig

SETTINGS = {  # layout="mirror": the encoder/decoder docs/benchmarks.md's rows were measured with
    1: {"shape": (50,), "history": 25, "frames": 200, "params": 3,
        "models": {"LE-PDE": LEPDEConfig(layout="mirror"), "LE-PDE-Mamba": LEPDEMambaConfig(layout="mirror"),
                   "FNO": FNOConfig(width=196, modes=16, bundle=25)}},
    2: {"shape": (64, 64), "history": 10, "frames": 40, "params": 0,
        "models": {"LE-PDE": LEPDEConfig(time_window=1, latent=256, channels=16, layout="mirror"),
                   "LE-PDE-Mamba": LEPDEMambaConfig(time_window=1, latent=256, channels=16, layout="mirror"),
                   "FNO": FNOConfig(width=104, modes=12)}},
}


def measure(dim: int, name: str, batch: int, device: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the model exists
    setting = SETTINGS[dim]
    dev = torch.device(device)
    context = grid_context(setting["shape"], n_params=setting["params"], history=setting["history"])
    torch.manual_seed(0)
    model = solvers.build(setting["models"][name], context).to(dev).eval()
    window = torch.randn(batch, setting["history"], 1, *setting["shape"], device=dev)
    params = torch.rand(batch, setting["params"], device=dev) if setting["params"] else None
    frames = setting["frames"]
    with torch.no_grad():
        model.rollout(window, min(frames, 2 * model.frames_per_step), params)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            model.rollout(window, frames, params)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024)
    return {"seconds": best, "frames": frames, "batch": batch, "peak_mib": peak,
            "parameters": sum(p.numel() for p in model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--one", nargs=3, metavar=("DIM", "MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], int(args.one[2]), args.device, args.threads)))
        return
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu, {args.threads} threads"
    print(f"torch {torch.__version__}, {name}")
    print(f"{'dim':>3} {'model':<13} {'params':>10} {'batch':>5} {'frames/s':>10} {'traj/s':>8} {'peak MiB':>9} "
          f"{'vs LE-PDE':>9}")
    for dim in args.dims:
        for batch in args.batches:
            base = None
            for model in SETTINGS[dim]["models"]:
                out = subprocess.run([sys.executable, __file__, "--one", str(dim), model, str(batch), "--device",
                                      args.device, "--threads", str(args.threads)],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                frames_per_s = r["frames"] / r["seconds"]
                base = base or frames_per_s
                print(f"{dim:>3} {model:<13} {r['parameters']:>10,} {batch:>5} {frames_per_s:>10.1f} "
                      f"{batch / r['seconds']:>8.1f} {r['peak_mib']:>9.1f} {frames_per_s / base:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
