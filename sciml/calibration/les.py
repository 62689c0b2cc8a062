"""The coefficient of an LES's physics closure as a calibration target, observed through the enstrophy spectrum.

A window runs the LES (``NavierStokes2D`` with a Smagorinsky or Leith closure) from an ensemble of vorticity
fields and returns each member's enstrophy spectrum averaged over the window, on the shells ``1 <= |k| < n/3``
the 2/3 rule keeps; :meth:`LESCoefficientCalibration.transform` takes the log of the ensemble mean, so the
misfit is the RMS log-ratio of spectra that ``experiments/closure_ns2d_table.py`` reports.
"""

from __future__ import annotations

import torch

from sciml.metrics import energy_spectrum
from sciml.sim import NavierStokes2D
from sciml.sim.closures import EddyViscosityClosure


class LESCoefficientCalibration:
    """Args: sim: the LES grid's simulator; model: ``"smagorinsky"`` or ``"leith"``; dt: LES step."""

    parameter_names = ("C",)

    def __init__(self, sim: NavierStokes2D, model: str = "smagorinsky", dt: float = 0.02):
        self.sim, self.model, self.dt = sim, model, dt
        self.shells = slice(1, sim.n // 3)

    def spectrum(self, w: torch.Tensor) -> torch.Tensor:
        """``(*batch, S)``: the enstrophy spectrum of ``w (*batch, n, n)`` on the resolved shells."""
        return energy_spectrum(w.unsqueeze(-3), 2)[..., self.shells]

    def window(self, theta: torch.Tensor, state: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``steps`` LES steps from ``state (E, n, n)`` with coefficients ``theta (E, 1)``; returns the
        members' window-mean spectra ``(E, S)`` and the final fields. Differentiable in ``theta``."""
        closure = EddyViscosityClosure(self.sim, self.model, theta.reshape(-1, 1, 1))
        total, w = 0, state
        for _ in range(steps):
            w = self.sim.step(w, self.dt, closure=closure)
            total = total + self.spectrum(w)
        return total / steps, w

    @staticmethod
    def transform(mean_spectrum: torch.Tensor) -> torch.Tensor:
        return mean_spectrum.log()
