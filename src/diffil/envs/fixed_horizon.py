"""Fixed-horizon training environments for imitation on tasks that end early on failure.

Hopper, Walker2d and Ant end an episode when the robot falls. With a learned reward that is
a bias: if the reward is mostly negative (a zero-mean, normalised reward such as SMILING's, or
log D - log(1 - D) early in training), falling ends the penalties and the agent learns to fall
at once; if it is mostly positive, staying alive pays whatever the robot does. The usual remedy
(the `seals` environments of the `imitation` library) is to train on episodes that run the full
time limit, so the learned reward alone has to say that lying on the ground is unlike the
expert. Evaluation environments keep the task's own terminations, so returns stay comparable.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class FixedHorizon(gym.Wrapper):
    """Episodes end only at the time limit: ``terminated`` is always False.

    A step that would have terminated carries ``info["would_terminate"] = True``.
    """

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated:
            info = {**info, "would_terminate": True}
        return obs, reward, False, truncated, info
