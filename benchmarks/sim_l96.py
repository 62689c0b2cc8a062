"""Two-scale Lorenz96 ensemble throughput: sciml (torch, batched RK4) against a plain NumPy RK4.

Protocol: Wilks (2005) preset (K 8, J 32, F 20), float64, dt 0.001; ensembles of 1 to 1,024 members;
each row times 200 steps after 20 warm-up steps, median of 3 repetitions; member-steps/s. The NumPy
baseline implements the same equations with ``np.roll`` on an ``(members, K + K J)`` array, vectorised
over members, in the same process with the same thread count.

    python benchmarks/sim_l96.py [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from sciml.runtime import tune_cpu_allocator
from sciml.sim.lorenz96 import TwoScaleLorenz96, random_state


def numpy_rhs(s: np.ndarray, K: int, J: int, F: float, h: float, b: float, c: float) -> np.ndarray:
    X, Y = s[:, :K], s[:, K:]
    hcb = h * c / b
    dX = -np.roll(X, 1, -1) * (np.roll(X, 2, -1) - np.roll(X, -1, -1)) - X + F - hcb * Y.reshape(-1, K, J).sum(-1)
    dY = -c * b * np.roll(Y, -1, -1) * (np.roll(Y, -2, -1) - np.roll(Y, 1, -1)) - c * Y + hcb * np.repeat(X, J, -1)
    return np.concatenate([dX, dY], axis=-1)


def numpy_rk4(s, dt, steps, p):
    for _ in range(steps):
        k1 = numpy_rhs(s, **p)
        k2 = numpy_rhs(s + 0.5 * dt * k1, **p)
        k3 = numpy_rhs(s + 0.5 * dt * k2, **p)
        k4 = numpy_rhs(s + dt * k3, **p)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


def timed(fn, repeats=3) -> float:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    sim = TwoScaleLorenz96.from_preset("wilks2005")
    p = {"K": sim.K, "J": sim.J, "F": sim.F, "h": sim.h, "b": sim.b, "c": sim.c}
    steps, dt = 200, 0.001
    print(f"two-scale Lorenz96 (K 8, J 32), float64, {steps} RK4 steps, threads {args.threads}, {args.device}")
    print(f"{'members':>8} {'sciml member-steps/s':>22} {'numpy member-steps/s':>22} {'ratio':>8}")
    for members in (1, 4, 16, 64, 256, 1024):
        x = random_state(sim, (members,), torch.Generator().manual_seed(0)).to(args.device)
        with torch.no_grad():
            sim.rollout(x, 20, dt, save_every=20)
            t_torch = timed(lambda x=x: sim.rollout(x, steps, dt, save_every=steps))
        s = x.cpu().numpy()
        numpy_rk4(s, dt, 20, p)
        t_np = timed(lambda s=s: numpy_rk4(s, dt, steps, p))
        a, b = members * steps / t_torch, members * steps / t_np
        print(f"{members:>8} {a:>22.0f} {b:>22.0f} {a / b:>7.2f}x")


if __name__ == "__main__":
    main()
