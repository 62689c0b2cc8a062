"""Ensemble forecasts for every trajectory solver, and their probabilistic skill.

A stochastic solver draws its members with noise seeds (``evaluate.samples``); a deterministic one gets
them from perturbed initial conditions (``evaluate.ic_perturbation``: Gaussian noise of that amplitude
relative to each sample's and field's spatial standard deviation, seeded by ``evaluate.seed``). Both can
combine. The ``ensemble`` block of ``results.json``: CRPS and spread–skill per lead time, the rank histogram
at the report horizons (WeatherBench 2's definitions, :mod:`sciml.metrics.ensemble`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from sciml import metrics
from sciml.errors import ConfigError


def check_ensemble(samples: int, ic_perturbation: float, stochastic: bool, solver: str) -> None:
    """Refuse an ensemble that would hold identical members."""
    if samples > 1 and not stochastic and ic_perturbation == 0:
        raise ConfigError(f"evaluate.samples={samples}, but {solver} is deterministic and evaluate.ic_perturbation "
                          "is 0: its members would be identical (set evaluate.ic_perturbation, e.g. 0.01)")


def perturb(initial: torch.Tensor, amplitude: float, generator: torch.Generator) -> torch.Tensor:
    """``initial`` ``(B, H, C, *space)`` plus ``amplitude`` times its per-sample, per-field spatial standard
    deviation (of the last given frame) times standard normal noise."""
    if amplitude == 0:
        return initial
    scale = initial[:, -1:].std(dim=tuple(range(3, initial.dim())), keepdim=True)
    noise = torch.randn(initial.shape, generator=generator, dtype=initial.dtype).to(initial.device)
    return initial + amplitude * scale * noise


def members(model, initial: torch.Tensor, n_steps: int, params, time, samples: int, seed: int,
            ic_perturbation: float, generator: torch.Generator) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """The reported rollout and the ensemble (None for one member), each ``(B, T, C, *space)`` on the CPU.

    Stochastic: members with seeds ``seed, seed + 1, ...`` (their initial conditions perturbed when asked), the
    first reported. Deterministic: the unperturbed rollout is reported and ``samples`` perturbed ones form the
    ensemble, so that every deterministic metric is the one of ``samples: 1``.
    """
    def run(start: torch.Tensor, s: int) -> torch.Tensor:
        kwargs = {"seed": seed + s} if model.stochastic else {}
        return model.rollout(start, n_steps, params, time, **kwargs).float().cpu()

    if model.stochastic:
        runs = [run(perturb(initial, ic_perturbation, generator), s) for s in range(samples)]
        return runs[0], runs if samples > 1 else None
    control = run(initial, 0)
    if samples == 1:
        return control, None
    return control, [run(perturb(initial, ic_perturbation, generator), s) for s in range(samples)]


class EnsembleScores:
    """Accumulates CRPS, spread and skill per lead time and rank histograms at ``horizons`` (1-based steps)
    over batches of trajectories; members hold NaN from a member's unstable step on (left out)."""

    def __init__(self, n_steps: int, horizons: list[int], seed: int):
        self.horizons, self.seed = horizons, seed
        self.crps_sum = torch.zeros(n_steps, dtype=torch.float64)
        self.variance_sum = torch.zeros(n_steps, dtype=torch.float64)
        self.error_sum = torch.zeros(n_steps, dtype=torch.float64)
        self.count = torch.zeros(n_steps, dtype=torch.float64)
        self.ranks: dict[int, torch.Tensor] = {}
        self.members = 0

    def update(self, ensemble: list[torch.Tensor], true: torch.Tensor) -> None:
        ens = torch.stack(ensemble).double()  # (M, B, T, C, *space)
        true = true.double()
        self.members = ens.shape[0]
        finite = torch.isfinite(ens).flatten(3).all(-1).all(0)  # (B, T): every member stable
        space = tuple(range(2, true.dim()))
        crps = metrics.crps(ens.nan_to_num(), true).mean(space)
        variance, error = metrics.spread_and_skill(ens.nan_to_num(), true, dims=space)
        w = finite.double()
        self.crps_sum += (crps * w).sum(0)
        self.variance_sum += (variance * w).sum(0)
        self.error_sum += (error * w).sum(0)
        self.count += w.sum(0)
        for step in self.horizons:
            keep = finite[:, step - 1]
            if keep.any():
                counts = metrics.rank_histogram(ens[:, keep, step - 1], true[keep, step - 1], seed=self.seed + step)
                self.ranks[step] = self.ranks.get(step, 0) + counts

    def block(self, time: np.ndarray, ic_perturbation: float, stochastic: bool) -> dict[str, Any]:
        """The ``ensemble`` block of ``results.json`` (per-step lists: None where no trajectory was stable)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            count = self.count.numpy()
            crps = self.crps_sum.numpy() / count
            spread = np.sqrt(self.variance_sum.numpy() / count)
            skill = np.sqrt(self.error_sum.numpy() / count)
            ratio = spread / skill

        def clean(values: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in values]

        source = ("noise seeds" + (" and perturbed initial conditions" if ic_perturbation else "") if stochastic
                  else "perturbed initial conditions")
        return {"members": self.members, "source": source, "ic_perturbation": ic_perturbation,
                "crps": clean(crps), "spread": clean(spread), "rmse_of_mean": clean(skill),
                "spread_skill": clean(ratio),
                "rank_histogram": [{"step": s, "time": float(time[s - 1]), "counts": self.ranks[s].tolist()}
                                   for s in self.horizons if s in self.ranks]}
