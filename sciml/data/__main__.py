"""``python -m sciml.data check PATH [--z-threshold Z] [--split S] [--key K]`` and
``python -m sciml.data convert IN [IN ...] OUT --format mp_pde|pdearena|pdebench [--split S]``.

``check`` prints an integrity report; exit status 0 when clean, 1 when problems were found, 2 when the file
cannot be read at all. ``convert`` writes any readable dataset in the layout another code reads
(:mod:`sciml.data.export`); several inputs are MP-PDE's resolutions of the same trajectories. Exit status 2
with one line naming the problem when it cannot.
"""

from __future__ import annotations

import argparse
import sys

from sciml.data.check import check_file
from sciml.data.export import FORMATS, convert
from sciml.errors import DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sciml.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="report NaN/inf, time-axis, metadata and outlier problems per sample")
    check.add_argument("path")
    check.add_argument("--z-threshold", type=float, default=10.0, help="outlier threshold in standard deviations")
    check.add_argument("--split", help="PDEArena/MP-PDE: the split group")
    check.add_argument("--key", help="MP-PDE: the resolution, e.g. pde_250-100")
    conv = sub.add_parser("convert", help="write a dataset in MP-PDE's, PDEArena's or PDEBench's layout")
    conv.add_argument("paths", nargs="+", metavar="PATH", help="IN [IN ...] OUT")
    conv.add_argument("--format", required=True, choices=FORMATS)
    conv.add_argument("--split", help="the split group (MP-PDE, PDEArena); default: the input's stem or train")
    args = parser.parse_args(argv)
    if args.command == "convert":
        return _convert(args, parser)
    options = {k: v for k, v in (("split", args.split), ("key", args.key)) if v is not None}
    try:
        source, findings = check_file(args.path, z_threshold=args.z_threshold, **options)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shape = " x ".join(str(s) for s in source.spatial_shape)
    print(f"{args.path}: {source.format}, {source.n_samples} samples x {source.n_times} times x {shape}, "
          f"fields {', '.join(source.variables)}")
    for finding in findings:
        print(f"  {finding}")
    print(f"{len(findings)} problem{'s' * (len(findings) != 1)} found" if findings else "no problems found")
    return 1 if findings else 0


def _convert(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if len(args.paths) < 2:
        parser.error("convert needs at least one input and an output")
    *inputs, output = args.paths
    try:
        path = convert(inputs, output, args.format, split=args.split)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.format})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
