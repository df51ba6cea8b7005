"""RL experts: a Stable-Baselines3 agent trained on a task's true reward, for demonstrations.

Their configuration, run-directory layout and loading live here; the training loop is
:mod:`diffil.algorithms.expert_training`. ``diffil expert train --task hopper`` trains SAC (or
TD3, PPO) into an expert run directory::

    <run>/config.yaml          the resolved ExpertConfig
    <run>/metrics.csv          one row per evaluation (env steps, wall-clock, return, steps/s)
    <run>/checkpoints/latest/  model.zip + replay_buffer.pkl (+ vecnormalize.pkl for PPO) +
                               best.pt + state.json; written atomically (staging + rename)
    <run>/best.pt              the policy with the best evaluation return so far
    <run>/policy.pt            the final policy
    <run>/eval.json            the final and the best evaluation

Both policies are :class:`diffil.policy.Policy` files. :func:`load_expert` turns one (or a run
directory, which means its ``best.pt``) into an ``obs -> action`` callable for
:func:`diffil.experts.collect.collect_demonstrations`, which records where it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from diffil.envs.registry import TaskSpec, get_task
from diffil.envs.task import task_file_stem
from diffil.errors import DiffilError, reading, require_positive
from diffil.eval.evaluate import evaluate_policy
from diffil.experts.noise import add_action_noise, check_action_noise
from diffil.policy import Policy, PolicyNetwork, describe_modules
from diffil.rl.ppo import ACTIVATIONS, PPOConfig
from diffil.utils.config import deep_merge, dump_yaml, from_dict, load_yaml, to_plain_dict

ALGOS = ("sac", "td3", "ppo")
OFF_POLICY = ("sac", "td3")
BEST = "best.pt"
FINAL = "policy.pt"  # same name as an imitation run's final policy (diffil.runs.run_dir.POLICY)
MODEL = "model.zip"
REPLAY_BUFFER = "replay_buffer.pkl"
VECNORMALIZE = "vecnormalize.pkl"
EVAL_SEED = 10_000  # evaluation episodes start from the same states as `diffil eval`'s


def _ppo_defaults() -> PPOConfig:
    """PPO settings of the PPO paper's MuJoCo experiments (one environment)."""
    return PPOConfig(
        n_steps=2048, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.99, gae_lambda=0.95
    )


@dataclass(kw_only=True)
class ExpertConfig:
    """Everything an expert run needs; ``config.yaml`` of an expert run is this, as YAML.

    The top-level learner settings are SAC's (rl-baselines3-zoo's MuJoCo values) and are shared
    by TD3; PPO uses ``ppo`` instead.
    """

    task: str  # a registered task name (`diffil tasks`)
    algo: str = "sac"  # "sac", "td3" or "ppo"
    steps: int = 1_000_000  # env steps of training
    seed: int = 0  # seeds the learner, the environments and the evaluations
    device: str = "cpu"  # torch device of the learner
    threads: int = 1  # torch intra-op threads; 0 leaves torch's default
    eval_every: int = 10_000  # env steps between evaluations
    eval_episodes: int = 10  # episodes per evaluation
    checkpoint_every: int = 50_000  # env steps between checkpoints (model + replay buffer)
    learning_rate: float = 3e-4  # off-policy learners (SAC, TD3): Adam step size
    buffer_size: int = 1_000_000  # replay buffer capacity in transitions
    batch_size: int = 256  # transitions per gradient step
    tau: float = 0.005  # Polyak factor of the target networks
    gamma: float = 0.99  # discount factor
    learning_starts: int = 10_000  # env steps of random actions before the first update
    net_arch: list[int] = field(default_factory=lambda: [256, 256])  # actor and critic widths
    train_freq: int = 1  # env steps between two rounds of updates
    gradient_steps: int = 1  # gradient steps per round
    ent_coef: str = "auto"  # SAC: "auto", "auto_<initial value>" or a fixed number
    action_noise: float = 0.1  # TD3: std of the Gaussian exploration noise (actions in [-1, 1])
    # on-policy learner (PPO)
    ppo: PPOConfig = field(default_factory=_ppo_defaults)

    def validate(self) -> ExpertConfig:
        """Raise a one-line :class:`DiffilError` for values no run could use."""
        if self.algo not in ALGOS:
            raise DiffilError(
                f"unknown expert algo {self.algo!r}", f"use one of: {', '.join(ALGOS)}"
            )
        get_task(self.task)
        positive = {
            "steps": self.steps,
            "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
            "checkpoint_every": self.checkpoint_every,
            "learning_rate": self.learning_rate,
            "buffer_size": self.buffer_size,
            "batch_size": self.batch_size,
            "train_freq": self.train_freq,
            "gradient_steps": self.gradient_steps,
            "ppo.n_steps": self.ppo.n_steps,
            "ppo.batch_size": self.ppo.batch_size,
            "ppo.n_epochs": self.ppo.n_epochs,
            "ppo.learning_rate": self.ppo.learning_rate,
        }
        require_positive(positive)
        if self.learning_starts < 0 or self.threads < 0 or self.action_noise < 0:
            raise DiffilError(
                "learning_starts, threads and action_noise must be >= 0", "fix the value"
            )
        if not (0 < self.tau <= 1 and 0 < self.gamma <= 1):
            raise DiffilError(
                f"tau and gamma must be in (0, 1], got {self.tau}, {self.gamma}", "fix the value"
            )
        arch = self.net_arch
        if not isinstance(arch, list) or not arch or not all(_is_positive_int(w) for w in arch):
            raise DiffilError(
                f"net_arch must be a list of layer widths, got {arch!r}",
                "e.g. --set net_arch=[256,256]",
            )
        if not _valid_ent_coef(self.ent_coef):
            raise DiffilError(
                f"ent_coef must be 'auto', 'auto_<number>' or a number > 0, got {self.ent_coef!r}",
                "e.g. --set ent_coef=auto",
            )
        if self.ppo.activation not in ACTIVATIONS:
            raise DiffilError(
                f"unknown ppo.activation {self.ppo.activation!r}",
                f"use one of: {', '.join(ACTIVATIONS)}",
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists, not tuples), as written to ``config.yaml``."""
        return to_plain_dict(self)

    def to_yaml(self) -> str:
        return dump_yaml(self)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _valid_ent_coef(value: str) -> bool:
    text = str(value)
    if text == "auto":
        return True
    number = text[len("auto_") :] if text.startswith("auto_") else text
    try:
        return float(number) > 0
    except ValueError:
        return False


# Changes to the SAC defaults for the other learners (TD3: the TD3 paper's MuJoCo settings).
ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "sac": {},
    "td3": {"learning_rate": 1e-3, "net_arch": [400, 300]},
    "ppo": {},
}


def resolve_expert_config(
    task: str, algo: str = "sac", overrides: Mapping[str, Any] | None = None
) -> ExpertConfig:
    """defaults <- the algo's defaults <- ``overrides`` (a nested dict, e.g. from ``--set``)."""
    if algo not in ALGOS:
        raise DiffilError(f"unknown expert algo {algo!r}", f"use one of: {', '.join(ALGOS)}")
    get_task(task)
    algo = str((overrides or {}).get("algo", algo))  # `--set algo=td3` gets TD3's defaults too
    if algo not in ALGOS:
        raise DiffilError(f"unknown expert algo {algo!r}", f"use one of: {', '.join(ALGOS)}")
    data = ExpertConfig(task=task, algo=algo).to_dict()
    data = deep_merge(data, ALGO_DEFAULTS[algo])
    data = deep_merge(data, dict(overrides or {}))
    return from_dict(ExpertConfig, data, where="expert config").validate()


def read_expert_config(path: str | PathLike) -> ExpertConfig:
    """The config of the expert run in ``path``; anything else raises :class:`DiffilError`."""
    path = Path(path)
    fix = "pass a folder written by `diffil expert train`"
    config_file = path / "config.yaml"
    if not path.exists():
        raise DiffilError("no such expert run directory", fix, path)
    if not path.is_dir():
        raise DiffilError("not a directory, so not an expert run", fix, path)
    if not config_file.is_file():
        raise DiffilError("not an expert run directory (no config.yaml)", fix, path)
    with reading(config_file, "run config", "restore it from a backup, or start a new run"):
        data = load_yaml(config_file.read_text())
    if isinstance(data, dict) and "method" in data:
        raise DiffilError(
            "this is an imitation run (`diffil train`), not an expert run",
            f"continue it with `diffil train --resume {path}`",
            path,
        )
    if not isinstance(data, dict) or "algo" not in data or "task" not in data:
        raise DiffilError("not an expert run directory (config.yaml has no algo/task)", fix, path)
    with reading(config_file, "run config", "restore it from a backup, or start a new run"):
        return from_dict(ExpertConfig, data, where="config.yaml").validate()


def is_expert_run(path: str | PathLike) -> bool:
    """Whether ``path`` is a folder written by ``diffil expert train``."""
    try:
        read_expert_config(path)
    except DiffilError:
        return False
    return True


def default_expert_path(config: ExpertConfig, root: str | PathLike = "experts") -> Path:
    return Path(root) / f"{task_file_stem(config.task)}-s{config.seed}"


# ---- policies -----------------------------------------------------------------------------------


def policy_from_model(
    model: BaseAlgorithm, venv: VecEnv | None = None, metadata: dict[str, Any] | None = None
) -> Policy:
    """The deterministic :class:`Policy` of an SB3 SAC, TD3 or PPO model (with its VecNormalize's
    observation statistics, if ``venv`` is one)."""
    if isinstance(model, TD3):
        return _td3_policy(model, metadata)
    if isinstance(venv, VecNormalize) and venv.norm_obs:
        return Policy.from_sb3(
            model,
            obs_rms=venv.obs_rms,
            clip_obs=venv.clip_obs,
            epsilon=venv.epsilon,
            metadata=metadata,
        )
    return Policy.from_sb3(model, metadata=metadata)


def _td3_policy(model: TD3, metadata: dict[str, Any] | None) -> Policy:
    """TD3's actor ``tanh(mu(s))`` as a tanh-squashed Policy (the same form as SAC's)."""
    flat = [m for m in model.actor.mu.modules() if not isinstance(m, nn.Sequential)]
    if not flat or type(flat[-1]) is not nn.Tanh:
        raise DiffilError("the TD3 actor does not end in tanh", "use SB3's TD3 MlpPolicy")
    layers = describe_modules(flat[:-1], "TD3 actor")
    linears = [m for m in flat[:-1] if type(m) is nn.Linear]
    space = model.action_space
    spec = {
        "kind": "td3",  # a tanh-squashed deterministic actor, rescaled to the action bounds
        "obs_dim": int(model.observation_space.shape[0]),
        "act_dim": int(space.shape[0]),
        "layers": layers,
        "squash": True,
        "normalize": False,
        "clip_obs": 10.0,
        "epsilon": 1e-8,
    }
    network = PolicyNetwork(spec)
    targets = [m for m in network.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for target, source in zip(targets, linears, strict=True):
            target.weight.copy_(source.weight.detach().cpu())
            if target.bias is not None:
                target.bias.copy_(source.bias.detach().cpu())
        network.action_low.copy_(torch.as_tensor(space.low, dtype=torch.float32))
        network.action_high.copy_(torch.as_tensor(space.high, dtype=torch.float32))
    return Policy(network, metadata)


def expert_policy_path(path: str | PathLike) -> Path:
    """The policy file ``path`` names: itself, or for a run directory its best policy (the final
    one if it has no best), or an imitation run's ``policy.pt``."""
    path = Path(path)
    if not path.exists():
        raise DiffilError(
            "no such expert file or run directory",
            "train one with `diffil expert train --task TASK`, or check the path",
            path,
        )
    if not path.is_dir():
        return path
    if is_expert_run(path):
        for name in (BEST, FINAL):
            if (path / name).is_file():
                return path / name
        raise DiffilError(
            "the expert run has no policy yet (it has not been evaluated)",
            f"continue it with `diffil expert train --resume {path}`",
            path,
        )
    if (path / FINAL).is_file():  # e.g. a finished `diffil train` run
        return path / FINAL
    read_expert_config(path)  # raises the reason this folder is not an expert run
    raise AssertionError("unreachable")  # pragma: no cover


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ExpertPolicy:
    """A saved expert policy as an ``obs -> action`` callable, with its provenance.

    With ``action_noise`` > 0 it adds Gaussian noise (std as a fraction of half the action range)
    to each action and clips to the action bounds, e.g. for noisy demonstrations.
    """

    def __init__(self, policy: Policy, path: Path, action_noise: float = 0.0, seed: int = 0):
        self.policy = policy
        self.path = path
        self.action_noise = float(action_noise)
        self.rng = np.random.default_rng(seed)
        module = policy.as_module()
        self._low = module.action_low.numpy().astype(np.float32)
        self._high = module.action_high.numpy().astype(np.float32)
        meta = policy.metadata
        self.algo = meta.get("algo") or meta.get("method") or policy.kind
        self.name = f"{self.algo}:{path}"
        self.provenance: dict[str, Any] = {
            "file": str(path),
            "sha256": _sha256(path),
            "algo": self.algo,
            "task": meta.get("task"),
            "seed": meta.get("seed"),
            "env_steps": meta.get("env_steps"),
            "eval_return_mean": meta.get("eval_return_mean"),
            "eval_return_std": meta.get("eval_return_std"),
            "eval_episodes": meta.get("eval_episodes"),
            "role": meta.get("role"),
            "action_noise": self.action_noise,
        }

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        """Actions for one observation (obs_dim,) or a batch (N, obs_dim)."""
        action = self.policy.predict(observations)
        if self.action_noise > 0:
            action = add_action_noise(action, self.action_noise, self._low, self._high, self.rng)
        return action

    def __repr__(self) -> str:
        return f"ExpertPolicy({self.name!r}, action_noise={self.action_noise})"


def load_expert(
    path: str | PathLike,
    task: TaskSpec | str | None = None,
    action_noise: float = 0.0,
    seed: int = 0,
) -> ExpertPolicy:
    """A policy file or expert run directory as an expert for ``task`` (checked to fit it)."""
    file = expert_policy_path(path)
    policy = Policy.load(file)
    if task is not None:
        spec = get_task(task)
        trained_on = policy.metadata.get("task")
        if trained_on is not None and trained_on != spec.name:
            raise DiffilError(
                f"the expert was trained on {trained_on!r}, not {spec.name!r}",
                f"pass --task {trained_on}, or an expert for {spec.name}",
                file,
            )
        if (policy.obs_dim, policy.act_dim) != (spec.obs_dim, spec.act_dim):
            raise DiffilError(
                f"the expert's dims ({policy.obs_dim}, {policy.act_dim}) do not match task "
                f"{spec.name!r} ({spec.obs_dim}, {spec.act_dim})",
                f"pass an expert for {spec.name}",
                file,
            )
    check_action_noise(action_noise)
    return ExpertPolicy(policy, file, action_noise=action_noise, seed=seed)


def evaluate_expert(
    path: str | PathLike, episodes: int = 10, seed: int = EVAL_SEED, progress: bool = False
) -> tuple[ExpertPolicy, dict[str, float]]:
    """Evaluate the expert ``path`` names (policy file or run directory) on its task."""
    file = expert_policy_path(path)
    task = Policy.load(file).metadata.get("task")
    if not task:
        raise DiffilError(
            "the policy does not say which task it is for", "pass a diffil expert", file
        )
    expert = load_expert(file, task)
    return expert, evaluate_policy(get_task(task), expert, episodes, seed=seed, progress=progress)


__all__ = [
    "ALGOS",
    "ExpertConfig",
    "ExpertPolicy",
    "evaluate_expert",
    "expert_policy_path",
    "is_expert_run",
    "load_expert",
    "policy_from_model",
    "read_expert_config",
    "resolve_expert_config",
]
