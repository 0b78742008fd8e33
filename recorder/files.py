"""Writing a file the user asked for (an export, a viewer page, a report) whole or not at all.

A full disk or a killed process must not leave a truncated JSON cassette or an empty HTML
page where an earlier good one was: the bytes go to a temporary file beside the target,
which replaces it only once written. A target that is not a regular file (``-o
/dev/stdout``, a named pipe) is written to as it is, and a symbolic link's target is the
file replaced, the link kept.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import RecorderError


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A path to write to; the block's writes become ``target`` when it ends without an
    error, and are removed otherwise. A failure to write is a RecorderError naming ``target``."""
    shown = Path(target)
    real = Path(os.path.realpath(shown))  # through a symbolic link, to the file it names
    try:
        existing = real.stat()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise RecorderError(f"cannot write {shown}: {exc.strerror or exc}") from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with _naming(shown):
            yield real  # a device or a pipe: nothing to replace, and nothing to keep whole
        return
    temporary = real.parent / f".{real.name}.{secrets.token_hex(4)}.part"
    with _naming(shown):
        # Created as open() would create the target (the umask applies), then given the
        # mode the file it replaces had: an export of a private recording stays private.
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        with _naming(shown):
            yield temporary
            if existing is not None:
                shutil.copymode(real, temporary)
            os.replace(temporary, real)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write(target: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``target`` whole, or leave ``target`` as it was."""
    with replacing(target) as path:
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """An OSError in the block as a RecorderError that names the file the user gave."""
    try:
        yield
    except OSError as exc:
        raise RecorderError(f"cannot write {target}: {exc.strerror or exc}") from None
