"""The online climate accumulators equal the batch computation on a stored trajectory."""

import numpy as np
import pytest
import torch

from sciml import metrics
from sciml.metrics.online import ClimateStatistics, compare


def trajectory(b=3, t=240, c=2, n=16, seed=0) -> torch.Tensor:
    """An AR(1) process in time with a spatial pattern, offset per field: ``(B, T, C, n)``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(b, t, c, n, dtype=torch.float64)
    state = torch.randn(b, c, n, generator=g, dtype=torch.float64)
    for i in range(t):
        state = 0.9 * state + 0.4 * torch.randn(b, c, n, generator=g, dtype=torch.float64)
        x[:, i] = state + torch.tensor([1.0, -2.0], dtype=torch.float64)[:c, None]
    return x


def feed(x: torch.Tensor, sizes, valid=None, max_lag=12) -> ClimateStatistics:
    edges = torch.stack([torch.linspace(float(x[:, :, c].min()) - 1, float(x[:, :, c].max()) + 1, 41)
                         for c in range(x.shape[2])])
    stats = ClimateStatistics(edges, ndim=1, max_lag=max_lag)
    start = 0
    for size in sizes:
        stop = min(start + size, x.shape[1])
        stats.update(x[:, start:stop], None if valid is None else valid[:, start:stop])
        start = stop
    assert start == x.shape[1]
    return stats


def test_online_statistics_equal_the_batch_functions_whatever_the_chunks():
    x = trajectory()
    for sizes in ([240], [37] * 7, [1] * 240, [5, 100, 3, 132]):
        fields = feed(x, sizes).fields()
        for c, field in enumerate(fields):
            values = x[:, :, c]
            assert field.count == values.numel()
            assert field.mean == pytest.approx(float(values.mean()), rel=1e-12)
            assert field.variance == pytest.approx(float(values.var(unbiased=False)), rel=1e-10)
            torch.testing.assert_close(field.density, metrics.histogram_density(values, field.edges))
            torch.testing.assert_close(field.autocorrelation, metrics.autocorrelation(values, 12))
            torch.testing.assert_close(field.spectrum, metrics.energy_spectrum(x[:, :, c:c + 1], 1).mean((0, 1)))


def test_masked_frames_count_nowhere_and_pairs_need_both_ends():
    x = trajectory(b=2, t=120, c=1)
    valid = torch.ones(2, 120, dtype=torch.bool)
    valid[1, 70:] = False  # the second run blew up at step 70
    x_bad = x.clone()
    x_bad[1, 70:] = 1e30  # what it holds from then on must not matter
    field = feed(x_bad, [25] * 5, valid, max_lag=5).fields()[0]
    kept = torch.cat([x[0, :, 0].flatten(), x[1, :70, 0].flatten()])
    assert field.count == kept.numel() and field.outside == 0
    assert field.mean == pytest.approx(float(kept.mean()), rel=1e-12)
    mu, var = kept.mean(), kept.var(unbiased=False)
    for lag in range(6):
        pairs = [(x[0, :120 - lag, 0], x[0, lag:, 0]), (x[1, :70 - lag, 0], x[1, lag:70, 0])]
        num = sum(((a - mu) * (b - mu)).sum() for a, b in pairs)
        den = sum(a.numel() for a, _ in pairs)
        assert float(field.autocorrelation[lag]) == pytest.approx(float(num / den / var), rel=1e-10)


@pytest.mark.parametrize("edges", [[0.0, 1.0, 2.0], [0.0, 0.5, 2.0]])  # uniform bins, and a search
def test_values_beyond_the_bins_count_as_outside_and_in_the_outer_bins_for_w1(edges):
    stats = ClimateStatistics(torch.tensor([edges]), ndim=1, max_lag=0)
    values = torch.tensor([-5.0, 0.25, 1.5, 2.0, 9.0, 9.0])
    stats.update(values.view(1, 6, 1, 1))
    field = stats.fields()[0]
    assert (field.below, field.above) == (pytest.approx(1 / 6), pytest.approx(2 / 6))
    e = torch.tensor(edges, dtype=torch.float64)
    torch.testing.assert_close(field.density, metrics.histogram_density(values, e))
    width = e.diff()
    torch.testing.assert_close(field.density, torch.tensor([1.0, 2.0], dtype=torch.float64) / (6 * width))
    torch.testing.assert_close(field.clamped_mass(), torch.tensor([2 / 6, 4 / 6], dtype=torch.float64))


def test_compare_scores_a_shifted_climate_by_its_shift():
    x = trajectory(c=1)
    truth = feed(x, [60] * 4).fields()[0]
    shifted = ClimateStatistics(truth.edges[None], ndim=1, max_lag=12)
    shifted.update(x + 0.25)
    errors = compare(shifted.fields()[0], truth)
    assert errors["mean_error"] == pytest.approx(0.25, rel=1e-9)
    assert errors["variance_ratio"] == pytest.approx(1.0, rel=1e-9)
    assert errors["wasserstein1"] == pytest.approx(0.25, abs=0.05)  # exact to a bin width (0.3 here)
    assert errors["autocorrelation_error"] == pytest.approx(0.0, abs=1e-9)
    same = compare(truth, truth)
    assert same["wasserstein1"] == 0 and same["spectrum_error"] == 0


def test_no_counted_frame_is_an_error_naming_it():
    stats = ClimateStatistics(torch.tensor([[0.0, 1.0]]), ndim=1, max_lag=2)
    stats.update(torch.zeros(1, 3, 1, 4), torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="no frame was counted"):
        stats.fields()
    with pytest.raises(ValueError, match="expected chunks"):
        stats.update(torch.zeros(1, 3, 2, 4))


def test_2d_fields_accumulate_the_shell_spectrum():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 9, 1, 8, 8, generator=g, dtype=torch.float64)
    stats = ClimateStatistics(torch.tensor([[-6.0, 0.0, 6.0]], dtype=torch.float64), ndim=2, max_lag=3)
    stats.update(x[:, :4])
    stats.update(x[:, 4:])
    field = stats.fields()[0]
    torch.testing.assert_close(field.spectrum, metrics.energy_spectrum(x, 2).mean((0, 1)))
    torch.testing.assert_close(field.autocorrelation, metrics.autocorrelation(x[:, :, 0], 3))
    assert np.isfinite(field.variance)


def test_float32_work_keeps_the_statistics_to_float32_accuracy():
    x = trajectory()
    exact = feed(x, [50] * 5)
    fast = ClimateStatistics(exact.edges, ndim=1, max_lag=12, dtype=torch.float32)
    for start in range(0, 240, 50):
        fast.update(x[:, start:start + 50])
    for a, b in zip(exact.fields(), fast.fields(), strict=True):
        assert b.mean == pytest.approx(a.mean, rel=1e-6) and b.variance == pytest.approx(a.variance, rel=1e-5)
        torch.testing.assert_close(b.autocorrelation, a.autocorrelation, atol=1e-5, rtol=0)
        torch.testing.assert_close(b.spectrum, a.spectrum, rtol=1e-5, atol=1e-9)
        torch.testing.assert_close(b.density, a.density, atol=1e-3, rtol=0)  # a value on an edge may move
