"""The Well's field metrics (Ohana et al. 2024): the variance-scaled RMSE and the error by wavenumber band.

Shapes as every rollout metric: ``pred, true`` ``(B, T, C, *space)`` with one or two periodic space dims.
"""

from __future__ import annotations

import math

import torch


def vrmse(pred: torch.Tensor, true: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``sqrt(mean_x (pred - true)^2 / (mean_x (true - mean_x true)^2 + eps))`` per channel, mean over
    channels: ``(B, T)``. 1 is the score of predicting the truth's spatial mean; below 1 is skill."""
    dims = tuple(range(3, pred.dim()))
    error = (pred - true).pow(2).mean(dims)
    variance = (true - true.mean(dims, keepdim=True)).pow(2).mean(dims)
    return (error / (variance + eps)).sqrt().mean(-1)


def band_edges(n: int, bins: int = 3) -> torch.Tensor:
    """Edges ``(bins + 1,)`` in integer wavenumber |k| (units of 2 pi / L), log-spaced from 1 to the Nyquist
    wavenumber n / 2, the first set to 0 so that the mean (k = 0) counts in the lowest band."""
    edges = torch.logspace(0.0, math.log10(n / 2), bins + 1, dtype=torch.float64)
    edges[0] = 0.0
    return edges


def binned_spectral_error(pred: torch.Tensor, true: torch.Tensor, bins: int = 3) -> torch.Tensor:
    """The mean squared error carried by each wavenumber band, ``(B, T, bins)`` (low, middle, high), mean
    over channels.

    The error's Fourier power is summed over the modes with ``edges[j] <= |k| < edges[j + 1]`` (the last band
    includes the Nyquist wavenumber) and normalised by Parseval, so the bands sum to the MSE but for the
    2D corner modes beyond |k| = n/2. Bands are :func:`band_edges`: the default binning of The Well's
    ``binned_spectral_mse``; unlike it, the Nyquist mode counts in the top band.
    """
    ndim = pred.dim() - 3
    if ndim not in (1, 2):
        raise ValueError(f"binned_spectral_error supports 1 or 2 space dims, got {ndim}")
    space = pred.shape[3:]
    if ndim == 2 and space[0] != space[1]:
        raise ValueError(f"binned_spectral_error needs a square grid, got {tuple(space)}")
    n = space[-1]
    error = (pred - true).double()
    power = torch.fft.fftn(error, dim=tuple(range(3, pred.dim()))).abs().pow(2) / math.prod(space) ** 2
    freqs = torch.fft.fftfreq(n, 1 / n, dtype=torch.float64, device=pred.device)
    k = freqs.abs() if ndim == 1 else torch.sqrt(freqs[:, None] ** 2 + freqs[None, :] ** 2)
    edges = band_edges(n, bins).to(pred.device)
    band = (torch.bucketize(k.flatten(), edges, right=True) - 1).clamp_max(bins)
    band[k.flatten() == edges[-1]] = bins - 1  # the Nyquist wavenumber closes the top band
    flat = power.flatten(3)  # (B, T, C, modes)
    out = torch.zeros(*flat.shape[:-1], bins + 1, dtype=flat.dtype, device=pred.device)
    out.index_add_(-1, band, flat)
    return out[..., :bins].mean(2).to(pred.dtype)
