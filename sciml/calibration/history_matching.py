"""History matching: Latin-hypercube designs, Gaussian-process emulators, implausibility, waves.

Emulators are scikit-learn's ``GaussianProcessRegressor`` (one per statistic; an anisotropic Matérn-5/2
kernel times a constant plus a white-noise term for the ensemble's sampling noise, hyperparameters by
maximum likelihood with restarts). We use scikit-learn rather than gpytorch: designs hold tens to a few
hundred points, where exact GPs on the CPU are instant and scikit-learn's fit is deterministic and needs no
training loop. Parameters are handled in the unit cube of their ranges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc


def latin_hypercube(n: int, dims: int, seed: int) -> np.ndarray:
    """``(n, dims)`` points of a Latin hypercube in the unit cube (scipy, optimised for low discrepancy)."""
    return qmc.LatinHypercube(d=dims, seed=seed, optimization="random-cd").random(n)


def to_box(u: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Unit-cube points ``(n, D)`` to parameter values within ``bounds (D, 2)``."""
    return bounds[:, 0] + u * (bounds[:, 1] - bounds[:, 0])


def to_unit(theta: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return (theta - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])


def implausibility(observed: np.ndarray, mean: np.ndarray, emulator_var: np.ndarray, observation_var: np.ndarray,
                   discrepancy_var: np.ndarray | float = 0.0) -> np.ndarray:
    """``I = |z - E[f]| / sqrt(Var_emulator + Var_obs + Var_discrepancy)``, elementwise over ``(n, S)``."""
    return np.abs(observed - mean) / np.sqrt(emulator_var + observation_var + discrepancy_var)


class Emulator:
    """One Gaussian process per statistic, fitted on unit-cube inputs ``(n, D)`` and outputs ``(n, S)``.

    ``noise (n, S)``, when given, is each output's sampling variance (an ensemble mean's: the members' variance
    over their number). It is pooled over the design (its mean per statistic: an ensemble of a few members
    estimates its own variance too poorly to trust point by point), enters the GP as known noise, and is added
    to the predicted variance, which then bounds how far one ensemble of that size may fall from the emulated
    expectation. A white-noise term learns whatever noise remains.
    """

    def __init__(self, inputs: np.ndarray, outputs: np.ndarray, seed: int = 0, restarts: int = 3,
                 noise: np.ndarray | None = None):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        if inputs.shape[0] != outputs.shape[0] or inputs.shape[0] < 2:
            raise ValueError(f"an emulator needs at least 2 matching inputs and outputs, got {inputs.shape[0]} "
                             f"and {outputs.shape[0]}")
        dims = inputs.shape[1]
        self.models = []
        self.noise = np.zeros(outputs.shape[1]) if noise is None else noise.mean(0)
        for s in range(outputs.shape[1]):
            kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(dims, 0.3), (1e-2, 1e2), nu=2.5)
                      + WhiteKernel(1e-4, (1e-9, 1e0)))
            # normalize_y scales the targets by their std before alpha is added: scale the known noise alike
            scale = max(float(outputs[:, s].std()), 1e-300) ** 2
            alpha = 1e-10 if noise is None else self.noise[s] / scale + 1e-10
            gp = GaussianProcessRegressor(kernel, alpha=alpha, normalize_y=True, n_restarts_optimizer=restarts,
                                          random_state=seed + s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                gp.fit(inputs, outputs[:, s])
            self.models.append(gp)

    def predict(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance ``(n, S)`` at unit-cube ``inputs (n, D)`` (the variance includes the noise terms)."""
        means, variances = [], []
        for gp in self.models:
            m, sd = gp.predict(inputs, return_std=True)
            means.append(m)
            variances.append(sd**2)
        return np.stack(means, 1), np.stack(variances, 1) + self.noise


@dataclass
class Wave:
    """One wave: its design (unit cube), the simulated statistics there and the emulator fitted to them."""

    design: np.ndarray  # (n, D)
    outputs: np.ndarray  # (n, S) ensemble means
    emulator: Emulator

    def max_implausibility(self, inputs: np.ndarray, observed: np.ndarray, observation_var: np.ndarray,
                           discrepancy_var: np.ndarray | float = 0.0, chunk: int = 20000) -> np.ndarray:
        """``(n,)``: the largest implausibility over the statistics at unit-cube ``inputs``."""
        out = []
        for start in range(0, inputs.shape[0], chunk):
            mean, var = self.emulator.predict(inputs[start : start + chunk])
            out.append(implausibility(observed, mean, var, observation_var, discrepancy_var).max(1))
        return np.concatenate(out) if out else np.zeros(0)


def not_ruled_out(waves: list[Wave], inputs: np.ndarray, observed: np.ndarray, observation_var: np.ndarray,
                  cutoff: float = 3.0, discrepancy_var: np.ndarray | float = 0.0) -> np.ndarray:
    """Boolean ``(n,)``: the unit-cube points that no wave rules out (max implausibility <= ``cutoff``)."""
    keep = np.ones(inputs.shape[0], dtype=bool)
    for wave in waves:
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            break
        keep[idx] = wave.max_implausibility(inputs[idx], observed, observation_var, discrepancy_var) <= cutoff
    return keep


def nroy_sample(waves: list[Wave], dims: int, observed: np.ndarray, observation_var: np.ndarray, n: int, seed: int,
                cutoff: float = 3.0, discrepancy_var: np.ndarray | float = 0.0, previous: np.ndarray | None = None,
                max_draws: int = 2_000_000) -> tuple[np.ndarray, float]:
    """Uniform points of the not-ruled-out-yet space and its volume as a fraction of the unit cube.

    ``dims`` is the number of parameters. Draws uniformly from the bounding box of ``previous`` NROY points
    (widened by 10 % of its size on each side, clipped to the cube; the whole cube when ``previous`` is None) and
    keeps what the waves do not rule out.
    The volume is the box's volume times the fraction kept: exact in expectation while the NROY space lies in
    the box, which the widening makes likely. Returns ``(points (m, D), fraction)`` with ``m <= n``.
    """
    rng = np.random.default_rng(seed)
    if previous is None or previous.shape[0] == 0:
        lo, hi = np.zeros(dims), np.ones(dims)
    else:
        lo, hi = previous.min(0), previous.max(0)
        pad = 0.1 * (hi - lo) + 1e-3
        lo, hi = np.clip(lo - pad, 0, 1), np.clip(hi + pad, 0, 1)
    box = float(np.prod(hi - lo))
    kept, drawn = [], 0
    while drawn < max_draws and sum(len(k) for k in kept) < n:
        u = lo + rng.random((min(200_000, max_draws - drawn), dims)) * (hi - lo)
        drawn += u.shape[0]
        kept.append(u[not_ruled_out(waves, u, observed, observation_var, cutoff, discrepancy_var)])
    points = np.concatenate(kept) if kept else np.zeros((0, dims))
    return points[:n], box * sum(len(k) for k in kept) / drawn
