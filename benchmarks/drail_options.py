"""The effect of DRAIL's two estimator options: the same (t, eps) for the c+ and c- losses of a
pair (``shared_noise``), and an average of L_diff over k (t, eps) draws (``num_draws``).

    python -m benchmarks.drail_options [--updates 600] [--seeds 3] [--repeats 64]

DRAIL (reference 000, [0036]-[0038]) scores a pair (s, a) with the logit
L_diff(s, a, c-) - L_diff(s, a, c+), each L_diff estimated with one denoising step at a random
(t, eps). On pointmaze-umaze, against two weak agents (uniform random actions, and the scripted
expert with action_noise=1.0), this measures:

1. estimator noise: the std of the logit over repeated estimates of the same held-out pair, for a
   model trained with k=1 (one model per shared_noise setting), scored with k = 1, 4, 16;
2. learning: held-out accuracy 0.5 * (acc_expert + acc_agent) of fresh models trained with each
   setting (the option applies in training too), median over seeds;
3. cost: milliseconds per update and (s, a) pairs scored per second.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmarks.report import write_result
from diffil.algorithms.config import resolve_config
from diffil.algorithms.trainer import ObservationScaler
from diffil.data.collect import rollout
from diffil.data.trajectory import TrajectoryDataset, Transitions
from diffil.envs.registry import get_task
from diffil.experts import make_expert
from diffil.experts.collect import collect_demonstrations
from diffil.rewards import DrailRewardModel, TransitionBatch, make_reward_model
from diffil.rewards.discriminator import reward_from_logits

TASK = "pointmaze-umaze"
EXPERT_EPISODES = 100  # collect_demonstrations(TASK, 100, seed=1)
EXPERT_SEED = 1
RANDOM_EPISODES = 25
NOISY_EXPERT_EPISODES = 100
NOISY_EXPERT_ACTION_NOISE = 1.0
HELD_OUT_FRACTION = 0.2  # the last 20% of each source's episodes are held out
BATCH_SIZE = 256  # per side, as in the DRAIL preset
CHECKPOINTS = (100, 300, 600)  # updates at which held-out accuracy is reported
SHARED_NOISE = (True, False)
RANDOM, NOISY = "random actions", "noisy expert"  # the two agents
# num_draws settings trained from scratch, per agent. The noisy expert is trained with k=1 only
# (its k=4 runs would add about half to the runtime, and no setting separated it from the expert
# in 600 updates; its k=1 models are the ones part 1 needs).
LEARNING_DRAWS = {RANDOM: (1, 4), NOISY: (1,)}
EXPECTED_DRAWS = 16  # the final accuracy is also taken on this many averaged draws
NOISE_DRAWS = (1, 4, 16)  # num_draws settings whose estimator noise is measured
NOISE_PAIRS = 512  # held-out pairs (half expert, half agent) re-estimated --repeats times
SCORE_BATCH = 4096  # pairs per reward() call when timing scoring
SCORE_REPEATS = 5


# ---- data ------------------------------------------------------------------------------------


@dataclass
class Source:
    """Transitions of one behaviour, split by episode into training and held-out parts."""

    train: Transitions
    test: Transitions


def split_episodes(trajectories: list) -> Source:
    n_test = max(1, round(HELD_OUT_FRACTION * len(trajectories)))
    return Source(
        train=TrajectoryDataset(trajectories[:-n_test]).transitions(),
        test=TrajectoryDataset(trajectories[-n_test:]).transitions(),
    )


def random_policy(seed: int) -> Callable[[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, size=2).astype(np.float32)


def load_data() -> tuple[Source, dict[str, Source]]:
    """The expert demonstrations and the two weak agents' rollouts."""
    task = get_task(TASK)
    demos = collect_demonstrations(TASK, EXPERT_EPISODES, seed=EXPERT_SEED)
    noisy = make_expert(task, seed=20, action_noise=NOISY_EXPERT_ACTION_NOISE)
    agents = {
        RANDOM: rollout(task, random_policy(10), RANDOM_EPISODES, seed=10),
        NOISY: rollout(task, noisy, NOISY_EXPERT_EPISODES, seed=20),
    }
    return split_episodes(list(demos)), {k: split_episodes(v) for k, v in agents.items()}


def describe(name: str, source: Source) -> dict[str, Any]:
    """Sizes, and how often the actions sit at the +-1 bounds."""
    acts = np.concatenate([source.train.acts, source.test.acts])
    return {
        "name": name,
        "transitions": [len(source.train), len(source.test)],
        "saturated_action_fraction": float(np.mean(np.abs(acts) >= 0.999)),
    }


def to_batch(data: Transitions, scaler: ObservationScaler) -> TransitionBatch:
    """Observations standardised with the expert statistics, as the trainer feeds the model."""
    return TransitionBatch.from_numpy(
        scaler(data.obs), data.acts, scaler(data.next_obs), data.dones.astype(np.float32)
    )


# ---- models and estimates --------------------------------------------------------------------


@functools.cache
def drail_preset() -> dict[str, Any]:
    """The DRAIL preset's reward-model options, read once so that one run uses one preset."""
    return dict(resolve_config("drail", TASK).reward.model)


def make_model(shared_noise: bool, num_draws: int) -> DrailRewardModel:
    """The DRAIL preset's reward model with the two options set."""
    config = {**drail_preset(), "shared_noise": shared_noise, "num_draws": num_draws}
    task = get_task(TASK)
    return make_reward_model("drail", task.obs_dim, task.act_dim, config)


def with_estimator(model: DrailRewardModel, shared_noise: bool, num_draws: int) -> DrailRewardModel:
    """A copy of ``model``'s weights that estimates with the given options."""
    config = dataclasses.replace(model.config, shared_noise=shared_noise, num_draws=num_draws)
    copy = make_reward_model("drail", model.obs_dim, model.act_dim, config)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def estimate(model: DrailRewardModel, batch: TransitionBatch, seed: int) -> torch.Tensor:
    """One estimate of the logit log D - log(1 - D) of every pair, with noise from ``seed``."""
    with torch.no_grad():
        return model.logits(batch, generator=torch.Generator().manual_seed(seed))


def accuracy(logit_e: torch.Tensor, logit_a: torch.Tensor) -> float:
    """0.5 * (acc_expert + acc_agent), expert meaning logit > 0."""
    return 0.5 * float((logit_e > 0).float().mean() + (logit_a <= 0).float().mean())


def held_out_accuracy(model: DrailRewardModel, test_e, test_a, seed: int) -> float:
    return accuracy(estimate(model, test_e, seed), estimate(model, test_a, seed + 1))


# ---- 2. learning -----------------------------------------------------------------------------


def train(
    shared_noise: bool,
    num_draws: int,
    expert: Source,
    agent: Source,
    scaler: ObservationScaler,
    updates: int,
    seed: int,
) -> tuple[DrailRewardModel, dict[str, float], float]:
    """A fresh model trained with the setting.

    Returns the model; held-out accuracy at each checkpoint (one estimate per pair with the
    setting's own estimator) and, under ``"expected"``, at the end with EXPECTED_DRAWS averaged
    draws; and the seconds spent in ``update()`` per update.
    """
    torch.manual_seed(seed)  # the same initial weights for every setting of a seed
    rng = np.random.default_rng(seed)
    model = make_model(shared_noise, num_draws)
    test_e, test_a = to_batch(expert.test, scaler), to_batch(agent.test, scaler)
    accs, seconds = {}, 0.0
    for step in range(1, updates + 1):
        batch_e = to_batch(expert.train.sample(BATCH_SIZE, rng), scaler)
        batch_a = to_batch(agent.train.sample(BATCH_SIZE, rng), scaler)
        start = time.perf_counter()
        model.update(batch_e, batch_a)
        seconds += time.perf_counter() - start
        if step in CHECKPOINTS or step == updates:
            accs[str(step)] = held_out_accuracy(model, test_e, test_a, seed)
    expected = with_estimator(model, shared_noise, EXPECTED_DRAWS)
    accs["expected"] = held_out_accuracy(expected, test_e, test_a, seed)
    return model, accs, seconds / updates


def run_learning(expert, agents, scaler, args) -> tuple[list[dict], dict, dict]:
    """Every learning run; returns the rows, the k=1 seed-0 models (reused by part 1) and the
    seconds per update of each setting."""
    rows, noise_models, step_seconds = [], {}, {}
    for agent_name, agent in agents.items():
        for shared in SHARED_NOISE:
            for draws in LEARNING_DRAWS[agent_name]:
                accs: dict[str, list[float]] = {}
                for seed in range(args.seeds):
                    model, acc, sec = train(
                        shared, draws, expert, agent, scaler, args.updates, seed
                    )
                    for key, value in acc.items():
                        accs.setdefault(key, []).append(value)
                    step_seconds.setdefault((shared, draws), []).append(sec)
                    if draws == 1 and seed == 0:
                        noise_models[(agent_name, shared)] = model
                row = {"agent": agent_name, "shared_noise": shared, "num_draws": draws}
                rows.append({**row, "accuracy": accs})
                print(row, {k: f"{statistics.median(v):.3f}" for k, v in accs.items()}, flush=True)
    return rows, noise_models, step_seconds


# ---- 1. estimator noise ----------------------------------------------------------------------


def estimator_noise(
    model: DrailRewardModel, pairs_e: TransitionBatch, pairs_a: TransitionBatch, repeats: int
) -> dict[str, float]:
    """Spread of repeated estimates of the same pairs' logits (and rewards)."""
    logits = torch.stack(
        [
            torch.cat([estimate(model, pairs_e, 2 * r), estimate(model, pairs_a, 2 * r + 1)])
            for r in range(repeats)
        ]
    )  # (repeats, pairs)
    rewards = reward_from_logits(logits, model.config.reward_type, model.config.max_logit)
    n_e = len(pairs_e)
    mean = logits.mean(dim=0)
    # spread across pairs of the expected logit: the variance of the per-pair means less the
    # part of it that is estimator noise (noise variance / repeats)
    signal_var = mean.var() - logits.var(dim=0).mean() / repeats
    return {
        "logit_noise_std": float(logits.std(dim=0).mean()),
        "reward_noise_std": float(rewards.std(dim=0).mean()),
        "signal_std": float(signal_var.clamp(min=0).sqrt()),
        "acc_single": statistics.fmean(accuracy(row[:n_e], row[n_e:]) for row in logits),
        "acc_mean_of_repeats": accuracy(mean[:n_e], mean[n_e:]),
    }


def held_out_pairs(expert: Source, agent: Source, scaler: ObservationScaler):
    """NOISE_PAIRS held-out pairs, half expert and half agent, drawn once."""
    rng = np.random.default_rng(0)
    half = NOISE_PAIRS // 2
    return (
        to_batch(expert.test.sample(half, rng), scaler),
        to_batch(agent.test.sample(half, rng), scaler),
    )


def run_noise(expert, agents, scaler, noise_models, repeats: int) -> list[dict]:
    """Each k=1 model scored with its own (t, eps) setting and k = NOISE_DRAWS, and with the
    other (t, eps) setting at k=1."""
    rows = []
    for agent_name, agent in agents.items():
        pairs_e, pairs_a = held_out_pairs(expert, agent, scaler)
        for trained_shared in SHARED_NOISE:
            trained = noise_models[(agent_name, trained_shared)]
            settings = [(trained_shared, k) for k in NOISE_DRAWS] + [(not trained_shared, 1)]
            for shared, draws in settings:
                stats = estimator_noise(
                    with_estimator(trained, shared, draws), pairs_e, pairs_a, repeats
                )
                row = {
                    "agent": agent_name,
                    "trained_shared_noise": trained_shared,
                    "shared_noise": shared,
                    "num_draws": draws,
                }
                rows.append({**row, **stats})
                print(row, {k: round(v, 3) for k, v in stats.items()}, flush=True)
    return rows


# ---- 3. cost ---------------------------------------------------------------------------------


def scoring_rate(shared_noise: bool, num_draws: int) -> float:
    """Median (s, a) pairs per second of ``reward()`` on one SCORE_BATCH batch."""
    model = make_model(shared_noise, num_draws).eval()
    batch = TransitionBatch(
        torch.randn(SCORE_BATCH, model.obs_dim),
        torch.rand(SCORE_BATCH, model.act_dim) * 2 - 1,
        torch.randn(SCORE_BATCH, model.obs_dim),
    )
    model.reward(batch, generator=0)  # warm-up
    rates = []
    for r in range(SCORE_REPEATS):
        start = time.perf_counter()
        model.reward(batch, generator=r)
        rates.append(SCORE_BATCH / (time.perf_counter() - start))
    return statistics.median(rates)


def run_cost(step_seconds: dict) -> list[dict]:
    rows = []
    for shared in SHARED_NOISE:
        for draws in NOISE_DRAWS:
            secs = step_seconds.get((shared, draws))
            row = {
                "shared_noise": shared,
                "num_draws": draws,
                "seconds_per_update": statistics.median(secs) if secs else None,
                "pairs_per_second": scoring_rate(shared, draws),
            }
            rows.append(row)
            print(row, flush=True)
    return rows


# ---- report ----------------------------------------------------------------------------------


def noise_t(flag: bool) -> str:
    return "same" if flag else "independent"


def med(values: list[float]) -> float:
    return statistics.median(values)


def fmt_range(values: list[float]) -> str:
    return f"{med(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def make_table(data: dict, args: argparse.Namespace, checkpoints: list[str]) -> str:
    own = [n for n in data["noise"] if n["trained_shared_noise"] == n["shared_noise"]]
    noise_rows = [
        f"| {n['agent']} | {noise_t(n['shared_noise'])} | {n['num_draws']} | "
        f"{n['logit_noise_std']:.3f} | {n['reward_noise_std']:.3f} | {n['signal_std']:.3f} | "
        f"{noise_to_signal(n):.2f} | {n['acc_single']:.3f} | "
        f"{n['acc_mean_of_repeats']:.3f} |"
        for n in own
    ]
    swap_rows = [
        f"| {n['agent']} | {noise_t(n['trained_shared_noise'])} | {noise_t(n['shared_noise'])} | "
        f"{n['logit_noise_std']:.3f} | {n['reward_noise_std']:.3f} | {n['acc_single']:.3f} |"
        for n in data["noise"]
        if n["num_draws"] == 1
    ]
    learn_rows = [
        f"| {r['agent']} | {noise_t(r['shared_noise'])} | {r['num_draws']} | "
        + " | ".join(fmt_range(r["accuracy"][c]) for c in [*checkpoints, "expected"])
        + " |"
        for r in data["learning"]
    ]
    cost_rows = [
        f"| {noise_t(c['shared_noise'])} | {c['num_draws']} | "
        + (f"{c['seconds_per_update'] * 1e3:.1f}" if c["seconds_per_update"] else "-")
        + f" | {c['pairs_per_second']:,.0f} |"
        for c in data["cost"]
    ]
    preset = ", ".join(f"{k}={v}" for k, v in data["preset"].items())
    sizes = ", ".join(
        f"{d['name']} {d['transitions'][0]} / {d['transitions'][1]}" for d in data["sources"]
    )
    return "\n".join(
        [
            f"Task {TASK}. Expert: {EXPERT_EPISODES} scripted-expert episodes (seed "
            f"{EXPERT_SEED}). Agents: uniform random actions ({RANDOM_EPISODES} episodes), and "
            f"the scripted expert with action_noise={NOISY_EXPERT_ACTION_NOISE} "
            f"({NOISY_EXPERT_EPISODES} episodes). The last 20% of each source's episodes are "
            f"held out; transitions (train / held-out): {sizes}. Observations standardised with "
            f"the expert mean/std. DRAIL preset reward model: {preset}; batch "
            f"{BATCH_SIZE} per side, {data['torch_threads']} torch thread. (t, eps): `same` = "
            "`shared_noise=True` (the default), `independent` = separate draws for the c+ and c- "
            "losses of a pair; k = `num_draws` (default 1).",
            "",
            f"**1. Estimator noise.** One model per (t, eps) setting, trained {args.updates} "
            f"updates with k=1 (seed 0), scored with its own (t, eps) setting and k draws; "
            f"{NOISE_PAIRS} held-out pairs (half expert, half agent), {args.repeats} estimates "
            "of each. Noise = std of the logit log D - log(1-D) across the estimates of a pair, "
            "averaged over pairs; reward noise = the same for the AIRL reward (the logit clamped "
            "to +-15); signal = std across pairs of each pair's expected logit (the variance of "
            "the per-pair means less the estimator noise left in them); accuracy of one "
            f"estimate, and of the mean of the {args.repeats} estimates.",
            "",
            "| agent | (t, eps) | k | logit noise std | reward noise std | signal std | "
            "noise / signal | acc (1 estimate) | acc (mean of estimates) |",
            "|---|---|---|---|---|---|---|---|---|",
            *noise_rows,
            "",
            "The same k=1 models scored with either (t, eps) setting (k=1):",
            "",
            "| agent | trained with | scored with | logit noise std | reward noise std | "
            "acc (1 estimate) |",
            "|---|---|---|---|---|---|",
            *swap_rows,
            "",
            "**2. Learning.** A fresh model per setting (the option used in training and "
            "scoring); held-out accuracy 0.5 * (acc_expert + acc_agent) on all held-out "
            f"transitions with one estimate per pair, median (min-max) over {args.seeds} seeds; "
            f"the last column scores the final model with {EXPECTED_DRAWS} averaged draws "
            "(close to its expected logit). The noisy expert is trained with k=1 only.",
            "",
            "| agent | (t, eps) | k | "
            + " | ".join(f"acc @ {c} updates" for c in checkpoints)
            + f" | acc @ {checkpoints[-1]}, k={EXPECTED_DRAWS} scoring |",
            "|---|---|---|" + "---|" * (len(checkpoints) + 1),
            *learn_rows,
            "",
            "**3. Cost.** ms per update = median over the learning runs of the time in "
            f"`update()` (batch {BATCH_SIZE} per side); pairs/s = `reward()` on a "
            f"{SCORE_BATCH:,}-pair batch, median of {SCORE_REPEATS}; 1 torch thread. The "
            f"machine was shared (load average {data['load_average'][0]:.1f} at the start, "
            f"{data['load_average'][1]:.1f} at the end, on {os.cpu_count()} cores), so absolute "
            "times are pessimistic; read the ratios.",
            "",
            "| (t, eps) | k | ms per update | pairs/s scored |",
            "|---|---|---|---|",
            *cost_rows,
        ]
    )


def noise_to_signal(row: dict[str, Any]) -> float:
    """Logit noise over signal; inf where the model has no measurable signal."""
    if row["signal_std"] < 1e-6:
        return float("inf")
    return row["logit_noise_std"] / row["signal_std"]


@dataclass
class Results:
    """Look-ups into the recorded rows, for the notes."""

    data: dict[str, Any]

    def noise(self, agent: str, trained: bool, scored: bool, k: int) -> dict[str, Any]:
        key = (agent, trained, scored, k)
        fields = ("agent", "trained_shared_noise", "shared_noise", "num_draws")
        return next(n for n in self.data["noise"] if tuple(n[f] for f in fields) == key)

    def acc(self, agent: str, shared: bool, k: int, at: str) -> float:
        key = (agent, shared, k)
        fields = ("agent", "shared_noise", "num_draws")
        row = next(r for r in self.data["learning"] if tuple(r[f] for f in fields) == key)
        return med(row["accuracy"][at])

    def cost(self, shared: bool, k: int) -> dict[str, Any]:
        key = (shared, k)
        return next(c for c in self.data["cost"] if (c["shared_noise"], c["num_draws"]) == key)


def compare(a: float, b: float, tolerance: float, lower: str, same: str, higher: str) -> str:
    """``same`` when a and b differ by less than ``tolerance`` (relative), else lower/higher."""
    if abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-9):
        return same
    return lower if a < b else higher


def draws_note(res: Results, last: str) -> str:
    s1, s4, s16 = (res.noise(RANDOM, True, True, k) for k in NOISE_DRAWS)
    acc1, acc4 = res.acc(RANDOM, True, 1, last), res.acc(RANDOM, True, 4, last)
    exp1, exp4 = res.acc(RANDOM, True, 1, "expected"), res.acc(RANDOM, True, 4, "expected")
    ind1, ind4 = res.acc(RANDOM, False, 1, last), res.acc(RANDOM, False, 4, last)
    c1, c4, c16 = (res.cost(True, k) for k in NOISE_DRAWS)
    if acc4 - acc1 <= 0.01:
        trained = "so training with k=4 does not help here. "
    elif exp4 - exp1 > 0.5 * (acc4 - acc1):
        trained = "so a good part of the gain is a better-trained model, not only less noisy "
        trained += "scoring. "
    else:
        trained = "so most of the gain is less noisy scoring; the k=4-trained model itself is "
        trained += "only a little better. "
    return (
        "**Averaging k draws** cuts the logit noise as 1/sqrt(k) "
        f"({s1['logit_noise_std']:.2f} -> {s4['logit_noise_std']:.2f} -> "
        f"{s16['logit_noise_std']:.2f} for k = 1, 4, 16 against random actions, same weights, "
        f"signal {s1['signal_std']:.2f}), and one-estimate accuracy goes "
        f"{s1['acc_single']:.3f} -> {s4['acc_single']:.3f} -> {s16['acc_single']:.3f} (the "
        f"mean of the estimates: {s1['acc_mean_of_repeats']:.3f}). Trained with k=4, models "
        f"end at {acc4:.3f} vs {acc1:.3f} with k=1 after {last} updates (same (t, eps)) and "
        f"{ind4:.3f} vs {ind1:.3f} (independent). Scored with {EXPECTED_DRAWS} draws, the "
        f"same models reach {exp4:.3f} vs {exp1:.3f} ({exp4 - exp1:+.3f}, against "
        f"{acc4 - acc1:+.3f} when each is scored with its own k), "
        + trained
        + "The cost grows with k: "
        f"{c4['seconds_per_update'] / c1['seconds_per_update']:.1f}x the time per update at "
        f"k=4, and {c1['pairs_per_second'] / c4['pairs_per_second']:.1f}x / "
        f"{c1['pairs_per_second'] / c16['pairs_per_second']:.0f}x fewer pairs scored per "
        "second at k = 4 / 16."
    )


def shared_note(res: Results, first: str, last: str) -> str:
    s1, i1 = res.noise(RANDOM, True, True, 1), res.noise(RANDOM, False, False, 1)
    s_as_i, i_as_s = res.noise(RANDOM, True, False, 1), res.noise(RANDOM, False, True, 1)
    ns, ni = res.noise(NOISY, True, True, 1), res.noise(NOISY, False, False, 1)
    ni_as_s = res.noise(NOISY, False, True, 1)
    c1, ci1, c4, ci4 = (res.cost(shared, k) for k in (1, 4) for shared in (True, False))

    def acc(shared: bool, k: int, at: str) -> float:
        return res.acc(RANDOM, shared, k, at)

    def std(row: dict[str, Any]) -> str:
        return f"{row['logit_noise_std']:.2f}"

    ratio_s, ratio_i = noise_to_signal(s1), noise_to_signal(i1)
    verdict = compare(
        ratio_s,
        ratio_i,
        0.2,
        "makes the reward less noisy relative to its signal",
        "does not make the reward less noisy relative to its signal",
        "makes the reward noisier relative to its signal",
    )
    parts = [
        f"**The same (t, eps) for c+ and c-** {verdict} against random actions: raw logit "
        f"noise {std(s1)} vs {std(i1)} with independent draws, signal {s1['signal_std']:.2f} vs "
        f"{i1['signal_std']:.2f}, noise/signal {ratio_s:.2f} vs {ratio_i:.2f}, one-estimate "
        f"accuracy {s1['acc_single']:.3f} vs {i1['acc_single']:.3f}.",
        f"With the weights fixed (swap table), scoring the independently trained model with "
        f"shared noise moves its noise from {std(i1)} to {std(i_as_s)}, and scoring the "
        f"shared-noise model with independent draws moves it from {std(s1)} to {std(s_as_i)} "
        f"(accuracy {s1['acc_single']:.3f} -> {s_as_i['acc_single']:.3f}).",
    ]
    if i_as_s["logit_noise_std"] > 0.7 * i1["logit_noise_std"]:
        parts.append(
            "So a model trained with independent draws learns to make L_diff(c+) and "
            "L_diff(c-) agree on their common part, and the shared draw has little left to "
            "cancel."
        )
    if s_as_i["logit_noise_std"] > 2 * s1["logit_noise_std"]:
        parts.append(
            "A model trained with shared noise relies on the cancellation, so the setting must "
            "be the same in training and scoring (it is: one config field)."
        )
    parts.append(
        f"On the noisy expert: noise/signal {noise_to_signal(ns):.2f} vs "
        f"{noise_to_signal(ni):.2f}; {std(ni_as_s)} vs {std(ni)} for the same weights (there "
        "the across-pair spread does not classify either)."
    )

    def versus(at: str, k: int) -> str:
        ours, theirs = acc(True, k, at), acc(False, k, at)
        word = "level" if abs(ours - theirs) <= 0.01 else "ahead" if ours > theirs else "behind"
        return f"{word} with k={k} ({ours:.3f} vs {theirs:.3f})"

    learning = (
        f"On learning, shared noise is {versus(first, 1)} and {versus(first, 4)} after {first} "
        f"updates, and {versus(last, 1)} and {versus(last, 4)} after {last}; scored with "
        f"{EXPECTED_DRAWS} draws, the k=1 models end at {acc(True, 1, 'expected'):.3f} vs "
        f"{acc(False, 1, 'expected'):.3f}."
    )
    if (
        acc(True, 1, first) < acc(False, 1, first) - 0.05
        and acc(True, 4, first) < acc(False, 4, first) - 0.05
    ):
        learning += (
            " The slow start is plausibly because the c+/c- difference starts near 0, so the "
            "layers shared by both labels get little gradient."
        )
    parts.append(learning)
    parts.append(
        "It should cost the same: the denoiser call has the same rows either way and only the "
        f"noise draws double; measured: {c1['seconds_per_update'] * 1e3:.1f} vs "
        f"{ci1['seconds_per_update'] * 1e3:.1f} ms per update and "
        f"{c1['pairs_per_second']:,.0f} vs {ci1['pairs_per_second']:,.0f} pairs/s at k=1, "
        f"{c4['pairs_per_second']:,.0f} vs {ci4['pairs_per_second']:,.0f} pairs/s at k=4."
    )
    return " ".join(parts)


def noisy_expert_note(res: Results, last: str) -> str:
    sat = {d["name"]: d["saturated_action_fraction"] for d in res.data["sources"]}
    accs = [med(r["accuracy"][last]) for r in res.data["learning"] if r["agent"] == NOISY]
    verdict = (
        f"is not separated from the expert by any setting in {last} updates"
        if max(accs) < 0.55
        else f"is separated only partly in {last} updates"
    )
    return (
        f"**The noisy expert** (action_noise={NOISY_EXPERT_ACTION_NOISE}; after clipping "
        f"{sat[NOISY]:.0%} of its action components sit at +-1, against {sat['expert']:.0%} for "
        f"the expert and {sat[RANDOM]:.0%} for random actions) {verdict} (held-out accuracy "
        f"{min(accs):.3f}-{max(accs):.3f}, k=1)."
    )


def make_notes(data: dict[str, Any], checkpoints: list[str]) -> str:
    """What the options do to noise, accuracy and cost, with this run's numbers."""
    res, first, last = Results(data), checkpoints[0], checkpoints[-1]
    notes = [draws_note(res, last), shared_note(res, first, last), noisy_expert_note(res, last)]
    return "\n\n".join([*notes, f"Runtime: {data['runtime_s']:.0f} s."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    checkpoints = [str(c) for c in CHECKPOINTS if c < args.updates] + [str(args.updates)]

    drail_preset()  # fixed from here on, even if the preset file changes during the run
    expert, agents = load_data()
    scaler = ObservationScaler.fit(expert.train.obs)
    learning, noise_models, step_seconds = run_learning(expert, agents, scaler, args)
    data: dict[str, Any] = {
        "torch_threads": torch.get_num_threads(),
        "preset": drail_preset(),
        "args": vars(args),
        "sources": [describe("expert", expert)] + [describe(k, v) for k, v in agents.items()],
        "learning": learning,
        "noise": run_noise(expert, agents, scaler, noise_models, args.repeats),
        "cost": run_cost(step_seconds),
    }
    data["runtime_s"] = time.perf_counter() - began
    data["load_average"] = [load_before, os.getloadavg()[0]]
    table = make_table(data, args, checkpoints)
    notes = make_notes(data, checkpoints)
    path = write_result("drail_options", "DRAIL estimator options", table, data, notes)
    print(f"wrote {path} in {data['runtime_s']:.0f} s")


if __name__ == "__main__":
    main()
