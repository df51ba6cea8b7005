"""Planning with trajectory diffusion models: the Diffuser (reference 004, section 2.5.1) and
Diffuser-IRL (reference 004, Algorithm 4)."""

from diffil.planning.diffuser import (
    Diffuser,
    DiffuserConfig,
    PlanReturn,
    make_diffuser,
    train_diffuser,
)
from diffil.planning.irl import (
    DiffuserIRLConfig,
    DiffuserIRLResult,
    PlanReward,
    expert_windows,
    irl_step,
    mmd2,
    train_diffuser_irl,
    trajectory_distance,
)
from diffil.planning.planner import DiffuserPlanner, maze_goal_state

__all__ = [
    "Diffuser",
    "DiffuserConfig",
    "DiffuserIRLConfig",
    "DiffuserIRLResult",
    "DiffuserPlanner",
    "PlanReturn",
    "PlanReward",
    "expert_windows",
    "irl_step",
    "make_diffuser",
    "maze_goal_state",
    "mmd2",
    "train_diffuser",
    "train_diffuser_irl",
    "trajectory_distance",
]
