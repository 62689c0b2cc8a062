"""Rollout metrics, per sample and per step, found by name: ``sciml.metrics.get("nrmse")``.

Every metric maps ``pred, true`` of shape ``(B, T, C, *space)`` to ``(B, T)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sciml.registry import Registry

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
registry: Registry[Metric] = Registry("metric")


def _space_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(3, x.dim()))


@registry.register("mse")
def mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean squared error over channels and space."""
    return ((pred - true) ** 2).flatten(2).mean(-1)


@registry.register("nrmse")
def nrmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """PDEBench nRMSE: ``sqrt(mean_x (pred - true)^2) / sqrt(mean_x true^2)`` per channel, mean over channels."""
    dims = _space_dims(pred)
    err = ((pred - true) ** 2).mean(dims).sqrt()
    norm = (true**2).mean(dims).sqrt()
    return (err / norm).mean(-1)


@registry.register("correlation")
def correlation(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between prediction and truth over channels and space."""
    p = pred.flatten(2) - pred.flatten(2).mean(-1, keepdim=True)
    t = true.flatten(2) - true.flatten(2).mean(-1, keepdim=True)
    return (p * t).sum(-1) / (p.norm(dim=-1) * t.norm(dim=-1))


def energy_spectrum(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """One-sided energy spectrum over the last ``ndim`` (1 or 2) dims, averaged over the channel dim -3.

    1D: ``E(k) = c_k |u_hat_k|^2 / n^2`` with ``c_k = 2`` for ``0 < k < n/2`` (Parseval: ``sum_k E = mean u^2``).
    2D: the same sum binned into shells of integer ``|k|`` (isotropic spectrum).
    Returns ``(*lead, K)`` with K = n // 2 + 1 wavenumbers 0, 1, ... (in units of 2 pi / L).
    """
    if ndim == 1:
        n = u.shape[-1]
        power = torch.fft.rfft(u, dim=-1).abs() ** 2 / n**2
        weight = torch.full((n // 2 + 1,), 2.0, device=u.device, dtype=power.dtype)
        weight[0] = 1.0
        if n % 2 == 0:
            weight[-1] = 1.0
        return (power * weight).mean(-2)
    if ndim == 2:
        ny, nx = u.shape[-2:]
        power = torch.fft.fft2(u).abs() ** 2 / (nx * ny) ** 2
        ky = torch.fft.fftfreq(ny, 1 / ny, device=u.device)
        kx = torch.fft.fftfreq(nx, 1 / nx, device=u.device)
        shell = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2).round().long().flatten()
        n_shells = min(nx, ny) // 2 + 1
        keep = shell < n_shells
        flat = power.mean(-3).flatten(-2)[..., keep]
        out = torch.zeros(*flat.shape[:-1], n_shells, dtype=flat.dtype, device=u.device)
        return out.index_add_(-1, shell[keep], flat)
    raise ValueError(f"energy_spectrum supports 1 or 2 space dims, got {ndim}")


@registry.register("spectrum_error")
def spectrum_error(pred: torch.Tensor, true: torch.Tensor, floor: float = 1e-10) -> torch.Tensor:
    """Log-spectral distance ``sqrt(mean_k (log10 E_pred(k) - log10 E_true(k))^2)`` per sample and step.

    The mean runs over the wavenumbers ``k > 0`` where the true spectrum exceeds ``floor`` times its
    maximum, so that round-off in the far tail (float32 data) does not dominate.
    """
    ndim = pred.dim() - 3
    tiny = torch.finfo(pred.dtype).tiny
    ep = energy_spectrum(pred, ndim)[..., 1:].clamp_min(tiny)
    et = energy_spectrum(true, ndim)[..., 1:].clamp_min(tiny)
    keep = et > floor * et.amax(-1, keepdim=True)
    sq = torch.where(keep, (ep.log10() - et.log10()) ** 2, 0.0)
    return (sq.sum(-1) / keep.sum(-1).clamp_min(1)).sqrt()


def high_correlation_steps(mean_corr: torch.Tensor, threshold: float = 0.8) -> tuple[int, bool]:
    """Steps before the mean correlation ``(T,)`` (step 1 first) first drops below ``threshold``.

    Returns ``(steps, reached)``: ``reached`` is False when it never dropped within the horizon, in which
    case ``steps`` is the horizon (a lower bound). NaN counts as below the threshold.
    """
    below = ~(mean_corr >= threshold)
    if not below.any():
        return int(mean_corr.numel()), False
    return int(torch.nonzero(below)[0, 0]), True


def steps_below(values: torch.Tensor, threshold: float) -> tuple[int, bool]:
    """Steps before ``values`` ``(T,)`` (step 1 first) first reach ``threshold`` (e.g. an ensemble RMSE
    reaching the climatological standard deviation). Returns ``(steps, reached)`` as
    :func:`high_correlation_steps` does; NaN counts as reached."""
    reached = ~(values < threshold)
    if not reached.any():
        return int(values.numel()), False
    return int(torch.nonzero(reached)[0, 0]), True


# -- long-run (climate) statistics of a trajectory ensemble ---------------------------------------------------
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
    """The probability density of every value of ``x`` on the bins ``edges`` ``(n + 1,)``: ``(n,)``; values
    outside the bins count in the normalisation (so a run that leaves the truth's range scores worse)."""
    counts = torch.histc(x.double(), bins=len(edges) - 1, min=float(edges[0]), max=float(edges[-1]))
    return counts / (x.numel() * (edges[1:] - edges[:-1]).double())


def hellinger_distance(p: torch.Tensor, q: torch.Tensor, edges: torch.Tensor) -> float:
    """Hellinger distance between two densities on the same bins (0: equal, 1: disjoint); the mass outside
    the bins counts as one more bin."""
    width = (edges[1:] - edges[:-1]).double()
    outside_p, outside_q = ((1 - (d.double() * width).sum()).clamp_min(0) for d in (p, q))
    overlap = ((p.double() * q.double()).sqrt() * width).sum() + (outside_p * outside_q).sqrt()
    return float((1 - overlap).clamp_min(0).sqrt())


def get(name: str) -> Metric:
    return registry.get(name)
