"""What diffil knows about a task: :class:`TaskSpec` and its :class:`ReferenceScores`.

Families of tasks (:mod:`diffil.envs.maze`, :mod:`diffil.envs.locomotion`,
:mod:`diffil.envs.gymnasium_tasks`) build specs; :mod:`diffil.envs.registry` finds them by name.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from diffil.data.trajectory import Trajectory
from diffil.envs.fixed_horizon import FixedHorizon
from diffil.errors import DiffilError


@dataclass(frozen=True)
class ReferenceScores:
    """Returns of a random and an expert policy, for normalised scores (D4RL convention)."""

    random_return: float
    expert_return: float
    source: str = ""

    def normalize(self, episode_return: float) -> float:
        return (episode_return - self.random_return) / (self.expert_return - self.random_return)


@dataclass(frozen=True)
class TaskSpec:
    """A named task. Build environments with :meth:`make_env`.

    ``builder`` receives the spec and returns the wrapped environment; it is where each family of
    tasks (mazes, locomotion) applies its own wrappers, so the registry stays generic.
    """

    name: str
    env_id: str
    family: str
    max_episode_steps: int
    builder: Callable[..., gym.Env] = field(repr=False, compare=False)
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    success_key: str | None = None
    # success ends the episode (mazes, Fetch, parking, merge); False where it is judged at the
    # time limit (highway: still on the road, uncrashed), so only failures end episodes early
    ends_on_success: bool = True
    reference: ReferenceScores | None = None
    description: str = ""
    noise: float = 1.0
    coverage: float = 1.0
    # For tasks whose environment observes a dict (goal-conditioned mazes): raw <-> flat vectors.
    # Datasets in Minari's layout store the raw form, so other tools see the real environment's.
    flatten_obs: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    unflatten_obs: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    # the builder scales reset noise with ``noise`` (the built-in families do), from min_noise on
    noise_variants: bool = True
    min_noise: float = 0.0
    # per-episode metrics besides return and success (driving: collision, mean speed, lane
    # changes), averaged by diffil.eval.evaluate_policy
    episode_metrics: Callable[[Trajectory], dict[str, float]] | None = field(
        default=None, repr=False, compare=False
    )
    # the environment's gymnasium spec rebuilds it (False for a user's factory, whose wrappers
    # the spec does not record): datasets and policies then carry the spec
    spec_rebuilds_env: bool = True

    def variant(self, *, noise: float | None = None, coverage: float | None = None) -> TaskSpec:
        """The same task with a different reset-noise scale or maze start/goal coverage.

        ``noise`` multiplies the environment's own reset noise (1.0 = default, 0 = deterministic
        resets). ``coverage`` (mazes only) is the fraction of free cells from which demonstration
        starts and goals are drawn; evaluation environments always use every cell.
        """
        noise = self.noise if noise is None else float(noise)
        coverage = self.coverage if coverage is None else float(coverage)
        if noise < 0:
            raise DiffilError(f"noise scale must be >= 0, got {noise}", "pass e.g. --noise 1.0")
        if noise < self.min_noise:
            raise DiffilError(
                f"noise scale of {self.name!r} must be >= {self.min_noise:g}, got {noise:g}",
                "pass e.g. --noise 1.0",
            )
        if noise != 1.0 and not self.noise_variants:
            raise DiffilError(
                f"noise variants do not apply to {self.name!r} (it has no reset noise diffil "
                "scales)",
                "drop --noise",
            )
        if not 0.0 < coverage <= 1.0:
            raise DiffilError(
                f"coverage must be in (0, 1], got {coverage}", "pass e.g. --coverage 0.25"
            )
        if coverage != 1.0 and self.family != "maze":
            raise DiffilError(
                f"coverage applies to maze tasks only, not {self.name!r}", "drop --coverage"
            )
        return dataclasses.replace(self, noise=noise, coverage=coverage)

    @property
    def variant_settings(self) -> dict[str, float]:
        return {"noise": self.noise, "coverage": self.coverage}

    @property
    def file_stem(self) -> str:
        """The name, usable in a file name (``gym:Pendulum-v1`` -> ``gym-Pendulum-v1``)."""
        return task_file_stem(self.name)

    def raw_env_spec(self) -> gym.envs.registration.EnvSpec | None:
        """The gymnasium spec of the underlying environment, without diffil's wrappers; None
        when that spec would not rebuild the task's environment."""
        if not self.spec_rebuilds_env:
            return None
        env = self.make_env()
        try:
            return (
                None if env.spec is None else dataclasses.replace(env.spec, additional_wrappers=())
            )
        finally:
            env.close()

    def check_fixed_horizon(self) -> None:
        """One-line error if ``fixed_horizon`` cannot apply: episodes that end on success."""
        if self.success_key and self.ends_on_success:
            raise DiffilError(
                f"fixed_horizon does not apply to {self.name!r}: its episodes end on success",
                "use it on tasks that end on failure only (hopper, walker2d, ant, highway); "
                "reward.absorbing handles endings of both kinds",
            )

    def make_env(
        self,
        seed: int | None = None,
        evaluation: bool = False,
        render_mode: str | None = None,
        fixed_horizon: bool = False,
    ) -> gym.Env:
        """A fresh environment with flat observations. ``evaluation`` ignores coverage limits;
        ``fixed_horizon`` (training only) ignores early terminations, see
        :mod:`diffil.envs.fixed_horizon`."""
        if fixed_horizon:
            self.check_fixed_horizon()
        env = self.builder(self, evaluation=evaluation, render_mode=render_mode)
        if fixed_horizon and not evaluation:
            env = FixedHorizon(env)
        if seed is not None:
            env.reset(seed=seed)
            env.action_space.seed(seed)
        return env

    @functools.cached_property
    def dims(self) -> tuple[int, int]:
        """(obs_dim, act_dim) of the flat observation and action vectors."""
        env = self.make_env()
        try:
            return int(env.observation_space.shape[0]), int(env.action_space.shape[0])
        finally:
            env.close()

    @property
    def obs_dim(self) -> int:
        return self.dims[0]

    @property
    def act_dim(self) -> int:
        return self.dims[1]

    def normalized_score(self, episode_return: float) -> float:
        if self.reference is None:
            raise ValueError(f"task {self.name!r} has no reference scores")
        return self.reference.normalize(episode_return)


def task_file_stem(name: str) -> str:
    """A task name made safe for file names: ``:`` and ``/`` become ``-``, ``,`` (a task
    list) ``+``."""
    return name.replace(":", "-").replace("/", "-").replace(",", "+")
