"""Models registered by recur_text. Importing this package registers them.

Every module in this package is imported here, so a model family's file registers its builders
(``@register_model``) by being in the package: the text papers are written in parallel, each in
its own files.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
