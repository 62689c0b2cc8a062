"""PDE-Refiner against the MSE U-Net of the same size: the table and the comparison plots from two evaluated runs.

    python experiments/ks_pde_refiner_table.py runs/ks_mse_unet runs/ks_pde_refiner --plots docs/img/pde_refiner

Prints high-correlation times (mean Pearson correlation above 0.8), their ratio, stability, error-spectrum
energy at three horizons and the uncertainty summary; draws correlation against time for both models, their
error spectra at three horizons, and copies the refiner's uncertainty plot.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PAPER = {"MSE U-Net": 75.4, "PDE-Refiner": 98.3}  # KS high-correlation times (s), Lippe et al. 2023


def load(run: Path) -> dict:
    path = run / "evaluation" / "results.json"
    if not path.exists():
        raise SystemExit(f"{path}: not found; evaluate the run first (python -m sciml.evaluate {run})")
    return json.loads(path.read_text())


def parameters(run: Path) -> int | None:
    import torch

    ckpt = run / "checkpoints" / "last.pt"
    if not ckpt.exists():
        return None
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["model"]
    return sum(v.numel() for k, v in state.items() if k.startswith("net."))  # the network's weights


def table(runs: dict[str, Path], results: dict[str, dict]) -> str:
    lines = ["| model | parameters | high-correlation time (ours / paper) | unstable rollouts | steps rolled out |",
             "|---|---:|---:|---:|---:|"]
    for name, res in results.items():
        hc = res["high_correlation_time"]
        bound = "" if hc["reached_within_horizon"] else " (lower bound)"
        lines.append(f"| {name} | {parameters(runs[name]) or 'n/a':,} | {hc['time']:.1f}{bound} / {PAPER[name]} | "
                     f"{res['unstable']['count']} of {res['n_trajectories']} | {res['rollout_steps']} |")
    mse, ref = (results[k]["high_correlation_time"]["time"] for k in ("MSE U-Net", "PDE-Refiner"))
    lines.append("")
    paper = PAPER["PDE-Refiner"] / PAPER["MSE U-Net"]
    lines.append(f"ratio PDE-Refiner / MSE U-Net: {ref / mse:.3f} (paper {paper:.3f})" if mse > 0
                 else "ratio: undefined (the MSE U-Net decorrelates at the first step)")
    return "\n".join(lines)


def spectra_table(results: dict[str, dict]) -> str:
    """Error energy (sum over k of the error spectrum) in three wavenumber bands at each stored horizon."""
    lines = ["| horizon (time) | model | error energy k 1-10 | k 11-40 | k > 40 | truth energy k > 40 |",
             "|---:|---|---:|---:|---:|---:|"]
    for name, res in results.items():
        for h in res["spectra"]["horizons"]:
            err, true = np.array(h["error"], dtype=float), np.array(h["true"], dtype=float)
            bands = [np.nansum(err[1:11]), np.nansum(err[11:41]), np.nansum(err[41:])]
            lines.append(f"| {h['time']:.1f} | {name} | " + " | ".join(f"{b:.3g}" for b in bands)
                         + f" | {np.nansum(true[41:]):.3g} |")
    return "\n".join(lines)


def plots(results: dict[str, dict], out: Path, refiner_run: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (name, res) in enumerate(results.items()):
        t, corr = np.array(res["per_step"]["time"]), np.array(res["per_step"]["correlation"], dtype=float)
        ax.plot(t, corr, color=f"C{i}", label=f"{name} ({res['high_correlation_time']['time']:.1f})")
    ax.axhline(0.8, color="k", ls="--", lw=1)
    ax.set(xlabel="time", ylabel="mean Pearson correlation", title="KS: rollout correlation with the truth")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "correlation.png", dpi=110)
    plt.close(fig)

    horizons = list(results.values())[0]["spectra"]["horizons"]
    picks = [h["step"] for h in horizons if h["step"] in (1, 10, 100)] or [horizons[0]["step"]]
    fig, axes = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 3.6), squeeze=False)
    for ax, step in zip(axes[0], picks, strict=True):
        for i, (name, res) in enumerate(results.items()):
            h = next(h for h in res["spectra"]["horizons"] if h["step"] == step)
            k = np.arange(len(h["error"]))
            if i == 0:
                ax.loglog(k[1:], np.array(h["true"], dtype=float)[1:], color="k", lw=2, alpha=0.4, label="truth")
            ax.loglog(k[1:], np.array(h["error"], dtype=float)[1:], color=f"C{i}", label=f"error, {name}")
        ax.set(xlabel="wavenumber k", title=f"t = {h['time']:.1f} ({step} steps)")
    axes[0, 0].set_ylabel("E(k)")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "error_spectra.png", dpi=110)
    plt.close(fig)
    unc = refiner_run / "evaluation" / "uncertainty.png"
    if unc.exists():
        shutil.copy(unc, out / "uncertainty.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mse_run", type=Path)
    parser.add_argument("refiner_run", type=Path)
    parser.add_argument("--plots", type=Path, default=None, help="folder for the comparison plots")
    args = parser.parse_args(argv)
    runs = {"MSE U-Net": args.mse_run, "PDE-Refiner": args.refiner_run}
    results = {name: load(run) for name, run in runs.items()}
    print(table(runs, results))
    print()
    print(spectra_table(results))
    unc = results["PDE-Refiner"].get("uncertainty")
    if unc:
        print()
        def fmt(value):
            return "n/a" if value is None else f"{value:.3f}"

        print(f"uncertainty ({unc['samples']} rollouts): spread-error correlation "
              f"{fmt(unc['spread_error_correlation'])}, of logs {fmt(unc['spread_error_correlation_log'])}; "
              f"predicted vs actual decorrelation time: correlation {fmt(unc['decorrelation_time_correlation'])}, "
              f"mean |difference| "
              f"{unc['decorrelation_time_mean_abs_difference']:.3g} time units")
    if args.plots:
        plots(results, args.plots, args.refiner_run)


if __name__ == "__main__":
    main()
