"""Diffusion-made demonstrations: more episodes from a few, kept only if the simulator agrees.

A :class:`~diffil.planning.diffuser.Diffuser` (the temporal U-Net over ``[s, a]`` plans,
reference 004) is trained on H-step windows of the given demonstrations, and synthetic episodes
are made from it ("diffusion for data generation", reference 002).

**Windows, not whole episodes.** Five demonstrations are five whole-episode examples, too few
for a generative model to learn anything but copies, and maze episodes differ in length, so
whole-episode batches would be ragged; sliding H-step windows give hundreds to thousands of
examples of the same few episodes. A synthetic episode is therefore made window by window: each
window is sampled with its first state inpainted (Algorithm 3 of reference 004), starting from
the first state of a real episode (cycling through them), and the next window starts where the
simulator says the previous one ended.

**States from the simulator.** Each window's actions are replayed in the simulator from that
state (:class:`~diffil.envs.state.Replayer`); the episode keeps the sampled actions (clipped to
the action space) and the simulator's states, rewards and flags, so every kept transition obeys
the environment's dynamics exactly. The sampled states only decide whether the model's plan was
coherent: an episode is rejected as ``diverged`` when a planned state is further than
``tolerance`` from the simulator's, measured per dimension in units of the demonstrations'
standard deviation of that dimension (the largest such distance over steps and dimensions).
Checks, in order, each with its rejection reason:

- ``diverged``: a window's planned states disagree with the simulator beyond ``tolerance``;
- ``no_success`` (goal tasks): the episode did not reach its goal within ``max_length`` steps
  (default: the task's time limit);
- ``terminated`` (tasks without a success flag): the environment ended the episode (a fall)
  before it was as long as the real episode it started from;
- ``replay_mismatch``: replaying the finished episode's actions from its first state in a fresh
  environment (:func:`dynamics_error`) does not reproduce its states within ``tolerance`` (it
  always does unless the task has state its observations do not show).

The output holds the real episodes then the kept synthetic ones, each step flagged in
``infos["synthetic"]`` (which every dataset format keeps), and the provenance block
``metadata["augmentation"]``: the generator and its sizes, training steps and final loss, the
factor, the counts generated / kept / rejected by reason, and the tolerance.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from diffil.data.trajectory import SYNTHETIC_INFO_KEY, Trajectory, TrajectoryDataset
from diffil.envs.registry import TaskSpec
from diffil.envs.state import Replayer
from diffil.errors import DiffilError
from diffil.planning.diffuser import Diffuser, make_diffuser, train_diffuser

Report = Callable[[str], None]
REJECTION_REASONS = ("diverged", "no_success", "terminated", "replay_mismatch")
START_CHOICES = ("demos", "resets")


@dataclass
class AugmentConfig:
    """Settings of :func:`augment_dataset`; the defaults are CPU-sized."""

    factor: int = 4  # synthetic episodes generated per real one
    train_steps: int = 2000
    horizon: int = 32  # window length H (cut to the longest episode)
    diffusion_steps: int = 20
    channels: tuple[int, ...] = (32, 64, 128)
    batch_size: int = 64
    lr: float = 2e-4
    tolerance: float = 1.0  # in units of the demonstrations' per-dimension std
    max_length: int | None = None  # goal tasks: step cap (default: the task's time limit)
    sample_batch: int = 64  # episodes made at once
    seed: int = 0
    # where synthetic episodes start: "demos" cycles through the real episodes' first states;
    # "resets" draws fresh starts from the task's reset distribution (on a maze, new start/goal
    # pairs within the variant's coverage), so kept episodes can cover what the demos do not
    starts: str = "demos"
    condition_on_start: bool = True  # the generator's network also sees the start state

    def check(self) -> None:
        """Raise :class:`DiffilError` (one line) for settings a user got wrong."""
        if self.factor < 1:
            raise DiffilError(f"factor must be >= 1, got {self.factor}", "pass e.g. --factor 4")
        if self.train_steps < 1:
            raise DiffilError(
                f"training steps must be >= 1, got {self.train_steps}", "pass e.g. --steps 2000"
            )
        if self.starts not in START_CHOICES:
            raise DiffilError(
                f"starts must be one of {', '.join(START_CHOICES)}, got {self.starts!r}",
                "pass e.g. --starts resets",
            )
        if not self.tolerance > 0:
            raise DiffilError(
                f"tolerance must be > 0, got {self.tolerance}", "pass e.g. --tolerance 0.5"
            )


@dataclass
class AugmentReport:
    """What :func:`augment_dataset` did."""

    real: int
    generated: int
    kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[float] = field(default_factory=list)  # each episode's largest state gap
    final_loss: float = float("nan")
    train_seconds: float = 0.0
    sample_seconds: float = 0.0


def _flagged(traj: Trajectory, synthetic: bool) -> Trajectory:
    infos = {**traj.infos, SYNTHETIC_INFO_KEY: np.full(len(traj), synthetic)}
    return Trajectory(
        traj.observations,
        traj.actions,
        traj.rewards,
        traj.terminations,
        traj.truncations,
        infos,
    )


def state_scale(dataset: TrajectoryDataset) -> np.ndarray:
    """Per-dimension standard deviation of the observations, floored at 1% of their mean (so a
    constant dimension does not make every difference in it infinite)."""
    obs = np.concatenate([t.observations for t in dataset])
    std = obs.std(axis=0)
    return np.maximum(std, 0.01 * float(std.mean()) + 1e-12)


def dynamics_error(
    replayer: Replayer, observations: np.ndarray, actions: np.ndarray, scale: np.ndarray
) -> float:
    """Largest difference between ``observations`` and the simulator's (``replayer``'s), when
    ``actions`` are replayed from the state of ``observations[0]``, per dimension in units of
    ``scale``. An episode the simulator ends earlier than the data does is infinitely far.
    """
    replay = replayer.replay(observations[0], actions)
    if replay.steps < len(actions):
        return float("inf")
    return float(np.max(np.abs(replay.observations - observations) / scale))


@dataclass
class _Episode:
    """A synthetic episode being made."""

    start: np.ndarray
    length: int  # steps to make (the real episode's, or the goal tasks' cap)
    replayer: Replayer
    observations: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    terminations: list[np.ndarray] = field(default_factory=list)
    truncations: list[np.ndarray] = field(default_factory=list)
    successes: list[np.ndarray] = field(default_factory=list)
    error: float = 0.0
    outcome: str | None = None  # None while running; "kept" or a rejection reason

    @property
    def steps(self) -> int:
        return sum(len(a) for a in self.actions)

    @property
    def last_observation(self) -> np.ndarray:
        return self.observations[-1][-1] if self.observations else self.start

    def trajectory(self, task: TaskSpec) -> Trajectory:
        terminations = np.concatenate(self.terminations)
        truncations = np.concatenate(self.truncations)
        if not (terminations[-1] or truncations[-1]):
            truncations[-1] = True  # cut at the real episode's length
        infos = {}
        if task.success_key is not None and self.successes:
            infos[task.success_key] = np.concatenate(self.successes)
        return Trajectory(
            observations=np.concatenate([self.start[None], *self.observations]),
            actions=np.concatenate(self.actions).astype(np.float32),
            rewards=np.concatenate(self.rewards),
            terminations=terminations,
            truncations=truncations,
            infos=infos,
        )


def _advance(
    episode: _Episode, plan: np.ndarray, diffuser: Diffuser, scale: np.ndarray, tolerance: float
) -> None:
    """Replay one sampled window (H, S + A) of ``episode``; record the result or its rejection."""
    state_dims = diffuser.state_index.cpu().numpy()
    s = diffuser.state_dim
    actions = plan[: episode.length - episode.steps, s:]
    replay = episode.replayer.step_actions(actions, episode.last_observation)
    m = replay.steps
    planned = plan[1:m, :s]
    simulated = replay.observations[1:m][:, state_dims]
    if len(planned):
        error = np.abs(planned - simulated) / scale[state_dims]
        episode.error = max(episode.error, float(error.max()))
    episode.observations.append(replay.observations[1:])
    episode.actions.append(np.clip(actions[:m], episode.replayer.low, episode.replayer.high))
    episode.rewards.append(replay.rewards)
    episode.terminations.append(replay.terminations)
    episode.truncations.append(replay.truncations)
    if replay.successes is not None:
        episode.successes.append(replay.successes)
    goal_task = episode.replayer.task.success_key is not None
    if episode.error > tolerance:
        episode.outcome = "diverged"
    elif goal_task and replay.successes is not None and replay.successes.any():
        episode.outcome = "kept"
    elif replay.ended or episode.steps >= episode.length:
        if goal_task:
            episode.outcome = "no_success"
        elif replay.terminations.any() and episode.steps < episode.length:
            episode.outcome = "terminated"
        else:
            episode.outcome = "kept"


def _sample_episodes(
    diffuser: Diffuser,
    dataset: TrajectoryDataset,
    task: TaskSpec,
    scale: np.ndarray,
    config: AugmentConfig,
    report: Report,
) -> list[_Episode]:
    real = list(dataset)
    count = config.factor * len(real)
    cap = config.max_length or task.max_episode_steps
    done: list[_Episode] = []
    generator = torch.Generator().manual_seed(config.seed + 1)
    state_dims = diffuser.state_index.cpu().numpy()
    for first in range(0, count, config.sample_batch):
        batch = []
        for j in range(first, min(count, first + config.sample_batch)):
            source = real[j % len(real)]
            length = cap if task.success_key is not None else len(source)
            replayer = Replayer(task, seed=config.seed + j)
            if config.starts == "resets":
                start = replayer.reset(seed=config.seed + 1_000_003 * (j + 1))
            else:
                start = replayer.start(source.observations[0])
            batch.append(_Episode(start=start, length=length, replayer=replayer))
        windows = 0
        try:
            while running := [e for e in batch if e.outcome is None]:
                starts = np.stack([e.last_observation for e in running])[:, state_dims]
                with torch.no_grad():
                    plans = diffuser.sample(torch.as_tensor(starts), generator=generator)
                for episode, plan in zip(running, plans.double().numpy(), strict=True):
                    _advance(episode, plan, diffuser, scale, config.tolerance)
                windows += 1
                report(
                    f"sampling: episodes {first + 1}-{first + len(batch)} of {count}, "
                    f"window {windows}, {len(running)} still running"
                )
        finally:
            for episode in batch:
                episode.replayer.close()
        done.extend(batch)
    return done


def train_generator(
    dataset: TrajectoryDataset, config: AugmentConfig, report: Report | None = None
) -> tuple[Diffuser, list[float]]:
    """The Diffuser :func:`augment_dataset` samples from, trained on H-step windows of
    ``dataset`` with ``config``'s sizes and steps; returns it and its per-step losses."""
    say: Report = report or (lambda line: None)
    torch.manual_seed(config.seed)
    horizon = min(config.horizon, max(len(t) for t in dataset))
    diffuser = make_diffuser(
        dataset,
        horizon=horizon,
        num_steps=config.diffusion_steps,
        channels=tuple(config.channels),
        # inpainting alone gave plans whose later steps ignore their start: on 5 maze demos
        # the median largest planned-vs-simulated gap over a window was 7.5x larger
        # (benchmarks/results/augment_coherence.md)
        condition_on_start=config.condition_on_start,
    )
    every = max(1, config.train_steps // 10)

    def on_step(step: int, loss: float) -> None:
        if (step + 1) % every == 0 or step + 1 == config.train_steps:
            say(f"training: step {step + 1}/{config.train_steps}, loss {loss:.4f}")

    losses = train_diffuser(
        diffuser,
        dataset,
        steps=config.train_steps,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        callback=on_step,
    )
    return diffuser, losses


def augment_dataset(
    dataset: TrajectoryDataset,
    task: TaskSpec,
    config: AugmentConfig | None = None,
    report: Report | None = None,
    diffuser: Diffuser | None = None,
) -> tuple[TrajectoryDataset, AugmentReport]:
    """``dataset`` plus the synthetic episodes that pass the checks, and what happened.

    Trains a Diffuser on H-step windows of ``dataset`` (or uses ``diffuser``, one already
    trained on them: the config's model sizes and training steps are then ignored), samples
    ``factor`` times as many episodes, and keeps those that pass the checks (see the module's
    docstring). ``report`` receives progress lines. Raises :class:`DiffilError` for a factor
    below 1, a dataset already holding synthetic episodes, or a task whose state cannot be set.
    """
    config = config or AugmentConfig()
    say: Report = report or (lambda line: None)
    config.check()
    if any(t.synthetic for t in dataset):
        raise DiffilError(
            "the dataset already holds synthetic episodes",
            "augment the real demonstrations (the file `diffil augment` read)",
        )
    Replayer(task).close()  # refuses a task whose state cannot be set, before training
    began = time.perf_counter()
    losses: list[float] = []
    if diffuser is None:
        diffuser, losses = train_generator(dataset, config, say)
    trained = time.perf_counter()
    scale = state_scale(dataset)
    episodes = _sample_episodes(diffuser, dataset, task, scale, config, say)
    say(f"checking: replaying {sum(e.outcome == 'kept' for e in episodes)} episodes")
    kept: list[Trajectory] = []
    with Replayer(task, seed=config.seed) as replayer:
        for episode in episodes:
            if episode.outcome != "kept":
                continue
            traj = episode.trajectory(task)
            error = dynamics_error(replayer, traj.observations, traj.actions, scale)
            if error > config.tolerance:
                episode.outcome = "replay_mismatch"
            else:
                kept.append(_flagged(traj, True))
    outcomes = Counter(e.outcome for e in episodes)
    result = AugmentReport(
        real=len(dataset),
        generated=len(episodes),
        kept=len(kept),
        rejected={r: outcomes[r] for r in REJECTION_REASONS if outcomes[r]},
        errors=[e.error for e in episodes],
        final_loss=float(np.mean(losses[-max(1, len(losses) // 20) :])) if losses else float("nan"),
        train_seconds=trained - began,
        sample_seconds=time.perf_counter() - trained,
    )
    augmented = TrajectoryDataset(
        [_flagged(t, False) for t in dataset] + kept, copy.deepcopy(dataset.metadata)
    )
    augmented.metadata["augmentation"] = _provenance(diffuser, config, result, bool(losses))
    _update_summaries(augmented)
    return augmented, result


def _update_summaries(dataset: TrajectoryDataset) -> None:
    """Bring the summary keys ``diffil collect`` writes into the metadata up to date."""
    stats = {**dataset.statistics(), "transitions": dataset.num_transitions}
    for key in ("episodes", "transitions", "success_rate", "return_mean", "length_mean"):
        if key in dataset.metadata:
            dataset.metadata[key] = stats.get(key)


def _provenance(
    diffuser: Diffuser, config: AugmentConfig, result: AugmentReport, trained_here: bool
) -> dict:
    """The ``augmentation`` metadata block; a generator passed in has unknown training."""
    cfg = diffuser.config
    generator: dict[str, Any] = {
        "model": "diffuser",
        "horizon": cfg.horizon,
        "diffusion_steps": cfg.num_steps,
        "condition_on_start": cfg.condition_on_start,
        "channels": list(cfg.channels),
        "train_steps": config.train_steps if trained_here else None,
        "batch_size": config.batch_size if trained_here else None,
        "lr": config.lr if trained_here else None,
        "final_loss": result.final_loss,
    }
    counts = asdict(result)
    errors = np.asarray(result.errors)
    return {
        "generator": generator,
        "factor": config.factor,
        "starts": config.starts,
        "seed": config.seed,
        "tolerance": config.tolerance,
        "tolerance_units": "per-dimension std of the real observations",
        "max_length": config.max_length,
        "real_episodes": counts["real"],
        "generated": counts["generated"],
        "kept": counts["kept"],
        "rejected": counts["rejected"],
        "state_gap_median": float(np.median(errors)) if len(errors) else None,
    }
