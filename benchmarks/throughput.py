"""Throughput of the ks1d pipeline: simulator, training steps and rollout steps, on one device.

Protocol: the default ks1d shapes (batch 32, 256 points, model step 0.8 = 16 ETDRK4 steps of 0.05); each
row runs 5 warm-up iterations, then times 5 repetitions of N iterations and reports the median. The
baseline for the rollout rows is the simulator itself advancing the same 0.8 time units (float64, as
the dataset is generated), so the ratio is the speed-up of the learned solver over the numerical one.

    python benchmarks/throughput.py [--device cpu|cuda] [--threads N] [--batch 32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sciml import solvers
from sciml.runtime import tune_cpu_allocator
from sciml.sim import KuramotoSivashinsky
from sciml.solvers import grid_context


def timed(fn, iters: int, device: torch.device, repeats: int = 5, warmup: int = 5) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) / iters)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--amp", action="store_true", help="float16 autocast for the training rows (CUDA)")
    args = parser.parse_args()
    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    b, n, substeps_per_model_step = args.batch, 256, 16
    rows = []

    sim = KuramotoSivashinsky(n=n, L=64.0)
    for dtype in (torch.float64, torch.float32):
        u = torch.randn(b, n, dtype=dtype, device=device)
        with torch.no_grad():
            sec = timed(lambda u=u: sim.rollout(u, substeps_per_model_step, 0.05, save_every=16), 10, device)
        rows.append((f"KS ETDRK4, 0.8 time units (16 steps), {str(dtype)[6:]}", sec, b / sec))
    baseline = rows[0][1]

    context = grid_context((n,))
    for name in ("fno", "unet"):
        torch.manual_seed(0)
        cfg = solvers.get(name).config()
        if name == "unet":
            cfg.hidden = 32  # experiments/ks1d_unet.yaml
        model = solvers.build(cfg, context).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        h = torch.randn(b, 1, 1, n, device=device)
        target = torch.randn(b, 1, 1, n, device=device)
        use_amp = args.amp and device.type == "cuda"

        def train_step(model=model, opt=opt, h=h, target=target, use_amp=use_amp):
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = sum(model.training_loss({"input": h, "target": target}, 1).values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sec = timed(train_step, 10, device)
        rows.append((f"{name} training step (fwd+bwd+AdamW){' amp' if use_amp else ''}", sec, b / sec))
        model.eval()
        with torch.no_grad():
            sec = timed(lambda model=model, h=h: model.forward_step(h), 20, device)
        rows.append((f"{name} rollout step (0.8 time units)", sec, b / sec))
        if device.type == "cuda":
            print(f"{name}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")

    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {dev_name}, torch {torch.__version__}, threads {torch.get_num_threads()}, batch {b}, n {n}")
    print(f"{'row':<52} {'ms/iter':>10} {'samples/s':>12} {'vs KS float64':>14}")
    for label, sec, rate in rows:
        print(f"{label:<52} {sec * 1e3:>10.3f} {rate:>12.0f} {baseline / sec:>13.2f}x")


if __name__ == "__main__":
    main()
