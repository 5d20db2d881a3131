"""Packages whose public names load on first use, so that importing them (``recur list``,
``recur data list``, the catalogue entry points) does not import torch."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, sources: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in module ``sources[n]``.

    .. code-block:: python

        __all__, __getattr__, __dir__ = lazy_exports(__name__, {"ETTDataset": "recur_timeseries.data.ett"})
    """
    names = sorted(sources)

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(sources[name]), name)

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
