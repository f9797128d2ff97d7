"""Writing a file so that a crash, a kill or a full disk never leaves a torn one.

Every file the package writes in place (config.json, best.json, caches, reports, the skip
list) goes through `atomic_write_text`: the text goes to a temporary file beside the
target, is flushed to disk, and is renamed over the target in one step.
"""

from __future__ import annotations

import json
import os
from typing import Any


def atomic_write_text(path: str, text: str) -> str:
    """Writes `text` to `path` atomically (creating its folder) and returns `path`.

    On any failure, disk full included, the old file is untouched and no temporary file is
    left behind; the error propagates.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_json(path: str, value: Any, indent: int | None = 2) -> str:
    """Writes `value` as JSON (sorted keys, a final newline) to `path` atomically."""
    return atomic_write_text(path, json.dumps(value, indent=indent, sort_keys=True) + "\n")


def printable_path(path: str) -> str:
    """`path` fit for a one-line message: control characters (a newline in a file name)
    and bytes that are not UTF-8 are shown as backslash escapes; other names unchanged."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)
