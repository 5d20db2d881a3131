"""Shipped recipes: ``packages/<member>/configs/<model>/<variant>.yaml``, found without importing torch.

A recipe's name is its path under ``configs/`` without the suffix (``arnet/ar3_sparse``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from recur_core.registry import installed_members

__all__ = ["find_recipe", "list_recipes"]


def list_recipes(member: str | None = None) -> dict[str, Path]:
    """Recipe name -> YAML path, for one member or all installed members."""
    found: dict[str, Path] = {}
    for name, package in installed_members().items():
        if member is not None and name != member:
            continue
        spec = importlib.util.find_spec(f"{package}.configs")
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.yaml")):
                found.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
    return dict(sorted(found.items()))


def find_recipe(name_or_path: str, member: str | None = None) -> tuple[str, Path]:
    """Resolve ``--config``: a YAML path, or a recipe name (this member's first, then any member's).

    Returns the recipe name (for the run folder) and the YAML path.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem, path
    own = list_recipes(member) if member else {}
    every = list_recipes()
    key = name_or_path.removesuffix(".yaml")
    if key in own:
        return key, own[key]
    if key in every:
        return key, every[key]
    raise ValueError(
        f"--config {name_or_path!r} is neither a YAML file nor a shipped recipe; "
        f"recipes: {', '.join(own or every) or '(none installed)'}"
    )
