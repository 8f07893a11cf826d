"""Optional dependencies, imported only by the sink that needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from genmon.errors import MissingExtraError


def import_extra(module: str, package: str, extra: str) -> ModuleType:
    """Import ``module`` or raise ``MissingExtraError`` naming ``pip install 'genmon[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(package, extra) from error
