"""The CAPE tables and plots from the runs of experiments/cape.sh.

For each PDE: every model's relative L2 error of the whole 40-frame rollout (sqrt(Σ_t Σ_x (û − u)² / Σ_t Σ_x
u²) per test trajectory, averaged over the trajectories of a value, then over the values of a class; stable
rollouts only, the unstable ones counted; geometric mean over the values of a class) at parameter values seen
in training, at held-out values inside the
training range (interpolated) and outside it (extrapolated), with parameter counts; the curriculum ablation on
advection; and a plot of the error against the parameter value per model, held-out values marked. (PDEBench's
per-frame nRMSE divides by the frame's norm, which is ~0 once Burgers at large ν has decayed: it is in
results.json as ``nrmse`` but not used here.)
Usage: python experiments/cape_table.py [--runs runs/cape] [--plots docs/img/cape]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

MODELS = [("cape_fno", "CAPE-FNO (width 20)"), ("cape_fno_base_loss", "CAPE-FNO trained with the FNO's loss"),
          ("fno", "FNO (width 36, no parameters)"), ("cond_fno", "conditional FNO (width 36)"),
          ("cape_unet", "CAPE-U-Net (hidden 8)"), ("unet", "U-Net (hidden 10, no parameters)"),
          ("cond_unet", "conditional U-Net (hidden 10)")]
ABLATION = [("cape_fno", "curriculum (teacher forcing -> autoregressive)"),
            ("cape_fno_teacher_forcing", "teacher forcing only"), ("cape_fno_autoregressive", "autoregressive only")]
PARAMETER = {"advection": ("beta", "speeds"), "burgers": ("nu", "nus")}


def parameter_count(run: Path) -> int:
    import torch

    from sciml.config import load_config
    from sciml.tasks.trajectory.evaluation import load_solver

    cfg = load_config([str(run / "config.yaml")])
    model, _ = load_solver(run, cfg, "best", torch.device("cpu"))
    return sum(p.numel() for p in model.parameters())


def classify(value: float, seen: list[float]) -> str:
    if any(math.isclose(value, s, rel_tol=1e-9) for s in seen):
        return "seen"
    return "interpolated" if min(seen) < value < max(seen) else "extrapolated"


def load(run: Path, pde: str) -> dict | None:
    results = run / "evaluation" / "results.json"
    if not results.is_file():
        return None
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    name, key = PARAMETER[pde]
    seen = [float(v) for v in config["dataset"][key]]
    by = json.loads(results.read_text())["by_param"][name]
    if "rel_l2" not in by:
        print(f"{run}: evaluated before rel_l2 existed; run python -m sciml.evaluate {run}", file=sys.stderr)
        return None
    classes, unstable = {}, {}
    for value, error, bad in zip(by["values"], by["rel_l2"], by["unstable"], strict=True):
        kind = classify(value, seen)
        classes.setdefault(kind, []).append(error if error is not None else math.nan)
        unstable[kind] = unstable.get(kind, 0) + bad
    errors = [math.nan if v is None else v for v in by["rel_l2"]]
    return {"values": by["values"], "error": errors, "trained": seen, "unstable": unstable,
            **{c: geometric_mean(v) for c, v in classes.items()}, "params": parameter_count(run)}


def geometric_mean(values: list[float]) -> float:
    """The log-average: fair across values whose errors differ by orders of magnitude (Burgers at ν = 2 decays
    to ~0 within a few frames, so its relative error is the largest by far for every model)."""
    finite = [v for v in values if math.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(finite)))) if finite else math.nan


def table(rows: list[tuple[str, dict]]) -> str:
    lines = ["| model | parameters | seen | interpolated | extrapolated | unstable (seen/interp./extrap.) |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        cells = [f"{r.get(c, math.nan):.4f}" for c in ("seen", "interpolated", "extrapolated")]
        bad = "/".join(str(r["unstable"].get(c, 0)) for c in ("seen", "interpolated", "extrapolated"))
        lines.append(f"| {label} | {r['params']:,} | " + " | ".join(cells) + f" | {bad} |")
    return "\n".join(lines)


def per_value(rows: list[tuple[str, dict]]) -> str:
    """Every model's error at every parameter value (held-out values in italics)."""
    first = rows[0][1]
    names = [f"{v:g}" if classify(v, first["trained"]) == "seen" else f"*{v:g}*" for v in first["values"]]
    lines = ["| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, r in rows:
        lines.append(f"| {label} | " + " | ".join(f"{e:.3g}" for e in r["error"]) + " |")
    return "\n".join(lines)


def plot(pde: str, rows: list[tuple[str, str, dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    seen = rows[0][2]["trained"]
    for key, label, r in rows:
        style = "-" if "fno" in key else "--"
        color = {"cape": "C3", "fno": "C0", "cond": "C2", "unet": "C0"}[key.split("_")[0]]
        if key.endswith("base_loss"):
            color = "C1"
        ax.plot(r["values"], r["error"], style, color=color, marker="o", label=label)
    for v in rows[0][2]["values"]:
        if classify(v, seen) != "seen":
            ax.axvline(v, color="0.85", lw=6, zorder=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    name = PARAMETER[pde][0]
    ax.set_xlabel(f"{name} (grey bands: held out in training)")
    ax.set_ylabel("relative L2 error of the rollout")
    ax.set_title(f"CAPE on 1D {pde}: trained on {name} in {seen}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{pde}_error_by_parameter.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/cape"))
    parser.add_argument("--plots", type=Path, default=None)
    parser.add_argument("--pdes", nargs="+", default=["advection", "burgers"])
    args = parser.parse_args(argv)
    for pde in args.pdes:
        rows = [(key, label, load(args.runs / f"{pde}_{key}", pde)) for key, label in MODELS]
        rows = [(k, lbl, r) for k, lbl, r in rows if r is not None]
        if not rows:
            continue
        print(f"\n### {pde}: relative L2 error of the 40-frame rollout\n")
        print(table([(lbl, r) for _, lbl, r in rows]))
        print(f"\n{pde}: per value (held out in italics)\n")
        print(per_value([(lbl, r) for _, lbl, r in rows]))
        if args.plots:
            plot(pde, rows, args.plots)
        ablation = [(lbl, load(args.runs / f"{pde}_{key}", pde)) for key, lbl in ABLATION]
        ablation = [(lbl, r) for lbl, r in ablation if r is not None]
        if len(ablation) > 1:
            print(f"\n### {pde}: CAPE-FNO training ablation\n")
            print(table(ablation))


if __name__ == "__main__":
    main()
