"""CAPE: every branch and the attention count, the physical depthwise kernel transfers across resolutions,
the curriculum, gradients through the unroll, warm-up, checkpoints on each base, a smoke training."""

import io
import math
from dataclasses import replace

import pytest
import torch

from sciml import solvers
from sciml.config import load_config
from sciml.errors import ConfigError
from sciml.solvers import SolverContext, UnrollPlan, grid_context
from sciml.solvers.cape import CAPEConfig, relative_l2
from sciml.solvers.cape_module import CAPEModule, PhysicalDepthwiseConv
from sciml.solvers.unroll import curriculum
from sciml.tasks import fit
from sciml.training import read_metrics

BASES = {"fno": {"modes": 6, "width": 8, "n_layers": 2}, "unet": {"hidden": 8, "channel_mults": [1, 2]},
         "mp_pde": {"hidden": 32, "layers": 1, "time_window": 2}}


def cape(base="fno", context=None, **overrides):
    cfg = CAPEConfig(base=base, base_options=BASES[base], multiplier=2, modes=4, attention_hidden=8)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return solvers.build(cfg, context or grid_context((32,), n_params=1, history=2 if base == "mp_pde" else 1))


def randomise(module: torch.nn.Module, std: float = 0.3) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, std)


def test_every_branch_and_every_attention_vector_changes_the_guess():
    torch.manual_seed(0)
    module = CAPEModule(2, 1, 1, (1 / 32,), multiplier=2, modes=4, attention_hidden=8)
    randomise(module)
    x, p = torch.randn(3, 2, 32), torch.rand(3, 1)
    out = module(x, p)
    for part in (module.spectral, module.pointwise, module.depthwise, module.ungated, *module.attention):
        saved = [q.detach().clone() for q in part.parameters()]
        with torch.no_grad():
            for q in part.parameters():
                q.zero_()
        assert not torch.allclose(module(x, p), out), type(part).__name__
        with torch.no_grad():
            for q, s in zip(part.parameters(), saved, strict=True):
                q.copy_(s)
    torch.testing.assert_close(module(x, p), out)


def test_the_attention_depends_on_the_parameters():
    torch.manual_seed(0)
    module = CAPEModule(1, 1, 2, (1 / 32,), multiplier=4, modes=4, attention_hidden=8)
    a = module.attention_vectors(torch.tensor([[0.1, -0.5], [0.9, 0.5]]))
    assert a.shape == (3, 2, 4)
    assert not torch.allclose(a[:, 0], a[:, 1])
    x = torch.randn(1, 1, 32).expand(2, -1, -1)
    out = module(x, torch.tensor([[0.1, -0.5], [0.9, 0.5]]))
    assert not torch.allclose(out[0], out[1])


def test_the_depthwise_kernel_is_a_physical_convolution_at_any_resolution():
    torch.manual_seed(0)
    conv = PhysicalDepthwiseConv(1, 3, taps=5, spacing=(1 / 64,))
    # on its own grid: an ordinary periodic depthwise convolution
    x = torch.randn(2, 1, 64)
    reference = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (2, 2), mode="circular"), conv.weight,
                                           conv.bias, groups=1)
    torch.testing.assert_close(conv(x), reference)
    # a smooth field on 64 and on 256 points: the same integral, up to the quadrature error
    def field(n):
        s = torch.arange(n, dtype=torch.float32) / n
        return (torch.sin(2 * math.pi * s) + 0.5 * torch.cos(6 * math.pi * s)).view(1, 1, n)

    coarse, fine = conv(field(64)), conv(field(256), spacing=(1 / 256,))
    assert conv.kernel((1 / 256,)).shape[-1] == 17  # the same physical support, 4x the taps
    err = (fine[..., ::4] - coarse).abs().max() / coarse.abs().max()
    assert err < 0.1, err
    # a module built at 64 points runs at 256 (FFT branch and kernel both resolution-aware) and agrees
    torch.manual_seed(0)
    module = CAPEModule(1, 1, 1, (1 / 64,), multiplier=4, modes=4)
    with torch.no_grad():
        coarse, fine = module(field(64), torch.zeros(1, 1)), module(field(256), torch.zeros(1, 1), (1 / 256,))
    assert fine.shape == (1, 1, 256)
    assert (fine[..., ::4] - coarse).abs().max() < 0.03 * coarse.abs().max()


def test_the_curriculum_goes_from_teacher_forcing_to_autoregressive():
    assert curriculum(0.0) == pytest.approx(0.5 * (1 + math.tanh(-2.5)))  # 0.0067: nearly all teacher forced
    assert curriculum(0.5) == pytest.approx(0.5)
    assert curriculum(1.0) == pytest.approx(0.5 * (1 + math.tanh(2.5)))
    plan = UnrollPlan(horizon=11, teacher_forcing="curriculum", total_steps=100)
    forced = [plan.teacher_forced_inputs(s) for s in (1, 26, 51, 76, 100)]
    assert forced == [10, 9, 5, 1, 0]


@pytest.mark.parametrize("base", list(BASES))
def test_gradients_flow_through_the_unroll_into_cape_and_the_base(base):
    torch.manual_seed(0)
    model = cape(base)
    f = model.frames_per_step
    model.configure_training(UnrollPlan(horizon=3, gradient_through_unroll=True))
    window = torch.randn(2, model.context.history, 1, 32)
    targets = torch.randn(2, 3 * f, 1, 32)
    terms = model.training_loss({"input": window, "target": targets, "params": torch.rand(2, 1)}, 1)
    assert set(terms) == {"rel_l2", "cape"}
    assert terms["cape"] < 1e-3 * terms["rel_l2"]  # λ = 5.7e-5
    sum(terms.values()).backward()
    for name, part in (("cape", model.cape), ("mix", model.mix), ("base", model.base)):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), name


def test_the_unrolled_gradient_reaches_the_first_step_only_through_the_unroll():
    torch.manual_seed(0)
    model = cape()
    window, targets, params = torch.randn(2, 1, 1, 32), torch.randn(2, 3, 1, 32), torch.rand(2, 1)
    model.cape.ungated.weight.retain_grad()
    grads = {}
    for through in (True, False):
        model.zero_grad()
        model.configure_training(UnrollPlan(horizon=3, gradient_through_unroll=through))
        model.training_loss({"input": window, "target": targets, "params": params}, 1)["rel_l2"].backward()
        grads[through] = model.cape.ungated.weight.grad.clone()
    assert not torch.allclose(grads[True], grads[False])


def test_the_warm_up_trains_the_cape_module_alone():
    torch.manual_seed(0)
    model = cape(warmup_epochs=1)
    model.configure_training(UnrollPlan(horizon=2, steps_per_epoch=5))
    batch = {"input": torch.randn(2, 1, 1, 32), "target": torch.randn(2, 2, 1, 32), "params": torch.rand(2, 1)}
    terms = model.training_loss(batch, 5)
    assert set(terms) == {"cape"}  # unweighted: the only term
    terms["cape"].backward()
    assert all(p.grad is None for p in model.base.parameters())
    assert any(p.grad is not None for p in model.cape.parameters())
    assert set(model.training_loss(batch, 6)) == {"rel_l2", "cape"}


def test_the_mixing_layer_starts_as_the_identity_on_the_window_and_sees_the_guess():
    torch.manual_seed(0)
    model = cape(context=SolverContext.from_dict({**grid_context((32,), n_params=1, history=2).to_dict(),
                                                  "stats": {"field_mean": [0.3], "field_std": [2.0],
                                                            "delta_mean": [0.0], "delta_std": [1.0]}}))
    window = torch.randn(2, 2, 1, 32)
    at_mean = torch.full((2, 1, 32), 0.3)  # a guess at the field mean is zero in normalised units
    torch.testing.assert_close(model.base_window(window, at_mean), window)
    assert not torch.allclose(model.base_window(window, torch.randn(2, 1, 32)), window)


def test_relative_l2_is_per_sample_then_averaged():
    target = torch.stack([torch.ones(4), 10 * torch.ones(4)])
    pred = target * torch.tensor([[1.1], [1.3]])
    assert relative_l2(pred, target) == pytest.approx(0.2)
    # a target that has decayed to zero divides by the floor, not by ~0
    decayed = torch.stack([torch.zeros(4), torch.ones(4)])
    assert relative_l2(torch.full((2, 4), 0.01), decayed, floor=0.5).item() == pytest.approx((0.02 / 0.5 + 0.99) / 2)


@pytest.mark.parametrize("base", list(BASES))
def test_a_checkpoint_built_on_each_base_round_trips(base):
    torch.manual_seed(0)
    context = grid_context((32,), n_params=1, history=2 if base == "mp_pde" else 1)
    model = cape(base, context)
    window, params = torch.randn(3, context.history, 1, 32), torch.rand(3, 1)
    out = model.rollout(window, 4, params)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "context": context.to_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    clone = cape(base, SolverContext.from_dict(state["context"]))
    clone.load_state_dict(state["model"])
    torch.testing.assert_close(clone.rollout(window, 4, params), out)


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="solver.base_options.depth"):
        load_config(["solver.name=cape", "solver.base_options.depth=3"])
    with pytest.raises(ConfigError, match="solver.base"):
        load_config(["solver.name=cape", "solver.base=pinn"])
    with pytest.raises(ConfigError, match="kernel_taps"):
        load_config(["solver.name=cape", "solver.kernel_taps=4"])


def test_a_smoke_training_on_advection_reduces_the_loss_and_reports_errors_by_speed(tmp_path):
    args = ["solvers/cape.yaml", "datasets/advection1d.yaml", f"dataset.root={tmp_path / 'data'}",
            "dataset.n=32", "dataset.n_train=24", "dataset.n_valid=4", "dataset.n_test=6", "dataset.steps_train=12",
            "dataset.steps_eval=8", "dataset.speeds=[0.2,2.0]", "dataset.speeds_test=[0.2,0.7,4.0]",
            "solver.base_options.width=8", "solver.base_options.modes=6", "solver.multiplier=4",
            "solver.warmup_epochs=0", "task.time_step=1", "task.params=[beta]", "task.horizon=3",
            "task.teacher_forcing=curriculum", "trainer.max_steps=100", "trainer.batch_size=8", "trainer.lr=3e-3",
            "trainer.schedule=constant", "trainer.warmup_steps=0", "trainer.log_every=10", "trainer.eval_every=10",
            "trainer.val_batches=1",
            "trainer.progress=lines", "trainer.device=cpu", "evaluate.plots=false", f"run.dir={tmp_path / 'run'}"]
    run = fit(load_config(args))
    # the curriculum makes the training loss harder as it goes: the rollout's validation loss is the signal
    val = [float(r["val_loss"]) for r in read_metrics(run) if r.get("val_loss")]
    assert len(val) == 10 and min(val[-3:]) < 0.7 * val[0], val
    from sciml.tasks.trajectory.evaluation import evaluate

    results = evaluate(load_config([*args, "run.evaluate=false"]), run)
    by_beta = results["by_param"]["beta"]
    assert by_beta["values"] == pytest.approx([0.2, 0.7, 4.0]) and sum(by_beta["n"]) == 6
    assert all(v is not None and v > 0 for v in by_beta["nrmse"])
    # the seen speed's rollouts stay stable; a blown-up rollout is counted, not averaged
    assert by_beta["unstable"][0] == 0 and 0 < by_beta["rel_l2"][0] < 10
    assert all(v is None or v > 0 for v in by_beta["rel_l2"]) and len(by_beta["unstable"]) == 3


def test_log_parameter_scaling_keeps_decades_apart_and_rejects_non_positive_values():
    from sciml.solvers.conditioning import ParamScaling

    nus = torch.tensor([[0.004], [0.04], [0.4], [1.0]])
    linear, log = ParamScaling(((0.004, 1.0),)), ParamScaling(((0.004, 1.0),), mode="log")
    torch.testing.assert_close(log(nus[[0, 3]]), torch.tensor([[-1.0], [1.0]]))
    # one decade is the same step anywhere in the range: log10(1/0.004) decades span [-1, 1]
    step = 2 / math.log10(1 / 0.004)
    torch.testing.assert_close(log(nus[1:3]) - log(nus[:2]), torch.full((2, 1), step))
    assert (linear(nus[1]) - linear(nus[0])).item() < 0.1  # linear squeezes 0.004 and 0.04 together
    with pytest.raises(ValueError, match="positive"):
        ParamScaling(((0.0, 1.0),), mode="log")
    with pytest.raises(ValueError, match="<= 0"):
        log(torch.tensor([[-0.1]]))


def test_cape_takes_the_param_scaling_from_its_config():
    context = replace(grid_context((32,), n_params=1), param_ranges=((0.01, 1.0),))
    model = cape(context=context, param_scaling="log")
    torch.testing.assert_close(model.param_scaling(torch.tensor([[0.1]])), torch.tensor([[0.0]]))
    with pytest.raises(ConfigError, match="solver.param_scaling"):
        load_config(["solver.name=cape", "solver.param_scaling=sqrt"])
