"""Every dataset recipe generates a small, finite, well-formed dataset with its physics in the attributes."""

import numpy as np
import pytest
import torch

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.data.check import check_file
from sciml.errors import DataError

SMALL_2D = ["dataset.n_dns=32", "dataset.n=16", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
            "dataset.steps_train=3", "dataset.steps_eval=3", "dataset.burn_in=0.1", "dataset.dt=0.01",
            "dataset.save_dt=0.05", "dataset.nu=0.01"]
SMALL = {
    "mp_pde": ["dataset.experiment=E3", "dataset.nx_fine=40", "dataset.nx=20", "dataset.nt=6",
               "dataset.n_train=3", "dataset.n_valid=1", "dataset.n_test=1"],
    "advection1d": ["dataset.n=32", "dataset.n_train=3", "dataset.n_valid=2", "dataset.n_test=2",
                    "dataset.steps_train=5", "dataset.steps_eval=5", "dataset.speeds_test=[1.0]"],
    "kolmogorov2d": SMALL_2D,
    "decaying2d": SMALL_2D,
    "smarl_cases": [*SMALL_2D, "dataset.case=kf4_beta20"],
    "ns2d_fno": SMALL_2D,
    "lorenz96_two_scale": ["dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=5",
                           "dataset.steps_eval=5", "dataset.spin_up=0.1"],
    "burgers1d": ["dataset.n=64", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
                  "dataset.steps_train=5", "dataset.steps_eval=5"],
    "ks1d": ["dataset.n=64", "dataset.L=32", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
             "dataset.steps_train=5", "dataset.steps_eval=5", "dataset.burn_in=5"],
    "burgers2d": ["dataset.n=16", "dataset.n_sim=32", "dataset.max_wavenumber=2", "dataset.substeps=2",
                  "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1", "dataset.steps_train=3",
                  "dataset.steps_eval=3"],
    "flow_mixing2d": ["dataset.n=16", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1",
                      "dataset.steps_train=3", "dataset.steps_eval=3"],
}


def test_every_generating_recipe_is_covered():
    # ``files`` generates nothing (it reads existing files) and is tested in test_mp_pde.py; ``pdebench`` copies
    # users' PDEBench files (tested below)
    generating = [name for name in recipes.registry.names()
                  if recipes.registry.get(name).simulate is not None and name != "pdebench"]
    assert sorted(SMALL) == generating
    assert "files" in recipes.registry.names()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_recipe_generates_a_clean_dataset(tmp_path, name):
    cfg = load_config([f"dataset.name={name}", f"dataset.root={tmp_path}", *SMALL[name]]).dataset
    paths = recipes.ensure_dataset(cfg, progress=False)
    ds = open_dataset(paths["train"])
    assert ds.attrs["dataset"] == name and ds.attrs["recipe_hash"] == recipes.recipe_hash(cfg)
    for v in ds.data_vars:
        if ds[v].dims == ("sample",):  # a per-sample parameter
            continue
        assert ds[v].dims[:2] == ("sample", "time") and np.isfinite(ds[v].values).all()
        assert ds[v].std() > 0
    assert check_file(paths["test"])[1] == []


def test_smarl_cases_set_beta_and_forcing_wavenumber(tmp_path):
    cfg = load_config(["dataset.name=smarl_cases", f"dataset.root={tmp_path}", *SMALL["smarl_cases"]]).dataset
    attrs = open_dataset(recipes.ensure_dataset(cfg, progress=False)["valid"]).attrs
    assert attrs["beta"] == 20.0 and attrs["param_k_f"] == 4
    with pytest.raises(ValueError, match="bad value for 'dataset.case': 'kf9'"):
        load_config(["dataset.name=smarl_cases", f"dataset.root={tmp_path}", "dataset.case=kf9"])


def test_advection_is_an_exact_shift_with_a_speed_per_trajectory(tmp_path):
    # beta dt = dx: every frame is the previous one rolled by one grid point
    cfg = load_config(["dataset.name=advection1d", f"dataset.root={tmp_path}", "dataset.n=32", "dataset.L=1",
                       f"dataset.dt={1 / 128}", "dataset.speeds=[4.0]", "dataset.speeds_test=[-2.0, 2.0]",
                       "dataset.n_train=3", "dataset.n_valid=1", "dataset.n_test=8", "dataset.steps_train=6",
                       "dataset.steps_eval=4"]).dataset
    paths = recipes.ensure_dataset(cfg, progress=False)
    train = open_dataset(paths["train"])
    u = train.u.values
    for j in range(1, 7):
        np.testing.assert_allclose(u[:, j], np.roll(u[:, 0], j, axis=-1), atol=1e-5)
    assert (train.beta.values == 4.0).all()
    test = open_dataset(paths["test"])
    assert set(test.beta.values) == {-2.0, 2.0}  # held-out speeds for the test split
    for i, beta in enumerate(test.beta.values):  # |beta| dt = dx / 2: two frames make one grid point
        np.testing.assert_allclose(test.u.values[i, 2], np.roll(test.u.values[i, 0], int(np.sign(beta)), -1),
                                   atol=1e-5)


def test_mp_pde_resolutions_hold_the_same_trajectories_averaged_down(tmp_path):
    common = [f"dataset.root={tmp_path}", "dataset.name=mp_pde", "dataset.experiment=E2", "dataset.nx_fine=40",
              "dataset.nt=11", "dataset.n_train=5", "dataset.n_valid=1", "dataset.n_test=1", "dataset.batch_size=2"]
    fine_cfg = load_config([*common, "dataset.nx=40"]).dataset
    fine = open_dataset(recipes.ensure_dataset(fine_cfg, progress=False)["train"])
    coarse_cfg = load_config([*common, "dataset.nx=8"]).dataset
    coarse = open_dataset(recipes.ensure_dataset(coarse_cfg, progress=False)["train"])
    np.testing.assert_allclose(coarse.u.values, fine.u.values.reshape(5, 11, 8, 5).mean(-1), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(coarse.beta.values, fine.beta.values)
    assert (fine.alpha.values == 1).all() and (fine.gamma.values == 0).all()
    assert 0 <= fine.beta.values.min() and fine.beta.values.max() <= 0.2 and len(set(fine.beta.values)) == 5
    assert fine.attrs["dt"] == pytest.approx(4 / 10) and coarse.x.values[0] == pytest.approx(1.0)  # 16 / 8 / 2
    # u0 is the forcing at t = 0: five sines with amplitudes of at most 0.5
    assert np.abs(fine.u.values[:, 0]).max() <= 2.5 and fine.u.values[:, 0].std() > 0.1
    with pytest.raises(ValueError, match="must divide dataset.nx_fine"):
        load_config([*common, "dataset.nx=7"])


def test_mp_pde_released_loader_projection_is_the_released_kernel(tmp_path):
    from sciml.recipes.mp_pde import loader_projection

    common = [f"dataset.root={tmp_path}", "dataset.name=mp_pde", "dataset.experiment=E2", "dataset.nx_fine=40",
              "dataset.nt=5", "dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1", "dataset.batch_size=2"]
    fine = open_dataset(recipes.ensure_dataset(load_config([*common, "dataset.nx=40"]).dataset,
                                               progress=False)["train"]).u.values
    coarse = open_dataset(recipes.ensure_dataset(load_config([*common, "dataset.nx=10",
                                                              "dataset.projection=released_loader"]).dataset,
                                                 progress=False)["train"])
    by_hand = np.empty((2, 5, 10))
    for i in range(10):  # the mean of 5 fine values around every 4th; the left pad is fine values -3, -2
        idx = [-3, -2, 0, 1, 2] if i == 0 else list(range(4 * i - 2, 4 * i + 3))
        by_hand[..., i] = fine[..., idx].mean(-1)
    np.testing.assert_allclose(coarse.u.values, by_hand, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(coarse.x.values, (4 * np.arange(10) + 0.5) * 16 / 40)  # centred on fine cell 4i
    u = torch.randn(3, 40, dtype=torch.float64)
    assert loader_projection(u, 40).shape == (3, 40)  # ratio 1: a 5-point moving mean, as the loader would
    with pytest.raises(ValueError, match="cannot be projected"):
        loader_projection(u, 7)
    with pytest.raises(ValueError, match="dataset.projection"):
        load_config([*common, "dataset.nx=10", "dataset.projection=kernel"])


def test_mp_pde_files_hold_the_forcing_so_a_numerical_solver_can_rerun_a_trajectory(tmp_path):
    import torch

    from sciml.recipes.mp_pde import forcing_from_parameters
    from sciml.sim.combined_burgers import CombinedBurgers, average_down

    cfg = load_config([f"dataset.root={tmp_path}", "dataset.name=mp_pde", "dataset.experiment=E3", "dataset.nx_fine=40",
                       "dataset.nx=20", "dataset.nt=5", "dataset.n_train=2", "dataset.n_valid=1",
                       "dataset.n_test=1"]).dataset
    ds = open_dataset(recipes.ensure_dataset(cfg, progress=False)["train"])
    params = {k: ds[k].values for k in ds.data_vars if ds[k].dims == ("sample",)}
    sim = CombinedBurgers(n=40, L=16.0, forcing=forcing_from_parameters(params),
                          **{k: torch.as_tensor(params[k]) for k in ("alpha", "beta", "gamma")})
    rerun = sim.solve(sim.initial_condition(), torch.tensor(ds.time.values), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(average_down(rerun, 20).numpy(), ds.u.values, rtol=1e-5, atol=1e-5)


def test_conditional_ks_draws_nu_per_trajectory_and_simulates_each_with_its_own(tmp_path):
    import torch

    from sciml.sim import KuramotoSivashinsky

    cfg = load_config(["dataset.name=ks1d", f"dataset.root={tmp_path}", *SMALL["ks1d"], "dataset.n_train=4",
                       "dataset.nu_range=[0.5, 1.5]"]).dataset
    train = open_dataset(recipes.ensure_dataset(cfg, progress=False)["train"])
    nu = train.nu.values
    assert nu.shape == (4,) and ((0.5 <= nu) & (nu <= 1.5)).all() and len(set(nu.tolist())) == 4
    assert train.attrs["nu_range"].tolist() == [0.5, 1.5] and "nu" not in train.attrs
    # the trajectory with the smallest nu, from its stored frame 0, against a direct simulation
    i = int(np.argmin(nu))
    sim = KuramotoSivashinsky(n=cfg.n, L=cfg.L, nu=float(nu[i]))
    u0 = torch.as_tensor(train.u.values[i, 0], dtype=torch.float64)[None]
    again = sim.rollout(u0, 5 * cfg.substeps, cfg.dt / cfg.substeps, save_every=cfg.substeps)[0, -1].numpy()
    other = KuramotoSivashinsky(n=cfg.n, L=cfg.L, nu=1.5).rollout(u0, 5 * cfg.substeps, cfg.dt / cfg.substeps,
                                                                  save_every=cfg.substeps)[0, -1].numpy()
    stored = train.u.values[i, 5]
    assert np.abs(again - stored).max() < 1e-4 * np.abs(stored).max()  # float32 storage of frame 0
    assert np.abs(other - stored).max() > 1e-2 * np.abs(stored).max()
    with pytest.raises(ValueError, match="dataset.nu_range"):
        load_config(["dataset.name=ks1d", "dataset.nu_range=[1.5, 0.5]"])


def test_burgers_draws_nu_per_trajectory_and_solves_each_with_its_own(tmp_path):
    from sciml.sim import Burgers

    args = ["dataset.name=burgers1d", f"dataset.root={tmp_path}", "dataset.n=32", "dataset.n_fine=64",
            "dataset.L=1.0", "dataset.nus=[0.01,0.1]", "dataset.nus_test=[0.05]", "dataset.viscosity_factor=0.5",
            "dataset.dt=0.05", "dataset.substeps=10", "dataset.n_train=6", "dataset.n_valid=1", "dataset.n_test=2",
            "dataset.steps_train=4", "dataset.steps_eval=4"]
    cfg = load_config(args).dataset
    paths = recipes.ensure_dataset(cfg, progress=False)
    train, test = open_dataset(paths["train"]), open_dataset(paths["test"])
    assert set(train["nu"].values) == {0.01, 0.1} and set(test["nu"].values) == {0.05}
    # each trajectory is the fine solution with viscosity_factor * nu, every second point kept; the initial
    # sines (wavenumbers <= 3) are band-limited, so the fine initial state is the coarse one interpolated
    u = train["u"].values
    for i in (0, 3):
        u0 = torch.fft.irfft(torch.fft.rfft(torch.as_tensor(u[i, 0], dtype=torch.float64)), n=64) * 2
        sim = Burgers(n=64, L=1.0, nu=0.5 * float(train["nu"][i]))
        fine = sim.rollout(u0[None], 40, 0.005, save_every=10)[0, :, ::2]
        np.testing.assert_allclose(u[i], fine.numpy(), atol=2e-6)
    nus = train["nu"].values
    a, b = np.flatnonzero(nus == 0.01)[0], np.flatnonzero(nus == 0.1)[0]
    decay = [np.abs(u[j, -1]).max() / np.abs(u[j, 0]).max() for j in (a, b)]
    assert decay[1] < decay[0]  # more viscous, faster decay


def test_pdebench_files_become_splits_with_held_out_parameter_values(tmp_path):
    import h5py

    for beta in (0.2, 0.4, 2.0):
        with h5py.File(tmp_path / f"1D_Advection_Sols_beta{beta}.hdf5", "w") as f:
            f["tensor"] = (np.arange(6 * 11 * 16, dtype=np.float32).reshape(6, 11, 16) + 1000 * beta)
            f["x-coordinate"] = (np.arange(16) + 0.5) / 16
            f["t-coordinate"] = np.linspace(0, 2.2, 12)  # one entry more than the data, as PDEBench writes it
    files = [str(tmp_path / f"1D_Advection_Sols_beta{b}.hdf5") for b in (0.2, 0.4, 2.0)]
    args = ["dataset.name=pdebench", f"dataset.root={tmp_path / 'data'}", f"dataset.files=[{','.join(files)}]",
            "dataset.train_values=[0.2,2.0]", "dataset.n_train=3", "dataset.n_valid=1", "dataset.n_test=2",
            "dataset.space_stride=4", "dataset.time_stride=5"]
    cfg = load_config(args).dataset
    paths = recipes.ensure_dataset(cfg, progress=False)
    train, test = open_dataset(paths["train"]), open_dataset(paths["test"])
    assert train["beta"].values.tolist() == [0.2] * 3 + [2.0] * 3  # 0.4 is held out
    assert test["beta"].values.tolist() == [0.2] * 2 + [0.4] * 2 + [2.0] * 2
    assert train["tensor"].shape == (6, 3, 4) and test["tensor"].shape == (6, 3, 4)
    np.testing.assert_allclose(train.time.values, [0.0, 1.0, 2.0])
    # values: the file's own samples 4 and 5 (after 3 train + 1 valid), frames 0, 5, 10, points 0, 4, 8, 12
    expected = np.arange(6 * 11 * 16).reshape(6, 11, 16)[4:6, ::5, ::4] + 1000 * 0.4
    np.testing.assert_allclose(test["tensor"].values[2:4], expected)
    assert test.attrs["dt"] == 1.0 and check_file(paths["test"])[1] == []
    # several parameters per file (2D CFD: M, Eta, Zeta): every varying one is a per-sample parameter
    cfd = []
    for m, eta in ((0.1, 0.01), (1.0, 0.01), (0.1, 0.1)):
        path = tmp_path / f"2D_CFD_Rand_M{m}_Eta{eta}_Zeta0.01_periodic_128_Train.hdf5"
        with h5py.File(path, "w") as f:
            for name in ("density", "pressure", "Vx", "Vy"):
                f[name] = np.random.default_rng(0).random((3, 4, 8, 8), dtype=np.float32) + m
        cfd.append(str(path))
    two = load_config(["dataset.name=pdebench", f"dataset.root={tmp_path / 'cfd'}", f"dataset.files=[{','.join(cfd)}]",
                       f"dataset.train_files=[{cfd[0]},{cfd[1]}]", "dataset.n_train=1", "dataset.n_valid=1",
                       "dataset.n_test=1"]).dataset
    test = open_dataset(recipes.ensure_dataset(two, progress=False)["test"])
    assert test["M"].values.tolist() == [0.1, 1.0, 0.1] and test["Eta"].values.tolist() == [0.01, 0.01, 0.1]
    assert "Zeta" not in test and set(test.data_vars) >= {"density", "pressure", "Vx", "Vy"}
    train = open_dataset(recipes.ensure_dataset(two, progress=False)["train"])
    assert train["M"].values.tolist() == [0.1, 1.0]
    with pytest.raises(DataError, match="6 samples, the splits need 11"):
        recipes.ensure_dataset(load_config([*args, "dataset.n_train=8", f"dataset.root={tmp_path / 'd2'}"]).dataset,
                               progress=False)
