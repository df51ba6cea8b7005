"""highway-env's ``merge-v0`` made usable with continuous actions (imports highway-env).

Two workarounds, for highway-env 1.12:

* its reward (and its step info, which evaluates the reward terms) tests ``action in [0, 2]``
  for a discrete lane-change action, which raises on a continuous action array: the lane-change
  term is computed as for no discrete action (continuous actions have none);
* it never ends on leaving the road: with ``offroad_terminal`` it does, as highway-v0 does.

Its missing time limit is added by :mod:`diffil.envs.driving` (a TimeLimit wrapper).
"""

from __future__ import annotations

from highway_env.envs.merge_env import MergeEnv


class ContinuousMergeEnv(MergeEnv):
    """``merge-v0`` whose reward accepts continuous actions and that may end off-road."""

    @classmethod
    def default_config(cls) -> dict:
        return {**super().default_config(), "offroad_terminal": False}

    def _rewards(self, action: object) -> dict[str, float]:
        return super()._rewards(None)  # no discrete lane-change action

    def _is_terminated(self) -> bool:
        off_road = self.config["offroad_terminal"] and not self.vehicle.on_road
        return super()._is_terminated() or off_road
