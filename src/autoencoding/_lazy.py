"""Public names of a package that load on first use (PEP 562), so the command line's help and
argument errors answer without starting torch or scikit-learn."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``names`` map to the relative
    module defining each; a loaded name is cached in the package's namespace."""
    namespace = vars(importlib.import_module(package))

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = vars(importlib.import_module(names[name], package))[name]
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
