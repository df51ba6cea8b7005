"""RL experts: a Stable-Baselines3 agent trained on a task's true reward, for demonstrations.

``diffil expert train --task hopper`` trains SAC (or TD3, PPO) into an expert run directory::

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

Checkpoints, evaluations and Ctrl-C are handled at the start of a rollout, where the model, its
replay buffer and the step counter agree (every step for SAC/TD3, every ``n_steps`` for PPO).
A resumed run starts a fresh episode, so it continues exactly from the checkpoint's model, buffer
and counters, but not from the middle of the episode it was in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.console import Console
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch import nn

from diffil.algorithms.config import deep_merge, from_dict
from diffil.envs.registry import TaskSpec, get_task
from diffil.envs.task import task_file_stem
from diffil.errors import DiffilError, TrainingInterrupted, reading, require_positive
from diffil.eval.evaluate import evaluate_policy, format_evaluation
from diffil.experts.noise import add_action_noise, check_action_noise
from diffil.policy import Policy, PolicyNetwork, describe_modules
from diffil.rl import silence_sb3_logger
from diffil.rl.ppo import ACTIVATIONS, PPOConfig, make_ppo, make_vec_env
from diffil.rl.replay_buffer import CompactReplayBuffer
from diffil.runs.run_dir import RunDirectory
from diffil.utils.device import resolve_device

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

        def plain(value: Any) -> Any:
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


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
        data = yaml.safe_load(config_file.read_text())
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


# ---- training -----------------------------------------------------------------------------------


@dataclass
class ExpertResult:
    run_dir: Path
    policy_path: Path  # the final policy
    best_path: Path
    evaluation: dict[str, float]  # of the final policy
    best: dict[str, Any]  # the best evaluation: return_mean, return_std, env_steps
    env_steps: int
    seconds: float


class _StopRequest:
    """Ctrl-C (or ``kill``, SIGTERM) asks to stop at the next consistent point; a second one
    stops at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], None]):
        self.requested = False
        self._say = say
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        try:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: Ctrl-C raises KeyboardInterrupt as usual
            pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self._say(f"{name}: saving a checkpoint at the next step (Ctrl-C again to stop at once)")

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous = {}


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _next_multiple(value: int, every: int) -> int:
    return (value // every + 1) * every


class ExpertTrainer:
    """One expert run: builds or restores the SB3 learner and trains it with evaluations,
    checkpoints and Ctrl-C handling."""

    def __init__(self, config: ExpertConfig, run: RunDirectory, progress: bool = True):
        self.config = config
        self.run = run
        self.task = get_task(config.task)
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.console = Console(highlight=False, soft_wrap=True) if progress else None
        self.best: dict[str, Any] | None = None
        self.last_eval: dict[str, Any] | None = None
        self.elapsed_before = 0.0
        self.checkpoint_steps: int | None = None
        for stale in run.checkpoint_dir.parent.glob(".staging-*"):  # left by a killed save
            shutil.rmtree(stale, ignore_errors=True)
        state = run.load_state()
        if state is None:
            self._build(start_steps=0)
            run.truncate_metrics(0)  # evaluations of an earlier, never-checkpointed session
            (run.path / BEST).unlink(missing_ok=True)
        else:
            with run.reading_checkpoint():
                self._restore(state)
        self.start_steps = int(self.model.num_timesteps)
        self.stop: _StopRequest | None = None
        self.stopping = False

    # ---- the learner ------------------------------------------------------------------------

    def _venv(self, start_steps: int) -> VecEnv:
        # seeded by the checkpoint's step, so a resumed run does not replay the first episodes
        return make_vec_env(self.task, 1, self.config.seed + start_steps)

    def _build(self, start_steps: int) -> None:
        cfg = self.config
        venv = self._venv(start_steps)
        common = {
            "learning_rate": cfg.learning_rate,
            "buffer_size": cfg.buffer_size,
            "learning_starts": cfg.learning_starts,
            "batch_size": cfg.batch_size,
            "tau": cfg.tau,
            "gamma": cfg.gamma,
            "train_freq": cfg.train_freq,
            "gradient_steps": cfg.gradient_steps,
            "policy_kwargs": {"net_arch": list(cfg.net_arch)},
            "seed": cfg.seed,
            "device": str(self.device),
            "verbose": 0,
        }
        if cfg.algo == "sac":
            self.model = SAC(
                "MlpPolicy",
                venv,
                ent_coef=cfg.ent_coef,
                replay_buffer_class=CompactReplayBuffer,
                **common,
            )
        elif cfg.algo == "td3":
            act_dim = self.task.act_dim
            noise = NormalActionNoise(np.zeros(act_dim), cfg.action_noise * np.ones(act_dim))
            self.model = TD3(
                "MlpPolicy",
                venv,
                action_noise=noise,
                replay_buffer_class=CompactReplayBuffer,
                **common,
            )
        else:
            if cfg.ppo.normalize_obs:
                venv = VecNormalize(venv, norm_obs=True, norm_reward=False, gamma=cfg.ppo.gamma)
            self.model = make_ppo(cfg.ppo, venv, cfg.seed, str(self.device))
        self.venv = venv

    def _restore(self, state: dict[str, Any]) -> None:
        cfg, ckpt = self.config, self.run.checkpoint_dir
        steps = int(state["env_steps"])
        venv = self._venv(steps)
        # SB3's own files are pickles (there is no weights-only form); they come from the run
        # directory this user's `diffil expert train` wrote, and the caller turns any failure
        # to read them into one DiffilError (RunDirectory.reading_checkpoint).
        if (ckpt / VECNORMALIZE).exists():
            venv = VecNormalize.load(str(ckpt / VECNORMALIZE), venv)
            venv.training = True
        cls = {"sac": SAC, "td3": TD3, "ppo": PPO}[cfg.algo]
        self.model = cls.load(ckpt / MODEL, env=venv, device=str(self.device))
        if cfg.algo in OFF_POLICY:
            self.model.load_replay_buffer(ckpt / REPLAY_BUFFER)
        self.venv = venv
        self.model.set_random_seed(cfg.seed + steps)
        if int(self.model.num_timesteps) != steps:
            raise DiffilError(
                f"the checkpoint's model is at {self.model.num_timesteps} env steps, its "
                f"state.json at {steps}",
                "the checkpoint is inconsistent; start a new run",
                self.run.path,
            )
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.best = state.get("best")
        self.last_eval = state.get("last_eval")
        self.checkpoint_steps = steps
        # the best policy and the metrics as they were at the checkpoint
        best_file = self.run.path / BEST
        if (ckpt / BEST).is_file():
            tmp = self.run.path / f".{BEST}.tmp"
            shutil.copyfile(ckpt / BEST, tmp)
            tmp.replace(best_file)
        else:
            best_file.unlink(missing_ok=True)
        self.run.truncate_metrics(steps)
        buffer = f", replay buffer {self.buffer_size:,} transitions" if self.buffer_size else ""
        self.say(f"resuming {self.run.path} from {steps:,} env steps{buffer}")

    @property
    def buffer_size(self) -> int | None:
        """Transitions in the replay buffer (None for on-policy learners)."""
        buffer = getattr(self.model, "replay_buffer", None)
        return None if buffer is None else int(buffer.size())

    def current_policy(self, metadata: dict[str, Any] | None = None) -> Policy:
        return policy_from_model(self.model, self.venv, metadata)

    # ---- progress ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.session_started

    def resume_hint(self) -> str:
        return f"resume with: diffil expert train --resume {self.run.path}"

    # ---- evaluation and checkpoints ---------------------------------------------------------

    def metadata(self, steps: int, result: dict[str, Any] | None, role: str) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "method": f"expert-{self.config.algo}",
            "algo": self.config.algo,
            "task": self.task.name,
            "seed": self.config.seed,
            "env_steps": steps,
            "role": role,
            "expert_run": str(self.run.path),
        }
        if result is not None:
            meta.update(
                eval_return_mean=result["return_mean"],
                eval_return_std=result["return_std"],
                eval_episodes=int(result["episodes"]),
            )
        return meta

    def evaluate(self, steps: int) -> dict[str, Any]:
        """Evaluate, log a metrics row, keep the best policy and print a progress line."""
        started = time.perf_counter()
        train_seconds = started - self.interval_started - self.interval_overhead
        interval_steps = steps - self.interval_steps
        rate = interval_steps / train_seconds if train_seconds > 0 and interval_steps > 0 else None
        result = evaluate_policy(
            self.task, self.current_policy(), self.config.eval_episodes, seed=EVAL_SEED
        )
        result = {**result, "env_steps": steps}
        self.last_eval = result
        if self.best is None or result["return_mean"] > self.best["return_mean"]:
            self.best = {k: result[k] for k in ("return_mean", "return_std", "env_steps")}
            self.current_policy(self.metadata(steps, result, "best")).save(self.run.path / BEST)
        episodes = list(self.model.ep_info_buffer or [])
        row = {
            "env_steps": steps,
            "time_s": round(self.elapsed, 2),
            "steps_per_s": None if rate is None else round(rate, 1),
            "eval_return_mean": result["return_mean"],
            "eval_return_std": result["return_std"],
            "eval_length_mean": result["length_mean"],
            "eval_success": result.get("success_rate"),
            "normalized_return": result.get("normalized_return"),
            "best_return": self.best["return_mean"],
            "train_return": float(np.mean([e["r"] for e in episodes])) if episodes else None,
            "buffer_size": self.buffer_size,
        }
        self.run.log_metrics(row)
        # ETA from the wall-clock rate since the previous evaluation (which includes one
        # evaluation); none while that stretch includes the random warm-up of SAC/TD3
        now = time.perf_counter()
        mark_time, mark_steps = self.eta_mark
        self.eta_mark = (now, steps)
        eta = ""
        warm_up = self.config.algo in OFF_POLICY and mark_steps < self.config.learning_starts
        if steps > mark_steps and steps < self.config.steps and not warm_up:
            left = (self.config.steps - steps) * (now - mark_time) / (steps - mark_steps)
            eta = f"  ETA {_duration(left)}"
        speed = f"{rate:6,.0f} steps/s" if rate is not None else " " * 14
        self.say(
            f"{steps:>10,}/{self.config.steps:,}  {speed}  [bold]eval return "
            f"{result['return_mean']:.1f} ± {result['return_std']:.1f}[/]  best "
            f"{self.best['return_mean']:.1f} @ {self.best['env_steps']:,}{eta}"
        )
        self.interval_started, self.interval_steps = time.perf_counter(), steps
        self.interval_overhead = 0.0
        return result

    def save_checkpoint(self, steps: int) -> None:
        """Model, replay buffer, best policy and counters, atomically (staging + rename)."""
        if int(self.model.num_timesteps) != steps:  # pragma: no cover - guarded by the callback
            raise RuntimeError("checkpoints are taken only where the step counter is exact")
        writers: dict[str, Callable[[Path], None]] = {MODEL: lambda p: self.model.save(p)}
        if self.config.algo in OFF_POLICY:
            writers[REPLAY_BUFFER] = lambda p: self.model.save_replay_buffer(p)
        if isinstance(self.venv, VecNormalize):
            writers[VECNORMALIZE] = lambda p: self.venv.save(str(p))
        if (self.run.path / BEST).is_file():
            writers[BEST] = lambda p: shutil.copyfile(self.run.path / BEST, p)
        state = {
            "env_steps": steps,
            "elapsed": self.elapsed,
            "best": self.best,
            "last_eval": self.last_eval,
            "buffer_size": self.buffer_size,
            "algo": self.config.algo,
        }
        self.run.save_checkpoint(writers, state)
        self.checkpoint_steps = steps

    def at_rollout_start(self) -> None:
        """Where model, buffer and counter agree: evaluate, checkpoint, or stop, when due."""
        steps = int(self.model.num_timesteps)
        started = time.perf_counter()
        if steps > self.start_steps:
            if steps >= self.next_eval:
                self.next_eval = _next_multiple(steps, self.config.eval_every)
                self.evaluate(steps)
            if steps >= self.next_checkpoint:
                self.next_checkpoint = _next_multiple(steps, self.config.checkpoint_every)
                self.save_checkpoint(steps)
        if self.stop is not None and self.stop.requested:
            if self.checkpoint_steps != steps:
                self.save_checkpoint(steps)
            self.stopping = True
        # time not spent training (an evaluation restarts the interval when it ends)
        self.interval_overhead += time.perf_counter() - max(started, self.interval_started)

    # ---- the loop ---------------------------------------------------------------------------

    def learn(self) -> ExpertResult:
        """Train to ``config.steps`` env steps; Ctrl-C checkpoints, then raises
        :class:`TrainingInterrupted` saying how to resume."""
        cfg = self.config
        self.session_started = time.perf_counter()
        self.interval_started, self.interval_steps = self.session_started, self.start_steps
        self.interval_overhead = 0.0
        self.eta_mark = (self.session_started, self.start_steps)
        self.next_eval = _next_multiple(self.start_steps, cfg.eval_every)
        self.next_checkpoint = _next_multiple(self.start_steps, cfg.checkpoint_every)
        remaining = cfg.steps - self.start_steps
        self.say(
            f"[bold]{cfg.algo}[/] expert on [bold]{self.task.name}[/]: {cfg.steps:,} env steps, "
            f"seed {cfg.seed}, device {self.device}, run {self.run.path} "
            f"(Ctrl-C saves; {self.resume_hint()})"
        )
        with _StopRequest(self.say) as stop:
            self.stop = stop
            try:
                if remaining > 0:
                    silence_sb3_logger(self.model)
                    self.model.learn(
                        total_timesteps=remaining,
                        callback=_ExpertCallback(self),
                        reset_num_timesteps=self.start_steps == 0,
                        progress_bar=False,
                    )
                if self.stopping:
                    steps = int(self.checkpoint_steps or 0)
                    self.run.close()
                    raise TrainingInterrupted(
                        f"interrupted at {steps:,} env steps; checkpoint saved", self.resume_hint()
                    )
                return self.finish()
            except KeyboardInterrupt:
                self.run.close()
                kept = (
                    f"the checkpoint at {self.checkpoint_steps:,} env steps is kept"
                    if self.checkpoint_steps is not None
                    else "no checkpoint was saved yet"
                )
                raise TrainingInterrupted(
                    f"interrupted at {self.model.num_timesteps:,} env steps; {kept}",
                    self.resume_hint(),
                ) from None
            finally:
                self.stop = None

    def finish(self) -> ExpertResult:
        """Final evaluation (unless one was just made), checkpoint, final policy, eval.json."""
        steps = int(self.model.num_timesteps)
        if self.last_eval is None or self.last_eval.get("env_steps") != steps:
            self.evaluate(steps)
        if self.checkpoint_steps != steps:
            self.save_checkpoint(steps)
        final = self.last_eval
        policy_path = self.run.path / FINAL
        self.current_policy(self.metadata(steps, final, "final")).save(policy_path)
        evaluation = {k: v for k, v in final.items() if k != "env_steps"}
        self.run.write_eval(
            {**evaluation, "env_steps": steps, "seconds": round(self.elapsed, 1), "best": self.best}
        )
        self.run.close()
        self.say(
            f"[bold]done[/] {self.run.path}: final {format_evaluation(final)}; best "
            f"{self.best['return_mean']:.1f} at {self.best['env_steps']:,} env steps ({BEST})"
        )
        return ExpertResult(
            self.run.path,
            policy_path,
            self.run.path / BEST,
            evaluation,
            dict(self.best),
            steps,
            self.elapsed,
        )


class _ExpertCallback(BaseCallback):
    """Hands the rollout boundaries to the trainer; stops SB3's loop when it asks."""

    def __init__(self, trainer: ExpertTrainer):
        super().__init__()
        self.trainer = trainer

    def _on_rollout_start(self) -> None:
        self.trainer.at_rollout_start()

    def _on_step(self) -> bool:
        return not self.trainer.stopping


def train_expert(
    task: str | None = None,
    *,
    algo: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    out: str | PathLike | None = None,
    resume: str | PathLike | None = None,
    device: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> ExpertResult:
    """Train an RL expert for ``task`` on its true reward, or continue one with ``resume``.

    ``overrides`` is a nested dict of :class:`ExpertConfig` fields (e.g. ``{"batch_size": 128}``).
    The run goes to ``out`` (default ``experts/<task>-s<seed>``).
    """
    if resume is not None:
        if task is not None or algo is not None or seed is not None or overrides:
            raise DiffilError(
                "--resume continues an expert run with its own config",
                "drop --task/--algo/--seed/--set",
            )
        config = read_expert_config(resume)
        with RunDirectory(resume) as run:  # the lock is released however training ends
            run.lock()
            changed = dataclasses.replace(
                config,
                steps=config.steps if steps is None else steps,  # extend (or shorten) the budget
                device=config.device if device is None else device,
            ).validate()
            trainer = ExpertTrainer(changed, run, progress=progress)
            if changed != config:
                run.config_path.write_text(changed.to_yaml())
            return trainer.learn()
    if task is None:
        raise DiffilError("expert train needs --task", "e.g. diffil expert train --task hopper")
    given = {"steps": steps, "seed": seed, "device": device}
    extra = {k: v for k, v in given.items() if v is not None}
    config = resolve_expert_config(task, algo or "sac", deep_merge(dict(overrides or {}), extra))
    path = Path(out) if out is not None else default_expert_path(config)
    existed = path.exists()
    with RunDirectory.create(path, config) as run:  # type: ignore[arg-type]  # duck-typed
        try:
            trainer = ExpertTrainer(config, run, progress=progress)
        except BaseException:  # e.g. no GPU for --device cuda: leave no half-made run behind
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
            raise
        return trainer.learn()


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
    "ExpertResult",
    "ExpertTrainer",
    "evaluate_expert",
    "expert_policy_path",
    "is_expert_run",
    "load_expert",
    "policy_from_model",
    "read_expert_config",
    "resolve_expert_config",
    "train_expert",
]
