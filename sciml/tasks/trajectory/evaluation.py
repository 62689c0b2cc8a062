"""Long autoregressive rollouts of a trained trajectory solver and their metrics.

Rolls the run's best checkpoint (EMA weights when trained with them) out over the test trajectories,
batched and without gradients, with each trajectory's PDE parameters, and writes
``RUN_DIR/evaluation/results.json`` and PNG plots. A rollout that produces NaN/inf or leaves
``blowup_factor x max|truth|`` is reported as unstable from that step on.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from sciml import metrics, plots, recipes
from sciml.data import TrajectoryWindows, open_dataset
from sciml.errors import ConfigError
from sciml.solvers import Solver, SolverContext
from sciml.tasks.trajectory.climate import climate_block, first_unstable_step
from sciml.tasks.trajectory.ensemble import EnsembleScores, check_ensemble, members
from sciml.tasks.trajectory.fit import build_solver
from sciml.tasks.trajectory.uncertainty import ensemble_statistics, summarise
from sciml.training import load_checkpoint, select_device
from sciml.training.run_dir import write_json

REPORT_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def load_solver(run_dir: Path, cfg: Any, which: str, device: torch.device) -> tuple[Solver, int]:
    """The solver of a run from ``checkpoints/<which>.pt``, EMA weights preferred; returns it and its step."""
    state = load_checkpoint(Path(run_dir) / "checkpoints" / f"{which}.pt", map_location="cpu")
    if "context" not in state:
        raise ConfigError(f"{run_dir}/checkpoints/{which}.pt holds no solver context: it is not a trajectory run")
    model = build_solver(cfg, SolverContext.from_dict(state["context"]))
    weights = state["model"]
    if state.get("ema") is not None:
        weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    model.load_state_dict(weights)
    return model.to(device).eval(), int(state["step"])


def _accumulated(values: np.ndarray | None) -> float | None:
    """The sum over the rolled-out steps (None when there are none, or a rollout became unstable)."""
    if values is None or not np.isfinite(values).all():
        return None
    return float(np.sum(values, dtype=np.float64))


def _nan_to_none(values) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values]


def rollout_metrics(model: Solver, windows: TrajectoryWindows, history: int, n_steps: int, bound: float,
                    names: list[str], batch_size: int, device: torch.device, start: int = 0, samples: int = 1,
                    seed: int = 0, ic_perturbation: float = 0.0, scores: EnsembleScores | None = None):
    """Roll out every trajectory from the ``history`` frames after ``start``; return per-sample metric arrays
    ``name -> (N, T)`` of the reported rollout, unstable steps, an example, the sample-mean spectra of truth,
    prediction and error ``(T, K)``, and with ``samples > 1`` the ensemble statistics ``name -> (N, T)`` of
    :func:`ensemble_statistics` (else None, the ensemble's skill going into ``scores``), and the truth's mean
    square ``(N, T)``."""
    generator = torch.Generator().manual_seed(seed)
    per_sample = {name: [] for name in names}
    truth_ms, unstable, example, ensemble = [], [], None, {}
    spectra = {"true": [], "pred": [], "error": []}
    ndim = len(windows.spatial_shape)
    for batch in DataLoader(windows, batch_size=batch_size, shuffle=False):
        traj = batch["trajectory"]
        first = start + history  # the first predicted frame
        true = traj[:, first:first + n_steps]
        truth_ms.append((true.float() ** 2).flatten(2).mean(-1))
        params = batch["params"].to(device) if "params" in batch else None
        time = batch["time"][:, first - 1].to(device)
        reported, ensemble_members = members(model, traj[:, start:first].to(device), n_steps, params, time, samples,
                                             seed, ic_perturbation, generator)
        pred, first0, mask0 = _mask_unstable(reported, bound)
        if ensemble_members is not None:
            ensemble_members = [_mask_unstable(member, bound)[0] for member in ensemble_members]
        for name in names:
            values = metrics.get(name)(pred, true)
            if name == "correlation":
                values = torch.where(mask0, 0.0, values)  # a blown-up rollout is decorrelated
            per_sample[name].append(values)
        if ensemble_members is not None:
            for name, values in ensemble_statistics(ensemble_members, true).items():
                ensemble.setdefault(name, []).append(values)
            if scores is not None:
                scores.update(ensemble_members, true)
        unstable.append(first0)
        for key, field in (("true", true), ("pred", pred), ("error", pred - true)):
            spectra[key].append(metrics.energy_spectrum(field, ndim))
        if example is None:
            example = (true[0, :, 0].numpy(), pred[0, :, 0].numpy())
    out = {name: torch.cat(v).numpy() for name, v in per_sample.items()}
    spectra = {key: torch.cat(v).nanmean(0).numpy() for key, v in spectra.items()}
    ensemble = {name: torch.cat(v).numpy() for name, v in ensemble.items()} or None
    return out, torch.cat(unstable).numpy(), example, spectra, ensemble, torch.cat(truth_ms).numpy()


def _mask_unstable(member: torch.Tensor, bound: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rollout with NaN from each sample's first unstable step on, that step ``(B,)`` and the mask ``(B, T)``."""
    unstable_from = first_unstable_step(member, bound)
    steps = torch.arange(1, member.shape[1] + 1)
    mask = (unstable_from[:, None] > 0) & (steps[None, :] >= unstable_from[:, None])
    return torch.where(mask.view(*mask.shape, *([1] * (member.dim() - 2))), torch.nan, member), unstable_from, mask


def evaluate(cfg: Any, run_dir: Path) -> dict[str, Any]:
    """Evaluate a trajectory run; writes and returns the content of ``results.json``."""
    ev = cfg.evaluate
    device = select_device(cfg.trainer.device)
    model, step = load_solver(run_dir, cfg, ev.checkpoint, device)
    path = recipes.ensure_dataset(cfg.dataset, progress=False)[ev.split]
    return evaluate_rollouts(model, step, path, Path(run_dir), ev, history=cfg.task.history, start=ev.start,
                             time_step=cfg.task.time_step, params=list(cfg.task.params), device=device,
                             variables=list(cfg.task.variables) or None, options=recipes.reader_options(cfg.dataset),
                             dataset=cfg.dataset)


def evaluate_rollouts(model: Solver, step: int, path: Path, run_dir: Path, ev: Any, *, history: int, time_step: int,
                      params: list[str], device: torch.device, variables: list[str] | None = None,
                      start: int = 0, options: dict | None = None, dataset: Any = None) -> dict[str, Any]:
    """Roll ``model`` out over every trajectory of ``path`` (its ``variables``), from the ``history`` model steps
    after the first ``start``, and score it against them; writes ``run_dir/evaluation/results.json`` and the
    plots; returns the results. ``dataset`` (the recipe's config) gives the truth's long run for the climate
    block (``ev.climate_steps``); without it the stored trajectories stand in."""
    h, ts = history, time_step
    options = dict(options or {})
    if variables:
        options["variables"] = variables
    windows = TrajectoryWindows(path, time_step=ts, full_trajectory=True, params=params, **options)
    available = (windows.n_times - 1) // ts + 1 - h - start
    n_steps = min(ev.rollout_steps or available, available)
    if n_steps < 1:
        raise ConfigError(f"{path}: trajectories too short for a rollout after {start} + {h} model steps")
    with open_dataset(path, **options) as ds:
        dt_model = float(ds.attrs.get("dt", float(ds.time[1] - ds.time[0]))) * ts
        x = ds[windows.variables[0]].coords[ds[windows.variables[0]].dims[2]].values
        max_abs = max(float(abs(ds[v]).max()) for v in windows.variables)
    bound = ev.blowup_factor * max_abs
    names = list(ev.metrics)
    if "correlation" not in names:
        names.append("correlation")  # needed for the high-correlation time
    samples, seed, ic_perturbation = ev.samples, ev.seed, ev.ic_perturbation
    check_ensemble(samples, ic_perturbation, model.stochastic, type(model).__name__)
    horizons = [s for s in REPORT_STEPS if s < n_steps] + [n_steps]
    scores = EnsembleScores(n_steps, horizons, seed) if samples > 1 else None
    per_sample, first, example, spectra, ensemble, truth_ms = rollout_metrics(
        model, windows, h, n_steps, bound, names, ev.batch_size, device, start, samples, seed, ic_perturbation,
        scores)
    time = np.arange(1, n_steps + 1) * dt_model  # lead time after the last given frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all samples unstable at a step: the mean is NaN
        mean = {name: np.nanmean(v, axis=0) for name, v in per_sample.items()}
    hc_steps, reached = metrics.high_correlation_steps(torch.from_numpy(mean["correlation"]),
                                                       ev.correlation_threshold)
    unstable = first > 0
    results = {
        "run_dir": str(run_dir),
        "checkpoint": ev.checkpoint,
        "step": step,
        "split": ev.split,
        "n_trajectories": int(len(first)),
        "rollout_steps": n_steps,
        "dt_model": dt_model,
        "start": start,
        "accumulated_mse": _accumulated(mean.get("mse")),
        "high_correlation_time": {"steps": hc_steps, "time": hc_steps * dt_model,
                                  "threshold": ev.correlation_threshold, "reached_within_horizon": reached},
        "unstable": {"count": int(unstable.sum()), "bound": bound,
                     "first_step": [int(s) if s > 0 else None for s in first]},
        "per_step": {"time": time.tolist(), **{name: _nan_to_none(v) for name, v in mean.items()},
                     "stable_fraction": (1 - (unstable[:, None] & (np.arange(1, n_steps + 1)[None] >= first[:, None]))
                                         .mean(0)).tolist()},
        "spectra": _spectra_at(spectra, horizons, time),
    }
    by_param = _by_parameter(windows.source.params, per_sample, truth_ms, first)
    if by_param:
        results["by_param"] = by_param
    if ensemble is not None:
        results["uncertainty"] = summarise(ensemble, per_sample["correlation"], ev.correlation_threshold,
                                           dt_model, samples)
        results["ensemble"] = scores.block(time, ic_perturbation, model.stochastic)
    climate_fields = None
    if ev.climate_steps:
        results["climate"], climate_fields = climate_block(
            model, windows, path, dataset, ev, history=h, start=start, time_step=ts, dt_model=dt_model,
            bound=bound, device=device, options=options)
    out_dir = run_dir / "evaluation"
    write_json(results, out_dir / "results.json")
    if ev.plots:
        _plots(out_dir, time, per_sample, mean, results, example, spectra, x, windows)
        if "ensemble" in results:
            plots.ensemble_plot(time, results["ensemble"], out_dir / "ensemble.png")
        if climate_fields:
            plots.climate_plot(climate_fields, dt_model, out_dir / "climate.png")
    return results


def _by_parameter(params: dict[str, np.ndarray], per_sample: dict[str, np.ndarray], truth_ms: np.ndarray,
                  unstable_from: np.ndarray) -> dict[str, Any]:
    """Each metric's mean over the rollout and the samples that share a value of a per-sample parameter:
    ``{name: {"values": [...], "n": [...], "unstable": [...], "rel_l2": [...], metric: [...]}}`` (every
    parameter the file holds, given to the solver or not; unstable steps left out). ``rel_l2`` is the relative
    L2 error of the whole rollout, ``sqrt(Σ_t mse_t / Σ_t mean_x u_t²)`` per stable sample: unlike the
    per-frame nRMSE it stays finite when the solution decays to zero."""
    out = {}
    stable = unstable_from == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        over_time = {metric: np.nanmean(v, axis=1) for metric, v in per_sample.items()}  # (N,)
        if "mse" in per_sample:
            rel = np.sqrt(per_sample["mse"].sum(axis=1) / truth_ms.sum(axis=1))
            over_time["rel_l2"] = np.where(stable, rel, np.nan)
        for name, values in params.items():
            values = np.asarray(values, dtype=float)
            unique = np.unique(values)
            if len(unique) > 64:  # a continuous parameter: the per-sample values are in the file already
                continue
            groups = [values == u for u in unique]
            out[name] = {"values": unique.tolist(), "n": [int(g.sum()) for g in groups],
                         "unstable": [int((g & ~stable).sum()) for g in groups],
                         **{metric: _nan_to_none([np.nanmean(v[g]) for g in groups])
                            for metric, v in over_time.items()}}
    return out


def _spectra_at(spectra: dict[str, np.ndarray], steps: list[int], time: np.ndarray) -> dict[str, Any]:
    """Sample-mean spectra of truth, prediction and error at the model ``steps`` (1-based)."""
    return {"k": list(range(spectra["true"].shape[-1])),
            "horizons": [{"step": s, "time": float(time[s - 1]),
                          **{key: _nan_to_none(v[s - 1]) for key, v in spectra.items()}} for s in steps]}


def _plots(out_dir, time, per_sample, mean, results, example, spectra, x, windows) -> None:
    hc = results["high_correlation_time"]
    plots.correlation_plot(time, per_sample["correlation"], hc["threshold"], hc["time"], out_dir / "correlation.png")
    plots.error_plot(time, {k: v for k, v in mean.items() if k in ("mse", "nrmse", "spectrum_error")},
                     out_dir / "errors.png")
    true, pred = example
    if len(windows.spatial_shape) == 1:
        plots.spacetime_plot(x, time, true, pred, out_dir / "spacetime.png")
    else:
        plots.snapshot_plot(time, true, pred, out_dir / "snapshots.png")
    k = np.arange(spectra["true"].shape[-1])
    # spectra were averaged over samples; show them at three times
    picks = np.unique(np.linspace(0, len(time) - 1, 3).round().astype(int))
    plots.spectrum_plot(k, {float(time[i]): (spectra["true"][i], spectra["pred"][i]) for i in picks},
                        out_dir / "spectra.png")
    plots.error_spectrum_plot(k, {float(time[i]): (spectra["true"][i], spectra["error"][i]) for i in picks},
                              out_dir / "error_spectra.png")
    unc = results.get("uncertainty")
    if unc is not None:
        plots.uncertainty_plot(time, np.array(unc["spread"]), np.array(unc["ensemble_mean_rmse"]),
                               np.array(unc["predicted_decorrelation_time"]),
                               np.array(unc["actual_decorrelation_time"]), unc["threshold"],
                               out_dir / "uncertainty.png")


def summary(results: dict[str, Any]) -> str:
    """A plain-text table of the sample-mean metrics at a few horizons."""
    per_step = results["per_step"]
    names = [n for n in per_step if n not in ("time",)]
    n = results["rollout_steps"]
    rows = [s for s in REPORT_STEPS if s < n] + [n]
    header = f"{'step':>6} {'time':>8} " + " ".join(f"{name:>15}" for name in names)
    lines = [header, "-" * len(header)]
    for s in rows:
        cells = []
        for name in names:
            v = per_step[name][s - 1]
            cells.append(f"{'nan' if v is None else f'{v:.4g}':>15}")
        lines.append(f"{s:>6} {per_step['time'][s - 1]:>8.3g} " + " ".join(cells))
    hc = results["high_correlation_time"]
    bound = "" if hc["reached_within_horizon"] else " (never dropped below: lower bound)"
    lines.append(f"high-correlation time (corr > {hc['threshold']}): {hc['steps']} steps = "
                 f"{hc['time']:.4g} time units{bound}")
    lines.append(f"unstable rollouts: {results['unstable']['count']} of {results['n_trajectories']}")
    unc = results.get("uncertainty")
    if unc is not None:
        def fmt(v):
            return "n/a" if v is None else f"{v:.3f}"
        lines.append(f"uncertainty ({unc['samples']} rollouts): spread-error correlation "
                     f"{fmt(unc['spread_error_correlation'])} (of logs {fmt(unc['spread_error_correlation_log'])}); "
                     f"members' decorrelation time vs actual: correlation "
                     f"{fmt(unc['decorrelation_time_correlation'])}, mean |difference| "
                     f"{unc['decorrelation_time_mean_abs_difference']:.4g} time units")
    ens = results.get("ensemble")
    if ens is not None:
        def at(key: str, i: int) -> str:
            v = ens[key][i]
            return "n/a" if v is None else f"{v:.4g}"
        lines.append(f"ensemble ({ens['members']} members, {ens['source']}): CRPS {at('crps', 0)} at step 1, "
                     f"{at('crps', -1)} at step {n}; spread-skill {at('spread_skill', 0)}, {at('spread_skill', -1)}")
    climate = results.get("climate")
    if climate is not None:
        lines.append(f"climate of {climate['steps']}-step free runs against the {climate['truth']} "
                     f"({climate['truth_steps']} steps): {100 * climate['blew_up']['fraction']:.0f} % blew up")
        labels = {"mean_error": "mean error", "variance_ratio": "variance ratio", "wasserstein1": "W1",
                  "spectrum_error": "spectrum error", "autocorrelation_error": "autocorrelation error"}
        for name, f in (climate["fields"] or {}).items():
            cells = [f"{label} {'n/a' if f[key] is None else f'{f[key]:.3g}'}" for key, label in labels.items()]
            lines.append(f"  {name}: " + ", ".join(cells))
    if results.get("accumulated_mse") is not None:
        lines.append(f"accumulated error sum_t mean_x (u - u_hat)^2 over the {n} steps: "
                     f"{results['accumulated_mse']:.4g}")
    return "\n".join(lines)
