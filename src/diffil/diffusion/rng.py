"""Random draws that honour an optional ``torch.Generator`` on any device.

A generator lives on one device; drawing on the generator's device and then moving the result
lets a CPU generator make a CUDA model's noise reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

GeneratorLike = torch.Generator | int | None


def as_generator(generator: GeneratorLike) -> torch.Generator | None:
    """Return ``generator`` unchanged, or a fresh CPU generator seeded with an int seed."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return torch.Generator().manual_seed(int(generator))


def randn(
    shape: Sequence[int],
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Standard normal noise of ``shape`` on ``device``."""
    if generator is None:
        return torch.randn(tuple(shape), device=device, dtype=dtype)
    out = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out.to(device)


def randint(
    high: int,
    shape: Sequence[int],
    *,
    device: torch.device | str,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Integers uniform in ``[0, high)`` of ``shape`` on ``device`` (dtype long)."""
    if generator is None:
        return torch.randint(0, high, tuple(shape), device=device)
    out = torch.randint(0, high, tuple(shape), generator=generator, device=generator.device)
    return out.to(device)


def rand(
    shape: Sequence[int],
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Uniform ``[0, 1)`` draws of ``shape`` on ``device``."""
    if generator is None:
        return torch.rand(tuple(shape), device=device, dtype=dtype)
    out = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out.to(device)
