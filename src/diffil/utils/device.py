"""The torch device a command asked for, or a one-line error."""

from __future__ import annotations

import torch

from diffil.errors import DiffilError


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)``; CUDA without a GPU, or an unknown name, is a DiffilError."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DiffilError("CUDA was requested but no GPU is available", "use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DiffilError(f"unknown device {name!r}", "use cpu, cuda or cuda:N") from None
