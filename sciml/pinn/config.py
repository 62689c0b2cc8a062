"""Config sections of physics-informed runs (``solver.name: pinn | pig``): the network, the problem, the
collocation sampler and the optimiser schedule. No dataset: the problem's reference solution is the truth.

``python -m sciml.train experiments/pinn_convection.yaml`` reads them like every other run; the
``problem:`` section is typed by ``problem.name`` as ``solver:`` is by ``solver.name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PINNConfig:
    """Tanh MLP on the coordinates (Raissi et al. 2019), optionally on periodic or random Fourier features."""

    name: str = "pinn"
    width: int = 50
    depth: int = 4  # hidden layers
    normalise_inputs: bool = False  # map each non-periodic coordinate from the domain to [-1, 1]
    periodic_harmonics: int = 0  # > 0: periodic axes enter as cos/sin of k = 1..harmonics (exact periodicity)
    fourier_features: int = 0  # random Fourier features [cos Bx, sin Bx], B ~ N(0, fourier_scale^2)
    fourier_scale: float = 1.0
    init: str = "xavier_normal"  # xavier_normal | xavier_uniform | torch (nn.Linear's default)
    hard_initial: bool = False  # u = u0(x) + t_hat net(x, t): the initial condition holds exactly


@dataclass
class PIGConfig:
    """Physics-Informed Gaussians (Kang et al., ICLR 2025): trainable Gaussian features, then a tiny MLP."""

    name: str = "pig"
    gaussians: int = 800  # per channel
    channels: int = 4
    hidden: int = 16  # width of the channels -> hidden -> 1 tanh head
    sigma: float = 0.1  # initial width, relative to half the domain's side along each axis
    rotation: bool = False  # full covariances through a trainable rotation per Gaussian


@dataclass
class ConvectionConfig:
    name: str = "convection"
    beta: float = 50.0


@dataclass
class AllenCahnConfig:
    name: str = "allen_cahn"
    diffusion: float = 1e-4


@dataclass
class Helmholtz2DConfig:
    name: str = "helmholtz2d"
    a1: float = 4.0
    a2: float = 1.0
    k: float = 1.0


@dataclass
class KleinGordonConfig:
    name: str = "klein_gordon"
    k: float = 1.0
    t_end: float = 10.0


@dataclass
class FlowMixingConfig:
    name: str = "flow_mixing"
    half_width: float = 4.0
    t_end: float = 4.0


PROBLEM_CONFIGS: dict[str, type] = {
    c().name: c for c in (ConvectionConfig, AllenCahnConfig, Helmholtz2DConfig, KleinGordonConfig, FlowMixingConfig)
}
SAMPLERS = ("uniform", "resampled", "r3", "causal_r3", "rad", "rar_d")


@dataclass
class SamplerConfig:
    name: str = "r3"  # uniform | resampled | r3 | causal_r3 | rad | rar_d
    points: int = 1000  # collocation points (the population; RAR-D starts here and grows)
    every: int = 1  # resampled / RAD / RAR-D: updates between redraws
    causal_alpha: float = 5.0  # causal R3: gate steepness
    causal_beta0: float = -0.5  # causal R3: initial gate position in normalised time
    causal_eta: float = 1e-3  # causal R3: gate speed
    causal_epsilon: float = 20.0  # causal R3: loss scale of the gate speed
    rad_k: float = 1.0  # RAD / RAR-D density |r|^k / mean|r|^k + c
    rad_c: float = 1.0
    candidates: int = 10000  # RAD / RAR-D candidate points scored per redraw
    rar_add: int = 100  # RAR-D: points added per redraw


@dataclass
class PINNTrainerConfig:
    adam_steps: int = 10000
    lr: float = 1e-3
    lr_decay: float = 0.9  # Adam learning rate multiplied by this every decay_every steps
    decay_every: int = 5000
    lbfgs_steps: int = 0  # then L-BFGS (strong Wolfe, lr 1) for exactly this many iterations
    lbfgs_points: int = 0  # > 0: L-BFGS on this many fresh uniform points instead of the sampler's last ones
    constraint_points: int = 200  # initial/boundary points per term and step
    constraint_resample: bool = True  # fresh initial/boundary points every step; false: one fixed set
    weights: dict[str, float] = field(default_factory=lambda: {"initial": 100.0, "boundary": 100.0})
    eval_every: int = 1000  # steps between error evaluations (and monitor rows)
    eval_points: int = 20000  # evaluation grid size (split evenly over the axes)
    seeds: list[int] = field(default_factory=lambda: [0])  # one run per seed; finished seeds are skipped
    snapshots: int = 3  # moments of training whose collocation points are kept for the pictures
    checkpoint_every: int = 5000  # Adam steps between saves of seed_<s>/checkpoint.pt (0: none); resumes exactly
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    dtype: str = "float32"  # float32 | float64 (PIG with L-BFGS stalls in float32 near 3e-3 on Helmholtz)
    progress: str = "auto"  # auto | bar | lines
