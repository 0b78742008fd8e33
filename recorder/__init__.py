"""recorder: record what a Playwright page did into SQLite (or PostgreSQL), then list, show,
view, replay and push it.

    from recorder import record

    with record(page, db="recordings.db", name="checkout_flow") as page:
        page.goto("http://127.0.0.1:8000/")
        page.get_by_role("button", name="Save").click()
    print(page.recording.id, page.recording.status)
"""

from .browser import launch_options
from .errors import DatabaseError, ReadOnlyStore, RecorderError, RecordingClosed, RecordingExists, RecordingNotFound
from .instrument import record
from .takeover import takeover
from .replay import ReplayReport, StepResult, replay
from .model import ACTION_TYPES, AgentRun, Owner, SandboxSession
from .store import Action, Recording, RecordingStore, RecorderWarning
from .async_store import AsyncRecording, AsyncRecordingStore
from .push import PushResult, push

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AgentRun",
    "AsyncRecording",
    "AsyncRecordingStore",
    "DatabaseError",
    "ReadOnlyStore",
    "RecorderError",
    "RecorderWarning",
    "Recording",
    "RecordingClosed",
    "RecordingExists",
    "RecordingNotFound",
    "RecordingStore",
    "Owner",
    "PushResult",
    "SandboxSession",
    "ReplayReport",
    "StepResult",
    "launch_options",
    "push",
    "record",
    "replay",
    "takeover",
]
