"""One training loop for every solver: ``fit(config)``; used by ``python -m sciml.train``."""

from sciml.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from sciml.training.loop import TrainingDiverged, fit

__all__ = ["CheckpointError", "TrainingDiverged", "fit", "load_checkpoint", "save_checkpoint"]
