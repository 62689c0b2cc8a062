"""Metrics against values computed by hand."""

import math

import pytest
import torch

from sciml import metrics


def as_bt(values):
    """(X,) -> (B=1, T=1, C=1, X)."""
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def test_mse_and_nrmse():
    pred, true = as_bt([1.0, 2.0, 3.0]), as_bt([1.0, 1.0, 1.0])
    assert metrics.get("mse")(pred, true).item() == pytest.approx(5 / 3)
    assert metrics.get("nrmse")(pred, true).item() == pytest.approx(math.sqrt(5 / 3))


def test_nrmse_averages_channels():
    true = torch.tensor([[1.0, 1.0], [2.0, 2.0]], dtype=torch.float64).view(1, 1, 2, 2)
    pred = torch.tensor([[2.0, 2.0], [2.0, 2.0]], dtype=torch.float64).view(1, 1, 2, 2)
    # channel 0: rmse 1 / norm 1 = 1; channel 1: 0 / 2 = 0
    assert metrics.nrmse(pred, true).item() == pytest.approx(0.5)


@pytest.mark.parametrize(("pred", "true", "expected"), [
    ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], -1.0),
    ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0),
    ([1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], 0.0),
    ([1.0, 2.0, 4.0], [1.0, 2.0, 3.0], 3 / math.sqrt(14 / 3 * 2)),  # centred (-4/3, -1/3, 5/3) . (-1, 0, 1) = 3
])
def test_correlation(pred, true, expected):
    assert metrics.correlation(as_bt(pred), as_bt(true)).item() == pytest.approx(expected, abs=1e-12)


def test_energy_spectrum_of_a_cosine_and_parseval():
    n, amp = 32, 2.0
    x = torch.arange(n, dtype=torch.float64)
    u = amp * torch.cos(2 * math.pi * 3 * x / n)
    e = metrics.energy_spectrum(u.view(1, 1, 1, n), ndim=1)[0, 0]
    assert e[3].item() == pytest.approx(amp**2 / 2)
    assert torch.cat([e[:3], e[4:]]).abs().max().item() < 1e-20
    v = torch.randn(1, 1, 1, n, dtype=torch.float64)
    assert metrics.energy_spectrum(v, 1).sum().item() == pytest.approx((v**2).mean().item())


def test_energy_spectrum_2d_shells():
    n = 16
    y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    u = torch.cos(2 * math.pi * (3 * x + 4 * y) / n).double()  # |k| = 5
    e = metrics.energy_spectrum(u.view(1, 1, 1, n, n), ndim=2)[0, 0]
    assert e[5].item() == pytest.approx(0.5)
    assert e.sum().item() == pytest.approx((u**2).mean().item())


def test_spectrum_error_of_a_doubled_field():
    true = torch.randn(1, 1, 1, 64, dtype=torch.float64)
    err = metrics.spectrum_error(2 * true, true).item()
    assert err == pytest.approx(math.log10(4))


def test_high_correlation_steps():
    corr = torch.tensor([0.99, 0.9, 0.85, 0.7, 0.9])
    assert metrics.high_correlation_steps(corr, 0.8) == (3, True)
    assert metrics.high_correlation_steps(torch.tensor([0.9, 0.95]), 0.8) == (2, False)
    assert metrics.high_correlation_steps(torch.tensor([0.9, float("nan"), 0.9]), 0.8) == (1, True)
    assert metrics.high_correlation_steps(torch.tensor([0.5, 0.9]), 0.8) == (0, True)


def test_registry_names_unknown_metric():
    with pytest.raises(KeyError, match="known: correlation, mse, nrmse, spectrum_error"):
        metrics.get("mae")
