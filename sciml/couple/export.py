"""Export a closure for a host model: TorchScript (what libtorch, FTorch and our Fortran/C shim load) or a
``torch.export`` program (``.pt2``), plus a JSON sidecar that says what goes in and out.

The exported module maps a physical coarse state to the closure's tendency, normalisation included (a
:class:`~sciml.solvers.closure.ClosureSolver`'s ``tendency``; any other module or callable module is
exported as its ``forward``). Shapes are C order (row-major): a ``(batch, K)`` tensor is, in memory, the
Fortran array ``x(K, batch)``; the sidecar spells out both.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciml import __version__
from sciml.errors import ExportError

FORMATS = ("torchscript", "pt2")
SPEC_FILE = "sciml_spec.txt"  # inside a TorchScript archive: "<dtype>;<dim>,<dim>,..." (-1: any), for the C shim


class ClosureModule(nn.Module):
    """``forward(state) -> tendency`` around a closure (its ``tendency`` when it has one)."""

    def __init__(self, closure: nn.Module):
        super().__init__()
        self.closure = closure

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        if hasattr(self.closure, "tendency"):
            return self.closure.tendency(state)
        return self.closure(state)


def _normalisation(closure: nn.Module) -> dict[str, float]:
    names = ("state_mean", "state_std", "target_mean", "target_std")
    return {n: float(getattr(closure, n)) for n in names if isinstance(getattr(closure, n, None), torch.Tensor)}


def _trace(module: nn.Module, example: torch.Tensor, name: str) -> tuple[torch.jit.ScriptModule, list[str]]:
    """Trace ``module``; the tracer's warnings (Python control flow on tensors, shape specialisations) are
    accepted only when the trace reproduces the eager model on another batch size and other data."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        try:
            traced = torch.jit.trace(module, (example,), check_trace=False)
        except Exception as exc:  # an op the tracer cannot record
            raise ExportError(f"cannot trace {name} to TorchScript: {str(exc).splitlines()[0]}") from exc
    sites = [f"{w.filename}:{w.lineno} ({str(w.message).splitlines()[0]})" for w in caught
             if issubclass(w.category, torch.jit.TracerWarning)]
    other = torch.cat([example, -1.7 * example.flip(0) + example.std()])  # another batch size, other values
    try:
        same = torch.allclose(traced(other), module(other), rtol=1e-4, atol=1e-6 * float(module(other).abs().max()))
    except Exception as exc:  # noqa: BLE001 - the trace fixed a shape the other batch does not have
        same, sites = False, sites or [str(exc).splitlines()[0]]
    if not same:
        where = f" at {sites[0]}" if sites else ""
        raise ExportError(f"cannot export {name} to TorchScript: the trace does not generalise to other inputs"
                          f"{where}; Python control flow on tensor values or shapes freezes one branch")
    return traced, sites


def _export_program(module: nn.Module, example: torch.Tensor, name: str) -> tuple[Any, bool]:
    """``(ExportedProgram, batch_is_dynamic)``: the leading dimension is dynamic when the model allows it."""
    try:
        program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim.AUTO},))
    except Exception as exc:
        raise ExportError(f"cannot torch.export {name}: {str(exc).strip().splitlines()[0]}") from exc
    try:
        program.module()(torch.cat([example, example[:1]]))
        return program, True
    except Exception:  # noqa: BLE001 - the model specialised the batch size: the sidecar says which
        return program, False


def export(model: nn.Module, example_inputs: torch.Tensor, path: str | Path, format: str = "torchscript",
           units: str = "", input_name: str = "state", output_name: str = "tendency",
           dims: tuple[str, ...] | None = None, rtol: float | None = None) -> Path:
    """Write ``model`` (a closure) to ``path`` in ``format`` and ``path + ".json"`` beside it.

    Args:
      example_inputs: a coarse state ``(batch, *space)`` of the dtype the host will use (float32 or float64).
      units: of the state (the tendency is that per model time unit).
      dims: names of the state's dimensions, C order (default ``("batch", "x1", ...)``).
      rtol: after writing, reload and compare with the eager model (default 1e-5 float32, 1e-10 float64).
    Returns the path of the exported model. Raises :class:`ExportError` naming what failed.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r} (known: {', '.join(FORMATS)})")
    if not isinstance(example_inputs, torch.Tensor) or example_inputs.dtype not in (torch.float32, torch.float64):
        raise ExportError("example_inputs must be one float32 or float64 tensor (batch, *space)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = type(model).__name__
    module = ClosureModule(model).eval()
    example = example_inputs.detach()
    with torch.no_grad():
        eager = module(example)
    if eager.shape != example.shape:
        raise ExportError(f"{name} maps {tuple(example.shape)} to {tuple(eager.shape)}: a closure returns a "
                          "tendency of the state's shape")
    dims = tuple(dims or ("batch", *(f"x{i + 1}" for i in range(example.dim() - 1))))
    if len(dims) != example.dim():
        raise ExportError(f"dims {dims} do not match the state's {example.dim()} dimensions")
    dtype = str(example.dtype).removeprefix("torch.")
    dynamic, trace_warnings = True, []
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # checked before it replaces anything
    with torch.no_grad():
        if format == "torchscript":
            traced, trace_warnings = _trace(module, example, name)
            spec = f"{dtype};" + ",".join(["-1", *(str(s) for s in example.shape[1:])])
            torch.jit.save(traced, str(staged), _extra_files={SPEC_FILE: spec})
        else:
            program, dynamic = _export_program(module, example, name)
            torch.export.save(program, str(staged))
    shape = [-1 if dynamic else int(example.shape[0]), *(int(s) for s in example.shape[1:])]
    sidecar = {
        "format": format, "file": path.name,
        "inputs": [{"name": input_name, "shape": shape, "dims": list(dims), "dtype": dtype, "units": units}],
        "outputs": [{"name": output_name, "shape": shape, "dims": list(dims), "dtype": dtype,
                     "units": f"({units}) per time unit" if units else "per time unit"}],
        "order": "C (row-major): the last dimension varies fastest",
        "fortran": f"declare {output_name}({', '.join(reversed(dims))}): the same memory, dimensions reversed",
        "normalisation": _normalisation(model), "closure": name,
        "sciml_version": __version__, "torch_version": torch.__version__,
        "trace_warnings": trace_warnings,  # checked: the trace reproduced the model on other inputs
    }
    Path(f"{staged}.json").write_text(json.dumps(sidecar, indent=1))
    try:
        with torch.no_grad():
            again = load(staged)(example)
        tol = rtol if rtol is not None else (1e-5 if example.dtype == torch.float32 else 1e-10)
        scale = float(eager.abs().max()) or 1.0
        if not bool(torch.isfinite(again).all()) or float((again - eager).abs().max()) > tol * scale:
            raise ExportError(f"the exported {name} differs from the eager model by "
                              f"{float((again - eager).abs().max()) / scale:.2e} (relative), above {tol:g}")
        os.replace(staged, path)
        os.replace(f"{staged}.json", f"{path}.json")
    finally:
        for leftover in (staged, Path(f"{staged}.json")):
            leftover.unlink(missing_ok=True)
    return path


class ExportedClosure:
    """A closure loaded from an export, with the sidecar's checks: ``closure(state) -> tendency``."""

    def __init__(self, module: Any, spec: dict):
        self.module, self.spec = module, spec
        entry = spec["inputs"][0]
        self.shape, self.dtype = entry["shape"], getattr(torch, entry["dtype"])

    def __call__(self, state: torch.Tensor) -> torch.Tensor:
        if state.dtype != self.dtype:
            raise ValueError(f"the exported closure takes {self.dtype}, got {state.dtype}")
        squeeze = state.dim() == len(self.shape) - 1
        x = state.unsqueeze(0) if squeeze else state
        if x.dim() != len(self.shape) or any(s not in (-1, d) for s, d in zip(self.shape, x.shape, strict=True)):
            raise ValueError(f"the exported closure takes shape {self.shape} (-1: any), got {tuple(state.shape)}")
        out = self.module(x)
        return out.squeeze(0) if squeeze else out


def load(path: str | Path) -> ExportedClosure:
    """Load an exported closure (either format) and its sidecar; a missing file raises ``FileNotFoundError``."""
    path = Path(path)
    for p in (path, Path(f"{path}.json")):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file (export writes the model and its .json sidecar)")
    spec = json.loads(Path(f"{path}.json").read_text())
    if spec.get("format") == "torchscript":
        module = torch.jit.load(str(path), map_location="cpu")
    elif spec.get("format") == "pt2":
        module = torch.export.load(str(path)).module()
    else:
        raise ValueError(f"{path}.json: unknown format {spec.get('format')!r}")
    return ExportedClosure(module, spec)
