"""One training loop for every solver family: :class:`Trainer`, checkpoints, schedules, logs, devices."""

from sciml.errors import CheckpointError, TrainingDiverged
from sciml.training.checkpoint import load_checkpoint, save_checkpoint
from sciml.training.devices import default_dtype, select_device
from sciml.training.logs import MetricsLog, read_metrics
from sciml.training.trainer import Trainer, TrainerConfig, TrainingData, TrainingResult, validate_trainer

__all__ = ["CheckpointError", "MetricsLog", "Trainer", "TrainerConfig", "TrainingData", "TrainingDiverged",
           "TrainingResult", "default_dtype", "load_checkpoint", "read_metrics", "save_checkpoint",
           "select_device", "validate_trainer"]
