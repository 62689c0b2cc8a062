"""Training logs: ``metrics.csv`` always, TensorBoard when it is installed."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ("step", "epoch", "loss", "lr", "grad_norm", "val_loss", "elapsed_s")


class MetricsLog:
    """Append rows to ``metrics.csv``; on resume, rows after the resumed step are dropped first."""

    def __init__(self, run_dir: Path, resume_step: int = 0, tensorboard: bool = True):
        self.path = run_dir / "metrics.csv"
        rows = []
        if resume_step > 0 and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= resume_step]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=resume_step + 1)
            except ImportError:  # tensorboard is the optional extra ``tb``
                self._tb = None

    def write(self, **values: float | int | None) -> None:
        row = {k: ("" if values.get(k) is None else values[k]) for k in COLUMNS}
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerow(row)
        if self._tb is not None:
            for k, v in values.items():
                if k not in ("step", "epoch") and v is not None:
                    self._tb.add_scalar(k, v, values["step"])

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))
