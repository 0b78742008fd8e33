"""The SQLite schema: one readable DDL, applied as numbered migrations.

Open a recordings database in ``sqlite3`` and these are the tables you see::

    recordings      one row per recorded session (name, status, timing, metadata)
    actions         one row per recorded browser action, ordered by (recording_id, sequence)
    blobs           screenshots, DOM snapshots and page resources, content-addressed and compressed
    resources       the stylesheets, images and fonts a recording's DOM snapshots use, by URL
    events          what happened around the actions: console messages, page errors, requests
    sources         the text of the files whose code made the recorded calls
    runs            one row per pytest session (a run): when, where, and its outcome counts
    run_tests       one row per test of a run: its final outcome, duration, failure message
    schema_version  which migrations this file has had

recorder/storage/postgres/schema.py is the same schema for PostgreSQL, numbered alike.

Migrations only ever append: a database made by an older recorder is brought up to
date in place when a writer opens it (or by ``recorder migrate``); one made by a newer
recorder is refused. A read-only store (``readonly=True``, the reading commands) never
migrates: it refuses an older schema, naming ``recorder migrate``.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone


# Each entry migrates the schema from version N-1 to N. Never edit a released entry:
# add a new one, so that old files on users' disks can follow.
MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an id always means one recording
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'recording'
                  CHECK (status IN ('recording', 'completed', 'failed', 'interrupted')),
    started_at    TEXT    NOT NULL,          -- ISO-8601, UTC
    completed_at  TEXT,
    failed_at     TEXT,
    duration_ms   INTEGER,                   -- set when the recording ends
    action_count  INTEGER NOT NULL DEFAULT 0,
    error         TEXT,                      -- "ExcType: message" of a failed recording
    metadata      TEXT    NOT NULL DEFAULT '{}'  -- JSON object given by the caller
);
CREATE INDEX recordings_by_status ON recordings (status, started_at);

CREATE TABLE blobs (
    key           TEXT    PRIMARY KEY,       -- sha256 of the bytes captured; tile:<pixel hash> for tiles
    media_type    TEXT    NOT NULL,          -- text/html; image/webp for a tile;
                                             -- application/vnd.recorder.tiles for a screenshot (recorder/tiles.py)
    codec         TEXT    NOT NULL,          -- raw | zstd | zstd-delta (see recorder/blobs.py)
    base_key      TEXT    REFERENCES blobs (key),  -- the blob a zstd-delta blob was compressed against
    size          INTEGER NOT NULL,          -- bytes before compression
    stored_size   INTEGER NOT NULL,          -- bytes in `data`
    data          BLOB    NOT NULL,
    refs          INTEGER NOT NULL DEFAULT 0 -- tiles only: how many screenshots use this tile
);
CREATE INDEX blobs_by_base ON blobs (base_key) WHERE base_key IS NOT NULL;

CREATE TABLE actions (
    id                INTEGER PRIMARY KEY,
    recording_id      INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    sequence          INTEGER NOT NULL,      -- 1, 2, 3 ... within the recording, no gaps
    type              TEXT    NOT NULL,      -- click, fill, navigate, ...
    timestamp_ms      INTEGER NOT NULL,      -- when the action started, ms since the recording started
    duration_ms       INTEGER,
    selector          TEXT,                  -- readable, e.g. get_by_role("button", name="Save")
    value             TEXT,                  -- NULL when redacted (see metadata.redacted)
    url               TEXT,                  -- the page's URL once the action finished
    status            TEXT    NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    error             TEXT,
    screenshot_key    TEXT    REFERENCES blobs (key),
    dom_snapshot_key  TEXT    REFERENCES blobs (key),
    metadata          TEXT    NOT NULL DEFAULT '{}',  -- JSON: api, bounding_box, page_index, ...
    UNIQUE (recording_id, sequence)
);
CREATE INDEX actions_by_screenshot ON actions (screenshot_key);
CREATE INDEX actions_by_dom_snapshot ON actions (dom_snapshot_key);

-- The timeline as people usually want to read it.
CREATE VIEW action_timeline AS
SELECT r.name AS recording, a.recording_id, a.sequence, a.type, a.selector, a.value,
       a.url, a.status, a.error, a.timestamp_ms, a.duration_ms
FROM actions a JOIN recordings r ON r.id = a.recording_id
ORDER BY a.recording_id, a.sequence;
""",
    # Who a recording belongs to (the seed's agent runs, sandbox sessions and owners), and
    # the agent recording a person's takeover session continues.
    2: """
ALTER TABLE recordings ADD COLUMN agent_run_id TEXT;
ALTER TABLE recordings ADD COLUMN agent_name TEXT;
ALTER TABLE recordings ADD COLUMN sandbox_session_id TEXT;
ALTER TABLE recordings ADD COLUMN sandbox_template TEXT;
ALTER TABLE recordings ADD COLUMN owner_user_id TEXT;
ALTER TABLE recordings ADD COLUMN owner_account_id TEXT;
ALTER TABLE recordings ADD COLUMN parent_id INTEGER REFERENCES recordings (id);
CREATE INDEX recordings_by_owner ON recordings (owner_account_id, owner_user_id);
CREATE INDEX recordings_by_agent_run ON recordings (agent_run_id);
""",
    # Which process is recording (host:pid:start), so that a recording whose process
    # died without ending it can be found and marked interrupted.
    3: """
ALTER TABLE recordings ADD COLUMN recorder_process TEXT;
ALTER TABLE recordings ADD COLUMN interrupted_at TEXT;
""",
    # What DOM snapshots need to look like the page offline: each stylesheet, image and font
    # the page used, by URL, its bytes a blob (stored once however many recordings use it).
    4: """
CREATE TABLE resources (
    recording_id  INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,          -- absolute, as the snapshot's HTML names it
    media_type    TEXT    NOT NULL,          -- text/css, image/png, font/woff2, ...
    blob_key      TEXT    NOT NULL REFERENCES blobs (key),
    size          INTEGER NOT NULL,          -- bytes as the browser received them
    sequence      INTEGER,                   -- the action whose snapshot first needed it
    PRIMARY KEY (recording_id, url)
);
CREATE INDEX resources_by_blob ON resources (blob_key);
""",
    # What happened on the page around each action (recorder/events.py says what each kind's
    # details hold), and the source files of the code that made the calls (an action's
    # metadata.source names the file and line).
    5: """
CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    recording_id     INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    action_sequence  INTEGER,                -- the action during which it happened, or the last one
                                             -- before it; NULL before the first
    page_index       INTEGER NOT NULL DEFAULT 0,
    kind             TEXT    NOT NULL CHECK (kind IN ('console', 'error', 'request', 'crash')),
    time_ms          INTEGER NOT NULL,       -- when it happened (a request: when it was sent),
                                             -- ms since the recording started
    details          TEXT    NOT NULL DEFAULT '{}'  -- JSON: console {level, text, location};
                                             -- error {name, message, stack}; request {method, url,
                                             -- status, failure, duration_ms, ...}
);
CREATE INDEX events_by_action ON events (recording_id, action_sequence);

CREATE TABLE sources (
    recording_id  INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,          -- as metadata.source.file names it
    blob_key      TEXT    NOT NULL REFERENCES blobs (key),
    size          INTEGER NOT NULL,          -- characters of text
    PRIMARY KEY (recording_id, path)
);
CREATE INDEX sources_by_blob ON sources (blob_key);

-- Console messages, page errors and failed requests as people usually want to read them.
CREATE VIEW event_log AS
SELECT e.recording_id, e.action_sequence, e.page_index, e.kind, e.time_ms,
       CASE e.kind
           WHEN 'console' THEN json_extract(e.details, '$.level') || ': ' || json_extract(e.details, '$.text')
           WHEN 'error' THEN json_extract(e.details, '$.name') || ': ' || json_extract(e.details, '$.message')
           WHEN 'request' THEN json_extract(e.details, '$.method') || ' ' || json_extract(e.details, '$.url')
                || ' -> ' || coalesce(json_extract(e.details, '$.status'), json_extract(e.details, '$.failure'), 'no answer')
           ELSE json_extract(e.details, '$.message')
       END AS summary
FROM events e
ORDER BY e.recording_id, e.time_ms, e.id;
""",
    # A recording's identity beyond one database: `recorder push` copies a recording to
    # another store once, however often it is pushed.
    6: """
ALTER TABLE recordings ADD COLUMN uid TEXT;
UPDATE recordings SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX recordings_by_uid ON recordings (uid);
""",
    # pytest sessions: each is a run, its recordings belong to it (the xdist controller and
    # its workers share one). Flaky tests are told apart across runs by these.
    7: """
CREATE TABLE runs (
    id            TEXT    PRIMARY KEY,       -- a uuid (hex), made by the pytest controller
    started_at    TEXT    NOT NULL,          -- ISO-8601, UTC
    ended_at      TEXT,                      -- NULL while running, or when the session died
    exit_status   INTEGER,                   -- pytest's exit code
    passed        INTEGER NOT NULL DEFAULT 0,  -- tests, by final outcome
    failed        INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,  -- setup or teardown errors
    flaky         INTEGER NOT NULL DEFAULT 0,  -- failed, then passed on a rerun
    reruns        INTEGER NOT NULL DEFAULT 0,  -- attempts rerun (pytest-rerunfailures)
    workers       INTEGER NOT NULL DEFAULT 1,  -- xdist workers (1 without xdist)
    git_commit    TEXT,
    git_branch    TEXT,
    ci_name       TEXT,                      -- github-actions, gitlab-ci, jenkins, buildkite, circleci...
    ci_build_url  TEXT,
    metadata      TEXT    NOT NULL DEFAULT '{}'  -- JSON: host, pytest arguments, ...
);
CREATE INDEX runs_by_start ON runs (started_at);

ALTER TABLE recordings ADD COLUMN run_id TEXT REFERENCES runs (id);
CREATE INDEX recordings_by_run ON recordings (run_id);
""",
    # Every test of a run, recorded or not (under retain-on-failure a passing test keeps no
    # recording): what `recorder report` lists. Written by the pytest controller at the end.
    8: """
CREATE TABLE run_tests (
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    nodeid        TEXT    NOT NULL,          -- pytest's node id
    outcome       TEXT    NOT NULL,          -- passed, failed, skipped, flaky, error
    attempts      INTEGER NOT NULL DEFAULT 1,  -- 1, or more with reruns
    duration_ms   INTEGER,                   -- setup, call and teardown of the last attempt
    message       TEXT,                      -- "ExcType: message" of a failure, or a skip's reason
    file          TEXT,                      -- the test's file and line (1-based)
    line          INTEGER,
    PRIMARY KEY (run_id, nodeid)
);
""",
}

SCHEMA_VERSION = max(MIGRATIONS)

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
)
"""


def current_version(conn: sqlite3.Connection) -> tuple[int | None, bool]:
    """The schema version of an open database (None without a schema_version table), and
    whether it has any table at all."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        return None, bool(tables)
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0, True


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; return the version it had. (The engine has
    first checked it is a recorder database it can use: Engine.check_schema.)"""
    found = current_version(conn)[0] or 0
    if found == SCHEMA_VERSION:
        return found
    # BEGIN IMMEDIATE: two processes opening a new file at once must not both migrate.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_VERSION_TABLE)
        found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        for number in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (number, datetime.now(timezone.utc).isoformat()),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def damaged(conn: sqlite3.Connection) -> str | None:
    """What is wrong with a database at SCHEMA_VERSION: a table its migrations made that is
    gone, or pages SQLite's quick_check finds broken; None when it is whole."""
    made = {name for script in MIGRATIONS.values()
            for name in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", script)}
    made -= {name for script in MIGRATIONS.values() for name in re.findall(r"DROP TABLE (?:IF EXISTS )?(\w+)", script)}
    found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if made - found:
        return f"table{'s' if len(made - found) > 1 else ''} {', '.join(sorted(made - found))} missing"
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    return None if problems == ["ok"] else "; ".join(problems)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
