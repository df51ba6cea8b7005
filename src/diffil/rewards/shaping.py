"""AIRL's potential-based shaping and its policy term, shared by AIRL and DRAIL's shaped form.

AIRL (Fu et al., 2018) writes the discriminator as D = exp(f) / (exp(f) + pi(a|s)) with
f(s, a, s') = g(s, a) + gamma h(s') - h(s): a reward term g and a potential h whose shaping
gamma h(s') - h(s) leaves the optimal policy unchanged (Ng et al., 1999) and, summed along an
episode, telescopes to gamma^T h(s_T) - h(s_0), so a learner cannot farm it by looping. Its logit
is log D - log(1 - D) = f - log pi(a|s).
"""

from __future__ import annotations

from torch import Tensor, nn

from diffil.rewards.batch import TransitionBatch


def potential_shaping(h: nn.Module, batch: TransitionBatch, gamma: float) -> Tensor:
    """gamma (1 - done) h(s') - h(s), shape (B,); h(s') is 0 after a true termination."""
    if batch.next_obs is None:
        raise ValueError("potential shaping needs batch.next_obs")
    h_s = h(batch.obs).squeeze(-1)
    h_next = h(batch.next_obs).squeeze(-1)
    if batch.done is not None:
        h_next = h_next * (1.0 - batch.done.reshape(-1))
    return gamma * h_next - h_s


def minus_log_pi(f: Tensor, batch: TransitionBatch, obs_only: bool) -> Tensor:
    """AIRL's logit f - log pi(a|s); f itself when the batch has no ``log_prob`` (a frozen
    reward, or a batch scored outside training) or the model is obs-only (log pi would read the
    action)."""
    if batch.log_prob is None or obs_only:
        return f
    return f - batch.log_prob.reshape(-1)
