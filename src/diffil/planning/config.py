"""Settings of the ``diffuser`` and ``diffuser-irl`` methods (the ``diffuser:`` section of a run's
config; Diffuser-IRL's own settings are the ``irl:`` section, a
:class:`~diffil.planning.irl.DiffuserIRLConfig`).

The defaults are the CPU sizes measured on pointmaze-umaze
(benchmarks/results/diffuser_irl_umaze_cpu.md); reference 004's sizes (Appendix C) are a
``--set`` away (docs/guides/diffuser.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from diffil.errors import DiffilError, require_positive


@dataclass(kw_only=True)
class DiffuserTrainingConfig:
    """Exploration data, the base Diffuser, its training and the re-planning planner.

    Attributes:
        explore_steps: steps of reward-agnostic exploration (``diffil collect --mode explore``).
        piece: the exploration run is cut into pieces of this many steps.
        action_noise: Gaussian action noise of the exploring controller.
        horizon, diffusion_steps, channels, time_embed_dim, kernel_size, clip, state_dims:
            the Diffuser's sizes (:class:`~diffil.planning.diffuser.DiffuserConfig`);
            ``state_dims`` None plans every observation dim (on mazes the goal too).
        steps, batch_size, lr: Adam steps on H-step windows of the exploration data.
        checkpoint_every: Diffuser steps between checkpoints (IRL checkpoints every epoch).
        plan_samples, replan_every, goal_inpaint: the planner (:class:`DiffuserPlanner`);
            ``goal_inpaint`` also fixes the plan's last state to "at rest on the goal".
        coverage_pieces: exploration pieces the learned reward's ERC is measured on.
    """

    explore_steps: int = 100_000
    piece: int = 300
    action_noise: float = 0.5
    horizon: int = 32
    diffusion_steps: int = 20
    channels: tuple[int, ...] = (32, 128, 256)
    time_embed_dim: int = 32
    kernel_size: int = 5
    clip: float | None = 1.0
    state_dims: tuple[int, ...] | None = None
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-4
    checkpoint_every: int = 500
    plan_samples: int = 1
    replan_every: int = 1
    goal_inpaint: bool = False
    coverage_pieces: int = 200

    def validate(self) -> None:
        require_positive(
            {
                f"diffuser.{name}": getattr(self, name)
                for name in (
                    "explore_steps", "piece", "horizon", "diffusion_steps", "steps",
                    "batch_size", "lr", "checkpoint_every", "plan_samples", "replan_every",
                    "coverage_pieces",
                )
            }
        )  # fmt: skip
        if self.piece < self.horizon:
            raise DiffilError(
                f"diffuser.piece ({self.piece}) is shorter than diffuser.horizon "
                f"({self.horizon}): no window fits in a piece",
                "raise diffuser.piece or lower diffuser.horizon",
            )
