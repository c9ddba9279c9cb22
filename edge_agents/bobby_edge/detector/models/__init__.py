"""Model families, found through a registry keyed by name (see `base`), as frame sources are.

A new family is one module in this package that defines a `ModelFamily` subclass and
decorates it with `@register`: every module here is imported with the package (in name
order, the order `recognise` tries them), none needs listing.
"""

import importlib
import pkgutil

from .base import FAMILIES, Box, ModelError, ModelFamily, ModelOptions, Person, recognise, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FAMILIES", "Box", "ModelError", "ModelFamily", "ModelOptions", "Person", "recognise", "register"]
