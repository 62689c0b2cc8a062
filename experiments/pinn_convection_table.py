"""The per-seed convection table of docs/pinn.md from finished runs' ``evaluation/results.json``.

    python experiments/pinn_convection_table.py runs/pinn_convection_uniform="plain PINN" \
        runs/pinn_convection_r3=R3 runs/pinn_convection_solved="time-marching (R3)" [--goal 0.05]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def row(label: str, results: dict, goal: float) -> str:
    seeds = sorted(results["seeds"], key=lambda r: r["seed"])
    finals = [r["final_error"] for r in seeds]
    by_seed = {r["seed"]: f"{100 * r['final_error']:.1f} ({100 * r['best_error']:.1f})" for r in seeds}
    cells = [by_seed.get(s, "–") for s in range(5)]
    spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
    flagged = sum(bool(r["propagation_failure"] or r.get("amplitude_decay")) for r in seeds)
    seconds = statistics.fmean(r["seconds"] for r in seeds)
    return (f"| {label} | {' | '.join(cells)} | {100 * statistics.fmean(finals):.1f} ± {100 * spread:.1f} | "
            f"{sum(f < goal for f in finals)} of {len(seeds)} | {flagged} | {results['max_steps']} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="RUN_DIR=label (RUN_DIR+RUN_DIR=label: seeds split over runs)")
    parser.add_argument("--goal", type=float, default=0.05)
    args = parser.parse_args()
    print("| method | seed 0 | seed 1 | seed 2 | seed 3 | seed 4 | mean ± std | below the goal | flagged | steps | "
          "s / seed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for item in args.runs:
        run, _, label = item.partition("=")
        parts = [json.loads((Path(d) / "evaluation" / "results.json").read_text()) for d in run.split("+")]
        results = {**parts[0], "seeds": [r for part in parts for r in part["seeds"]]}
        print(row(label or run, results, args.goal))


if __name__ == "__main__":
    main()
