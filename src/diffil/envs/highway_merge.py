"""highway-env's ``merge-v0`` made usable with continuous actions (imports highway-env).

Two workarounds and one change of meaning, for highway-env 1.12:

* its reward (and its step info, which evaluates the reward terms) tests ``action in [0, 2]``
  for a discrete lane-change action, which raises on a continuous action array: the lane-change
  term is computed as for no discrete action (continuous actions have none);
* it never ends on leaving the road: with ``offroad_terminal`` it does, as highway-v0 does;
* passing the end of the road (x > 370 m) *truncates* the episode instead of terminating it, and
  the step's info says ``road_end``. The road's end is where the simulation stops, not a state
  the car stays in: only a crash or leaving the road terminates. A learner then bootstraps its
  value through the road's end as through a time limit, and with absorbing states
  (``reward.absorbing``) a crash no longer shares its absorbing state with a finished drive,
  which the demonstrations (all of them finished) had taught the reward to prize.

Its missing time limit is added by :mod:`diffil.envs.driving` (a TimeLimit wrapper).
"""

from __future__ import annotations

from highway_env.envs.merge_env import MergeEnv

ROAD_END_X = 370.0  # m: where merge-v0's own _is_terminated ends the episode


class ContinuousMergeEnv(MergeEnv):
    """``merge-v0`` whose reward accepts continuous actions and that may end off-road."""

    @classmethod
    def default_config(cls) -> dict:
        return {**super().default_config(), "offroad_terminal": False}

    def _rewards(self, action: object) -> dict[str, float]:
        return super()._rewards(None)  # no discrete lane-change action

    def _past_road_end(self) -> bool:
        return bool(self.vehicle.position[0] > ROAD_END_X)

    def _is_terminated(self) -> bool:
        off_road = self.config["offroad_terminal"] and not self.vehicle.on_road
        return bool(self.vehicle.crashed) or off_road

    def _is_truncated(self) -> bool:
        return self._past_road_end()

    def _info(self, obs: object, action: object | None = None) -> dict:
        return {**super()._info(obs, action), "road_end": self._past_road_end()}
