"""Importing a module afresh, in-process, without disturbing the copy the other tests use."""

from __future__ import annotations

import importlib.util
import pkgutil
import sys
from types import ModuleType


def modules_of(package: str) -> list[str]:
    """Every module of an installed package (its subpackages included), by dotted name."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not a package"
    found = [package]
    for info in pkgutil.walk_packages(spec.submodule_search_locations, prefix=f"{package}."):
        found.append(info.name)
    return sorted(found)


def execute_fresh(name: str) -> ModuleType:
    """Run module `name`'s top level again in a new module object, as a first import would. sys.modules keeps its
    copy afterwards (unlike importlib.reload, which would redefine the classes other tests hold, e.g. SettingsError)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, f"no module {name}"
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # while it runs, as importing does (dataclasses look their module up there)
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
    return module
