"""Probabilistic skill of an ensemble forecast against one truth, as WeatherBench 2 defines it.

Every function takes ``ensemble`` with the members along ``member_dim`` and ``truth`` of the ensemble's
shape without that dim. References: Gneiting & Raftery (2007) for the CRPS and its kernel form;
Zamo & Naveau (2018) for the fair (unbiased) estimator; Fortin et al. (2014) for the spread–skill
correction (M + 1)/M; Hamill (2001) for rank histograms; Rasp et al. (2024, WeatherBench 2) for all three.
"""

from __future__ import annotations

import torch


def _members_first(ensemble: torch.Tensor, truth: torch.Tensor, member_dim: int) -> torch.Tensor:
    ens = ensemble.movedim(member_dim, 0)
    if ens.shape[1:] != truth.shape:
        raise ValueError(f"the ensemble's shape without its member dim {member_dim}, {tuple(ens.shape[1:])}, "
                         f"differs from the truth's {tuple(truth.shape)}")
    if ens.shape[0] < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {ens.shape[0]}")
    return ens


def crps(ensemble: torch.Tensor, truth: torch.Tensor, member_dim: int = 0, fair: bool = True) -> torch.Tensor:
    """The continuous ranked probability score of the ensemble's empirical distribution, per point.

    ``CRPS = E|X - y| - E|X - X'| / 2``, the expectations over members. ``fair=True`` normalises the pair sum
    by ``M (M - 1)`` (unbiased for the distribution the members are drawn from); ``False`` by ``M^2`` (the
    CRPS of the empirical distribution itself). The pair sum is computed from the sorted members,
    ``sum_ij |x_i - x_j| = 2 sum_i (2i - M - 1) x_(i)``, in O(M log M). Returns the truth's shape.
    """
    ens = _members_first(ensemble, truth, member_dim)
    m = ens.shape[0]
    skill = (ens - truth).abs().mean(0)
    ranks = torch.arange(1, m + 1, device=ens.device, dtype=ens.dtype).view(m, *([1] * truth.dim()))
    pair_sum = 2 * ((2 * ranks - m - 1) * ens.sort(0).values).sum(0)
    return skill - pair_sum / (2 * m * (m - 1 if fair else m))


def spread_and_skill(ensemble: torch.Tensor, truth: torch.Tensor, member_dim: int = 0,
                     dims: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean variance * (M + 1) / M, mean squared error of the ensemble mean)``, averaged over ``dims`` of
    the truth (all when None); the variance over members is unbiased. Their sums over batches give
    :func:`spread_skill` of the whole."""
    ens = _members_first(ensemble, truth, member_dim)
    m = ens.shape[0]
    dims = tuple(range(truth.dim())) if dims is None else dims
    variance = ens.var(0, unbiased=True).mean(dims) * (m + 1) / m
    error = (ens.mean(0) - truth).pow(2).mean(dims)
    return variance, error


def spread_skill(ensemble: torch.Tensor, truth: torch.Tensor, member_dim: int = 0) -> torch.Tensor:
    """The spread–skill ratio, a scalar: ``sqrt(mean variance * (M + 1) / M) / RMSE(ensemble mean)``.

    About 1 for a calibrated ensemble (members and truth exchangeable); below 1 under-dispersive.
    """
    variance, error = spread_and_skill(ensemble, truth, member_dim)
    return (variance / error).sqrt()


def rank_histogram(ensemble: torch.Tensor, truth: torch.Tensor, member_dim: int = 0, seed: int = 0) -> torch.Tensor:
    """Counts ``(M + 1,)`` of the truth's rank among the members over all points (rank r: r members below).

    A tie (members equal to the truth) is broken at random among the tied ranks, with ``seed``: a flat
    histogram means calibrated, a U shape under-dispersive, a dome over-dispersive.
    """
    ens = _members_first(ensemble, truth, member_dim)
    m = ens.shape[0]
    below = (ens < truth).sum(0)
    ties = (ens == truth).sum(0)
    g = torch.Generator(device="cpu").manual_seed(seed)
    offset = (torch.rand(ties.shape, generator=g, dtype=torch.float64) * (ties.cpu() + 1)).floor().long()
    ranks = below.cpu() + offset
    return torch.bincount(ranks.flatten(), minlength=m + 1)
