"""Writing a file the user asked for (an export, a viewer page, a report) whole or not at all.

A full disk or a killed process must not leave a truncated JSON cassette or an empty HTML
page where an earlier good one was: the bytes go to a temporary file beside the target,
which replaces it only once written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import RecorderError


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write to; it becomes ``target`` when the block ends without an
    error, and is removed otherwise. A failure to write is a RecorderError naming ``target``."""
    target = Path(target)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # a missing directory, say
        raise RecorderError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # as a file created with open() would be
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise RecorderError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write(target: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``target`` whole, or leave ``target`` as it was."""
    with replacing(target) as temporary:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
