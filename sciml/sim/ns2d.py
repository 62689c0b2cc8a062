"""Two-dimensional incompressible Navier–Stokes in vorticity form on a doubly periodic square."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sciml.sim.base import Closure, Coefficient, Simulator, coefficient
from sciml.sim.forcings import FORCINGS
from sciml.sim.integrators import etdrk4_step
from sciml.sim.spectral import (
    etdrk4_coefficients,
    nyquist_free_mask_2d,
    pad_spectrum_2d,
    rfft2_wavenumbers,
    truncate_spectrum_2d,
    two_thirds_mask_2d,
)

# Carpenter & Kennedy (1994) low-storage RK4 as used with Crank–Nicolson in jax-cfd.
_CK_ALPHA = (0.0, 0.1496590219993, 0.3704009573644, 0.6222557631345, 0.9582821306748, 1.0)
_CK_BETA = (0.0, -0.4178904745, -1.192151694643, -1.697784692471, -1.514183444257)
_CK_GAMMA = (0.1496590219993, 0.3792103129999, 0.8229550293869, 0.6994504559488, 0.1530572479681)

STEPPERS = ("cn_rk4", "ab2_cn", "etdrk4")


class NavierStokes2D(Simulator):
    """``d omega/dt + J(psi, omega) = nu lap(omega) - alpha omega + f - beta d psi/dx (- nu_h (-lap)^p omega)``.

    Sign convention (stated once, tested): ``omega = lap(psi)``, velocity ``u = -d psi/dy``,
    ``v = d psi/dx``, so that ``omega = dv/dx - du/dy`` and ``J(psi, omega) = psi_x omega_y - psi_y omega_x
    = u . grad(omega)``. In Fourier space ``psi_hat = -omega_hat / |k|^2``. The beta term is ``-beta v``
    (Rossby waves propagate westward, ``sigma = -beta k_x / |k|^2``).

    Pseudo-spectral on ``[0, L)^2`` with ``n x n`` points, states ``(*batch, n, n)`` indexed ``[x, y]``.
    The Jacobian is dealiased by the 2/3 rule (default; the state is kept inside the 2/3 band) or by 3/2
    zero-padding. Time steppers: ``"cn_rk4"`` (low-storage RK4 with Crank–Nicolson on the linear terms,
    Carpenter & Kennedy 1994, as jax-cfd; second order overall with viscosity, fourth in the explicit part),
    ``"ab2_cn"`` (Adams–Bashforth 2 on the explicit terms, Crank–Nicolson on viscosity and drag, as py2d;
    second order, the first step is Euler–CN) and ``"etdrk4"`` (exponential, fourth order).
    Args:
      n: grid points per side; L: side length; nu: viscosity; drag: linear drag ``alpha``; beta: beta-plane;
        nu, drag and forcing_amplitude are floats or tensors (differentiable; ``(*batch, 1, 1)`` for one
        value per batch member; not with ETDRK4);
      forcing: ``"kolmogorov"`` (velocity ``sin(k_f y) x_hat``), ``"py2d"`` (``k_f[cos k_f x + cos k_f y]``),
        ``None``, or a ``(n, n)`` vorticity tensor; k_f, forcing_amplitude: its wavenumber and amplitude;
      hyperviscosity, hyper_order: ``nu_h`` and ``p`` of ``-nu_h (-lap)^p omega``;
      dealias: ``"2/3"`` or ``"3/2"``; stepper: one of ``STEPPERS``.
    """

    def __init__(self, n: int = 128, L: float = 2 * math.pi, nu: Coefficient = 1e-3,
                 forcing: str | torch.Tensor | None = None, k_f: int = 4, forcing_amplitude: Coefficient = 1.0,
                 drag: Coefficient = 0.0, beta: float = 0.0, hyperviscosity: float = 0.0, hyper_order: int = 2,
                 dealias: str = "2/3", stepper: str = "cn_rk4"):
        super().__init__()
        if n < 4 or n % 2:
            raise ValueError(f"n must be even and >= 4, got {n}")
        if stepper not in STEPPERS:
            raise ValueError(f"unknown stepper {stepper!r} (known: {', '.join(STEPPERS)})")
        if dealias not in ("2/3", "3/2"):
            raise ValueError(f"dealias must be '2/3' or '3/2', got {dealias!r}")
        self.n, self.L, self.beta = n, float(L), float(beta)
        self.nu, self.drag, self.forcing_amplitude = coefficient(nu), coefficient(drag), coefficient(forcing_amplitude)
        self.hyperviscosity, self.hyper_order = float(hyperviscosity), int(hyper_order)
        self.dealias, self.stepper = dealias, stepper
        # tensor nu, drag or forcing amplitude: operators that depend on them are rebuilt at every use (not cached),
        # so that rollouts are differentiable in them
        self.differentiable = any(isinstance(v, torch.Tensor) for v in (self.nu, self.drag, self.forcing_amplitude))
        if self.differentiable and stepper == "etdrk4":
            raise ValueError("tensor nu, drag or forcing_amplitude need stepper 'cn_rk4' or 'ab2_cn' (ETDRK4's "
                             "coefficients are computed once, off the autograd graph)")
        if isinstance(forcing, str):
            if forcing not in FORCINGS:
                raise ValueError(f"unknown forcing {forcing!r} (known: {', '.join(FORCINGS)}, None)")
            forcing = FORCINGS[forcing](n, self.L, k_f=k_f, amplitude=1.0)
        elif forcing is not None and isinstance(self.forcing_amplitude, torch.Tensor):
            raise ValueError("a tensor forcing_amplitude needs a named forcing (scale a forcing tensor yourself)")
        elif forcing is not None:
            forcing = forcing / self.forcing_amplitude  # forcing_amplitude multiplies it below; a tensor is as given
        if forcing is not None and tuple(forcing.shape) != (n, n):
            raise ValueError(f"forcing must be ({n}, {n}), got {tuple(forcing.shape)}")
        self._unit_forcing = None if forcing is None else forcing.to(torch.float64)
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}

    @property
    def space_dims(self) -> int:
        return 2

    # -- operators ------------------------------------------------------------------------------------
    @property
    def forcing(self) -> torch.Tensor | None:
        """The vorticity forcing ``(n, n)`` (``(*batch, n, n)`` with a per-member tensor amplitude), or None."""
        return None if self._unit_forcing is None else self._unit_forcing * self.forcing_amplitude

    def operators(self, dtype: torch.dtype, device) -> dict[str, torch.Tensor]:
        """Wavenumbers, ``1/|k|^2``, the dealiasing mask and derivative multipliers in Fourier space (cached);
        the linear operator and the forcing are :meth:`coefficient_operators`."""
        key = (dtype, device)
        if key not in self._cache:
            real = _real(dtype)
            kx, ky = rfft2_wavenumbers(self.n, self.L)
            k2 = kx**2 + ky**2
            inv_k2 = torch.where(k2 > 0, 1 / torch.where(k2 > 0, k2, 1), 0)
            # 2/3 rule: keep |k| < n/3 per axis; 3/2 padding: drop only the Nyquist modes, whose sign is
            # ambiguous, so that the truncated system conserves energy and enstrophy exactly.
            mask = two_thirds_mask_2d(self.n) if self.dealias == "2/3" else nyquist_free_mask_2d(self.n)
            ops = {"kx": kx, "ky": ky, "k2": k2, "inv_k2": inv_k2,
                   "mask": mask.to(torch.float64), "neg_mask": -mask.to(torch.float64)}
            ops = {k: v.to(dtype=real, device=device) for k, v in ops.items()}
            complex_dtype = torch.complex128 if real == torch.float64 else torch.complex64
            # omega_hat -> (u, v, omega_x, omega_y): u = -psi_y = i k_y omega / k^2, v = psi_x = -i k_x omega / k^2
            ops["derivatives"] = [op.to(dtype=complex_dtype, device=device) for op in
                                  (1j * ky * inv_k2, -1j * kx * inv_k2, 1j * kx + 0 * ky, 1j * ky + 0 * kx)]
            self._cache[key] = ops
        return self._cache[key]

    def coefficient_operators(self, dtype: torch.dtype, device) -> dict[str, torch.Tensor]:
        """``linear`` (``-nu k^2 - drag - hyperviscosity``) and ``f_hat`` (the forcing, when there is one): cached
        for float coefficients, rebuilt at every call (once per step) for tensor ones, so that the step is
        differentiable in them."""
        key = ("coefficients", dtype, device)
        if not self.differentiable and key in self._cache:
            return self._cache[key]
        real = _real(dtype)
        k2 = self.operators(dtype, device)["k2"]
        linear = -self.nu * k2 - self.drag - self.hyperviscosity * k2**self.hyper_order
        out = {"linear": torch.as_tensor(linear).to(dtype=real, device=device)}
        if self._unit_forcing is not None:
            complex_dtype = torch.complex128 if real == torch.float64 else torch.complex64
            out["f_hat"] = torch.fft.rfft2(self.forcing.to(device)).to(complex_dtype)
        if not self.differentiable:
            self._cache[key] = out
        return out

    def _check(self, w: torch.Tensor) -> None:
        if tuple(w.shape[-2:]) != (self.n, self.n):
            raise ValueError(f"NavierStokes2D state must end with ({self.n}, {self.n}), got {tuple(w.shape)}")

    def to_spectral(self, w: torch.Tensor) -> torch.Tensor:
        """``omega -> omega_hat``, filtered to the dealiased band (2/3 rule) or without Nyquist modes (3/2)."""
        self._check(w)
        return torch.fft.rfft2(w) * self.operators(w.dtype, w.device)["mask"]

    def to_physical(self, w_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(w_hat, s=(self.n, self.n))

    def jacobian_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Fourier transform of ``J(psi, omega) = u . grad(omega)``, dealiased."""
        return self._advection_hat(w_hat) * self.operators(_real_dtype(w_hat), w_hat.device)["mask"]

    def _advection_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """``F[u . grad(omega)]`` before the final dealiasing mask (4 inverse and 1 forward FFT)."""
        ops = self.operators(_real_dtype(w_hat), w_hat.device)
        if self.dealias == "3/2":
            m = 3 * self.n // 2
            u, v, wx, wy = (torch.fft.irfft2(pad_spectrum_2d(w_hat * d, m), s=(m, m)) for d in ops["derivatives"])
            return truncate_spectrum_2d(torch.fft.rfft2(torch.addcmul(u * wx, v, wy)), self.n)
        u, v, wx, wy = (self.to_physical(w_hat * d) for d in ops["derivatives"])
        return torch.fft.rfft2(torch.addcmul(u * wx, v, wy))

    def explicit_hat(self, w_hat: torch.Tensor, closure: Closure | None = None,
                     coefficients: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Explicit tendency ``-J + f - beta psi_x (+ closure)`` in Fourier space (``coefficients``: this step's
        :meth:`coefficient_operators`, when the caller has them)."""
        ops = self.operators(_real_dtype(w_hat), w_hat.device)
        coefficients = coefficients or self.coefficient_operators(_real_dtype(w_hat), w_hat.device)
        if "f_hat" in coefficients:
            out = torch.addcmul(coefficients["f_hat"], self._advection_hat(w_hat), ops["neg_mask"])
        else:
            out = self._advection_hat(w_hat) * ops["neg_mask"]
        if self.beta:
            out = out - self.beta * 1j * ops["kx"] * (-w_hat * ops["inv_k2"])
        if closure is not None:
            extra = torch.fft.rfft2(closure(self.to_physical(w_hat)))
            out = out + extra * ops["mask"]
        return out

    def rhs(self, state: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """``d omega / dt`` in physical space."""
        w_hat = self.to_spectral(state)
        coefficients = self.coefficient_operators(state.dtype, state.device)
        return self.to_physical(self.explicit_hat(w_hat, None, coefficients) + coefficients["linear"] * w_hat)

    # -- steppers -------------------------------------------------------------------------------------
    def step_hat(self, w_hat: torch.Tensor, dt: float, closure: Closure | None = None,
                 previous: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step in Fourier space; returns the new state and what a multistep method carries."""
        coefficients = self.coefficient_operators(_real_dtype(w_hat), w_hat.device)
        lin = coefficients["linear"]

        def explicit(v: torch.Tensor) -> torch.Tensor:
            return self.explicit_hat(v, closure, coefficients)

        if self.stepper == "cn_rk4":
            key = ("cn_rk4", float(dt), w_hat.dtype, w_hat.device)
            factors = None if self.differentiable else self._cache.get(key)
            if factors is None:  # u <- (u + gamma dt h + mu L u) / (1 - mu L) = A u + B h
                mus = [0.5 * dt * (_CK_ALPHA[k + 1] - _CK_ALPHA[k]) for k in range(5)]
                factors = {"A": [(1 + mu * lin) / (1 - mu * lin) for mu in mus],
                           "B": [_CK_GAMMA[k] * dt / (1 - mus[k] * lin) for k in range(5)]}
                if not self.differentiable:
                    self._cache[key] = factors
            u, h = w_hat, None
            for k in range(5):
                h = explicit(u) if h is None else explicit(u).add_(h, alpha=_CK_BETA[k])
                u = torch.addcmul(factors["A"][k] * u, factors["B"][k], h)
            return u, None
        if self.stepper == "ab2_cn":
            n_now = explicit(w_hat)
            n_prev = n_now if previous is None else previous
            u = ((1 + 0.5 * dt * lin) * w_hat + dt * (1.5 * n_now - 0.5 * n_prev)) / (1 - 0.5 * dt * lin)
            return u, n_now
        key = ("etdrk4", float(dt), w_hat.dtype, w_hat.device)
        if key not in self._cache:
            coef = etdrk4_coefficients(lin.double().cpu(), dt)
            self._cache[key] = {k: c.to(dtype=w_hat.dtype, device=w_hat.device) for k, c in coef.items()}
        return etdrk4_step(w_hat, explicit, self._cache[key]), None

    def step(self, state: torch.Tensor, dt: float, closure: Closure | None = None) -> torch.Tensor:
        """One step of ``dt`` (for ``ab2_cn`` a lone step is Euler–CN: use :meth:`rollout` for AB2)."""
        return self.to_physical(self.step_hat(self.to_spectral(state), dt, closure)[0])

    def rollout(self, state: torch.Tensor, n_steps: int, dt: float, closure: Closure | None = None,
                save_every: int = 1, checkpoint_every: int = 0, checkpoint_reentrant: bool = True) -> torch.Tensor:
        """``(*batch, T, n, n)`` with ``T = n_steps // save_every + 1``, stepping in Fourier space.

        ``checkpoint_every > 0`` recomputes segments of that many steps in the backward pass
        (``torch.utils.checkpoint``), so that backpropagation through long rollouts fits in memory: the
        reentrant variant (default) keeps memory flat in the number of steps but works with
        ``loss.backward()`` only; ``checkpoint_reentrant=False`` also works with ``torch.autograd.grad`` but
        its memory still grows with the number of steps (see docs/benchmarks.md).
        """
        if n_steps < 0 or save_every < 1:
            raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps} and {save_every}")
        w_hat = self.to_spectral(state)
        saved, previous = [w_hat], None

        def advance(w_hat, previous, count):
            for _ in range(count):
                w_hat, previous = self.step_hat(w_hat, dt, closure, previous)
            return w_hat, previous

        done = 0
        while done < n_steps:
            count = min(save_every - done % save_every, n_steps - done)
            if checkpoint_every and torch.is_grad_enabled() and w_hat.requires_grad:
                count = min(count, checkpoint_every)
                w_hat, previous = _checkpointed(advance, w_hat, previous, count, checkpoint_reentrant)
            else:
                w_hat, previous = advance(w_hat, previous, count)
            done += count
            if done % save_every == 0:
                if not bool(torch.isfinite(w_hat.detach()).all()):
                    u, v = self.velocity(self.to_physical(saved[-1].detach()))
                    cfl = float(torch.maximum(u.abs().max(), v.abs().max())) * dt / (self.L / self.n)
                    raise FloatingPointError(
                        f"NavierStokes2D rollout blew up (NaN/inf) between steps {done - count} and {done}; "
                        f"CFL number max|u| dt / dx was {cfl:.3g} at the last saved state: reduce dt")
                saved.append(w_hat)
        return self.to_physical(torch.stack(saved, dim=w_hat.dim() - 2))

    # -- diagnostics ----------------------------------------------------------------------------------
    def streamfunction(self, w: torch.Tensor) -> torch.Tensor:
        ops = self.operators(w.dtype, w.device)
        return self.to_physical(-torch.fft.rfft2(w) * ops["inv_k2"])

    def velocity(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u, v) = (-psi_y, psi_x)``."""
        ops = self.operators(w.dtype, w.device)
        psi_hat = -torch.fft.rfft2(w) * ops["inv_k2"]
        return self.to_physical(-1j * ops["ky"] * psi_hat), self.to_physical(1j * ops["kx"] * psi_hat)

    def energy(self, w: torch.Tensor) -> torch.Tensor:
        """Kinetic energy ``0.5 <u^2 + v^2>`` (domain mean), ``(*batch,)``."""
        u, v = self.velocity(w)
        return 0.5 * (u**2 + v**2).mean((-2, -1))

    def enstrophy(self, w: torch.Tensor) -> torch.Tensor:
        """``Z = 0.5 <omega^2>``."""
        return 0.5 * (w**2).mean((-2, -1))

    def palinstrophy(self, w: torch.Tensor) -> torch.Tensor:
        """``P = 0.5 <|grad omega|^2>``."""
        ops = self.operators(w.dtype, w.device)
        w_hat = torch.fft.rfft2(w)
        return 0.5 * (self.to_physical(1j * ops["kx"] * w_hat) ** 2
                      + self.to_physical(1j * ops["ky"] * w_hat) ** 2).mean((-2, -1))

    def enstrophy_budget(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms of ``dZ/dt = -2 nu P - 2 alpha Z + <omega f>`` (+ hyperviscous dissipation)."""
        out = {"viscous": -2 * self.nu * self.palinstrophy(w), "drag": -2 * self.drag * self.enstrophy(w)}
        out["forcing"] = ((w * self.forcing.to(w)).mean((-2, -1)) if self.forcing is not None
                          else torch.zeros_like(out["drag"]))
        if self.hyperviscosity:
            ops = self.operators(w.dtype, w.device)
            w_hat = torch.fft.rfft2(w)
            out["hyperviscous"] = (w * self.to_physical(-self.hyperviscosity * ops["k2"] ** self.hyper_order
                                                        * w_hat)).mean((-2, -1))
        out["total"] = sum(out.values())
        return out

    def spectrum(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Isotropic kinetic-energy spectrum: ``E(k)`` summed over shells of integer ``|k|`` (units of
        ``2 pi / L``), normalised so that ``sum_k E(k)`` equals :meth:`energy`. Returns ``(k, E)``."""
        ops = self.operators(w.dtype, w.device)
        n = self.n
        psi_hat = -torch.fft.rfft2(w) * ops["inv_k2"]
        density = ops["k2"] * psi_hat.abs() ** 2 / n**4  # |u_hat|^2 + |v_hat|^2 per mode
        weight = torch.full((n // 2 + 1,), 2.0, dtype=density.dtype, device=w.device)
        weight[0], weight[-1] = 1.0, 1.0  # rfft counts the k_y = 0 and Nyquist columns once
        density = 0.5 * density * weight
        shell = (torch.sqrt(ops["k2"]) * self.L / (2 * math.pi)).round().long().expand(n, n // 2 + 1)
        n_shells = int(shell.max()) + 1
        flat = density.flatten(-2)
        e = flat.new_zeros(*flat.shape[:-1], n_shells).index_add_(-1, shell.flatten(), flat)
        return torch.arange(n_shells, device=w.device), e

    def spectrum_1d(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Enstrophy spectrum along x and along y, averaged (the SMARL reward's ``Z(k)``): ``(k, Z)``."""
        n = self.n
        zx = torch.fft.rfft(w, dim=-2).abs().pow(2).mean(-1)  # transform along x, average over y
        zy = torch.fft.rfft(w, dim=-1).abs().pow(2).mean(-2)
        return torch.arange(n // 2 + 1, device=w.device), 0.5 * (zx + zy) / n**2


def _real_dtype(z: torch.Tensor) -> torch.dtype:
    return torch.float64 if z.dtype == torch.complex128 else torch.float32


def _checkpointed(fn: Callable, w_hat: torch.Tensor, previous, count: int, reentrant: bool):
    """``fn(w_hat, previous, count)`` recomputed in the backward pass.

    The reentrant variant runs each segment's backward as soon as it is recomputed and frees it; the
    non-reentrant one keeps some recomputed tensors alive until the whole backward pass ends, so its
    memory grows with the number of steps (measured in benchmarks/sim_ns2d.py --backward).
    """
    from torch.utils.checkpoint import checkpoint

    carried = () if previous is None else (previous,)
    return checkpoint(lambda w, *p: fn(w, p[0] if p else None, count), w_hat, *carried, use_reentrant=reentrant)
def _real(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32
