"""The parity benchmark's own code: the torch-cluster shim against a direct computation, the one scoring
function against hand computations, the launcher's seeding and timing, the last line's format."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from parity_common import Budget, Row, last_line, score, table  # noqa: E402


def load_shim():
    """The shim under another name, so that no test process sees a module called ``torch_cluster``."""
    spec = importlib.util.spec_from_file_location("sciml_torch_cluster_shim",
                                                  BENCHMARKS / "reference_shims" / "torch_cluster" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def direct_radius_pairs(x, r, batch, loop=False):
    x = x.reshape(len(x), -1).double()
    pairs = set()
    for i in range(len(x)):  # target
        for j in range(len(x)):  # source
            if batch[i] == batch[j] and (loop or i != j) and float((x[i] - x[j]).norm()) < r:
                pairs.add((j, i))
    return pairs


def test_radius_graph_shim_equals_the_direct_computation():
    shim = load_shim()
    gen = torch.Generator().manual_seed(0)
    for x in (torch.rand(40, generator=gen) * 5, torch.rand(30, 2, generator=gen)):
        batch = torch.arange(len(x)) % 3
        for loop in (False, True):
            edges = shim.radius_graph(x, r=0.7, batch=batch, loop=loop)
            assert set(map(tuple, edges.T.tolist())) == direct_radius_pairs(x, 0.7, batch, loop)
            assert edges.shape[1] == len(direct_radius_pairs(x, 0.7, batch, loop))  # no duplicates
            assert (torch.diff(edges[1]) >= 0).all()  # ordered by target, as torch-cluster returns them
    # the released MP-PDE call: linspace(0, 16, 50) per graph, r = 3 dx + 1e-4, two graphs: no periodic wrap
    x = torch.linspace(0, 16, 50).repeat(2)
    batch = torch.arange(2).repeat_interleave(50)
    edges = shim.radius_graph(x, r=3 * (16 / 49) + 1e-4, batch=batch, loop=False)
    degree = torch.bincount(edges[1], minlength=100)
    assert degree[:50].tolist() == [3, 4, 5] + [6] * 44 + [5, 4, 3] and degree[50:].tolist() == degree[:50].tolist()
    flipped = shim.radius_graph(x, r=1.0, batch=batch, flow="target_to_source")
    assert set(map(tuple, flipped.T.tolist())) == {(i, j) for j, i in direct_radius_pairs(x, 1.0, batch)}


def test_radius_graph_shim_caps_neighbours_with_the_nearest_and_knn_graph():
    shim = load_shim()
    x = torch.arange(10.0)
    edges = shim.radius_graph(x, r=100.0, max_num_neighbors=2)
    assert torch.bincount(edges[1]).tolist() == [2] * 10
    assert set(edges[0][edges[1] == 5].tolist()) == {4, 6}
    gen = torch.Generator().manual_seed(1)
    pts = torch.rand(25, 2, generator=gen)
    batch = torch.arange(25) // 13
    knn = shim.knn_graph(pts, k=4, batch=batch)
    for i in range(25):
        same = [j for j in range(25) if batch[j] == batch[i] and j != i]
        nearest = sorted(same, key=lambda j: float((pts[i] - pts[j]).norm()))[:4]
        assert sorted(knn[0][knn[1] == i].tolist()) == sorted(nearest)


def test_score_against_hand_computations():
    truth = np.zeros((2, 4, 5))
    truth[:, :, 0] = 1.0
    pred = truth.copy()
    pred[0, 1, 2] = 2.0  # one squared error of 4 over 5 nodes: 0.8 in trajectory 0
    s = score(pred, truth, dt=0.5)
    assert s["accumulated_error"] == pytest.approx(0.4) and s["unstable"] == 0
    # correlation: step 2 of trajectory 0 drops, the mean over samples stays above 0.8 only at step 1
    corr0 = np.corrcoef(pred[0, 1], truth[0, 1])[0, 1]
    assert (1 + corr0) / 2 < 0.8 and s["correlation_time"] == pytest.approx(0.5)
    blown = pred.copy()
    blown[1, 3, 0] = np.inf
    out = score(blown, truth, dt=0.5)
    assert out["unstable"] == 1 and math.isinf(out["accumulated_error"])
    with pytest.raises(ValueError, match="differ in shape"):
        score(pred[:, :3], truth, dt=0.5)


def test_table_and_last_line():
    rows = [Row("reference", s, {"accumulated_error": v, "correlation_time": 1.0, "unstable": 0}, 0.5, 250, 600000)
            for s, v in enumerate((40.0, 44.0))]
    rows += [Row("ours", s, {"accumulated_error": v, "correlation_time": 2.0, "unstable": 0}, 0.1, 250, 610000)
             for s, v in enumerate((20.0, 22.0))]
    line = last_line("mp_pde", "accumulated_error", "small", rows)
    assert line == ("mp_pde: ours/reference = 0.50 on accumulated_error (budget small, 2 seeds; reference 42.000 ± "
                    "2.828, ours 21.000 ± 1.414)")
    text = table(rows, "accumulated_error")
    assert "| reference mean ± std | 2 seeds | 42.000 ± 2.828" in text and text.count("\n") == 7


def test_launcher_seeds_and_times_an_unchanged_script(tmp_path):
    script = tmp_path / "released.py"
    script.write_text("import sys, random, torch, json, helper\n"
                      "helper.work(3)\n"
                      "torch.cuda.synchronize() if '--flag=1' in sys.argv else None\n"
                      "json.dump([sys.argv[1:], random.random(), torch.rand(1).item()], open('out.json', 'w'))\n")
    (tmp_path / "helper.py").write_text("def work(n):\n    return sum(range(n))\n")
    runs = []
    for _ in range(2):
        subprocess.run([sys.executable, str(BENCHMARKS / "reference_shims" / "run_seeded.py"), "--seed", "7",
                        "--threads", "1", "--time", "helper:work", "--timings", "t.json", "--no-cuda-sync", str(script),
                        "--flag=1"],
                       cwd=tmp_path, check=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
        runs.append(json.loads((tmp_path / "out.json").read_text()))
    assert runs[0] == runs[1] and runs[0][0] == ["--flag=1"]
    timings = json.loads((tmp_path / "t.json").read_text())
    assert timings["helper:work"]["calls"] == 1 and 0 <= timings["helper:work"]["seconds"] <= timings["total_seconds"]


def test_budget_curve_fit_recovers_a_power_law_and_reads_results(tmp_path):
    from parity_curve import fit, load

    points = {250: [40.0, 44.0], 1000: [21.0], 4000: [10.5]}  # means 42, 21, 10.5: error = a steps^-0.5
    a, b = fit(points)
    assert b == pytest.approx(-0.5, abs=1e-3) and a == pytest.approx(42 * 250**0.5, rel=1e-3)
    assert fit({250: [1.0]}) is None
    folder = tmp_path / "mp_pde" / "small"
    folder.mkdir(parents=True)
    rows = [{"code": c, "seed": 0, "steps": 250, "scores": {"accumulated_error": v}} for c, v in
            (("reference", 40.0), ("ours", 30.0))]
    (folder / "results.json").write_text(json.dumps(rows))
    assert load(tmp_path, "mp_pde") == {"reference": {250: [40.0]}, "ours": {250: [30.0]}}


def test_budget_steps_follow_each_reference_s_epoch():
    assert Budget(n_train=16, epochs=1, passes=250).steps == 250  # MP-PDE: 250 passes of one batch
    assert Budget(n_train=64, epochs=4, passes=250).steps == 4000
    assert Budget(n_train=16, epochs=2, windows=126).steps == 252  # LE-PDE: every window once


def test_launcher_runs_gpu_only_calls_on_cpu_and_stands_in_for_missing_modules(tmp_path):
    script = tmp_path / "released.py"
    script.write_text("import json, numpy as np, torch\n"
                      "from pkg.absent import thing\n"  # a module the release imports but does not ship
                      "g = torch.Generator(device='cuda')\n"
                      "assert isinstance(g, torch.Generator)\n"
                      "x = torch.randperm(5, generator=g).cuda()\n"
                      "try:\n    thing()\n    called = True\nexcept RuntimeError as exc:\n    called = str(exc)\n"
                      "json.dump([x.device.type, called, np.infty], open('out.json', 'w'))\n")
    subprocess.run([sys.executable, str(BENCHMARKS / "reference_shims" / "run_seeded.py"), "--seed", "0",
                    "--threads", "1", "--legacy-aliases", "--cpu-for-cuda", "--missing", "pkg.absent:thing",
                    str(script)], cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})
    device, called, inf = json.loads((tmp_path / "out.json").read_text())
    assert device == "cpu" and inf == math.inf
    assert called == "pkg.absent is not in the released code (a placeholder of run_seeded.py --missing)"


def test_cape_scores_saturate_blow_ups_and_take_geometric_means_by_class():
    from parity_cape import classify, score_by_value

    assert [classify(v, [0.2, 0.7, 2.0]) for v in (0.2, np.float32(0.7), 0.4, 0.1, 4.0)] == [
        "seen", "seen", "interpolated", "extrapolated", "extrapolated"]
    truth = np.ones((4, 3, 2))
    pred = truth.copy()
    pred[0] *= 1.5  # rel L2 0.5
    pred[1] *= 0.75  # 0.25
    pred[2] *= 1.1  # 0.1
    pred[3, 2] = np.nan  # blows up at the last frame: saturated at 10 max|truth| = 10, so sqrt(81 * 2 / 6)
    param = np.array([0.2, 0.2, 0.4, 4.0])
    scores, per_value = score_by_value(pred, truth, param, [0.2, 0.7], dt=1.0)
    assert per_value == pytest.approx({"v=0.2": 0.375, "v=0.4": 0.1, "v=4": math.sqrt(27)})
    assert scores["seen"] == pytest.approx(0.375) and scores["interpolated"] == pytest.approx(0.1)
    assert scores["extrapolated"] == pytest.approx(math.sqrt(27))
    assert scores["rel_l2"] == pytest.approx((0.375 * 0.1 * math.sqrt(27)) ** (1 / 3))
    assert scores["unstable"] == 1 and scores["unstable_extrapolated"] == 1 and scores["unstable_seen"] == 0


def test_cape_reference_files_hold_an_equal_share_of_each_value():
    import xarray as xr
    from parity_cape import balanced

    ds = xr.Dataset({"u": (("sample", "x"), np.arange(14.0)[:, None] * np.ones((1, 2))),
                     "beta": ("sample", np.array([0.2, 0.7] * 7))})
    out = balanced(ds, "beta", [0.2, 0.7], 10)
    assert out.beta.values.tolist() == [0.2] * 5 + [0.7] * 5 and out.u.values[:, 0].tolist() == [0, 2, 4, 6, 8, 1,
                                                                                                  3, 5, 7, 9]
    with pytest.raises(SystemExit, match="beta = 0.2: 7 trajectories, 8 needed"):
        balanced(ds, "beta", [0.2, 0.7], 16)


def test_a_cape_variant_adds_its_keys_to_our_config_and_needs_a_tag(tmp_path, capsys):
    import parity
    from parity_cape import BUDGETS, our_overrides

    from sciml.config import load_config

    ours = {s: tmp_path / f"{s}.nc" for s in ("train", "valid", "test")}
    args = our_overrides("burgers", BUDGETS["small"], ours, tmp_path / "run", 0, 2,
                         extra=("solver.param_scaling=log", "solver.norm_floor=0"))
    cfg = load_config(args)
    assert cfg.solver.param_scaling == "log" and cfg.solver.norm_floor == 0 and cfg.task.params == ["nu"]
    for argv, message in ((["cape", "--reference", str(tmp_path), "--set", "solver.norm_floor=0"], "go together"),
                          (["mp_pde", "--reference", str(tmp_path), "--set", "a=1", "--tag", "t"], "is for cape"),
                          (["cape", "--reference", str(tmp_path), "--set", "floor", "--tag", "t"], "KEY=VALUE")):
        with pytest.raises(SystemExit):
            parity.main(argv)
        assert message in capsys.readouterr().err


def fake_pdearena(monkeypatch):
    """A stand-in for the two PDEArena modules the shim imports (CI has no PDEArena): a base class with the
    release's ``hparams`` and ``model`` attributes and a registry holding ``Unetmod-1d-64``."""
    import types

    class PDERefiner(torch.nn.Module):
        def __init__(self, model, difference_weight=0.3):
            super().__init__()
            self.model = model
            self.hparams = types.SimpleNamespace(time_future=1, predict_difference=True,
                                                 difference_weight=difference_weight)
            self.train_criterion = torch.nn.functional.mse_loss

    registry = {"Unetmod-1d-64": {"class_path": "pdearena.modules.conditioned.oned_unet.Unet",
                                  "init_args": {"hidden_channels": 64, "norm": True, "n_dims": 1}}}
    modules = {"pdearena": types.ModuleType("pdearena"), "pdearena.models": types.ModuleType("pdearena.models"),
               "pdearena.models.pderefiner": types.ModuleType("pdearena.models.pderefiner"),
               "pdearena.models.registry": types.ModuleType("pdearena.models.registry")}
    modules["pdearena.models.pderefiner"].PDERefiner = PDERefiner
    modules["pdearena.models.registry"].COND_MODEL_REGISTRY = registry
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("sciml_pdearena_tools", BENCHMARKS / "reference_shims" /
                                                  "pdearena_tools.py")
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    return tools, registry


def test_pdearena_shim_registers_widths_and_trains_the_mse_u_net_on_the_refiner_s_target(monkeypatch):
    tools, registry = fake_pdearena(monkeypatch)
    tools.register_widths()
    assert registry["Unetmod-1d-16"]["init_args"] == {"hidden_channels": 16, "norm": True, "n_dims": 1}
    assert registry["Unetmod-1d-64"]["init_args"]["hidden_channels"] == 64  # the released entry is kept

    class Net(torch.nn.Module):  # sees [x, noise channel]; records what it was given
        def forward(self, x_in, time, z):
            self.seen = (x_in, time, z)
            return 2.0 * x_in[:, :1]

    net = Net()
    model = tools.MSEUNet(net, difference_weight=0.5)
    x, y, cond = torch.randn(3, 1, 1, 8), torch.randn(3, 1, 1, 8), torch.randn(3, 2)
    loss, pred, target = model.train_step((x, y, cond))
    torch.testing.assert_close(target, (y - x) / 0.5)  # the refiner's difference target
    torch.testing.assert_close(loss, torch.nn.functional.mse_loss(2.0 * x, (y - x) / 0.5))
    assert torch.equal(net.seen[0][:, 1:], torch.zeros_like(x)) and torch.equal(net.seen[1], torch.zeros(3))
    torch.testing.assert_close(model.predict_next_solution(x, cond), 2.0 * x * 0.5 + x)  # one call, undone


def test_pde_refiner_parity_configs_match_the_released_size_and_the_headline_ratio():
    from parity_pde_refiner import BUDGETS, our_overrides, summary

    from sciml import solvers
    from sciml.config import load_config
    from sciml.solvers import grid_context

    files = {s: Path(f"/nonexistent/{s}.nc") for s in ("train", "valid", "test")}
    counts = {}
    for model in ("pde_refiner", "mse_unet"):
        cfg = load_config(our_overrides(model, BUDGETS["small"], files, Path("/tmp/run"), 0, 2))
        assert cfg.trainer.max_steps == 200 and cfg.trainer.lr == 1e-4 and cfg.task.time_step == 4
        assert cfg.solver.refinement_steps == (0 if model == "mse_unet" else 3)
        counts[model] = sum(p.numel() for p in solvers.build(cfg.solver, grid_context((256,), length=64.0))
                            .parameters())
    assert counts["pde_refiner"] == counts["mse_unet"]
    assert abs(counts["pde_refiner"] / 3_384_161 - 1) < 0.05  # the released Unetmod-1d at hidden 16
    rows = {"pde_refiner": [Row("ours", s, {"correlation_time": t}, 0.1, 200, 1) for s, t in enumerate((30, 34))],
            "mse_unet": [Row("ours", s, {"correlation_time": t}, 0.1, 200, 1) for s, t in enumerate((40, 40))]}
    (line,) = summary(rows)  # no reference rows: one line
    assert line.startswith("ours: PDE-Refiner/MSE correlation time = 0.80 (PDE-Refiner 32.0 ± 2.8, MSE U-Net 40.0")
