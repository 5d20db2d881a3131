"""One registry for sequence layers and one for models.

Layers are registered with ``@register_layer("name")`` on a :class:`SequenceLayer` subclass and
built with ``build_layer(name, d_model, **kwargs)``. Models are registered with
``@register_model()`` on a builder function or class; the member (``core``, ``timeseries``, ...)
is taken from the top-level package that defines it.

Registration happens on import. :func:`list_layers`, :func:`build_layer`, :func:`get_model` and
:func:`list_models` first import every installed member's ``layers`` and ``models`` packages
(found through the ``recur.members`` entry point group), so a name is known however the user
got here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

__all__ = [
    "build_layer",
    "get_layer_class",
    "get_model",
    "installed_members",
    "list_layers",
    "list_models",
    "register_layer",
    "register_model",
]

_LAYERS: dict[str, type] = {}
_MODELS: dict[str, tuple[str, Callable[..., Any]]] = {}
_LOADED = False


def installed_members() -> dict[str, str]:
    """Map member name (``core``, ``timeseries``, ...) to its top-level import name."""
    members = {ep.name: ep.value for ep in entry_points(group="recur.members")}
    members.setdefault("core", "recur_core")
    return dict(sorted(members.items()))


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for package in installed_members().values():
        for sub in ("layers", "models"):
            try:
                importlib.import_module(f"{package}.{sub}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{sub}":
                    raise


def _unknown(kind: str, name: str, valid: list[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}")


def register_layer(name: str) -> Callable[[type], type]:
    """Class decorator: register a :class:`SequenceLayer` subclass under ``name``."""

    def decorate(cls: type) -> type:
        if name in _LAYERS and _LAYERS[name] is not cls:
            raise ValueError(f"layer {name!r} is already registered by {_LAYERS[name].__qualname__}")
        _LAYERS[name] = cls
        cls.layer_name = name
        return cls

    return decorate


def list_layers() -> list[str]:
    """Names of every registered layer, sorted."""
    _load_all()
    return sorted(_LAYERS)


def get_layer_class(name: str) -> type:
    """The layer class registered under ``name``."""
    _load_all()
    if name not in _LAYERS:
        raise _unknown("layer", name, sorted(_LAYERS))
    return _LAYERS[name]


def build_layer(name: str, d_model: int, **kwargs: Any):
    """Build the registered layer ``name`` with model width ``d_model``."""
    return get_layer_class(name)(d_model=d_model, **kwargs)


def register_model(name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register a model builder (function or class); the key defaults to its name."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__.lower()
        member = fn.__module__.split(".")[0].removeprefix("recur_")
        if key in _MODELS and _MODELS[key][1] is not fn:
            raise ValueError(f"model {key!r} is already registered in {_MODELS[key][1].__module__}")
        _MODELS[key] = (member, fn)
        return fn

    return decorate


def list_models(member: str | None = None) -> list[str]:
    """Names of registered models, optionally only those of one member (``"timeseries"``)."""
    _load_all()
    if member is not None and member not in installed_members():
        raise _unknown("member", member, list(installed_members()))
    return sorted(k for k, (m, _) in _MODELS.items() if member is None or m == member)


def get_model(name: str, **kwargs: Any):
    """Build the registered model ``name`` with keyword arguments ``kwargs``."""
    _load_all()
    if name not in _MODELS:
        raise _unknown("model", name, sorted(_MODELS))
    return _MODELS[name][1](**kwargs)
