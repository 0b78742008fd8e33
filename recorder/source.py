"""Where the user's code made a recorded call, and that code's text.

An action's ``metadata.source`` is ``{"file", "line", "function"}`` of the first frame on
the call stack outside recorder, Playwright and the standard library's machinery that runs
code (asyncio, threading, concurrent.futures): the test, or the helper it called, or the
agent's step. The file's text is kept with the recording once (``Recording.sources()``),
so a viewer shows the lines around the call after the code has changed or gone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

MAX_SOURCE_CHARS = 2_000_000  # a generated file this big is not worth keeping


def _package_dir(module: str) -> str | None:
    found = sys.modules.get(module)
    path = getattr(found, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


_RECORDER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_STDLIB_RUNNERS = (os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep,
                   os.path.dirname(os.path.abspath(concurrent.futures.__file__)) + os.sep,
                   os.path.abspath(threading.__file__))
_SKIPPED: tuple[str, ...] | None = None


def _skipped() -> tuple[str, ...]:
    """Paths whose frames are not the user's: recorder's and Playwright's (and the greenlet
    that drives Playwright's sync API), and the standard library's machinery that runs code
    for it (asyncio's event loop and tasks, threads, executors): a call with only those
    above it has no line of the user's to show."""
    global _SKIPPED
    if _SKIPPED is None:
        dirs = [_RECORDER_DIR, *(d for d in map(_package_dir, ("playwright", "greenlet")) if d)]
        _SKIPPED = (*dirs, *_STDLIB_RUNNERS)
    return _SKIPPED


def call_site(depth: int = 1) -> dict[str, Any] | None:
    """The first frame above the caller (``depth`` frames up) that is the user's (see
    ``_skipped``), or None when there is none (recorder's own code made the call)."""
    skipped = _skipped()
    frame: FrameType | None = sys._getframe(depth + 1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(skipped) and not path.startswith("<frozen "):
            absolute = os.path.abspath(path) if not path.startswith("<") else path
            if not absolute.startswith(skipped):
                return {"file": absolute, "line": frame.f_lineno, "function": frame.f_code.co_name}
        frame = frame.f_back
    return None


def read_source(path: str) -> str | None:
    """A source file's text, or None when it cannot be read (a REPL's ``<stdin>``, deleted,
    not text, too big)."""
    try:
        file = Path(path)
        if not file.is_file() or file.stat().st_size > MAX_SOURCE_CHARS * 4:
            return None
        text = file.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None
    return text if len(text) <= MAX_SOURCE_CHARS else None
