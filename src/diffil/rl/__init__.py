"""RL backbones (Stable-Baselines3) and the plumbing that feeds them learned rewards."""

from __future__ import annotations

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger


def silence_sb3_logger(model: BaseAlgorithm) -> None:
    """Give ``model`` a logger without outputs before ``learn``.

    diffil writes its own metrics; without this, every ``learn`` call makes SB3 create an empty
    ``SB3-<date>`` folder in the system's temporary directory. Values SB3 records stay readable
    in ``model.logger.name_to_value``.
    """
    model.set_logger(Logger(folder=None, output_formats=[]))
