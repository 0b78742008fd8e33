"""Every SQL statement recorder runs on the rows of its tables, written once for all engines.

The model (recorder/store.py: ``RecordingStore``, ``Recording``) decides what to write and
when; these functions say how, each taking the writer thread's connection. Parameters are
``?``; the few expressions that differ between engines come from the engine
(recorder/storage/engine.py). The blobs table has a module of its own (blobstore.py).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import RecordingExists
from .blobstore import BLOB_USES, BlobStore
from .engine import Connection, Engine, storable_json
from .queries import QueryFlow, run

# Where a recording names a blob it uses: (table, column).
_BLOB_USE_COLUMNS = (("actions", "screenshot_key"), ("actions", "dom_snapshot_key"), ("resources", "blob_key"),
                     ("sources", "blob_key"))
ACTION_SNAPSHOT_COLUMNS = _BLOB_USE_COLUMNS[:2]
EVENT_COLUMNS = ("kind", "action_sequence", "page_index", "time_ms")
ACTION_COLUMNS = ("id", "type", "sequence", "timestamp_ms", "duration_ms", "selector", "value", "url", "status",
                  "error", "screenshot_key", "dom_snapshot_key", "metadata")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    return storable_json(value)


def row_dict(row: Any) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}


class Repository:
    """The recordings, actions, events, sources and resources tables."""

    def __init__(self, engine: Engine, blob_store: BlobStore) -> None:
        self.engine = engine
        self.blobs = blob_store

    # -- recordings ------------------------------------------------------------------

    def insert_recording(self, conn: Connection, row: dict[str, Any], unless_uid_taken: bool = False) -> int | None:
        """Insert a recording; its id. ``unless_uid_taken``: None, nothing inserted, when a
        recording with its uid is there, or is being inserted by another process meanwhile
        (which the insert waits for), rather than a refused duplicate."""
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        unless = " ON CONFLICT (uid) DO NOTHING" if unless_uid_taken else ""
        found = conn.execute(f"INSERT INTO recordings ({columns}) VALUES ({marks}){unless} RETURNING id",
                             tuple(row.values())).fetchone()
        return None if found is None else int(found[0])

    # Reads are query flows (storage/queries.py): the same for the writer's connection and
    # an async one.

    def recording(self, recording_id: int, owner: dict[str, str] | None = None) -> QueryFlow[Any]:
        where, params = _owner_filter(owner)
        found = yield (f"SELECT * FROM recordings WHERE id = ? AND {where}", (recording_id, *params))
        return found[0] if found else None

    def recording_by_uid(self, uid: str, owner: dict[str, str] | None = None) -> QueryFlow[Any]:
        where, params = _owner_filter(owner)
        found = yield (f"SELECT * FROM recordings WHERE uid = ? AND {where}", (uid, *params))
        return found[0] if found else None

    def recordings(self, owner: dict[str, str] | None = None, status: str | Sequence[str] | None = None,
                   limit: int | None = None, run_id: str | None = None) -> QueryFlow[list[Any]]:
        where, params = _owner_filter(owner)
        sql = f"SELECT * FROM recordings WHERE {where}"
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        if isinstance(status, str):
            status = (status,)
        if status:
            sql += f" AND status IN ({', '.join('?' * len(status))})"
            params.extend(status)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return (yield (sql, params))

    def recording_ids_started_before(self, conn: Connection, cutoff: str, statuses: Sequence[str],
                                     owner: dict[str, str] | None = None) -> list[int]:
        where, params = _owner_filter(owner)
        return [row[0] for row in conn.execute(
            f"SELECT id FROM recordings WHERE started_at < ? AND status IN ({', '.join('?' * len(statuses))})"
            f" AND {where}", (cutoff, *statuses, *params)).fetchall()]

    def finish_recording(self, conn: Connection, recording_id: int, status: str, duration_ms: int | None,
                         stamp: str, error: str | None) -> None:
        column = "completed_at" if status == "completed" else "failed_at"
        conn.execute(f"UPDATE recordings SET status = ?, duration_ms = ?, {column} = ?, error = ? WHERE id = ?",
                     (status, duration_ms, stamp, error, recording_id))

    def merge_metadata(self, conn: Connection, recording_id: int, values: dict[str, Any]) -> None:
        conn.execute(f"UPDATE recordings SET metadata = {self.engine.json_merge('metadata')} WHERE id = ?",
                     (dumps(values), recording_id))

    def note_losses(self, conn: Connection, losses: dict[int, dict[str, int]]) -> None:
        """Add to each recording's ``metadata.lost_writes`` what it lost while the database
        was away (``{"actions": 3, "snapshots": 10}``)."""
        for recording_id, kinds in losses.items():
            found = run(conn, self.recording(recording_id))
            if found is None:
                continue
            before = json.loads(found["metadata"] or "{}").get("lost_writes") or {}
            total = {kind: int(before.get(kind, 0)) + n for kind, n in kinds.items()}
            self.merge_metadata(conn, recording_id, {"lost_writes": {**before, **total}})

    def mark_interrupted(self, conn: Connection) -> list[int]:
        """Mark ``interrupted`` the recordings whose recording process is gone; return their ids.

        Their duration runs to the end of their last recorded action.
        """
        candidates = conn.execute("SELECT id, recorder_process FROM recordings WHERE status = 'recording'").fetchall()
        dead = [row[0] for row in candidates if not _is_running(row[1])]
        for recording_id in dead:
            conn.execute(
                "UPDATE recordings SET status = 'interrupted', interrupted_at = ?,"
                " duration_ms = (SELECT max(timestamp_ms + coalesce(duration_ms, 0)) FROM actions"
                "                WHERE recording_id = ?)"
                " WHERE id = ? AND status = 'recording'",
                (now_iso(), recording_id, recording_id),
            )
        return dead

    def delete_recording(self, conn: Connection, recording_id: int, owner: dict[str, str] | None = None) -> int | None:
        """Delete a recording and everything of it, then the blobs no one else uses; the
        number of blobs freed, or None when there is no such recording (of ``owner``)."""
        where, params = _owner_filter(owner)
        if not conn.execute(f"SELECT 1 FROM recordings WHERE id = ? AND {where}", (recording_id, *params)).fetchone():
            return None
        keys = {row[0] for row in conn.execute(f"SELECT key FROM ({BLOB_USES}) AS uses WHERE recording_id = ?",
                                               (recording_id,)) if row[0]}
        for table in ("events", "sources", "resources", "actions"):
            conn.execute(f"DELETE FROM {table} WHERE recording_id = ?", (recording_id,))
        conn.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
        return self.blobs.delete_unused(conn, keys)

    # -- actions ---------------------------------------------------------------------

    def insert_action(self, conn: Connection, values: dict[str, Any]) -> None:
        """One action's row (``values`` by column) and its recording's action count."""
        conn.execute(
            f"INSERT INTO actions ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
        conn.execute("UPDATE recordings SET action_count = action_count + 1 WHERE id = ?", (values["recording_id"],))

    def set_snapshot_keys(self, conn: Connection, recording_id: int, sequence: int, screenshot_key: str | None,
                          dom_key: str | None) -> None:
        conn.execute(
            "UPDATE actions SET screenshot_key = coalesce(?, screenshot_key), dom_snapshot_key = ?"
            " WHERE recording_id = ? AND sequence = ?", (screenshot_key, dom_key, recording_id, sequence))

    def set_screenshot(self, conn: Connection, recording_id: int, sequence: int, key: str,
                       metadata: dict[str, Any]) -> bool:
        """Point an action at its screenshot; False when its row is not written yet."""
        return bool(conn.execute(
            f"UPDATE actions SET screenshot_key = ?, metadata = {self.engine.json_merge('metadata')}"
            " WHERE recording_id = ? AND sequence = ?", (key, dumps(metadata), recording_id, sequence)).rowcount)

    def set_dom_snapshot(self, conn: Connection, recording_id: int, sequence: int, key: str,
                         metadata: dict[str, Any] | None = None) -> None:
        if metadata:
            conn.execute(f"UPDATE actions SET dom_snapshot_key = ?, metadata = {self.engine.json_merge('metadata')}"
                         " WHERE recording_id = ? AND sequence = ? AND dom_snapshot_key IS NULL",
                         (key, dumps(metadata), recording_id, sequence))
        else:
            conn.execute("UPDATE actions SET dom_snapshot_key = ? WHERE recording_id = ? AND sequence = ?"
                         " AND dom_snapshot_key IS NULL", (key, recording_id, sequence))

    def merge_action_metadata(self, conn: Connection, recording_id: int, sequence: int,
                              metadata: dict[str, Any], *, unless_snapshotted: bool = False) -> None:
        """Merge ``metadata`` into an action's; ``unless_snapshotted``: only while it has no DOM
        snapshot (the reason it has none, which a snapshot taken meanwhile makes untrue)."""
        only = " AND dom_snapshot_key IS NULL" if unless_snapshotted else ""
        conn.execute(f"UPDATE actions SET metadata = {self.engine.json_merge('metadata')}"
                     f" WHERE recording_id = ? AND sequence = ?{only}", (dumps(metadata), recording_id, sequence))

    def actions(self, recording_id: int, after_sequence: int | None,
                limit: int | None) -> QueryFlow[list[dict[str, Any]]]:
        """The timeline: each action a dict of its columns, ``metadata`` parsed."""
        sql = (f"SELECT {', '.join(ACTION_COLUMNS)} FROM actions WHERE recording_id = ? AND sequence > ?"
               " ORDER BY sequence")
        params: list[Any] = [recording_id, after_sequence or 0]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        actions = []
        for row in (yield (sql, params)):
            item = row_dict(row)
            item["metadata"] = json.loads(item["metadata"] or "{}")
            actions.append(item)
        return actions

    def is_action_snapshot(self, key: str) -> QueryFlow[bool]:
        return bool((yield ("SELECT 1 FROM actions WHERE screenshot_key = ? OR dom_snapshot_key = ? LIMIT 1",
                            (key, key))))

    def blob_used_by(self, key: str, owner: dict[str, str] | None,
                     uses: Sequence[tuple[str, str]] = _BLOB_USE_COLUMNS) -> QueryFlow[bool]:
        """Whether some recording of ``owner`` uses the blob ``key`` directly (an action's
        screenshot or DOM snapshot, a resource, a source file; ``uses`` narrows that down)."""
        where, params = _owner_filter(owner, "r.")
        union = " UNION ALL ".join(
            f"SELECT 1 AS used FROM {table} t JOIN recordings r ON r.id = t.recording_id WHERE t.{column} = ? AND {where}"
            for table, column in uses)
        found = yield (f"SELECT 1 FROM ({union}) AS uses LIMIT 1", [p for _ in uses for p in (key, *params)])
        return bool(found)

    # -- resources, sources, events ----------------------------------------------------

    def put_resource(self, conn: Connection, recording_id: int, url: str, media_type: str, key: str, data: bytes,
                     sequence: int | None) -> None:
        self.blobs.put_whole(conn, key, data, media_type)
        conn.execute(
            "INSERT INTO resources (recording_id, url, media_type, blob_key, size, sequence) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (recording_id, url) DO UPDATE SET media_type = excluded.media_type,"
            " blob_key = excluded.blob_key, size = excluded.size",
            (recording_id, url, media_type, key, len(data), sequence))

    def resources(self, recording_id: int) -> QueryFlow[dict[str, dict[str, Any]]]:
        """URL -> {key, media_type, size, sequence}."""
        rows = yield ("SELECT url, blob_key, media_type, size, sequence FROM resources WHERE recording_id = ?"
                      " ORDER BY url", (recording_id,))
        return {url: {"key": key, "media_type": media_type, "size": size, "sequence": sequence}
                for url, key, media_type, size, sequence in rows}

    def put_source(self, conn: Connection, recording_id: int, path: str, key: str, data: bytes, size: int) -> None:
        self.blobs.put_whole(conn, key, data, "text/plain; charset=utf-8")
        conn.execute(
            "INSERT INTO sources (recording_id, path, blob_key, size) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (recording_id, path) DO UPDATE SET blob_key = excluded.blob_key, size = excluded.size",
            (recording_id, path, key, size))

    def sources(self, recording_id: int) -> QueryFlow[dict[str, dict[str, Any]]]:
        """path -> {key, size}."""
        rows = yield ("SELECT path, blob_key, size FROM sources WHERE recording_id = ? ORDER BY path",
                      (recording_id,))
        return {path: {"key": key, "size": size} for path, key, size in rows}

    def insert_event(self, conn: Connection, recording_id: int, action_sequence: int | None, page_index: int,
                     kind: str, time_ms: int, details: str) -> None:
        conn.execute("INSERT INTO events (recording_id, action_sequence, page_index, kind, time_ms, details)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (recording_id, action_sequence, page_index, kind, time_ms, details))

    def events(self, recording_id: int, kind: str | None, action: int | None) -> QueryFlow[list[dict[str, Any]]]:
        """Each event's details with its kind, action_sequence, page_index and time_ms."""
        where: list[str] = ["recording_id = ?"]
        params: list[Any] = [recording_id]
        for column, wanted in (("kind", kind), ("action_sequence", action)):
            if wanted is not None:
                where.append(f"{column} = ?")
                params.append(wanted)
        rows = yield (f"SELECT kind, action_sequence, page_index, time_ms, details FROM events"
                      f" WHERE {' AND '.join(where)} ORDER BY time_ms, id", params)
        return [{**json.loads(details), "kind": kind_, "action_sequence": sequence, "page_index": page,
                 "time_ms": at} for kind_, sequence, page, at, details in rows]

    def event_counts(self, recording_id: int) -> QueryFlow[dict[int | None, dict[str, int]]]:
        """Per action: {messages, errors, failed_requests}."""
        rows = yield (
            f"SELECT action_sequence, {_count(_CONSOLE)}, {_count(_PAGE_ERROR)}, {_count(self.failed_request('details'))}"
            " FROM events WHERE recording_id = ? GROUP BY action_sequence", (recording_id,))
        return {sequence: {"messages": messages, "errors": errors, "failed_requests": failed}
                for sequence, messages, errors, failed in rows}

    def failed_request(self, column: str) -> str:
        """SQL: whether an event is a request that failed or got a status of 400 or more."""
        engine = self.engine
        return (f"(kind = 'request' AND ({engine.json_text(column, 'failure')} IS NOT NULL"
                f" OR {engine.json_number(column, 'status')} >= 400))")

    # -- restoring ---------------------------------------------------------------------

    def restore(self, conn: Connection, row: dict[str, Any], timeline: Iterable[dict[str, Any]],
                snapshots: dict[str, bytes], resources: Iterable[dict[str, Any]],
                events: Iterable[dict[str, Any]], sources: Iterable[dict[str, Any]], keep_uid: bool = False) -> int:
        """Insert a recording read from elsewhere with all of it (checked by the caller). It
        keeps its uid unless this database already has that uid: then it is a copy under a
        new uid, or (``keep_uid``) nothing is stored and ``RecordingExists`` says so."""
        if not row.get("uid") or (not keep_uid and conn.execute("SELECT 1 FROM recordings WHERE uid = ?",
                                                                (row["uid"],)).fetchone()):
            row = {**row, "uid": uuid.uuid4().hex}
        # (its action_count counts the actions); a copy whose fresh uid is taken fails as a write
        recording_id = self.insert_recording(conn, row, unless_uid_taken=keep_uid)
        if recording_id is None:  # (keep_uid: a recording with that uid was there, or arrived meanwhile)
            there = conn.execute("SELECT id FROM recordings WHERE uid = ?", (row["uid"],)).fetchone()
            raise RecordingExists(f"a recording with uid {row['uid']} is in {self.engine.location} already",
                                  None if there is None else int(there[0]))
        # Resources first: a key shared with a screenshot then reads back as these bytes.
        for resource in resources:
            self.put_resource(conn, recording_id, resource["url"], resource["media_type"], resource["key"],
                              snapshots[resource["key"]], resource.get("sequence"))
        for action in timeline:
            keys = {}
            for column, kind in (("screenshot_key", "screenshot"), ("dom_snapshot_key", "dom")):
                key = action.get(column)
                keys[column] = self.blobs.put(conn, recording_id, snapshots[key], kind, key=key) \
                    if key and key in snapshots else None
            self.insert_action(conn, {
                "recording_id": recording_id, "sequence": action["sequence"], "type": action["type"],
                "timestamp_ms": action["timestamp_ms"], "duration_ms": action.get("duration_ms"),
                "selector": action.get("selector"), "value": action.get("value"), "url": action.get("url"),
                "status": action["status"], "error": action.get("error"), **keys,
                "metadata": dumps(action.get("metadata") or {})})
        for event in events:
            details = {k: v for k, v in event.items() if k not in EVENT_COLUMNS}
            self.insert_event(conn, recording_id, event.get("action_sequence"), event.get("page_index") or 0,
                              event["kind"], event["time_ms"], dumps(details))
        for source in sources:
            data = snapshots[source["key"]]
            self.put_source(conn, recording_id, source["path"], source["key"], data, len(data.decode("utf-8")))
        return recording_id

    # -- runs (pytest sessions) ----------------------------------------------------------

    def begin_run(self, conn: Connection, row: dict[str, Any]) -> None:
        """Insert a run unless it is there already (xdist workers attach to their controller's)."""
        conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                     " ON CONFLICT (id) DO NOTHING", tuple(row.values()))

    def end_run(self, conn: Connection, row: dict[str, Any]) -> None:
        """Insert a run, or set the columns ``row`` names on the one there (its end and counts)."""
        updates = ", ".join(f"{column} = excluded.{column}" for column in row if column not in ("id", "started_at"))
        conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                     f" ON CONFLICT (id) DO UPDATE SET {updates}", tuple(row.values()))

    def put_run_tests(self, conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        """Store a run's tests (each: nodeid, outcome, attempts, duration_ms, message, file,
        line), replacing what the run had: the controller writes them all once, at its end."""
        conn.execute("DELETE FROM run_tests WHERE run_id = ?", (run_id,))
        columns = ("run_id", "nodeid", "outcome", "attempts", "duration_ms", "message", "file", "line")
        # ON CONFLICT: another process (a second push of the same run) may write them at the
        # same time; its rows, committed meanwhile, are brought up to date, not refused.
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns[2:])
        conn.executemany(f"INSERT INTO run_tests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                         f" ON CONFLICT (run_id, nodeid) DO UPDATE SET {updates}",
                         [(run_id, *(row.get(column) for column in columns[1:])) for row in rows])

    def run_tests(self, run_id: str) -> QueryFlow[list[Any]]:
        """A run's tests, in the order of their node ids."""
        return (yield ("SELECT nodeid, outcome, attempts, duration_ms, message, file, line FROM run_tests"
                       " WHERE run_id = ? ORDER BY nodeid", [run_id]))

    def runs(self, owner: dict[str, str] | None = None, limit: int | None = None,
             id_prefix: str | None = None, run_id: str | None = None) -> QueryFlow[list[Any]]:
        """Runs, newest first, each with how many recordings it has (of ``owner``: a scoped
        store sees only the runs that hold one of its owner's recordings)."""
        where, params = _owner_filter(owner, "r.")
        sql = (f"SELECT runs.*, (SELECT count(*) FROM recordings r WHERE r.run_id = runs.id AND {where})"
               " AS recordings FROM runs WHERE 1 = 1")
        if owner:
            sql += f" AND EXISTS (SELECT 1 FROM recordings r WHERE r.run_id = runs.id AND {where})"
            params = params * 2
        if run_id is not None:
            sql += " AND id = ?"
            params.append(run_id)
        if id_prefix is not None:
            # Ignoring case on both engines (SQLite's LIKE does, PostgreSQL's does not): run ids
            # are hex, which people copy in either case.
            sql += " AND lower(id) LIKE ?"
            params.append(id_prefix.replace("%", "").replace("_", "").lower() + "%")
        sql += " ORDER BY started_at DESC, id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return (yield (sql, params))

    def _in_last_runs(self, runs: int | None) -> tuple[str, list[Any]]:
        if not runs:
            return "", []
        return " AND r.run_id IN (SELECT id FROM runs ORDER BY started_at DESC LIMIT ?)", [runs]

    def flaky_tests(self, owner: dict[str, str] | None = None, runs: int | None = None) -> QueryFlow[list[dict[str, Any]]]:
        """Tests (by node id) whose outcome differs between attempts or across runs: marked
        flaky in some run, or both passed and failed; with counts and when last seen."""
        where, params = _owner_filter(owner, "r.")
        recent, recent_params = self._in_last_runs(runs)
        nodeid = self.engine.json_text("r.metadata", "nodeid")
        outcome = self.engine.json_text("r.metadata", "outcome")

        def outcomes(value: str) -> str:
            return _count(f"{outcome} = '{value}'")

        sql = (
            f"SELECT {nodeid} AS test, count(DISTINCT r.run_id) AS runs, count(*) AS attempts,"
            f" {outcomes('passed')} AS passed, {outcomes('failed')} AS failed, {outcomes('flaky')} AS flaky,"
            f" count(DISTINCT CASE WHEN {outcome} = 'failed' THEN r.run_id END) AS runs_failed,"
            " max(r.started_at) AS last_seen"
            f" FROM recordings r WHERE r.run_id IS NOT NULL AND {nodeid} IS NOT NULL AND {where}{recent}"
            f" GROUP BY {nodeid}"
            f" HAVING sum(CASE WHEN {outcome} = 'flaky' THEN 1 ELSE 0 END) > 0"
            f" OR count(DISTINCT CASE WHEN {outcome} IN ('passed', 'flaky') THEN 'passed'"
            f"                        WHEN {outcome} = 'failed' THEN 'failed' END) > 1"
            " ORDER BY flaky DESC, failed DESC, last_seen DESC, test")
        return [row_dict(row) for row in (yield (sql, [*params, *recent_params]))]

    # Average durations are rounded to whole ms, the same on every engine (a CAST alone
    # truncates on SQLite and rounds on PostgreSQL).

    def slowest_selectors(self, owner: dict[str, str] | None = None, runs: int | None = None,
                          limit: int = 10) -> QueryFlow[list[dict[str, Any]]]:
        """Actions by selector, slowest on average first, with how many runs they were in."""
        where, params = _owner_filter(owner, "r.")
        recent, recent_params = self._in_last_runs(runs)
        sql = ("SELECT a.selector, count(*) AS actions, count(DISTINCT r.run_id) AS runs,"
               " CAST(round(avg(a.duration_ms)) AS INTEGER) AS avg_ms, max(a.duration_ms) AS max_ms"
               " FROM actions a JOIN recordings r ON r.id = a.recording_id"
               f" WHERE a.selector IS NOT NULL AND a.duration_ms IS NOT NULL AND {where}{recent}"
               " GROUP BY a.selector ORDER BY avg(a.duration_ms) DESC, a.selector LIMIT ?")
        return [row_dict(row) for row in (yield (sql, [*params, *recent_params, limit]))]

    # -- numbers over every recording --------------------------------------------------

    def stats(self, owner: dict[str, str] | None = None) -> QueryFlow[dict[str, list[dict[str, Any]]]]:
        """The tables ``recorder stats`` prints, each one query."""
        engine = self.engine
        where, params = _owner_filter(owner, "r.")
        scoped = f"JOIN recordings r ON r.id = {{table}}.recording_id WHERE {where}"
        failed = self.failed_request("events.details")
        console_error = f"{_CONSOLE} AND {engine.json_text('events.details', 'level')} = 'error'"
        queries = {
            "recordings by status": (
                f"SELECT status, count(*) AS recordings, CAST(sum(action_count) AS BIGINT) AS actions FROM recordings r"
                f" WHERE {where} GROUP BY status ORDER BY recordings DESC"),
            "slowest action types": (
                "SELECT a.type, count(*) AS actions, CAST(round(avg(a.duration_ms)) AS INTEGER) AS avg_ms,"
                f" max(a.duration_ms) AS max_ms FROM actions a {scoped.format(table='a')}"
                " GROUP BY a.type ORDER BY avg(a.duration_ms) DESC"),
            "selectors that fail most": (
                "SELECT a.selector, count(*) AS errors, max(a.error) AS example_error FROM actions a"
                f" {scoped.format(table='a')} AND a.status = 'error' AND a.selector IS NOT NULL"
                " GROUP BY a.selector ORDER BY errors DESC LIMIT 10"),
            "page errors and failed requests": (
                "SELECT count(DISTINCT events.recording_id) AS recordings,"
                f" {_count(_PAGE_ERROR)} AS page_errors, {_count(failed)} AS failed_requests,"
                f" {_count(console_error)} AS console_errors"
                f" FROM events {scoped.format(table='events')}"),
            "requests that fail most": (
                f"SELECT {engine.json_text('events.details', 'method')} || ' ' ||"
                f" {engine.json_text('events.details', 'url')} AS request, count(*) AS failures,"
                f" CAST(max({engine.json_number('events.details', 'status')}) AS BIGINT) AS status,"
                f" max({engine.json_text('events.details', 'failure')}) AS failure"
                f" FROM events {scoped.format(table='events')} AND {failed}"
                " GROUP BY request ORDER BY failures DESC LIMIT 10"),
        }
        results = {}
        for title, sql in queries.items():
            results[title] = [row_dict(row) for row in (yield (sql, params))]
        return results


_CONSOLE = "kind = 'console'"
_PAGE_ERROR = "kind IN ('error', 'crash')"


def _count(condition: str) -> str:
    """SQL: how many rows of the group meet ``condition`` (0, not NULL, for none)."""
    return f"CAST(coalesce(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)"


def owner_columns(owner: Any) -> dict[str, str] | None:
    """A scope's owner (``model.Owner``) as the columns it fixes, for the queries here."""
    if owner is None:
        return None
    return {"owner_user_id": owner.user_id, "owner_account_id": owner.account_id}


def _owner_filter(owner: dict[str, str] | None, prefix: str = "") -> tuple[str, list[Any]]:
    if not owner:
        return "1 = 1", []
    clauses, params = [], []
    for column in ("owner_user_id", "owner_account_id"):
        if owner.get(column) is not None:
            clauses.append(f"{prefix}{column} = ?")
            params.append(owner[column])
    return " AND ".join(clauses) or "1 = 1", params


# -- which process is recording ----------------------------------------------------------


def _process_start(pid: int) -> str:
    """When a process started (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "?"


def process_token() -> str:
    """``host:pid:start`` of this process, stored with the recordings it is recording."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def is_running(token: str | None) -> bool:
    """Whether the recording process ``token`` names may still be running."""
    return _is_running(token)


def _is_running(token: str | None) -> bool:
    try:
        host, pid_text, start = (token or "").rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False  # written by no live recorder we can know of
    if host != socket.gethostname():
        return True  # another machine's process: we cannot tell, so never steal its recording
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    return start == "?" or _process_start(pid) == start
