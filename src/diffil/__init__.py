"""diffil: diffusion-based imitation learning and inverse RL, with classic baselines.

The Python API mirrors the ``diffil`` command::

    import diffil
    demos = diffil.collect("pointmaze-umaze", episodes=100, out="demos.hdf5")
    result = diffil.train("drail", "pointmaze-umaze", demos="demos.hdf5", out="runs/drail")
    policy = diffil.Policy.load(result.policy_path)
    action = policy.predict(observation)

Any gymnasium environment is a task too (``"gym:Pendulum-v1"``), and :func:`register_task`
adds one built by your own code; see docs/bring-your-own.md.
"""

from diffil.algorithms.run import train
from diffil.api import augment, collect, compare, dataset_info, plot, quickstart, train_expert
from diffil.data import Trajectory, TrajectoryDataset, load_dataset, save_dataset, validate_dataset
from diffil.envs import ReferenceScores, TaskSpec, get_task, list_tasks, register_task
from diffil.errors import DiffilError
from diffil.experts import load_expert
from diffil.policy import Policy

__version__ = "0.1.0"

__all__ = [
    "DiffilError",
    "Policy",
    "ReferenceScores",
    "TaskSpec",
    "Trajectory",
    "TrajectoryDataset",
    "__version__",
    "augment",
    "collect",
    "compare",
    "dataset_info",
    "get_task",
    "list_tasks",
    "load_dataset",
    "load_expert",
    "plot",
    "quickstart",
    "register_task",
    "save_dataset",
    "train",
    "train_expert",
    "validate_dataset",
]
