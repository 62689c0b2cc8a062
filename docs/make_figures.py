"""Pictures of each simulator for docs/simulators.md: ``python docs/make_figures.py`` (about a minute on CPU)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from sciml.sim import Burgers, KuramotoSivashinsky, NavierStokes2D, TwoScaleLorenz96  # noqa: E402
from sciml.sim.forcings import mcwilliams_initial  # noqa: E402
from sciml.sim.lorenz96 import random_state  # noqa: E402

OUT = Path(__file__).parent / "img"
torch.set_default_dtype(torch.float64)


def save(fig, name):
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / name, dpi=100, bbox_inches="tight")
    plt.close(fig)


def ks():
    sim = KuramotoSivashinsky(n=256, L=64.0)
    u0 = torch.cos(2 * math.pi * sim.grid / 64) * (1 + torch.sin(2 * math.pi * sim.grid / 64))
    traj = sim.rollout(u0, 4000, 0.05, save_every=10)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.imshow(traj.numpy(), origin="lower", aspect="auto", extent=(0, 64, 0, 200), cmap="RdBu_r")
    ax.set(xlabel="x", ylabel="t", title="Kuramoto-Sivashinsky, L = 64")
    save(fig, "ks.png")


def lorenz96():
    sim = TwoScaleLorenz96.from_preset("wilks2005")
    x = random_state(sim, generator=torch.Generator().manual_seed(0))
    x = sim.rollout(x, 3000, 0.001, save_every=3000)[-1]
    traj = sim.rollout(x, 5000, 0.001, save_every=10)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].imshow(sim.split(traj).X.numpy(), origin="lower", aspect="auto", extent=(0, 8, 0, 5), cmap="RdBu_r")
    axes[0].set(xlabel="k", ylabel="t", title="two-scale Lorenz96: X")
    axes[1].imshow(traj[:, 8:].numpy(), origin="lower", aspect="auto", extent=(0, 256, 0, 5), cmap="RdBu_r")
    axes[1].set(xlabel="j + J k", title="Y")
    save(fig, "lorenz96.png")


def turbulence():
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    kol = NavierStokes2D(n=128, nu=2e-3, drag=0.1, forcing="kolmogorov")
    w = 2 * mcwilliams_initial(128, generator=torch.Generator().manual_seed(0))
    w = kol.rollout(w, 2000, 0.01, save_every=2000)[-1]
    dec = NavierStokes2D(n=128, nu=5e-4)
    w2 = dec.rollout(mcwilliams_initial(128, generator=torch.Generator().manual_seed(1)) * 2, 2000, 0.005,
                     save_every=2000)[-1]
    beta = NavierStokes2D(n=128, nu=2e-3, drag=0.1, beta=20.0, forcing="py2d")
    w3 = beta.rollout(mcwilliams_initial(128, generator=torch.Generator().manual_seed(2)), 2000, 0.005,
                      save_every=2000)[-1]
    for ax, field, title in zip(axes, (w, w2, w3), ("Kolmogorov, nu 2e-3, t = 20", "decaying, t = 10",
                                                    "beta-plane (beta 20), py2d forcing, t = 10"), strict=True):
        ax.imshow(field.T.numpy(), origin="lower", cmap="RdBu_r")
        ax.set(title=title, xticks=[], yticks=[])
    save(fig, "turbulence2d.png")


def burgers():
    sim = Burgers(n=400, L=2 * math.pi, nu=0.0, scheme="weno5")
    traj = sim.rollout(1.0 + 0.5 * torch.sin(sim.grid), 300, 0.005, save_every=75)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, u in enumerate(traj):
        ax.plot(sim.grid, u, label=f"t = {i * 0.375:.2f}")
    ax.set(xlabel="x", ylabel="u", title="inviscid Burgers, WENO5: a shock forms")
    ax.legend(fontsize=8)
    save(fig, "burgers.png")


if __name__ == "__main__":
    for make in (ks, lorenz96, turbulence, burgers):
        make()
        print("wrote", make.__name__)
