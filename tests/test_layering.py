"""Imports run one way: the lower layers (data, envs, diffusion, rewards, rl) import nothing from
the layers built on them (algorithms, planning, eval, experts, api, cli, bench); evaluation and
run directories nothing from the training code that uses them; the experts nothing from the
training loops, run directories or front ends; not even inside a function. Read from the
source, so it costs no imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import diffil

PACKAGE = Path(diffil.__file__).parent
LOWER = ("data", "envs", "diffusion", "rewards", "rl")
UPPER = ("algorithms", "planning", "eval", "experts", "api", "cli", "bench", "generative")


def _imported_modules(path: Path) -> set[str]:
    """Every diffil module a file imports, at any depth (relative imports resolved)."""
    package = ".".join(("diffil", *path.relative_to(PACKAGE).parent.parts))
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            else:
                found.add(node.module or "")
    return {name for name in found if name.startswith("diffil.")}


def test_lower_layers_import_nothing_from_the_layers_above():
    wrong = []
    for layer in LOWER:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for name in _imported_modules(path):
                if name.split(".")[1] in UPPER:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layer", ["eval", "runs"])
def test_evaluation_and_run_directories_import_no_training_code(layer):
    """The trainers evaluate policies and write runs; what reads a run's reward or policy back
    (reward maps, learned rewards) lives with the trainers, in diffil.algorithms."""
    above = ("algorithms", "planning", "experts", "generative", "bench", "api", "cli")
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[1] in above
    ]
    assert not wrong, "\n".join(wrong)


def test_experts_import_no_training_loop_run_directory_or_front_end():
    above = ("algorithms", "planning", "runs", "bench", "api", "cli")
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "experts").rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[1] in above
    ]
    assert not wrong, "\n".join(wrong)


def test_the_scan_sees_imports_at_every_depth():
    module = PACKAGE / "data" / "collect.py"
    assert "diffil.utils.progress" in _imported_modules(module)  # a top-level import
    assert "diffil.eval.evaluate" in _imported_modules(PACKAGE / "experts" / "rl_expert.py")
    in_functions = _imported_modules(PACKAGE / "cli" / "runs.py")
    assert "diffil.eval.evaluate" in in_functions


def test_cli_command_modules_share_only_common():
    """Each module of diffil.cli is one group of commands; they share options and the console
    through diffil.cli.common only, and the package's __init__ puts them together."""
    wrong = [
        f"{path.name} imports {name}"
        for path in sorted((PACKAGE / "cli").glob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
        for name in _imported_modules(path)
        if name.startswith("diffil.cli") and name != "diffil.cli.common"
    ]
    assert not wrong, "\n".join(wrong)


def test_moved_names_say_where_they_went():
    with pytest.raises(ImportError, match=r"moved to diffil\.experts\.collect\.collect_demon"):
        from diffil.data.collect import collect_demonstrations  # noqa: F401
    with pytest.raises(ImportError, match=r"use diffil\.train_expert"):
        from diffil.experts import train_expert  # noqa: F401
    with pytest.raises(ImportError, match=r"moved to diffil\.algorithms\.reward_map\.plot_maze"):
        from diffil.eval.reward_plots import plot_maze_reward  # noqa: F401
    with pytest.raises(ImportError, match=r"moved to diffil\.experts\.collect\.maze_coverage"):
        from diffil.eval.reward_metrics import maze_coverage  # noqa: F401
    import diffil.data.collect

    assert not hasattr(diffil.data.collect, "no_such_name")  # other names: AttributeError
