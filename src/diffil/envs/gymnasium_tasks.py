"""Tasks on any gymnasium environment: ``gym:ENV_ID`` names, Minari env specs, users' factories.

One generic family, so that a new environment needs no code and no preset here. What a built-in
task states, a generic one infers from the environment:

* the horizon is the spec's ``max_episode_steps`` (1000 when the environment has none);
* the success metric is ``info["success"]`` or ``info["is_success"]`` when the environment reports
  one (at reset or on its first step), otherwise tasks are compared on return;
* dict observations are flattened as for the mazes (:mod:`diffil.envs.observations`);
* actions must be a continuous (Box) vector: every method here outputs one.

``gym:ENV_ID`` takes any registered id, including gymnasium's ``module:ID`` form (import the
module, which registers the id, then make it). A Minari dataset names its environment with a
serialised :class:`gymnasium.envs.registration.EnvSpec`; :func:`task_for_env_spec` turns that
into the same kind of task, or, when the id cannot be made again from the registry with the same
arguments, into one that rebuilds the environment from the spec itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import json
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from diffil.data.trajectory import SUCCESS_INFO_KEYS
from diffil.envs.maze import _register_gymnasium_robotics
from diffil.envs.observations import FlattenObservation, observation_flattener
from diffil.envs.task import ReferenceScores, TaskSpec
from diffil.errors import DiffilError

GYM_PREFIX = "gym:"
FAMILY = "gym"
DEFAULT_HORIZON = 1000
# Environments defined by gymnasium and gymnasium-robotics need no module to be imported first.
_BUILTIN_MODULES = ("gymnasium.", "gymnasium_robotics.")

MakeRaw = Callable[[str | None], gym.Env]  # render_mode -> the environment, unflattened


def _find_registered(env_id: str) -> EnvSpec:
    """gymnasium's spec for ``env_id`` (``ID`` or ``module:ID``), with a one-line error."""
    module, _, bare_id = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)  # it registers the id (gymnasium's module:ID syntax)
        except ModuleNotFoundError as err:
            raise DiffilError(
                f"cannot import module {module!r} named in gym:{env_id} ({err})",
                "install the package that registers the environment, or fix the module name",
            ) from None
    elif bare_id not in gym.registry:  # gymnasium-robotics' ids (a dependency) need no import
        _register_gymnasium_robotics()
    try:
        return gym.spec(bare_id)
    except gym.error.Error:
        close = difflib.get_close_matches(bare_id, gym.registry, n=1)
        hint = f"did you mean gym:{close[0]}? " if close else ""
        where = f"importing {module!r} did not register it; " if module else ""
        raise DiffilError(
            f"unknown gymnasium environment {env_id!r}",
            f"{hint}{where}if a package registers it, name its module as in gymnasium's "
            f"module:ID syntax, e.g. --task gym:my_package.envs:{bare_id}",
        ) from None


def _check_actions(env: gym.Env, env_name: str) -> None:
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise DiffilError(
            f"diffil needs a continuous (Box) action space; {env_name} has {space}",
            "use an environment with continuous actions, or wrap it to take a vector",
        )
    if len(space.shape) != 1:
        raise DiffilError(
            f"diffil needs a vector of actions; {env_name}'s action space has shape {space.shape}",
            "wrap the environment so it takes a flat action vector",
        )
    if not _finite(space):
        # policies squash (SAC) or clip (PPO) their actions to the bounds, and the imitation
        # rewards and BC work in bound-scaled units: an unbounded space has no scale
        raise DiffilError(
            f"diffil needs finite action bounds; {env_name}'s action space is {space}",
            "wrap the environment so its action_space has finite low and high (e.g. Box(-1, 1)) "
            "and scale actions to the range it accepts",
        )


def _finite(space: gym.spaces.Box) -> bool:
    return bool(np.isfinite(space.low).all() and np.isfinite(space.high).all())


def _bounded_actions(env: gym.Env) -> gym.Env:
    """``env`` with finite action bounds where its wrappers hide them: gymnasium's ClipAction
    advertises Box(-inf, inf) and clips every action to the bounds of the environment inside,
    so an unbounded Box over a bounded one of the same shape is replaced by the inner one.
    Anything else is returned unchanged (:func:`_check_actions` refuses what stays unbounded)."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or _finite(space):
        return env
    inner = env
    while isinstance(inner, gym.Wrapper):
        inner = inner.env
        found = inner.action_space
        if isinstance(found, gym.spaces.Box) and found.shape == space.shape and _finite(found):
            env.action_space = found
            break
    return env


def _reported_success_key(env: gym.Env) -> str | None:
    """The success key the environment reports at reset or on a first (random) step, if any."""
    _, info = env.reset(seed=0)
    keys = set(info)
    env.action_space.seed(0)
    keys |= set(env.step(env.action_space.sample())[4])
    return next((key for key in SUCCESS_INFO_KEYS if key in keys), None)


def _build(
    make_raw: MakeRaw,
    time_limit: bool,
    spec: TaskSpec,
    evaluation: bool = False,
    render_mode: str | None = None,
) -> gym.Env:
    env = _bounded_actions(make_raw(render_mode))
    if time_limit:
        env = gym.wrappers.TimeLimit(env, spec.max_episode_steps)
    if spec.flatten_obs is not None:
        env = FlattenObservation(env, spec.flatten_obs)
    return env


def _generic_task(
    name: str,
    env_id: str,
    make_raw: MakeRaw,
    *,
    max_episode_steps: int | None = None,
    success_key: str | None = None,
    reference: ReferenceScores | None = None,
    description: str = "",
    spec_rebuilds_env: bool = True,
    time_limit: bool = False,
) -> TaskSpec:
    """A task whose settings are inferred from one probe of the environment; ``time_limit``:
    diffil's wrappers end episodes at the horizon (the environment does not, or not there)."""
    env = _bounded_actions(make_raw(None))
    try:
        _check_actions(env, env_id)
        flatten = observation_flattener(env.observation_space, env_id)
        registered_horizon = env.spec.max_episode_steps if env.spec is not None else None
        horizon = max_episode_steps or registered_horizon or DEFAULT_HORIZON
        success = success_key or _reported_success_key(env)
    finally:
        env.close()
    description = f"{description or env_id + ': gymnasium environment'}, {horizon}-step episodes"
    if not (max_episode_steps or registered_horizon):
        description += " (the environment has no time limit of its own)"
    return TaskSpec(
        name=name,
        env_id=env_id,
        family=FAMILY,
        max_episode_steps=horizon,
        builder=functools.partial(_build, make_raw, time_limit),
        success_key=success,
        reference=reference,
        description=description,
        flatten_obs=flatten,
        noise_variants=False,
        spec_rebuilds_env=spec_rebuilds_env,
    )


def _render_kwargs(render_mode: str | None) -> dict[str, str]:
    # only when asked: environments without rendering need not accept the argument
    return {} if render_mode is None else {"render_mode": render_mode}


def _make_registered(env_id: str, render_mode: str | None) -> gym.Env:
    return gym.make(env_id, **_render_kwargs(render_mode))


def gym_task(env_id: str) -> TaskSpec:
    """The task ``gym:<env_id>`` on a registered gymnasium environment (``ID`` or ``module:ID``)."""
    registered = _find_registered(env_id)
    make_raw = functools.partial(_make_registered, env_id)
    time_limit = registered.max_episode_steps is None  # diffil's default limit applies
    return _generic_task(GYM_PREFIX + env_id, env_id, make_raw, time_limit=time_limit)


def parse_env_spec(env_spec: str | dict[str, Any]) -> EnvSpec:
    """A serialised EnvSpec (Minari's ``env_spec`` metadata), tolerating fields of other
    gymnasium versions."""
    data = json.loads(env_spec) if isinstance(env_spec, str) else dict(env_spec)
    fields = {f.name for f in dataclasses.fields(EnvSpec) if f.init}
    data = {k: v for k, v in data.items() if k in fields}
    data.setdefault("additional_wrappers", [])
    try:
        return EnvSpec.from_json(json.dumps(data))
    except (ValueError, TypeError) as err:
        raise DiffilError(
            f"the dataset's env_spec metadata is not a gymnasium EnvSpec ({err})",
            "pass the task with --task",
        ) from None


def _same_environment(a: EnvSpec, b: EnvSpec) -> bool:
    def key(spec: EnvSpec) -> tuple:
        kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
        wrappers = tuple(w.name for w in spec.additional_wrappers)
        return spec.entry_point, kwargs, spec.max_episode_steps, wrappers

    return key(a) == key(b)


def registry_name(spec: EnvSpec) -> str | None:
    """``ID`` or ``module:ID`` that makes the same environment as ``spec``, if there is one."""
    entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
    module = entry.split(":", 1)[0]
    builtin = not module or module.startswith(_BUILTIN_MODULES)
    env_id = spec.id if builtin else f"{module}:{spec.id}"
    try:
        registered = _find_registered(env_id)
    except DiffilError:
        return None
    return env_id if _same_environment(registered, spec) else None


def _make_from_spec(spec: EnvSpec, render_mode: str | None) -> gym.Env:
    return gym.make(spec, **_render_kwargs(render_mode))


def spec_task(spec: EnvSpec) -> TaskSpec:
    """The task ``gym:ID`` that makes its environment from ``spec`` (its entry point, arguments
    and time limit), as ``minari.MinariDataset.recover_environment`` does: for a dataset whose
    environment the registry does not make the same way (see :func:`registry_name`)."""
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
    args = f" with {kwargs}" if kwargs else ""
    try:
        return _generic_task(
            GYM_PREFIX + spec.id,
            spec.id,
            functools.partial(_make_from_spec, spec),
            description=f"{spec.id}{args} (a dataset's env spec)",
            time_limit=spec.max_episode_steps is None,
        )
    except (gym.error.Error, ImportError, AttributeError) as err:
        raise DiffilError(
            f"cannot make the dataset's environment {spec.id!r} ({_entry_of(spec)}): {err}",
            "install the package that defines it, or pass the task with --task",
        ) from None


def _entry_of(spec: EnvSpec) -> str:
    return spec.entry_point if isinstance(spec.entry_point, str) else repr(spec.entry_point)


def _call_factory(factory: Callable[..., gym.Env], render_mode: str | None) -> gym.Env:
    return factory(**_render_kwargs(render_mode))


def factory_task(
    name: str,
    make_env: Callable[..., gym.Env],
    *,
    max_episode_steps: int | None = None,
    success_key: str | None = None,
    reference: ReferenceScores | None = None,
    description: str = "",
) -> TaskSpec:
    """A task on the environments ``make_env()`` returns (see :func:`diffil.register_task`)."""
    make_raw = functools.partial(_call_factory, make_env)
    label = getattr(make_env, "__qualname__", repr(make_env))
    return _generic_task(
        name,
        f"{name} ({label})",
        make_raw,
        max_episode_steps=max_episode_steps,
        success_key=success_key,
        reference=reference,
        description=description,
        spec_rebuilds_env=False,
        time_limit=True,
    )
