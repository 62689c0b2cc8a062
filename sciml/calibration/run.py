"""A calibration run: observations of the truth, then history matching, gradient-based estimation and/or a
one-parameter sweep, each resumable, into one run directory::

    config.yaml
    metrics.csv                               one row per wave (method history_matching) and per iteration
    checkpoints/observations.pt               the truth's statistics per member
    checkpoints/history_matching/wave_<w>.pt  a finished wave: design, simulated statistics, cost
    checkpoints/gradient/last.pt              parameters, Adam state, ensemble state, generator, iterates
    checkpoints/sweep.pt
    evaluation/results.json, summary.md, nroy_pairs.png, gradient_path.png, sweep.png

Re-running the command reuses finished waves and continues the gradient iterations exactly; waves,
methods, threads, progress and the checkpoint interval may change between runs, other keys are refused.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from sciml.calibration.config import CalibrationConfig
from sciml.calibration.gradient import misfit_gradient
from sciml.calibration.history_matching import (
    Emulator,
    Wave,
    latin_hypercube,
    not_ruled_out,
    nroy_sample,
    to_box,
    to_unit,
)
from sciml.calibration.lorenz96 import PARAMETERS, Lorenz96Calibration
from sciml.calibration.plots import gradient_path_figure, nroy_pairs_figure, sweep_figure
from sciml.errors import ConfigError
from sciml.training.checkpoint import load_checkpoint, save_checkpoint
from sciml.training.logs import MetricsLog
from sciml.training.run_dir import (
    RESUMABLE_CHANGES,
    check_resumable,
    config_dict,
    write_config,
    write_json,
    write_text_atomic,
)

RESUMABLE = RESUMABLE_CHANGES | {"calibrate", "history_matching.waves", "gradient.checkpoint_every", "run.evaluate"}


def _model(cfg: CalibrationConfig) -> Lorenz96Calibration:
    m = cfg.model
    return Lorenz96Calibration(K=m.K, J=m.J, dt=m.dt, statistics=tuple(m.statistics), lag=m.lag, spin_up=m.spin_up)


def _vector(values: dict[str, float]) -> torch.Tensor:
    return torch.tensor([float(values[p]) for p in PARAMETERS], dtype=torch.float64)


def _named(theta: torch.Tensor) -> dict[str, float]:
    return {p: round(float(v), 6) for p, v in zip(PARAMETERS, theta.tolist(), strict=True)}


def _cosine(it: int, total: int, final_ratio: float) -> float:
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(it, total) / max(total, 1)))


def _bounds(cfg: CalibrationConfig) -> np.ndarray:
    return np.array([cfg.parameters[p] for p in PARAMETERS], dtype=np.float64)


def _progress(cfg: CalibrationConfig, total: int, desc: str):
    return tqdm(total=total, desc=desc, disable=cfg.calibrate.progress == "none",
                mininterval=30 if cfg.calibrate.progress == "lines" else 0.1, dynamic_ncols=True)


def _prepare(cfg: CalibrationConfig) -> Path:
    run_dir = Path(cfg.run.dir)
    saved = run_dir / "config.yaml"
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        if not cfg.run.resume:
            raise ConfigError(f"{run_dir} already holds a run and run.resume=false: choose another run.dir")
        if saved.is_file():
            check_resumable(yaml.safe_load(saved.read_text()) or {}, config_dict(cfg), run_dir, RESUMABLE)
    write_config(cfg, run_dir)
    return run_dir


def observe(cfg: CalibrationConfig, model: Lorenz96Calibration, run_dir: Path) -> dict[str, torch.Tensor]:
    """The truth's statistics: per member ``(M, S)``, their mean ``z``, the member variance and Var_obs."""
    path = run_dir / "checkpoints" / "observations.pt"
    if path.is_file():
        members = load_checkpoint(path)["members"]
    else:
        obs = cfg.observations
        g = torch.Generator().manual_seed(obs.seed)
        members = model.ensemble_statistics(_vector(cfg.truth)[None], obs.members, obs.steps, g)[0]
        if not bool(torch.isfinite(members).all()):
            raise FloatingPointError("the truth's runs blew up: reduce model.dt")
        save_checkpoint({"members": members}, path)
    member_var = members.var(0)
    obs_var = member_var / members.shape[0] if cfg.observations.variance == "mean" else member_var
    return {"members": members, "z": members.mean(0), "member_var": member_var, "obs_var": obs_var}


def history_matching(cfg: CalibrationConfig, model: Lorenz96Calibration, obs: dict,
                     run_dir: Path) -> tuple[list[Wave], dict[str, Any]]:
    """Waves of design, simulation, emulation and implausibility cuts; the waves and the NROY space after each."""
    log = MetricsLog(run_dir / "metrics.csv", resume_step=0, tags={"method": "history_matching"})
    hm, bounds, dims = cfg.history_matching, _bounds(cfg), len(PARAMETERS)
    z, obs_var = obs["z"].numpy(), obs["obs_var"].numpy()
    disc = hm.discrepancy * obs_var
    truth_unit = to_unit(_vector(cfg.truth).numpy()[None], bounds)
    waves: list[Wave] = []
    rows, samples, previous = [], [], None
    runs = (np.zeros((0, dims)), np.zeros((0, len(z))), np.zeros((0, len(z))))  # every finite run: θ, mean, noise
    bar = _progress(cfg, hm.waves, "history matching")
    for w in range(hm.waves):
        design, outputs, noise, finite, simulation_seconds = _wave_runs(cfg, model, w, previous, run_dir)
        wave_start = time.perf_counter()
        if finite.sum() < 4:
            raise FloatingPointError(f"history matching wave {w}: {int((~finite).sum())} of {len(finite)} design "
                                     "runs blew up; narrow the parameter ranges or reduce model.dt")
        # the wave's emulator learns from its own runs and from the earlier runs the earlier waves keep
        kept = not_ruled_out(waves, runs[0], z, obs_var, hm.cutoff, disc)
        new = (design[finite], outputs[finite], noise[finite])
        inputs, targets, spread = (np.concatenate([a, b[kept]]) for a, b in zip(new, runs, strict=True))
        runs = tuple(np.concatenate([b, a]) for a, b in zip(new, runs, strict=True))
        emulator = Emulator(inputs, targets, seed=hm.seed + w, noise=spread if hm.members > 1 else None)
        waves.append(Wave(inputs, targets, emulator))
        points, fraction = nroy_sample(waves, dims, z, obs_var, hm.nroy_points, hm.seed + 31 * (w + 1), hm.cutoff,
                                       disc, previous)
        truth_i = float(waves[-1].max_implausibility(truth_unit, z, obs_var, disc)[0])
        truth_kept = bool(not_ruled_out(waves, truth_unit, z, obs_var, hm.cutoff, disc)[0])
        theta = to_box(points, bounds) if len(points) else np.zeros((0, dims))
        row = {"wave": w + 1, "design_points": int(len(design)), "blown_up": int((~finite).sum()),
               "simulator_runs": int(len(design) * hm.members),
               "simulated_time": float(len(design) * hm.members * (model.spin_up + hm.steps) * model.dt),
               "seconds": simulation_seconds + time.perf_counter() - wave_start,
               "simulation_seconds": simulation_seconds, "nroy_fraction": fraction, "truth_max_implausibility": truth_i,
               "truth_not_ruled_out": truth_kept,
               "nroy_ranges": {p: [float(theta[:, i].min()), float(theta[:, i].max())] if len(theta) else None
                               for i, p in enumerate(PARAMETERS)}}
        rows.append(row)
        log.write(step=w + 1, **{k: v for k, v in row.items() if k != "nroy_ranges"})
        samples.append(theta)
        bar.update(1)
        bar.set_postfix(nroy=f"{fraction:.2e}", truth_I=f"{truth_i:.2f}", refresh=False)
        if len(points) == 0:
            break
        previous = points
    bar.close()
    nroy_pairs_figure(samples, _bounds(cfg), PARAMETERS, _vector(cfg.truth).numpy(),
                      run_dir / "evaluation" / "nroy_pairs.png")
    return waves, {"waves": rows, "volume_shrink": 1.0 / max(rows[-1]["nroy_fraction"], 1e-300),
            "truth_kept_every_wave": all(r["truth_not_ruled_out"] for r in rows),
            "simulator_runs": sum(r["simulator_runs"] for r in rows),
            "simulated_time": sum(r["simulated_time"] for r in rows), "seconds": sum(r["seconds"] for r in rows)}


def _wave_runs(cfg: CalibrationConfig, model: Lorenz96Calibration, w: int, previous: np.ndarray | None,
               run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Wave ``w``'s design (unit cube), ensemble means, their sampling variances, which runs stayed finite, and
    the simulation's seconds: from its checkpoint, or simulated (a Latin hypercube in wave 1, NROY points after)."""
    hm, path = cfg.history_matching, run_dir / "checkpoints" / "history_matching" / f"wave_{w}.pt"
    if path.is_file():
        state = load_checkpoint(path)
        return (state["design"].numpy(), state["outputs"].numpy(), state["noise"].numpy(), state["finite"].numpy(),
                float(state["seconds"]))
    start = time.perf_counter()
    if previous is None:
        design = latin_hypercube(hm.design_points, len(PARAMETERS), hm.seed)
    else:
        rng = np.random.default_rng(hm.seed + 1000 + w)
        design = previous[rng.choice(previous.shape[0], min(hm.design_points, previous.shape[0]), replace=False)]
    g = torch.Generator().manual_seed(hm.seed + 7919 * (w + 1))
    stats = model.ensemble_statistics(torch.from_numpy(to_box(design, _bounds(cfg))), hm.members, hm.steps, g)
    finite = torch.isfinite(stats).all(-1).all(-1).numpy()
    outputs = stats.mean(1).numpy()
    noise = (stats.var(1) / hm.members).nan_to_num(0.0).numpy() if hm.members > 1 else np.zeros_like(outputs)
    seconds = time.perf_counter() - start
    save_checkpoint({"design": torch.from_numpy(design), "outputs": torch.from_numpy(outputs),
                     "noise": torch.from_numpy(noise), "finite": torch.from_numpy(finite), "seconds": seconds}, path)
    return design, outputs, noise, finite, seconds


def gradient_estimation(cfg: CalibrationConfig, model: Lorenz96Calibration, obs: dict,
                        run_dir: Path) -> dict[str, Any]:
    """Adam on log parameters with gradients through short windows of a running ensemble."""
    gc, path = cfg.gradient, run_dir / "checkpoints" / "gradient" / "last.pt"
    scale = obs["member_var"].sqrt()
    log_theta = torch.nn.Parameter(_vector(gc.start).log())
    opt = torch.optim.Adam([log_theta], lr=gc.lr)
    # cosine decay from lr to lr_final over the iterations (a pure function of the iteration: resumes exactly)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: _cosine(it, gc.iterations, gc.lr_final / gc.lr))
    g = torch.Generator().manual_seed(gc.seed)
    if path.is_file():
        state = load_checkpoint(path)
        log_theta.data.copy_(state["log_theta"])
        opt.load_state_dict(state["optimizer"])
        decay.load_state_dict(state["schedule"])
        g.set_state(state["generator"])
        ensemble, iterates, seconds = state["ensemble"], list(state["iterates"]), float(state["seconds"])
    else:
        start = time.perf_counter()
        ensemble = model.initial_states(log_theta.detach().exp().expand(gc.members, -1), g)
        iterates, seconds = [], time.perf_counter() - start
    log = MetricsLog(run_dir / "metrics.csv", resume_step=len(iterates), tags={"method": "gradient"})
    bar = _progress(cfg, gc.iterations, "gradient")
    bar.update(len(iterates))
    while len(iterates) < gc.iterations:
        start = time.perf_counter()
        it = len(iterates)
        step, ensemble = misfit_gradient(model.window, log_theta.detach(), ensemble, gc.window, obs["z"], scale)
        if not (math.isfinite(step.loss) and bool(torch.isfinite(step.gradient).all())):
            raise FloatingPointError(f"gradient iteration {it}: non-finite loss or gradient at "
                                     f"{_named(log_theta.detach().exp())}; reduce lr or dt")
        opt.zero_grad()
        log_theta.grad = step.gradient.clone()
        opt.step()
        decay.step()
        iterates.append(log_theta.detach().clone())
        seconds += time.perf_counter() - start
        theta = log_theta.detach().exp()
        row = {"step": it + 1, "loss": step.loss,
               **{p: float(theta[i]) for i, p in enumerate(PARAMETERS)},
               **{f"grad_{p}": float(step.gradient[i]) for i, p in enumerate(PARAMETERS)},
               **{f"grad_se_{p}": float(step.gradient_se[i]) for i, p in enumerate(PARAMETERS)}}
        log.write(**row)
        bar.update(1)
        bar.set_postfix(loss=f"{step.loss:.3g}", refresh=False)
        if (it + 1) % gc.checkpoint_every == 0 or it + 1 == gc.iterations:
            save_checkpoint({"log_theta": log_theta.detach().clone(), "optimizer": opt.state_dict(),
                             "schedule": decay.state_dict(),
                             "generator": g.get_state(), "ensemble": ensemble, "iterates": torch.stack(iterates),
                             "seconds": seconds}, path)
    bar.close()
    path_theta = torch.stack(iterates).exp()
    tail = max(1, int(round(gc.average_fraction * len(iterates))))
    estimate = torch.stack(iterates[-tail:]).mean(0).exp()
    truth = _vector(cfg.truth)
    rows = [r for r in _read_rows(log.path) if r.get("method") == "gradient"]
    gradient_path_figure(path_theta.numpy(), [float(r["loss"]) for r in rows], truth.numpy(), PARAMETERS,
                         run_dir / "evaluation" / "gradient_path.png")
    snr = [[abs(float(r[f"grad_{p}"])) / max(float(r[f"grad_se_{p}"]), 1e-300) for p in PARAMETERS] for r in rows]
    runs = gc.members  # the ensemble keeps running: one set of runs, continued
    return {"start": {p: float(gc.start[p]) for p in PARAMETERS},
            "estimate": {p: float(estimate[i]) for i, p in enumerate(PARAMETERS)},
            "relative_error": {p: float(estimate[i] / truth[i] - 1) for i, p in enumerate(PARAMETERS)},
            "iterations": len(iterates), "averaged_iterations": tail,
            "median_gradient_snr": {p: float(np.median([s[i] for s in snr])) for i, p in enumerate(PARAMETERS)},
            "simulator_runs": runs,
            "simulated_time": float(runs * (model.spin_up + gc.window * len(iterates)) * model.dt),
            "seconds": seconds}


def sweep(cfg: CalibrationConfig, model: Lorenz96Calibration, obs: dict, run_dir: Path) -> dict[str, Any]:
    """The misfit (in member standard deviations, as the gradient route measures it) along one parameter."""
    sc, path = cfg.sweep, run_dir / "checkpoints" / "sweep.pt"
    index = PARAMETERS.index(sc.parameter)
    theta = _vector(cfg.truth).repeat(len(sc.values), 1)
    theta[:, index] = torch.tensor(sc.values, dtype=torch.float64)
    if path.is_file():
        state = load_checkpoint(path)
        stats, seconds = state["stats"], float(state["seconds"])
    else:
        start = time.perf_counter()
        stats = model.ensemble_statistics(theta, sc.members, sc.steps, torch.Generator().manual_seed(sc.seed))
        seconds = time.perf_counter() - start
        save_checkpoint({"stats": stats, "seconds": seconds}, path)
    misfit = ((stats.mean(1) - obs["z"]) / obs["member_var"].sqrt()).square().sum(-1)
    se = ((stats.var(1) / sc.members) / obs["member_var"]).sum(-1).sqrt()  # rough noise level of the misfit
    sweep_figure(sc.values, misfit.numpy(), sc.parameter, float(cfg.truth[sc.parameter]),
                 run_dir / "evaluation" / "sweep.png")
    return {"parameter": sc.parameter, "values": list(sc.values), "misfit": misfit.tolist(),
            "misfit_noise": se.tolist(), "best": float(sc.values[int(misfit.argmin())]),
            "simulator_runs": len(sc.values) * sc.members, "seconds": seconds}


def _read_rows(path: Path) -> list[dict[str, str]]:
    from sciml.training.logs import read_metrics_file

    return read_metrics_file(path) if path.is_file() else []


def summary_table(results: dict[str, Any]) -> str:
    """The run's results as Markdown: the waves, the gradient estimate, the cost side by side."""
    lines = []
    hm = results.get("history_matching")
    if hm:
        lines += ["| wave | design points | simulator runs | NROY fraction of the box | truth max I | truth kept | "
                  + " | ".join(f"{p} range" for p in PARAMETERS) + " |", "|" + "---:|" * (6 + len(PARAMETERS))]
        for r in hm["waves"]:
            ranges = " | ".join("–" if r["nroy_ranges"][p] is None else
                                f"{r['nroy_ranges'][p][0]:.3g}–{r['nroy_ranges'][p][1]:.3g}" for p in PARAMETERS)
            lines.append(f"| {r['wave']} | {r['design_points']} | {r['simulator_runs']} | {r['nroy_fraction']:.2e} | "
                         f"{r['truth_max_implausibility']:.2f} | {'yes' if r['truth_not_ruled_out'] else 'no'} | "
                         f"{ranges} |")
        lines.append("")
    gr = results.get("gradient")
    if gr:
        lines += ["| parameter | truth | start | estimate | relative error | median gradient SNR |",
                  "|---|---:|---:|---:|---:|---:|"]
        for p in PARAMETERS:
            lines.append(f"| {p} | {results['truth'][p]:g} | {gr['start'][p]:g} | {gr['estimate'][p]:.4g} | "
                         f"{100 * gr['relative_error'][p]:+.2f} % | {gr['median_gradient_snr'][p]:.2f} |")
        if "estimate_max_implausibility" in gr:
            lines += ["", f"The gradient estimate's largest implausibility over the waves: "
                          f"{gr['estimate_max_implausibility']:.2f} "
                          f"({'not ruled out' if gr['estimate_not_ruled_out'] else 'ruled out'} by history matching)."]
        lines.append("")
    cost = [(m, results[m]) for m in ("history_matching", "gradient", "sweep") if results.get(m)]
    if cost:
        lines += ["| method | simulator runs | simulated time units | wall seconds |", "|---|---:|---:|---:|"]
        for name, r in cost:
            simulated = f"{r['simulated_time']:.3g}" if "simulated_time" in r else ""
            lines.append(f"| {name.replace('_', ' ')} | {r['simulator_runs']} | {simulated} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def calibrate(cfg: CalibrationConfig) -> dict[str, Any]:
    """Run the configured methods; writes the run directory and returns ``results.json``'s content."""
    run_dir = _prepare(cfg)
    if cfg.calibrate.threads:
        torch.set_num_threads(cfg.calibrate.threads)
    model = _model(cfg)
    obs = observe(cfg, model, run_dir)
    results: dict[str, Any] = {"truth": dict(cfg.truth), "statistics": list(model.statistics),
                               "observed": obs["z"].tolist(), "observation_variance": obs["obs_var"].tolist()}
    if "history_matching" in cfg.calibrate.methods:
        waves, results["history_matching"] = history_matching(cfg, model, obs, run_dir)
    if "gradient" in cfg.calibrate.methods:
        results["gradient"] = gradient_estimation(cfg, model, obs, run_dir)
        if "history_matching" in cfg.calibrate.methods:  # is the gradient's answer one of the plausible sets?
            hm = cfg.history_matching
            estimate = to_unit(np.array([[results["gradient"]["estimate"][p] for p in PARAMETERS]]), _bounds(cfg))
            z, var = obs["z"].numpy(), obs["obs_var"].numpy()
            implausible = [float(w.max_implausibility(estimate, z, var, hm.discrepancy * var)[0]) for w in waves]
            results["gradient"]["estimate_max_implausibility"] = max(implausible)
            results["gradient"]["estimate_not_ruled_out"] = max(implausible) <= hm.cutoff
    if "sweep" in cfg.calibrate.methods:
        results["sweep"] = sweep(cfg, model, obs, run_dir)
    write_json(results, run_dir / "evaluation" / "results.json")
    write_text_atomic(summary_table(results) + "\n", run_dir / "evaluation" / "summary.md")
    return results
