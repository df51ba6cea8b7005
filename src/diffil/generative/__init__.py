"""Generative action-chunk policies: diffusion policy, flow-matching policy (reference 002)."""

from diffil.generative.chunks import action_chunks
from diffil.generative.config import GenerativePolicyConfig
from diffil.generative.model import ActionChunkModel
from diffil.generative.policy import GenerativePolicy

__all__ = ["ActionChunkModel", "GenerativePolicy", "GenerativePolicyConfig", "action_chunks"]
