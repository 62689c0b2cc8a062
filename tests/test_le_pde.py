"""LE-PDE and its Mamba variant: the selective scan against the recurrence written out (parallel and recurrent,
float64), the loss terms by hand, decoding only the requested steps, parameter counts, a smoke training."""

import pytest
import torch

from sciml import solvers
from sciml.config import load_config
from sciml.errors import ConfigError
from sciml.solvers import UnrollPlan, grid_context
from sciml.solvers.le_pde import LEPDEConfig, LEPDEMambaConfig
from sciml.solvers.selective_scan import (
    MambaBlock,
    selective_scan_parallel,
    selective_scan_reference,
    selective_scan_step,
)
from sciml.tasks import fit
from sciml.training import read_metrics


def scan_inputs(batch=2, t=7, d=5, n=3):
    g = torch.Generator().manual_seed(0)
    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return (rand(batch, t, d), torch.rand(batch, t, d, generator=g, dtype=torch.float64),
            -3 * torch.rand(d, n, generator=g, dtype=torch.float64), rand(batch, t, n), rand(batch, t, n), rand(d))


def test_the_parallel_selective_scan_is_the_recurrence():
    u, delta, A, B, C, D = scan_inputs()
    torch.testing.assert_close(selective_scan_parallel(u, delta, A, B, C, D),
                               selective_scan_reference(u, delta, A, B, C, D), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 3, 7, None])
def test_the_chunked_scan_is_the_recurrence_and_has_its_gradients(chunk):
    inputs = scan_inputs(t=11)  # 11: a last, shorter chunk
    torch.testing.assert_close(selective_scan_parallel(*inputs, chunk=chunk), selective_scan_reference(*inputs),
                               rtol=1e-12, atol=1e-12)
    small = [x.requires_grad_() for x in scan_inputs(batch=1, t=5, d=2, n=2)]
    assert torch.autograd.gradcheck(lambda *x: selective_scan_parallel(*x, chunk=chunk), small)


def test_a_chunk_must_hold_a_step():
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        selective_scan_parallel(*scan_inputs(), chunk=0)


def test_the_recurrent_selective_scan_is_the_recurrence():
    u, delta, A, B, C, D = scan_inputs()
    state, out = u.new_zeros(2, 5, 3), []
    for t in range(u.shape[1]):
        y, state = selective_scan_step(state, u[:, t], delta[:, t], A, B[:, t], C[:, t], D)
        out.append(y)
    torch.testing.assert_close(torch.stack(out, 1), selective_scan_reference(u, delta, A, B, C, D),
                               rtol=1e-12, atol=1e-12)


def test_a_long_sequence_with_strong_decay_stays_finite_in_the_parallel_form():
    u, delta, A, B, C, D = scan_inputs(t=64)
    out = selective_scan_parallel(u, 5 * delta, 20 * A, B, C, D)  # exp(S_t) alone would underflow to 0
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, selective_scan_reference(u, 5 * delta, 20 * A, B, C, D))


def test_the_mamba_block_steps_as_it_runs_in_parallel():
    torch.manual_seed(0)
    block = MambaBlock(8, d_state=4).double()
    seq = torch.randn(2, 6, 8, dtype=torch.float64)
    state, out = block.initial_state(2, seq), []
    for t in range(6):
        y, state = block.step(seq[:, t], state)
        out.append(y)
    torch.testing.assert_close(torch.stack(out, 1), block(seq), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="mamba-ssm"):
        MambaBlock(8, scan="fused")(seq.float())


def e2_context():
    return grid_context((50,), n_params=3, history=25, length=16.0)


def test_shapes_and_parameter_counts_of_the_released_1d_setting():
    le = solvers.build(LEPDEConfig(), e2_context())
    mamba = solvers.build(LEPDEMambaConfig(), e2_context())
    count = [sum(p.numel() for p in m.parameters()) for m in (le, mamba)]
    # the released LE-PDE prints n_params_model: 1630976 for this command (E2, nx = 50, 3 parameters)
    assert count[0] == 1_630_976 and abs(count[1] / count[0] - 1) < 0.05, count
    assert le.encoder.shapes == [(50,), (25,), (12,), (6,), (3,)] and le.encoder.kernels == [4, 4, 4, 3]
    mirror = solvers.build(LEPDEConfig(layout="mirror"), e2_context())
    assert sum(p.numel() for p in mirror.parameters()) == 1_879_641  # the layout the docs' older rows used
    assert [type(m).__name__ for m in (le.decoder.ups[-1]["conv"], le.decoder.head)] == ["ConvTranspose1d"] * 2
    assert le.decoder.ups[-1]["conv"].out_channels == 64 and le.decoder.head.bias is None
    window, params = torch.randn(3, 25, 1, 50), torch.rand(3, 3)
    assert le.rollout(window, 60, params).shape == (3, 60, 1, 50)
    assert mamba.rollout(window, 60, params).shape == (3, 60, 1, 50)


@pytest.mark.parametrize("cfg", [LEPDEConfig, LEPDEMambaConfig])
def test_decoding_only_the_requested_steps_gives_the_same_frames(cfg):
    torch.manual_seed(0)
    model = solvers.build(cfg(time_window=2, latent=16, channels=4, blocks=2), grid_context((32,), history=2))
    window = torch.randn(2, 2, 1, 32)
    full = model.rollout(window, 10)
    some = model.rollout_at(window, [2, 5])
    torch.testing.assert_close(some, torch.cat([full[:, 2:4], full[:, 8:10]], dim=1))
    calls = []
    decode = model.decode
    model.decode = lambda z: calls.append(1) or decode(z)
    model.rollout_at(window, [5])
    assert len(calls) == 1  # four latents evolved, one decoded


def test_the_loss_terms_by_hand():
    torch.manual_seed(0)
    cfg = LEPDEConfig(time_window=1, latent=2, channels=4, blocks=1, latent_noise=0.0, multi_step=[1.0, 0.5])
    model = solvers.build(cfg, grid_context((8,)))
    model.configure_training(UnrollPlan(horizon=2))
    with torch.no_grad():  # the evolution adds nothing: every latent step keeps z_0
        model.evolution[-1].weight.zero_()
        model.evolution[-1].bias.zero_()
    # a hand-made encoder: the latent of a frame of constant value c is (c, 1)
    model.encode = lambda frames: torch.stack([frames.mean((1, 2, 3)), torch.ones(len(frames))], dim=-1)
    window = torch.full((1, 1, 1, 8), 3.0)
    targets = torch.cat([torch.full((1, 1, 1, 8), 1.0), torch.full((1, 1, 1, 8), -1.0)], dim=1)
    terms = model.training_loss({"input": window, "target": targets}, 1)
    # ||(3, 1) - (1, 1)||^2 / ||(1, 1)||^2 + ||(3, 1) - (-1, 1)||^2 / ||(-1, 1)||^2 = 4/2 + 16/2
    assert terms["consistency"].item() == pytest.approx(10.0)
    z0 = torch.tensor([[3.0, 1.0]])
    decoded = model.decode_normalised(z0)
    rmse = [((decoded - t) ** 2).mean().sqrt() for t in (1.0, -1.0)]
    assert terms["multi_step"].item() == pytest.approx((rmse[0] + 0.5 * rmse[1]).item(), rel=1e-6)
    assert terms["autoencode"].item() == pytest.approx(((decoded - 3.0) ** 2).mean().sqrt().item(), rel=1e-6)


def test_the_progressive_strategy_grows_the_horizon_in_stages():
    model = solvers.build(LEPDEMambaConfig(time_window=1, latent=8, channels=4, blocks=1, horizon_stages=[1, 2, 4]),
                          grid_context((8,)))
    model.configure_training(UnrollPlan(horizon=4, total_steps=90))
    assert [model.horizon_at(s) for s in (1, 30, 31, 60, 61, 90)] == [1, 1, 2, 2, 4, 4]
    with pytest.raises(ConfigError, match="horizon_stages"):
        load_config(["solver.name=le_pde", "solver.horizon_stages=[1,2]"])


@pytest.mark.parametrize("name", ["le_pde", "le_pde_mamba"])
def test_a_smoke_training_reduces_the_loss(tmp_path, tiny, name):
    args = [a for a in tiny if not a.startswith(("solver.modes", "solver.width", "solver.n_layers"))]
    args += [f"solver.name={name}", "solver.time_window=2", "solver.latent=32", "solver.channels=8",
             "solver.blocks=3", "solver.multi_step=[1.0,1.0]", "task.history=2", "task.horizon=2",
             "trainer.max_steps=80", "trainer.lr=2e-3", "trainer.log_every=10", "run.evaluate=false"]
    run = fit(load_config(args))
    rows = [r for r in read_metrics(run) if r.get("loss_multi_step")]
    first, last = float(rows[0]["loss_multi_step"]), float(rows[-1]["loss_multi_step"])
    assert last < 0.7 * first, (first, last)
