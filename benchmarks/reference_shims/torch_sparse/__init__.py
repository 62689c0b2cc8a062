"""An import-only stand-in for torch-sparse (no wheels for our torch).

deepsnap (which LE-PDE's training script imports for its ``Batch``) imports ``torch_sparse.matmul`` when
it loads its heterogeneous-GNN module; LE-PDE never calls it. Calling it here is an error that says so,
so that a reference which does need torch-sparse fails loudly instead of computing something else.
"""

from __future__ import annotations

__version__ = "0.0.0+sciml-shim"


class SparseTensor:  # referenced in type checks only
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("torch_sparse.SparseTensor: this is sciml's import-only shim (no torch-sparse)")


def matmul(*args, **kwargs):
    raise NotImplementedError("torch_sparse.matmul: this is sciml's import-only shim (no torch-sparse); "
                              "the reference needs the real package for this call")
