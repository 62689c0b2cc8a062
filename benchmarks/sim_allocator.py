"""What a library user gets: NavierStokes2D step time from a plain script, with and without the allocator
setting that ``import sciml.sim`` applies (``SCIML_NO_MALLOC_TUNING=1`` opts out).

Protocol: Kolmogorov flow (nu 1e-3, drag 0.1, k_f 4), CN-RK4, dt 1e-3, the same random initial vorticity;
each row in a fresh subprocess that only imports ``sciml.sim`` (no command line, no explicit tuning call)
and advances the state in its own Python loop of ``sim.step`` (what a user's time loop does); 3 warm-up
steps, then the median of 7 repetitions of 10 steps, and the median of 3 processes per row; grids 128^2
and 256^2, batch 1 and 8, float32; torch threads as given. The ratio is opt-out / default (> 1: the
default is faster).

    python benchmarks/sim_allocator.py [--threads 1 2] [--sizes 128 256]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time
import torch
from sciml.sim import NavierStokes2D
from sciml.sim.forcings import gaussian_random_field

n, batch, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
sim = NavierStokes2D(n=n, nu=1e-3, drag=0.1, forcing="kolmogorov", k_f=4)
w = gaussian_random_field(n, 6.283185307179586, (batch,), generator=torch.Generator().manual_seed(0)).float()
with torch.no_grad():
    for _ in range(3):
        sim.step(w, 1e-3)
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        x = w
        for _ in range(10):
            x = sim.step(x, 1e-3)
        samples.append((time.perf_counter() - start) / 10)
print(json.dumps({"ms": 1e3 * statistics.median(samples)}))
"""


def run(n: int, batch: int, threads: int, untuned: bool) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("SCIML_NO_MALLOC_TUNING", None)
    if untuned:
        env["SCIML_NO_MALLOC_TUNING"] = "1"
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(batch), str(threads)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    print("| threads | n | batch | opted out (ms/step) | default (ms/step) | opted out / default |")
    print("|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        for n in args.sizes:
            for batch in (1, 8):
                slow, fast = [], []
                for _ in range(3):  # interleaved, so that a noisy neighbour hits both columns alike
                    slow.append(run(n, batch, threads, True))
                    fast.append(run(n, batch, threads, False))
                slow, fast = statistics.median(slow), statistics.median(fast)
                print(f"| {threads} | {n} | {batch} | {slow:.2f} | {fast:.2f} | {slow / fast:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
