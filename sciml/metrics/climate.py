"""Statistics of long (climate) runs: marginal distributions, their distances, autocorrelation.

Batch versions over stored tensors; :mod:`sciml.metrics.online` accumulates the same quantities over a run
too long to hold.
"""

from __future__ import annotations

import torch


def autocorrelation(x: torch.Tensor, max_lag: int) -> torch.Tensor:
    """``(max_lag + 1,)``: the autocorrelation of ``x`` ``(B, T, *space)`` at time lags 0..max_lag (in
    steps), pooled over samples and points (each about the pooled mean, normalised by the pooled variance)."""
    if max_lag >= x.shape[1]:
        raise ValueError(f"max_lag={max_lag} needs more than {x.shape[1]} time steps")
    anomaly = x - x.mean()
    variance = anomaly.pow(2).mean()
    return torch.stack([(anomaly[:, : x.shape[1] - lag] * anomaly[:, lag:]).mean() / variance
                        for lag in range(max_lag + 1)])


def histogram_density(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """The probability density of every value of ``x`` on the bins ``edges`` ``(n + 1,)`` (increasing; the last
    edge closes the last bin): ``(n,)``; values outside the bins count in the normalisation (so a run that
    leaves the truth's range scores worse)."""
    values, edges = x.detach().flatten().double(), edges.double()
    n = len(edges) - 1
    index = torch.bucketize(values, edges, right=True) - 1
    index[values == edges[-1]] = n - 1
    counts = torch.bincount(index[(index >= 0) & (index < n)], minlength=n).double()
    return counts / (x.numel() * (edges[1:] - edges[:-1]))


def hellinger_distance(p: torch.Tensor, q: torch.Tensor, edges: torch.Tensor) -> float:
    """Hellinger distance between two densities on the same bins (0: equal, 1: disjoint); the mass outside
    the bins counts as one more bin."""
    width = (edges[1:] - edges[:-1]).double()
    outside_p, outside_q = ((1 - (d.double() * width).sum()).clamp_min(0) for d in (p, q))
    overlap = ((p.double() * q.double()).sqrt() * width).sum() + (outside_p * outside_q).sqrt()
    return float((1 - overlap).clamp_min(0).sqrt())


def wasserstein1(a: torch.Tensor, b: torch.Tensor) -> float:
    """The 1-Wasserstein distance between the empirical distributions of all values of ``a`` and ``b``:
    ``W1 = integral |F_a(x) - F_b(x)| dx`` (for equal sizes, the mean |a_(i) - b_(i)| of the sorted values).
    The sizes may differ. NaN anywhere is a ``ValueError``."""
    a, b = a.detach().flatten().double(), b.detach().flatten().double()
    if a.numel() == 0 or b.numel() == 0:
        raise ValueError(f"wasserstein1 needs two non-empty samples, got {a.numel()} and {b.numel()} values")
    if torch.isnan(a).any() or torch.isnan(b).any():
        raise ValueError("wasserstein1: a sample holds NaN")
    a, b = a.sort().values, b.sort().values
    points = torch.cat([a, b]).sort().values
    cdf_a = torch.searchsorted(a, points[:-1], right=True).double() / a.numel()
    cdf_b = torch.searchsorted(b, points[:-1], right=True).double() / b.numel()
    return float(((cdf_a - cdf_b).abs() * points.diff()).sum())


def histogram_wasserstein1(p: torch.Tensor, q: torch.Tensor, edges: torch.Tensor) -> float:
    """W1 between two densities ``(n,)`` on the same bins ``edges`` ``(n + 1,)``, mass uniform within a bin
    (each renormalised to one over the bins): the online counterpart of :func:`wasserstein1`, exact to the
    bin width."""
    width = (edges[1:] - edges[:-1]).double()
    cdfs = []
    for density in (p, q):
        mass = density.double() * width
        cdfs.append(mass.cumsum(0) / mass.sum().clamp_min(torch.finfo(torch.float64).tiny))
    # uniform mass within a bin makes both CDFs linear between edges: the trapezoid rule on the edges is exact
    # wherever F_p - F_q keeps its sign over a bin
    gap = torch.cat([torch.zeros(1, dtype=torch.float64), (cdfs[0] - cdfs[1]).abs()])
    return float(((gap[:-1] + gap[1:]) / 2 * width).sum())
