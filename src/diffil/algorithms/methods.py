"""Methods by name. An adversarial method is a reward model plus defaults, never its own loop."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from diffil.errors import DiffilError


@dataclass(frozen=True)
class Method:
    name: str
    # "adversarial", "score-matching": reward model + RL; "bc", "generative": offline;
    # "rl": the task's true reward; "planner": a Diffuser on exploration data, "planner-irl" the
    # same plus Diffuser-IRL's reward learned from the demonstrations
    kind: str
    reward_model: str | None
    description: str
    objective: str | None = None  # generative policies: "diffusion" or "flow"

    @property
    def offline(self) -> bool:
        """No RL backbone: trains on the demonstrations (planners: and exploration data)."""
        return self.kind in ("bc", "generative", "planner", "planner-irl")

    @property
    def uses_demos(self) -> bool:
        return self.kind not in ("rl", "planner")

    @property
    def plans(self) -> bool:
        """Acts by re-planning with a Diffuser (no policy network)."""
        return self.kind in ("planner", "planner-irl")

    @property
    def learns_reward(self) -> bool:
        """Leaves a learned reward in its run directory (for --reward and reward-eval)."""
        return self.reward_model is not None or self.kind == "planner-irl"


METHODS = {
    m.name: m
    for m in (
        Method("drail", "adversarial", "drail", "diffusion discriminative classifier (ref. 000)"),
        Method("diffail", "adversarial", "diffail", "unconditional diffusion loss, D = exp(-L)"),
        Method("gail", "adversarial", "gail", "MLP discriminator"),
        Method("airl", "adversarial", "airl", "g(s,a) + gamma h(s') - h(s) discriminator"),
        Method("wail", "adversarial", "wail", "Wasserstein critic with gradient penalty"),
        Method(
            "smiling",
            "score-matching",
            "smiling",
            "score matching: learner - expert denoising error (ref. 001; SAC by default)",
        ),
        Method("bc", "bc", None, "behaviour cloning with the same policy network"),
        Method(
            "diffusion-policy",
            "generative",
            None,
            "DDPM on action chunks, DDIM/DDPM/Langevin sampling (ref. 002)",
            "diffusion",
        ),
        Method(
            "flow-policy",
            "generative",
            None,
            "conditional flow matching on action chunks, Euler/midpoint (ref. 002)",
            "flow",
        ),
        Method(
            "diffuser",
            "planner",
            None,
            "Diffuser on reward-agnostic exploration data, re-planning (ref. 004; mazes)",
        ),
        Method(
            "diffuser-irl",
            "planner-irl",
            None,
            "Diffuser-IRL: the reward that guides a frozen Diffuser onto the demos (ref. 004)",
        ),
        Method("ppo", "rl", None, "PPO on the true reward (reference for cost, not imitation)"),
        Method("sac", "rl", None, "SAC on the true reward (the off-policy reference)"),
    )
}


def get_method(name: str) -> Method:
    if name in METHODS:
        return METHODS[name]
    close = difflib.get_close_matches(name, METHODS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise DiffilError(f"unknown method {name!r}", f"{hint}known methods: {', '.join(METHODS)}")
