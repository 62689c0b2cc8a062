"""The config sections of the trajectory task: ``task``, ``trainer`` (shared keys plus data loading) and
``evaluate``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sciml.training import TrainerConfig


@dataclass
class TrajectoryTaskConfig:
    """Autoregressive emulation from trajectory files: window geometry, PDE parameters, multi-step training."""

    name: str = "trajectory"
    history: int = 1  # input frames
    time_step: int = 4  # model step in stored frames (ks1d: 4 x 0.2 = 0.8 time units)
    horizon: int = 1  # model steps of targets per training window (the unrolled loss averages the graded ones)
    params: list[str] = field(default_factory=list)  # per-sample PDE parameters in the file, given to the solver
    variables: list[str] = field(default_factory=list)  # the file's fields used as channels (empty: all)
    pushforward: int = 0  # most steps rolled out without gradient before the graded ones (MP-PDE); 0: off
    pushforward_every: int = 0  # optimiser steps per +1 of the drawn pushforward range; 0: one epoch
    gradient_through_unroll: bool = True  # backpropagate through fed-back predictions, else detach them
    teacher_forcing: str = "never"  # never (autoregressive) | always | curriculum (CAPE's tanh schedule)


@dataclass
class TrajectoryTrainerConfig(TrainerConfig):
    seed: int = 0  # model initialisation, data order and pushforward draws
    batch_size: int = 32  # windows per step (per process under DDP)
    num_workers: int = 0  # DataLoader worker processes
    val_batches: int = 16  # validation batches (evenly spaced windows of the valid split)


@dataclass
class TrajectoryEvaluateConfig:
    split: str = "test"
    checkpoint: str = "best"  # best | last
    rollout_steps: int = 0  # model steps to roll out; 0: as many as the trajectories allow
    samples: int = 1  # ensemble members per trajectory: noise seeds seed, seed + 1, ... and/or perturbed ICs
    seed: int = 0  # noise seed of the first (reported) rollout, and of the initial-condition perturbations
    ic_perturbation: float = 0.0  # members from ICs + this x (spatial std) x N(0, 1); needed by deterministic solvers
    start: int = 0  # model steps of each test trajectory skipped before the history (MP-PDE: 25)
    batch_size: int = 32
    correlation_threshold: float = 0.8  # high-correlation time: first time the mean drops below this
    blowup_factor: float = 10.0  # unstable once |u| exceeds this times the test data's max |u|
    metrics: list[str] = field(default_factory=lambda: ["mse", "nrmse", "correlation", "spectrum_error"])
    plots: bool = True
    climate_steps: int = 0  # free-run each test IC this many model steps for its climate statistics; 0: off
    climate_chunk: int = 250  # model steps rolled out at a time (memory does not grow with climate_steps)
    climate_max_lag: int = 50  # autocorrelation up to this lag (model steps)
    climate_bins: int = 100  # histogram bins of each field's marginal distribution
