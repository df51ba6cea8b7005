"""The scripted maze expert: a small sample of the >= 98% success benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from diffil.envs import get_task
from diffil.envs.maze import MazeLayout
from diffil.experts import MazeExpertConfig, MazeWaypointExpert
from diffil.experts.collect import collect_demonstrations


@pytest.mark.parametrize("task", ["pointmaze-umaze", "pointmaze-medium", "pointmaze-large"])
def test_scripted_expert_reaches_goals(task):
    demos = collect_demonstrations(task, episodes=20, seed=123)
    assert demos.statistics()["success_rate"] >= 0.95
    assert demos.metadata["expert"] == "maze-waypoint-pd"
    assert all(t.terminated for t in demos if t.success)  # episodes end on success


def test_waypoints_follow_shortest_path():
    layout = MazeLayout.from_env(get_task("pointmaze-umaze").make_env())
    expert = MazeWaypointExpert(layout)
    # U-maze: from the bottom-left cell to the top-left cell the path goes right, not up
    start, goal = layout.cell_to_xy((3, 1)), layout.cell_to_xy((1, 1))
    waypoint = expert.next_waypoint(start, goal)
    assert layout.xy_to_cell(waypoint) == (3, 2)
    assert expert.distances_to((1, 1))[(3, 1)] == 6


def test_action_noise_changes_actions_within_bounds():
    layout = MazeLayout.from_env(get_task("pointmaze-umaze").make_env())
    obs = np.array([-0.98, 1.01, 0.0, 0.0, -1.0, 1.0])  # next to the goal: unsaturated actions
    clean = MazeWaypointExpert(layout).act(obs)
    noisy = MazeWaypointExpert(layout, MazeExpertConfig(action_noise=0.5), seed=1).act(obs)
    assert not np.allclose(clean, noisy)
    assert np.all(np.abs(noisy) <= 1.0)
