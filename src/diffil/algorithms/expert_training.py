"""Training RL experts: a Stable-Baselines3 agent (SAC, TD3 or PPO) on a task's true reward, in
an expert run directory that checkpoints and resumes (layout: :mod:`diffil.experts.rl_expert`).

``diffil expert train --task hopper`` calls :func:`train_expert`. Checkpoints, evaluations and
Ctrl-C are handled at the start of a rollout, where the model, its replay buffer and the step
counter agree (every step for SAC/TD3, every ``n_steps`` for PPO). A resumed run starts a fresh
episode, so it continues exactly from the checkpoint's model, buffer and counters, but not from
the middle of the episode it was in.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from diffil.algorithms.trainer import _next_multiple
from diffil.envs.registry import get_task
from diffil.errors import DiffilError, TrainingInterrupted
from diffil.eval.evaluate import evaluate_policy, format_evaluation
from diffil.experts.rl_expert import (
    BEST,
    EVAL_SEED,
    FINAL,
    MODEL,
    OFF_POLICY,
    REPLAY_BUFFER,
    VECNORMALIZE,
    ExpertConfig,
    default_expert_path,
    policy_from_model,
    read_expert_config,
    resolve_expert_config,
)
from diffil.policy import Policy
from diffil.rl import silence_sb3_logger
from diffil.rl.ppo import make_ppo, make_vec_env
from diffil.rl.replay_buffer import CompactReplayBuffer
from diffil.runs.run_dir import RunDirectory
from diffil.utils.config import deep_merge
from diffil.utils.device import resolve_device
from diffil.utils.progress import format_duration


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
            eta = f"  ETA {format_duration(left)}"
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
    with RunDirectory.create(path, config.to_yaml()) as run:
        try:
            trainer = ExpertTrainer(config, run, progress=progress)
        except BaseException:  # e.g. no GPU for --device cuda: leave no half-made run behind
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
            raise
        return trainer.learn()


__all__ = ["ExpertResult", "ExpertTrainer", "train_expert"]
