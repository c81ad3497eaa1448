"""Helpers shared by tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def tree(root: str | os.PathLike[str]) -> dict[str, str]:
    """Every file under ``root`` (relative path → sha256 of its content)."""
    out = {}
    root = Path(root)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = "dir"
    return out
