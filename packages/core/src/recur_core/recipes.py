"""Shipped recipes: ``packages/<member>/configs/<model>/<variant>.yaml``, found without importing torch.

A recipe's name is its path under ``configs/`` without the suffix (``arnet/ar3_sparse``). Names are
unique across the installed members: ``recur-core fit --config mqar/gru`` must mean one file, so two
members shipping the same name is an error (:class:`RecipeClash`) rather than one silently hiding
the other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from recur_core.registry import installed_members

__all__ = ["RecipeClash", "find_recipe", "list_recipes"]


class RecipeClash(ValueError):
    """Two installed members ship a recipe of the same name."""


def _member_recipes(package: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    spec = importlib.util.find_spec(f"{package}.configs")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(root).rglob("*.yaml")):
            found.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
    return found


def list_recipes(member: str | None = None) -> dict[str, Path]:
    """Recipe name -> YAML path, for one member or all installed members.

    Raises:
        RecipeClash: (all members) two members ship a recipe of the same name; the message names both.
    """
    found: dict[str, Path] = {}
    owner: dict[str, str] = {}
    for name, package in installed_members().items():
        if member is not None and name != member:
            continue
        for recipe, path in _member_recipes(package).items():
            if recipe in found:
                raise RecipeClash(
                    f"recipe {recipe!r} is shipped by two members, {owner[recipe]} ({found[recipe]}) "
                    f"and {name} ({path}); rename one of them"
                )
            found[recipe], owner[recipe] = path, name
    return dict(sorted(found.items()))


def find_recipe(name_or_path: str, member: str | None = None) -> tuple[str, Path]:
    """Resolve ``--config``: a YAML path, or a recipe name (this member's first, then any member's).

    Returns the recipe name (for the run folder) and the YAML path.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem, path
    key = name_or_path.removesuffix(".yaml")
    own = list_recipes(member) if member else {}
    if key in own:
        return key, own[key]
    every = list_recipes()
    if key in every:
        return key, every[key]
    raise ValueError(
        f"--config {name_or_path!r} is neither a YAML file nor a shipped recipe; "
        f"recipes: {', '.join(own or every) or '(none installed)'}"
    )
