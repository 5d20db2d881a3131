"""recur_core: one contract for every sequence layer, the registries, and the training engine.

Importing ``recur_core`` is cheap: the names below load on first use, so ``recur list`` and
the CLIs start fast.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "build_layer": "recur_core.registry",
    "get_layer_class": "recur_core.registry",
    "list_layers": "recur_core.registry",
    "register_layer": "recur_core.registry",
    "get_model": "recur_core.registry",
    "list_models": "recur_core.registry",
    "register_model": "recur_core.registry",
    "SequenceLayer": "recur_core.layers.base",
    "Bidirectional": "recur_core.layers.bidirectional",
    "SequenceModel": "recur_core.models.sequence_model",
    "check_layer_contract": "recur_core.testing",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'recur_core' has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return __all__
