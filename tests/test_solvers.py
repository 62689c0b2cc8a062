"""Every registered solver: shapes, normalisation, conditioning, safe checkpoints; FNO blocks all count."""

import io

import pytest
import torch

from sciml import solvers
from sciml.solvers import SolverIO


def small_config(name):
    cfg = solvers.get(name).config()
    if name == "fno":
        cfg.modes, cfg.width, cfg.n_layers = 6, 8, 3
    if name == "unet":
        cfg.hidden, cfg.channel_mults, cfg.norm_groups = 8, [1, 2], 4
    return cfg


IOS = [SolverIO(1, 1, 1, 0, (32,)), SolverIO(1, 2, 3, 2, (32,)), SolverIO(2, 2, 2, 1, (16, 16))]


OPERATORS = [n for n in solvers.registry.names() if solvers.get(n).kind == "operator"]  # pinn/pig: tests/test_pinn*


@pytest.mark.parametrize("name", OPERATORS)
@pytest.mark.parametrize("io_", IOS, ids=["1d", "1d-history-cond", "2d"])
def test_shapes_and_weights_only_round_trip(name, io_):
    torch.manual_seed(0)
    model = solvers.build(small_config(name), io_)
    history = torch.randn(3, io_.history, io_.channels, *io_.spatial_shape)
    cond = torch.rand(3, io_.n_cond) if io_.n_cond else None
    out = model(history, cond)
    assert out.shape == (3, io_.channels, *io_.spatial_shape)
    rollout = model.rollout(history, 4, cond)
    assert rollout.shape == (3, 4, io_.channels, *io_.spatial_shape)
    torch.testing.assert_close(rollout[:, 0], out)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone = solvers.build(small_config(name), io_)
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(clone(history, cond), out)


@pytest.mark.parametrize("name", OPERATORS)
def test_conditioning_changes_the_output(name):
    io_ = SolverIO(1, 1, 1, 1, (32,))
    torch.manual_seed(0)
    model = solvers.build(small_config(name), io_)
    if name == "unet":  # FiLM layers start random but small; make sure the path is live
        for block in model.net.modules():
            if isinstance(block, torch.nn.Linear):
                torch.nn.init.normal_(block.weight, std=0.5)
    h = torch.randn(2, 1, 1, 32)
    assert not torch.allclose(model(h, torch.full((2, 1), 0.1)), model(h, torch.full((2, 1), 0.9)))


def test_residual_prediction_uses_statistics():
    io_ = SolverIO(1, 1, 1, 0, (32,))
    model = solvers.build(small_config("fno"), io_)
    model.set_stats([1.0], [2.0], [0.5], [3.0])
    h, target = torch.randn(4, 1, 1, 32), torch.randn(4, 1, 1, 32)
    raw = model.network_output(h)
    torch.testing.assert_close(model(h), h[:, -1] + raw * 3.0 + 0.5)
    expected_loss = ((raw - (target[:, 0] - h[:, -1] - 0.5) / 3.0) ** 2).mean()
    torch.testing.assert_close(model.loss(h, target), expected_loss)
    with pytest.raises(ValueError, match="std"):
        model.set_stats([0.0], [0.0], [0.0], [1.0])


def test_every_fno_block_changes_the_output():
    io_ = SolverIO(1, 1, 1, 0, (32,))
    torch.manual_seed(0)
    model = solvers.build(small_config("fno"), io_)
    h = torch.randn(2, 1, 1, 32)
    base = model(h)
    convs = model.net.fno.fno_blocks.convs
    assert len(convs) == 3
    for i in range(len(convs)):
        with torch.no_grad():
            saved = [p.clone() for p in convs[i].parameters()]
            for p in convs[i].parameters():
                p.mul_(2.0)
            changed = model(h)
            for p, s in zip(convs[i].parameters(), saved, strict=True):
                p.copy_(s)
        assert not torch.allclose(changed, base), f"block {i} does not reach the output"


def test_wrong_history_shape_is_named():
    model = solvers.build(small_config("unet"), SolverIO(1, 1, 2, 0, (32,)))
    with pytest.raises(ValueError, match=r"\(B, 2, 1, \*space\)"):
        model(torch.randn(2, 1, 1, 32))
