"""The seed model's sessions: agent runs, sandbox sessions, user takeovers, owners; what is
stored runs on SQLite and PostgreSQL (``store``), naming rules on SQLite alone."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from recorder import RecordingStore, record
from recorder.errors import RecordingNotFound
from recorder.model import ACTION_TYPES, AgentRun, SandboxSession, parameterize
from recorder.storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from tests import engines

STAMP = r"\d{8}_\d{6}"


@pytest.fixture
def store(store_target: str):  # type: ignore[no-untyped-def]
    """A store on each engine (SQLite, PostgreSQL)."""
    with RecordingStore(store_target) as store:
        yield store


@pytest.fixture
def sqlite_store(db_path: Path):  # type: ignore[no-untyped-def]
    """A SQLite store, for what does not depend on the engine (names, a real browser)."""
    with RecordingStore(db_path) as store:
        yield store


@pytest.mark.parametrize(
    ("agent_run", "sandbox_session", "prefix"),
    [
        (AgentRun("7", "Checkout Bot"), None, "checkout-bot"),
        ({"id": 8, "agent_name": "Shopper"}, {"id": 1, "template_name": "Ignored"}, "shopper"),
        (None, SandboxSession("3", "Form Filler v2"), "form-filler-v2"),
        (None, None, "session"),
        (AgentRun("9", "Café Ünïcode — Agent!"), None, "cafe-unicode-agent"),
        (AgentRun("10", "日本語"), None, "session"),  # nothing ASCII left: the default prefix
    ],
)
def test_generated_name_follows_agent_then_template_then_session(sqlite_store, agent_run, sandbox_session, prefix) -> None:  # type: ignore[no-untyped-def]
    recording = sqlite_store.start(agent_run=agent_run, sandbox_session=sandbox_session)
    assert re.fullmatch(f"{prefix}_{STAMP}", recording.name), recording.name


def test_references_are_stored_in_their_own_columns(store, store_target: str) -> None:  # type: ignore[no-untyped-def]
    recording = store.start(agent_run={"id": 8, "agent_name": "Shopper"}, sandbox_session=SandboxSession("s1", "Tpl"))
    store.flush()
    (row,) = engines.query(store_target, "SELECT agent_run_id, agent_name, sandbox_session_id, sandbox_template"
                                         " FROM recordings WHERE id = ?", (recording.id,))
    assert row == ("8", "Shopper", "s1", "Tpl")
    assert store.get(recording.id).agent_run == AgentRun("8", "Shopper")


def test_parameterize_matches_rails() -> None:
    assert parameterize("  Hello,   World!! ") == "hello-world"
    assert parameterize("snake_case-and-dash") == "snake_case-and-dash"


def test_user_session_name_and_metadata(store) -> None:  # type: ignore[no-untyped-def]
    recording = store.start_user_session(visitor_id="v-1", parent_demo_id=5, page_url="http://127.0.0.1/demo")
    assert re.fullmatch(f"user_takeover_{STAMP}_[0-9a-f]{{8}}", recording.name)
    metadata = store.get(recording.id).metadata
    assert metadata["session_type"] == "user_takeover"
    assert (metadata["visitor_id"], metadata["parent_demo_id"], metadata["page_url"]) == ("v-1", 5, "http://127.0.0.1/demo")
    assert "user_agent" in metadata and metadata["started_at"]


def test_user_session_gets_the_browsers_user_agent(page, server: str, sqlite_store) -> None:  # type: ignore[no-untyped-def]
    session = sqlite_store.start_user_session(visitor_id="v-2")
    with record(page, recording=session) as page:
        page.goto(server + "/app.html")
    stored = sqlite_store.get(session.id)
    assert "Chrome" in stored.metadata["user_agent"]
    assert stored.status == "completed" and stored.action_count == 1


@pytest.mark.parametrize(
    ("name", "demo", "user"),
    [("demo", True, False), ("lander_home", True, False), ("demo_2", False, False),
     ("user_takeover_20260101_000000_abcd1234", False, True), ("session_x", False, False)],
)
def test_demo_and_user_session_predicates(sqlite_store, name: str, demo: bool, user: bool) -> None:  # type: ignore[no-untyped-def]
    recording = sqlite_store.start(name=name)
    assert (recording.is_demo_recording, recording.is_user_session) == (demo, user)


def test_owner_scoping_isolates_recordings(store) -> None:  # type: ignore[no-untyped-def]
    alice = store.for_owner(user_id="alice")
    bob = store.for_owner(user_id="bob")
    mine = alice.start(name="alice-1")
    theirs = bob.start(name="bob-1")
    store.start(name="nobody")
    assert [r.name for r in alice.list()] == ["alice-1"]
    assert alice.get(mine.id).owner.user_id == "alice"
    with pytest.raises(RecordingNotFound, match="for owner"):
        alice.get(theirs.id)
    assert {r.name for r in store.list()} == {"alice-1", "bob-1", "nobody"}


def test_account_scope_sees_every_user_of_the_account(store) -> None:  # type: ignore[no-untyped-def]
    store.start(name="a", owner={"user_id": "u1", "account_id": "acme"})
    store.start(name="b", owner={"user_id": "u2", "account_id": "acme"})
    store.start(name="c", owner={"user_id": "u3", "account_id": "other"})
    assert sorted(r.name for r in store.for_owner(account_id="acme").list()) == ["a", "b"]
    assert [r.name for r in store.for_owner(user_id="u2", account_id="acme").list()] == ["b"]


def test_record_action_accepts_only_the_seed_vocabulary(store) -> None:  # type: ignore[no-untyped-def]
    recording = store.start()
    for action_type in ACTION_TYPES:
        recording.record_action(action_type)
    with pytest.raises(ValueError, match="unknown action type 'fill'; valid types: navigate, click"):
        recording.record_action("fill")
    assert len(recording.timeline()) == len(ACTION_TYPES)


def test_timeline_pages(store) -> None:  # type: ignore[no-untyped-def]
    recording = store.start()
    for _ in range(10):
        recording.record_action("click")
    assert [a["sequence"] for a in recording.timeline(limit=3)] == [1, 2, 3]
    assert [a["sequence"] for a in recording.timeline(after_sequence=3, limit=3)] == [4, 5, 6]
    assert [a["sequence"] for a in recording.timeline(after_sequence=8)] == [9, 10]


def test_a_first_schema_database_is_migrated_in_place(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.executescript("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
                           + MIGRATIONS[1] + "INSERT INTO schema_version VALUES (1, 'then');"
                           "INSERT INTO recordings (name, started_at) VALUES ('old', '2026-01-01T00:00:00+00:00');")
    with RecordingStore(db_path) as store:
        old = store.list()[0]
        assert old.name == "old" and old.owner is None
        assert store.start(name="new", owner="u1").owner.user_id == "u1"
    with sqlite3.connect(db_path) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1))
