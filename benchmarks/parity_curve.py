"""The budget curve of a parity benchmark: error against gradient steps, ours and the reference, log-log.

    python benchmarks/parity_curve.py FAMILY [--work runs/parity] [--out docs/img/parity] [--target 1.13]

Reads ``WORK/FAMILY/*/results.json`` (one per budget run by ``benchmarks/parity.py``), plots every seed and
the mean of each code, fits ``error = a * steps^b`` to each code's means and prints the fit with the steps it
would need to reach ``--target`` (the paper's number), if the power law held that far.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import numpy as np


def load(work: Path, family: str) -> dict[str, dict[int, list[float]]]:
    out: dict[str, dict[int, list[float]]] = {"reference": {}, "ours": {}}
    for path in sorted((work / family).glob("*/results.json")):
        for row in json.loads(path.read_text()):
            out[row["code"]].setdefault(row["steps"], []).append(row["scores"]["accumulated_error"])
    return out


def fit(points: dict[int, list[float]]) -> tuple[float, float] | None:
    """``(a, b)`` of ``error = a steps^b`` through the means (None with fewer than two budgets)."""
    if len(points) < 2:
        return None
    steps = np.array(sorted(points), dtype=float)
    means = np.array([statistics.fmean(points[int(s)]) for s in steps])
    b, log_a = np.polyfit(np.log(steps), np.log(means), 1)
    return math.exp(log_a), b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family")
    parser.add_argument("--work", type=Path, default=Path("runs/parity"))
    parser.add_argument("--out", type=Path, default=Path("docs/img/parity"))
    parser.add_argument("--target", type=float, default=None, help="the paper's error, to extrapolate to")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = load(args.work, args.family)
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    for code, color in (("reference", "tab:orange"), ("ours", "tab:blue")):
        points = data[code]
        if not points:
            continue
        for steps, values in points.items():
            ax.scatter([steps] * len(values), values, color=color, alpha=0.35, s=14)
        xs = sorted(points)
        ax.plot(xs, [statistics.fmean(points[s]) for s in xs], "o-", color=color, label=f"{code} (mean)")
        line = fit(points)
        if line:
            a, b = line
            need = (args.target / a) ** (1 / b) if args.target and b < 0 else math.nan
            print(f"{args.family} {code}: error = {a:.3g} steps^{b:.3f}; steps to reach {args.target}: {need:.3g}")
    if args.target:
        ax.axhline(args.target, color="gray", ls="--", lw=1, label=f"paper ({args.target})")
    ax.set(xscale="log", yscale="log", xlabel="gradient steps (batch 16)", ylabel="accumulated error (test)",
           title=f"{args.family}: ours and the released code, E2 nx 50")
    ax.legend(fontsize=8)
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / f"{args.family}_budget.png", dpi=110)
    print(f"wrote {args.out / f'{args.family}_budget.png'}")


if __name__ == "__main__":
    main()
