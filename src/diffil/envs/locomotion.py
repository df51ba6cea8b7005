"""MuJoCo locomotion tasks (gymnasium v5): hopper, halfcheetah, walker2d, ant.

Success is not defined for these; methods are compared on normalised return. The noise variant
scales the environment's ``reset_noise_scale`` (the spread of initial joint positions and
velocities), as in the robustness study of reference 000's paper.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import gymnasium as gym

from diffil.envs.task import ReferenceScores, TaskSpec

# Random and expert returns, diffil's own (v5 envs): random = uniform random actions, expert =
# mean return of the shipped demonstrations, both from benchmarks/locomotion_reference.py.
_MEASURED = "benchmarks/results/locomotion_reference.md"
LOCOMOTION = {
    "hopper": ("Hopper-v5", 5e-3, ReferenceScores(17.24, 3052.2, _MEASURED)),
    "halfcheetah": ("HalfCheetah-v5", 0.1, ReferenceScores(-286.5, 8208.4, _MEASURED)),
    "walker2d": ("Walker2d-v5", 5e-3, ReferenceScores(1.62, 4535.6, _MEASURED)),
    "ant": ("Ant-v5", 0.1, ReferenceScores(-55.3, 3256.8, _MEASURED)),
}


# MuJoCo >= 4.0 warns of this deprecated attribute of gymnasium's half_cheetah.xml every time the
# model is compiled (each env, evaluation envs too), which floods training and bench logs. The
# attribute still works; the warning is gymnasium's to act on, not the user's.
KNOWN_DEPRECATIONS = ("compiler attribute 'settotalmass' is deprecated",)


@contextlib.contextmanager
def known_deprecations_silenced() -> Iterator[None]:
    """While the block runs, MuJoCo warnings in :data:`KNOWN_DEPRECATIONS` are dropped and any
    other MuJoCo warning goes to the handler installed before, or to Python's ``warnings``; the
    earlier handler is restored afterwards."""
    import mujoco

    earlier = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if message.startswith(KNOWN_DEPRECATIONS):
            return
        if earlier is not None:
            earlier(message)
        else:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(earlier)


def _build_locomotion(spec: TaskSpec, evaluation: bool = False, render_mode: str | None = None):
    default_noise = spec.env_kwargs["reset_noise_scale"]
    kwargs = {**spec.env_kwargs, "reset_noise_scale": default_noise * spec.noise}
    with known_deprecations_silenced():  # the model is compiled here
        return gym.make(
            spec.env_id, max_episode_steps=spec.max_episode_steps, render_mode=render_mode, **kwargs
        )


def locomotion_tasks() -> list[TaskSpec]:
    """The built-in MuJoCo locomotion tasks."""
    return [
        TaskSpec(
            name=name,
            env_id=env_id,
            family="locomotion",
            max_episode_steps=1000,
            builder=_build_locomotion,
            env_kwargs={"reset_noise_scale": reset_noise},
            reference=reference,
            description=f"{env_id}, MuJoCo locomotion, 1000-step episodes",
        )
        for name, (env_id, reset_noise, reference) in LOCOMOTION.items()
    ]
