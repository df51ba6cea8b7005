"""Tasks by name: the built-in tasks, users' tasks, and ``gym:ENV_ID`` on any gymnasium id.

A :class:`TaskSpec` is everything diffil needs to know about a task. The CLI, the benchmark runner
and the Python API all look tasks up here, so they accept the same names:

* a built-in name (``hopper``, ``pointmaze-umaze``; ``diffil tasks`` lists them);
* a name given to :func:`register_task` in this process, or ``module:name`` for one that
  ``module`` registers when imported (how the CLI finds a user's task);
* ``gym:ENV_ID`` or ``gym:module:ENV_ID``: any registered gymnasium environment with a
  continuous action space (:mod:`diffil.envs.gymnasium_tasks`).

Variants for the generalisation studies (reset-noise scale, maze start/goal coverage) are derived
with :meth:`TaskSpec.variant` and carry their settings into dataset provenance.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from diffil.envs import gymnasium_tasks
from diffil.envs.driving import driving_tasks
from diffil.envs.fetch import fetch_tasks
from diffil.envs.gymnasium_tasks import GYM_PREFIX
from diffil.envs.locomotion import locomotion_tasks
from diffil.envs.maze import maze_tasks
from diffil.envs.multitask import is_multitask, multitask_spec, split_task_names
from diffil.envs.task import ReferenceScores, TaskSpec
from diffil.errors import DiffilError

__all__ = [
    "ReferenceScores",
    "TaskSpec",
    "get_task",
    "list_tasks",
    "register_task",
    "restore_task",
    "task_for_env_id",
    "task_for_env_spec",
]

_BUILTIN: dict[str, TaskSpec] = {
    t.name: t for t in (*maze_tasks(), *locomotion_tasks(), *fetch_tasks(), *driving_tasks())
}
_TASKS: dict[str, TaskSpec] = dict(_BUILTIN)  # built-in and registered by name
# tasks found by a qualified name (gym:..., module:name), made on first use
_RESOLVED: dict[str, TaskSpec] = {}


def register_task(
    task: str | TaskSpec,
    make_env: Callable[..., gym.Env] | None = None,
    *,
    max_episode_steps: int | None = None,
    success_key: str | None = None,
    reference: ReferenceScores | tuple[float, float] | None = None,
    description: str = "",
    replace: bool = False,
) -> TaskSpec:
    """Make a task of your own environment (and wrappers) usable by name, like a built-in one.

    ``make_env()`` returns a fresh environment (called as ``make_env(render_mode=...)`` when a
    video is rendered). Its action space must be a continuous Box; dict observations are
    flattened. ``max_episode_steps`` defaults to the environment's own time limit (else 1000),
    ``success_key`` to ``"success"`` or ``"is_success"`` when the environment reports it in its
    infos, and ``reference`` = ``(random_return, expert_return)`` gives normalised scores::

        import gymnasium as gym
        import diffil

        def make_env():
            return gym.wrappers.ClipAction(gym.make("Pendulum-v1"))

        diffil.register_task("clipped-pendulum", make_env, reference=(-1200.0, -150.0))
        diffil.train("bc", "clipped-pendulum", demos="pendulum.hdf5")

    For the ``diffil`` command, register the task in a module and name it ``module:name``
    (``--task my_package.tasks:clipped-pendulum``): diffil imports the module first. A
    :class:`TaskSpec` may be passed instead of a name and factory. Returns the task.
    """
    if isinstance(task, TaskSpec):
        spec = task
    else:
        if make_env is None:
            raise TypeError("register_task(name, make_env) needs the environment factory")
        if isinstance(reference, tuple):
            reference = ReferenceScores(*map(float, reference), source="register_task")
        spec = gymnasium_tasks.factory_task(
            task,
            make_env,
            max_episode_steps=max_episode_steps,
            success_key=success_key,
            reference=reference,
            description=description,
        )
    name = spec.name
    if not name or ":" in name:
        raise DiffilError(
            f"task name {name!r} must be non-empty and without ':'",
            "':' separates a module from a task name (module:name, gym:ENV_ID)",
        )
    if name in _BUILTIN:
        raise DiffilError(f"{name!r} is a built-in task", "choose another name")
    if name in _TASKS and not replace:
        raise DiffilError(f"task {name!r} is already registered", "pass replace=True to replace it")
    _TASKS[name] = spec
    stale = [q for q in _RESOLVED if not q.startswith(GYM_PREFIX) and q.endswith(f":{name}")]
    for qualified in stale:
        del _RESOLVED[qualified]  # module:name lookups see the new one
    return spec


def list_tasks() -> list[str]:
    """The built-in and registered task names (``gym:`` names are open-ended, not listed)."""
    return sorted(_TASKS)


def get_task(
    name: str | TaskSpec, *, noise: float | None = None, coverage: float | None = None
) -> TaskSpec:
    """Look a task up by name, optionally as a variant; unknown names raise :class:`DiffilError`."""
    if isinstance(name, TaskSpec):
        spec = name
    elif name in _TASKS:
        spec = _TASKS[name]
    elif is_multitask(name):  # "a,b": one policy for several tasks (diffil.envs.multitask)
        spec = multitask_spec([get_task(n) for n in split_task_names(name)])
    elif ":" in str(name):
        spec = _resolve_qualified(str(name))
    else:
        close = difflib.get_close_matches(str(name), _TASKS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DiffilError(
            f"unknown task {name!r}",
            f"{hint}known tasks: {', '.join(sorted(_TASKS))}, or gym:ENV_ID for any gymnasium "
            "environment",
        )
    if noise is None and coverage is None:
        return spec
    return spec.variant(noise=noise, coverage=coverage)


def _resolve_qualified(name: str) -> TaskSpec:
    """``gym:ENV_ID`` / ``gym:module:ENV_ID``, or ``module:name`` (import module, find name)."""
    if name in _RESOLVED:
        return _RESOLVED[name]
    if name.startswith(GYM_PREFIX):
        spec = gymnasium_tasks.gym_task(name.removeprefix(GYM_PREFIX))
    else:
        module, task = name.rsplit(":", 1)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            raise DiffilError(
                f"cannot import module {module!r} of task {name!r} ({err})",
                "check the module name and that it is installed (or on PYTHONPATH)",
            ) from None
        if task not in _TASKS:
            raise DiffilError(
                f"importing {module!r} did not register a task {task!r}",
                f"call diffil.register_task({task!r}, make_env) in that module",
            )
        spec = dataclasses.replace(_TASKS[task], name=name)
    _RESOLVED[name] = spec
    return spec


def task_for_env_id(env_id: str) -> TaskSpec | None:
    """The built-in task on a gymnasium env id (ignoring the version), if any."""
    base = env_id.rsplit("-v", 1)[0]
    for spec in _BUILTIN.values():
        if spec.env_id == env_id:
            return spec
    for spec in _BUILTIN.values():
        if spec.env_id.rsplit("-v", 1)[0] == base:
            return spec
    return None


def task_for_env_spec(env_spec: str | dict[str, Any]) -> TaskSpec:
    """The task on the environment a serialised gymnasium EnvSpec (Minari's ``env_spec``
    metadata) describes: a built-in task on that id, else ``gym:ID`` (``gym:module:ID``) if the
    registry makes the same environment, else a ``gym:ID`` task made from the spec itself."""
    spec = gymnasium_tasks.parse_env_spec(env_spec)
    builtin = task_for_env_id(spec.id)
    if builtin is not None:
        return builtin
    registered = gymnasium_tasks.registry_name(spec)
    if registered is not None:
        return get_task(GYM_PREFIX + registered)
    task = gymnasium_tasks.spec_task(spec)
    _RESOLVED[task.name] = task  # later lookups by name in this process find this environment
    return task


def restore_task(
    name: str,
    env_spec: str | dict[str, Any] | None = None,
    *,
    noise: float | None = None,
    coverage: float | None = None,
) -> TaskSpec:
    """The task ``name`` as a dataset or policy recorded it, with the env spec recorded beside it.

    A ``gym:`` task is made from that spec when the registry (in this process) would not make
    the same environment under that name: its arguments, or an environment registered only in
    the process that recorded it, carry over. Other names are plain :func:`get_task` lookups.
    """
    if env_spec and name.startswith(GYM_PREFIX):
        spec = gymnasium_tasks.parse_env_spec(env_spec)
        registered = gymnasium_tasks.registry_name(spec)
        if registered is None or GYM_PREFIX + registered != name:
            _RESOLVED[name] = dataclasses.replace(gymnasium_tasks.spec_task(spec), name=name)
    return get_task(name, noise=noise, coverage=coverage)
