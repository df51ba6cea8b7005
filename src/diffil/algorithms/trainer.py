"""Training runs: one loop for every adversarial method (reference 000, Table 1), and BC.

(The off-policy loop on SAC is :mod:`diffil.algorithms.offpolicy`; it shares
:class:`ImitationTrainer` with the PPO loop here.)

Table 1, with PPO as the RL algorithm:

    for i = 0, 1, 2, ...
        sample agent transitions tau_i ~ pi_theta_i            (PPO's rollout)
        update the reward model phi on expert vs tau_i         (Eq. 3; ``updates_per_rollout``)
        relabel tau_i with the updated reward r_phi(s, a)      (Eq. 4; one batched pass)
        update the policy theta with PPO on the relabelled rollout

A method is a reward model plus defaults (see :mod:`diffil.algorithms.methods`); nothing here
depends on which one. BC shares the run directory, evaluation, checkpoints and export.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from diffil.algorithms.config import TrainConfig
from diffil.algorithms.methods import Method, get_method
from diffil.algorithms.multitask import multitask_demonstrations
from diffil.algorithms.reward_transfer import load_learned_reward
from diffil.data.io import load_dataset, save_dataset
from diffil.data.trajectory import TrajectoryDataset, Transitions
from diffil.envs.gymnasium_tasks import GYM_PREFIX
from diffil.envs.multitask import MultiTaskSpec
from diffil.envs.registry import TaskSpec, get_task
from diffil.errors import DiffilError, TrainingInterrupted
from diffil.eval.evaluate import (
    FINAL_EVAL_SEED,
    evaluate_policy,
    format_evaluation,
    periodic_eval_seed,
)
from diffil.eval.multitask import curve_columns, per_task_summary
from diffil.experts.collect import collect_demonstrations
from diffil.policy import Policy
from diffil.rewards import RewardModel, TransitionBatch, make_reward_model
from diffil.rewards.absorbing import terminal_bonus, with_absorbing_rows
from diffil.rewards.normalization import ObservationScaler
from diffil.rl import silence_sb3_logger
from diffil.rl.behaviour_cloning import warm_start_actor
from diffil.rl.ppo import make_ppo, make_vec_env, wrap_for_training
from diffil.rl.recorder import TransitionRecorder
from diffil.rl.return_scaling import ReturnScaler
from diffil.runs.run_dir import RunDirectory
from diffil.utils.device import resolve_device

DEMOS_FILE = "demos.hdf5"


@dataclass
class TrainResult:
    run_dir: Path
    policy_path: Path
    evaluation: dict[str, Any]
    env_steps: int
    seconds: float


def load_demonstrations(
    config: TrainConfig, task: TaskSpec, run: RunDirectory
) -> TrajectoryDataset:
    """The run's demonstrations: its saved copy, the --demos file, or fresh scripted ones."""
    saved = run.path / DEMOS_FILE
    if saved.exists():
        return load_dataset(saved, task=task)
    if isinstance(task, MultiTaskSpec):  # each task's, tagged with its id
        demos = multitask_demonstrations(task, config)
    elif config.demos:
        demos = load_dataset(config.demos, task=task)
        if config.num_demos < len(demos):
            demos = demos.subset(num_trajectories=config.num_demos)
    else:
        demos = collect_demonstrations(task, config.num_demos, seed=config.seed + 100_000)
    save_dataset(demos, saved, task=task)
    return demos


class Trainer:
    """What every method's training shares: task, demos, run directory, evaluation, export."""

    def __init__(
        self,
        config: TrainConfig,
        run: RunDirectory,
        progress: bool = True,
        demos: TrajectoryDataset | None = None,
    ):
        self.config = config
        self.run = run
        self.method: Method = get_method(config.method)
        # the task variant of the demonstrations (a maze's coverage: the cells they start and end
        # in) and the one training episodes play: every cell, as reference 000 trains, unless
        # train_on_covered_cells; evaluation always uses every cell (TaskSpec.make_env)
        self.task = get_task(config.task, noise=config.noise, coverage=config.coverage)
        keep_variant = config.train_on_covered_cells or self.task.coverage >= 1.0
        self.train_task = self.task if keep_variant else self.task.variant(coverage=1.0)
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.console = Console(highlight=False, soft_wrap=True) if progress else None
        self.demos: TrajectoryDataset | None = None
        if self.method.uses_demos:
            if demos is not None and not (run.path / DEMOS_FILE).exists():
                save_dataset(demos, run.path / DEMOS_FILE, task=self.task)
            self.demos = load_demonstrations(config, self.task, run)
            self.expert = self.demos.transitions()
        self.started = time.perf_counter()
        self.elapsed_before = 0.0  # wall-clock of earlier sessions of a resumed run
        self.first_success_90: dict[str, float] | None = None
        # the best periodic evaluation so far, whose policy is the run's best_policy.pt
        self.best: dict[str, float] | None = None

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)

    def evaluate(self, policy: Policy, env_steps: int) -> dict[str, Any]:
        """The evaluation during training at ``env_steps``: ``eval.episodes`` fresh episodes
        (start/goal pairs) each time (:func:`~diffil.eval.evaluate.periodic_eval_seed`)."""
        return evaluate_policy(
            self.task,
            policy,
            self.config.eval.episodes,
            seed=periodic_eval_seed(env_steps),
            num_envs=self.config.eval.num_envs,
        )

    def evaluate_final(self, policy: Policy) -> dict[str, Any]:
        """The final evaluation: ``eval.final_episodes`` episodes, the same ones for every run
        (and for ``diffil eval`` with its defaults)."""
        cfg = self.config.eval
        return evaluate_policy(
            self.task, policy, cfg.final, seed=FINAL_EVAL_SEED, num_envs=cfg.num_envs
        )

    def note_evaluation(
        self, result: dict[str, Any], env_steps: int, policy: Policy | None = None
    ) -> None:
        """Remember when the policy first reached 90% success (or normalised return); with
        ``policy`` (a periodic evaluation), keep it as best_policy.pt if it scored best so far."""
        score = result.get("success_rate", result.get("normalized_return"))
        if self.first_success_90 is None and score is not None and score >= 0.9:
            self.first_success_90 = {"env_steps": env_steps, "seconds": round(self.elapsed, 1)}
        if score is None:  # tasks without success or reference scores: the return
            score = result.get("return_mean")
        if policy is None or score is None:
            return
        if self.best is None or score > self.best["score"]:
            self.best = {"env_steps": int(env_steps), "score": float(score)}
            policy.with_metadata(best=self.best).save(self.run.best_policy_path)

    def restore_best(self) -> None:
        """After a resume: the best policy's record from its file (it may be newer than the
        checkpoint, and it is what the file holds)."""
        path = self.run.best_policy_path
        self.best = Policy.load(path).metadata.get("best") if path.is_file() else None

    def evaluate_best(self, env_steps: int) -> dict[str, Any] | None:
        """The final evaluation of best_policy.pt, unless the final policy is that policy."""
        if self.best is None or not self.run.best_policy_path.is_file():
            return None
        if self.best["env_steps"] >= env_steps:
            return None
        evaluation = self.evaluate_final(Policy.load(self.run.best_policy_path))
        return {**self.best, "final_evaluation": evaluation}

    def finish(self, policy: Policy, env_steps: int) -> TrainResult:
        policy.save(self.run.policy_path)
        evaluation = self.evaluate_final(policy)
        self.note_evaluation(evaluation, env_steps)
        curve_point = curve_columns(self.task, evaluation)
        self.run.record_final_evaluation(env_steps, curve_point, round(self.elapsed, 2))
        result = {
            **evaluation,
            "env_steps": env_steps,
            "seconds": round(self.elapsed, 1),
            "reached_90": self.first_success_90,
            "variant": self.task.variant_settings,
        }
        if self.demos is not None:
            result["demos"] = demos_record(self.demos, self.config)
        best = self.evaluate_best(env_steps)
        if best is not None:
            result["best"] = best
        self.run.write_eval(result)
        self.say(f"[bold]done[/] {self.run.path}: " + format_evaluation(evaluation))
        if best is not None:
            self.say(
                f"best periodic policy (at {best['env_steps']:,} env steps), "
                f"{self.run.best_policy_path.name}: " + format_evaluation(best["final_evaluation"])
            )
        self.run.close()
        return TrainResult(self.run.path, self.run.policy_path, evaluation, env_steps, self.elapsed)

    def save_checkpoint(self) -> None:
        raise NotImplementedError

    def interrupted(self, progress: str) -> TrainingInterrupted:
        """Checkpoint after Ctrl-C; the error tells the user how to resume."""
        self.save_checkpoint()
        self.run.close()
        return TrainingInterrupted(
            f"interrupted at {progress}; checkpoint saved",
            f"resume with: diffil train --resume {self.run.path}",
        )

    def policy_metadata(self) -> dict[str, Any]:
        meta = {"method": self.config.method, "task": self.config.task, "seed": self.config.seed}
        meta["variant"] = self.task.variant_settings
        if isinstance(self.task, MultiTaskSpec):  # input: observation + one-hot task id
            meta["tasks"] = self.task.task_names
        if self.demos is not None:
            meta["demos"] = demos_record(self.demos, self.config)
        if self.config.task.startswith(GYM_PREFIX):  # lets `diffil eval` make its env again
            env_spec = self.task.raw_env_spec()
            if env_spec is not None:
                meta["env_spec"] = env_spec.to_json()
        return meta


# what a run records of its demonstrations' provenance (eval.json and the policy's metadata)
DEMOS_RECORD_KEYS = (
    "expert",
    "seed",
    "variant",
    "action_noise",
    "successful_only",
    "attempts",
    "rejected",
    "success_rate",
)


def demos_record(demos: TrajectoryDataset, config: TrainConfig) -> dict[str, Any]:
    """The regime of the run's demonstrations: how many it used, where they came from, and
    their provenance (the collection's task variant, action noise, successful-only filter, ...;
    keys the dataset does not record are left out)."""
    meta = demos.metadata
    record: dict[str, Any] = {
        "episodes": len(demos),
        "transitions": demos.num_transitions,
        "file": config.demos,  # None: made by the run's expert, or passed as a dataset
    }
    record.update({k: meta[k] for k in DEMOS_RECORD_KEYS if meta.get(k) is not None})
    return record


class ImitationTrainer(Trainer):
    """What the on-policy (PPO) and off-policy (SAC) loops share: the reward model and the
    scaler of its inputs, reward-model batches and updates, checkpoint state, the progress row.

    Without a reward model (kind ``rl``) the backbone trains on the task's own reward.
    """

    reward_model: RewardModel | None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.reward_model = None
        self.scaler: ObservationScaler | None = None
        # the demonstrations as the reward model learns from them (with absorbing rows)
        self.reward_expert: Transitions | None = None
        self.reward_frozen = cfg.reward_source is not None
        if cfg.reward_source is not None:  # reward transfer: another run's reward, frozen
            self.reward_model, self.scaler = self._frozen_reward(cfg.reward_source)
        elif self.method.reward_model is not None:
            self.scaler = ObservationScaler.fit(self.expert.obs, absorbing=cfg.reward.absorbing)
            copies = cfg.reward.absorbing_copies
            self.reward_expert = (
                with_absorbing_rows(self.expert, copies) if self.absorbing else self.expert
            )
            model_config = {**cfg.reward.model, "obs_only": cfg.obs_only}
            try:
                self.reward_model = make_reward_model(
                    self.method.reward_model, self.scaler.width, self.task.act_dim, model_config
                ).to(self.device)
            except (TypeError, ValueError) as err:
                raise DiffilError(
                    f"bad reward.model option: {err}", "fix the preset or --set"
                ) from None
        self.rng = np.random.default_rng(cfg.seed)
        self.generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    def _frozen_reward(self, source: str) -> tuple[RewardModel, ObservationScaler]:
        """The learned reward of run ``source`` (frozen) and the standardisation of its inputs."""
        model_settings = dict(self.config.reward.model)
        reward_type = model_settings.pop("reward_type", None)  # None: the source run's form
        learned = load_learned_reward(source, task=self.config.task, reward_type=reward_type)
        form = f" read as {reward_type}" if reward_type else ""
        self.say(f"training on the frozen learned reward of {learned.method} run {source}{form}")
        if model_settings:
            self.say(f"reward.model.{', '.join(model_settings)}: ignored (the reward is frozen)")
        scaler = learned.scaler or {
            "mean": [0.0] * self.task.obs_dim,
            "std": [1.0] * self.task.obs_dim,
        }
        return learned.model.to(self.device), ObservationScaler.from_dict(scaler)

    # ---- reward-model batches and updates -----------------------------------------------------

    @property
    def absorbing(self) -> bool:
        """The reward model learns the absorbing state's reward (diffil.rewards.absorbing)."""
        return self.scaler is not None and self.scaler.absorbing

    def batch(self, obs, acts, next_obs, dones, absorbing=None) -> TransitionBatch:
        """A reward-model batch from raw arrays: observations standardised, and log pi(a|s) of
        the current policy added for models that need it (AIRL). In obs-only mode the actions
        are left out, so the reward model cannot read them. ``absorbing`` marks rows of the
        absorbing state (None: none)."""
        assert self.reward_model is not None and self.scaler is not None
        obs_only = self.config.obs_only
        log_prob = None
        if self.reward_model.needs_log_prob and not obs_only:
            log_prob = self._log_prob(obs, acts)
        return TransitionBatch.from_numpy(
            self.scaler(obs, absorbing),
            None if obs_only else acts,
            self.scaler(next_obs, absorbing),
            dones,
            log_prob,
            device=self.device,
        )

    def absorbing_reward(self, rows: int = 64) -> float:
        """r(s_a), the learned reward of the absorbing state (mean over ``rows`` draws for a
        stochastic reward such as DRAIL's)."""
        assert self.reward_model is not None
        obs = np.zeros((rows, self.task.obs_dim), dtype=np.float32)
        acts = np.zeros((rows, self.task.act_dim), dtype=np.float32)
        batch = self.batch(obs, acts, obs, np.zeros(rows), np.ones(rows, dtype=bool))
        return float(self.reward_model.reward(batch, generator=self.generator).mean())

    def _log_prob(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """log pi(a|s) of the current policy for raw observations and env actions."""
        raise NotImplementedError

    def sample(self, data: Transitions, size: int) -> TransitionBatch:
        part = data.sample(size, self.rng)
        return self.batch(part.obs, part.acts, part.next_obs, part.dones, part.absorbing)

    def update_reward_model(self, agent: Transitions) -> dict[str, float]:
        """``reward.updates_per_rollout`` steps on expert vs ``agent`` batches (Eq. 3 of
        reference 000); returns the mean of each metric as ``reward_model.<name>``."""
        assert self.reward_model is not None
        if self.reward_frozen:
            return {}
        metrics: dict[str, list[float]] = {}
        size = self.config.reward.batch_size
        expert = self.reward_expert
        assert expert is not None
        if self.absorbing:
            agent = with_absorbing_rows(agent, self.config.reward.absorbing_copies)
        for _ in range(self.config.reward.updates_per_rollout):
            update = self.reward_model.update(self.sample(expert, size), self.sample(agent, size))
            for key, value in update.items():
                metrics.setdefault(key, []).append(value)
        return {f"reward_model.{k}": float(np.mean(v)) for k, v in metrics.items()}

    def pretrain_reward_model(self) -> None:
        """Before a fresh run: models with an expert-only stage (SMILING) train it now."""
        if self.reward_model is None or self.reward_frozen:
            return
        size = self.config.reward.batch_size
        expert = self.reward_expert
        assert expert is not None
        metrics = self.reward_model.pretrain(lambda: self.sample(expert, size))
        if metrics:
            self.say(
                "pre-trained the reward model on the demonstrations: "
                + ", ".join(f"{k} {v:.3g}" for k, v in metrics.items())
            )

    # ---- checkpoints and progress -------------------------------------------------------------

    def reward_writers(self) -> dict[str, Any]:
        if self.reward_model is None:
            return {}
        return {"reward_model.pt": lambda p: torch.save(self.reward_model.checkpoint(), p)}

    def base_state(self, env_steps: int) -> dict[str, Any]:
        return {
            "env_steps": int(env_steps),
            "elapsed": self.elapsed,
            "scaler": self.scaler.to_dict() if self.scaler is not None else None,
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state().tolist(),
            "reached_90": self.first_success_90,
        }

    def restore_base_state(self, state: dict[str, Any]) -> None:
        ckpt = self.run.checkpoint_dir
        if self.reward_model is not None:
            self.reward_model.restore(
                torch.load(ckpt / "reward_model.pt", map_location=self.device, weights_only=True)
            )
            self.scaler = ObservationScaler.from_dict(state["scaler"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.elapsed_before = float(state["elapsed"])
        self.first_success_90 = state.get("reached_90")
        self.restore_best()
        self.run.truncate_metrics(int(state["env_steps"]))
        self.say(f"resuming {self.run.path} from {state['env_steps']:,} env steps")

    # ---- the loop (the backbone supplies self.model, self.venv and its callback) --------------

    def make_callback(self) -> BaseCallback:
        raise NotImplementedError

    def learn(self) -> TrainResult:
        remaining = self.config.steps - self.model.num_timesteps
        self.start_message(self.venv.num_envs)
        if remaining > 0:
            silence_sb3_logger(self.model)
            try:
                self.model.learn(
                    total_timesteps=remaining,
                    callback=self.make_callback(),
                    reset_num_timesteps=self.model.num_timesteps == 0,
                )
            except KeyboardInterrupt:
                raise self.interrupted(f"{self.model.num_timesteps:,} env steps") from None
        self.save_checkpoint()
        return self.finish(self.current_policy(), self.model.num_timesteps)

    def current_policy(self) -> Policy:
        return sb3_policy(self.model, self.venv, self.policy_metadata())

    def start_message(self, n_envs: int) -> None:
        cfg = self.config
        self.say(
            f"[bold]{cfg.method}[/] on [bold]{self.task.name}[/] with {cfg.rl.upper()}: "
            f"{cfg.steps:,} env steps, {len(self.demos) if self.demos else 'no'} demos, "
            f"{n_envs} envs, device {self.device}, run {self.run.path}"
        )


class ProgressReporter:
    """One metrics row per iteration: throughput, training episodes, evaluation, checkpoint."""

    def __init__(self, trainer: ImitationTrainer, env_steps: int):
        self.trainer = trainer
        self.iteration = 0
        self.last_time = time.perf_counter()
        self.last_steps: int | None = None
        cfg = trainer.config
        self.next_eval = _next_multiple(env_steps, cfg.eval.every)
        self.next_checkpoint = _next_multiple(env_steps, cfg.checkpoint_every)

    def report(self, steps: int, episodes: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        t = self.trainer
        self.iteration += 1
        now = time.perf_counter()
        fps = None  # env steps per second since the previous row (none for the first)
        if self.last_steps is not None:
            fps = round((steps - self.last_steps) / max(now - self.last_time, 1e-9), 1)
        self.last_time, self.last_steps = now, steps
        row = {
            "env_steps": steps,
            "iteration": self.iteration,
            "time_s": round(t.elapsed, 2),
            "fps": fps,
            "train_return": _mean([e["r"] for e in episodes]),
            "train_length": _mean([e["l"] for e in episodes]),
            "train_success": _mean([float(e[t.task.success_key]) for e in episodes])
            if t.task.success_key
            else None,
            **extra,
            **curve_columns(t.task, None),
        }
        # the final evaluation (Trainer.finish) gives the curve's last point
        if steps >= self.next_eval and steps < t.config.steps:
            self.next_eval = _next_multiple(steps, t.config.eval.every)
            policy = t.current_policy()
            result = t.evaluate(policy, steps)
            t.note_evaluation(result, steps, policy)
            row.update(curve_columns(t.task, result))
        t.run.log_metrics(row)
        t.say(_progress_line(row, t.config.steps))
        if steps >= self.next_checkpoint:
            self.next_checkpoint = _next_multiple(steps, t.config.checkpoint_every)
            t.save_checkpoint()


class OnlineTrainer(ImitationTrainer):
    """Reward model + PPO, alternating as in Table 1 of reference 000.

    Without a reward model (method ``ppo``) it is plain PPO on the task's own reward: the
    reference for what learning the reward costs.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cfg = self.config
        raw_venv = make_vec_env(
            self.train_task, cfg.n_envs, cfg.seed, fixed_horizon=cfg.fixed_horizon
        )
        self.return_scaler = (
            ReturnScaler(cfg.n_envs, cfg.ppo.gamma)
            if cfg.ppo.normalize_reward and self.reward_model is not None
            else None
        )
        state = self.run.load_state()
        if state is None:
            self.venv, self.recorder = wrap_for_training(raw_venv, cfg.ppo)
            self.model = make_ppo(cfg.ppo, self.venv, cfg.seed, str(self.device))
            if cfg.warm_starts_policy:
                self.warm_start_policy()
            self.pretrain_reward_model()
        else:
            with self.run.reading_checkpoint():
                self._restore(raw_venv, state)

    def warm_start_policy(self) -> None:
        """Fit the fresh actor to the demonstrations before the first rollout."""
        obs = self.expert.obs
        if isinstance(self.venv, VecNormalize):  # start the running statistics at the demos'
            rms = self.venv.obs_rms
            rms.mean, rms.var, rms.count = obs.mean(axis=0), obs.var(axis=0), float(len(obs))
        bc = self.config.bc
        error = self.clone_demonstrations(bc.steps, bc.learning_rate)
        self.say(
            f"warm-started the policy on the demonstrations: {bc.steps:,} BC steps, "
            f"action MSE {error:.4f}"
        )

    def clone_demonstrations(self, steps: int, learning_rate: float) -> float:
        """``steps`` BC steps of the actor on the demos (seen through the current observation
        normalisation); returns the action MSE on a fresh batch."""
        obs = self.expert.obs
        if isinstance(self.venv, VecNormalize):
            obs = self.venv.normalize_obs(obs)
        return warm_start_actor(
            self.model.policy,
            obs,
            self.expert.acts,
            steps=steps,
            batch_size=self.config.bc.batch_size,
            learning_rate=learning_rate,
            rng=self.rng,
        )

    # ---- Table 1, lines 4-6: the reward step of one iteration ---------------------------------

    def _log_prob(self, obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        norm = self.venv.normalize_obs(obs) if isinstance(self.venv, VecNormalize) else obs
        policy = self.model.policy
        with torch.no_grad():
            _, log_prob, _ = policy.evaluate_actions(
                torch.as_tensor(norm, dtype=torch.float32, device=policy.device),
                torch.as_tensor(acts, dtype=torch.float32, device=policy.device),
            )
        return log_prob.cpu().numpy()

    def reward_step(self, rollout_buffer, recorder: TransitionRecorder, last_values, dones) -> dict:
        """Update the reward model on this rollout, relabel it, recompute advantages."""
        steps = recorder.take(rollout_buffer.buffer_size)
        if self.reward_model is None:  # plain RL on the environment's reward
            return {
                "reward_mean": float(steps.env_rewards.mean()),
                "reward_std": float(steps.env_rewards.std()),
            }
        obs, acts, next_obs, term = steps.flat()
        out = self.update_reward_model(Transitions(obs, acts, next_obs, term))  # Eq. 3
        full = self.batch(obs, acts, next_obs, term)
        rewards = self.reward_model.reward(full, generator=self.generator)  # Eq. 4
        rewards = rewards.cpu().numpy().reshape(steps.env_rewards.shape)
        r_abs = 0.0
        if self.absorbing:  # bootstrap true terminations through the absorbing state
            r_abs = out["reward_absorbing"] = self.absorbing_reward()
        if self.return_scaler is not None:
            # step t ended an episode if obs t+1 starts one; the last step's ends are `dones`
            ends = np.concatenate([rollout_buffer.episode_starts[1:], dones[None]], axis=0)
            learned = self.return_scaler(rewards, ends, steps.terminated, r_abs)
        else:
            learned = rewards + steps.terminated * terminal_bonus(r_abs, self.config.ppo.gamma)
        # SB3 added gamma * V(s_T) at time-limit steps; keep that, swap env reward for ours.
        rollout_buffer.rewards += learned - steps.env_rewards
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
        out.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std()))
        return out

    # ---- the loop -----------------------------------------------------------------------------

    def make_callback(self) -> BaseCallback:
        return _ImitationCallback(self)

    # ---- checkpoints --------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        writers: dict[str, Any] = {"ppo.zip": lambda p: self.model.save(p)}
        writers.update(self.reward_writers())
        if isinstance(self.venv, VecNormalize):
            writers["vecnormalize.pkl"] = lambda p: self.venv.save(p)
        state = self.base_state(self.model.num_timesteps)
        if self.return_scaler is not None:
            state["return_scaler"] = self.return_scaler.state()
        self.run.save_checkpoint(writers, state)

    def _restore(self, raw_venv, state: dict[str, Any]) -> None:
        ckpt = self.run.checkpoint_dir
        recorder = TransitionRecorder(raw_venv)
        venv = recorder
        # SB3's own files are pickles (there is no weights-only form); they come from the run
        # directory this user's `diffil train` wrote, and any failure is one DiffilError.
        if (ckpt / "vecnormalize.pkl").exists():
            venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), recorder)
        self.venv, self.recorder = venv, recorder
        self.model = PPO.load(ckpt / "ppo.zip", env=venv, device=str(self.device))
        self.restore_base_state(state)
        if self.return_scaler is not None and "return_scaler" in state:
            self.return_scaler.restore(state["return_scaler"])


def sb3_policy(model: Any, venv: Any, metadata: dict[str, Any]) -> Policy:
    """The exported deterministic policy of an SB3 model trained on ``venv``."""
    vn = venv if isinstance(venv, VecNormalize) else None
    return Policy.from_sb3(
        model,
        obs_rms=vn.obs_rms if vn else None,
        clip_obs=vn.clip_obs if vn else 10.0,
        epsilon=vn.epsilon if vn else 1e-8,
        metadata=metadata,
    )


class _ImitationCallback(BaseCallback):
    """Hooks the reward step into PPO's loop and logs, evaluates and checkpoints."""

    def __init__(self, trainer: OnlineTrainer):
        super().__init__()
        self.trainer = trainer
        self.reporter = ProgressReporter(trainer, trainer.model.num_timesteps)
        self.started_at = trainer.model.num_timesteps
        cfg = trainer.config
        self.bc_steps = cfg.bc_regularisation if cfg.has_ppo_actor else 0
        self.bc_mse: float | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        # PPO's update of the last rollout is done: the BC term of bc_regularisation. Not on
        # the first rollout of a run or of a resume: a checkpoint is written at a rollout's end,
        # before PPO's update, so the policy it holds has had every BC pass due so far
        if self.bc_steps and self.model.num_timesteps > self.started_at:
            t = self.trainer
            self.bc_mse = t.clone_demonstrations(self.bc_steps, t.config.ppo.learning_rate)

    def _on_rollout_end(self) -> None:
        t = self.trainer
        row: dict[str, Any] = t.reward_step(
            self.model.rollout_buffer, t.recorder, self.locals["values"], self.locals["dones"]
        )
        if self.bc_steps:
            row["bc_mse"] = self.bc_mse  # a column from the first row on (None there)
        self.reporter.report(self.model.num_timesteps, list(self.model.ep_info_buffer), row)


def _next_multiple(value: int, every: int) -> int:
    return (value // every + 1) * every if every > 0 else math.inf  # type: ignore[return-value]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _progress_line(row: dict[str, Any], total: int) -> str:
    parts = [f"{row['env_steps']:>10,}/{total:,}"]
    if row.get("fps"):
        parts.append(f"{row['fps']:>6,.0f} steps/s")
    if row.get("train_success") is not None:
        parts.append(f"train success {row['train_success']:.2f}")
    elif row.get("train_return") is not None:
        parts.append(f"train return {row['train_return']:.1f}")
    acc_e, acc_a = row.get("reward_model.expert_acc"), row.get("reward_model.agent_acc")
    if acc_e is not None and acc_a is not None:
        parts.append(f"D acc {acc_e:.2f}/{acc_a:.2f}")
    if row.get("reward_mean") is not None:
        parts.append(f"reward {row['reward_mean']:+.2f}±{row['reward_std']:.2f}")
    if row.get("reward_absorbing") is not None:
        parts.append(f"r(absorbing) {row['reward_absorbing']:+.2f}")
    if row.get("eval_success") is not None:
        parts.append(f"[bold]eval success {row['eval_success']:.2f}[/]")
    elif row.get("eval_return") is not None:
        parts.append(f"[bold]eval return {row['eval_return']:.1f}[/]")
    per_task = per_task_summary(row)
    if per_task:
        parts.append(f"({per_task})")
    return "  ".join(parts)
