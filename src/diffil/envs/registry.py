"""Tasks by name: environment id, wrappers, horizon, success metric and reference scores.

A :class:`TaskSpec` is everything diffil needs to know about a task. The CLI, the benchmark runner
and the Python API all look tasks up here, so they accept the same names. Variants for the
generalisation studies (reset-noise scale, maze start/goal coverage) are derived with
:meth:`TaskSpec.variant` and carry their settings into dataset provenance.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

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
    reference: ReferenceScores | None = None
    description: str = ""
    noise: float = 1.0
    coverage: float = 1.0
    # For tasks whose environment observes a dict (goal-conditioned mazes): raw <-> flat vectors.
    # Datasets in Minari's layout store the raw form, so other tools see the real environment's.
    flatten_obs: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    unflatten_obs: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)

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

    def raw_env_spec(self) -> gym.envs.registration.EnvSpec:
        """The gymnasium spec of the underlying environment, without diffil's wrappers."""
        env = self.make_env()
        try:
            return dataclasses.replace(env.spec, additional_wrappers=())
        finally:
            env.close()

    def check_fixed_horizon(self) -> None:
        """One-line error if ``fixed_horizon`` cannot apply: episodes that end on success."""
        if self.success_key:
            raise DiffilError(
                f"fixed_horizon does not apply to {self.name!r}: its episodes end on success",
                "use it on tasks that end on failure (hopper, walker2d, ant)",
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


_TASKS: dict[str, TaskSpec] = {}
_builtins_loaded = False
_builtins_lock = threading.RLock()


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry (names must be unique)."""
    if spec.name in _TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    _TASKS[spec.name] = spec
    return spec


def list_tasks() -> list[str]:
    _ensure_builtin_tasks()
    return sorted(_TASKS)


def get_task(
    name: str | TaskSpec, *, noise: float | None = None, coverage: float | None = None
) -> TaskSpec:
    """Look a task up by name, optionally as a variant; unknown names raise :class:`DiffilError`."""
    _ensure_builtin_tasks()
    if isinstance(name, TaskSpec):
        spec = name
    elif name in _TASKS:
        spec = _TASKS[name]
    else:
        close = difflib.get_close_matches(str(name), _TASKS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DiffilError(
            f"unknown task {name!r}", f"{hint}known tasks: {', '.join(sorted(_TASKS))}"
        )
    if noise is None and coverage is None:
        return spec
    return spec.variant(noise=noise, coverage=coverage)


def task_for_env_id(env_id: str) -> TaskSpec | None:
    """The registered task built on a gymnasium env id (ignoring the version), if any."""
    _ensure_builtin_tasks()
    base = env_id.rsplit("-v", 1)[0]
    for spec in _TASKS.values():
        if spec.env_id == env_id:
            return spec
    for spec in _TASKS.values():
        if spec.env_id.rsplit("-v", 1)[0] == base:
            return spec
    return None


def _ensure_builtin_tasks() -> None:
    global _builtins_loaded
    # other threads wait until the registry is filled; re-entrant calls of the registering
    # thread (registration looking tasks up) see the flag and return
    with _builtins_lock:
        if not _builtins_loaded:
            _builtins_loaded = True
            from diffil.envs import locomotion, maze

            maze.register_maze_tasks()
            locomotion.register_locomotion_tasks()
