"""recur_core: one contract for every sequence layer, the registries, and the training engine.

Importing ``recur_core`` is cheap: the names below load on first use, so ``recur list`` and
the CLIs start fast.
"""

from recur_core.lazy import lazy_exports

__version__ = "0.1.0"

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
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
    },
)
