"""examples/deploy_onnx.py drives an environment from the ONNX export alone (no torch or diffil)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from diffil.algorithms.run import train
from diffil.envs import get_task
from diffil.eval.evaluate import evaluate_policy
from diffil.policy import Policy

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "deploy_onnx.py"
TINY_BC = {"num_demos": 10, "eval": {"every": 1024, "episodes": 1}, "bc": {"steps": 300}}
EPISODES, SEED = 4, 10_000


def test_onnx_deployment_matches_diffils_evaluation_without_torch(tmp_path):
    task = get_task("pointmaze-umaze")
    result = train("bc", task.name, out=tmp_path / "bc", overrides=TINY_BC, progress=False)
    policy = Policy.load(result.policy_path)
    onnx_path = policy.export_onnx(tmp_path / "policy.onnx")
    own = evaluate_policy(task, policy, EPISODES, seed=SEED)

    # -I (isolated): no PYTHONPATH, no current directory on sys.path; the script reports what
    # it imported
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [
        sys.executable,
        "-I",
        str(SCRIPT),
        str(onnx_path),
        "--env",
        task.env_id,
        "--max-steps",
        str(task.max_episode_steps),
        "--env-kwargs",
        json.dumps(dict(task.env_kwargs)),
        "--episodes",
        str(EPISODES),
        "--seed",
        str(SEED),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    deployed = json.loads(done.stdout.strip().splitlines()[-1])
    assert deployed["imported"] == {"torch": False, "diffil": False}
    # same policy, same environment, same seeds: the same outcomes (ONNX and torch agree to
    # float32 rounding, so at most one episode may tip the other way)
    assert abs(deployed["success_rate"] - own["success_rate"]) <= 1 / EPISODES + 1e-9
    assert abs(deployed["return_mean"] - own["return_mean"]) <= 1 / EPISODES + 1e-9
