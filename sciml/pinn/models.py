"""Networks for physics-informed solvers: a tanh MLP with optional input features, and Physics-Informed
Gaussians (Kang et al., ICLR 2025) with closed-form feature derivatives."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """``u(x)``: tanh MLP of ``depth`` hidden layers of ``width``, Xavier-initialised, on optional features.

    Args:
      in_dim: coordinates per point.
      periodic: ``{axis: (period, harmonics)}`` replaces that coordinate by ``cos``/``sin`` of
        ``2 pi k x / period``, k = 1..harmonics (exact periodicity; Allen–Cahn uses 10 harmonics).
      fourier_features, fourier_scale: random Fourier features ``[cos(Bx), sin(Bx)]`` with
        ``B ~ N(0, scale^2)`` (0 features: plain coordinates).
      low, high: the domain's corners; other coordinates are mapped to [-1, 1] (default: used as given).
      init: ``xavier_normal`` (Raissi et al.), ``xavier_uniform``, or ``torch`` (``nn.Linear``'s own
        uniform(+-1/sqrt(fan_in)), smaller weights: a smoother network at the start); biases start at zero
        except with ``torch``.
    Returns ``(N,)`` for ``(N, in_dim)``.
    """

    INITS = ("xavier_normal", "xavier_uniform", "torch")

    def __init__(self, in_dim: int, width: int = 50, depth: int = 4,
                 periodic: dict[int, tuple[float, int]] | None = None, fourier_features: int = 0,
                 fourier_scale: float = 1.0, low=None, high=None, init: str = "xavier_normal"):
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"unknown init {init!r} (choose from {', '.join(self.INITS)})")
        # optional affine map of the non-periodic coordinates from [low, high] to [-1, 1]
        low = -torch.ones(in_dim) if low is None else torch.as_tensor(low, dtype=torch.get_default_dtype())
        high = torch.ones(in_dim) if high is None else torch.as_tensor(high, dtype=torch.get_default_dtype())
        self.register_buffer("centre", (low + high) / 2)
        self.register_buffer("half_width", (high - low) / 2)
        self.periodic = dict(periodic or {})
        features = in_dim + sum(2 * h - 1 for _, h in self.periodic.values())  # +1 constant per periodic axis
        if self.periodic:
            features += len(self.periodic)
        self.register_buffer("fourier", torch.randn(in_dim, fourier_features) * fourier_scale)
        if fourier_features:
            features = 2 * fourier_features
        layers, d = [], features
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.Tanh()]
            d = width
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear) and init != "torch":
                getattr(nn.init, init + "_")(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.fourier.shape[1]:
            z = x @ self.fourier
            return torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
        parts = []
        for axis in range(x.shape[-1]):
            if axis in self.periodic:
                period, harmonics = self.periodic[axis]
                k = torch.arange(1, harmonics + 1, dtype=x.dtype, device=x.device)
                angle = 2 * math.pi * x[:, axis:axis + 1] * k / period
                parts += [torch.ones_like(x[:, :1]), torch.cos(angle), torch.sin(angle)]
            else:
                parts.append((x[:, axis:axis + 1] - self.centre[axis]) / self.half_width[axis])
        return torch.cat(parts, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(x)).squeeze(-1)


class HardInitial(nn.Module):
    """``u(x, t) = u0(x) + t_hat net(x, t)``: the initial condition holds exactly (a hard constraint, as in
    DeepXDE's Allen–Cahn example). It did not help our Allen–Cahn or convection runs (docs/pinn.md).

    Args:
      net: the network, ``(N, d) -> (N,)``.
      initial: ``u0``, ``(N, d) -> (N,)`` (reads the space coordinates only).
      time_axis, t0, t1: the time coordinate and its range; ``t_hat = (t - t0) / (t1 - t0)``.
    """

    def __init__(self, net: nn.Module, initial, time_axis: int, t0: float, t1: float):
        super().__init__()
        self.net, self.initial = net, initial
        self.time_axis, self.t0, self.t1 = time_axis, float(t0), float(t1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t_hat = (x[:, self.time_axis] - self.t0) / (self.t1 - self.t0)
        return self.initial(x) + t_hat * self.net(x).reshape(x.shape[0])


class TimeMarching(nn.Module):
    """One network per time window: ``u(x, t) = nets[k](x, t)`` for ``t`` in window ``k`` of ``len(nets)`` equal
    windows of ``[t0, t1]`` (a time on an edge belongs to the earlier window, whose end it is). Time-marching
    (:mod:`sciml.pinn.strategies`) trains the windows in turn.

    Each window's network sees its window stretched onto ``[t0, t1]``, so every window sees the times of the
    whole problem and a window's network starts out at a known scale (a window a tenth as long would
    otherwise need time derivatives ten times larger from the same weights). With ``hard_initial`` (``u0``,
    ``(N, d) -> (N,)``), window ``k`` is :class:`HardInitial` on its own range,
    ``u_k = u_{k-1}(x, t_k) + t_hat net_k(x, t)`` (``u_{-1} = u0``): the windows join exactly, and evaluating
    window ``k`` evaluates every window before it.
    """

    def __init__(self, nets: list[nn.Module], time_axis: int, t0: float, t1: float, hard_initial=None):
        super().__init__()
        self.time_axis = time_axis
        self.edges = [float(t0) + (float(t1) - float(t0)) * k / len(nets) for k in range(len(nets) + 1)]
        windows: list[nn.Module] = []
        for k, net in enumerate(nets):
            a, b = self.edges[k], self.edges[k + 1]
            window = _Stretched(net, time_axis, (a, b), (t0, t1))
            if hard_initial is not None:
                initial = hard_initial if k == 0 else _AtTime(windows[-1], time_axis, a)
                window = HardInitial(window, initial, time_axis, a, b)
            windows.append(window)
        self.nets = nn.ModuleList(windows)

    def window_of(self, t: torch.Tensor) -> torch.Tensor:
        """The window index of each time ``(N,)``."""
        inner = torch.tensor(self.edges[1:-1], dtype=t.dtype, device=t.device)
        return torch.bucketize(t.contiguous(), inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self.window_of(x[:, self.time_axis])
        out = x.new_zeros(x.shape[0])
        for k, net in enumerate(self.nets):
            mask = window == k
            if mask.any():
                out = out.index_put((mask,), net(x[mask]).reshape(-1))
        return out


class _Stretched(nn.Module):
    """``net`` on its time window ``(a, b)`` stretched affinely onto ``(t0, t1)``."""

    def __init__(self, net: nn.Module, time_axis: int, window: tuple[float, float], whole: tuple[float, float]):
        super().__init__()
        self.net, self.time_axis = net, time_axis
        (self.a, b), (self.t0, t1) = window, whole
        self.scale = (t1 - self.t0) / (b - self.a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stretched = x.clone()
        stretched[:, self.time_axis] = self.t0 + (x[:, self.time_axis] - self.a) * self.scale
        return self.net(stretched).reshape(x.shape[0])


class _AtTime:
    """``model`` at the space coordinates of ``x`` and the fixed time ``t`` (a plain callable, so that the
    window before is not registered twice as a submodule)."""

    def __init__(self, model: nn.Module, time_axis: int, t: float):
        self.model, self.time_axis, self.t = model, time_axis, t

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        at = x.clone()
        at[:, self.time_axis] = self.t
        return self.model(at).reshape(x.shape[0])


EXPONENT_FLOOR = -50.0  # exp(-50) ~ 2e-22: below float32 resolution of O(1) sums, far above denormals


class GaussianFeatures(nn.Module):
    """``k`` feature channels, each a sum of its own ``n`` Gaussians with trainable means, diagonal widths and
    weights (Kang et al. 2025; 4 x 800 Gaussians and a 4-16-1 head give their 16,097 parameters):

    ``f_c(x) = sum_i w_{c,i} exp(-0.5 sum_d ((x_d - mu_{c,i,d}) / sigma_{c,i,d})^2)``.

    The squares are expanded, ``(x - mu)^2 / s^2 = x^2 / s^2 - 2 x mu / s^2 + mu^2 / s^2``, so the exponents of
    all points and Gaussians are one matrix product, and gradients and pure second derivatives along each
    axis (:meth:`with_derivatives`) are contractions of the ``(N, k, n)`` weighted Gaussians with per-Gaussian
    coefficients: no ``(N, k, n, d)`` tensor is formed and no nested autograd is needed (with the exponent
    floor, an Adam step at 1,000 points x 3,200 Gaussians takes 84 ms against 220 ms for the direct form on one
    CPU thread: docs/benchmarks.md). The expansion loses ``~eps * (|x| / sigma)^2`` of the
    exponent: 1e-5 in float32 at sigma 0.1 on a unit domain; use float64 for tighter work. Points are
    processed in chunks of ``chunk`` so memory stays bounded.
    """

    def __init__(self, in_dim: int, n_gaussians: int, channels: int = 4, low=None, high=None, sigma=0.1,
                 chunk: int = 4096, generator: torch.Generator | None = None, rotation: bool = False):
        """Means uniform in ``[low, high]``; ``sigma``: initial width, a number or one per axis.
        ``rotation``: full covariances ``R diag(sigma^2) R^T`` with ``R = exp(S)``, ``S`` skew-symmetric from
        ``d (d - 1) / 2`` trainable angles per Gaussian (zero at start: the diagonal model)."""
        super().__init__()
        low = torch.zeros(in_dim) if low is None else torch.as_tensor(low, dtype=torch.get_default_dtype())
        high = torch.ones(in_dim) if high is None else torch.as_tensor(high, dtype=torch.get_default_dtype())
        shape = (channels, n_gaussians, in_dim)
        self.mu = nn.Parameter(low + torch.rand(shape, generator=generator) * (high - low))
        sigma = torch.as_tensor(sigma, dtype=torch.get_default_dtype())
        self.log_sigma = nn.Parameter(torch.log(sigma).expand(shape).clone())
        self.weight = nn.Parameter(0.01 * torch.randn(channels, n_gaussians, generator=generator))
        self.chunk = chunk
        self.angles = nn.Parameter(torch.zeros(channels, n_gaussians, in_dim * (in_dim - 1) // 2)) if rotation else None

    def precision(self) -> torch.Tensor:
        """``A = R diag(1 / sigma^2) R^T``: ``(C, G, d, d)``."""
        channels, n, d = self.mu.shape
        skew = torch.zeros(channels, n, d, d, dtype=self.mu.dtype, device=self.mu.device)
        upper = torch.triu_indices(d, d, 1)
        skew[..., upper[1], upper[0]] = self.angles  # in 2-D: R rotates counter-clockwise by the angle
        skew = skew - skew.transpose(-1, -2)
        rot = torch.linalg.matrix_exp(skew)
        return rot @ torch.diag_embed(torch.exp(-2 * self.log_sigma)) @ rot.transpose(-1, -2)

    def _weighted_rotated(self, x: torch.Tensor, prec: torch.Tensor) -> torch.Tensor:
        """As :meth:`_weighted` for full precision matrices: monomials ``[x_e x_f (e <= f), x, 1]``."""
        d = x.shape[-1]
        e, f = torch.triu_indices(d, d)
        quad = prec[..., e, f] * torch.where(e == f, 1.0, 2.0).to(prec.dtype)  # (C, G, d(d+1)/2)
        a_mu = (prec @ self.mu[..., None])[..., 0]  # (C, G, d)
        coef = torch.cat([quad, -2 * a_mu, (self.mu * a_mu).sum(-1, keepdim=True)], -1)
        monomials = torch.cat([x[:, e] * x[:, f], x, torch.ones_like(x[:, :1])], -1)
        exponent = (monomials @ (-0.5 * coef.reshape(-1, coef.shape[-1]).T)).clamp(min=EXPONENT_FLOOR)
        return torch.exp(exponent) * self.weight.reshape(-1)

    def _exponent(self, x: torch.Tensor) -> torch.Tensor:
        """``-0.5 sum_d ((x_d - mu_d) / sigma_d)^2``: ``(N, C * G)`` from one matrix product of ``[x^2, x, 1]``
        with the expanded-square coefficients (a contiguous 2-D product: strided views cost ~3x in exp and bmm)."""
        inv_var = torch.exp(-2 * self.log_sigma)  # (C, G, d)
        coef = torch.cat([inv_var, -2 * self.mu * inv_var, (self.mu.pow(2) * inv_var).sum(-1, keepdim=True)], -1)
        monomials = torch.cat([x.pow(2), x, torch.ones_like(x[:, :1])], -1)  # (N, 2d + 1)
        return monomials @ (-0.5 * coef.reshape(-1, coef.shape[-1]).T)

    def _weighted(self, x: torch.Tensor) -> torch.Tensor:
        """``w_{c,i} phi_{c,i}(x)``: ``(N, C * G)``."""
        exponent = self._exponent(x)
        # Far Gaussians (beyond 10 sigma) are held at exp(-50) ~ 2e-22 with zero gradient: exp of very
        # negative numbers gives denormal floats, which make exp, the products and their gradients ~15x
        # slower on x86 CPUs (exp(-inf) and masking are slow paths too).
        exponent = exponent.clamp(min=EXPONENT_FLOOR)
        return torch.exp(exponent) * self.weight.reshape(-1)

    @torch.no_grad()
    def active_fraction(self, x: torch.Tensor, floor: float = EXPONENT_FLOOR) -> float:
        """Share of (point, Gaussian) pairs whose exponent lies above ``floor``: the work that evaluating only
        the Gaussians near each point would still do (diagnostic; diagonal widths only)."""
        if self.angles is not None:
            raise NotImplementedError("active_fraction is for diagonal widths")
        active = sum(int((self._exponent(c) > floor).sum()) for c in x.split(self.chunk))
        return active / (len(x) * self.weight.numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, d) -> (N, channels)``."""
        channels = self.weight.shape[0]
        if self.angles is not None:
            prec = self.precision()
            return torch.cat([self._weighted_rotated(c, prec).view(len(c), channels, -1).sum(-1)
                              for c in x.split(self.chunk)])
        return torch.cat([self._weighted(c).view(len(c), channels, -1).sum(-1) for c in x.split(self.chunk)])

    def with_derivatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``(N, C)``, first derivatives ``(N, d, C)`` and pure second derivatives ``(N, d, C)``.

        With ``a = w phi`` and ``p = 1 / sigma^2``: ``f_x = sum a (mu - x) p`` and
        ``f_xx = sum a ((x - mu)^2 p^2 - p) = x^2 S[p^2] - 2 x S[mu p^2] + S[mu^2 p^2 - p]``, ``S[c] = sum a c``.
        """
        if self.angles is not None:
            return self._rotated_derivatives(x)
        p = torch.exp(-2 * self.log_sigma)  # (C, G, d)
        p2 = p.pow(2)
        coef = torch.cat([p, self.mu * p, p2, self.mu * p2, self.mu.pow(2) * p2 - p], -1)  # (C, G, 5d)
        channels, n, d = self.mu.shape
        outs = ([], [], [])
        for c in x.split(self.chunk):
            a = self._weighted(c)  # (N, C * G)
            # one (N, G) @ (G, 5d) product per channel on column slices of a: no copies
            s = torch.stack([a[:, i * n:(i + 1) * n] @ coef[i] for i in range(channels)], 1).split(d, dim=-1)
            xc = c[:, None, :]
            grad = s[1] - xc * s[0]
            second = xc.pow(2) * s[2] - 2 * xc * s[3] + s[4]
            f = a.view(len(c), channels, n).sum(-1)
            for store, value in zip(outs, (f, grad.transpose(1, 2), second.transpose(1, 2)), strict=True):
                store.append(value)
        return tuple(torch.cat(o) for o in outs)

    def _rotated_derivatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Full precision ``A``, ``m = A mu``: ``f_d = S[m_d] - sum_e S[A_de] x_e`` and
        ``f_dd = sum_ef S[A_de A_df] x_e x_f - 2 sum_e S[m_d A_de] x_e + S[m_d^2 - A_dd]``."""
        channels, n, d = self.mu.shape
        prec = self.precision()  # (C, G, d, d)
        m = (prec @ self.mu[..., None])[..., 0]  # (C, G, d)
        quad = prec[..., :, :, None] * prec[..., :, None, :]  # (C, G, d, d, d): A_de A_df
        lin = m[..., :, None] * prec  # (C, G, d, d): m_d A_de
        const = m.pow(2) - torch.diagonal(prec, dim1=-2, dim2=-1)  # (C, G, d)
        coef = torch.cat([prec.flatten(2), m, quad.flatten(2), lin.flatten(2), const], -1)
        sizes = [d * d, d, d ** 3, d * d, d]
        outs = ([], [], [])
        for c in x.split(self.chunk):
            a = self._weighted_rotated(c, prec)
            s_a, s_m, s_q, s_l, s_c = torch.stack(
                [a[:, i * n:(i + 1) * n] @ coef[i] for i in range(channels)], 1).split(sizes, dim=-1)
            s_a, s_q, s_l = s_a.unflatten(-1, (d, d)), s_q.unflatten(-1, (d, d, d)), s_l.unflatten(-1, (d, d))
            grad = s_m - torch.einsum("ncde,ne->ncd", s_a, c)
            second = (torch.einsum("ncdef,ne,nf->ncd", s_q, c, c) - 2 * torch.einsum("ncde,ne->ncd", s_l, c) + s_c)
            f = a.view(len(c), channels, n).sum(-1)
            for store, value in zip(outs, (f, grad.transpose(1, 2), second.transpose(1, 2)), strict=True):
                store.append(value)
        return tuple(torch.cat(o) for o in outs)


class PIG(nn.Module):
    """Physics-Informed Gaussians: :class:`GaussianFeatures` followed by a tiny tanh MLP (channels -> 16 -> 1)."""

    def __init__(self, in_dim: int, n_gaussians: int = 800, channels: int = 4, hidden: int = 16, low=None, high=None,
                 sigma=0.1, generator: torch.Generator | None = None, rotation: bool = False):
        super().__init__()
        self.features = GaussianFeatures(in_dim, n_gaussians, channels, low, high, sigma, generator=generator,
                                         rotation=rotation)
        self.head = nn.Sequential(nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)

    def with_derivatives(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``u (N,)``, ``grad u (N, d)`` and ``d^2 u / dx_d^2 (N, d)`` by the chain rule through the head:
        ``u_d = J f_d``, ``u_dd = f_d^T H f_d + J f_dd`` with ``J``, ``H`` of the head in closed form."""
        f, fd, fdd = self.features.with_derivatives(x)
        lin1, lin2 = self.head[0], self.head[2]
        a = lin1(f)  # (N, H)
        h = torch.tanh(a)
        s = 1 - h**2  # tanh'
        u = lin2(h).squeeze(-1)
        w2 = lin2.weight[0]  # (H,)
        proj = torch.einsum("hc,ndc->ndh", lin1.weight, fd)  # W1 f_d
        grad = torch.einsum("h,nh,ndh->nd", w2, s, proj)
        proj2 = torch.einsum("hc,ndc->ndh", lin1.weight, fdd)
        second = torch.einsum("h,nh,ndh->nd", w2, -2 * h * s, proj**2) + torch.einsum("h,nh,ndh->nd", w2, s, proj2)
        return u, grad, second
