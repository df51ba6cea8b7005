"""Offline training: gradient steps on the demonstrations alone, no environment interaction.

:class:`OfflineTrainer` is the loop BC and the generative policies share (progress, metrics,
checkpoints, resume, Ctrl-C); a method supplies how to build its model, one gradient step, the
files of its checkpoint and its deployable policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffil.algorithms.trainer import Trainer, TrainResult
from diffil.generative.chunks import action_chunks
from diffil.generative.learner import ChunkModelLearner
from diffil.generative.model import ActionChunkModel
from diffil.generative.policy import GenerativePolicy


class OfflineTrainer(Trainer):
    """``bc.steps`` gradient steps of ``bc.batch_size`` demonstration samples each."""

    loss_name = "loss"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rng = np.random.default_rng(self.config.seed)
        self.step = 0
        state = self.run.load_state()
        if state is None:
            self.build(None)
            return
        with self.run.reading_checkpoint():
            self.build(self.run.checkpoint_dir)
            self.step = int(state["step"])
            self.rng.bit_generator.state = state["rng"]
            self.elapsed_before = float(state["elapsed"])
        self.run.truncate_metrics(self.step, key="step")
        self.say(f"resuming {self.run.path} from step {self.step:,}")

    # -- what a method supplies -----------------------------------------------------------------

    def build(self, checkpoint: Path | None) -> None:
        """Create the model and optimiser, restored from ``checkpoint`` when resuming."""
        raise NotImplementedError

    def train_step(self) -> float:
        """One gradient step on a random batch; returns the loss."""
        raise NotImplementedError

    def checkpoint_files(self) -> dict[str, Callable[[Path], None]]:
        raise NotImplementedError

    # -- the loop -------------------------------------------------------------------------------

    def learn(self) -> TrainResult:
        steps = self.config.bc.steps
        self.say(
            f"[bold]{self.config.method}[/] on [bold]{self.task.name}[/]: {steps:,} gradient "
            f"steps, {len(self.demos)} demos, run {self.run.path}"
        )
        log_every = max(1, steps // 20)
        last = time.perf_counter()
        try:
            while self.step < steps:
                loss = self.train_step()
                self.step += 1
                if self.step % log_every == 0 or self.step == steps:
                    rate = log_every / max(time.perf_counter() - last, 1e-9)
                    last = time.perf_counter()
                    self.run.log_metrics(
                        {
                            "step": self.step,
                            "time_s": round(self.elapsed, 2),
                            "loss": loss,
                            "steps_per_s": round(rate, 1),
                        }
                    )
                    self.say(
                        f"{self.step:>8,}/{steps:,}  {rate:>6,.0f} steps/s  "
                        f"{self.loss_name} {loss:+.4f}"
                    )
                    self.save_checkpoint()
        except KeyboardInterrupt:
            raise self.interrupted(f"step {self.step:,}") from None
        self.save_checkpoint()
        return self.finish(self.current_policy(), env_steps=0)

    def save_checkpoint(self) -> None:
        self.run.save_checkpoint(
            self.checkpoint_files(),
            {"step": self.step, "rng": self.rng.bit_generator.state, "elapsed": self.elapsed},
        )

    def sample_indices(self, n: int) -> np.ndarray:
        return self.rng.integers(0, n, self.config.bc.batch_size)


class GenerativePolicyTrainer(OfflineTrainer):
    """Diffusion policy and flow-matching policy on action chunks (reference 002)."""

    def build(self, checkpoint: Path | None) -> None:
        cfg = self.config.generative
        torch.manual_seed(self.config.seed)
        obs, actions = action_chunks(self.demos, cfg.obs_horizon, cfg.action_horizon)
        self.obs_history = torch.as_tensor(obs, device=self.device)
        self.action_chunks = torch.as_tensor(actions, device=self.device)
        model = ActionChunkModel(obs.shape[-1], actions.shape[-1], self.method.objective, cfg)
        model.fit_normalization(self.expert.obs, self.expert.acts)
        self.learner = ChunkModelLearner(
            model.to(self.device), self.config.bc.learning_rate, self.config.bc.weight_decay
        )
        if checkpoint is not None:
            self.learner.load_state_dict(
                torch.load(checkpoint / "learner.pt", map_location=self.device, weights_only=True)
            )
            torch.set_rng_state(torch.load(checkpoint / "torch_rng.pt", weights_only=True))

    def train_step(self) -> float:
        idx = torch.as_tensor(self.sample_indices(len(self.action_chunks)), device=self.device)
        return self.learner.step(self.obs_history[idx], self.action_chunks[idx])

    def checkpoint_files(self) -> dict[str, Callable[[Path], None]]:
        return {
            "learner.pt": lambda p: torch.save(self.learner.state_dict(), p),
            "torch_rng.pt": lambda p: torch.save(torch.get_rng_state(), p),
        }

    def current_policy(self) -> GenerativePolicy:
        """The EMA weights (what diffusion policies deploy), on the CPU."""
        return self.learner.policy(self.policy_metadata(), seed=self.config.seed)
