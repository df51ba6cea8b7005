"""A downstream application: drive a gymnasium environment with an exported diffil policy.

Only onnxruntime, numpy and gymnasium (+ the package that registers the environment) are used:
neither torch nor diffil is imported, so this is what a deployment needs::

    diffil export runs/bc-pointmaze-umaze-s0 --format onnx      # -> .../policy.onnx
    python examples/deploy_onnx.py runs/bc-pointmaze-umaze-s0/policy.onnx \\
        --env PointMaze_UMaze-v3 --max-steps 300 \\
        --env-kwargs '{"continuing_task": false, "reward_type": "sparse"}'

The exported model maps a batch of flat float32 observations ``obs`` (N, obs_dim) to actions
``action`` (N, act_dim); any observation normalisation is inside it. What diffil's task adds
around the environment is reproduced here:

* the environment as the task makes it: its id, time limit and arguments (``diffil tasks`` and
  docs/tasks.md give them; a policy trained on a noise variant also needs that reset noise);
* flat observations: a goal dict ``{observation, achieved_goal, desired_goal}`` becomes
  ``(observation..., desired_goal...)``, any other dict of boxes the concatenation of its
  entries in the space's key order, an array of several dimensions is raveled;
* success: ``info["success"]`` raised at any step, else ``info["is_success"]`` on the last step
  (as diffil's mazes and fetch-push count it).

Episodes follow ``diffil eval``'s protocol: the environment is seeded once, with ``--seed``
(10000 by default), at the first reset. Prints one JSON line with the results and whether torch
or diffil was imported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import onnxruntime

GOAL_KEYS = ("observation", "desired_goal")


def flatten(observation: Any, space: gym.Space) -> np.ndarray:
    """The flat observation vector diffil's policies read."""
    if isinstance(observation, dict):
        keys = GOAL_KEYS if all(k in observation for k in GOAL_KEYS) else list(space.spaces)
        parts = [observation[key] for key in keys]  # the space's key order, not the dict's
        return np.concatenate([np.ravel(p) for p in parts]).astype(np.float32)
    return np.ravel(np.asarray(observation, dtype=np.float32))


def run_episode(env: gym.Env, session: onnxruntime.InferenceSession, seed: int | None):
    """(return, success) of one episode."""
    observation, _ = env.reset(seed=seed)
    total, raised, done, info = 0.0, False, False, {}
    while not done:
        obs = flatten(observation, env.observation_space)[None, :]
        action = session.run(["action"], {"obs": obs})[0][0]
        observation, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        raised = raised or bool(info.get("success", False))
        done = terminated or truncated
    success = raised if "success" in info else bool(info.get("is_success", False))
    return total, success


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", help="policy.onnx written by `diffil export --format onnx`")
    parser.add_argument("--env", required=True, help="gymnasium id, e.g. PointMaze_UMaze-v3")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--max-steps", type=int, default=None, help="the task's horizon")
    parser.add_argument("--env-kwargs", default="{}", help="JSON arguments of gym.make")
    parser.add_argument(
        "--register",
        default="gymnasium_robotics",
        help="module whose import registers the environment ('' for none)",
    )
    args = parser.parse_args(argv)

    if args.register:
        module = importlib.import_module(args.register)
        if args.register == "gymnasium_robotics":
            gym.register_envs(module)
    env = gym.make(args.env, max_episode_steps=args.max_steps, **json.loads(args.env_kwargs))
    env.action_space.seed(args.seed)
    session = onnxruntime.InferenceSession(args.policy, providers=["CPUExecutionProvider"])
    returns, successes = [], []
    for episode in range(args.episodes):
        total, success = run_episode(env, session, args.seed if episode == 0 else None)
        returns.append(total)
        successes.append(success)
    env.close()
    result = {
        "episodes": args.episodes,
        "success_rate": float(np.mean(successes)),
        "return_mean": float(np.mean(returns)),
        "successes": successes,
        "returns": returns,
        "imported": {name: name in sys.modules for name in ("torch", "diffil")},
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
