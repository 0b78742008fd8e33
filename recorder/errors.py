"""Errors recorder raises. Each message names the problem and, where it can, the fix."""

from __future__ import annotations


class RecorderError(Exception):
    """Base class of every error recorder raises on purpose."""


class DatabaseError(RecorderError):
    """The database file is missing, unreadable, not a recorder database, or too new."""


class RecordingNotFound(RecorderError, LookupError):
    """No recording (or blob) with the given id or key is in the database."""


class ReadOnlyStore(RecorderError):
    """A write to a store opened read-only (``RecordingStore(..., readonly=True)``)."""


class RecordingClosed(RecorderError):
    """An action was recorded after the recording completed or failed."""


class RunNotFound(RecorderError, LookupError):
    """No run (pytest session) with the given id is in the database."""


class RecordingExists(RecorderError):
    """A recording with the same uid is in the database already (``restore(..., keep_uid=True)``,
    ``recorder push``); ``recording_id`` is its id there."""

    def __init__(self, message: str, recording_id: int | None = None) -> None:
        super().__init__(message)
        self.recording_id = recording_id
