"""The documentation: the generated configuration reference and the front page's links.

The site itself is built by ``mkdocs build --strict`` in scripts/test.sh (a broken link or a
missing page fails CI there)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def leaf_keys(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field]]:
    """Dotted keys of every non-dataclass field of ``cls``, nested dataclasses walked."""
    import typing

    hints = typing.get_type_hints(cls)
    keys = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            keys += leaf_keys(hint, f"{prefix}{field.name}.")
        else:
            keys.append((f"{prefix}{field.name}", field))
    return keys


def test_configuration_reference_lists_every_setting_with_its_default(hooks) -> None:
    from diffil.algorithms.config import TrainConfig
    from diffil.experts.rl_expert import ExpertConfig
    from diffil.rewards.registry import REWARD_MODELS, SCORE_MATCHING_MODELS

    page = hooks.configuration_reference()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([\w.]+)` \|.*$", page, re.M)}
    for key, _field in leaf_keys(TrainConfig) + leaf_keys(ExpertConfig):
        assert key in rows, key
    assert rows["ppo.n_steps"].startswith("| `ppo.n_steps` | `int` | `256` |")
    assert "| `demos` | `str \\| None` | `null` | dataset path;" in rows["demos"]
    models = {**REWARD_MODELS, **SCORE_MATCHING_MODELS}
    for name, (_model, config_cls) in models.items():
        assert f"{{#reward-model-{name}}}" in page
        for field in dataclasses.fields(config_cls):
            assert f"`reward.model.{field.name}`" in page, (name, field.name)
    # descriptions come from the docstring's Attributes section, inherited ones included
    assert "| `reward.model.shared_noise` | `bool` | `true` | use the same (t, eps)" in page
    assert "| `reward.model.lr` | `float` | `0.0001` | Adam learning rate. |" in page
    for preset in ("families/locomotion.yaml", "tasks/pointmaze-medium.yaml", "methods/drail.yaml"):
        assert f'??? note "{preset}"' in page


def test_field_descriptions_come_from_comments_and_docstrings(hooks) -> None:
    @dataclasses.dataclass
    class Base:
        """Base.

        Attributes:
            a: from the docstring,
                over two lines.
        """

        a: int = 1  # a trailing comment loses to the docstring

    @dataclasses.dataclass
    class Child(Base):
        # a comment above the field
        b: tuple[int, ...] = (2, 3)
        c: str | None = None  # a trailing comment

    notes = hooks.field_descriptions(Child)
    assert notes == {
        "a": "from the docstring, over two lines.",
        "b": "a comment above the field",
        "c": "a trailing comment",
    }
    table = "\n".join(hooks.render_dataclass(Child, "x.", "Child", "child"))
    assert "| `x.b` | `tuple[int, ...]` | `[2, 3]` | a comment above the field |" in table
    assert "| `x.c` | `str \\| None` | `null` | a trailing comment |" in table


def test_readme_is_a_front_page_whose_commands_and_links_are_real() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 180
    assert "bash scripts/quickstart.sh" in readme and "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert "mkdocs build --strict" in (ROOT / "scripts" / "test.sh").read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert len(links) > 10
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
