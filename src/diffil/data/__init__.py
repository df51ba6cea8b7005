"""Demonstrations: trajectories, datasets, file formats, validation and collection."""

from diffil.data.io import dataset_format, load_dataset, save_dataset
from diffil.data.trajectory import Trajectory, TrajectoryDataset, Transitions, Windows
from diffil.data.validation import validate_dataset

__all__ = [
    "Trajectory",
    "TrajectoryDataset",
    "Transitions",
    "Windows",
    "dataset_format",
    "load_dataset",
    "save_dataset",
    "validate_dataset",
]
