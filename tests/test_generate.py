"""python -m sciml.generate: files in our schema, reproducible from the seed, keyed by their parameters."""

import numpy as np
import pytest
from conftest import tiny_overrides

from sciml import generate, recipes
from sciml.cli import run_cli
from sciml.config import load_config
from sciml.data import open_dataset


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
