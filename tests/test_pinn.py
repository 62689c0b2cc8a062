"""Physics-informed building blocks: problems vanish on their solutions, samplers do what they claim."""

import math

import pytest
import torch
from scipy import stats

from sciml.config import ConfigError, load_config
from sciml.pinn import (
    R3,
    RAD,
    RARD,
    AllenCahn,
    Box,
    CausalR3,
    Convection,
    FlowMixing,
    Helmholtz2D,
    KleinGordon,
    UniformFixed,
    UniformResampled,
    causal_gate,
    residual_stats,
)
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics


def pinn_fit(tmp_path, *args):
    """A physics-informed run (convection by default, one seed, CPU) through the collocation task."""
    return fit(load_config(["solver.name=pinn", "trainer.progress=lines", "trainer.device=cpu",
                            f"run.dir={tmp_path / 'run'}", *args]))


def test_convection_residual_and_constraints_vanish_on_the_exact_solution():
    problem = Convection(beta=50.0)
    exact = problem.reference
    points = problem.domain.sample(500, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert problem.residual(exact, points).abs().max() < 1e-9
    losses = problem.constraint_losses(exact, 200, torch.Generator().manual_seed(1))
    assert all(v < 1e-12 for v in losses.values()), losses
    assert problem.relative_l2(exact, (64, 32)) < 1e-12
    assert problem.relative_l2(lambda p: torch.zeros(len(p)), (64, 32)) == pytest.approx(1.0)  # trivial: 100 %


@pytest.mark.parametrize(("a1", "a2"), [(4, 1), (10, 10)])
def test_helmholtz_residual_vanishes_on_the_exact_solution(a1, a2):
    problem = Helmholtz2D(a1, a2)
    points = problem.domain.sample(400, torch.Generator().manual_seed(0), dtype=torch.float64)
    r = problem.residual(problem.reference, points)
    assert r.abs().max() < 1e-9 * problem.source(points).abs().max()
    assert problem.constraint_losses(problem.reference, 100)["boundary"] < 1e-12  # float32 boundary points


@pytest.mark.parametrize("problem", [KleinGordon(), KleinGordon(k=3.0, t_end=2.0), FlowMixing()],
                         ids=["klein_gordon", "klein_gordon_k3", "flow_mixing"])
def test_space_time_problems_vanish_on_their_exact_solutions(problem):
    points = problem.domain.sample(600, torch.Generator().manual_seed(0), dtype=torch.float64)
    r = problem.residual(problem.reference, points)
    assert r.abs().max() < 1e-9
    losses = problem.constraint_losses(problem.reference, 300, torch.Generator().manual_seed(1))
    assert set(losses) == {"initial", "boundary"} and all(v < 1e-10 for v in losses.values()), losses
    # the residual is not trivially zero: a wrong field violates the PDE and the initial condition. (A time
    # shift would not do: flow mixing's velocity does not depend on t, so a shifted solution is a solution.)
    def wrong(p):
        return problem.reference(p) + 0.1 * torch.sin(p[:, 0]) * (1 + p[:, 2])

    assert problem.residual(wrong, points).abs().max() > 1e-2
    assert problem.constraint_losses(wrong, 300, torch.Generator().manual_seed(1))["initial"] > 1e-4


def test_flow_mixing_solution_is_the_rotated_initial_profile():
    problem = FlowMixing()
    # at the centre the angular speed is 1 / vt_max; far out the vortex is still
    assert problem._omega(torch.zeros(1), torch.zeros(1)).item() == pytest.approx(1 / 0.385, rel=1e-6)
    assert problem._omega(torch.tensor([4.0]), torch.tensor([0.0])).item() < 2e-3
    far = torch.tensor([[0.0, 4.0, 4.0]], dtype=torch.float64)  # rotated by < 3e-3 rad: -tanh(2 cos(angle))
    assert problem.reference(far).item() == pytest.approx(-math.tanh(2.0), abs=1e-5)


def test_box_face_sampling_lands_on_the_requested_faces():
    box = Box(("x", "y", "t"), (-1.0, -2.0, 0.0), (1.0, 2.0, 3.0))
    points = box.sample_faces(2000, (0, 1), torch.Generator().manual_seed(0))
    on_x = (points[:, 0].abs() == 1.0)
    on_y = (points[:, 1].abs() == 2.0)
    assert (on_x | on_y).all() and box.contains(points).all()
    assert 0.4 < on_x.float().mean() < 0.6 and (points[:, 2] > 0).all()


def test_allen_cahn_reference_is_converged_and_satisfies_the_pde():
    coarse, fine = AllenCahn(n_ref=512), AllenCahn(n_ref=1024)
    a, b = coarse.reference_table(), fine.reference_table()
    assert (a - b[:, ::2]).abs().max() < 1e-3  # front width ~ sqrt(1e-4 / 5): 512 points resolve it to 6e-4
    # the table satisfies the PDE: centred u_t against the spectral right-hand side at interior times
    n, dt = 1024, 1 / (fine.n_times - 1)
    k = 2 * math.pi / 2.0 * torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64)
    u = b[100]
    u_xx = torch.fft.irfft(-(k**2) * torch.fft.rfft(u), n=n)
    rhs = 1e-4 * u_xx - 5 * u**3 + 5 * u
    u_t = (b[101] - b[99]) / (2 * dt)
    assert (u_t - rhs).abs().max() < 0.02 * rhs.abs().max()
    points = torch.tensor([[-1.0, 0.0], [0.5, 0.0], [-1 + 2 * 7 / 512, 1.0]], dtype=torch.float64)
    ref = coarse.reference(points)
    assert ref[0].item() == pytest.approx(1.0 * math.cos(math.pi), abs=1e-12)
    assert ref[1].item() == pytest.approx(0.25 * math.cos(math.pi / 2), abs=1e-12)
    assert ref[2].item() == pytest.approx(a[-1, 7].item(), abs=1e-12)


def test_r3_keeps_the_population_and_retains_exactly_the_points_above_the_mean():
    box = Box(("x", "t"), (0.0, 0.0), (2.0, 1.0))
    sampler = R3(box, 1000, torch.Generator().manual_seed(0))
    before = sampler.points.clone()
    residual = torch.randn(1000, generator=torch.Generator().manual_seed(1))
    keep = residual.abs() > residual.abs().mean()
    report = sampler.update(residual)
    assert len(sampler.points) == 1000 and report.population == 1000
    assert report.retained == int(keep.sum()) and report.changed == 1000 - int(keep.sum())
    torch.testing.assert_close(sampler.points[: report.retained], before[keep])
    assert box.contains(sampler.points).all()
    assert not any((p == before).all(-1).any() for p in sampler.points[report.retained:])  # really new points


def test_causal_gate_and_its_schedule():
    t = torch.tensor([-10.0, 0.2, 10.0])
    g = causal_gate(t, beta=0.2, alpha=5.0)
    assert g[0] == pytest.approx(1.0) and g[1] == pytest.approx(0.5) and g[2] == pytest.approx(0.0, abs=1e-12)
    box = Box(("x", "t"), (0.0, 0.0), (1.0, 2.0))
    sampler = CausalR3(box, 500, time_axis=1, generator=torch.Generator().manual_seed(0))
    expected_gate = 0.5 * (1 - torch.tanh(5.0 * (sampler.points[:, 1] / 2.0 + 0.5)))
    torch.testing.assert_close(sampler.gate(), expected_gate)
    torch.testing.assert_close(sampler.weights(), expected_gate**2)  # the loss is mean((r g)^2)
    residual = torch.full((500,), 0.1)
    gated = float((residual * expected_gate).pow(2).mean())
    report = sampler.update(residual)
    assert sampler.beta == pytest.approx(-0.5 + 1e-3 * min(math.exp(-20 * gated), 0.1))
    assert report.gate_beta == sampler.beta and len(sampler.points) == 500


def test_uniform_samplers():
    box = Box(("x",), (0.0,), (1.0,))
    fixed = UniformFixed(box, 50, torch.Generator().manual_seed(0))
    before = fixed.points.clone()
    assert fixed.update(torch.ones(50)).changed == 0 and torch.equal(fixed.points, before)
    every = UniformResampled(box, 50, torch.Generator().manual_seed(0), every=2)
    assert every.update(torch.ones(50)).changed == 0
    assert every.update(torch.ones(50)).changed == 50
    with pytest.raises(FloatingPointError):
        fixed.update(torch.tensor([float("nan")] * 50))
    with pytest.raises(ValueError, match="49 values for 50 points"):
        fixed.update(torch.ones(49))


def test_rad_and_rard_prefer_high_residual_regions():
    box = Box(("x",), (0.0,), (1.0,))

    def residual_fn(p):
        return torch.where(p[:, 0] > 0.9, 100.0, 0.01)  # the residual lives in the last tenth

    rad = RAD(box, 200, torch.Generator().manual_seed(0), k=1.0, c=0.0, n_candidates=5000)
    rad.update(torch.ones(200), residual_fn=residual_fn)
    assert (rad.points[:, 0] > 0.9).float().mean() > 0.95  # uniform would give 0.1
    rard = RARD(box, 200, torch.Generator().manual_seed(0), n_add=30, c=0.0, n_candidates=2000)
    report = rard.update(torch.ones(200), residual_fn=residual_fn)
    assert len(rard.points) == 230 and report.changed == 30 and (rard.points[200:, 0] > 0.9).all()


def test_residual_statistics_match_scipy():
    r = torch.randn(5000, generator=torch.Generator().manual_seed(0)) ** 3
    s = residual_stats(r)
    a = r.abs().double().numpy()
    assert s.skewness == pytest.approx(stats.skew(a), rel=1e-9)
    assert s.kurtosis == pytest.approx(stats.kurtosis(a), rel=1e-9)
    assert s.mean == pytest.approx(a.mean()) and s.max == pytest.approx(a.max())


def test_r3_training_loop_reduces_the_error_on_an_easy_convection_problem():
    torch.manual_seed(0)
    problem = Convection(beta=1.0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 1))
    sampler = R3(problem.domain, 500, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start = problem.relative_l2(net, (64, 32))
    for _ in range(400):
        residual = problem.residual(net, sampler.points)
        constraints = problem.constraint_losses(net, 200)
        loss = residual.pow(2).mean() + 100 * sum(constraints.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sampler.update(residual)  # reuses the residual the loss computed
    assert problem.relative_l2(net, (64, 32)) < 0.3 * start


@pytest.mark.parametrize(("dim", "rotation"), [(2, False), (2, True), (3, True)])
def test_pig_closed_form_derivatives_equal_autograd(dim, rotation):
    from sciml.pinn.models import PIG

    torch.manual_seed(0)
    model = PIG(dim, n_gaussians=60, low=[-1] * dim, high=[1] * dim, sigma=0.3, rotation=rotation).double()
    if rotation:
        with torch.no_grad():
            model.features.angles.uniform_(-1.5, 1.5)  # genuinely rotated, anisotropic Gaussians
            model.features.log_sigma.add_(torch.rand_like(model.features.log_sigma) - 0.5)
    model.features.chunk = 7  # exercise the chunking
    x = (torch.rand(25, dim, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    u, grad, second = model.with_derivatives(x)
    auto = model(x)
    g = torch.autograd.grad(auto.sum(), x, create_graph=True)[0]
    h = torch.stack([torch.autograd.grad(g[:, d].sum(), x, retain_graph=True)[0][:, d] for d in range(dim)], 1)
    torch.testing.assert_close(u, auto, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, g, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(second, h, rtol=1e-10, atol=1e-13)


def test_mlp_periodic_features_make_the_network_exactly_periodic():
    from sciml.pinn.models import MLP

    torch.manual_seed(0)
    model = MLP(2, width=16, depth=2, periodic={0: (2.0, 10)})
    t = torch.rand(10, 1)
    left, right = torch.cat([-torch.ones_like(t), t], 1), torch.cat([torch.ones_like(t), t], 1)
    torch.testing.assert_close(model(left), model(right))


def test_lbfgs_runs_exactly_the_requested_iterations_and_training_reduces_the_error(tmp_path):
    from sciml.pinn.config import build_problem
    from sciml.tasks.collocation import build_seed

    args = ["solver.name=pinn", "solver.width=20", "solver.depth=2", "problem.name=helmholtz2d", "problem.a1=1",
            "problem.a2=1", "sampler.name=uniform", "sampler.points=300", "trainer.max_steps=50", "trainer.lr=5e-3",
            "trainer.lbfgs_steps=60", "trainer.eval_every=10", "trainer.log_every=10", "trainer.eval_points=1024",
            "trainer.weights={boundary: 10.0}", "trainer.progress=lines", f"run.dir={tmp_path / 'run'}"]
    cfg = load_config(args)
    run = fit(cfg)
    last = load_checkpoint(run / "checkpoints" / "seed_0" / "last.pt")
    assert last["notes"]["lbfgs"] == "ran 60 of 60 requested iterations" and last["step"] == 110 and last["finished"]
    rows = read_metrics(run)
    assert [r["stage"] for r in rows].count("lbfgs") == 6
    errors = [float(r["val_relative_l2"]) for r in rows]
    # the final error is the final model's, recomputed here from the checkpoint on the same 32 x 32 grid
    solver = build_seed(cfg, 0, torch.device("cpu"))
    solver.load_state_dict(last["model"])
    assert len(solver.sampler.points) == 300  # L-BFGS ran on the sampler's points
    recomputed = build_problem(cfg.problem).relative_l2(solver.net, (32, 32))
    assert errors[-1] == pytest.approx(recomputed, rel=1e-6) and errors[-1] < 0.2 * errors[0]
    assert last["best_val"] == min(errors) < errors[0]


def test_problems_use_closed_form_derivatives_when_the_model_has_them():
    from sciml.pinn.models import PIG

    torch.manual_seed(0)
    for problem in (Helmholtz2D(4, 1), AllenCahn(n_ref=64, n_times=3), Convection(5.0), KleinGordon(t_end=2.0),
                    FlowMixing()):
        box = problem.domain
        model = PIG(box.dim, n_gaussians=40, low=box.low, high=box.high, sigma=0.3).double()
        points = problem.domain.sample(30, torch.Generator().manual_seed(0), dtype=torch.float64)
        closed = problem.residual(model, points)
        by_autograd = problem.residual(lambda p, m=model: m(p), points)  # a plain callable: nested autograd
        torch.testing.assert_close(closed, by_autograd, rtol=1e-9, atol=1e-9)


def test_pig_default_size_is_the_papers():
    from sciml.pinn.models import PIG

    assert sum(p.numel() for p in PIG(2).parameters()) == 16097  # 4 channels x 800 Gaussians + 4-16-1 head


def test_pig_float32_expanded_squares_agree_with_float64():
    """The exponents are evaluated as x^2/s^2 - 2 x mu/s^2 + mu^2/s^2 (one matrix product): check the
    cancellation stays far below the errors the method reaches, at the paper's initial widths."""
    from sciml.pinn.models import PIG

    torch.manual_seed(0)
    model = PIG(2, low=[-1, -1], high=[1, 1])
    x = torch.rand(500, 2) * 2 - 1
    single = model.with_derivatives(x)
    double = model.double().with_derivatives(x.double())
    for a, b in zip(single, double, strict=True):
        assert ((a.double() - b).abs().max() / b.abs().max()).item() < 1e-4


def test_far_gaussians_do_not_produce_denormals():
    from sciml.pinn.models import GaussianFeatures

    features = GaussianFeatures(1, 4, channels=1, low=[0.0], high=[0.01], sigma=0.01)
    weighted = features._weighted(torch.tensor([[1.0]]))  # 100 sigma away: exp(-5000) would be 0 or denormal
    assert (weighted.abs() >= torch.finfo(torch.float32).tiny * features.weight.abs()).all()
    assert (weighted.abs() < 1e-20).all()


def test_pig_rotation_gives_the_full_covariance_gaussian():
    from sciml.pinn.models import GaussianFeatures

    features = GaussianFeatures(2, 1, channels=1, low=[0.0, 0.0], high=[0.0, 0.0], rotation=True).double()
    with torch.no_grad():
        features.log_sigma.copy_(torch.log(torch.tensor([[[0.5, 0.1]]], dtype=torch.float64)))
        features.angles.fill_(math.pi / 4)
        features.weight.fill_(1.0)
    # the long axis (sigma 0.5) now lies along the diagonal x = y
    along = features(torch.tensor([[0.3, 0.3]], dtype=torch.float64)).item()
    across = features(torch.tensor([[0.3, -0.3]], dtype=torch.float64)).item()
    r2 = 0.18  # |(0.3, 0.3)|^2
    assert along == pytest.approx(math.exp(-0.5 * r2 / 0.25), rel=1e-12)
    assert across == pytest.approx(math.exp(-0.5 * r2 / 0.01), rel=1e-9)


def test_lbfgs_can_run_on_its_own_larger_point_set(tmp_path, monkeypatch):
    seen = []
    original = Helmholtz2D.residual

    def spy(self, model, points):
        seen.append(len(points))
        return original(self, model, points)

    monkeypatch.setattr(Helmholtz2D, "residual", spy)
    pinn_fit(tmp_path, "problem.name=helmholtz2d", "sampler.name=resampled", "sampler.points=50",
             "trainer.max_steps=3", "trainer.lbfgs_steps=2", "trainer.lbfgs_points=700", "trainer.eval_points=64",
             "trainer.eval_every=100", "solver.width=8", "solver.depth=1")
    assert seen[:3] == [50, 50, 50] and 700 in seen[3:]


def test_mlp_initialisations_differ_in_scale():
    from sciml.pinn.models import MLP

    torch.manual_seed(0)
    xavier = MLP(2, 50, 4).net[2].weight
    default = MLP(2, 50, 4, init="torch").net[2].weight
    assert default.abs().max() <= 1 / 50**0.5  # nn.Linear's uniform(+-1/sqrt(fan_in))
    assert xavier.std() > 1.5 * default.std()  # xavier normal: std sqrt(2 / (50 + 50)) = 0.14 against 0.082
    with pytest.raises(ValueError, match="unknown init"):
        MLP(2, 50, 4, init="glorot")


def test_active_fraction_counts_the_near_gaussians():
    from sciml.pinn.models import GaussianFeatures

    features = GaussianFeatures(1, 2, channels=1, sigma=0.1)
    with torch.no_grad():
        features.mu.copy_(torch.tensor([[[0.0], [10.0]]]))
    x = torch.tensor([[0.0], [0.5], [2.0], [10.0]])
    # exponents -0.5 (x - mu)^2 / 0.01 above -50 means |x - mu| < 1: (0, 0), (0.5, 0), (10, 10) of 8 pairs
    assert features.active_fraction(x) == 3 / 8


@pytest.mark.parametrize("resample", [True, False])
def test_constraint_points_are_fresh_or_fixed_as_configured(resample, tmp_path, monkeypatch):
    drawn = []
    original = Convection.constraint_losses

    def spy(self, model, n, generator=None):
        state = generator.get_state().clone()
        drawn.append(torch.rand(n, generator=generator))  # what this step's points are drawn from
        generator.set_state(state)
        return original(self, model, n, generator)

    monkeypatch.setattr(Convection, "constraint_losses", spy)
    pinn_fit(tmp_path, "sampler.name=resampled", "sampler.points=20", "trainer.max_steps=4", "trainer.eval_every=100",
             "trainer.eval_points=64", "trainer.constraint_points=16", "solver.width=8", "solver.depth=1",
             "trainer.constraint_sampling=" + ("resampled" if resample else "fixed"))
    same = [torch.equal(drawn[0], d) for d in drawn[1:4]]
    assert same == [not resample] * 3


def test_grid_constraint_points_are_evenly_spaced_as_in_the_released_r3_code():
    """x = 2 pi j / n (end point left out: periodic), t = linspace(0, 1, n), the same at every call."""
    seen = []

    def model(points):
        seen.append(points.detach().clone())
        return torch.zeros(points.shape[0])

    problem = Convection(beta=50.0)
    losses = problem.constraint_losses(model, 8, grid=True)
    initial, left, right = seen
    torch.testing.assert_close(initial[:, 0], 2 * math.pi * torch.arange(8) / 8)
    torch.testing.assert_close(left[:, 1], torch.linspace(0, 1, 8))
    assert (initial[:, 1] == 0).all() and (left[:, 0] == 0).all() and (right[:, 0] == 2 * math.pi).all()
    torch.testing.assert_close(losses["initial"], torch.sin(initial[:, 0]).pow(2).mean())
    assert problem.constraint_losses(model, 8, grid=True)["initial"] == losses["initial"]
    with pytest.raises(ConfigError, match="no constraint grids"):
        load_config(["solver.name=pinn", "problem.name=helmholtz2d", "trainer.constraint_sampling=grid"])
    with pytest.raises(ConfigError, match="constraint_sampling"):
        load_config(["solver.name=pinn", "trainer.constraint_sampling=random"])


def test_causal_r3_history_records_the_gate_moving_forward(tmp_path):
    run = pinn_fit(tmp_path, "problem.beta=1", "sampler.name=causal_r3", "sampler.points=64", "trainer.max_steps=6",
                   "trainer.eval_every=2", "trainer.log_every=2", "trainer.eval_points=64",
                   "trainer.constraint_points=16", "solver.width=8", "solver.depth=1")
    gates = [float(r["gate_beta"]) for r in read_metrics(run)]
    assert len(gates) == 3 and -0.5 < gates[0] < gates[1] < gates[2]
    state = load_checkpoint(run / "checkpoints" / "seed_0" / "last.pt")["model"]["_extra_state"]
    assert state["sampler"]["beta"] == gates[2]


@pytest.mark.parametrize("causal, resample, windows", [(False, True, 1), (True, False, 1), (False, True, 3)])
def test_training_resumes_exactly_from_a_checkpoint(causal, resample, windows, tmp_path, monkeypatch):
    """The cut falls at step 5, inside the second of three time windows when time-marching (no L-BFGS then)."""
    from sciml.training import Trainer

    args = ["problem.beta=5", f"sampler.name={'causal_r3' if causal else 'r3'}", "sampler.points=40",
            "trainer.max_steps=12", f"trainer.lbfgs_steps={3 if windows == 1 else 0}", "trainer.eval_every=4",
            "trainer.log_every=4", "trainer.eval_points=64", "trainer.constraint_points=16",
            "trainer.constraint_sampling=" + ("resampled" if resample else "fixed"), "trainer.snapshots=3",
            "trainer.checkpoint_every=5", "solver.width=8", "solver.depth=2", f"strategy.time_windows={windows}"]
    whole = pinn_fit(tmp_path / "whole", *args)
    real_save = Trainer.save

    def save_then_stop(self, name):
        real_save(self, name)
        if name == "last" and self.step == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        pinn_fit(tmp_path / "cut", *args)
    assert load_checkpoint(tmp_path / "cut" / "run" / "checkpoints" / "seed_0" / "last.pt")["step"] == 5
    monkeypatch.setattr(Trainer, "save", real_save)
    cut = pinn_fit(tmp_path / "cut", *args)
    a = load_checkpoint(whole / "checkpoints" / "seed_0" / "last.pt")
    b = load_checkpoint(cut / "checkpoints" / "seed_0" / "last.pt")
    assert a["step"] == b["step"] == (15 if windows == 1 else 12) and a["finished"] and b["finished"]
    for key, value in a["model"].items():
        if key != "_extra_state":
            assert torch.equal(value, b["model"][key]), key
    ea, eb = a["model"]["_extra_state"], b["model"]["_extra_state"]
    assert torch.equal(ea["sampler"]["points"], eb["sampler"]["points"])
    assert [s for s, _ in ea["snapshots"]] == [s for s, _ in eb["snapshots"]] == [0, 6, 12]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]  # noqa: E731
    assert strip(read_metrics(whole)) == strip(read_metrics(cut))
