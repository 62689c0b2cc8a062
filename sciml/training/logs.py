"""Training logs: ``metrics.csv`` always, TensorBoard when it is installed.

Columns are whatever the rows carry (the loss terms and validation metrics differ between solvers): the
file starts with the columns of its first row and is rewritten with a wider header when a row brings a
new column. ``tags`` are columns fixed for one writer (e.g. ``seed`` when several seeds share the file);
on resume, the rows of this writer's tags after the resumed step are dropped first.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

LEADING = ("step", "stage", "epoch", "loss")


class MetricsLog:
    """Append rows to ``metrics.csv``; rows after ``resume_step`` (with the same ``tags``) are dropped first."""

    def __init__(self, path: Path, resume_step: int = 0, tags: dict[str, Any] | None = None,
                 tensorboard_dir: Path | None = None):
        self.path, self.tags = Path(path), {k: str(v) for k, v in (tags or {}).items()}
        rows, header = [], list(self.tags)
        if self.path.is_file():
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                header = list(reader.fieldnames or header)
                for r in reader:
                    mine = all(r.get(k) == v for k, v in self.tags.items())
                    if not mine or (r.get("step") and int(r["step"]) <= resume_step):
                        rows.append(r)
        self.header = header
        self._rewrite(rows)
        self._tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(tensorboard_dir), purge_step=resume_step + 1)
            except ImportError:  # tensorboard is the optional extra ``tb``
                self._tb = None

    def _rewrite(self, rows: list[dict]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def write(self, **values: Any) -> None:
        row = {**self.tags, **{k: ("" if v is None else v) for k, v in values.items()}}
        new = [k for k in row if k not in self.header]
        if new:
            front = [k for k in (*self.tags, *LEADING) if k in row or k in self.header]
            rest = [k for k in self.header if k not in front] + [k for k in new if k not in front]
            self.header = front + rest
            self._rewrite(read_metrics_file(self.path))
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.header, extrasaction="ignore").writerow(row)
        if self._tb is not None:
            for k, v in values.items():
                if k not in ("step", "epoch") and isinstance(v, int | float):
                    self._tb.add_scalar(k, v, values["step"])

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics_file(path: Path) -> list[dict[str, str]]:
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """The rows of ``RUN_DIR/metrics.csv`` as dicts of strings."""
    return read_metrics_file(Path(run_dir) / "metrics.csv")
