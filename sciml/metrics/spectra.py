"""Energy spectra of periodic fields and the log-spectral distance between two spectra."""

from __future__ import annotations

import torch


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


def log_spectral_distance(predicted: torch.Tensor, true: torch.Tensor, floor: float = 1e-10) -> torch.Tensor:
    """``sqrt(mean_k (log10 E_pred(k) - log10 E_true(k))^2)`` over the last dim of two spectra ``(..., K)``
    (k = 0 first, left out), over the wavenumbers where the true spectrum exceeds ``floor`` times its
    maximum, so that round-off in the far tail (float32 data) does not dominate. Returns ``(...)``."""
    tiny = torch.finfo(predicted.dtype).tiny
    ep, et = predicted[..., 1:].clamp_min(tiny), true[..., 1:].clamp_min(tiny)
    keep = et > floor * et.amax(-1, keepdim=True)
    sq = torch.where(keep, (ep.log10() - et.log10()) ** 2, 0.0)
    return (sq.sum(-1) / keep.sum(-1).clamp_min(1)).sqrt()
