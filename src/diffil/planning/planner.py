"""Executing a Diffuser by re-planning: plan from the current state, take the first action.

The plan's state is the observation's ``state_dims`` (the Diffuser's config; all of the flat
observation by default). On PointMaze the flat observation is ``(x, y, vx, vy, gx, gy)``, so by
default the goal is part of every planned state: it is inpainted at step 0 with the rest of the
start state, and a Diffuser trained on exploration data (whose goal part is the explorer's
current target, see :func:`diffil.experts.collect.collect_exploration`) plans towards it. Passing
``goal=maze_goal_state`` also inpaints "at rest on the goal" into the last step, as Janner et
al. do on maze2d; with ``state_dims=(0, 1, 2, 3)`` the plan leaves the goal out entirely and only
inpainting or a reward guide steers it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from diffil.planning.diffuser import Diffuser, PlanReturn

GoalFn = Callable[[np.ndarray], np.ndarray]


def maze_goal_state(obs: np.ndarray, state_dims: Sequence[int] | None = None) -> np.ndarray:
    """PointMaze: the state "at rest on the goal", ``(gx, gy, 0, 0, gx, gy)``, cut to
    ``state_dims``."""
    obs = np.asarray(obs, dtype=np.float64)
    goal = obs[..., 4:6]
    full = np.concatenate([goal, np.zeros_like(goal), goal], axis=-1)
    return full if state_dims is None else full[..., list(state_dims)]


class DiffuserPlanner:
    """A policy (flat observation -> action) that plans with a :class:`Diffuser`.

    Every ``replan_every`` steps (1: every step) it samples ``num_samples`` plans from the
    current state, guided by ``guide`` with ``scale`` if given, keeps the one with the highest
    guide return (the first without a guide) and executes its actions in order until the next
    re-plan. Actions are clipped to the training data's action range. ``goal`` maps an
    observation to a state to inpaint at the plan's last step.
    """

    name = "diffuser-planner"

    def __init__(
        self,
        diffuser: Diffuser,
        *,
        guide: PlanReturn | None = None,
        scale: float = 0.1,
        num_samples: int = 1,
        goal: GoalFn | None = None,
        replan_every: int = 1,
        seed: int = 0,
    ) -> None:
        if num_samples < 1 or replan_every < 1:
            raise ValueError("num_samples and replan_every must be >= 1")
        self.diffuser = diffuser.eval()
        self.guide, self.scale = guide, scale
        self.num_samples, self.goal, self.replan_every = num_samples, goal, replan_every
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._plan: np.ndarray | None = None
        self._step = 0

    def reset(self) -> None:
        """Forget the current plan (called at the start of every episode)."""
        self._plan, self._step = None, 0

    def plan(self, observations: np.ndarray) -> np.ndarray:
        """The chosen plan (N, H, S + A) for each observation (N, obs_dim), env units."""
        d = self.diffuser
        obs = np.atleast_2d(np.asarray(observations, dtype=np.float64))
        index = d.state_index.cpu().numpy()
        start = torch.as_tensor(obs[:, index], dtype=torch.float32, device=d.center.device)
        start = start.repeat_interleave(self.num_samples, dim=0)
        goal = None
        if self.goal is not None:
            goal_np = np.stack([np.asarray(self.goal(o), dtype=np.float32) for o in obs])
            goal = torch.as_tensor(goal_np, device=d.center.device)
            goal = goal.repeat_interleave(self.num_samples, dim=0)
        plans = d.sample(start, goal, guide=self.guide, scale=self.scale, generator=self.generator)
        plans = plans.reshape(len(obs), self.num_samples, *plans.shape[1:])
        if self.guide is not None and self.num_samples > 1:
            with torch.no_grad():
                returns = self.guide(plans.flatten(0, 1)).reshape(len(obs), self.num_samples)
            best = returns.argmax(dim=1)
        else:
            best = torch.zeros(len(obs), dtype=torch.long, device=plans.device)
        chosen = plans[torch.arange(len(obs), device=plans.device), best]
        return chosen.detach().cpu().numpy()

    def _clip(self, actions: np.ndarray) -> np.ndarray:
        low, high = (b.cpu().numpy() for b in self.diffuser.action_bounds)
        return np.clip(actions, low, high).astype(np.float32)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        """Action (A,) for one observation, or (N, A) for a batch (re-planned every call)."""
        observation = np.asarray(observation)
        s = self.diffuser.state_dim
        if observation.ndim > 1:
            return self._clip(self.plan(observation)[:, 0, s:])
        horizon = self.diffuser.horizon
        offset = self._step % self.replan_every
        if self._plan is None or offset == 0 or offset >= horizon:
            self._plan = self.plan(observation)[0]
            self._step, offset = 0, 0
        self._step += 1
        return self._clip(self._plan[offset, s:])
