"""Writing a file whole: beside the old one, then renamed over it.

A reader of the file (another process, or a server that mapped a model into memory) then sees
the old file or the new one, never half of one; a write that fails (a full disk) leaves the old
file and removes its own scrap. The caches and the trained models are all written this way.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable


def write_whole(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Calls `write` with a binary file beside `path` (named for this process, so two
    processes never share one) and renames it over `path`; on any error the partial file is
    removed and the error raised, `path` untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        with open(part, "wb") as f:
            write(f)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
