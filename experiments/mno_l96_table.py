"""Score the two-scale Lorenz96 closures of experiments/mno_l96.sh against the truth.

Per preset (runs/mno_l96/<preset>/<model>): RMSE of X against lead time over the test trajectories, the lead
time at which that ensemble RMSE reaches the climatological standard deviation of X, and climate statistics of
a 10,000-step coarse run from every test state (mean, variance, PDF and autocorrelation of X_k) against a
two-scale truth run of the same length. Prints markdown tables, writes them to runs/mno_l96/table.md and the
figures to docs/img/closures/. From the repository root: python experiments/mno_l96_table.py
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sciml import recipes  # noqa: E402
from sciml.config import load_config  # noqa: E402
from sciml.data import open_dataset  # noqa: E402
from sciml.metrics import autocorrelation, hellinger_distance, histogram_density, steps_below  # noqa: E402
from sciml.sim import TwoScaleLorenz96  # noqa: E402
from sciml.sim.builders import coarse_simulator  # noqa: E402
from sciml.sim.lorenz96 import random_state  # noqa: E402
from sciml.tasks.trajectory.evaluation import load_solver  # noqa: E402

ROOT = Path("runs/mno_l96")
FIGURES = Path("docs/img/closures")
MODELS = {"none": "no closure", "polynomial": "cubic polynomial", "local_mlp": "local MLP", "mno": "MNO (a priori)",
          "mno_a_posteriori": "MNO (a posteriori)", "fno": "pure-ML FNO"}
LONG_STEPS = 10_000
LEADS = (0.1, 0.5, 1.0, 2.0, 4.0)  # time units
MAX_LAG = 1.0  # time units of autocorrelation compared


def rollout_fn(preset_dir: Path, name: str, attrs: dict, dt: float):
    """``f(x0 (S, K), n) -> (S, n, K)``: the coarse model with the named closure, or the pure-ML emulator."""
    if name == "none":
        sim = coarse_simulator(attrs, ())
        return lambda x0, n: sim.rollout(x0, n, dt)[:, 1:]
    run = preset_dir / name
    cfg = load_config([str(run / "config.yaml")])
    model, _ = load_solver(run, cfg, "best", torch.device("cpu"))
    return lambda x0, n: model.rollout(x0[:, None, None], n)[:, :, 0]


def two_scale_truth(preset: str, n_samples: int, n_frames: int, save_dt: float) -> torch.Tensor:
    """``(S, n_frames, K)``: X of the two-scale model after a spin-up of 3, RK4 at 0.001 in float64."""
    sim = TwoScaleLorenz96.from_preset(preset)
    x = random_state(sim, (n_samples,), generator=torch.Generator().manual_seed(123)).double()
    every = round(save_dt / 0.001)
    with torch.no_grad():
        x = sim.rollout(x, 3000, 0.001, save_every=3000)[:, -1]
        return sim.split(sim.rollout(x, n_frames * every, 0.001, save_every=every)[:, 1:]).X.float()


def score_preset(preset: str) -> tuple[list[str], dict]:
    preset_dir = ROOT / preset
    names = [n for n in MODELS if n == "none" or (preset_dir / n / "checkpoints" / "best.pt").is_file()]
    cfg = load_config([str(preset_dir / "mno" / "config.yaml")])
    with open_dataset(recipes.ensure_dataset(cfg.dataset, progress=False)["test"]) as ds:
        truth = torch.as_tensor(ds.X.values)  # (S, T, K)
        attrs, dt = dict(ds.attrs), float(ds.attrs["dt"])
    x0, future = truth[:, 0], truth[:, 1:]
    start = time.perf_counter()
    long_truth = two_scale_truth(preset, truth.shape[0], LONG_STEPS, dt)
    print(f"{preset}: two-scale truth of {LONG_STEPS} frames in {time.perf_counter() - start:.0f} s", flush=True)
    clim_std = float(long_truth.std())
    edges = torch.linspace(float(long_truth.min()) - 2, float(long_truth.max()) + 2, 61, dtype=torch.float64)
    lag = round(MAX_LAG / dt)
    truth_pdf, truth_acf = histogram_density(long_truth, edges), autocorrelation(long_truth.double(), lag)
    results = {"truth": {"mean": float(long_truth.mean()), "var": float(long_truth.var()), "pdf": truth_pdf,
                         "acf": truth_acf}}
    for name in names:
        roll = rollout_fn(preset_dir, name, attrs, dt)
        with torch.no_grad():
            try:
                pred = roll(x0, future.shape[1])
                rmse = (pred - future).pow(2).mean((0, 2)).sqrt()
            except FloatingPointError:
                rmse = torch.full((future.shape[1],), math.inf)
            start = time.perf_counter()
            try:
                long = roll(x0, LONG_STEPS)
                stable = bool(torch.isfinite(long).all()) and float(long.abs().max()) < 10 * float(
                    long_truth.abs().max())
            except FloatingPointError:
                long, stable = None, False
            seconds = time.perf_counter() - start
        entry = {"rmse": rmse, "stable": stable, "seconds": seconds}
        entry["lead_time"], entry["reached"] = steps_below(rmse, clim_std)
        if stable:
            entry.update(mean=float(long.mean()), var=float(long.var()), pdf=histogram_density(long, edges),
                         acf=autocorrelation(long.double(), lag))
            entry["hellinger"] = hellinger_distance(entry["pdf"], truth_pdf, edges)
            entry["acf_error"] = float((entry["acf"] - truth_acf).pow(2).mean().sqrt())
        results[name] = entry
        print(f"  {name}: lead time {entry['lead_time'] * dt:.2f}, stable {stable}, {seconds:.0f} s", flush=True)
    lines = [f"### {preset} (K {attrs['K']:.0f}, J {attrs['J']:.0f}, F {attrs['F']:g}; "
             f"{truth.shape[0]} test trajectories; climatological std of X {clim_std:.2f})", "",
             "| closure | " + " | ".join(f"RMSE at {t:g}" for t in LEADS)
             + " | RMSE reaches clim. std at | stable 10,000 steps | mean X | var X | PDF Hellinger | ACF RMS error |",
             "|---|" + "---:|" * (len(LEADS) + 6)]
    lines.append("| two-scale truth | " + " | ".join("0" for _ in LEADS) + " | | | "
                 f"{results['truth']['mean']:.2f} | {results['truth']['var']:.1f} | 0 | 0 |")
    for name in names:
        e = results[name]
        cells = [f"{float(e['rmse'][round(t / dt) - 1]):.3g}" if round(t / dt) <= len(e["rmse"]) else "–"
                 for t in LEADS]
        lead = f"{e['lead_time'] * dt:.2f}" + ("" if e["reached"] else "+")
        climate = (f"{e['mean']:.2f} | {e['var']:.1f} | {e['hellinger']:.3f} | {e['acf_error']:.3f}" if e["stable"]
                   else "– | – | – | –")
        lines.append(f"| {MODELS[name]} | " + " | ".join(cells) + f" | {lead} | {'yes' if e['stable'] else 'no'} | "
                     + climate + " |")
    plot_preset(preset, names, results, dt, clim_std, edges, lag)
    return lines, results


def plot_preset(preset: str, names: list[str], results: dict, dt: float, clim_std: float, edges: torch.Tensor,
                lag: int) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in names:
        e = results[name]
        t = np.arange(1, len(e["rmse"]) + 1) * dt
        axes[0].plot(t, e["rmse"].numpy(), label=MODELS[name])
        if e["stable"]:
            centres = 0.5 * (edges[1:] + edges[:-1]).numpy()
            axes[1].semilogy(centres, e["pdf"].numpy().clip(1e-6), label=MODELS[name])
            axes[2].plot(np.arange(lag + 1) * dt, e["acf"].numpy(), label=MODELS[name])
    centres = 0.5 * (edges[1:] + edges[:-1]).numpy()
    axes[1].semilogy(centres, results["truth"]["pdf"].numpy().clip(1e-6), "k--", label="two-scale truth")
    axes[2].plot(np.arange(lag + 1) * dt, results["truth"]["acf"].numpy(), "k--", label="two-scale truth")
    axes[0].axhline(clim_std, color="k", ls=":", label="climatological std")
    axes[0].set(xlabel="lead time", ylabel="RMSE of X", title=f"{preset}: forecast error")
    axes[1].set(xlabel="X_k", ylabel="density", title=f"PDF over {LONG_STEPS} steps", ylim=(1e-5, None))
    axes[2].set(xlabel="lag", ylabel="autocorrelation", title="autocorrelation of X_k")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIGURES / f"l96_{preset}.png", dpi=110)
    plt.close(fig)


def main(presets: list[str]) -> None:
    torch.set_num_threads(1)
    out = []
    for preset in presets:
        if (ROOT / preset / "mno" / "config.yaml").is_file():
            out += score_preset(preset)[0] + [""]
    text = "\n".join(out)
    print(text)
    (ROOT / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["wilks2005", "lorenz1996"])
