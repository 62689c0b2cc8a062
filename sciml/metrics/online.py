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
from sciml.metrics.spectra import bin_power, log_spectral_distance, mode_power


@dataclass
class FieldClimate:
    """The statistics of one field: moments, density on ``edges``, time-mean spectrum ``(K,)``, autocorrelation
    ``(max_lag + 1,)`` and the fraction of values outside the bins."""

    count: int
    mean: float
    variance: float
    edges: torch.Tensor
    density: torch.Tensor  # values beyond the edges count in the normalisation only (as histogram_density)
    below: float  # the fractions of values under the first edge and over the last
    above: float
    spectrum: torch.Tensor
    autocorrelation: torch.Tensor

    @property
    def outside(self) -> float:
        return self.below + self.above

    def clamped_mass(self) -> torch.Tensor:
        """``(n,)`` probability per bin with the mass beyond the edges in the outermost bins (sums to 1)."""
        mass = self.density * (self.edges[1:] - self.edges[:-1])
        mass[0] += self.below
        mass[-1] += self.above
        return mass


class ClimateStatistics:
    """Online climate of B runs of C fields over ``ndim`` (1 or 2) periodic space dims.

    ``edges`` ``(C, n_bins + 1)``: each field's histogram bins (values beyond them count in ``below`` and
    ``above``); ``max_lag``: the autocorrelation's largest lag in frames. ``dtype``: the precision of the
    per-chunk work (float32 halves its cost; every sum is accumulated in float64).
    """

    def __init__(self, edges: torch.Tensor, ndim: int, max_lag: int, dtype: torch.dtype = torch.float64):
        if edges.dim() != 2 or edges.shape[1] < 2:
            raise ValueError(f"edges must be (fields, bins + 1), got {tuple(edges.shape)}")
        if max_lag < 0:
            raise ValueError(f"max_lag must be >= 0, got {max_lag}")
        self.edges = edges.double().cpu()
        self.dtype = dtype
        widths = self.edges.diff(dim=1)
        self._uniform = [bool(torch.allclose(row, row.mean().expand_as(row), rtol=1e-9, atol=0)) for row in widths]
        self.ndim, self.max_lag = ndim, max_lag
        c, bins = edges.shape[0], edges.shape[1] - 1
        self.count = torch.zeros(c, dtype=torch.float64)
        self.mean = torch.zeros(c, dtype=torch.float64)
        self.m2 = torch.zeros(c, dtype=torch.float64)
        self.counts = torch.zeros(c, bins, dtype=torch.float64)
        self.below = torch.zeros(c, dtype=torch.float64)  # values under the first edge
        self.above = torch.zeros(c, dtype=torch.float64)  # and over the last
        self.power_sum: torch.Tensor | None = None  # (C, Fourier modes) summed over frames
        self.frames = 0
        self._shape: tuple[int, ...] = ()
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
        x = chunk.detach().cpu().to(self.dtype)
        b, t, c = x.shape[:3]
        if c != self.edges.shape[0] or x.dim() != 3 + self.ndim:
            raise ValueError(f"expected chunks (B, T, {self.edges.shape[0]}, {self.ndim} space dims), "
                             f"got {tuple(x.shape)}")
        valid = torch.ones(b, t, dtype=torch.bool) if valid is None else valid.cpu().bool()
        frames = x.flatten(0, 1) if bool(valid.all()) else x[valid]  # (n, C, *space)
        self._shape = tuple(x.shape[3:])
        if frames.shape[0]:
            self._moments(frames)
            self._histogram(frames)
            self._spectrum(frames)
        self._lagged(x, valid)

    def _moments(self, frames: torch.Tensor) -> None:
        dims = (0, *range(2, frames.dim()))
        n_b = frames[:, 0].numel()
        var_b, mean_b = (v.double() for v in torch.var_mean(frames, dim=dims, correction=0))
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + var_b * n_b + delta.pow(2) * self.count * n_b / n
        self.count = n

    def _histogram(self, frames: torch.Tensor) -> None:
        bins = self.counts.shape[1]
        for field, e in enumerate(self.edges):
            v = frames[:, field]
            lo, hi = float(e[0]), float(e[-1])
            low, high = (float(m) for m in torch.aminmax(v))
            if self._uniform[field]:
                inside = torch.histc(v, bins, lo, hi).double()
            else:
                index = torch.bucketize(v.flatten().double(), e, right=True) - 1
                index[v.flatten() == hi] = bins - 1  # the last edge closes the last bin
                inside = torch.bincount(index[(index >= 0) & (index < bins)], minlength=bins).double()
            below = float((v < lo).sum()) if low < lo else 0.0  # one more pass only when a value is out
            self.counts[field] += inside
            self.below[field] += below
            self.above[field] += v.numel() - float(inside.sum()) - below if high > hi else 0.0

    def _spectrum(self, frames: torch.Tensor) -> None:
        power = mode_power(frames, self.ndim).sum(0, dtype=torch.float64)  # (C, modes): binned at the end
        self.power_sum = power if self.power_sum is None else self.power_sum + power
        self.frames += frames.shape[0]

    def _lagged(self, x: torch.Tensor, valid: torch.Tensor) -> None:
        """Products of frames ``lag`` apart whose later frame is new (so that each pair counts once over all
        chunks), from inner products of blocks of frames (one batched matrix product per block)."""
        t_new = x.shape[1]
        w = valid.to(x.dtype)
        z = x * w.view(*w.shape, *([1] * (x.dim() - 2)))  # invalid frames contribute nothing
        if self._tail is not None:
            z, w = torch.cat([self._tail, z], 1), torch.cat([self._tail_valid, w], 1)
        t_old, lags = z.shape[1] - t_new, self.max_lag + 1
        frame_sums = z.flatten(3).sum(-1, dtype=torch.float64)  # (B, T, C)
        w = w.double()
        points = x[0, 0, 0].numel()
        block = 24  # new frames per matrix product: the work is T (block + max_lag) P, its overhead T / block
        for field in range(z.shape[2]):
            flat = z[:, :, field].flatten(2)  # (B, T, P)
            for start in range(t_old, z.shape[1], block):
                stop = min(start + block, z.shape[1])
                first = max(0, start - self.max_lag)
                gram = torch.bmm(flat[:, start:stop], flat[:, first:stop].transpose(1, 2))  # (B, S, S + lag)
                for lag in range(min(lags, stop)):
                    # row i is frame start + i, column j frame first + j: lag = start + i - first - j (a negative
                    # offset leaves out the first rows, whose partner would precede the first frame)
                    self.pair_xy[field, lag] += torch.diagonal(gram, offset=start - first - lag, dim1=1,
                                                               dim2=2).sum(dtype=torch.float64)
        for lag in range(lags):
            if max(t_old, lag) >= z.shape[1]:
                continue
            u = torch.arange(max(t_old, lag), z.shape[1])
            self.pair_x[:, lag] += (frame_sums[:, u - lag] * w[:, u, None]).sum((0, 1))
            self.pair_y[:, lag] += (frame_sums[:, u] * w[:, u - lag, None]).sum((0, 1))
            self.pair_n[lag] += (w[:, u] * w[:, u - lag]).sum() * points
        keep = max(0, z.shape[1] - self.max_lag)  # the index of the first frame kept
        self._tail = z[:, keep:] if self.max_lag else None
        self._tail_valid = w[:, keep:].to(z.dtype) if self.max_lag else None

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
        spectrum = bin_power(self.power_sum / self.frames, self.ndim, self._shape)
        return [FieldClimate(int(self.count[c]), float(self.mean[c]), float(variance[c]), self.edges[c], density[c],
                             float(self.below[c] / self.count[c]), float(self.above[c] / self.count[c]), spectrum[c],
                             acf[c])
                for c in range(len(self.count))]


def compare(model: FieldClimate, truth: FieldClimate) -> dict[str, float]:
    """The errors of a model's climate against the truth's (one field): ``mean_error`` (model - truth),
    ``variance_ratio`` (model / truth), ``wasserstein1`` of the marginals (from the histograms, exact to a bin
    width; the mass beyond the bins placed on the outermost bins, so a model that leaves them scores worse),
    ``spectrum_error`` (log-spectral distance of the time-mean spectra) and ``autocorrelation_error`` (RMS
    difference over lags 1..max_lag)."""
    acf_gap = model.autocorrelation[1:] - truth.autocorrelation[1:]
    width = truth.edges[1:] - truth.edges[:-1]
    return {"mean_error": model.mean - truth.mean,
            "variance_ratio": model.variance / truth.variance if truth.variance > 0 else float("nan"),
            "wasserstein1": histogram_wasserstein1(model.clamped_mass() / width, truth.clamped_mass() / width,
                                                   truth.edges),
            "spectrum_error": float(log_spectral_distance(model.spectrum, truth.spectrum)),
            "autocorrelation_error": float(acf_gap.pow(2).mean().sqrt()) if len(acf_gap) else 0.0}
