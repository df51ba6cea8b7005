"""Small building blocks shared by diffusion networks and reward models."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "mish": nn.Mish,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    """Instantiate an activation by name (``mish``, ``silu``, ``relu``, ``tanh``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; valid names: {valid}") from None


def build_mlp(
    in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256), activation: str = "mish"
) -> nn.Sequential:
    """Plain MLP: Linear + activation per hidden width, then a linear output layer."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), make_activation(activation)]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)
