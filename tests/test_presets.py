"""Presets: every registered task resolves for every method; family presets stay in their family."""

from __future__ import annotations

import pytest

from diffil.algorithms.config import preset, resolve_config
from diffil.algorithms.methods import METHODS
from diffil.envs.registry import get_task, list_tasks

MAZE_FAMILY_SETTINGS = {
    ("ppo", "normalize_reward"): True,
    ("ppo", "bounded_mean"): True,
    ("bc_warm_start",): True,
    ("eval", "final_episodes"): 100,
}


def _get(config: object, path: tuple[str, ...]) -> object:
    for name in path:
        config = getattr(config, name)
    return config


def _in_preset(data: dict, path: tuple[str, ...]) -> bool:
    for name in path:
        if not isinstance(data, dict) or name not in data:
            return False
        data = data[name]
    return True


@pytest.mark.parametrize("task", list_tasks())
def test_every_registered_task_resolves_for_every_method(task: str) -> None:
    for method in METHODS:
        config = resolve_config(method, task)
        assert (config.method, config.task) == (method, task)


def test_maze_family_preset_applies_to_every_maze_and_nothing_else() -> None:
    family = preset("families", "maze")
    assert family["ppo"]["normalize_reward"] and family["bc_warm_start"]
    for task in list_tasks():
        if get_task(task).family == "fetch":  # has its own family preset (below)
            continue
        config = resolve_config("drail", task)
        in_family = get_task(task).family == "maze"
        own = preset("tasks", task)  # a task's own preset may set the same (merge does)
        for path, value in MAZE_FAMILY_SETTINGS.items():
            if not in_family and _in_preset(own, path):
                continue
            default = _get(resolve_config("drail", "hopper"), path)
            assert _get(config, path) == (value if in_family else default), (task, path)
    # the task presets no longer repeat what the family says
    for task in ("pointmaze-umaze", "pointmaze-medium", "pointmaze-large"):
        task_preset = preset("tasks", task)
        assert "bc_warm_start" not in task_preset
        assert "normalize_reward" not in task_preset.get("ppo", {})


def test_overrides_win_over_the_family_preset() -> None:
    config = resolve_config(
        "drail",
        "pointmaze-umaze",
        {"bc_warm_start": False, "ppo": {"bounded_mean": False}},
    )
    assert config.bc_warm_start is False and config.ppo.bounded_mean is False
    assert config.ppo.normalize_reward is True  # untouched family settings stay


def test_a_section_that_refuses_its_values_is_one_line() -> None:
    from diffil.errors import DiffilError

    with pytest.raises(DiffilError, match=r"config\.irl: loss must be one of"):
        resolve_config("diffuser-irl", "pointmaze-umaze", {"irl": {"loss": "foo"}})


def test_locomotion_family_puts_the_adversarial_methods_on_sac() -> None:
    adversarial = ("drail", "diffail", "gail", "airl", "wail")
    for task in list_tasks():
        locomotion = get_task(task).family == "locomotion"
        for method in adversarial:
            assert resolve_config(method, task).rl == ("sac" if locomotion else "ppo"), task
    assert resolve_config("smiling", "hopper").rl == "sac"  # its own preset says so too
    assert resolve_config("drail", "hopper", {"rl": "ppo"}).rl == "ppo"  # --rl ppo still wins


def test_fetch_family_preset_applies_to_fetch_tasks_for_every_ppo_method() -> None:
    for method in ("drail", "gail", "airl"):
        for task in ("fetch-push", "fetch-pick-and-place"):
            config = resolve_config(method, task)
            assert config.bc_warm_start
            assert (config.ppo.log_std_init, config.ppo.learning_rate) == (-1.5, 1e-4)
        # reference 000's Push demonstrations, a task setting
        assert resolve_config(method, "fetch-push").num_demos == 664
        assert resolve_config(method, "fetch-pick-and-place").num_demos == 100
    assert resolve_config("drail", "pointmaze-medium").ppo.log_std_init == 0.0
    assert (
        resolve_config("drail", "fetch-push", {"ppo": {"log_std_init": 0.0}}).ppo.log_std_init == 0
    )


def test_set_and_config_files_read_exponent_numbers_as_numbers() -> None:
    """YAML 1.1 reads 1e-4 as a string; --set reward.model.lr=1e-4, a preset, a suite or a run's
    config.yaml all mean the number (diffil.utils.config.load_yaml)."""
    from diffil.utils.config import load_yaml, parse_overrides

    assert load_yaml("lr: 1e-4\nn: 12\nname: abc\nx: 1.5") == {
        "lr": 1e-4,
        "n": 12,
        "name": "abc",
        "x": 1.5,
    }

    parsed = parse_overrides(["ppo.learning_rate=1e-4", "steps=2e6", "tag=abc", "x=2.5E-3"])
    assert parsed == {"ppo": {"learning_rate": 1e-4}, "steps": 2e6, "tag": "abc", "x": 2.5e-3}
    known = {"ppo": parsed["ppo"], "steps": parsed["steps"]}
    config = resolve_config("drail", "pointmaze-umaze", known)
    assert config.ppo.learning_rate == 1e-4 and config.steps == 2_000_000


def test_pointmaze_large_preset_gives_every_method_its_measured_settings() -> None:
    for method in METHODS:
        config = resolve_config(method, "pointmaze-large")
        own = preset("methods", method).get("num_demos")  # diffuser-irl's 10 (its reference's)
        assert (config.num_demos, config.bc_regularisation) == (own or 300, 80), method
    for task in ("pointmaze-umaze", "pointmaze-medium"):  # a task setting, not the family's
        config = resolve_config("drail", task)
        assert (config.num_demos, config.bc_regularisation) == (100, 0), task
    assert (
        resolve_config("drail", "pointmaze-large", {"bc_regularisation": 0}).bc_regularisation == 0
    )
