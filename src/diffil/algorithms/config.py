"""Typed training configuration, resolved from defaults, YAML presets and user overrides.

Presets keep N tasks x M methods at N + M files: ``configs/tasks/<task>.yaml`` holds what depends
on the task (budget, PPO settings), ``configs/families/<family>.yaml`` what a family of tasks
shares (mazes, locomotion), ``configs/methods/<method>.yaml`` what depends on the method (reward
model options). A run resolves ``defaults <- family preset <- task preset <- method preset <-
overrides`` and writes the result to its ``config.yaml``.

The few settings that depend on both (e.g. a non-negative reward for DRAIL on tasks that end an
episode when the robot falls) go in a ``methods:`` section of the family or task preset, keyed by
method name, and apply after the method preset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from typing import Any

from diffil.algorithms.methods import METHODS, get_method
from diffil.errors import DiffilError, reading, require_positive
from diffil.generative.config import GenerativePolicyConfig
from diffil.planning.config import DiffuserTrainingConfig
from diffil.planning.irl import DiffuserIRLConfig
from diffil.rl.ppo import PPOConfig
from diffil.rl.sac import SACConfig
from diffil.runs.run_dir import CONFIG, RESTORE, RunDirectory
from diffil.utils.config import deep_merge, dump_yaml, from_dict, load_yaml, to_plain_dict

RL_ALGORITHMS = ("ppo", "sac")


@dataclass(kw_only=True)
class RewardLearningConfig:
    """How the reward model learns: updates per rollout (Table 1, line 5) and its options.

    With SAC (``rl: sac``) the reward model is updated every ``update_every`` env steps, with
    ``updates_per_rollout`` steps on expert vs. replay samples from the last ``recent`` env
    steps (0 = ``update_every``).

    ``absorbing`` learns the reward of the state after a true termination and bootstraps
    through it (Discriminator-Actor-Critic's absorbing states, :mod:`diffil.rewards.absorbing`),
    so ending an episode is neither paid nor punished by the learned reward's sign. Meant for
    tasks that end on success as well as on failure; measured in docs/guides/adversarial.md
    (it lifted DRAIL and GAIL on fetch-push; parking and merge are not solved by it).
    """

    updates_per_rollout: int = 10  # reward-model gradient steps after each rollout (or round)
    batch_size: int = 256  # expert and agent samples per reward-model step, each
    update_every: int = 1000  # SAC only: env steps between two rounds of reward-model updates
    recent: int = 0  # SAC only: agent samples from the last `recent` env steps (0 = update_every)
    model: dict[str, Any] = field(default_factory=dict)  # fields of the reward model's config
    absorbing: bool = False  # learn r(absorbing state) and bootstrap terminal steps through it
    # absorbing rows per termination, on the expert's side and the agent's alike: more of them
    # teach r(s_a) sooner; 1 / (1 - gamma) weighs s_a as its discounted occupancy does
    absorbing_copies: int = 1


@dataclass(kw_only=True)
class BCConfig:
    """Offline training (BC, diffusion and flow policies): gradient steps on the demos."""

    steps: int = 5000  # gradient steps
    batch_size: int = 256  # demonstration samples (or chunks) per step
    learning_rate: float = 1e-3  # AdamW step size
    weight_decay: float = 0.0  # AdamW weight decay


@dataclass(kw_only=True)
class EvalConfig:
    """Periodic and final evaluation of the policy during a run."""

    every: int = 25_000  # environment steps between evaluations during training
    episodes: int = 20  # episodes per evaluation during training
    # episodes of the final evaluation (eval.json, and the learning curve's last point);
    # None: ``episodes``
    final_episodes: int | None = None
    # environments played in lockstep, the policy acting on their batch: 1 plays the episodes
    # one after another (the same ones every run); N is faster for generative policies, which
    # sample once per step for all N, and draws other episodes (compare runs at the same N)
    num_envs: int = 1

    @property
    def final(self) -> int:
        """Episodes of the final evaluation."""
        return self.episodes if self.final_episodes is None else self.final_episodes


@dataclass(kw_only=True)
class TrainConfig:
    """Everything a training run needs; ``config.yaml`` of a run directory is this, as YAML.

    Attributes:
        method: a name of ``diffil methods`` (``drail``, ``gail``, ``bc``, ...).
        task: a name of ``diffil tasks`` (``pointmaze-umaze``, ``hopper``, ...), or several
            separated by commas: a multi-task run (:mod:`diffil.algorithms.multitask`).
        steps: environment steps of online methods (offline ones use ``bc.steps``).
        seed: seed of the networks, the environments and the demonstrations made for the run.
        n_envs: vectorised environments of PPO (SAC has ``sac.n_envs``).
        device: ``cpu`` or ``cuda`` for the networks.
        num_demos: demonstrations used: the first ``num_demos`` of ``demos``, or how many the
            scripted expert makes.
        noise: reset-noise scale of the task variant (1 = the environment's default).
        coverage: fraction of the maze's free cells demonstrations start and end in (1 = all).
            Training and evaluation episodes use every cell, as reference 000's protocol does.
        train_on_covered_cells: the training episodes of a coverage run keep to the covered cells
            too (the agent never practises a held-out start/goal pair: a stricter test than the
            paper's, and what every run before 2026-12-05 did; their config files read so).
        reward_source: methods ``ppo``/``sac`` only: a run directory whose learned reward,
            frozen, replaces the task's reward in training (``diffil train ppo --reward RUN``);
            ``reward.model.reward_type`` then re-reads a discriminator's D in another form.
        diffuser, irl: the ``diffuser`` and ``diffuser-irl`` methods' settings (``irl.seed`` is
            replaced by ``seed``).
    """

    method: str
    task: str
    steps: int = 300_000
    seed: int = 0
    n_envs: int = 8
    device: str = "cpu"
    # torch intra-op threads for the run: the networks here are small, and one thread is fastest
    # for them (and lets seeds run side by side); 0 leaves torch's default.
    threads: int = 1
    demos: str | None = None  # dataset path; None = make them with the task's scripted expert
    num_demos: int = 100
    noise: float = 1.0
    coverage: float = 1.0
    train_on_covered_cells: bool = False
    obs_only: bool = False  # the reward model sees states (s or (s, s')), never actions
    # training episodes ignore early terminations (a robot falling) and run the full time limit,
    # so a learned reward gets no survival bias; evaluation keeps them (diffil.envs.fixed_horizon)
    fixed_horizon: bool = False
    rl: str = "ppo"  # the RL backbone of reward-learning methods: ppo or sac
    # before RL, fit PPO's actor (its mean; the log-std keeps ppo.log_std_init) to the demos with
    # bc.steps steps of bc.batch_size at bc.learning_rate; observation normalisation starts
    # from the demonstrations' statistics. Only reward-learning methods on PPO have such a
    # policy; other runs say so at the start and ignore it (so a task preset can set it).
    bc_warm_start: bool = False
    # after every PPO update (from the second rollout on), this many BC steps of bc.batch_size
    # on the demos at ppo.learning_rate pull the actor's mean back toward the expert's actions,
    # as DAPG's behaviour-cloning term does. 0 = off. Same methods as bc_warm_start.
    bc_regularisation: int = 0
    checkpoint_every: int = 50_000  # environment steps between checkpoints
    reward_source: str | None = None
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sac: SACConfig = field(default_factory=SACConfig)
    reward: RewardLearningConfig = field(default_factory=RewardLearningConfig)
    bc: BCConfig = field(default_factory=BCConfig)
    generative: GenerativePolicyConfig = field(default_factory=GenerativePolicyConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    diffuser: DiffuserTrainingConfig = field(default_factory=DiffuserTrainingConfig)
    irl: DiffuserIRLConfig = field(default_factory=DiffuserIRLConfig)

    def validate(self) -> TrainConfig:
        """Raise a one-line :class:`DiffilError` for values no run could use."""
        if self.rl not in RL_ALGORITHMS:
            raise DiffilError(
                f"unknown RL algorithm {self.rl!r}", f"use one of: {', '.join(RL_ALGORITHMS)}"
            )
        positive = {
            "steps": self.steps,
            "n_envs": self.n_envs,
            "num_demos": self.num_demos,
            "ppo.n_steps": self.ppo.n_steps,
            "ppo.batch_size": self.ppo.batch_size,
            "ppo.n_epochs": self.ppo.n_epochs,
            "ppo.learning_rate": self.ppo.learning_rate,
            "reward.batch_size": self.reward.batch_size,
            "reward.update_every": self.reward.update_every,
            "reward.absorbing_copies": self.reward.absorbing_copies,
            "sac.batch_size": self.sac.batch_size,
            "sac.buffer_size": self.sac.buffer_size,
            "sac.n_envs": self.sac.n_envs,
            "sac.learning_rate": self.sac.learning_rate,
            "bc.steps": self.bc.steps,
            "bc.batch_size": self.bc.batch_size,
            "eval.episodes": self.eval.episodes,
            "eval.final_episodes": self.eval.final,
            "eval.num_envs": self.eval.num_envs,
        }
        require_positive(positive)
        if self.reward.recent < 0 or self.sac.learning_starts < 0:
            raise DiffilError("reward.recent and sac.learning_starts must be >= 0", "fix them")
        if self.reward.updates_per_rollout < 0:
            raise DiffilError("reward.updates_per_rollout must be >= 0", "fix the value")
        if self.fixed_horizon:
            from diffil.envs.registry import get_task

            get_task(self.task).check_fixed_horizon()
        method = get_method(self.method)
        if method.offline and self.rl != "ppo":
            raise DiffilError(
                f"{self.method} trains offline on the demonstrations, with no RL backbone",
                "drop --rl / rl= (it applies to methods that learn a reward: drail, gail, ...)",
            )
        objective = method.objective
        if objective is not None:
            self.generative.validate(objective)
        if method.plans:
            self.diffuser.validate()
        if self.reward.absorbing and self.fixed_horizon:
            raise DiffilError(
                "reward.absorbing and fixed_horizon both remove the bias of early endings, and "
                "fixed_horizon leaves no ending to learn",
                "choose one: --set fixed_horizon=false or --set reward.absorbing=false",
            )
        if self.reward_source is not None and method.kind != "rl":
            raise DiffilError(
                f"--reward trains a fresh ppo or sac policy on a learned reward, not {self.method}",
                "use: diffil train ppo --reward RUN (or sac)",
            )
        return self

    @property
    def has_ppo_actor(self) -> bool:
        """A method that learns a reward, with PPO as its backbone: an actor BC can shape."""
        return self.rl == "ppo" and get_method(self.method).reward_model is not None

    @property
    def warm_starts_policy(self) -> bool:
        """``bc_warm_start`` applies (see ``has_ppo_actor``)."""
        return self.bc_warm_start and self.has_ppo_actor

    def ignored(self, asked: dict[str, Any]) -> list[str]:
        """A note for each setting in ``asked`` (the user's overrides) that this method does
        not use. Presets may set them for every method of a family without a note."""
        notes = []
        if asked.get("bc_warm_start") and not self.warm_starts_policy:
            notes.append(
                f"note: bc_warm_start has no effect on {self.method} with rl={self.rl} "
                "(it initialises the PPO policy of a method that learns a reward)"
            )
        if asked.get("bc_regularisation") and not self.has_ppo_actor:
            notes.append(
                f"note: bc_regularisation has no effect on {self.method} with rl={self.rl} "
                "(it acts on the PPO policy of a method that learns a reward)"
            )
        if (asked.get("reward") or {}).get("absorbing") and get_method(
            self.method
        ).reward_model is None:
            notes.append(
                f"note: reward.absorbing has no effect on {self.method} (it adds an absorbing "
                "state to a reward model's data)"
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (lists, not tuples), as written to ``config.yaml``."""
        return to_plain_dict(self)

    def to_yaml(self) -> str:
        return dump_yaml(self)


def preset(kind: str, name: str) -> dict[str, Any]:
    """The YAML preset ``configs/<kind>/<name>.yaml`` shipped with diffil ({} if none)."""
    path = resources.files("diffil.configs").joinpath(kind, f"{name}.yaml")
    if not path.is_file():
        return {}
    return load_yaml(path.read_text()) or {}


def _split_method_sections(kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A family or task preset, and its ``methods:`` section (per-method settings) apart."""
    data = dict(preset(kind, name))
    per_method = data.pop("methods", None) or {}
    unknown = sorted(set(per_method) - set(METHODS))
    if unknown:  # a mistake in a shipped or edited preset, not in the user's command
        raise DiffilError(
            f"configs/{kind}/{name}.yaml: unknown method(s) {', '.join(unknown)} under methods:",
            f"use method names: {', '.join(METHODS)}",
        )
    return data, per_method


def resolve_config(method: str, task: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """defaults <- family preset <- task preset <- method preset <- the family's and the task's
    ``methods: {<method>: ...}`` sections <- ``overrides``. A task list (``"a,b"``) resolves
    by :func:`resolve_multitask_config`."""
    from diffil.envs.multitask import is_multitask
    from diffil.envs.registry import get_task

    if is_multitask(task):
        return resolve_multitask_config(method, task, overrides)

    family, family_per_method = _split_method_sections("families", get_task(task).family)
    # qualified names (gym:ENV_ID, module:name) have no preset file: their family's applies
    task_preset, task_per_method = (
        ({}, {}) if ":" in task else _split_method_sections("tasks", task)
    )
    data: dict[str, Any] = {"method": method, "task": task}
    data = deep_merge(data, family)
    data = deep_merge(data, task_preset)
    data = deep_merge(data, preset("methods", method))
    data = deep_merge(data, family_per_method.get(method) or {})
    data = deep_merge(data, task_per_method.get(method) or {})
    data = deep_merge(data, overrides or {})
    return from_dict(TrainConfig, data).validate()


# settings that change what a run is: the tasks of one multi-task run must agree on them
MUST_AGREE = ("rl", "fixed_horizon", "obs_only")


def resolve_multitask_config(
    method: str, task: str, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The config of a multi-task run on ``task`` (``"a,b"``, reference 000 [0050]).

    Each task's config is resolved as for a single-task run; the run takes the first task's,
    except that the budget ``steps`` is the sum of the tasks' budgets and ``eval.every`` the
    largest of theirs (unless set by ``overrides``). The tasks must agree on ``rl``,
    ``fixed_horizon`` and ``obs_only``; any other difference (e.g. ``ppo.gamma``) follows the
    first task.
    """
    from diffil.envs.multitask import TASK_SEPARATOR, split_task_names
    from diffil.envs.registry import get_task

    names = split_task_names(task)
    get_task(task)  # unknown tasks, or sizes that differ: one line before anything else
    overrides = overrides or {}
    configs = [resolve_config(method, name, overrides) for name in names]
    for key in MUST_AGREE:
        values = [getattr(c, key) for c in configs]
        if len(set(values)) > 1:
            shown = ", ".join(f"{n}: {v}" for n, v in zip(names, values, strict=True))
            raise DiffilError(
                f"the tasks' presets disagree on {key} ({shown})",
                f"set it for all of them, e.g. --set {key}={values[0]}",
            )
    data = configs[0].to_dict()
    data["task"] = TASK_SEPARATOR.join(names)
    if "steps" not in overrides:
        data["steps"] = sum(c.steps for c in configs)
    if "every" not in (overrides.get("eval") or {}):
        data["eval"]["every"] = max(c.eval.every for c in configs)
    return from_dict(TrainConfig, data).validate()


def read_run_config(run: RunDirectory | str | PathLike) -> TrainConfig:
    """The :class:`TrainConfig` a run was trained with (its ``config.yaml``), validated.

    Settings whose defaults changed, ``generative.prediction``, ``generative.network_input`` and
    ``train_on_covered_cells``, read as older runs without them were trained, not as today's
    defaults; other missing settings take their defaults. One-line :class:`DiffilError` for a
    folder that is not a run or a config that does not parse.
    """
    run = run if isinstance(run, RunDirectory) else RunDirectory.open(run)
    data = run.read_config_data()
    with reading(run.config_path, "run config", RESTORE):
        generative = data.get("generative")
        if isinstance(generative, dict):
            # runs from before generative.prediction existed trained eps networks (the default
            # is now v): resuming them must keep training eps
            generative.setdefault("prediction", "epsilon")
            # and before generative.network_input, networks saw their path's own scale
            generative.setdefault("network_input", "native")
        # before train_on_covered_cells, a coverage run's training episodes (and a planner's
        # exploration) kept to its cells; runs that train on demonstrations alone are unchanged
        if _covered_cells_matter(str(data.get("method")), float(data.get("coverage", 1.0))):
            data.setdefault("train_on_covered_cells", True)
        return from_dict(TrainConfig, data, where=CONFIG).validate()


def _covered_cells_matter(method: str, coverage: float) -> bool:
    """Whether ``train_on_covered_cells`` changes what a run of ``method`` trains: only a coverage
    run (< 1) of a method that plays episodes while it trains (online, or a planner exploring)."""
    spec = METHODS.get(method)
    return spec is not None and (not spec.offline or spec.plans) and coverage < 1.0


def inert_settings(config: TrainConfig) -> set[str]:
    """The settings of ``config`` that cannot change what it trains, whatever their value (e.g.
    ``train_on_covered_cells`` of an offline method, or at coverage 1): two configs that differ
    only there train the same run."""
    if _covered_cells_matter(config.method, config.coverage):
        return set()
    return {"train_on_covered_cells"}
