"""A minimal, Qt-free event emitter: models announce changes, views subscribe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """A list of callbacks; `emit` calls each with the given arguments."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for cb in list(self._callbacks):
            cb(*args)
