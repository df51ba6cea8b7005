"""Success judged once, at the end of an episode: ``info["success"]``.

Some tasks succeed only if the state at the end is right (a pushed block must *stay* on its goal;
a car must still be on the road, unharmed, when time runs out), while diffil counts an episode
as successful if ``info["success"]`` is raised at any step (the mazes end on success). This
wrapper reports ``info["success"] = False`` on every step but the last, and on the last step
whatever ``judge(terminated, truncated, info)`` says, so both readings agree.

:class:`EndOnSuccess` ends an episode (``terminated``) at the first step a success flag is raised,
as the mazes do; demonstrations then stop where the task is done instead of idling to the time
limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

Judge = Callable[[bool, bool, dict[str, Any]], bool]


class EpisodeEndSuccess(gym.Wrapper):
    """``info["success"]``: False before the last step, ``judge(...)`` on it."""

    def __init__(self, env: gym.Env, judge: Judge):
        super().__init__(env)
        self._judge = judge

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        ended = terminated or truncated
        success = bool(self._judge(terminated, truncated, info)) if ended else False
        return obs, reward, terminated, truncated, {**info, "success": success}


class EndOnSuccess(gym.Wrapper):
    """``terminated = True`` at the first step where ``info[key]`` is true."""

    def __init__(self, env: gym.Env, key: str = "is_success"):
        super().__init__(env)
        self._key = key

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or bool(info.get(self._key, False)), truncated, info
