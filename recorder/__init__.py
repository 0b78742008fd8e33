"""recorder: record what a Playwright page did into SQLite, then list, show and view it.

    from recorder import record

    with record(page, db="recordings.db", name="checkout_flow") as page:
        page.goto("http://127.0.0.1:8000/")
        page.get_by_role("button", name="Save").click()
    print(page.recording.id, page.recording.status)
"""

from .browser import launch_options
from .errors import DatabaseError, RecorderError, RecordingClosed, RecordingNotFound
from .instrument import record
from .takeover import takeover
from .replay import ReplayReport, StepResult, replay
from .model import ACTION_TYPES, AgentRun, Owner, SandboxSession
from .store import Action, Recording, RecordingStore, RecorderWarning

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AgentRun",
    "DatabaseError",
    "RecorderError",
    "RecorderWarning",
    "Recording",
    "RecordingClosed",
    "RecordingNotFound",
    "RecordingStore",
    "Owner",
    "SandboxSession",
    "ReplayReport",
    "StepResult",
    "launch_options",
    "record",
    "replay",
    "takeover",
]
