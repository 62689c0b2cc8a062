"""A Mamba block (Gu & Dao 2023) in pure PyTorch: the selective scan in a parallel form for training and a
recurrent form for rollouts, with mamba-ssm's fused kernel when it is installed on a CUDA machine.

The selective state-space recurrence on inputs ``u_t`` ``(D,)`` with input-dependent ``Δ_t`` ``(D,)``,
``B_t``, ``C_t`` ``(N,)`` and a fixed ``A`` ``(D, N)`` (negative real):

    h_t = exp(Δ_t A) ⊙ h_{t-1} + (Δ_t ⊙ u_t) B_t^T,      y_t = h_t C_t + D_skip ⊙ u_t,      h_{-1} = 0.

The parallel form evaluates every ``h_t`` at once from the cumulative sums ``S_t = Σ_{r<=t} Δ_r A``:
``h_t = Σ_{s<=t} exp(S_t - S_s) ⊙ (Δ_s u_s) B_s^T``; the pairwise differences are never positive, so nothing
overflows. Its cost is quadratic in the sequence length, so a long sequence is scanned in chunks: the
parallel form inside each chunk of ``chunk`` steps, started from the state the previous chunk ended in
(``h_t = exp(S_t) ⊙ h_start + ...`` with ``S`` summed from the chunk's start): time and memory grow linearly
with the length, with ``T / chunk`` sequential steps. The recurrent form carries ``h`` and the last ``k - 1``
inputs of the causal convolution: constant cost per step.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_CHUNK = 32  # steps per chunk of the parallel scan: (batch, chunk, chunk, D, N) floats per chunk


def selective_scan_parallel(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                            C: torch.Tensor, D: torch.Tensor, chunk: int | None = DEFAULT_CHUNK) -> torch.Tensor:
    """``u``, ``delta`` ``(batch, T, D)``, ``A`` ``(D, N)``, ``B``, ``C`` ``(batch, T, N)``, ``D`` ``(D,)`` ->
    ``y`` ``(batch, T, D)``, all states at once within each chunk of ``chunk`` steps (``None``: one chunk)."""
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 or None, got {chunk}")
    size = u.shape[1] if chunk is None else chunk
    state = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
    out = []
    for start in range(0, u.shape[1], size):
        part = slice(start, start + size)
        h, state = _scan_chunk(state, delta[:, part], A, B[:, part], u[:, part])
        out.append(torch.einsum("btdn,btn->btd", h, C[:, part]))
    return torch.cat(out, dim=1) + D * u


def _scan_chunk(start: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every state ``(b, t, D, N)`` of one chunk from the state before it ``(b, D, N)``; also the last one."""
    t = u.shape[1]
    s = torch.cumsum(delta[..., None] * A, dim=1)  # (b, t, D, N), S_t summed from the chunk's start
    diff = s[:, :, None] - s[:, None, :]  # (b, t, s, D, N): S_t - S_s
    causal = torch.ones(t, t, dtype=torch.bool, device=u.device).tril()
    decay = torch.where(causal[None, :, :, None, None], diff, torch.full_like(diff, -math.inf)).exp()
    inputs = (delta * u)[..., None] * B[:, :, None, :]  # (b, s, D, N)
    h = torch.einsum("btsdn,bsdn->btdn", decay, inputs) + s.exp() * start[:, None]
    return h, h[:, -1]


def selective_scan_step(state: torch.Tensor, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor,
                        B: torch.Tensor, C: torch.Tensor, D: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: ``state`` ``(batch, D, N)``, ``u``, ``delta`` ``(batch, D)``, ``B``, ``C`` ``(batch, N)`` ->
    ``(y (batch, D), new state)``."""
    state = torch.exp(delta[..., None] * A) * state + (delta * u)[..., None] * B[:, None, :]
    return torch.einsum("bdn,bn->bd", state, C) + D * u, state


def selective_scan_reference(u, delta, A, B, C, D) -> torch.Tensor:
    """The recurrence written out, one step at a time (the tests' independent truth)."""
    batch, t, d = u.shape
    h = u.new_zeros(batch, d, A.shape[1])
    out = []
    for i in range(t):
        for j in range(d):
            decay = torch.exp(delta[:, i, j, None] * A[j])
            h[:, j] = decay * h[:, j] + delta[:, i, j, None] * u[:, i, j, None] * B[:, i]
        out.append((h * C[:, i, None, :]).sum(-1) + D * u[:, i])
    return torch.stack(out, dim=1)


def _fused_scan():
    """mamba-ssm's fused selective scan, or None when the ``gpu`` extra is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


class MambaBlock(nn.Module):
    """``(batch, T, d_model) -> (batch, T, d_model)``: in-projection to ``x, z``, a causal depthwise convolution
    over time and SiLU on ``x``, the selective scan, gating by ``SiLU(z)``, out-projection.

    Args:
      d_model: feature size.
      d_state: N, the state size per channel.
      expand: inner size ``d_inner = expand * d_model``.
      d_conv: causal convolution length.
      scan: ``auto`` (mamba-ssm's fused kernel on CUDA when installed, else the pure one), ``pure``, ``fused``.
      chunk: steps per chunk of the pure parallel scan (``None``: the whole sequence at once).
    """

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, scan: str = "auto",
                 chunk: int | None = DEFAULT_CHUNK):
        super().__init__()
        if scan not in ("auto", "pure", "fused"):
            raise ValueError(f"scan must be auto, pure or fused, got {scan!r}")
        inner = expand * d_model
        self.inner, self.d_state, self.d_conv, self.scan, self.chunk = inner, d_state, d_conv, scan, chunk
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        with torch.no_grad():  # Δ starts in [1e-3, 1e-1] (Mamba's initialisation)
            dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d_model)

    def _ssm_inputs(self, x: torch.Tensor):
        dbc = self.x_proj(x)
        dt, B, C = dbc.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C, -torch.exp(self.A_log.float())

    def use_fused(self, x: torch.Tensor) -> bool:
        if self.scan == "pure":
            return False
        fused = _fused_scan() is not None and x.is_cuda
        if self.scan == "fused" and not fused:
            raise RuntimeError("scan='fused' needs mamba-ssm (pip install 'sciml[gpu]') and a CUDA tensor")
        return fused

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        """The parallel form over a whole sequence ``(batch, T, d_model)``."""
        x, z = self.in_proj(sequence).chunk(2, dim=-1)
        x = F.silu(self.conv(x.transpose(1, 2))[..., : sequence.shape[1]].transpose(1, 2))
        delta, B, C, A = self._ssm_inputs(x)
        if self.use_fused(x):
            def channels_first(t: torch.Tensor) -> torch.Tensor:
                return t.transpose(1, 2).contiguous()

            y = _fused_scan()(channels_first(x), channels_first(delta), A, channels_first(B), channels_first(C),
                              self.D.float()).transpose(1, 2)
        else:
            y = selective_scan_parallel(x, delta, A, B, C, self.D, self.chunk)
        return self.out_proj(y * F.silu(z))

    def initial_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The recurrent state: SSM states ``(batch, d_inner, N)`` and the convolution's last inputs."""
        return (like.new_zeros(batch, self.inner, self.d_state), like.new_zeros(batch, self.inner, self.d_conv - 1))

    def step(self, token: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        """One token ``(batch, d_model)`` -> ``(output (batch, d_model), new state)``; constant cost per step."""
        ssm, window = state
        x, z = self.in_proj(token).chunk(2, dim=-1)
        full = torch.cat([window, x[..., None]], dim=-1)  # (batch, inner, d_conv)
        x = F.silu((full * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)
        delta, B, C, A = self._ssm_inputs(x)
        y, ssm = selective_scan_step(ssm, x, delta, A, B, C, self.D)
        return self.out_proj(y * F.silu(z)), (ssm, full[..., 1:])
