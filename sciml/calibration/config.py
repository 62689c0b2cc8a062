"""The calibration config: ``run``, ``model``, ``truth``, ``observations``, ``parameters``, ``history_matching``,
``gradient``, ``sweep`` and ``calibrate`` (which methods, threads, progress). Same composition rules as the
training configs (YAML files with ``include``, ``key=value`` overrides, unknown keys rejected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sciml.calibration.lorenz96 import PAPER_STATISTICS, PARAMETERS, STATISTICS
from sciml.config import merge_sources, read_sources
from sciml.errors import ConfigError
from sciml.tasks.base import RunConfig

METHODS = ("history_matching", "gradient", "sweep")


@dataclass
class CalibrationRunConfig(RunConfig):
    dir: str = "runs/calibrate_l96"


@dataclass
class ModelConfig:
    name: str = "lorenz96_two_scale"  # the only calibration model today (sciml.calibration.lorenz96)
    K: int = 36
    J: int = 10
    dt: float = 0.005  # RK4 step, model time units
    spin_up: int = 1000  # steps from rest to the attractor, per run
    statistics: list[str] = field(default_factory=lambda: list(PAPER_STATISTICS))
    lag: int = 4  # steps between the two states of the ``ylag`` statistic


@dataclass
class ObservationConfig:
    members: int = 64  # truth runs whose statistics are averaged into the observation
    steps: int = 2000  # window per run (10 time units at dt 0.005)
    variance: str = "mean"  # Var_obs: "mean" (sampling variance of the observed mean) | "member" (one run's)
    seed: int = 0


@dataclass
class HistoryMatchingConfig:
    waves: int = 4
    design_points: int = 40  # simulator parameter sets per wave (Latin hypercube in wave 1, NROY after)
    members: int = 8  # runs per design point (the emulated value is their mean)
    steps: int = 2000
    cutoff: float = 3.0  # implausibility cut-off
    discrepancy: float = 0.0  # model-discrepancy variance, as a fraction of Var_obs (0: perfect model)
    nroy_points: int = 20000  # uniform samples of the NROY space kept per wave (volume, plots, next design)
    seed: int = 0


@dataclass
class GradientConfig:
    start: dict[str, float] = field(default_factory=lambda: {"F": 12.0, "h": 0.8, "c": 12.0, "b": 8.0})
    iterations: int = 300
    members: int = 64  # ensemble members, each with its own copy of the parameters
    window: int = 50  # differentiated steps per iteration
    lr: float = 0.05  # Adam, on log parameters
    lr_final: float = 0.002  # cosine decay to this rate at the last iteration
    average_fraction: float = 0.25  # the estimate averages the last fraction of the iterates
    checkpoint_every: int = 25
    seed: int = 0


@dataclass
class SweepConfig:
    parameter: str = "c"
    values: list[float] = field(default_factory=lambda: [8.0, 9.0, 10.0, 11.0, 12.0])
    members: int = 16
    steps: int = 2000
    seed: int = 0


@dataclass
class CalibrateConfig:
    methods: list[str] = field(default_factory=lambda: ["history_matching", "gradient"])
    threads: int = 0  # torch threads (0: torch's default)
    progress: str = "bar"  # bar | lines | none


@dataclass
class CalibrationConfig:
    run: CalibrationRunConfig = field(default_factory=CalibrationRunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    truth: dict[str, float] = field(default_factory=lambda: {"F": 10.0, "h": 1.0, "c": 10.0, "b": 10.0})
    parameters: dict[str, list[float]] = field(
        default_factory=lambda: {"F": [5.0, 15.0], "h": [0.2, 2.0], "c": [5.0, 15.0], "b": [5.0, 15.0]})
    observations: ObservationConfig = field(default_factory=ObservationConfig)
    history_matching: HistoryMatchingConfig = field(default_factory=HistoryMatchingConfig)
    gradient: GradientConfig = field(default_factory=GradientConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    calibrate: CalibrateConfig = field(default_factory=CalibrateConfig)


def load_calibration_config(args: list[str] | None = None) -> CalibrationConfig:
    """Merge defaults, YAML files and ``key=value`` overrides into a validated :class:`CalibrationConfig`."""
    cfg = merge_sources(CalibrationConfig, read_sources(list(args or [])))
    validate_calibration(cfg)
    return cfg


def validate_calibration(cfg: Any) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    need(cfg.model.name == "lorenz96_two_scale", f"unknown model.name {cfg.model.name!r} (known: lorenz96_two_scale)")
    bad = [s for s in cfg.model.statistics if s not in STATISTICS]
    need(not bad and len(cfg.model.statistics) > 0,
         f"model.statistics: unknown {bad} (known: {', '.join(STATISTICS)})")
    need(cfg.model.dt > 0 and cfg.model.spin_up >= 0 and cfg.model.lag >= 1,
         "model: need dt > 0, spin_up >= 0, lag >= 1")
    for section in ("truth", "parameters"):
        keys = set(getattr(cfg, section))
        need(keys == set(PARAMETERS), f"{section} must name exactly {', '.join(PARAMETERS)}, got {sorted(keys)}")
    for name, bounds in cfg.parameters.items():
        need(len(bounds) == 2 and 0 < bounds[0] < bounds[1],
             f"parameters.{name} must be [low, high] with 0 < low < high, got {bounds}")
    bad = [m for m in cfg.calibrate.methods if m not in METHODS]
    need(not bad and len(cfg.calibrate.methods) > 0, f"calibrate.methods: unknown {bad} (known: {', '.join(METHODS)})")
    need(cfg.calibrate.progress in ("bar", "lines", "none"), "calibrate.progress must be bar, lines or none")
    need(cfg.observations.variance in ("mean", "member"), "observations.variance must be 'mean' or 'member'")
    need(cfg.observations.members >= 2, "observations.members must be >= 2 (Var_obs comes from their spread)")
    steps = cfg.model.lag + 1
    for section in ("observations", "history_matching", "sweep"):
        need(getattr(cfg, section).steps >= steps, f"{section}.steps must exceed model.lag")
    need(cfg.gradient.window >= steps, "gradient.window must exceed model.lag")
    hm = cfg.history_matching
    need(hm.waves >= 1 and hm.design_points >= 4 and hm.members >= 1 and hm.cutoff > 0 and hm.nroy_points >= 100,
         "history_matching: need waves >= 1, design_points >= 4, members >= 1, cutoff > 0, nroy_points >= 100")
    g = cfg.gradient
    need(set(g.start) == set(PARAMETERS) and all(v > 0 for v in g.start.values()),
         f"gradient.start must give positive {', '.join(PARAMETERS)}")
    need(g.iterations >= 1 and g.members >= 2 and 0 < g.lr_final <= g.lr and 0 < g.average_fraction <= 1
         and g.checkpoint_every >= 1, "gradient: need iterations >= 1, members >= 2, 0 < lr_final <= lr, "
         "0 < average_fraction <= 1, checkpoint_every >= 1")
    need(cfg.sweep.parameter in PARAMETERS, f"sweep.parameter must be one of {', '.join(PARAMETERS)}")
    need(len(cfg.sweep.values) >= 2 and all(v > 0 for v in cfg.sweep.values),
         "sweep.values: at least 2 positive values")
