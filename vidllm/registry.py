"""One registry type for everything pluggable: backends, perception tools, benchmarks, model
families and their token profiles, baselines, result readers, ...

Entries are lazy ``"module:Object"`` strings so that heavy packages load only when an entry is
chosen, or the objects themselves (classes, or instances such as a ``ModelProfile``). Every
registry checks what it loads against a base class and, on a miss, suggests the closest names.

>>> from vidllm.registry import Registry
>>> r = Registry("colour", base=object)
>>> r.register("red", "builtins:str")
>>> r.names()
['red']
>>> r.get("red")
<class 'str'>
"""

from __future__ import annotations

import difflib
import importlib
from typing import Generic, TypeVar

from vidllm.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, base: type[T]):
        self.kind = kind
        self.base = base
        self._entries: dict[str, str | type[T]] = {}

    def register(self, name: str, target: str | type[T]) -> None:
        if name in self._entries and self._entries[name] != target:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> type[T]:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" - did you mean {', '.join(close)}?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})"
            )
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        if isinstance(target, type) and not issubclass(target, self.base) or \
                not isinstance(target, type) and not isinstance(target, self.base):
            raise RegistryError(f"{self.kind} {name!r} is not a {self.base.__name__}")
        return target

    # read like a mapping of name -> entry, so tables can be registries
    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self.names()]
