"""Shared diffusion core: schedules, embeddings, noise-prediction networks, the DDPM loss."""

from diffil.diffusion.embeddings import SinusoidalEmbedding, timestep_embedding
from diffil.diffusion.layers import build_mlp, make_activation
from diffil.diffusion.losses import noise_prediction_loss
from diffil.diffusion.networks import NoisePredictionMLP, NoisePredictor
from diffil.diffusion.rng import as_generator
from diffil.diffusion.schedules import SCHEDULE_NAMES, NoiseSchedule, extract, make_schedule

__all__ = [
    "SCHEDULE_NAMES",
    "NoisePredictionMLP",
    "NoisePredictor",
    "NoiseSchedule",
    "SinusoidalEmbedding",
    "as_generator",
    "build_mlp",
    "extract",
    "make_activation",
    "make_schedule",
    "noise_prediction_loss",
    "timestep_embedding",
]
