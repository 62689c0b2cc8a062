"""Long-rollout evaluation: blow-ups are reported at the step they happen, never crash the evaluation."""

import json

import numpy as np
import pytest
import torch
from conftest import tiny_overrides

from sciml import evaluate
from sciml.cli import run_cli
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.tasks import fit
from sciml.tasks.trajectory.evaluation import first_unstable_step
from sciml.training import load_checkpoint, save_checkpoint


def test_first_unstable_step():
    pred = torch.zeros(3, 6, 1, 4)
    pred[0, 2, 0, 1] = float("nan")  # step 3
    pred[1, 4:, 0, 0] = 50.0  # step 5 exceeds the bound 10
    assert first_unstable_step(pred, bound=10.0).tolist() == [3, 5, 0]


def test_blow_up_is_reported_at_the_exact_step(tmp_path, capsys):
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 5, "run.evaluate": False})
    cfg = load_config(args)
    fit(cfg)
    best = tmp_path / "run" / "checkpoints" / "best.pt"
    state = load_checkpoint(best)
    # Zero network: every step adds exactly delta_mean, so u_k = u_0 + k d blows up at a computable step.
    state["model"] = {k: (torch.zeros_like(v) if not k.endswith(("_mean", "_std")) else v)
                      for k, v in state["model"].items()}
    d = 2.0
    state["model"]["delta_mean"] = torch.tensor([d])
    state["model"]["delta_std"] = torch.tensor([1.0])
    save_checkpoint({k: v for k, v in state.items() if k != "format_version"}, best)

    results = evaluate.evaluate_run(tmp_path / "run", ["evaluate.blowup_factor=3.0"])
    from sciml import recipes

    u = open_dataset(recipes.split_path(cfg.dataset, "test")).u.values
    bound = 3.0 * np.abs(u).max()
    u0 = u[:, 0]
    k = np.arange(1, 200)
    expected = [int(k[np.abs(row[None, :] + k[:, None] * d).max(1) > bound][0]) for row in u0]
    n_steps = results["rollout_steps"]
    expected = [s if s <= n_steps else None for s in expected]
    assert results["unstable"]["first_step"] == expected
    assert results["unstable"]["count"] == sum(s is not None for s in expected)
    first = min(s for s in expected if s is not None)
    assert results["per_step"]["stable_fraction"][first - 2] == 1.0
    assert results["per_step"]["stable_fraction"][first - 1] < 1.0
    saved = json.loads((tmp_path / "run" / "evaluation" / "results.json").read_text())
    assert saved["unstable"] == results["unstable"]
    assert "unstable rollouts" in capsys.readouterr().out


def test_evaluate_command_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(evaluate.main, [str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "not a run directory" in capsys.readouterr().err


def test_rollouts_can_start_later_and_report_the_accumulated_error(tmp_path):
    args = tiny_overrides(tmp_path, **{"trainer.max_steps": 5, "run.evaluate": False, "task.time_step": 1})
    fit(load_config(args))
    whole = evaluate.evaluate_run(tmp_path / "run", ["evaluate.plots=false"], verbose=False)
    later = evaluate.evaluate_run(tmp_path / "run", ["evaluate.plots=false", "evaluate.start=10"], verbose=False)
    assert later["rollout_steps"] == whole["rollout_steps"] - 10 and later["start"] == 10
    assert later["accumulated_mse"] == pytest.approx(sum(later["per_step"]["mse"]), rel=1e-9)
    # a rollout from frame 10 is not the tail of the rollout from frame 0: the model restarts on true frames
    assert later["per_step"]["mse"][0] < whole["per_step"]["mse"][10]


def test_ensemble_statistics_of_members_symmetric_about_the_truth():
    from sciml.tasks.trajectory.uncertainty import ensemble_statistics, first_below, pearson

    true = torch.randn(2, 5, 1, 16, dtype=torch.float64)
    d = torch.randn(2, 5, 1, 16, dtype=torch.float64)
    stats = ensemble_statistics([true + d, true - d], true)
    rms = d.pow(2).flatten(2).mean(-1).sqrt()
    assert all(v.shape == (2, 5) for v in stats.values())
    assert torch.allclose(stats["spread"], rms * 2 ** 0.5)  # unbiased std of {+d, -d} is sqrt(2)|d|
    assert torch.allclose(stats["error"], torch.zeros_like(rms), atol=1e-12)  # the mean is the truth
    same = ensemble_statistics([true, true.clone()], true + 1)
    assert torch.all(same["spread"] == 0)
    assert torch.allclose(same["member_correlation"], torch.ones(2, 5, dtype=torch.float64))
    assert first_below(np.array([[1.0, 0.9, 0.7, 0.9], [1.0, 1.0, 1.0, 1.0]]), 0.8).tolist() == [2, 4]
    assert pearson(np.arange(5.0), 2 * np.arange(5.0) + 1) == pytest.approx(1.0)
    assert pearson(np.ones(4), np.arange(4.0)) is None
