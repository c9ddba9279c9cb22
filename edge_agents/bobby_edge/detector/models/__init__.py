"""Model families, found through a registry keyed by name (see `base`).

Importing this package registers every family; a new family is one module here plus
its import below.
"""

from . import segmentation, ssd
from .base import FAMILIES, Box, ModelError, ModelFamily, ModelOptions, Person, recognise, register

__all__ = [
    "FAMILIES",
    "Box",
    "ModelError",
    "ModelFamily",
    "ModelOptions",
    "Person",
    "recognise",
    "register",
    "segmentation",
    "ssd",
]
