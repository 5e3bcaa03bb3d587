"""All table definitions. Every module in this package registers its tables on the one ``Base.metadata``.

Adding a table: write it in a module here (it is imported automatically), then run ``make migration``.
"""

from __future__ import annotations

import importlib
import pkgutil

from jikimi.store.schema.base import Base

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["Base"]
