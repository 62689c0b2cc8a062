"""Simulators rebuilt from a dataset's physics: the ``system`` attribute and the parameters stored beside it.

Our recipes write ``system`` (``kuramoto_sivashinsky``, ``burgers``, ``navier_stokes_2d``,
``lorenz96_two_scale``) and every data-changing parameter as an attribute (``L``, ``nu``, ``param_*``, ...).
:func:`coarse_simulator` turns them into the simulator of the *stored* grid: the coarse model that a
closure completes (for two-scale Lorenz96: the X-only model, whose missing term is the coupling).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciml.sim.base import Simulator
from sciml.sim.burgers import Burgers
from sciml.sim.ks import KuramotoSivashinsky
from sciml.sim.lorenz96 import Lorenz96
from sciml.sim.ns2d import NavierStokes2D

SYSTEMS = ("kuramoto_sivashinsky", "burgers", "navier_stokes_2d", "lorenz96_two_scale")


def _get(attrs: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in attrs:
            return attrs[name]
    raise ValueError(f"the dataset's attributes lack {names[0]!r} (system {attrs.get('system')!r})")


def coarse_simulator(attrs: Mapping[str, Any], grid: tuple[int, ...]) -> Simulator:
    """The simulator of a dataset's physics on its stored grid ``grid`` (points per spatial axis).

    Raises ``ValueError`` naming the system or attribute when the file does not say enough.
    """
    system = attrs.get("system")
    if system == "lorenz96_two_scale":
        return Lorenz96(K=int(_get(attrs, "K")), F=float(_get(attrs, "F")))
    if system == "kuramoto_sivashinsky":
        return KuramotoSivashinsky(n=grid[-1], L=float(_get(attrs, "L", "param_L")),
                                   nu=float(_get(attrs, "nu", "param_nu")))
    if system == "burgers":
        return Burgers(n=grid[-1], L=float(_get(attrs, "L", "param_L")), nu=float(_get(attrs, "nu", "param_nu")))
    if system == "navier_stokes_2d":
        forcing = str(_get(attrs, "param_forcing"))
        return NavierStokes2D(n=grid[-1], L=float(_get(attrs, "param_L")), nu=float(_get(attrs, "nu", "param_nu")),
                              drag=float(_get(attrs, "drag", "param_drag")),
                              beta=float(_get(attrs, "beta", "param_beta")),
                              forcing=None if forcing == "none" else forcing, k_f=int(_get(attrs, "param_k_f")),
                              forcing_amplitude=float(_get(attrs, "param_forcing_amplitude")),
                              stepper=str(_get(attrs, "param_stepper")))
    raise ValueError(f"no simulator for system {system!r} (known: {', '.join(SYSTEMS)})")
