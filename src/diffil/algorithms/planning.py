"""Training runs of the ``diffuser`` and ``diffuser-irl`` methods (reference 004).

    <run>/exploration.hdf5   reward-agnostic exploration data (stage 1)
    <run>/diffuser.pt        the base Diffuser trained on it (stage 2; Diffuser.load)
    <run>/reward.pt          Diffuser-IRL's learned reward r_phi(s, a) (stage 3; PlanReward.load)
    <run>/demos.hdf5         the demonstrations Diffuser-IRL learned from
    <run>/metrics.csv        one row per logged Diffuser step and per IRL epoch
    <run>/eval.json          the re-planning planner on the task (and the reward's ERC)

Each stage's product is written when the stage ends; within the Diffuser stage a checkpoint is
taken every ``diffuser.checkpoint_every`` steps, within the IRL stage every epoch, and on Ctrl-C
or kill, so ``diffil train --resume RUN`` continues where the run stopped (with the same random
streams: a resumed run learns what an uninterrupted one does).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffil.algorithms.config import read_run_config
from diffil.algorithms.trainer import Trainer, TrainResult
from diffil.data.io import load_dataset, save_dataset
from diffil.data.trajectory import TrajectoryDataset
from diffil.errors import DiffilError
from diffil.eval.evaluate import evaluate_policy, format_evaluation
from diffil.experts.collect import collect_exploration
from diffil.planning.diffuser import Diffuser, DiffuserConfig, diffuser_optimizer, train_diffuser
from diffil.planning.irl import (
    DiffuserIRLConfig,
    PlanReward,
    irl_generators,
    irl_optimizer,
    train_diffuser_irl,
)
from diffil.planning.planner import DiffuserPlanner, maze_goal_state
from diffil.runs.run_dir import PLAN_REWARD, RunDirectory

EXPLORATION_FILE = "exploration.hdf5"
DIFFUSER_FILE = "diffuser.pt"
_DIFFUSER_CKPT = "diffuser_training.pt"
_IRL_CKPT = "irl_training.pt"


def irl_config(config: Any) -> DiffuserIRLConfig:
    """The run's Diffuser-IRL settings, with the run's seed (and K no longer than the plan)."""
    irl = config.irl
    return dataclasses.replace(irl, seed=config.seed, K=min(irl.K, config.diffuser.horizon))


def make_planner(run_dir: str | Path, seed: int = 0) -> DiffuserPlanner:
    """The re-planning planner of a finished ``diffuser`` or ``diffuser-irl`` run: its Diffuser,
    guided by its learned reward (diffuser-irl) with the run's guidance scale."""
    run = RunDirectory.open(run_dir)
    config = read_run_config(run)
    path = run.path / DIFFUSER_FILE
    if not path.is_file():
        raise DiffilError(
            f"the run has no {DIFFUSER_FILE} yet",
            "finish it with `diffil train --resume`",
            run.path,
        )
    diffuser = Diffuser.load(path).requires_grad_(False)
    guide = None
    if config.method == "diffuser-irl":
        if not (run.path / PLAN_REWARD).is_file():
            raise DiffilError(
                f"the run has no {PLAN_REWARD} yet",
                "finish it with `diffil train --resume`",
                run.path,
            )
        guide = PlanReward.load(run.path / PLAN_REWARD)
    settings = config.diffuser
    goal = None
    if settings.goal_inpaint:
        dims = diffuser.state_index.tolist()
        goal = lambda obs: maze_goal_state(obs, dims)  # noqa: E731
    return DiffuserPlanner(
        diffuser,
        guide=guide,
        scale=config.irl.scale,
        num_samples=settings.plan_samples,
        goal=goal,
        replan_every=settings.replan_every,
        seed=seed,
    )


class DiffuserTrainer(Trainer):
    """Exploration data -> base Diffuser -> (Diffuser-IRL's reward) -> planner evaluation."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.task.family != "maze":
            raise DiffilError(
                f"{self.config.method} needs exploration data, which diffil makes for mazes "
                f"only, not {self.task.name!r}",
                "pick a pointmaze-* task",
            )
        self.learns_reward = self.method.learns_reward
        self.state: dict[str, Any] = self.run.load_state() or {"stage": "diffuser", "step": 0}
        self.stage_step = int(self.state["step"])
        self.diffuser: Diffuser | None = None
        self.reward: PlanReward | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.generators: tuple[torch.Generator, ...] = ()
        self._snapshot: dict[str, Any] | None = None
        self.elapsed_before = float(self.state.get("elapsed", 0.0))
        if self.state["stage"] != "diffuser" or self.stage_step > 0:
            self.run.truncate_metrics(self.progress_step, key="step")
            self.say(f"resuming {self.run.path} at {self.state['stage']} step {self.stage_step:,}")

    # ---- progress bookkeeping ------------------------------------------------------------------

    @property
    def progress_step(self) -> int:
        """Diffuser steps done, plus IRL epochs done: the ``step`` column of metrics.csv."""
        if self.state["stage"] == "diffuser":
            return self.stage_step
        return self.config.diffuser.steps + self.stage_step

    def _log(self, loss: float) -> None:
        self.run.log_metrics(
            {
                "step": self.progress_step,
                "stage": self.state["stage"],
                "loss": loss,
                "time_s": round(self.elapsed, 2),
            }
        )

    def snapshot(self, model: torch.nn.Module, step: int, copy_weights: bool) -> None:
        """Remember the stage's state after ``step`` steps (epochs): what a checkpoint, also one
        taken on Ctrl-C in the middle of the next step (epoch), writes. ``copy_weights`` copies
        weights and optimizer too (IRL: an epoch is several updates)."""
        assert self.optimizer is not None
        weights, optimizer = model.state_dict(), self.optimizer.state_dict()
        if copy_weights:
            weights, optimizer = copy.deepcopy(weights), copy.deepcopy(optimizer)
        generators = [g.get_state() for g in self.generators]
        self._snapshot = {"model": weights, "optimizer": optimizer, "generators": generators}
        self.stage_step = step

    def save_checkpoint(self) -> None:
        """The stage, its step, and the stage's weights, optimizer and random streams as of the
        last completed step (epoch)."""
        writers: dict[str, Any] = {}
        blob = self._snapshot
        if blob is not None:
            name = _DIFFUSER_CKPT if self.state["stage"] == "diffuser" else _IRL_CKPT
            writers[name] = lambda p: torch.save(blob, p)
        state = {**self.state, "step": self.stage_step, "elapsed": self.elapsed}
        self.run.save_checkpoint(writers, state)

    def _restore(self, name: str, model: torch.nn.Module) -> None:
        path = self.run.checkpoint_dir / name
        if self.stage_step == 0 or not path.is_file():
            return
        with self.run.reading_checkpoint():
            blob = torch.load(path, map_location=self.device, weights_only=True)
            model.load_state_dict(blob["model"])
            assert self.optimizer is not None
            self.optimizer.load_state_dict(blob["optimizer"])
            for generator, saved in zip(self.generators, blob["generators"], strict=True):
                generator.set_state(saved)

    # ---- stages --------------------------------------------------------------------------------

    def exploration_data(self) -> TrajectoryDataset:
        """Stage 1: reward-agnostic exploration pieces (made once, then read back), on the
        training variant (every cell of a maze unless ``train_on_covered_cells``)."""
        path = self.run.path / EXPLORATION_FILE
        if path.is_file():
            return load_dataset(path, task=self.train_task)
        cfg = self.config.diffuser
        self.say(f"exploring {cfg.explore_steps:,} steps (pieces of {cfg.piece})")
        data = collect_exploration(
            self.train_task,
            cfg.explore_steps,
            seed=self.config.seed,
            action_noise=cfg.action_noise,
            segment_length=cfg.piece,
            progress=self.console is not None,
        )
        save_dataset(data, path, task=self.train_task)
        return data

    def fit_diffuser(self, data: TrajectoryDataset) -> Diffuser:
        """Stage 2: the base Diffuser on the exploration data's H-step windows."""
        path = self.run.path / DIFFUSER_FILE
        if self.state["stage"] != "diffuser" and path.is_file():
            return Diffuser.load(path, map_location=self.device)
        cfg = self.config.diffuser
        torch.manual_seed(self.config.seed)
        sizes = DiffuserConfig(
            horizon=cfg.horizon,
            num_steps=cfg.diffusion_steps,
            channels=cfg.channels,
            time_embed_dim=cfg.time_embed_dim,
            kernel_size=cfg.kernel_size,
            clip=cfg.clip,
            state_dims=cfg.state_dims,
        )
        assert data.obs_dim is not None and data.act_dim is not None
        self.diffuser = Diffuser(data.obs_dim, data.act_dim, sizes).to(self.device)
        plans = self.diffuser.plans_from_dataset(data)
        self.diffuser.fit_normalizer(plans)
        self.optimizer = diffuser_optimizer(self.diffuser, cfg.lr)
        self.generators = (torch.Generator().manual_seed(self.config.seed),)
        self._restore(_DIFFUSER_CKPT, self.diffuser.model)
        self.snapshot(self.diffuser.model, self.stage_step, copy_weights=True)
        self.say(
            f"training the Diffuser: {cfg.steps:,} steps of {cfg.batch_size} windows "
            f"(horizon {cfg.horizon}, {cfg.diffusion_steps} diffusion steps)"
        )
        log_every = max(1, min(cfg.checkpoint_every, cfg.steps // 20))

        def after_step(step: int, loss: float) -> None:
            assert self.diffuser is not None  # one Adam step per step: weights need no copy
            self.snapshot(self.diffuser.model, step + 1, copy_weights=False)
            if self.stage_step % log_every == 0 or self.stage_step == cfg.steps:
                self._log(loss)
                self.say(f"  diffuser step {self.stage_step:,}/{cfg.steps:,} loss {loss:.4f}")
            if self.stage_step % cfg.checkpoint_every == 0 and self.stage_step < cfg.steps:
                self.save_checkpoint()

        train_diffuser(
            self.diffuser,
            plans,
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            fit_normalizer=False,
            callback=after_step,
            optimizer=self.optimizer,
            generator=self.generators[0],
            first_step=self.stage_step,
        )
        self.diffuser.save(path)
        self.state, self.stage_step = {"stage": "irl" if self.learns_reward else "done"}, 0
        self.optimizer, self.generators, self._snapshot = None, (), None
        self.save_checkpoint()
        return self.diffuser

    def learn_reward(self, diffuser: Diffuser) -> PlanReward:
        """Stage 3 (diffuser-irl): Algorithm 4 on the demonstrations, one checkpoint per epoch."""
        path = self.run.path / PLAN_REWARD
        if self.state["stage"] == "done" and path.is_file():
            return PlanReward.load(path, map_location=self.device)
        assert self.demos is not None
        config = irl_config(self.config)
        torch.manual_seed(config.seed)
        self.reward = PlanReward.for_diffuser(diffuser, config)
        self.optimizer = irl_optimizer(self.reward, config)
        self.generators = irl_generators(config)
        self._restore(_IRL_CKPT, self.reward)
        self.snapshot(self.reward, self.stage_step, copy_weights=True)
        self.say(
            f"learning the reward (Diffuser-IRL, {config.loss}, K = {config.K}): "
            f"{config.epochs} epochs on {len(self.demos)} demonstrations"
        )

        def after_epoch(epoch: int, loss: float) -> None:
            assert self.reward is not None
            self.snapshot(self.reward, epoch + 1, copy_weights=True)
            self._log(loss)
            if self.stage_step < config.epochs:
                self.save_checkpoint()

        train_diffuser_irl(
            diffuser,
            self.demos,
            config,
            reward=self.reward,
            progress=self.console is not None,
            callback=after_epoch,
            optimizer=self.optimizer,
            generators=(self.generators[0], self.generators[1]),
            first_epoch=self.stage_step,
        )
        self.reward.save(path)
        self.state, self.stage_step = {"stage": "done"}, 0
        self.optimizer, self.generators, self._snapshot = None, (), None
        self.save_checkpoint()
        return self.reward.eval()

    # ---- the run -------------------------------------------------------------------------------

    def learn(self) -> TrainResult:
        cfg = self.config
        self.say(
            f"[bold]{cfg.method}[/] on [bold]{self.task.name}[/]: {cfg.diffuser.steps:,} Diffuser "
            f"steps" + (f", {cfg.irl.epochs} IRL epochs" if self.learns_reward else "")
            + f", device {self.device}, run {self.run.path}"
        )  # fmt: skip
        try:
            data = self.exploration_data()
            diffuser = self.fit_diffuser(data)
            reward = self.learn_reward(diffuser) if self.learns_reward else None
        except KeyboardInterrupt:
            raise self.interrupted(f"{self.state['stage']} step {self.stage_step:,}") from None
        self.say(f"evaluating the planner: {cfg.eval.episodes} episodes, re-planning every step")
        planner = make_planner(self.run.path, seed=cfg.seed)
        evaluation = evaluate_policy(self.task, planner, cfg.eval.episodes)
        result: dict[str, Any] = {**evaluation}
        if reward is not None:
            pieces = cfg.diffuser.coverage_pieces
            result["erc"] = coverage_erc(self.task, reward, data, pieces, cfg.seed)
        result.update(seconds=round(self.elapsed, 1), env_steps=0)
        self.run.write_eval(result)
        extra = f", ERC {result['erc']:.3f}" if "erc" in result else ""
        self.say(f"[bold]done[/] {self.run.path}: " + format_evaluation(evaluation) + extra)
        self.run.close()
        return TrainResult(
            self.run.path, self.run.path / DIFFUSER_FILE, evaluation, 0, self.elapsed
        )


class _RewardOfTransitions(torch.nn.Module):
    """r_phi(obs, action) on raw observations and actions: the exported form of a PlanReward."""

    def __init__(self, reward: PlanReward):
        super().__init__()
        self.reward = reward

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        rows = torch.cat([obs[:, self.reward.state_index], action], dim=-1)
        return self.reward.step_reward(rows)


def export_learned_reward(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> Path:
    """Write a diffuser-irl run's learned reward as ONNX or TorchScript: inputs ``obs`` (B,
    obs_dim) and ``action`` (B, act_dim), output ``reward`` (B,). Default: RUN/reward.onnx or
    RUN/reward.ts.pt."""
    import inspect
    import warnings

    from diffil.utils.files import write_atomically

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if config.method != "diffuser-irl" or not (run_dir / PLAN_REWARD).is_file():
        raise DiffilError(
            "a diffuser run has no learned reward to export, and its planner cannot be exported "
            "(guided sampling is a loop with gradients)"
            if config.method == "diffuser"
            else f"the run has no {PLAN_REWARD} yet",
            "export a diffuser-irl run (diffuser.pt loads with diffil.planning.Diffuser.load)",
            run_dir,
        )
    if fmt not in ("onnx", "torchscript"):
        raise DiffilError(
            f"a learned reward exports as onnx or torchscript, not {fmt}",
            f"use --format onnx (or use {PLAN_REWARD} itself: PlanReward.load)",
        )
    target = Path(out) if out else run_dir / ("reward.onnx" if fmt == "onnx" else "reward.ts.pt")
    reward = PlanReward.load(run_dir / PLAN_REWARD)
    module = _RewardOfTransitions(reward).eval().requires_grad_(False)
    example = (torch.zeros(2, reward.obs_dim), torch.zeros(2, reward.act_dim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(module, example)
            write_atomically(target, lambda tmp: traced.save(str(tmp)))
            return target
        kwargs: dict[str, Any] = {}
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False
        batch = {0: "batch"}
        write_atomically(
            target,
            lambda tmp: torch.onnx.export(
                module, example, str(tmp), input_names=["obs", "action"],
                output_names=["reward"], opset_version=17,
                dynamic_axes={"obs": batch, "action": batch, "reward": batch}, **kwargs,
            ),
        )  # fmt: skip
    return target


def coverage_erc(
    task: Any, reward: PlanReward, data: TrajectoryDataset, pieces: int, seed: int
) -> float:
    """ERC of ``reward`` against the task's true reward on ``pieces`` random pieces of the
    exploration data (the coverage set of reference 004, section 3.4.1)."""
    from diffil.eval.reward_metrics import erc, task_reward

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data), size=min(pieces, len(data)), replace=False)
    coverage = [data[int(i)] for i in pick]
    return erc(reward.reward_function(), task_reward(task), coverage)
