"""python -m sciml.generate: files in our schema, reproducible from the seed, keyed by their parameters."""

import numpy as np
import pytest
from conftest import tiny_overrides

from sciml import generate, recipes
from sciml.cli import run_cli
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.errors import ConfigError


def test_generate_writes_reproducible_splits(tmp_path, capsys):
    args = tiny_overrides(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(generate.main, args)
    assert exit_info.value.code == 0
    cfg = load_config(args)
    paths = {s: recipes.split_path(cfg.dataset, s) for s in recipes.SPLITS}
    out = capsys.readouterr().out
    assert all(str(p) in out for p in paths.values())
    test = open_dataset(paths["test"])
    assert test.u.shape == (4, 49, 64) and test.attrs["split"] == "test" and test.attrs["dt"] == 0.2
    assert test.attrs["recipe_hash"] == recipes.recipe_hash(cfg.dataset)
    first = test.u.values.copy()
    train = open_dataset(paths["train"]).u.values
    assert not np.allclose(train[:4, :25], first[:, :25]), "splits must draw different initial conditions"
    with pytest.raises(SystemExit):
        run_cli(generate.main, [*args, "--overwrite"])
    np.testing.assert_array_equal(open_dataset(paths["test"]).u.values, first)


def test_changed_parameters_never_reuse_stale_files(tmp_path):
    a = load_config(tiny_overrides(tmp_path)).dataset
    b = load_config(tiny_overrides(tmp_path, **{"dataset.nu": 0.9})).dataset
    c = load_config(tiny_overrides(tmp_path, **{"dataset.device": "cpu", "dataset.root": "elsewhere"})).dataset
    assert recipes.dataset_dir(a) != recipes.dataset_dir(b)
    assert recipes.recipe_hash(a) == recipes.recipe_hash(c)


def test_generation_is_streamed_in_blocks_and_independent_of_the_block_size(tmp_path, monkeypatch):
    small = load_config(tiny_overrides(tmp_path / "a", **{"dataset.batch_size": 3})).dataset
    large = load_config(tiny_overrides(tmp_path / "b", **{"dataset.batch_size": 16})).dataset
    assert recipes.recipe_hash(small) == recipes.recipe_hash(large)
    recipe = recipes.get("ks1d")
    calls = []

    def spy(cfg, split, start, stop):
        calls.append((split, start, stop))
        return recipe.simulate(cfg, split, start, stop)

    monkeypatch.setattr(recipes, "get", lambda name: recipes.DatasetRecipe(recipe.config, recipe.layout, spy))
    a = recipes.ensure_dataset(small, progress=False)
    assert [c for c in calls if c[0] == "train"] == [("train", s, min(s + 3, 16)) for s in range(0, 16, 3)]
    b = recipes.ensure_dataset(large, progress=False)
    np.testing.assert_allclose(open_dataset(a["train"]).u.values, open_dataset(b["train"]).u.values, atol=1e-5)


def test_a_failed_generation_leaves_no_file(tmp_path, monkeypatch):
    cfg = load_config(tiny_overrides(tmp_path)).dataset
    recipe = recipes.get("ks1d")

    def fail_midway(cfg, split, start, stop):
        if start > 0:
            raise FloatingPointError("blew up")
        return recipe.simulate(cfg, split, start, stop)

    monkeypatch.setattr(recipes, "get", lambda name: recipes.DatasetRecipe(recipe.config, recipe.layout, fail_midway))
    cfg.batch_size = 4
    with pytest.raises(ConfigError, match=r"ks1d: the train split blew up while generating \(blew up\) with L=32.0"):
        recipes.ensure_dataset(cfg, progress=False)
    folder = recipes.dataset_dir(cfg)
    assert not any(folder.iterdir()), list(folder.iterdir())


def test_a_blown_up_generation_exits_2_with_one_line_naming_the_parameters(tmp_path, monkeypatch, capsys):
    recipe = recipes.get("ks1d")

    def blow_up(cfg, split, start, stop):
        raise FloatingPointError("KuramotoSivashinsky rollout blew up (NaN/inf) between steps 3 and 4 (dt=0.05)")

    monkeypatch.setattr(recipes, "get", lambda name: recipes.DatasetRecipe(recipe.config, recipe.layout, blow_up))
    with pytest.raises(SystemExit) as exit_info:
        run_cli(generate.main, tiny_overrides(tmp_path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "between steps 3 and 4" in err[0] and "nu=1.0, dt=0.2, substeps=4" in err[0]


def test_rollout_to_file_streams_chunks_and_matches_an_in_memory_rollout(tmp_path):
    import torch

    from sciml.recipes import rollout_to_file
    from sciml.sim import NavierStokes2D

    sim = NavierStokes2D(n=16, nu=0.02, forcing="kolmogorov", k_f=2)
    w0 = torch.randn(2, 16, 16, generator=torch.Generator().manual_seed(0))
    path = rollout_to_file(sim, w0, 60, 0.01, tmp_path / "run.nc", save_every=5, chunk=4, variable="vorticity")
    ds = open_dataset(path)
    assert ds.vorticity.shape == (2, 13, 16, 16) and ds.attrs["dt"] == pytest.approx(0.05)
    expected = sim.rollout(w0, 60, 0.01, save_every=5).float().numpy()
    np.testing.assert_allclose(ds.vorticity.values, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of save_every"):
        rollout_to_file(sim, w0, 61, 0.01, tmp_path / "bad.nc", save_every=5)
