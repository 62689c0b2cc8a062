"""Score the Kolmogorov LES closures of experiments/closure_ns2d.sh against the filtered DNS.

Every model starts from each test trajectory's first stored 64^2 frame and runs 10 time units: the 64^2 LES
(dt 0.02) without a closure, with Smagorinsky, Leith, dynamic Smagorinsky and dynamic Leith, with the learned
CNN closure trained a priori and a posteriori; and our DNS run directly at 64^2 and 128^2 (dt 0.005, brought
back to 64^2 at every frame). Reported: the time the mean vorticity correlation with the filtered 256^2 DNS stays
above 0.95 (Kochkov et al.'s metric) and above 0.8 (PDE-Refiner's), with 90 % bootstrap intervals over
trajectories; the RMS log-ratio of the time-averaged enstrophy spectrum to the truth's on the band the LES
resolves; the Hellinger distance of the vorticity PDF and its tail mass beyond 4 standard deviations; stability
over 30 time units (75x the a-posteriori training unroll of 0.4); and wall time per simulated time unit (8
trajectories, one thread). Writes runs/closure_ns2d/table.md and docs/img/closures/kolmogorov_closures.png.
``--n 32`` scores the 32^2 case of experiments/closure_ns2d_32*.yaml the same way (DNS at 32^2 and 64^2; writes
runs/closure_ns2d_32/table.md and kolmogorov_closures_32.png).

    python experiments/closure_ns2d_table.py [--n 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kolmogorov_dns_baseline import dns_rollout  # noqa: E402

from sciml import metrics, recipes  # noqa: E402
from sciml.config import load_config  # noqa: E402
from sciml.data import open_dataset  # noqa: E402
from sciml.recipes.ns2d import resolved  # noqa: E402
from sciml.sim.builders import coarse_simulator  # noqa: E402
from sciml.sim.closures import EddyViscosityClosure  # noqa: E402
from sciml.solvers import ClosureTraining  # noqa: E402
from sciml.tasks.trajectory.evaluation import load_solver  # noqa: E402

FIGURES = Path("docs/img/closures")
CASES = {64: ("experiments/closure_ns2d.yaml", Path("runs/closure_ns2d"), ""),
         32: ("experiments/closure_ns2d_32.yaml", Path("runs/closure_ns2d_32"), "_32")}
LES_SUBSTEPS = 5  # LES steps per stored frame (dt 0.02)
PHYSICS = {"smagorinsky": ("smagorinsky", 0.17), "leith": ("leith", 0.3),
           "dynamic smagorinsky": ("smagorinsky", "dynamic"), "dynamic leith": ("leith", "dynamic")}
LONG_FRAMES = 300


def les_rollout(attrs: dict, n: int, closure, substeps: int = LES_SUBSTEPS):
    sim = coarse_simulator(attrs, (n, n))
    dt = float(attrs["dt"]) / substeps

    def roll(w0: torch.Tensor, frames: int) -> torch.Tensor:
        c = closure(sim) if closure is not None else None
        return sim.rollout(w0, frames * substeps, dt, closure=c, save_every=substeps)[:, 1:]

    return roll


def learned_rollout(run: Path):
    cfg = load_config([str(run / "config.yaml")])
    model, _ = load_solver(run, cfg, "best", torch.device("cpu"))
    model.configure_training(ClosureTraining(substeps=cfg.task.substeps))
    return lambda w0, frames: model.rollout(w0[:, None, None], frames)[:, :, 0]


def bootstrap_time(corr: torch.Tensor, threshold: float, dt: float, n_boot: int = 1000) -> tuple[float, float, float]:
    """Time the mean correlation over trajectories stays above ``threshold``, and its 5-95 % bootstrap range."""
    point = metrics.high_correlation_steps(corr.mean(0), threshold)[0] * dt
    g = torch.Generator().manual_seed(0)
    picks = torch.randint(0, corr.shape[0], (n_boot, corr.shape[0]), generator=g)
    times = [metrics.high_correlation_steps(corr[p].mean(0), threshold)[0] * dt for p in picks]
    return point, float(np.percentile(times, 5)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64, choices=sorted(CASES))
    setup, root, suffix = CASES[parser.parse_args().n]
    torch.set_num_threads(1)
    cfg = load_config([setup])
    with open_dataset(recipes.ensure_dataset(cfg.dataset, progress=False)["test"]) as ds:
        truth = torch.as_tensor(ds["vorticity"].values)  # (B, T, n, n)
        attrs = dict(ds.attrs)
    dt, n = float(attrs["dt"]), truth.shape[-1]
    data = resolved(cfg.dataset)
    w0, future = truth[:, 0], truth[:, 1:]
    frames = future.shape[1]
    models = {"no closure": les_rollout(attrs, n, None)}
    for name, (model, coefficient) in PHYSICS.items():
        models[name] = les_rollout(attrs, n, lambda sim, m=model, c=coefficient: EddyViscosityClosure(sim, m, c))
    for name, run in (("CNN a priori", root / "cnn_a_priori"), ("CNN a posteriori", root / "cnn_a_posteriori"),
                      ("CNN a posteriori, 2nd stage", root / "cnn_a_posteriori_long")):
        if (run / "checkpoints" / "best.pt").is_file():
            models[name] = learned_rollout(run)
    every = round(data.save_dt / data.dt)
    for res in (n, 2 * n):
        models[f"DNS {res}² (no closure)"] = (lambda w, f, r=res: dns_rollout(data, w, r, f, every))
    k_max = n // 3
    truth_spec = metrics.energy_spectrum(future[:, frames // 2:, None], 2).mean((0, 1))[1:k_max]
    sigma = float(truth.std())
    edges = torch.linspace(-8 * sigma, 8 * sigma, 81, dtype=torch.float64)
    truth_pdf = metrics.histogram_density(future, edges)
    rows, curves = [], {}
    for name, roll in models.items():
        start = time.perf_counter()
        with torch.no_grad():
            try:
                pred = roll(w0, frames).float()
            except FloatingPointError:
                rows.append((name, None))
                print(f"{name}: blew up", flush=True)
                continue
        seconds = time.perf_counter() - start
        corr = metrics.correlation(pred[:, :, None], future[:, :, None])
        spec = metrics.energy_spectrum(pred[:, frames // 2:, None], 2).mean((0, 1))[1:k_max]
        pdf = metrics.histogram_density(pred, edges)
        entry = {"t95": bootstrap_time(corr, 0.95, dt), "t80": bootstrap_time(corr, 0.8, dt),
                 "spectrum": float((spec.log() - truth_spec.log()).pow(2).mean().sqrt()),
                 "hellinger": metrics.hellinger_distance(pdf, truth_pdf, edges),
                 "tail": float((pred.abs() > 4 * sigma).float().mean()), "seconds_per_tu": seconds / (frames * dt)}
        if not name.startswith("DNS"):
            with torch.no_grad():
                try:
                    long = roll(w0, LONG_FRAMES)
                    entry["stable"] = bool(torch.isfinite(long).all()) and float(long.abs().max()) < 10 * float(
                        truth.abs().max())
                except FloatingPointError:
                    entry["stable"] = False
        rows.append((name, entry))
        curves[name] = (corr.mean(0).numpy(), spec.numpy(), pdf.numpy())
        print(f"{name}: above 0.95 for {entry['t95'][0]:.1f}, above 0.8 for {entry['t80'][0]:.1f} time units; "
              f"{entry['seconds_per_tu']:.2f} s per time unit", flush=True)
    truth_tail = float((future.abs() > 4 * sigma).float().mean())
    lines = [f"Kolmogorov flow, LES {n}² against the DNS {data.n_dns}² truncated to {n}²; {truth.shape[0]} test "
             f"trajectories, {frames * dt:g} time units; tail mass of the truth beyond 4σ: {truth_tail:.2e}", "",
             "| model | time corr > 0.95 (90 % interval) | time corr > 0.8 (90 % interval) | spectrum RMS log-ratio | "
             "PDF Hellinger | tail mass > 4σ | stable 30 time units | s per time unit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, e in rows:
        if e is None:
            lines.append(f"| {name} | blew up | | | | | no | |")
            continue
        stable = "" if "stable" not in e else ("yes" if e["stable"] else "no")
        lines.append(f"| {name} | {e['t95'][0]:.1f} ({e['t95'][1]:.1f}–{e['t95'][2]:.1f}) | {e['t80'][0]:.1f} "
                     f"({e['t80'][1]:.1f}–{e['t80'][2]:.1f}) | {e['spectrum']:.3f} | {e['hellinger']:.3f} | "
                     f"{e['tail']:.2e} | {stable} | {e['seconds_per_tu']:.2f} |")
    text = "\n".join(lines)
    print(text)
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(text + "\n")
    plot(curves, truth_spec.numpy(), truth_pdf.numpy(), edges.numpy(), dt, k_max, suffix)


def plot(curves: dict, truth_spec: np.ndarray, truth_pdf: np.ndarray, edges: np.ndarray, dt: float,
         k_max: int, suffix: str = "") -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    k = np.arange(1, k_max)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for name, (corr, spec, pdf) in curves.items():
        style = "--" if name.startswith("DNS") else "-"
        axes[0].plot(np.arange(1, len(corr) + 1) * dt, corr, style, label=name)
        axes[1].loglog(k, spec, style, label=name)
        axes[2].semilogy(centres, np.clip(pdf, 1e-7, None), style, label=name)
    axes[1].loglog(k, truth_spec, "k", lw=2, label="filtered DNS")
    axes[2].semilogy(centres, np.clip(truth_pdf, 1e-7, None), "k", lw=2, label="filtered DNS")
    for threshold in (0.95, 0.8):
        axes[0].axhline(threshold, color="k", ls=":", lw=0.8)
    axes[0].set(xlabel="time", ylabel="vorticity correlation", title="correlation with the filtered DNS",
                ylim=(0, 1.02))
    axes[1].set(xlabel="k", ylabel="enstrophy spectrum", title="enstrophy spectrum (second half)")
    axes[2].set(xlabel="vorticity", ylabel="density", title="vorticity PDF", ylim=(1e-6, None))
    axes[0].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(FIGURES / f"kolmogorov_closures{suffix}.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
