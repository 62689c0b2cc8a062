"""Energy spectra of periodic fields and the log-spectral distance between two spectra."""

from __future__ import annotations

import math

import torch


def energy_spectrum(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """One-sided energy spectrum over the last ``ndim`` (1 or 2) dims, averaged over the channel dim -3.

    1D: ``E(k) = c_k |u_hat_k|^2 / n^2`` with ``c_k = 2`` for ``0 < k < n/2`` (Parseval: ``sum_k E = mean u^2``).
    2D: the same sum binned into shells of integer ``|k|`` (isotropic spectrum).
    Returns ``(*lead, K)`` with K = n // 2 + 1 wavenumbers 0, 1, ... (in units of 2 pi / L).
    """
    return bin_power(mode_power(u, ndim).mean(-ndim - 1), ndim, u.shape[-ndim:])


def mode_power(u: torch.Tensor, ndim: int) -> torch.Tensor:
    """``|u_hat|^2 / N^2`` of every Fourier mode of the real field ``u`` over its last ``ndim`` (1 or 2) dims,
    the last dim one-sided (rfft): ``(..., n // 2 + 1)`` or ``(..., ny, nx // 2 + 1)``. Linear in the power, so
    that a sum over frames bins like one frame (:func:`bin_power`)."""
    if ndim not in (1, 2):
        raise ValueError(f"energy_spectrum supports 1 or 2 space dims, got {ndim}")
    dims = tuple(range(-ndim, 0))
    modes = torch.fft.rfftn(u, dim=dims)
    return torch.view_as_real(modes).pow(2).sum(-1) / math.prod(u.shape[-ndim:]) ** 2


def bin_power(power: torch.Tensor, ndim: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The one-sided spectrum ``(*lead, K)`` of :func:`mode_power` output over a grid of ``shape``: the modes
    of the one-sided last dim count twice but for its zero and (even n) Nyquist columns; in 2D the power is
    summed over shells of integer |k|."""
    n = shape[-1]
    weight = torch.full((n // 2 + 1,), 2.0, device=power.device, dtype=power.dtype)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    if ndim == 1:
        return power * weight
    ny, nx = shape[-2:]
    ky = torch.fft.fftfreq(ny, 1 / ny, device=power.device)
    kx = torch.fft.rfftfreq(nx, 1 / nx, device=power.device)
    shell = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2).round().long().flatten()
    n_shells = min(nx, ny) // 2 + 1
    keep = shell < n_shells
    flat = (power * weight).flatten(-2)[..., keep]
    out = torch.zeros(*flat.shape[:-1], n_shells, dtype=flat.dtype, device=power.device)
    return out.index_add_(-1, shell[keep], flat)


def log_spectral_distance(predicted: torch.Tensor, true: torch.Tensor, floor: float = 1e-10) -> torch.Tensor:
    """``sqrt(mean_k (log10 E_pred(k) - log10 E_true(k))^2)`` over the last dim of two spectra ``(..., K)``
    (k = 0 first, left out), over the wavenumbers where the true spectrum exceeds ``floor`` times its
    maximum, so that round-off in the far tail (float32 data) does not dominate. Returns ``(...)``."""
    tiny = torch.finfo(predicted.dtype).tiny
    ep, et = predicted[..., 1:].clamp_min(tiny), true[..., 1:].clamp_min(tiny)
    keep = et > floor * et.amax(-1, keepdim=True)
    sq = torch.where(keep, (ep.log10() - et.log10()) ** 2, 0.0)
    return (sq.sum(-1) / keep.sum(-1).clamp_min(1)).sqrt()
