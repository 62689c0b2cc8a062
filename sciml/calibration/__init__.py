"""Calibration of model parameters: history matching with Gaussian-process emulators, and gradient-based
estimation through the differentiable simulators (``python -m sciml.calibrate``)."""

from sciml.calibration.config import CalibrationConfig, load_calibration_config
from sciml.calibration.gradient import GradientStep, misfit_gradient
from sciml.calibration.history_matching import (
    Emulator,
    Wave,
    implausibility,
    latin_hypercube,
    not_ruled_out,
    nroy_sample,
)
from sciml.calibration.les import LESCoefficientCalibration
from sciml.calibration.lorenz96 import PAPER_STATISTICS, STATISTICS, Lorenz96Calibration
from sciml.calibration.run import calibrate, summary_table

__all__ = ["PAPER_STATISTICS", "STATISTICS", "CalibrationConfig", "Emulator", "GradientStep",
           "LESCoefficientCalibration", "Lorenz96Calibration", "Wave", "calibrate", "implausibility",
           "latin_hypercube", "load_calibration_config", "misfit_gradient", "not_ruled_out", "nroy_sample",
           "summary_table"]
