"""Diffuser-IRL: learn the reward that guides a frozen Diffuser onto expert behaviour.

Reference 004, section 3 (Algorithm 4). The base Diffuser eps_theta, trained on reward-agnostic
data, stays frozen. A reward network R_phi is the guide of its sampler (Eq. 53,
``tau^{t-1} = mu_theta(tau^t, t) + s Sigma_t grad_tau R_phi(tau^t) + sigma_t z``). Each
iteration draws a batch of expert K-step windows (Algorithm 5), samples guided plans whose start
state is each window's first state, and compares the plans' first K steps with the windows by a
trajectory-space distance M (line 7):

- ``mse``: ||tau_e - tau^0(phi)||^2 per pair (Eq. 54), averaged;
- ``mmd_gauss`` / ``mmd_matern``: the empirical MMD^2 between the two batches (Eq. 58) with a
  Gaussian kernel exp(-d^2 / 2l^2) or a Matern nu = 1/2 kernel exp(-d / l).

The loss reaches phi only through the guidance terms (the second derivative of Eq. 57), over the
whole denoising chain or, with ``grad_last_k``, its last k steps. R_phi follows Eqs. 50-52: the
return of a plan is the (discounted, Table 13) sum of a per-step reward r_phi(s_k, a_k), an MLP
(ReLU, hidden sizes of Table 13) over the step's normalised [state, action]. The learned r_phi is
also a transition reward ``(obs, acts, next_obs) -> (N,)`` for ERC/EPIC.

Note: with ReLU (Table 13) grad_tau R_phi is piecewise constant in tau, so the loss reaches the
MLP's weights but not its biases; ``activation="silu"`` or ``"tanh"`` trains every parameter.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from diffil.data.trajectory import TrajectoryDataset
from diffil.errors import reading
from diffil.planning.diffuser import Diffuser

LOSSES = ("mse", "mmd_gauss", "mmd_matern")
#: Learning rates of reference 004, Table 14 (U-Maze), used when ``lr`` is None.
DEFAULT_LR = {"mse": 5e-4, "mmd_gauss": 2e-3, "mmd_matern": 2e-3}
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


@dataclass
class DiffuserIRLConfig:
    """Settings of :func:`train_diffuser_irl`; defaults follow reference 004 (U-Maze, App. C)."""

    K: int = 10  # compared steps per window (section 3.4.1)
    loss: str = "mse"  # "mse" | "mmd_gauss" | "mmd_matern"
    gauss_bandwidth: float | None = None  # l of exp(-d^2 / 2l^2); None: median heuristic
    matern_bandwidth: float | None = None  # l of exp(-d / l); None: median heuristic
    lr: float | None = None  # None: Table 14's rate for the loss
    epochs: int = 100
    batch_size: int = 270
    scale: float = 0.1  # guidance scale s
    grad_last_k: int | None = None  # keep the graph of the last k denoising steps; None: all
    hidden: tuple[int, ...] = (384, 128, 64)
    activation: str = "relu"
    gamma: float = 0.995  # discount of the per-step rewards in R_phi(tau)
    use_actions: bool = True  # r_phi(s, a) or r_phi(s)
    window_stride: int | None = None  # Algorithm 5 steps by K; 1 = fully sliding windows
    max_grad_norm: float | None = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.K < 1 or self.epochs < 0 or self.batch_size < 1:
            raise ValueError("K and batch_size must be >= 1 and epochs >= 0")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        self.hidden = tuple(int(h) for h in self.hidden)

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.loss] if self.lr is None else self.lr


# ---- trajectory-space distances (reference 004, section 2.3.1 and Eq. 58) --------------------


def _pairwise_sq(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances between rows of (m, D) ``x`` and (n, D) ``y``."""
    sq = x.pow(2).sum(-1, keepdim=True) + y.pow(2).sum(-1).unsqueeze(0) - 2.0 * x @ y.T
    return sq.clamp_min(0.0)


def kernel_matrix(x: Tensor, y: Tensor, kernel: str, bandwidth: float) -> Tensor:
    """k(x_i, y_j) for flattened samples: ``gauss`` exp(-d^2 / 2l^2), ``matern`` (nu = 1/2)
    exp(-d / l)."""
    sq = _pairwise_sq(x.flatten(1), y.flatten(1))
    if kernel == "gauss":
        return torch.exp(-sq / (2.0 * bandwidth**2))
    if kernel == "matern":
        # clamped so that d = 0 (e.g. the diagonal) has a finite (zero) gradient
        return torch.exp(-sq.clamp_min(1e-12).sqrt() / bandwidth)
    raise ValueError(f"kernel must be 'gauss' or 'matern', got {kernel!r}")


def mmd2(x: Tensor, y: Tensor, kernel: str, bandwidth: float, unbiased: bool = True) -> Tensor:
    """Empirical MMD^2 between samples ``x`` (m, ...) and ``y`` (n, ...) (Eq. 58).

    ``unbiased``: the within-sample sums leave out i = j (Eq. 58; zero in expectation when the
    distributions agree); otherwise the V-statistic, which is exactly 0 for ``x`` = ``y``.
    """
    m, n = len(x), len(y)
    kxx, kyy = kernel_matrix(x, x, kernel, bandwidth), kernel_matrix(y, y, kernel, bandwidth)
    kxy = kernel_matrix(x, y, kernel, bandwidth)
    if unbiased:
        if m < 2 or n < 2:
            raise ValueError("the unbiased MMD needs at least 2 samples on each side")
        xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
        yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    else:
        xx, yy = kxx.mean(), kyy.mean()
    return xx + yy - 2.0 * kxy.mean()


def median_bandwidth(samples: Tensor, max_samples: int = 512) -> float:
    """Median pairwise Euclidean distance of (flattened) ``samples``: a scale for the kernels."""
    flat = samples.flatten(1)[:max_samples]
    dist = _pairwise_sq(flat, flat).sqrt()
    off = dist[~torch.eye(len(flat), dtype=torch.bool, device=flat.device)]
    value = float(off.median()) if off.numel() else 1.0
    return value if value > 0 else 1.0


def trajectory_distance(
    plans: Tensor, experts: Tensor, loss: str, bandwidth: float | None = None
) -> Tensor:
    """The distance M of Algorithm 4, line 7, between (B, K, D) ``plans`` and ``experts``."""
    if loss == "mse":
        return (plans - experts).pow(2).mean()
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    kernel = "gauss" if loss == "mmd_gauss" else "matern"
    return mmd2(plans, experts, kernel, 1.0 if bandwidth is None else bandwidth)


# ---- the reward model R_phi ---------------------------------------------------------------


class PlanReward(nn.Module):
    """R_phi(tau) = sum_k gamma^k r_phi(s_k, a_k) over (B, H, S + A) env-unit plans (Eqs. 50-52).

    r_phi is an MLP over the step's [state(, action)] in the Diffuser's normalised units; the
    normaliser and state dims are copied from the Diffuser so the model stands alone.
    """

    center: Tensor
    half_range: Tensor
    state_index: Tensor

    def __init__(
        self,
        obs_dim: int,
        state_dims: Sequence[int],
        act_dim: int,
        hidden: Sequence[int] = (384, 128, 64),
        activation: str = "relu",
        gamma: float = 0.995,
        use_actions: bool = True,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.state_dim = len(state_dims)
        self.hidden, self.activation = tuple(hidden), activation
        self.gamma, self.use_actions = float(gamma), bool(use_actions)
        in_dim = self.state_dim + (act_dim if use_actions else 0)
        layers: list[nn.Module] = []
        for width in self.hidden:
            layers += [nn.Linear(in_dim, width), ACTIVATIONS[activation]()]
            in_dim = width
        layers.append(nn.Linear(in_dim, 1))
        self.net = nn.Sequential(*layers)
        plan_dim = self.state_dim + act_dim
        self.register_buffer("state_index", torch.tensor(list(state_dims), dtype=torch.long))
        self.register_buffer("center", torch.zeros(plan_dim))
        self.register_buffer("half_range", torch.ones(plan_dim))

    @classmethod
    def for_diffuser(cls, diffuser: Diffuser, config: DiffuserIRLConfig) -> PlanReward:
        """A reward model over ``diffuser``'s plans, with its normaliser."""
        reward = cls(
            diffuser.obs_dim,
            diffuser.state_index.tolist(),
            diffuser.act_dim,
            config.hidden,
            config.activation,
            config.gamma,
            config.use_actions,
        ).to(diffuser.center.device)
        reward.center.copy_(diffuser.center)
        reward.half_range.copy_(diffuser.half_range)
        return reward

    def step_reward(self, rows: Tensor) -> Tensor:
        """r_phi of (..., S + A) env-unit plan rows -> (...)."""
        x = (rows - self.center) / self.half_range
        if not self.use_actions:
            x = x[..., : self.state_dim]
        return self.net(x).squeeze(-1)

    def forward(self, plans: Tensor) -> Tensor:
        """Discounted plan return (B,) of (B, H, S + A) env-unit plans."""
        rewards = self.step_reward(plans)
        discount = self.gamma ** torch.arange(plans.shape[1], device=plans.device)
        return (rewards * discount.to(rewards.dtype)).sum(dim=1)

    def reward_function(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """r_phi(s, a) as a :data:`~diffil.eval.reward_metrics.RewardFunction` ((N,) rewards)."""
        index = self.state_index.cpu().numpy()
        device = self.center.device

        def reward(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
            obs2 = np.atleast_2d(np.asarray(obs, dtype=np.float32))
            acts2 = np.asarray(acts, dtype=np.float32).reshape(len(obs2), -1)
            rows = np.concatenate([obs2[:, index], acts2], axis=-1)
            with torch.no_grad():
                out = self.step_reward(torch.as_tensor(rows, device=device))
            return out.cpu().numpy().astype(np.float64)

        return reward

    def save(self, path: str | PathLike) -> None:
        """Write the weights, normaliser and architecture to ``path`` (torch.save)."""
        spec = {
            "obs_dim": self.obs_dim,
            "state_dims": self.state_index.tolist(),
            "act_dim": self.act_dim,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "gamma": self.gamma,
            "use_actions": self.use_actions,
        }
        torch.save({"spec": spec, "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | PathLike, map_location: str | torch.device = "cpu") -> PlanReward:
        """A reward model written by :meth:`save`."""
        with reading(path, "plan reward file", "pass a file written by PlanReward.save"):
            blob = torch.load(path, map_location=map_location, weights_only=True)
            model = cls(**blob["spec"])
            model.load_state_dict(blob["state_dict"])
        return model.eval()


# ---- Algorithm 5 and Algorithm 4 ------------------------------------------------------------


def expert_windows(
    diffuser: Diffuser, experts: TrajectoryDataset, K: int, stride: int | None = None
) -> Tensor:
    """K-step sections ``[s_k, a_k]`` (N, K, S + A), env units, of expert trajectories
    (Algorithm 5: non-overlapping unless ``stride`` is given)."""
    windows = experts.windows(K, stride=stride)
    if len(windows) == 0:
        raise ValueError(f"no expert trajectory is at least K = {K} steps long")
    states = windows.observations[:, :K][..., diffuser.state_index.cpu().numpy()]
    plans = np.concatenate([states, windows.actions], axis=-1)
    return torch.as_tensor(plans, dtype=torch.float32, device=diffuser.center.device)


@dataclass
class DiffuserIRLResult:
    """A learned reward, the mean loss per epoch and the seconds per epoch."""

    reward: PlanReward
    losses: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    bandwidth: float | None = None


def irl_step(
    diffuser: Diffuser,
    reward: PlanReward,
    windows: Tensor,
    config: DiffuserIRLConfig,
    generator: torch.Generator | None = None,
    bandwidth: float | None = None,
) -> Tensor:
    """Lines 3-7 of Algorithm 4 for one batch of (B, K, S + A) env-unit ``windows``: the loss,
    with the graph into ``reward``'s parameters."""
    if diffuser.horizon < config.K:
        raise ValueError(f"K = {config.K} exceeds the Diffuser's horizon {diffuser.horizon}")
    start = windows[:, 0, : diffuser.state_dim]
    plans = diffuser.sample(
        start,
        guide=reward,
        scale=config.scale,
        generator=generator,
        differentiable=True,
        grad_last_k=config.grad_last_k,
    )
    first = diffuser.normalize(plans[:, : config.K])
    return trajectory_distance(first, diffuser.normalize(windows), config.loss, bandwidth)


def train_diffuser_irl(
    diffuser: Diffuser,
    experts: TrajectoryDataset | Tensor,
    config: DiffuserIRLConfig | None = None,
    *,
    reward: PlanReward | None = None,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    generators: tuple[torch.Generator, torch.Generator] | None = None,
    first_epoch: int = 0,
) -> DiffuserIRLResult:
    """Learn R_phi by Algorithm 4 with the frozen ``diffuser``.

    ``experts`` is a dataset (cut into K-step windows by Algorithm 5) or (N, K, S + A) env-unit
    windows. Distances are taken in the Diffuser's normalised units; MMD bandwidths left None
    are the median pairwise distance of the expert windows. ``callback(epoch, mean_loss)`` runs
    after every epoch. A training resumed from a checkpoint passes its ``reward``, ``optimizer``
    (see :func:`irl_optimizer`), its (sampling, batch order) ``generators`` (see
    :func:`irl_generators`) and ``first_epoch`` (epochs done).
    """
    config = config or DiffuserIRLConfig()
    diffuser.eval().requires_grad_(False)
    if isinstance(experts, Tensor):
        windows = experts.to(diffuser.center.device, torch.float32)
    else:
        windows = expert_windows(diffuser, experts, config.K, config.window_stride)
    if windows.ndim != 3 or windows.shape[1] != config.K or windows.shape[2] != diffuser.plan_dim:
        raise ValueError(
            f"expert windows must be (N, {config.K}, {diffuser.plan_dim}), "
            f"got {tuple(windows.shape)}"
        )
    torch.manual_seed(config.seed)
    reward = reward if reward is not None else PlanReward.for_diffuser(diffuser, config)
    bandwidth = None
    if config.loss != "mse":
        given = config.gauss_bandwidth if config.loss == "mmd_gauss" else config.matern_bandwidth
        bandwidth = given if given is not None else median_bandwidth(diffuser.normalize(windows))
    optimizer = optimizer if optimizer is not None else irl_optimizer(reward, config)
    gen, order_gen = generators if generators is not None else irl_generators(config)
    min_batch = 1 if config.loss == "mse" else 2
    result = DiffuserIRLResult(reward, bandwidth=bandwidth)
    reward.train()
    for epoch in range(first_epoch, config.epochs):
        began, total, count = time.perf_counter(), 0.0, 0
        order = torch.randperm(len(windows), generator=order_gen).to(windows.device)
        for first in range(0, len(windows), config.batch_size):
            index = order[first : first + config.batch_size]
            if len(index) < min_batch:
                continue
            loss = irl_step(diffuser, reward, windows[index], config, gen, bandwidth)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(reward.parameters(), config.max_grad_norm)
            optimizer.step()
            total, count = total + float(loss.detach()) * len(index), count + len(index)
        mean = total / max(count, 1)
        result.losses.append(mean)
        result.epoch_seconds.append(time.perf_counter() - began)
        if progress:
            print(
                f"diffuser-irl [{config.loss}] epoch {epoch + 1}/{config.epochs} "
                f"loss {mean:.5g} ({result.epoch_seconds[-1]:.1f}s)",
                flush=True,
            )
        if callback is not None:
            callback(epoch, mean)
        if not math.isfinite(mean):
            raise FloatingPointError(f"the IRL loss became {mean} at epoch {epoch + 1}")
    reward.eval()
    return result


def irl_optimizer(reward: PlanReward, config: DiffuserIRLConfig) -> torch.optim.Optimizer:
    """The Adam optimizer :func:`train_diffuser_irl` trains ``reward`` with."""
    return torch.optim.Adam(reward.parameters(), lr=config.learning_rate)


def irl_generators(config: DiffuserIRLConfig) -> tuple[torch.Generator, torch.Generator]:
    """The generators of :func:`train_diffuser_irl`: the sampler's noise, the batch order."""
    return torch.Generator().manual_seed(config.seed), torch.Generator().manual_seed(config.seed)


def config_dict(config: DiffuserIRLConfig) -> dict[str, Any]:
    """``config`` as a plain dict (for result files)."""
    return dataclasses.asdict(config)
