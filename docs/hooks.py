"""MkDocs hooks for diffil's site (``hooks:`` in mkdocs.yml).

- ``reference/configuration.md`` is generated at every build from the typed config dataclasses
  (fields, types, defaults, and the docstring ``Attributes:`` entry or source comment of each
  field) and the YAML presets shipped in ``src/diffil/configs``, so it cannot drift from the code.
- The recorded benchmark results (``benchmarks/results/**/*.md`` and their pictures) become pages
  under ``results/``, so the docs link to them and a missing file fails ``mkdocs build --strict``.

``python docs/hooks.py`` prints the generated configuration reference.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import re
import sys
import textwrap
import tokenize
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PRESETS = ROOT / "src" / "diffil" / "configs"
CONFIG_PAGE = "reference/configuration.md"


# ---- field descriptions ------------------------------------------------------------------------


def _attributes_section(cls: type) -> dict[str, str]:
    """``name: text`` entries of the Google-style ``Attributes:`` section of a class docstring."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    entries: dict[str, str] = {}
    inside, name = False, None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # the next section
            break
        match = re.match(r"^ {4}(\w+):\s*(.*)$", line)
        if match:
            name = match.group(1)
            entries[name] = match.group(2).strip()
        elif name and line.strip():
            entries[name] += " " + line.strip()
    return entries


def _source_comments(cls: type) -> dict[str, str]:
    """Per field of ``cls``'s own body: its trailing comment, else the comment lines above it."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.splitlines()
    out: dict[str, str] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        trailing = [comments[n] for n in range(node.lineno, (node.end_lineno or 0) + 1)
                    if n in comments]  # fmt: skip
        above: list[str] = []
        n = node.lineno - 1
        while n >= 1 and lines[n - 1].strip().startswith("#"):
            above.insert(0, comments.get(n, ""))
            n -= 1
        text = " ".join(trailing) if trailing else " ".join(above)
        if text:
            out[node.target.id] = text
    return out


def field_descriptions(cls: type) -> dict[str, str]:
    """Descriptions of every field of dataclass ``cls``, base classes first."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            out.update(_source_comments(klass))
            out.update(_attributes_section(klass))
    return out


# ---- rendering ---------------------------------------------------------------------------------


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _yaml_value(value: Any) -> str:
    """A default as one would write it in YAML or after ``--set KEY=``."""
    if value is dataclasses.MISSING:
        return "*required*"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value)}`"


def _markdown(text: str) -> str:
    """Docstring markup as Markdown: ``code`` and :role:`target` become `code`."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    return _markdown(text).replace("|", "\\|").replace("\n", " ")


def _nested_dataclass(cls: type, name: str) -> type | None:
    hint = typing.get_type_hints(cls).get(name)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _summary(cls: type) -> str:
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    if not doc or doc.startswith(f"{cls.__name__}("):  # the dataclass-made signature
        return ""
    return _markdown(doc.split("\nAttributes:")[0].strip())


def render_dataclass(cls: type, prefix: str, title: str, anchor: str, level: int = 3) -> list[str]:
    """A heading (with ``anchor``), the class summary and a field table; nested dataclasses
    follow as sections anchored ``<anchor>-<field>``."""
    notes = field_descriptions(cls)
    lines = [f"{'#' * level} {title} {{#{anchor}}}", "", f"`{cls.__module__}.{cls.__qualname__}`"]
    summary = _summary(cls)
    lines += ["", summary] if summary else []
    lines += ["", "| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, type]] = []
    for field in dataclasses.fields(cls):
        sub = _nested_dataclass(cls, field.name)
        if sub is not None:
            nested.append((field.name, sub))
            lines.append(f"| `{prefix}{field.name}` | {sub.__name__} | see below | |")
            continue
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        cells = (str(kind), _yaml_value(_default(field)), notes.get(field.name, ""))
        kind_cell, default_cell, note_cell = (_cell(c) for c in cells)
        lines.append(f"| `{prefix}{field.name}` | `{kind_cell}` | {default_cell} | {note_cell} |")
    lines.append("")
    for name, sub in nested:
        key = f"{prefix}{name}"
        lines += render_dataclass(sub, f"{key}.", f"`{key}`", f"{anchor}-{name}", level)
    return lines


def _presets() -> list[str]:
    lines = [
        "## Presets",
        "",
        "A run resolves `defaults <- family preset <- task preset <- method preset <- overrides`"
        " and writes the result to its `config.yaml`. The presets shipped with diffil "
        "(`src/diffil/configs/`):",
        "",
    ]
    for kind in ("families", "tasks", "methods"):
        lines += [f"### {kind}", ""]
        for path in sorted((PRESETS / kind).glob("*.yaml")):
            body = path.read_text().rstrip()
            lines += [f'??? note "{kind}/{path.name}"', "", "    ```yaml"]
            lines += [f"    {line}" if line else "" for line in body.splitlines()]
            lines += ["    ```", ""]
    return lines


def configuration_reference() -> str:
    """The whole configuration reference page, as Markdown."""
    sys.path.insert(0, str(ROOT / "src"))
    from diffil.algorithms.config import TrainConfig
    from diffil.experts.maze import MazeExpertConfig
    from diffil.experts.rl_expert import ExpertConfig
    from diffil.planning import DiffuserConfig, DiffuserIRLConfig
    from diffil.rewards.registry import REWARD_MODELS, SCORE_MATCHING_MODELS

    lines = [
        "# Configuration reference",
        "",
        "<!-- generated by docs/hooks.py from the config dataclasses; do not edit -->",
        "",
        "Every setting of a run, with its type and its default *before presets*; the preset of "
        "the task and of the method (listed at the end of this page) change some of them. "
        "Set any of them with `--set KEY=VALUE` (the value is read as YAML, e.g. "
        "`--set ppo.net_arch=[64,64]`), in a YAML file, or as a nested dict in "
        "`diffil.train(..., overrides=...)`. A run's resolved settings are in its `config.yaml`.",
        "",
        "## Training runs: `diffil train`",
        "",
    ]
    lines += render_dataclass(TrainConfig, "", "Top level", "train")
    lines += [
        "### `reward.model` {#reward-model}",
        "",
        "The options of the method's reward model, by method:",
        "",
    ]
    models = {**REWARD_MODELS, **SCORE_MATCHING_MODELS}
    for name, (_model, config_cls) in models.items():
        title = f"`reward.model` of `{name}`"
        lines += render_dataclass(config_cls, "reward.model.", title, f"reward-model-{name}", 4)
    lines += ["## Experts: `diffil expert train`", ""]
    lines += render_dataclass(ExpertConfig, "", "Expert runs", "expert")
    lines += ["## Python-only settings", ""]
    for cls, what in ((DiffuserConfig, "Diffuser planner"), (DiffuserIRLConfig, "Diffuser-IRL"),
                      (MazeExpertConfig, "scripted maze expert")):  # fmt: skip
        title = f"`{cls.__name__}` ({what})"
        lines += render_dataclass(cls, "", title, cls.__name__.lower())
    lines += _presets()
    return "\n".join(lines) + "\n"


# ---- mkdocs hooks ------------------------------------------------------------------------------


def on_files(files: Any, config: Any) -> Any:
    """Add the generated configuration reference and the benchmark results to the site."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, CONFIG_PAGE, content=configuration_reference()))
    for path in sorted(RESULTS.rglob("*")):  # bench/ holds the suite reports and their pictures
        if path.suffix in (".md", ".png"):
            files.append(
                File(
                    f"results/{path.relative_to(RESULTS).as_posix()}",
                    src_dir=str(RESULTS.parent),
                    dest_dir=config["site_dir"],
                    use_directory_urls=config["use_directory_urls"],
                )
            )
    return files


if __name__ == "__main__":
    print(configuration_reference(), end="")
