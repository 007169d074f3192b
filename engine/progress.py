"""The one progress event every engine generator yields between its results.

A long computation yields `Progress` items while it works and typed result dataclasses when
it has something to show; consumers tell them apart with `isinstance`, never by a bare int
or a tuple's shape. Progress types that also carry partial results (learning curves so far,
a loss) are their own dataclasses beside the result they lead to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """`done` of `total` units of work (columns, steps, points…); `what`: what is being done."""

    done: int
    total: int
    what: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


__all__ = ["Progress"]
