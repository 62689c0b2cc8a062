"""The cost and memory of the climate evaluation against a bare free run.

    python benchmarks/climate_eval.py [--threads 2] [--l96-steps 100000] [--ns-steps 10000] [--fno-steps 500]
                                      [--repeats 3]

Models run freely, chunk by chunk, exactly as ``evaluate.climate_steps`` runs them
(``sciml.tasks.trajectory.climate.free_run``), 8 members each:
- ``l96``: a closure-coupled Lorenz96 (K 40, F 18, RK4 at dt 0.005, a pointwise MLP closure);
- ``kolmogorov``: the 64^2 pseudo-spectral Kolmogorov solver (nu 1e-3, drag 0.1, k_f 4, dt 0.005): the
  cheapest 64^2 model there is, so the worst case for the evaluation's share;
- ``kolmogorov_fno``: a learned 64^2 emulator (neuraloperator's FNO, 16 modes, width 32, 4 layers; untrained:
  the cost does not depend on the weights), fewer steps because each costs ~200x the solver's.
The bare run discards its chunks; the evaluated run accumulates their climate as the evaluation does
(``sciml.metrics.online.ClimateStatistics`` in float32 with float64 sums: moments, a 100-bin histogram, the
time-mean spectrum, the autocorrelation to lag 50). Timings: the same process, interleaved, median of
``--repeats``. Memory: the peak resident set of a fresh process for a tenth of the steps and for all of them.
The last line is ``climate evaluation / bare free run: R (worst: CASE); peak memory N/10 -> N: +P %``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from sciml.metrics.online import ClimateStatistics
from sciml.sim import Lorenz96, NavierStokes2D
from sciml.tasks.trajectory.climate import WORK_DTYPE, FreeRun, free_run

MEMBERS, CHUNK, MAX_LAG, BINS = 8, 250, 50, 100


class SimulatorModel:
    """A simulator (with an optional closure) behind the solvers' ``rollout`` contract: ``(B, H, 1, *space)``
    in, ``(B, n, 1, *space)`` out."""

    stochastic = False

    def __init__(self, sim, dt: float, closure=None):
        self.sim, self.dt, self.closure = sim, dt, closure

    def rollout(self, initial, n_steps, params=None, time=None):
        return self.sim.rollout(initial[:, -1, 0], n_steps, self.dt, closure=self.closure)[:, 1:].unsqueeze(2)


class PointwiseClosure(nn.Module):
    """An MLP applied to every X_k: the shape of the closures the Lorenz96 literature learns."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1))
        with torch.no_grad():
            self.net[-1].weight.mul_(0.1)

    def forward(self, x):
        return self.net(x.unsqueeze(-1)).squeeze(-1)


class ResidualEmulator:
    """A learned emulator's rollout: ``u <- 0.95 u + 0.05 tanh(net(u))`` (bounded whatever the weights)."""

    stochastic = False

    def __init__(self, net):
        self.net = net

    def rollout(self, initial, n_steps, params=None, time=None):
        u, frames = initial[:, -1], []
        for _ in range(n_steps):
            u = 0.95 * u + 0.05 * torch.tanh(self.net(u))
            frames.append(u)
        return torch.stack(frames, 1)


def case(name: str):
    """``(model, initial (B, 1, 1, *space), bound, edges)`` of a case."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    with torch.no_grad():
        if name == "l96":
            model = SimulatorModel(Lorenz96(K=40, F=18.0), 0.005, PointwiseClosure().double())
            x0 = torch.randn(MEMBERS, 40, generator=g, dtype=torch.float64) + 3
            initial = model.sim.rollout(x0, 400, 0.005, closure=model.closure, save_every=400)[:, -1:, None]
            lo, hi = -20.0, 30.0
        elif name == "kolmogorov":
            model = SimulatorModel(NavierStokes2D(n=64, nu=1e-3, drag=0.1, forcing="kolmogorov", k_f=4), 0.005)
            w0 = torch.randn(MEMBERS, 64, 64, generator=g, dtype=torch.float64)
            initial = model.sim.rollout(w0, 2000, 0.005, save_every=2000)[:, -1:, None]
            lo, hi = -3 * float(initial.abs().max()), 3 * float(initial.abs().max())
        else:
            from neuralop.models import FNO

            model = ResidualEmulator(FNO(n_modes=(16, 16), hidden_channels=32, in_channels=1, out_channels=1,
                                         n_layers=4).eval())
            initial = torch.randn(MEMBERS, 1, 1, 64, 64, generator=g)
            lo, hi = -4.0, 4.0
    edges = torch.linspace(lo, hi, BINS + 1, dtype=torch.float64)[None]
    return model, initial, 1e6, edges


def run_once(name: str, steps: int, evaluated: bool, setup=None) -> float:
    model, initial, bound, edges = setup or case(name)
    ndim = initial.dim() - 3
    stats = ClimateStatistics(edges, ndim, MAX_LAG, WORK_DTYPE) if evaluated else None
    first = torch.zeros(initial.shape[0], dtype=torch.long)
    start = time.perf_counter()
    for chunk, valid in free_run(model, initial, None, None, FreeRun(steps, CHUNK, bound, 0.005), first):
        if stats is not None:
            stats.update(chunk, valid)
    if stats is not None:
        stats.fields()
    return time.perf_counter() - start


def peak_memory(name: str, steps: int, threads: int) -> float:
    """Peak resident set (MiB) of a fresh process that sets up the case and evaluates ``steps``."""
    code = ("import json, resource, sys, torch; sys.path.insert(0, 'benchmarks'); import climate_eval as c; "
            f"torch.set_num_threads({threads}); c.run_once({name!r}, {steps}, True); "
            "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--l96-steps", type=int, default=100_000)
    parser.add_argument("--ns-steps", type=int, default=10_000)
    parser.add_argument("--fno-steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"climate evaluation cost, {args.threads} threads, torch {torch.__version__}, {MEMBERS} members, "
          f"chunks of {CHUNK} steps, lags to {MAX_LAG}, {BINS} bins")
    print(f"{'case':<15} {'steps':>8} {'bare s':>9} {'evaluated s':>12} {'ratio':>7} {'peak MiB N/10':>14} "
          f"{'peak MiB N':>11} {'growth':>7}")
    ratios, growths = {}, {}
    for name, steps in (("l96", args.l96_steps), ("kolmogorov", args.ns_steps), ("kolmogorov_fno", args.fno_steps)):
        setup = case(name)
        run_once(name, CHUNK, True, setup)  # warm-up
        times = {"bare": [], "evaluated": []}
        for _ in range(args.repeats):
            for mode in ("bare", "evaluated"):
                times[mode].append(run_once(name, steps, mode == "evaluated", setup))
        bare, evaluated = (statistics.median(times[m]) for m in ("bare", "evaluated"))
        small, large = peak_memory(name, steps // 10, args.threads), peak_memory(name, steps, args.threads)
        ratios[name], growths[name] = evaluated / bare, large / small - 1
        print(f"{name:<15} {steps:>8} {bare:>9.2f} {evaluated:>12.2f} {ratios[name]:>7.3f} {small:>14.1f} "
              f"{large:>11.1f} {100 * growths[name]:>6.1f}%")
    worst = max(ratios, key=ratios.get)
    print(json.dumps({"ratios": ratios, "memory_growth": growths}))
    print(f"climate evaluation / bare free run: {ratios[worst]:.3f} (worst: {worst}); peak memory N/10 -> N: "
          f"+{100 * max(growths.values()):.1f} %")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
