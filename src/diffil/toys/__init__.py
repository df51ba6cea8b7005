"""Small synthetic problems that illustrate how reward models behave."""

from diffil.toys.sine import run_sine_toy

__all__ = ["run_sine_toy"]
