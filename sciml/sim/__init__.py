"""Differentiable simulators, batched over leading dimensions, float32/float64, any device.

Importing this package keeps freed tensor memory in the process heap (:func:`sciml.runtime.tune_cpu_allocator`):
a pseudo-spectral step allocates dozens of MiB-sized temporaries, and without it glibc returns each to the
OS and page-faults it back in (1.2-1.7x slower steps from a plain script, docs/benchmarks.md). Set
``SCIML_NO_MALLOC_TUNING=1`` before the import to opt out (the process then shrinks its heap after peaks).
"""

from sciml.runtime import tune_cpu_allocator
from sciml.sim.allen_cahn import AllenCahn
from sciml.sim.base import Simulator
from sciml.sim.burgers import Burgers
from sciml.sim.burgers2d import Burgers2D
from sciml.sim.combined_burgers import CombinedBurgers, SineForcing, average_down
from sciml.sim.ks import KuramotoSivashinsky
from sciml.sim.lorenz96 import Lorenz96, TwoScaleLorenz96, lyapunov_exponents
from sciml.sim.ns2d import NavierStokes2D

tune_cpu_allocator()

__all__ = [
    "AllenCahn",
    "Burgers",
    "Burgers2D",
    "CombinedBurgers",
    "KuramotoSivashinsky",
    "Lorenz96",
    "NavierStokes2D",
    "Simulator",
    "SineForcing",
    "TwoScaleLorenz96",
    "average_down",
    "lyapunov_exponents",
]
