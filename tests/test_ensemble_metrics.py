"""Ensemble skill, distances and The Well's metrics against closed forms and direct computations."""

import itertools
import math

import pytest
import torch

from sciml import metrics


def brute_crps(ens: torch.Tensor, y: torch.Tensor, fair: bool) -> torch.Tensor:
    m = ens.shape[0]
    skill = (ens - y).abs().mean(0)
    pairs = sum((ens[i] - ens[j]).abs() for i, j in itertools.product(range(m), range(m)))
    return skill - pairs / (2 * m * (m - 1 if fair else m))


def test_crps_of_a_standard_normal_at_zero_is_the_closed_form():
    g = torch.Generator().manual_seed(0)
    ens = torch.randn(2000, 400, generator=g, dtype=torch.float64)
    value = metrics.crps(ens, torch.zeros(400, dtype=torch.float64)).mean()
    assert value == pytest.approx((math.sqrt(2) - 1) / math.sqrt(math.pi), abs=3e-3)  # 0.2337


@pytest.mark.parametrize("fair", [True, False])
def test_crps_equals_the_pair_sum_definition(fair):
    g = torch.Generator().manual_seed(1)
    ens, y = torch.randn(5, 3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(metrics.crps(ens, y, fair=fair), brute_crps(ens, y, fair))
    moved = ens.movedim(0, 2)
    torch.testing.assert_close(metrics.crps(moved, y, member_dim=2, fair=fair), brute_crps(ens, y, fair))


def test_crps_of_identical_members_is_the_absolute_error():
    y = torch.tensor([0.0, 1.0, -2.0])
    ens = torch.full((4, 3), 0.5)
    torch.testing.assert_close(metrics.crps(ens, y, fair=False), (0.5 - y).abs())


def test_ensemble_metrics_refuse_one_member_and_mismatched_shapes():
    with pytest.raises(ValueError, match="at least 2 members, got 1"):
        metrics.crps(torch.zeros(1, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="differs from the truth"):
        metrics.spread_skill(torch.zeros(4, 3), torch.zeros(5))


def test_spread_skill_is_one_for_a_perfect_ensemble_and_below_for_a_narrow_one():
    g = torch.Generator().manual_seed(2)
    centre = 3 * torch.randn(40000, generator=g, dtype=torch.float64)
    truth = centre + torch.randn(40000, generator=g, dtype=torch.float64)
    members = centre + torch.randn(8, 40000, generator=g, dtype=torch.float64)
    assert float(metrics.spread_skill(members, truth)) == pytest.approx(1.0, abs=0.02)
    narrow = centre + 0.3 * torch.randn(8, 40000, generator=g, dtype=torch.float64)
    assert float(metrics.spread_skill(narrow, truth)) < 0.4


def test_rank_histogram_is_flat_for_a_perfect_ensemble_and_u_shaped_for_a_narrow_one():
    g = torch.Generator().manual_seed(3)
    m, n = 9, 50000
    truth, members = torch.randn(n, generator=g), torch.randn(m, n, generator=g)
    counts = metrics.rank_histogram(members, truth)
    assert counts.shape == (m + 1,) and int(counts.sum()) == n
    assert (counts.double() / (n / (m + 1)) - 1).abs().max() < 0.08
    narrow = metrics.rank_histogram(0.3 * members, truth)
    assert narrow[0] > 3 * narrow[m // 2] and narrow[-1] > 3 * narrow[m // 2]


def test_rank_histogram_breaks_ties_at_random_with_its_seed():
    members, truth = torch.zeros(4, 20000), torch.zeros(20000)  # every member ties with the truth
    counts = metrics.rank_histogram(members, truth, seed=5)
    assert (counts.double() / 4000 - 1).abs().max() < 0.08
    assert torch.equal(counts, metrics.rank_histogram(members, truth, seed=5))
    assert not torch.equal(counts, metrics.rank_histogram(members, truth, seed=6))


def test_wasserstein1_of_a_shifted_sample_is_the_shift():
    a = torch.randn(1000, generator=torch.Generator().manual_seed(4))
    assert metrics.wasserstein1(a, a + 0.37) == pytest.approx(0.37, rel=1e-6)
    assert metrics.wasserstein1(a.view(10, 100), a - 2.0) == pytest.approx(2.0, rel=1e-6)


def test_wasserstein1_with_unequal_sizes_is_the_area_between_the_cdfs():
    # F_a - F_b for a = {0, 1}, b = {0, 0, 3}: 1/2 - 2/3 on [0, 1), 1 - 2/3 on [1, 3): area 1/6 + 2/3
    assert metrics.wasserstein1(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="NaN"):
        metrics.wasserstein1(torch.tensor([0.0, float("nan")]), torch.tensor([1.0]))


def test_histogram_wasserstein1_matches_the_sample_distance_to_a_bin_width():
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(20000, generator=g), 0.5 + 1.5 * torch.randn(20000, generator=g)
    edges = torch.linspace(-10, 10, 2001)
    hist = metrics.histogram_wasserstein1(metrics.histogram_density(a, edges), metrics.histogram_density(b, edges),
                                          edges)
    assert hist == pytest.approx(metrics.wasserstein1(a, b), abs=0.01)


def test_vrmse_against_a_hand_computation():
    true = torch.tensor([1.0, 2.0, 3.0, 6.0]).view(1, 1, 1, 4)
    pred = torch.tensor([1.0, 3.0, 3.0, 4.0]).view(1, 1, 1, 4)
    # mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5; mse (0 + 1 + 0 + 4) / 4 = 1.25
    assert float(metrics.vrmse(pred, true)) == pytest.approx(math.sqrt(1.25 / (3.5 + 1e-7)))
    assert float(metrics.vrmse(torch.full_like(true, 3.0), true)) == pytest.approx(1.0, abs=1e-6)
    assert "vrmse" in metrics.registry


def test_binned_spectral_error_puts_a_sine_in_its_band_and_sums_to_the_mse_in_1d():
    n = 64
    x = torch.arange(n) * 2 * math.pi / n
    edges = metrics.band_edges(n)  # 0, 3.17, 10.08, 32
    for k, band in ((2, 0), (6, 1), (20, 2), (32, 2)):
        error = 0.3 * torch.cos(k * x)
        out = metrics.binned_spectral_error(error.view(1, 1, 1, n), torch.zeros(1, 1, 1, n))
        assert out.shape == (1, 1, 3)
        assert int(out[0, 0].argmax()) == band and edges[band] <= k <= edges[band + 1]
        torch.testing.assert_close(out.sum(), (error**2).mean())
    g = torch.Generator().manual_seed(6)
    pred, true = torch.randn(2, 3, 2, n, generator=g), torch.randn(2, 3, 2, n, generator=g)
    torch.testing.assert_close(metrics.binned_spectral_error(pred, true).sum(-1), metrics.mse(pred, true))


def test_binned_spectral_error_in_2d_bins_by_the_wavenumber_modulus():
    n = 32
    y, x = torch.meshgrid(torch.arange(n) * 2 * math.pi / n, torch.arange(n) * 2 * math.pi / n, indexing="ij")
    error = torch.sin(3 * x + 4 * y)  # |k| = 5: the middle band of 0, 2.52, 6.35, 16
    out = metrics.binned_spectral_error(error.view(1, 1, 1, n, n), torch.zeros(1, 1, 1, n, n))
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 0.5, 0.0]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="square grid"):
        metrics.binned_spectral_error(torch.zeros(1, 1, 1, 8, 16), torch.zeros(1, 1, 1, 8, 16))
