"""Climate statistics accumulated over a run chunk by chunk, in memory independent of its length.

:class:`ClimateStatistics` takes consecutive chunks ``(B, T, C, *space)`` of the same B runs, with a mask of
the frames to count (a run that blew up stops counting), and keeps per field (channel): moments by
Welford/Chan merging, a fixed-bin histogram, the sum of energy spectra and lagged products for the
autocorrelation, with the last ``max_lag`` frames as the only frames it holds. Its results equal the batch
functions of :mod:`sciml.metrics` on the whole run (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.metrics.climate import histogram_wasserstein1
from sciml.metrics.spectra import energy_spectrum, log_spectral_distance


@dataclass
class FieldClimate:
    """The statistics of one field: moments, density on ``edges``, time-mean spectrum ``(K,)``, autocorrelation
    ``(max_lag + 1,)`` and the fraction of values outside the bins."""

    count: int
    mean: float
    variance: float
    edges: torch.Tensor
    density: torch.Tensor
    outside: float
    spectrum: torch.Tensor
    autocorrelation: torch.Tensor


class ClimateStatistics:
    """Online climate of B runs of C fields over ``ndim`` (1 or 2) periodic space dims.

    ``edges`` ``(C, n_bins + 1)``: each field's histogram bins (values beyond them count in the outermost
    bins and in ``outside``); ``max_lag``: the autocorrelation's largest lag in frames.
    """

    def __init__(self, edges: torch.Tensor, ndim: int, max_lag: int):
        if edges.dim() != 2 or edges.shape[1] < 2:
            raise ValueError(f"edges must be (fields, bins + 1), got {tuple(edges.shape)}")
        if max_lag < 0:
            raise ValueError(f"max_lag must be >= 0, got {max_lag}")
        self.edges = edges.double().cpu()
        self.ndim, self.max_lag = ndim, max_lag
        c, bins = edges.shape[0], edges.shape[1] - 1
        self.count = torch.zeros(c, dtype=torch.float64)
        self.mean = torch.zeros(c, dtype=torch.float64)
        self.m2 = torch.zeros(c, dtype=torch.float64)
        self.counts = torch.zeros(c, bins, dtype=torch.float64)
        self.outside = torch.zeros(c, dtype=torch.float64)
        self.spectrum_sum: torch.Tensor | None = None
        self.frames = 0
        lags = max_lag + 1
        self.pair_xy = torch.zeros(c, lags, dtype=torch.float64)
        self.pair_x = torch.zeros(c, lags, dtype=torch.float64)
        self.pair_y = torch.zeros(c, lags, dtype=torch.float64)
        self.pair_n = torch.zeros(lags, dtype=torch.float64)  # pairs per field (all fields share the mask)
        self._tail: torch.Tensor | None = None  # the last max_lag frames (B, L, C, *space) and their mask
        self._tail_valid: torch.Tensor | None = None

    def update(self, chunk: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """Add the next frames ``chunk`` ``(B, T, C, *space)`` of the runs; ``valid`` ``(B, T)`` marks those
        to count (all when None). Frames must follow the previous chunk's in time."""
        x = chunk.detach().double().cpu()
        b, t, c = x.shape[:3]
        if c != self.edges.shape[0] or x.dim() != 3 + self.ndim:
            raise ValueError(f"expected chunks (B, T, {self.edges.shape[0]}, {self.ndim} space dims), "
                             f"got {tuple(x.shape)}")
        valid = torch.ones(b, t, dtype=torch.bool) if valid is None else valid.cpu().bool()
        self._moments(x[valid])
        self._histogram(x[valid])
        self._spectrum(x[valid])
        self._lagged(x, valid)

    def _moments(self, frames: torch.Tensor) -> None:
        if frames.shape[0] == 0:
            return
        values = frames.transpose(0, 1).flatten(1)  # (C, n)
        n_b = values.shape[1]
        mean_b = values.mean(1)
        m2_b = (values - mean_b[:, None]).pow(2).sum(1)
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta.pow(2) * self.count * n_b / n
        self.count = n

    def _histogram(self, frames: torch.Tensor) -> None:
        if frames.shape[0] == 0:
            return
        values = frames.transpose(0, 1).flatten(1)
        bins = self.counts.shape[1]
        for field, (v, e) in enumerate(zip(values, self.edges, strict=True)):
            self.outside[field] += ((v < e[0]) | (v > e[-1])).sum()
            index = (torch.bucketize(v, e, right=True) - 1).clamp(0, bins - 1)
            self.counts[field] += torch.bincount(index, minlength=bins).double()

    def _spectrum(self, frames: torch.Tensor) -> None:
        if frames.shape[0] == 0:
            return
        per_field = energy_spectrum(frames.unsqueeze(-self.ndim - 1), self.ndim)  # (n, C, K)
        total = per_field.sum(0)
        self.spectrum_sum = total if self.spectrum_sum is None else self.spectrum_sum + total
        self.frames += frames.shape[0]

    def _lagged(self, x: torch.Tensor, valid: torch.Tensor) -> None:
        t_new = x.shape[1]
        if self._tail is not None:
            x = torch.cat([self._tail, x], 1)
            valid = torch.cat([self._tail_valid, valid], 1)
        t_old = x.shape[1] - t_new
        for lag in range(self.max_lag + 1):
            # pairs (s, s + lag) whose later frame is new, so that each pair counts once over all chunks
            first = max(t_old, lag)
            if first >= x.shape[1]:
                continue
            a, later = x[:, first - lag: x.shape[1] - lag], x[:, first:]
            both = valid[:, first - lag: x.shape[1] - lag] & valid[:, first:]
            w = both.double().view(*both.shape, *([1] * (x.dim() - 2)))
            dims = [0, 1, *range(3, x.dim())]
            self.pair_xy[:, lag] += (a * later * w).sum(dims)
            self.pair_x[:, lag] += (a * w).sum(dims)
            self.pair_y[:, lag] += (later * w).sum(dims)
            self.pair_n[lag] += both.sum() * x[0, 0, 0].numel()
        keep = max(0, x.shape[1] - self.max_lag)  # the index of the first frame kept
        self._tail = x[:, keep:] if self.max_lag else None
        self._tail_valid = valid[:, keep:] if self.max_lag else None

    def fields(self) -> list[FieldClimate]:
        """The statistics of each field so far."""
        if self.count.min() == 0:
            raise ValueError("no frame was counted: every run blew up before its first frame, or none was given")
        variance = self.m2 / self.count
        width = self.edges[:, 1:] - self.edges[:, :-1]
        density = self.counts / (self.count[:, None] * width)
        n = self.pair_n.clamp_min(1)
        mean = self.mean[:, None]
        covariance = (self.pair_xy - mean * (self.pair_x + self.pair_y)) / n + mean**2
        acf = torch.where(self.pair_n > 0, covariance / variance[:, None], torch.nan)
        spectrum = self.spectrum_sum / self.frames
        return [FieldClimate(int(self.count[c]), float(self.mean[c]), float(variance[c]), self.edges[c], density[c],
                             float(self.outside[c] / self.count[c]), spectrum[c], acf[c])
                for c in range(len(self.count))]


def compare(model: FieldClimate, truth: FieldClimate) -> dict[str, float]:
    """The errors of a model's climate against the truth's (one field): ``mean_error`` (model - truth),
    ``variance_ratio`` (model / truth), ``wasserstein1`` of the marginals (from the histograms, exact to a bin
    width), ``spectrum_error`` (log-spectral distance of the time-mean spectra) and ``autocorrelation_error``
    (RMS difference over lags 1..max_lag)."""
    acf_gap = (model.autocorrelation[1:] - truth.autocorrelation[1:])
    return {"mean_error": model.mean - truth.mean,
            "variance_ratio": model.variance / truth.variance if truth.variance > 0 else float("nan"),
            "wasserstein1": histogram_wasserstein1(model.density, truth.density, truth.edges),
            "spectrum_error": float(log_spectral_distance(model.spectrum, truth.spectrum)),
            "autocorrelation_error": float(acf_gap.pow(2).mean().sqrt()) if len(acf_gap) else 0.0}
