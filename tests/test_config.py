"""Configs: defaults, YAML composition, and one-line errors with exit status 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from sciml import train
from sciml.cli import run_cli
from sciml.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_have_the_keys_scripts_rely_on():
    cfg = load_config([])
    assert cfg.solver.name == "fno" and cfg.dataset.name == "ks1d"
    assert cfg.trainer.max_steps > 0 and isinstance(cfg.trainer.seed, int)
    assert cfg.trainer.device == "auto" and cfg.run.dir


def test_files_merge_in_order_and_overrides_win(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("trainer:\n  lr: 0.1\n  batch_size: 4\n")
    b = tmp_path / "b.yaml"
    b.write_text("include: [a.yaml]\ntrainer:\n  lr: 0.2\n")
    cfg = load_config([str(b), "trainer.batch_size=7"])
    assert cfg.trainer.lr == 0.2 and cfg.trainer.batch_size == 7


def test_solver_section_is_typed_by_its_name():
    cfg = load_config(["solver.name=unet", "solver.hidden=16"])
    assert cfg.solver.hidden == 16
    with pytest.raises(ConfigError, match="solver.hidden"):
        load_config(["solver.hidden=16"])  # the FNO has no 'hidden'


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["trainer.max_step=3"], "unknown config key 'trainer.max_step'; did you mean 'max_steps'?"),
        (["trainer.max_steps=abc"], "trainer.max_steps"),
        (["trainer.max_steps=0"], "trainer.max_steps"),
        (["trainer.schedule=linear"], "trainer.schedule"),
        (["solver.name=transformer"], "unknown solver.name 'transformer'"),
        (["evaluate.metrics=[mse,foo]"], "unknown metric 'foo'"),
        (["does/not/exist.yaml"], "config file not found: does/not/exist.yaml"),
        (["trainer.device=tpu"], "trainer.device"),
        (["task.name=collocation"], "solver fno cannot be trained by task collocation"),
        (["task.name=telepathy"], "unknown task.name 'telepathy'"),
        (["task.pushforward=2"], "task.pushforward=2 needs task.horizon >= 3"),
        (["task.horizon=3", "task.teacher_forcing=sometimes"], "task.teacher_forcing"),
        (["dataset.n=7"], "bad value for 'dataset.n': 7 (a spectral grid needs an even size >= 8)"),
        (["dataset.name=smarl_cases", "dataset.k_f=10"], "dataset.k_f=10 conflicts with dataset.case=kf4_beta0"),
        (["dataset.name=kolmogorov2d", "dataset.save_dt=0.0123"], "must be a whole multiple of dataset.dt"),
        (["solver.name=pinn", "solver.fourier_features=16", "solver.periodic_harmonics=4"],
         "solver.periodic_harmonics would be ignored"),
        (["solver.name=pinn", "solver.fourier_features=16", "solver.normalise_inputs=true"],
         "solver.normalise_inputs would be ignored"),
        (["solver.name=pinn", "trainer.lbfgs_points=100"], "there is no L-BFGS stage"),
        (["trainer.gamma=0.3"], "trainer.gamma=0.3 is read by the step and multistep schedule only"),
        (["trainer.schedule=multistep"], "needs increasing trainer.milestones"),
        (["trainer.milestones=[5]"], "trainer.milestones=[5] is read by the multistep schedule only"),
        (["solver.name=pinn", "trainer.min_lr=0.1"], "trainer.min_lr=0.1 is read by the cosine schedule only"),
    ],
)
def test_bad_config_exits_2_with_one_line(args, needle, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err


def test_invalid_yaml_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: [unclosed\n")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, [str(bad)])
    assert exit_info.value.code == 2
    assert str(bad) in capsys.readouterr().err


def test_print_config_round_trips(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train.main, ["--print-config", "trainer.lr=0.5"])
    assert exit_info.value.code == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    assert load_config([str(printed)]) == load_config(["trainer.lr=0.5"])


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for d in ("solvers", "datasets", "experiments")
                                        for p in (ROOT / d).glob("*.yaml")))
def test_shipped_yaml_files_load(path):
    if path.name.startswith("calibrate_"):  # python -m sciml.calibrate configs
        from sciml.calibration import load_calibration_config

        load_calibration_config([str(ROOT / path)])
    else:
        load_config([str(ROOT / path)])


def test_command_line_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sciml.train", "trainer.bogus=1"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown config key 'trainer.bogus'"


def test_configuration_reference_documents_every_key():
    from dataclasses import fields

    from sciml.config import schema

    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = []
    from sciml import recipes, solvers

    combos = [(s, "trajectory", "ks1d") for s in solvers.registry.names() if "trajectory" in solvers.get(s).tasks]
    combos += [("fno", "trajectory", d) for d in recipes.registry.names()]
    for solver, task, dataset in [*combos, ("polynomial", "closure", "lorenz96_two_scale")]:
        root = schema(solver, task, {"dataset": dataset})
        for section in fields(root):
            for f in fields(section.default_factory):
                if f"`{section.name}.{f.name}`" not in doc and f"`{section.name}.{f.name}`," not in doc:
                    missing.append(f"{section.name}.{f.name}")
    from sciml.pinn.config import PROBLEM_CONFIGS

    for solver, problem in [(s, p) for s in ("pinn", "pig") for p in PROBLEM_CONFIGS]:
        root = schema(solver, "collocation", {"problem": problem})
        for section in fields(root):
            for f in fields(section.default_factory):
                if f"`{section.name}.{f.name}`" not in doc:
                    missing.append(f"{section.name}.{f.name}")
    from sciml.calibration import CalibrationConfig

    for section in fields(CalibrationConfig):
        if not hasattr(section.default_factory, "__dataclass_fields__"):
            if f"`{section.name}`" not in doc:
                missing.append(section.name)
            continue
        for f in fields(section.default_factory):
            if f"`{section.name}.{f.name}`" not in doc:
                missing.append(f"{section.name}.{f.name}")
    assert not missing, f"docs/configuration.md lacks {sorted(set(missing))}"


def test_the_task_follows_the_solver_and_types_its_sections():
    cfg = load_config([])
    assert cfg.task.name == "trajectory" and cfg.task.horizon == 1 and not hasattr(cfg, "problem")
    cfg = load_config(["solver.name=pig", "problem.name=helmholtz2d"])
    assert cfg.task.name == "collocation" and cfg.problem.a1 == 4.0 and not hasattr(cfg, "dataset")
    assert cfg.trainer.optimizer == "adam" and cfg.trainer.schedule == "step" and cfg.evaluate.checkpoint == "last"
    with pytest.raises(ConfigError, match="unknown config key 'trainer.val_batches'"):
        load_config(["solver.name=pinn", "trainer.val_batches=3"])  # a trajectory key in a collocation run


def test_a_preset_counts_once_in_the_dataset_hash():
    from sciml import recipes

    default = load_config(["dataset.name=smarl_cases"]).dataset
    spelled = load_config(["dataset.name=smarl_cases", "dataset.k_f=4", "dataset.beta=0"]).dataset
    other = load_config(["dataset.name=smarl_cases", "dataset.case=kf25_beta0"]).dataset
    assert recipes.recipe_hash(default) == recipes.recipe_hash(spelled) != recipes.recipe_hash(other)
