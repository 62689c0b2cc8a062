"""Our solvers trained beside their authors' released code on the same files, budget and seeds.

    python benchmarks/parity.py FAMILY --reference DIR [--budget small|medium|cpu|gpu] [--seeds N]
                                [--threads 2] [--work runs/parity] [--only both|ours|reference]
                                [--reference-python PYTHON] [--device cpu|cuda]
                                [--set KEY=VALUE ... --tag NAME]

``FAMILY``: ``mp_pde`` (DIR: a checkout of brandstetter-johannes/MP-Neural-PDE-Solvers), ``le_pde`` (DIR: a
checkout of snap-stanford/le_pde with its submodules), ``cape`` (DIR: a checkout of
nec-research/CAPE-ML4Sci; ``--pde advection|burgers``, both by default, a table and a last line each) or
``pde_refiner`` (DIR: a checkout of pdearena/pdearena, with ``--reference-path`` a checkout of
microsoft/cliffordlayers, whose released wheels lack the ``models.basic`` that PDEArena imports; a table and
a last line for PDE-Refiner and for the MSE U-Net, then the refiner/MSE ratio in each code). The
released code runs unchanged from DIR, with
the shims of ``benchmarks/reference_shims`` (our code) on its path; both codes' test rollouts are scored
by one function (``parity_common.score``). Prints a table per seed with mean ± std and the wall-clock per
training step, and ends with
``FAMILY: ours/reference = R on METRIC (budget B, N seeds; reference M ± S, ours M ± S)``.
``--set`` (cape) overrides keys of our config, to measure a variant beside the same reference runs: ours then
trains in ``ours-NAME/`` and the rows go to ``results-NAME.json`` (``--tag NAME``, required with ``--set``).
Budgets and protocols: ``docs/parity.md``. Not run in CI (CI has no reference checkouts).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parity_common  # noqa: E402

FAMILIES = ("mp_pde", "le_pde", "cape", "pde_refiner")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--reference", required=True, type=Path, help="checkout of the released repository")
    parser.add_argument("--budget", default="small")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("runs/parity"))
    parser.add_argument("--only", default="both", choices=("both", "ours", "reference"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="both codes train on it")
    parser.add_argument("--pde", action="append", choices=("advection", "burgers"),
                        help="cape: the PDE (repeatable; default both)")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="the interpreter with the reference's dependencies (default: this one)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="cape: a key of our config for a variant (repeatable; needs --tag)")
    parser.add_argument("--tag", help="the variant's name: ours-TAG/ and results-TAG.json")
    parser.add_argument("--reference-path", action="append", type=Path, default=[],
                        help="pde_refiner: a folder for the reference's PYTHONPATH (repeatable)")
    args = parser.parse_args(argv)
    if not args.reference.is_dir():
        parser.error(f"--reference {args.reference}: no such folder (a checkout of the released repository)")
    if args.pde and args.family != "cape":
        parser.error("--pde is for cape")
    if args.overrides and args.family != "cape":
        parser.error("--set is for cape")
    if bool(args.overrides) != bool(args.tag):
        parser.error("--set and --tag go together: name the variant")
    if any("=" not in o for o in args.overrides):
        parser.error("--set takes KEY=VALUE")
    family = importlib.import_module(f"parity_{args.family}")
    if args.budget not in family.BUDGETS:
        parser.error(f"--budget {args.budget!r}: {args.family} has {', '.join(family.BUDGETS)}")
    options = {"pdes": tuple(args.pde)} if args.pde else {}
    if args.tag:
        options.update(overrides=tuple(args.overrides), tag=args.tag)
    if args.reference_path:
        if args.family != "pde_refiner":
            parser.error("--reference-path is for pde_refiner")
        options["extra_path"] = tuple(p.resolve() for p in args.reference_path)
    result = family.run(args.reference.resolve(), args.budget, args.seeds, args.threads, args.work.resolve(), args.only,
                        args.reference_python, args.device, **options)
    groups = result if isinstance(result, dict) else {None: result}  # cape: per PDE; pde_refiner: per model
    for pde, rows in groups.items():
        folder = args.work / args.family / args.budget / (pde or "")
        folder.mkdir(parents=True, exist_ok=True)
        results_file = f"results-{args.tag}.json" if args.tag else "results.json"
        (folder / results_file).write_text(json.dumps([asdict(r) for r in rows], indent=1))
        print(parity_common.table(rows, family.METRIC))
        if args.only == "both":
            name = args.family if pde is None else f"{args.family} ({pde})"
            print(parity_common.last_line(name, family.METRIC, args.budget, rows))
    for line in getattr(family, "summary", lambda _: [])(result):
        print(line)


if __name__ == "__main__":
    main()
