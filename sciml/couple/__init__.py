"""Coupling: export a trained closure (TorchScript or ``torch.export``) and run it inside a host model —
Python (:func:`load` gives a closure for any simulator's ``rollout``), C or Fortran (``sciml/couple/fortran``:
a C shim over libtorch and an ``iso_c_binding`` module; ``docs/coupling.md``)."""

from sciml.couple.adapters import numpy_closure
from sciml.couple.export import FORMATS, ClosureModule, ExportedClosure, ExportError, export, load

__all__ = ["FORMATS", "ClosureModule", "ExportError", "ExportedClosure", "export", "load", "numpy_closure"]
