"""Where recordings are kept: one storage interface, one engine per folder.

    engine.py       what differs between engines (connection, migrations, a few SQL expressions)
    sqlite/         the embedded default: one file, no server
    postgres/       a PostgreSQL server, for many machines (pip install 'recorder[postgres]')
    repository.py   every SQL statement on the recordings, actions, events, sources, resources
    blobstore.py    the blobs table: content-addressed, delta-compressed, tiled screenshots
    writer.py       the thread that owns the connection; every store call goes through it
    validate.py     checks on a recording read from elsewhere before it is stored

recorder/store.py (RecordingStore, Recording) is the model on top; nothing else in
recorder issues SQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatabaseError
from ..urls import is_libpq_keyword_form
from .engine import Engine, redact

URL_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(target: object) -> bool:
    """Whether ``target`` names a database server (a ``postgresql://`` URL), not a file."""
    return isinstance(target, str) and target.lower().startswith(URL_SCHEMES)


def open_engine(target: str | os.PathLike[str], readonly: bool = False) -> Engine:
    """The engine for a SQLite file path or a ``postgresql://`` URL (nothing is opened yet);
    ``readonly``: its connections write nothing (see ``Engine.readonly``)."""
    if is_server_url(target):
        try:
            from .postgres import PostgresEngine
        except ImportError as exc:
            raise DatabaseError(
                f"{redact(str(target))} is a PostgreSQL URL, but PostgreSQL support is not installed"
                f" ({exc}); install it with: pip install 'recorder[postgres]'") from None
        return PostgresEngine(str(target), readonly)
    if isinstance(target, str) and is_libpq_keyword_form(target):
        # libpq's other form: taken as a file name, it would make a SQLite file of that name.
        raise DatabaseError(f"{redact(target)} is a libpq keyword/value connection string; recorder takes a"
                            " PostgreSQL database as a URL: postgresql://USER:PASSWORD@HOST:PORT/DBNAME")
    if isinstance(target, str) and "://" in target:
        scheme = target.split("://", 1)[0]
        raise DatabaseError(f"unknown database URL scheme {scheme!r} in {redact(target)}: use a SQLite file path"
                            " or a postgresql:// URL")
    from .sqlite import SQLiteEngine

    return SQLiteEngine(Path(target), readonly)
