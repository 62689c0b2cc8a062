"""``python -m sciml.data check PATH [--z-threshold Z] [--split S] [--key K]``.

Prints an integrity report; exit status 0 when clean, 1 when problems were found, 2 when the file cannot
be read at all.
"""

from __future__ import annotations

import argparse
import sys

from sciml.data.check import check_file
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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
