"""Data-layer benchmark: loader throughput, peak memory over an epoch, and lazy vs eager PDEBench reads.

Protocol (each measurement in a fresh subprocess, so that peak RSS is its own):
  1. write a file in our schema of about 2 GiB: 4,096 trajectories x 512 frames x 256 points, float32
     (the ks1d shapes), with sciml.data.TrajectoryWriter;
  2. loader throughput: TrajectoryWindows(history 1, time_step 4) in a shuffled DataLoader of batch 32,
     0, 2 and 4 workers, 300 batches after 20 warm-up batches; samples/s;
  3. consumption: the default FNO (16 modes, width 64, 4 layers) training steps on batch 32; samples/s;
  4. one epoch over the whole file (full trajectories, batch 8, 2 workers): wall time and peak RSS of the
     main process plus its workers;
  5. a PDEBench-layout copy (``tensor`` [4096, 512, 256]): time to the first batch and peak memory, reading
     lazily with TrajectoryWindows vs PDEBench's eager ``np.array(f["tensor"])``.
Memory is the peak proportional set size of the measuring process and its workers. ``--cold`` drops the
OS page cache before each row, so that reads come from disk.

    python benchmarks/data_loader.py [--dir /tmp/sciml-bench] [--threads 2] [--cold]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

N_SAMPLES, N_TIMES, N_X = 4096, 512, 256


class PeakMemory:
    """Peak proportional set size (PSS) of this process plus its children, sampled every 20 ms.

    PSS splits pages shared between a process and its forked DataLoader workers, so the sum is the memory
    the group really holds (a sum of RSS would count copy-on-write pages once per worker). Sampled rather
    than read from ``ru_maxrss``, which Linux carries across ``exec`` from the parent process.
    """

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.02)

    def mib(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def write_files(folder: Path) -> None:
    import h5py

    from sciml.data import TrajectoryWriter

    ours, bench = folder / "big.nc", folder / "1D_Big_Sols_beta0.1.hdf5"
    x = np.arange(N_X) * 64 / N_X
    rng = np.random.default_rng(0)
    k = np.arange(1, 9)
    if not ours.is_file():
        with TrajectoryWriter(ours, {"u": (N_SAMPLES, N_TIMES, N_X)}, time=np.arange(N_TIMES) * 0.2,
                              space={"x": x}, attrs={"dt": 0.2, "system": "benchmark"}) as w:
            for start in range(0, N_SAMPLES, 16):
                amp = rng.normal(size=(16, 1, 8, 1))
                phase = rng.uniform(0, 2 * np.pi, size=(16, N_TIMES, 8, 1))
                u = (amp * np.sin(2 * np.pi * k[:, None] * x / 64 + phase)).sum(2).astype(np.float32)
                w.write(start, {"u": u})
    if not bench.is_file():
        with h5py.File(ours, "r") as src, h5py.File(bench, "w") as dst:
            dset = dst.create_dataset("tensor", shape=(N_SAMPLES, N_TIMES, N_X), dtype="f4")
            for start in range(0, N_SAMPLES, 256):
                dset[start:start + 256] = src["u"][start:start + 256]
            dst["x-coordinate"] = x
            dst["t-coordinate"] = np.arange(N_TIMES + 1) * 0.2


def measure(kind: str, folder: Path, threads: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from sciml.data import TrajectoryWindows

    torch.set_num_threads(threads)
    ours, bench = folder / "big.nc", folder / "1D_Big_Sols_beta0.1.hdf5"
    if kind.startswith("loader"):
        workers = int(kind.rsplit("-", 1)[1])
        windows = TrajectoryWindows(ours, history=1, time_step=4)
        loader = DataLoader(windows, batch_size=32, shuffle=True, num_workers=workers,
                            generator=torch.Generator().manual_seed(0), persistent_workers=workers > 0)
        it = iter(loader)
        for _ in range(20):
            next(it)
        start = time.perf_counter()
        for _ in range(300):
            next(it)
        return {"samples_per_s": 300 * 32 / (time.perf_counter() - start), "windows": len(windows)}
    if kind == "fno":
        from sciml import solvers

        model = solvers.build(solvers.get("fno").config(), solvers.grid_context((N_X,)))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        h, y = torch.randn(32, 1, 1, N_X), torch.randn(32, 1, 1, N_X)
        for i in range(25):
            if i == 5:
                start = time.perf_counter()
            loss = model.training_loss({"input": h, "target": y}, i + 1)["mse"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {"samples_per_s": 20 * 32 / (time.perf_counter() - start)}
    if kind == "epoch":
        memory = PeakMemory()
        windows = TrajectoryWindows(ours, full_trajectory=True)
        loader = DataLoader(windows, batch_size=8, num_workers=2)
        start, total = time.perf_counter(), 0.0
        for batch in loader:
            total += float(batch["trajectory"][:, :, 0, 0].sum())
        return {"seconds": time.perf_counter() - start, "peak_mib": memory.mib(), "gib": ours.stat().st_size / 2**30}
    if kind == "first-lazy":
        memory = PeakMemory()
        start = time.perf_counter()
        windows = TrajectoryWindows(bench, history=1, time_step=4)
        next(iter(DataLoader(windows, batch_size=32, shuffle=True)))
        return {"seconds": time.perf_counter() - start, "peak_mib": memory.mib()}
    if kind == "first-eager":
        import h5py

        memory = PeakMemory()
        start = time.perf_counter()
        with h5py.File(bench, "r") as f:
            data = np.array(f["tensor"])  # what PDEBench's loaders do
        idx = np.random.default_rng(0).integers(0, N_SAMPLES, 32)
        torch.from_numpy(data[idx, 0])
        return {"seconds": time.perf_counter() - start, "peak_mib": memory.mib()}
    raise ValueError(kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sciml-bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cold", action="store_true",
                        help="drop the OS page cache before each measurement (needs root on Linux)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.dir, args.threads)))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_files(args.dir)
    print(f"files ready in {time.perf_counter() - start:.0f} s: "
          f"{(args.dir / 'big.nc').stat().st_size / 2**30:.2f} GiB each")
    results = {}
    for kind in ("fno", "loader-0", "loader-2", "loader-4", "epoch", "first-lazy", "first-eager"):
        if args.cold:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        out = subprocess.run([sys.executable, __file__, "--dir", str(args.dir), "--threads", str(args.threads),
                              "--measure", kind], capture_output=True, text=True, check=True)
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    fno = results["fno"]["samples_per_s"]
    print(f"threads {args.threads}, page cache {'dropped before each row' if args.cold else 'warm'}")
    print(f"{'measurement':<44} {'value':>14} {'vs FNO training':>16}")
    print(f"{'default FNO training consumes (samples/s)':<44} {fno:>14.0f} {'1.0x':>16}")
    for w in (0, 2, 4):
        rate = results[f"loader-{w}"]["samples_per_s"]
        print(f"{f'loader, {w} workers (samples/s)':<44} {rate:>14.0f} {rate / fno:>15.1f}x")
    e = results["epoch"]
    print(f"{'epoch over the whole file (s, GiB/s)':<44} {e['seconds']:>8.1f} s {e['gib'] / e['seconds']:>8.2f} GiB/s")
    print(f"{'epoch peak memory (PSS), main + workers (MiB)':<44} {e['peak_mib']:>14.0f}")
    for kind, label in (("first-lazy", "PDEBench layout, lazy (ours)"), ("first-eager", "PDEBench layout, eager")):
        r = results[kind]
        print(f"{label + ': first batch / peak PSS':<44} {r['seconds']:>8.2f} s {r['peak_mib']:>8.0f} MiB")


if __name__ == "__main__":
    main()
