"""The solver contract: any solver trains through the trajectory task with named loss terms; multi-step
training (unroll, pushforward, curriculum) is right to the gradient; PDE parameters reach the solver."""

import math
from dataclasses import dataclass

import pytest
import torch
from conftest import tiny_overrides

from sciml import solvers
from sciml.config import load_config
from sciml.evaluate import evaluate_run
from sciml.solvers import AutoregressiveSolver, Solver, SolverContext, SolverSpec, UnrollPlan
from sciml.solvers.unroll import curriculum
from sciml.tasks import fit
from sciml.training import load_checkpoint, read_metrics


@dataclass
class ToyConfig:
    name: str = "toy"
    hidden: int = 8


class ToySolver(Solver):
    """A pointwise two-layer net stepping ``u -> u + f(u)``, with its own loss of two named terms."""

    def __init__(self, cfg: ToyConfig, context: SolverContext):
        super().__init__()
        self.context = context
        self.net = torch.nn.Sequential(torch.nn.Linear(1, cfg.hidden), torch.nn.Tanh(), torch.nn.Linear(cfg.hidden, 1))
        self.seen_targets: list[tuple[int, ...]] = []

    def step(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.net(u.unsqueeze(-1)).squeeze(-1)

    def _losses(self, batch):
        u, target = batch["input"][:, -1], batch["target"]
        errors = []
        for j in range(target.shape[1]):
            u = self.step(u)
            errors.append(((u - target[:, j]) ** 2).mean())
        return {"first": errors[0], "later": torch.stack(errors[1:]).mean()}

    def training_loss(self, batch, step):
        self.seen_targets.append(tuple(batch["target"].shape))
        return self._losses(batch)

    @torch.no_grad()
    def validation_loss(self, batch):
        terms = self._losses(batch)
        return {"loss": terms["first"] + terms["later"]}

    @torch.no_grad()
    def rollout(self, initial, n_steps, params=None, time=None):
        u, frames = initial[:, -1], []
        for _ in range(n_steps):
            u = self.step(u)
            frames.append(u)
        return torch.stack(frames, 1)


@pytest.fixture
def toy_solver(monkeypatch):
    built = []

    def build(cfg, context):
        built.append(ToySolver(cfg, context))
        return built[-1]

    monkeypatch.setitem(solvers.registry._entries, "toy", SolverSpec(ToyConfig, build))
    return built


def test_a_toy_solver_with_horizon_3_and_two_named_loss_terms_trains_and_logs_both(tmp_path, toy_solver):
    args = tiny_overrides(tmp_path, **{"solver.name": "toy", "task.horizon": 3, "trainer.max_steps": 40,
                                       "trainer.log_every": 5, "trainer.lr": 1e-2})
    args = [a for a in args if not a.startswith(("solver.modes", "solver.width", "solver.n_layers"))]
    cfg = load_config(args)
    run = fit(cfg)
    assert toy_solver[0].seen_targets[0] == (8, 3, 1, 64)  # the windows hold 3 target frames
    rows = read_metrics(run)
    assert {"loss_first", "loss_later", "val_loss"} <= set(rows[0])
    for r in rows:
        assert float(r["loss"]) == pytest.approx(float(r["loss_first"]) + float(r["loss_later"]), rel=1e-6)
    assert float(rows[-1]["loss_later"]) < float(rows[0]["loss_later"])
    assert float(rows[-1]["loss_first"]) < float(rows[0]["loss_first"])
    results = evaluate_run(run)  # the evaluator only needs the contract's rollout
    assert results["rollout_steps"] == 12 and results["per_step"]["mse"][0] is not None


class Linear(AutoregressiveSolver):
    """``u(t + dt) = a u(t)``: losses and gradients by hand."""

    def __init__(self, a: float):
        super().__init__(SolverContext(fields=("u",), spatial_shape=(1,)))
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.calls: list[bool] = []

    def advance_with_loss(self, window, target, params, time=None):
        self.calls.append(torch.is_grad_enabled())
        nxt = self.a * window[:, -1:]
        return nxt, None if target is None else ((nxt - target) ** 2).mean()


def _batch(x, y1, y2, y3=0.0):
    t = torch.tensor
    return {"input": t([[[[x]]]], dtype=torch.float64),
            "target": t([[[[y1]], [[y2]], [[y3]]]], dtype=torch.float64)}


@pytest.mark.parametrize("mode", ["through", "stopped", "teacher"])
def test_unrolled_losses_and_their_gradients_by_hand(mode):
    a, x, y1, y2 = 0.9, 2.0, 1.5, 1.0
    model = Linear(a)
    model.configure_training(UnrollPlan(horizon=2, gradient_through_unroll=mode != "stopped",
                                        teacher_forcing="always" if mode == "teacher" else "never", total_steps=10))
    loss = model.training_loss(_batch(x, y1, y2), step=1)["mse"]
    loss.backward()
    second_input = {"through": a * x, "stopped": a * x, "teacher": y1}[mode]
    expected = 0.5 * ((a * x - y1) ** 2 + (a * second_input - y2) ** 2)
    grad = 0.5 * (2 * (a * x - y1) * x + 2 * (a * second_input - y2) * second_input)
    if mode == "through":  # d(a * a x)/da = 2 a x
        grad = 0.5 * (2 * (a * x - y1) * x + 2 * (a * a * x - y2) * 2 * a * x)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    assert model.a.grad.item() == pytest.approx(grad, rel=1e-12)


def test_pushforward_steps_run_without_gradient_and_shift_the_graded_window():
    model = Linear(0.5)
    plan = UnrollPlan(horizon=3, pushforward=2, total_steps=100, seed=3)
    model.configure_training(plan)
    step = next(s for s in range(1, 100) if plan.pushforward_draw(s) == 2)
    loss = model.training_loss(_batch(4.0, 0.0, 0.0, 0.7), step)["mse"]
    assert model.calls == [False, False, True]  # two pushed-forward steps, one graded
    assert loss.item() == pytest.approx((0.5**3 * 4.0 - 0.7) ** 2)  # graded against the third target
    loss.backward()
    assert model.a.grad.item() == pytest.approx(2 * (0.5**3 * 4.0 - 0.7) * 0.5**2 * 4.0)  # only the last step


def test_time_reaches_the_solver_and_advances_by_one_model_step_per_call():
    class Clock(Linear):
        frames_per_step = 2

        def __init__(self):
            super().__init__(1.0)
            self.context = SolverContext(fields=("u",), spatial_shape=(1,), history=2, dt=0.25)
            self.times = []

        def advance_with_loss(self, window, target, params, time=None):
            self.times.append(time.tolist())
            return window[:, -1:].expand(-1, 2, -1, -1), None if target is None else window.sum() * 0

    model = Clock()
    model.rollout(torch.zeros(2, 2, 1, 1), 5, time=torch.tensor([1.0, 2.0]))  # ceil(5 / 2) = 3 calls
    assert model.times == [[1.0, 2.0], [1.5, 2.5], [2.0, 3.0]]
    model.times.clear()
    plan = UnrollPlan(horizon=3, pushforward=1)
    model.configure_training(plan)
    batch = {"input": torch.zeros(1, 2, 1, 1), "target": torch.zeros(1, 6, 1, 1), "time": torch.tensor([0.5])}
    model.training_loss(batch, step=1)  # k pushed-forward calls, then the two graded ones, 0.5 apart
    k = plan.pushforward_draw(1)
    assert model.times == [[0.5 + 0.5 * i] for i in range(k + 2)]


def test_pushforward_draws_and_curriculum_values_at_chosen_steps():
    plan = UnrollPlan(horizon=4, pushforward=3, pushforward_every=10, seed=0)
    assert [plan.pushforward_range(s) for s in (1, 10, 11, 20, 21, 31, 500)] == [0, 0, 1, 1, 2, 3, 3]
    draws = [plan.pushforward_draw(s) for s in range(31, 431)]
    assert set(draws) == {0, 1, 2, 3} and all(draws.count(k) > 60 for k in range(4))  # uniform on 0..3
    assert [plan.pushforward_draw(s) for s in range(31, 431)] == draws  # a pure function of the step
    assert all(plan.pushforward_draw(s) == 0 for s in range(1, 11))
    assert UnrollPlan(horizon=4, pushforward=3).pushforward_range(1) == 3  # every = 0: the whole range at once
    # CAPE's curriculum: s(e) = (1 + tanh((e - 0.5) / 0.2)) / 2 of the progress e
    assert curriculum(0.0) == pytest.approx(0.5 * (1 + math.tanh(-2.5))) == pytest.approx(0.0067, abs=1e-4)
    assert curriculum(0.5) == 0.5 and curriculum(1.0) == pytest.approx(0.9933, abs=1e-4)
    plan = UnrollPlan(horizon=5, teacher_forcing="curriculum", total_steps=100)
    assert [plan.teacher_forced_inputs(s) for s in (1, 41, 51, 61, 100)] == [4, 3, 2, 1, 0]
    assert UnrollPlan(horizon=5, teacher_forcing="always").teacher_forced_inputs(50) == 4
    assert UnrollPlan(horizon=5).teacher_forced_inputs(50) == 0
    with pytest.raises(ValueError, match="no graded step"):
        UnrollPlan(horizon=2, pushforward=2)


def test_pushforward_training_through_the_trajectory_task(tmp_path):
    args = tiny_overrides(tmp_path, **{"task.horizon": 3, "task.pushforward": 2, "task.pushforward_every": 4,
                                       "trainer.max_steps": 12, "run.evaluate": False})
    run = fit(load_config(args))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 12
    # the draws are a function of the step and validation rolls out every target step: a second run agrees
    again = fit(load_config([*args, f"run.dir={tmp_path / 'again'}"]))
    first = [(r["step"], r["loss"], r["val_loss"]) for r in read_metrics(run)]
    assert first == [(r["step"], r["loss"], r["val_loss"]) for r in read_metrics(again)]
    assert sum(1 for _, _, v in first if v) == 2


SMALL_ADVECTION = ["dataset.name=advection1d", "dataset.n=32", "dataset.dt=0.02", "dataset.speeds=[0.25,0.75,1.5,3.0]",
                   "dataset.n_train=64", "dataset.n_valid=16", "dataset.n_test=8", "dataset.steps_train=20",
                   "dataset.steps_eval=20", "dataset.max_wavenumber=3", "task.time_step=1", "solver.modes=8",
                   "solver.width=16", "solver.n_layers=2", "trainer.max_steps=150", "trainer.batch_size=32",
                   "trainer.lr=3e-3", "trainer.eval_every=150", "trainer.progress=lines", "trainer.device=cpu"]


def test_conditioned_fno_beats_the_unconditioned_one_on_advection_with_varying_speed(tmp_path):
    """With one input frame the speed is invisible: only the parameter tells the solver how far to shift."""
    common = [*SMALL_ADVECTION, f"dataset.root={tmp_path / 'data'}"]
    results = {}
    for name, params in (("conditioned", "[beta]"), ("plain", "[]")):
        run = fit(load_config([*common, f"task.params={params}", f"run.dir={tmp_path / name}"]))
        val = float([r for r in read_metrics(run) if r["val_loss"]][-1]["val_loss"])
        results[name] = (val, evaluate_run(run, verbose=False)["per_step"]["nrmse"][-1])
    assert results["conditioned"][0] < 0.2 * results["plain"][0], results
    assert results["conditioned"][1] < 0.5 * results["plain"][1], results
    state = load_checkpoint(tmp_path / "conditioned" / "checkpoints" / "best.pt")
    assert state["context"]["param_names"] == ["beta"] and state["context"]["param_ranges"] == [[0.25, 3.0]]


def test_a_solver_that_ignores_parameters_refuses_them(tmp_path, toy_solver):
    ToySolver.uses_params = False
    try:
        args = [*SMALL_ADVECTION, "solver.name=toy", "task.params=[beta]", f"dataset.root={tmp_path / 'data'}",
                f"run.dir={tmp_path / 'run'}"]
        args = [a for a in args if not a.startswith(("solver.modes", "solver.width", "solver.n_layers"))]
        with pytest.raises(ValueError, match="solver toy ignores PDE parameters"):
            fit(load_config(args))
    finally:
        ToySolver.uses_params = True
