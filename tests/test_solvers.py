"""Every registered trajectory solver: shapes, normalisation, conditioning, safe checkpoints; FNO blocks all
count; the U-Net's circular padding makes it shift-equivariant."""

import io

import pytest
import torch

from sciml import solvers
from sciml.solvers import SolverContext, grid_context


def small_config(name, context=None, mover=""):
    cfg = solvers.get(name).config()
    if name == "fno":
        cfg.modes, cfg.width, cfg.n_layers = 6, 8, 3
    if name == "unet":
        cfg.hidden, cfg.channel_mults, cfg.norm_groups = 8, [1, 2], 4
    if name == "pde_refiner":
        cfg.hidden, cfg.channel_mults, cfg.blocks_per_level, cfg.norm_groups = 8, [1, 2], 1, 4
    if name == "cape":  # a small CAPE module in front of a small FNO
        cfg.base_options, cfg.multiplier, cfg.modes, cfg.attention_hidden = {"modes": 6, "width": 8}, 2, 4, 8
    if name in ("le_pde", "le_pde_mamba"):  # small latent models, bundles as long as the history
        cfg.time_window, cfg.latent, cfg.channels, cfg.blocks = context.history if context else 1, 16, 4, 3
        cfg.d_state, cfg.latent_noise = 4, 0.0
    if name in ("mp_pde", "mm_pde"):  # bundles as long as the history it is given
        cfg.time_window, cfg.hidden, cfg.layers = context.history if context else 1, 32, 2
    if name == "mm_pde":
        cfg.mover, cfg.k, cfg.interpolation_neighbours = mover, 6, 4
    return cfg


def mover_checkpoint(path, channels: int) -> str:
    """A small mesh mover saved as the mesh task saves one (MM-PDE loads it by path)."""
    from sciml.solvers.mesh_mover import MeshMover, MeshMoverConfig
    from sciml.training.checkpoint import FORMAT_VERSION

    cfg = MeshMoverConfig(hidden=8, latent=4, encoder_channels=4)
    torch.save({"format_version": FORMAT_VERSION, "model": MeshMover(cfg, channels, 2).state_dict(),
                "config": {"solver": vars(cfg)}, "channels": channels, "dim": 2}, path)
    return str(path)


CONTEXTS = [grid_context((32,)), grid_context((32,), channels=2, history=3, n_params=2),
            grid_context((16, 16), channels=2, history=2, n_params=1)]
TRAJECTORY = [n for n in solvers.registry.names() if "trajectory" in solvers.get(n).tasks]


def params_for(context: SolverContext, batch: int = 3):
    return torch.rand(batch, context.n_params) if context.n_params else None


@pytest.mark.parametrize("name", TRAJECTORY)
@pytest.mark.parametrize("context", CONTEXTS, ids=["1d", "1d-history-params", "2d"])
def test_shapes_and_weights_only_round_trip(name, context, tmp_path):
    torch.manual_seed(0)
    if name == "cape" and not context.n_params:  # CAPE exists to take the parameters
        with pytest.raises(ValueError, match="task.params"):
            solvers.build(small_config(name, context), context)
        return
    mover = mover_checkpoint(tmp_path / "mover.pt", context.channels) if name == "mm_pde" else ""
    if name == "mm_pde" and len(context.spatial_shape) != 2:
        with pytest.raises(ValueError, match="square 2D"):
            solvers.build(small_config(name, context, mover), context)
        return
    model = solvers.build(small_config(name, context, mover), context)
    window = torch.randn(3, context.history, context.channels, *context.spatial_shape)
    params = params_for(context)
    torch.manual_seed(1)  # a stochastic solver's advance draws from the global generator
    out = model.advance(window, params)
    assert out.shape == (3, model.frames_per_step, context.channels, *context.spatial_shape)
    rollout = model.rollout(window, 4, params)
    assert rollout.shape == (3, 4, context.channels, *context.spatial_shape)
    first = min(4, model.frames_per_step)
    # a stochastic solver's rollout takes its noise from seed 0: its first step is a one-step rollout's
    step = model.rollout(window, first, params) if model.stochastic else out
    torch.testing.assert_close(rollout[:, :first], step[:, :first])
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "context": context.to_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    clone = solvers.build(small_config(name, context, mover), SolverContext.from_dict(state["context"]))
    clone.load_state_dict(state["model"])
    torch.manual_seed(1)
    torch.testing.assert_close(clone.advance(window, params), out)


@pytest.mark.parametrize(("name", "conditioning"), [("fno", "channels"), ("unet", "channels"), ("unet", "film")])
def test_conditioning_changes_the_output(name, conditioning):
    context = grid_context((32,), n_params=1)
    torch.manual_seed(0)
    cfg = small_config(name)
    if name == "unet":
        cfg.conditioning = conditioning
    model = solvers.build(cfg, context)
    if conditioning == "film":  # FiLM layers start random but small; make sure the path is live
        for block in model.net.modules():
            if isinstance(block, torch.nn.Linear):
                torch.nn.init.normal_(block.weight, std=0.5)
    h = torch.randn(2, 1, 1, 32)
    assert not torch.allclose(model.advance(h, torch.full((2, 1), 0.1)), model.advance(h, torch.full((2, 1), 0.9)))
    with pytest.raises(ValueError, match=r"needs params of shape \(2, 1\)"):
        model.advance(h, None)


def test_parameters_are_scaled_by_their_training_range():
    context = SolverContext(fields=("u",), spatial_shape=(16,), param_names=("nu", "c"),
                            param_ranges=((0.01, 0.05), (2.0, 2.0)))
    model = solvers.build(small_config("fno"), context)
    scaled = model.param_scaling(torch.tensor([[0.01, 2.0], [0.05, 3.0], [0.03, 1.0]]))
    torch.testing.assert_close(scaled, torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, -0.5]]))


def test_residual_prediction_uses_statistics():
    context = grid_context((32,))
    model = solvers.build(small_config("fno"), context)
    model.set_stats([1.0], [2.0], [0.5], [3.0])
    h, target = torch.randn(4, 1, 1, 32), torch.randn(4, 1, 1, 32)
    raw = model.network_output(h)
    torch.testing.assert_close(model.forward_step(h), h[:, -1] + raw * 3.0 + 0.5)
    # a bundle of three frames: increments over l steps are scaled by l
    cfg = small_config("fno")
    cfg.bundle = 3
    bundled = solvers.build(cfg, context)
    bundled.set_stats([1.0], [2.0], [0.5], [3.0])
    raw3 = bundled.network_output(h).unflatten(1, (3, 1))
    lead = torch.arange(1.0, 4.0).view(1, 3, 1, 1)
    torch.testing.assert_close(bundled.advance(h), h[:, -1:] + (raw3 * 3.0 + 0.5) * lead)
    targets = torch.randn(4, 3, 1, 32)
    expected3 = ((raw3 - (targets - h[:, -1:] - 0.5 * lead) / (3.0 * lead)) ** 2).mean()
    torch.testing.assert_close(bundled.training_loss({"input": h, "target": targets}, step=1)["mse"], expected3)
    expected_loss = ((raw - (target[:, 0] - h[:, -1] - 0.5) / 3.0) ** 2).mean()
    batch = {"input": h, "target": target}
    torch.testing.assert_close(model.training_loss(batch, step=1)["mse"], expected_loss)
    torch.testing.assert_close(model.validation_loss(batch)["loss"], expected_loss)
    with pytest.raises(ValueError, match="std"):
        model.set_stats([0.0], [0.0], [0.0], [1.0])


def test_statistics_come_from_the_context():
    context = SolverContext(fields=("u",), spatial_shape=(16,), stats={
        "field_mean": [1.0], "field_std": [2.0], "delta_mean": [0.5], "delta_std": [3.0]})
    model = solvers.build(small_config("fno"), context)
    assert model.delta_std.item() == 3.0 and model.field_mean.item() == 1.0


def test_every_fno_block_changes_the_output():
    torch.manual_seed(0)
    model = solvers.build(small_config("fno"), grid_context((32,)))
    h = torch.randn(2, 1, 1, 32)
    base = model.forward_step(h)
    convs = model.net.fno.fno_blocks.convs
    assert len(convs) == 3
    for i in range(len(convs)):
        with torch.no_grad():
            saved = [p.clone() for p in convs[i].parameters()]
            for p in convs[i].parameters():
                p.mul_(2.0)
            changed = model.forward_step(h)
            for p, s in zip(convs[i].parameters(), saved, strict=True):
                p.copy_(s)
        assert not torch.allclose(changed, base), f"block {i} does not reach the output"


@pytest.mark.parametrize("shape", [(32,), (16, 16)], ids=["1d", "2d"])
def test_unet_is_equivariant_to_periodic_shifts(shape):
    """Circular padding, stride-2 downsampling and nearest upsampling commute with shifts by multiples of
    2^(levels-1); zero padding would break this at the boundary."""
    torch.manual_seed(0)
    cfg = small_config("unet")
    cfg.channel_mults = [1, 2, 2]
    model = solvers.build(cfg, grid_context(shape)).eval()
    dims = tuple(range(-len(shape), 0))
    x = torch.randn(2, 1, 1, *shape)
    shift = (4,) * len(shape)
    with torch.no_grad():
        moved_then_stepped = model.forward_step(torch.roll(x, shift, dims))
        stepped_then_moved = torch.roll(model.forward_step(x), shift, dims)
    torch.testing.assert_close(moved_then_stepped, stepped_then_moved, rtol=1e-5, atol=1e-5)
    assert (model.forward_step(x) - x[:, 0]).abs().max() > 1e-3  # not trivially the identity


def test_wrong_window_shape_is_named():
    model = solvers.build(small_config("unet"), grid_context((32,), history=2))
    with pytest.raises(ValueError, match=r"\(B, 2, 1, \*\(32,\)\)"):
        model.forward_step(torch.randn(2, 1, 1, 32))
    with pytest.raises(ValueError, match="divide by 2"):
        solvers.build(small_config("unet"), grid_context((31,)))


def test_the_fno_forgets_its_cached_grid_when_it_moves():
    """neuraloperator caches its coordinate grid on the first call's device; a model moved afterwards (CPU ->
    CUDA, tests/test_gpu.py) would mix devices. Every move must drop the cache."""
    torch.manual_seed(0)
    model = solvers.build(small_config("fno"), grid_context((32,))).eval()
    h = torch.randn(2, 1, 1, 32)
    first = model.forward_step(h)
    embedding = model.net.fno.positional_embedding
    assert embedding._grid is not None
    model.to("cpu")
    assert embedding._grid is None
    torch.testing.assert_close(model.forward_step(h), first)
