"""Several tasks as one: the task identity as an input, for one policy and one reward model.

A multi-task run (reference 000, [0050]) names its tasks with commas:
``diffil train drail --task pointmaze-umaze,pointmaze-medium``. Its :class:`MultiTaskSpec`
behaves like any task, so every method trains on it unchanged:

* **Task identity.** Every observation gets the one-hot id of its task appended: the input is
  ``[observation of task k, onehot(k)]`` with ``k`` the task's position in the list. The
  policy, PPO's value net and the reward model all read it as part of the state; for DRAIL the
  task id thus enters the diffusion discriminator through its state input, beside its real/fake
  label. Demonstrations are tagged the same way (:mod:`diffil.algorithms.multitask`), and so
  is what an exported policy takes (:func:`with_task_id` builds its input).
* **Mixed rollouts.** The environment (:class:`MultiTaskEnv`) holds one environment per task,
  each with its own time limit, and switches task at every reset: reset with seed ``s`` starts
  with task ``s mod n`` and then cycles, so the vectorised environments of a run (seeds
  ``seed + i``) start on the tasks round-robin and each visits all of them in turn.
* **Per-task evaluation.** :meth:`MultiTaskSpec.member` is task ``k`` alone with the id
  appended, what evaluation runs for each task (:mod:`diffil.eval.multitask`).

Tasks must share observation and action sizes (the mazes do); others are refused in one line.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from diffil.envs.task import TaskSpec
from diffil.errors import DiffilError

TASK_SEPARATOR = ","
MULTITASK_FAMILY = "multitask"


def is_multitask(name: object) -> bool:
    """Whether a task name lists several tasks (``a,b``)."""
    return isinstance(name, str) and TASK_SEPARATOR in name


def split_task_names(name: str | Sequence[str]) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]``; one-line errors for empty or repeated
    names and for fewer than two tasks."""
    names = name.split(TASK_SEPARATOR) if isinstance(name, str) else list(name)
    names = [str(n).strip() for n in names]
    if any(not n for n in names):
        raise DiffilError(
            f"empty task name in {TASK_SEPARATOR.join(names)!r}",
            "list tasks separated by commas, e.g. pointmaze-umaze,pointmaze-medium",
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DiffilError(f"task(s) listed twice: {', '.join(repeated)}", "list each task once")
    if len(names) < 2:
        raise DiffilError("a multi-task run needs two or more tasks", "name them, e.g. --task a,b")
    return names


def join_task_names(names: str | Sequence[str]) -> str:
    """The canonical name of a task list (``"a,b"``); a single name is returned as it is."""
    if isinstance(names, str) and not is_multitask(names):
        return names
    return TASK_SEPARATOR.join(split_task_names(names))


def with_task_id(obs: np.ndarray, task_index: int, num_tasks: int) -> np.ndarray:
    """``obs`` (``(..., obs_dim)``) with the one-hot id of task ``task_index`` appended: the
    input of a multi-task policy, also of its ONNX / TorchScript export."""
    obs = np.asarray(obs)
    if not 0 <= task_index < num_tasks:
        raise DiffilError(
            f"task index {task_index} is out of range for {num_tasks} tasks",
            f"pass 0..{num_tasks - 1} (the task's position in the run's task list)",
        )
    onehot = np.zeros((*obs.shape[:-1], num_tasks), dtype=obs.dtype)
    onehot[..., task_index] = 1
    return np.concatenate([obs, onehot], axis=-1)


def task_ids(obs: np.ndarray, num_tasks: int) -> np.ndarray:
    """The task index of each tagged observation (its last ``num_tasks`` values)."""
    return np.argmax(np.asarray(obs)[..., -num_tasks:], axis=-1)


class TaskIdObservation(gym.ObservationWrapper):
    """Appends the one-hot id of task ``task_index`` (of ``num_tasks``) to a flat observation."""

    def __init__(self, env: gym.Env, task_index: int, num_tasks: int):
        super().__init__(env)
        self.task_index, self.num_tasks = task_index, num_tasks
        space = env.observation_space
        self.observation_space = gym.spaces.Box(
            low=np.concatenate([space.low, np.zeros(num_tasks)]).astype(space.dtype),
            high=np.concatenate([space.high, np.ones(num_tasks)]).astype(space.dtype),
            dtype=space.dtype,
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return with_task_id(observation, self.task_index, self.num_tasks).astype(
            self.observation_space.dtype, copy=False
        )


class MultiTaskEnv(gym.Env):
    """One environment per task (already tagged with its id); each episode runs on one of them.

    Reset with seed ``s`` seeds every task's environment with ``s`` and starts with task
    ``s mod n``; every later reset moves to the next task. ``info[success_key]`` carries the
    current task's success flag under one name. ``task_index`` is the current episode's task.
    """

    def __init__(self, envs: Sequence[gym.Env], success_keys: Sequence[str | None]):
        self.envs = list(envs)
        self.success_keys = list(success_keys)
        self.success_key = next((k for k in success_keys if k), None)
        spaces = [env.observation_space for env in self.envs]
        self.observation_space = gym.spaces.Box(
            low=np.min([s.low for s in spaces], axis=0),
            high=np.max([s.high for s in spaces], axis=0),
            dtype=spaces[0].dtype,
        )
        self.action_space = self.envs[0].action_space
        self.render_mode = self.envs[0].render_mode
        self.metadata = self.envs[0].metadata
        self.task_index = 0
        self._next = 0
        self._seeds: list[int | None] = [None] * len(self.envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._seeds = [seed] * len(self.envs)
            self._next = seed % len(self.envs)
        self.task_index = self._next
        self._next = (self._next + 1) % len(self.envs)
        seed_now, self._seeds[self.task_index] = self._seeds[self.task_index], None
        obs, info = self.envs[self.task_index].reset(seed=seed_now, options=options)
        return obs, self._tagged(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.envs[self.task_index].step(action)
        return obs, reward, terminated, truncated, self._tagged(info)

    def _tagged(self, info: dict[str, Any]) -> dict[str, Any]:
        info = dict(info)
        info["task_index"] = self.task_index
        own = self.success_keys[self.task_index]
        if self.success_key and own and own in info:
            info[self.success_key] = info[own]
        return info

    def render(self):
        return self.envs[self.task_index].render()

    def close(self) -> None:
        for env in self.envs:
            env.close()


@dataclass(frozen=True)
class MultiTaskSpec(TaskSpec):
    """Several tasks as one task: ``members`` in order; observations carry the task's one-hot
    id. Build it with :func:`multitask_spec` (what ``get_task("a,b")`` does)."""

    members: tuple[TaskSpec, ...] = field(default=(), compare=False)

    @property
    def task_names(self) -> list[str]:
        return [m.name for m in self.members]

    @property
    def num_tasks(self) -> int:
        return len(self.members)

    @functools.cached_property
    def dims(self) -> tuple[int, int]:
        first = self.members[0]
        return first.obs_dim + self.num_tasks, first.act_dim

    def member(self, index: int) -> TaskSpec:
        """Task ``index`` alone, its observations tagged with its id (per-task evaluation)."""
        task = self.members[index]
        builder = functools.partial(_tagged_member, task, index, self.num_tasks)
        return dataclasses.replace(
            task,
            builder=builder,
            flatten_obs=None,
            unflatten_obs=None,
            spec_rebuilds_env=False,
        )

    def variant(
        self, *, noise: float | None = None, coverage: float | None = None
    ) -> MultiTaskSpec:
        """Every task as that variant (see :meth:`TaskSpec.variant`)."""
        members = tuple(m.variant(noise=noise, coverage=coverage) for m in self.members)
        return dataclasses.replace(
            self, members=members, noise=members[0].noise, coverage=members[0].coverage
        )

    def check_fixed_horizon(self) -> None:
        for task in self.members:
            task.check_fixed_horizon()


def _tagged_member(
    task: TaskSpec, index: int, num_tasks: int, spec: TaskSpec, **kwargs: Any
) -> gym.Env:
    """The builder of :meth:`MultiTaskSpec.member`: ``task``'s environment, tagged."""
    return TaskIdObservation(task.builder(task, **kwargs), index, num_tasks)


def _build_multitask(spec: TaskSpec, **kwargs: Any) -> gym.Env:
    assert isinstance(spec, MultiTaskSpec)
    n = spec.num_tasks
    envs = [_tagged_member(m, i, n, m, **kwargs) for i, m in enumerate(spec.members)]
    return MultiTaskEnv(envs, [m.success_key for m in spec.members])


def multitask_spec(members: Sequence[TaskSpec]) -> MultiTaskSpec:
    """The multi-task spec of ``members``; one-line error if their sizes differ."""
    sizes = {m.name: (m.obs_dim, m.act_dim) for m in members}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{n} (obs {o}, act {a})" for n, (o, a) in sizes.items())
        raise DiffilError(
            f"the tasks of a multi-task run must share observation and action sizes: {shown}",
            "list tasks of the same sizes (e.g. the pointmaze-* tasks)",
        )
    with_success = [m.success_key for m in members if m.success_key]
    families = {m.family for m in members}
    return MultiTaskSpec(
        name=TASK_SEPARATOR.join(m.name for m in members),
        env_id=TASK_SEPARATOR.join(m.env_id for m in members),
        family=MULTITASK_FAMILY,
        max_episode_steps=max(m.max_episode_steps for m in members),
        builder=_build_multitask,
        success_key=with_success[0] if len(with_success) == len(members) else None,
        description=f"{len(members)} tasks ({', '.join(sorted(families))}), task id appended",
        noise=members[0].noise,
        coverage=members[0].coverage,
        noise_variants=all(m.noise_variants for m in members),
        spec_rebuilds_env=False,
        members=tuple(members),
    )
