"""NavierStokes2D throughput on a GPU: 256^2, batch 1 through a CUDA graph and batch 64.

Protocol: Kolmogorov flow (nu 1e-3, drag 0.1), CN-RK4, dt 1e-3, float32 (and float64 with --float64).
Batch 1: one CUDA graph captures 50 steps (after 3 eager warm-up steps that build the cuFFT plans and the
operator caches) and is replayed 20 times, which removes the per-kernel launch overhead that bounds a
single 256^2 state. Batch 64: eager steps (and the same graph). Reports member-steps per second against
the goals of issue 3 on an H100: >= 3,000 steps/s at batch 1 and >= 20,000 member-steps/s at batch 64.

    python benchmarks/sim_ns2d_gpu.py [--float64]
"""

from __future__ import annotations

import argparse
import time

import torch

from sciml.sim import NavierStokes2D

STEPS_PER_GRAPH, REPLAYS, DT = 50, 20, 1e-3


def eager_rate(sim, w_hat, steps=100) -> float:
    for _ in range(3):
        w_hat = sim.step_hat(w_hat, DT)[0]
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        w_hat = sim.step_hat(w_hat, DT)[0]
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def graph_rate(sim, w_hat) -> float:
    static = w_hat.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up off the default stream, as CUDA-graph capture requires
        for _ in range(3):
            sim.step_hat(static, DT)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        out = static
        for _ in range(STEPS_PER_GRAPH):
            out = sim.step_hat(out, DT)[0]
    graph.replay()
    static.copy_(out)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(REPLAYS):
        graph.replay()
        static.copy_(out)
    torch.cuda.synchronize()
    if not torch.isfinite(static).all():
        raise FloatingPointError("the graphed rollout produced NaN/inf")
    return STEPS_PER_GRAPH * REPLAYS / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--float64", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")
    dtype = torch.float64 if args.float64 else torch.float32
    sim = NavierStokes2D(n=256, nu=1e-3, drag=0.1, forcing="kolmogorov", stepper="cn_rk4")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {str(dtype)[6:]}, 256^2 CN-RK4")
    print(f"{'batch':>6} {'mode':>12} {'member-steps/s':>16} {'goal':>8}")
    with torch.no_grad():
        for batch, goal in ((1, 3000), (64, 20000)):
            w_hat = sim.to_spectral(torch.randn(batch, 256, 256, device="cuda", dtype=dtype))
            for mode, fn in (("eager", eager_rate), ("cuda graph", graph_rate)):
                rate = batch * fn(sim, w_hat)
                print(f"{batch:>6} {mode:>12} {rate:>16.0f} {goal:>8} {'met' if rate >= goal else 'NOT met'}")
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
