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


def _draw(sample, *args, device: torch.device | str, generator: torch.Generator | None, **kw):
    """Call a torch sampling function on the generator's device, then move the result, so a
    CPU generator reproduces the same numbers whatever device the model is on."""
    if generator is None:
        return sample(*args, device=device, **kw)
    return sample(*args, generator=generator, device=generator.device, **kw).to(device)


def randn(
    shape: Sequence[int],
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Standard normal noise of ``shape`` on ``device``."""
    return _draw(torch.randn, tuple(shape), device=device, generator=generator, dtype=dtype)


def randint(
    high: int,
    shape: Sequence[int],
    *,
    device: torch.device | str,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Integers uniform in ``[0, high)`` of ``shape`` on ``device`` (dtype long)."""
    return _draw(torch.randint, 0, high, tuple(shape), device=device, generator=generator)


def rand(
    shape: Sequence[int],
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Uniform ``[0, 1)`` draws of ``shape`` on ``device``."""
    return _draw(torch.rand, tuple(shape), device=device, generator=generator, dtype=dtype)
