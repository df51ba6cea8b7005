"""diffil: diffusion-based imitation learning and inverse RL, with classic baselines.

The Python API mirrors the ``diffil`` command::

    import diffil
    demos = diffil.collect("pointmaze-umaze", episodes=100, out="demos.hdf5")
    diffil.load_dataset("demos.hdf5").transitions()
"""

from diffil.api import collect, dataset_info, plot, quickstart
from diffil.data import Trajectory, TrajectoryDataset, load_dataset, save_dataset, validate_dataset
from diffil.envs import TaskSpec, get_task, list_tasks
from diffil.errors import DiffilError

__version__ = "0.1.0"

__all__ = [
    "DiffilError",
    "TaskSpec",
    "Trajectory",
    "TrajectoryDataset",
    "__version__",
    "collect",
    "dataset_info",
    "get_task",
    "list_tasks",
    "load_dataset",
    "plot",
    "quickstart",
    "save_dataset",
    "validate_dataset",
]
