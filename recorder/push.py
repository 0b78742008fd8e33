"""Copying recordings from one store to another: CI shards and agent sandboxes record into a
local SQLite file at full speed, then push what they kept to one shared PostgreSQL.

    with RecordingStore("test-results/recordings.db") as local, \\
         RecordingStore("postgresql://ci@db.internal/recordings") as shared:
        result = push(local, shared)
    print(result.pushed, result.skipped)

A recording is known everywhere by its uid: pushing it again finds it there and skips it,
so a push can be repeated (a retried CI job) without storing anything twice. The run a
recording is one of (a pytest session: its counts, its tests, its git commit) comes along,
under the same id, so `recorder runs` and `recorder report` read the same there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import RecorderError, RecordingExists, RecordingNotFound
from .exchange import copy_recording
from .model import as_utc
from .store import RUN_COUNTS, Recording, RecordingStore


@dataclass
class PushResult:
    pushed: list[dict[str, Any]] = field(default_factory=list)  # {id, uid, name, new_id, actions}
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {id, uid, name, reason}
    # Those that could not be copied (data that fails the checks, a write the destination
    # refused): {id, uid, name, reason}. The others are pushed all the same.
    failed: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"pushed": self.pushed, "skipped": self.skipped, "failed": self.failed}


def push(source: RecordingStore, destination: RecordingStore, *, since: datetime | None = None,
         ids: list[int] | None = None, progress: Callable[[int, int, Recording], None] | None = None) -> PushResult:
    """Copy the ended recordings of ``source`` that ``destination`` does not have yet (by
    uid), oldest first: those started at or after ``since`` (UTC unless it says otherwise),
    or only ``ids``.

    A recording still being recorded is skipped (push it once it has ended); one that cannot
    be copied (its data fails the checks a restore makes, the destination refuses a write)
    is listed in ``failed`` with the reason, and the others are pushed all the same.
    ``progress(done, total, recording)`` is called before each one.
    """
    if ids is not None:
        chosen = [source.get(recording_id) for recording_id in ids]
    else:
        chosen = sorted(source.list(), key=lambda recording: recording.id)
    if since is not None:
        # (a time without an offset, which older imports stored, is taken as UTC)
        chosen = [r for r in chosen if as_utc(datetime.fromisoformat(r.started_at)) >= as_utc(since)]
    result = PushResult()
    runs_copied: set[str] = set()
    for done, recording in enumerate(chosen):
        if progress is not None:
            progress(done, len(chosen), recording)
        what = {"id": recording.id, "uid": recording.uid, "name": recording.name}
        if recording.is_recording:
            result.skipped.append({**what, "reason": "still recording"})
            continue
        try:
            there = destination.get_by_uid(recording.uid) if recording.uid else None
        except RecordingNotFound:
            there = None
        if there is not None:
            result.skipped.append({**what, "reason": f"already there as recording {there.id}"})
            continue
        try:
            if recording.run_id and recording.run_id not in runs_copied:
                copy_run(source, destination, recording.run_id)
                runs_copied.add(recording.run_id)
            copy = copy_recording(recording, destination)
        except RecordingExists as exists:  # pushed by another push meanwhile
            there_id = exists.recording_id
            result.skipped.append({**what, "reason": "already there" + (f" as recording {there_id}"
                                                                         if there_id is not None else "")})
            continue
        except (ValueError, RecorderError) as exc:  # this one cannot be copied: said, and the others go on
            result.failed.append({**what, "reason": str(exc)})
            continue
        result.pushed.append({**what, "new_id": copy.id, "actions": copy.action_count})
    if progress is not None and chosen:
        progress(len(chosen), len(chosen), chosen[-1])
    return result


def copy_run(source: RecordingStore, destination: RecordingStore, run_id: str) -> None:
    """Store the run ``run_id`` of ``source`` in ``destination`` under the same id: its start,
    end and counts, and its tests. One there already is brought up to date, not doubled."""
    run = source.get_run(run_id)
    destination.start_run(run.id, started_at=run.started_at, workers=run.workers, git_commit=run.git_commit,
                          git_branch=run.git_branch, ci_name=run.ci_name, ci_build_url=run.ci_build_url,
                          metadata=run.metadata)
    if run.ended_at is not None:
        destination.finish_run(run.id, exit_status=run.exit_status, workers=run.workers, ended_at=run.ended_at,
                               **{count: getattr(run, count) for count in RUN_COUNTS})
    tests = source.run_tests(run.id)
    if tests:
        destination.record_run_tests(run.id, tests)
