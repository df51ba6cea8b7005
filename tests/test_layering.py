"""Imports run one way: the lower layers (data, envs, diffusion, rewards, rl) import nothing from
the layers built on them (algorithms, planning, eval, experts, api, cli, bench); evaluation and
run directories nothing from the training code that uses them; the experts nothing from the
training loops, run directories or front ends; not even inside a function; and no module
imports itself through others. Read from the source, so it costs no imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import diffil

PACKAGE = Path(diffil.__file__).parent
LOWER = ("data", "envs", "diffusion", "rewards", "rl")
UPPER = ("algorithms", "planning", "eval", "experts", "api", "cli", "bench", "generative")


def _imports(path: Path, typing_too: bool = True) -> list[tuple[str, list[str]]]:
    """Each import statement of a file, at any depth: (module, names imported from it), relative
    imports resolved; ``typing_too=False`` leaves out those under ``if TYPE_CHECKING:``."""
    package = ".".join(("diffil", *path.relative_to(PACKAGE).parent.parts))
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if not typing_too and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, [alias.name for alias in node.names]))
    return found


def _imported_modules(path: Path) -> set[str]:
    """Every diffil module a file imports, at any depth (relative imports resolved)."""
    return {module for module, _ in _imports(path) if module.startswith("diffil.")}


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


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(("diffil", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def _runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The diffil modules a file imports when it runs, at any depth: ``from package import
    submodule`` counts as the submodule, and imports under ``if TYPE_CHECKING:`` do not count."""
    found = set()
    for module, names in _imports(path, typing_too=False):
        submodules = {f"{module}.{name}" for name in names} & modules
        # a name that is no submodule is the module's own: that imports the module
        found |= submodules if len(submodules) == len(names) > 0 else {module, *submodules}
    return found & modules


def test_no_module_imports_itself_through_others():
    """No import cycles, not even through an import inside a function: a cycle hidden in a
    function is a layering mistake that runs (until someone imports in another order)."""
    paths = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph = {name: _runtime_imports(path, set(paths)) - {name} for name, path in paths.items()}
    # a package's __init__ imports its submodules: that edge back is not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                cycles.append(" -> ".join([*trail[trail.index(other) :], other]))
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_importing_diffil_leaves_matplotlib_for_drawing():
    """``import diffil`` (every training and data entry point) loads no matplotlib: pyplot alone
    costs seconds; the functions that draw import it themselves."""
    import subprocess
    import sys

    code = "import sys, diffil; print(any(m.startswith('matplotlib') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
