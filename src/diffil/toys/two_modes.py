"""A two-mode toy expert: half the demonstrations pass an obstacle on the left, half on the right.

A point starts at (0, 0) and must reach (0, 4); a disc of radius 0.6 around (0, 2) blocks the
straight line. The expert picks a side at random per episode and steers through the waypoint
(-1, 2) or (1, 2). At the start both sides are equally likely, so a regression policy (MLP BC)
predicts their mean, straight ahead, and hits the obstacle; a diffusion or flow-matching policy
samples one of the modes and commits to it (reference 002, multimodality).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.generative.chunks import action_chunks
from diffil.generative.config import GenerativePolicyConfig
from diffil.generative.learner import ChunkModelLearner, fit
from diffil.generative.model import ActionChunkModel
from diffil.generative.policy import GenerativePolicy

START, GOAL, OBSTACLE, RADIUS = (0.0, 0.0), (0.0, 4.0), (0.0, 2.0), 0.6
DT, MAX_STEPS, GOAL_TOLERANCE = 0.1, 80, 0.2
MODES = ("left", "right", "blocked")


@dataclass
class TwoModeResult:
    """Fractions of rollouts per mode, and the rollouts' paths, for each policy."""

    fractions: dict[str, dict[str, float]] = field(default_factory=dict)
    paths: dict[str, list[np.ndarray]] = field(default_factory=dict)


def step(position: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Velocity control: the action (clipped to [-1, 1]^2) moves the point for DT."""
    return position + DT * np.clip(action, -1.0, 1.0)


def blocked(position: np.ndarray) -> bool:
    return bool(np.hypot(*(position - np.asarray(OBSTACLE))) < RADIUS)


def expert_action(position: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """Head for the side waypoint until level with the obstacle, then for the goal."""
    waypoint = np.array([side, OBSTACLE[1]]) if position[1] < OBSTACLE[1] else np.asarray(GOAL)
    direction = waypoint - position
    action = direction / max(np.linalg.norm(direction), 1e-6)
    return np.clip(action + rng.normal(0.0, 0.05, 2), -1.0, 1.0)


def expert_demonstrations(episodes: int = 100, seed: int = 0) -> TrajectoryDataset:
    """Expert episodes, alternating sides: exactly half left, half right."""
    rng = np.random.default_rng(seed)
    trajs = []
    for e in range(episodes):
        side = -1.0 if e % 2 == 0 else 1.0
        # every demonstration starts at exactly the same state: nothing but chance picks the
        # side, so no policy can tell the modes apart from the start state
        position = np.asarray(START, dtype=float)
        observations, actions = [position], []
        while len(actions) < MAX_STEPS and np.hypot(*(position - GOAL)) > GOAL_TOLERANCE:
            action = expert_action(position, side, rng)
            position = step(position, action)
            observations.append(position)
            actions.append(action)
        trajs.append(
            Trajectory(
                observations=np.asarray(observations),
                actions=np.asarray(actions, dtype=np.float32),
                terminations=np.eye(1, len(actions), len(actions) - 1, dtype=bool)[0],
            )
        )
    return TrajectoryDataset(trajs, metadata={"task": "two-modes toy"})


def mode_of(path: np.ndarray) -> str:
    """ "blocked" if the path entered the obstacle or never got past it, else its side."""
    if any(blocked(p) for p in path) or path[-1, 1] < OBSTACLE[1]:
        return "blocked"
    crossing = path[np.argmin(np.abs(path[:, 1] - OBSTACLE[1]))]
    return "left" if crossing[0] < 0 else "right"


def rollout_paths(policy: GenerativePolicy, episodes: int, seed: int = 0) -> list[np.ndarray]:
    """Run ``policy`` from the start (stopping at the obstacle or the goal)."""
    rng = np.random.default_rng(seed)
    paths = []
    for e in range(episodes):
        policy.reset(seed=seed + e)
        position = np.asarray(START) + rng.uniform(-0.01, 0.01, 2)
        path = [position]
        for _ in range(MAX_STEPS):
            position = step(position, policy(position))
            path.append(position)
            if blocked(position) or np.hypot(*(position - GOAL)) <= GOAL_TOLERANCE:
                break
        paths.append(np.asarray(path))
    return paths


def train_policy(
    objective: str,
    demos: TrajectoryDataset,
    steps: int = 2000,
    seed: int = 0,
    config: GenerativePolicyConfig | None = None,
) -> GenerativePolicy:
    """Fit ``objective`` ("regression", "diffusion" or "flow") on the toy demonstrations."""
    cfg = config or GenerativePolicyConfig(
        hidden=(256, 256), time_embed_dim=32, obs_horizon=1, action_horizon=8, exec_horizon=4,
        diffusion_steps=50, sample_steps=10, ema_decay=0.99,
    )  # fmt: skip
    if objective == "flow":
        cfg = GenerativePolicyConfig(**{**cfg.__dict__, "sampler": "euler"})
    torch.manual_seed(seed)
    obs, actions = action_chunks(demos, cfg.obs_horizon, cfg.action_horizon)
    model = ActionChunkModel(obs.shape[-1], actions.shape[-1], objective, cfg)
    transitions = demos.transitions()
    model.fit_normalization(transitions.obs, transitions.acts)
    learner = ChunkModelLearner(model, learning_rate=2e-3)
    fit(learner, torch.as_tensor(obs), torch.as_tensor(actions), steps, seed=seed)
    return learner.policy({"task": "two-modes toy", "objective": objective}, seed=seed)


def run_two_modes(
    steps: int = 2000, episodes: int = 50, seed: int = 0, out: Path | None = None
) -> TwoModeResult:
    """Train MLP BC, diffusion and flow policies on the toy; classify their rollouts by mode."""
    demos = expert_demonstrations(100, seed=seed)
    result = TwoModeResult()
    for name, objective in (("MLP BC", "regression"), ("diffusion", "diffusion"),
                            ("flow", "flow")):  # fmt: skip
        policy = train_policy(objective, demos, steps=steps, seed=seed)
        paths = rollout_paths(policy, episodes, seed=seed + 1)
        modes = [mode_of(p) for p in paths]
        result.paths[name] = paths
        result.fractions[name] = {m: modes.count(m) / len(modes) for m in MODES}
    if out is not None:
        plot_two_modes(result, demos, Path(out))
    return result


def plot_two_modes(result: TwoModeResult, demos: TrajectoryDataset, out: Path) -> Path:
    """Expert paths and each policy's rollouts, side by side, with the obstacle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"expert": [t.observations for t in demos], **result.paths}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), sharey=True)
    for ax, (name, paths) in zip(axes, panels.items(), strict=True):
        ax.add_patch(plt.Circle(OBSTACLE, RADIUS, color="0.6"))
        for path in paths:
            ax.plot(path[:, 0], path[:, 1], lw=0.8, alpha=0.6)
        title = name
        if name in result.fractions:
            f = result.fractions[name]
            title += f"\nL {f['left']:.0%} / R {f['right']:.0%} / blocked {f['blocked']:.0%}"
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-2, 2)
        ax.set_ylim(-0.3, 4.3)
        ax.set_aspect("equal")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
