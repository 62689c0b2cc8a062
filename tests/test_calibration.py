"""Calibration: implausibility, emulators, NROY volumes, gradients with respect to model parameters, and
short end-to-end runs of ``python -m sciml.calibrate``."""

import csv
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from sciml.calibration import (
    Emulator,
    Lorenz96Calibration,
    Wave,
    calibrate,
    implausibility,
    latin_hypercube,
    load_calibration_config,
    misfit_gradient,
    not_ruled_out,
    nroy_sample,
)
from sciml.errors import ConfigError
from sciml.sim import Lorenz96, NavierStokes2D, TwoScaleLorenz96
from sciml.sim.closures import EddyViscosityClosure


def test_implausibility_of_a_hand_case():
    # |1.0 - 0.4| / sqrt(0.05 + 0.03 + 0.01) = 0.6 / 0.3
    value = implausibility(np.array([1.0]), np.array([[0.4]]), np.array([[0.05]]), np.array([0.03]), 0.01)
    assert value[0, 0] == pytest.approx(2.0)


def test_latin_hypercube_has_one_point_per_stratum():
    u = latin_hypercube(20, 3, seed=1)
    assert u.shape == (20, 3) and (u >= 0).all() and (u < 1).all()
    for d in range(3):
        assert sorted(np.floor(u[:, d] * 20).astype(int)) == list(range(20))


def test_emulator_interpolates_a_known_function():
    def f(x):
        return np.stack([np.sin(2 * np.pi * x[:, 0]) + x[:, 1] ** 2, 3 * x[:, 0] - x[:, 1]], 1)

    design = latin_hypercube(40, 2, seed=0)
    em = Emulator(design, f(design), seed=0)
    test = np.random.default_rng(1).random((300, 2))
    mean, var = em.predict(test)
    err = np.abs(mean - f(test))
    assert err.max() < 0.1 and err.mean() < 0.01
    assert (err <= 3 * np.sqrt(var) + 1e-6).mean() > 0.95  # the emulator's variance covers its errors
    at_design, var_design = em.predict(design)
    assert np.abs(at_design - f(design)).max() < 1e-2 and var_design.max() < 1e-3


class _Exact:
    """An emulator that knows f(u) = u_0 exactly (zero emulator variance)."""

    def predict(self, u):
        return u[:, :1], np.zeros((len(u), 1))


def test_nroy_volume_matches_the_analytic_interval():
    # z = 0.5, Var_obs = 0.01: |u_0 - 0.5| <= 3 * 0.1 keeps u_0 in [0.2, 0.8], 60 % of the square
    wave = Wave(np.zeros((2, 2)), np.zeros((2, 1)), _Exact())
    z, var = np.array([0.5]), np.array([0.01])
    points, fraction = nroy_sample([wave], 2, z, var, 5000, seed=0)
    assert fraction == pytest.approx(0.6, abs=0.01)
    assert points[:, 0].min() >= 0.2 - 1e-12 and points[:, 0].max() <= 0.8 + 1e-12
    # from the previous sample's bounding box the estimate is the same volume
    _, again = nroy_sample([wave], 2, z, var, 5000, seed=1, previous=points)
    assert again == pytest.approx(0.6, abs=0.01)
    assert not_ruled_out([wave], np.array([[0.85, 0.5], [0.5, 0.99]]), z, var).tolist() == [False, True]


def _two_scale_loss(F, h, b, c, x0):
    sim = TwoScaleLorenz96(K=4, J=3, F=F, h=h, b=b, c=c)
    return sim.rollout(x0, 20, 0.01)[-1].square().mean()


def test_gradients_with_respect_to_lorenz96_parameters_match_finite_differences():
    x0 = torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    params = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (10.0, 1.0, 10.0, 10.0))
    assert torch.autograd.gradcheck(lambda *p: _two_scale_loss(*p, x0), params)
    F = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
    y0 = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(lambda f: Lorenz96(K=8, F=f).rollout(y0, 30, 0.01)[-1].sum(), (F,))


def test_adjoint_gradients_include_the_parameters():
    x0 = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    grads = []
    for adjoint in (False, True):
        F = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
        sim = Lorenz96(K=8, F=F, method="dopri5", adjoint=adjoint)
        sim.rollout(x0, 10, 0.02)[-1].square().sum().backward()
        grads.append(F.grad.item())
    assert grads[1] == pytest.approx(grads[0], rel=1e-4) and grads[0] != 0


def test_per_member_parameters_give_each_member_its_own_model():
    theta = torch.tensor([[10.0, 1.0, 10.0, 10.0], [12.0, 0.5, 8.0, 9.0]], dtype=torch.float64)
    model = Lorenz96Calibration(K=4, J=3, spin_up=0)
    x = torch.randn(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    batched = model.simulator(theta).step(x, 0.01)
    for i in range(2):
        F, h, c, b = theta[i].tolist()
        alone = TwoScaleLorenz96(K=4, J=3, F=F, h=h, b=b, c=c).step(x[i], 0.01)
        torch.testing.assert_close(batched[i], alone)


def test_smagorinsky_coefficient_gradient_matches_finite_differences():
    sim = NavierStokes2D(n=16, nu=1e-3, forcing="kolmogorov", drag=0.1)
    w0 = torch.randn(1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(c):
        closure = EddyViscosityClosure(sim, "smagorinsky", c)
        return sim.rollout(w0, 5, 0.01, closure=closure)[..., -1, :, :].square().mean()

    c = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (c,))


def test_window_statistics_against_a_hand_loop():
    model = Lorenz96Calibration(K=4, J=3, spin_up=0, statistics=("x", "xybar", "ylag"), lag=3)
    theta = torch.tensor([[10.0, 1.0, 10.0, 10.0], [8.0, 0.5, 12.0, 9.0]], dtype=torch.float64)
    x0 = torch.randn(2, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    stats, final = model.window(theta, x0, 10)
    sim, states = model.simulator(theta), [x0]
    for _ in range(10):
        states.append(sim.step(states[-1], model.dt))
    X = [s[:, :4] for s in states]
    ybar = [s[:, 4:].unflatten(-1, (4, 3)).mean(-1) for s in states]
    torch.testing.assert_close(stats[:, 0], torch.stack([x.mean(-1) for x in X[1:]]).mean(0))
    xybar = torch.stack([(X[i] * ybar[i]).mean(-1) for i in range(1, 11)]).mean(0)
    torch.testing.assert_close(stats[:, 1], xybar)
    # the lag covariance only over the steps that have a state 3 steps before (steps 3..10)
    lag = torch.stack([(states[i][:, 4:] * states[i - 3][:, 4:]).mean(-1) for i in range(3, 11)]).mean(0)
    torch.testing.assert_close(stats[:, 2], lag)
    torch.testing.assert_close(final, states[-1])


def test_gradients_with_respect_to_viscosity_drag_and_forcing_match_finite_differences():
    w0 = torch.randn(2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def loss(nu, drag, amplitude):
        sim = NavierStokes2D(n=16, nu=nu, drag=drag, forcing="kolmogorov", forcing_amplitude=amplitude)
        return sim.rollout(w0, 4, 0.05)[..., -1, :, :].square().mean()

    params = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.02, 0.1, 1.0))
    assert torch.autograd.gradcheck(loss, params)
    # one viscosity per batch member: each member as if alone; float parameters as before
    nu = torch.tensor([0.01, 0.03], dtype=torch.float64).view(2, 1, 1)
    both = NavierStokes2D(n=16, nu=nu, drag=0.1, forcing="kolmogorov").rollout(w0, 3, 0.05)
    for i in range(2):
        alone = NavierStokes2D(n=16, nu=float(nu[i]), drag=0.1, forcing="kolmogorov").rollout(w0[i], 3, 0.05)
        torch.testing.assert_close(both[i], alone)
    with pytest.raises(ValueError, match="ETDRK4"):
        NavierStokes2D(n=16, nu=nu, stepper="etdrk4")


def test_les_coefficient_window_is_differentiable_and_matches_finite_differences():
    from sciml.calibration import LESCoefficientCalibration

    sim = NavierStokes2D(n=16, nu=1e-3, forcing="kolmogorov", drag=0.1)
    target = LESCoefficientCalibration(sim, "leith", dt=0.02)
    w0 = torch.randn(2, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    spectra, final = target.window(torch.full((2, 1), 0.3, dtype=torch.float64), w0, 3)
    assert spectra.shape == (2, 16 // 3 - 1) and final.shape == w0.shape and (spectra > 0).all()

    def log_spectrum(c):
        return target.transform(target.window(c.expand(2, 1), w0, 3)[0].mean(0)).sum()

    assert torch.autograd.gradcheck(log_spectrum, (torch.tensor([[0.3]], dtype=torch.float64, requires_grad=True),))


def test_member_contributions_sum_to_the_gradient():
    model = Lorenz96Calibration(K=4, J=3, spin_up=0, statistics=("x", "x2", "ylag"), lag=2)
    g = torch.Generator().manual_seed(0)
    state = torch.randn(6, 16, dtype=torch.float64, generator=g)
    log_theta = torch.tensor([10.0, 1.0, 10.0, 10.0], dtype=torch.float64).log()
    z, scale = torch.tensor([1.0, 5.0, 0.01], dtype=torch.float64), torch.tensor([1.0, 2.0, 0.1], dtype=torch.float64)
    step, final = misfit_gradient(model.window, log_theta, state, 8, z, scale)
    shared = log_theta.clone().requires_grad_(True)
    stats, _ = model.window(shared.exp().expand(6, -1), state, 8)
    loss = ((stats.mean(0) - z) / scale).square().sum()
    loss.backward()
    torch.testing.assert_close(step.gradient, shared.grad)
    assert step.loss == pytest.approx(loss.item())
    assert torch.isfinite(step.gradient_se).all() and not final.requires_grad


SMALL = ["model.spin_up=600", "observations.members=32", "observations.steps=300", "history_matching.waves=2",
         "history_matching.design_points=16", "history_matching.members=2", "history_matching.steps=300",
         "history_matching.nroy_points=2000", "gradient.members=16", "gradient.window=50", "gradient.lr_final=0.02",
         "gradient.checkpoint_every=5", "calibrate.progress=none", "calibrate.threads=1",
         "model.statistics=[x,ybar,x2,xybar,ybar2,y2,ylag]"]


def test_short_calibration_moves_toward_the_truth(tmp_path):
    cfg = load_calibration_config([*SMALL, f"run.dir={tmp_path}", "gradient.iterations=50"])
    results = calibrate(cfg)
    hm = results["history_matching"]
    assert hm["truth_kept_every_wave"] and hm["waves"][-1]["nroy_fraction"] < 0.5
    gr = results["gradient"]
    start_error = np.mean([abs(math.log(gr["start"][p] / cfg.truth[p])) for p in cfg.truth])
    end_error = np.mean([abs(math.log(gr["estimate"][p] / cfg.truth[p])) for p in cfg.truth])
    assert end_error < 0.8 * start_error  # the well-observed F and c get close first; h and b follow slowly
    losses = [float(r["loss"]) for r in csv.DictReader(open(tmp_path / "metrics.csv")) if r["method"] == "gradient"]
    assert np.mean(losses[-10:]) < 0.1 * losses[0]
    for name in ("results.json", "summary.md", "nroy_pairs.png", "gradient_path.png"):
        assert (tmp_path / "evaluation" / name).is_file()


def test_an_interrupted_gradient_run_resumes_exactly(tmp_path, monkeypatch):
    import sciml.calibration.run as run_module

    args = [*SMALL, "calibrate.methods=[gradient]", "gradient.iterations=12"]
    straight = calibrate(load_calibration_config([*args, f"run.dir={tmp_path / 'a'}"]))
    calls, real = [0], run_module.misfit_gradient

    def interrupted(*a, **k):
        calls[0] += 1
        if calls[0] == 8:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(run_module, "misfit_gradient", interrupted)
    with pytest.raises(KeyboardInterrupt):
        calibrate(load_calibration_config([*args, f"run.dir={tmp_path / 'b'}"]))
    monkeypatch.setattr(run_module, "misfit_gradient", real)
    resumed = calibrate(load_calibration_config([*args, f"run.dir={tmp_path / 'b'}"]))  # from iteration 5
    assert resumed["gradient"]["estimate"] == straight["gradient"]["estimate"]
    rows = (tmp_path / "b" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 12  # iterations 6-7 ran twice and were logged once
    with pytest.raises(ConfigError, match="gradient.lr"):
        calibrate(load_calibration_config([*args, f"run.dir={tmp_path / 'b'}", "gradient.lr=0.1"]))


@pytest.mark.parametrize("args, needle", [
    (["model.statistics=[x,zz]"], "model.statistics: unknown ['zz']"),
    (["parameters.F=[5.0]"], "parameters.F must be [low, high]"),
    (["calibrate.methods=[magic]"], "calibrate.methods: unknown ['magic']"),
    (["gradient.bogus=1"], "unknown config key 'gradient.bogus'"),
])
def test_bad_calibration_configs_name_the_key(args, needle):
    with pytest.raises(ConfigError) as err:
        load_calibration_config(args)
    assert needle in str(err.value)


def test_calibrate_command_line_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml.calibrate", "truth.F=-1", "truth.G=1"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
