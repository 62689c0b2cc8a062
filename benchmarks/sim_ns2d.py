"""NavierStokes2D step time against torch-cfd and jax-cfd, and the cost of backpropagating long rollouts.

Protocol (each row in a fresh subprocess): Kolmogorov flow (nu 1e-3, drag 0.1, k_f 4, 2/3 dealiasing),
the low-storage CN-RK4 scheme in all three codes, dt 1e-3, the same random initial vorticity; grids
128^2, 256^2, 512^2, batch 1 and 8, float32 and float64; 3 warm-up steps (JIT compilation for jax-cfd),
then the median of 3 repetitions of 10 steps; same thread count (torch.set_num_threads and XLA's CPU
threads pinned by taskset); both torch codes run with ``sciml.runtime.tune_cpu_allocator()`` (JAX has its
own allocator). Peers come from the optional ``peers`` extra; rows for missing peers are
skipped. ``--backward`` times and measures a backward pass through 100 and 1,000 steps at 128^2 with and
without segment checkpointing (``checkpoint_every=50``); ``--profile`` prints where a step's time goes.

    python benchmarks/sim_ns2d.py [--threads 2] [--sizes 128 256 512] [--backward] [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

N_STEPS, DT, NU, DRAG = 10, 1e-3, 1e-3, 0.1


def initial(n: int, batch: int):
    import numpy as np

    rng = np.random.default_rng(0)
    k = np.fft.fftfreq(n, 1 / n)
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    phase = np.exp(2j * np.pi * rng.random((batch, n, n)))
    spec = np.where((kk > 0) & (kk < n / 3), np.maximum(kk, 1) ** -1.5, 0) * phase
    w = np.fft.ifft2(spec).real
    return w / w.std(axis=(-2, -1), keepdims=True)


def timed(fn, sync=lambda x: x) -> float:
    for _ in range(3):
        sync(fn())
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        sync(fn())
        samples.append((time.perf_counter() - start) / N_STEPS)
    return statistics.median(samples)


def run_ours(n, batch, dtype, threads):
    import torch

    from sciml.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    from sciml.sim import NavierStokes2D

    torch.set_num_threads(threads)
    dt = torch.float64 if dtype == "float64" else torch.float32
    sim = NavierStokes2D(n=n, nu=NU, drag=DRAG, forcing="kolmogorov", k_f=4, stepper="cn_rk4")
    w_hat = sim.to_spectral(torch.tensor(initial(n, batch), dtype=dt))

    def steps():
        w = w_hat
        with torch.no_grad():
            for _ in range(N_STEPS):
                w = sim.step_hat(w, DT)[0]
        return w

    return {"seconds_per_step": timed(steps)}


def run_torch_cfd(n, batch, dtype, threads):
    import torch
    from torch_cfd.forcings import KolmogorovForcing
    from torch_cfd.grids import Grid
    from torch_cfd.spectral import NavierStokes2DSpectral, RK4CrankNicolsonStepper

    from sciml.runtime import tune_cpu_allocator

    tune_cpu_allocator()  # the same allocator setting for both torch codes
    torch.set_num_threads(threads)
    dt = torch.float64 if dtype == "float64" else torch.float32
    torch.set_default_dtype(dt)
    grid = Grid((n, n), domain=((0, 2 * math.pi), (0, 2 * math.pi)))
    forcing = KolmogorovForcing(grid=grid, scale=1.0, wave_number=4, diam=2 * math.pi)
    eq = NavierStokes2DSpectral(viscosity=NU, grid=grid, drag=DRAG, smooth=True, forcing_fn=forcing,
                                step_fn=RK4CrankNicolsonStepper())
    w_hat = torch.fft.rfft2(torch.tensor(initial(n, batch), dtype=dt))

    def steps():
        with torch.no_grad():
            return eq.step(w_hat, DT, steps=N_STEPS)[0]

    return {"seconds_per_step": timed(steps)}


def run_jax_cfd(n, batch, dtype, threads):
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax_cfd.base as cfd
    import jax_cfd.spectral as spectral

    grid = cfd.grids.Grid((n, n), domain=((0, 2 * math.pi), (0, 2 * math.pi)))
    eq = spectral.equations.NavierStokes2D(NU, grid, drag=DRAG, smooth=True,
                                           forcing_fn=lambda g: cfd.forcings.kolmogorov_forcing(g, k=4))
    step = spectral.time_stepping.crank_nicolson_rk4(eq, DT)
    many = jax.jit(jax.vmap(cfd.funcutils.repeated(step, N_STEPS)))
    w_hat = jnp.fft.rfftn(jnp.asarray(initial(n, batch), dtype=jnp.float64 if dtype == "float64" else jnp.float32),
                          axes=(1, 2))
    return {"seconds_per_step": timed(lambda: many(w_hat), sync=lambda x: x.block_until_ready())}


def run_backward(steps: int, every: int, threads: int) -> dict:
    """One forward + backward through ``steps`` steps at 128^2 (run in its own process)."""
    import resource

    import torch

    from sciml.runtime import tune_cpu_allocator
    from sciml.sim import NavierStokes2D

    tune_cpu_allocator()
    torch.set_num_threads(threads)
    sim = NavierStokes2D(n=128, nu=NU, drag=DRAG, forcing="kolmogorov")
    w0 = torch.tensor(initial(128, 1), dtype=torch.float32).requires_grad_(True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    out = sim.rollout(w0, steps, DT, save_every=steps, checkpoint_every=every)[..., -1, :, :]
    out.pow(2).mean().backward()
    return {"seconds": time.perf_counter() - start,
            "peak_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}


def run_profile(threads):
    import torch
    from torch.profiler import ProfilerActivity, profile

    from sciml.sim import NavierStokes2D

    torch.set_num_threads(threads)
    sim = NavierStokes2D(n=256, nu=NU, drag=DRAG, forcing="kolmogorov")
    w = sim.to_spectral(torch.tensor(initial(256, 8), dtype=torch.float32))
    with torch.no_grad():
        sim.step_hat(w, DT)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                w = sim.step_hat(w, DT)[0]
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


RUNNERS = {"sciml": run_ours, "torch-cfd": run_torch_cfd, "jax-cfd": run_jax_cfd}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one", nargs=4, metavar=("LIB", "N", "BATCH", "DTYPE"), help=argparse.SUPPRESS)
    parser.add_argument("--one-backward", nargs=2, type=int, metavar=("STEPS", "EVERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_backward:
        print(json.dumps(run_backward(*args.one_backward, args.threads)))
        return
    if args.one:
        lib, n, batch, dtype = args.one
        print(json.dumps(RUNNERS[lib](int(n), int(batch), dtype, args.threads)))
        return
    if args.profile:
        run_profile(args.threads)
        return
    if args.backward:
        print(f"backward through a 128^2 float32 rollout, threads {args.threads}")
        print(f"{'steps':>6} {'checkpoint_every':>17} {'seconds':>9} {'peak memory growth (MiB)':>25}")
        for steps in (100, 1000):
            for every in (0, 50):
                out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--one-backward",
                                      str(steps), str(every)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{steps:>6} {every:>17} {r['seconds']:>9.2f} {r['peak_growth_mib']:>25.0f}", flush=True)
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'}"}
    cpus = ",".join(str(i) for i in range(args.threads))
    print(f"NavierStokes2D CN-RK4 step time, Kolmogorov flow, threads {args.threads}")
    print(f"{'n':>5} {'batch':>5} {'dtype':>8} {'sciml ms':>10} {'torch-cfd ms':>13} {'jax-cfd ms':>11} "
          f"{'vs torch-cfd':>13} {'vs jax-cfd':>11}")
    for n in args.sizes:
        for batch in (1, 8):
            for dtype in ("float32", "float64"):
                times = {}
                for lib in RUNNERS:
                    cmd = ["taskset", "-c", cpus, sys.executable, __file__, "--threads", str(args.threads),
                           "--one", lib, str(n), str(batch), dtype]
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    times[lib] = (json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_step"] * 1e3
                                  if out.returncode == 0 else math.nan)
                ours = times["sciml"]
                ratios = f"{times['torch-cfd'] / ours:>12.2f}x {times['jax-cfd'] / ours:>10.2f}x"
                print(f"{n:>5} {batch:>5} {dtype:>8} {ours:>10.2f} {times['torch-cfd']:>13.2f} "
                      f"{times['jax-cfd']:>11.2f} {ratios}", flush=True)


if __name__ == "__main__":
    main()
