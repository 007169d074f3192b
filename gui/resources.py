"""Where the app's bundled files live (also inside a frozen PyInstaller build)."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
