"""Owner scoping: every method of a store made with ``for_owner`` sees, changes and deletes
only that owner's recordings and the blobs they use, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from recorder import RecordingStore
from recorder.async_store import AsyncRecordingStore
from recorder.blobs import blob_key
from recorder.errors import RecorderError, RecordingNotFound
from recorder.exchange import export_json, import_json
from recorder.push import push
from tests import engines


def jpeg(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(out, "JPEG")
    return out.getvalue()


def record(store: RecordingStore, name: str, owner: Any, shade: str) -> Any:
    """A completed recording of ``owner`` with a screenshot, a DOM snapshot, a resource, a
    source file and an event, each with bytes of its own (``shade``)."""
    recording = store.start(name=name, owner=owner)
    recording.record_action("navigate", url="http://127.0.0.1/", screenshot=jpeg(shade),
                            dom_snapshot=f"<html><p>{name}</p></html>")
    recording.record_resource("http://127.0.0.1/site.css", f"p {{ color: {shade} }}".encode(), "text/css")
    recording.record_source("/src/agent.py", f"# {name}\n")
    recording.record_event("console", {"level": "log", "text": name})
    recording.complete()
    store.flush()
    return store.get(recording.id)


def keys_of(recording: Any) -> dict[str, str]:
    action = recording.timeline()[0]
    return {"screenshot": action["screenshot_key"], "dom": action["dom_snapshot_key"],
            "resource": recording.resources()["http://127.0.0.1/site.css"]["key"],
            "source": recording.sources()["/src/agent.py"]["key"]}


@pytest.fixture
def two(store_target: str) -> Any:
    """A store with one recording of alice's and one of bob's: (store, alice's, bob's)."""
    with RecordingStore(store_target) as store:
        yield store, record(store, "alice-1", "alice", "red"), record(store, "bob-1", "bob", "blue")


def test_list_get_and_get_by_uid_see_only_the_owners(two: Any) -> None:
    store, mine, theirs = two
    alice = store.for_owner(user_id="alice")
    assert [r.id for r in alice.list()] == [mine.id]
    assert [r.id for r in alice.list(status="completed", limit=5)] == [mine.id]
    assert alice.get(mine.id).name == "alice-1" and alice.get_by_uid(mine.uid).id == mine.id
    with pytest.raises(RecordingNotFound):
        alice.get(theirs.id)
    with pytest.raises(RecordingNotFound):
        alice.get_by_uid(theirs.uid)


def test_delete_of_another_owners_recording_deletes_nothing(two: Any) -> None:
    store, mine, theirs = two
    alice = store.for_owner(user_id="alice")
    with pytest.raises(RecordingNotFound, match="for owner user alice"):
        alice.delete(theirs.id)
    assert store.get(theirs.id).timeline() and store.blob(keys_of(theirs)["screenshot"])
    assert alice.delete(mine.id) > 0
    assert [r.id for r in store.list()] == [theirs.id]


def test_blob_and_blob_info_show_only_blobs_the_owners_recordings_use(two: Any) -> None:
    store, mine, theirs = two
    alice = store.for_owner(user_id="alice")
    for kind, key in keys_of(mine).items():
        assert alice.blob(key) == store.blob(key), kind
        assert alice.blob_info(key) == store.blob_info(key)
        assert alice.stored_blob(key) == store.stored_blob(key)
    for kind, key in keys_of(theirs).items():
        for read in (alice.blob, alice.blob_info, alice.stored_blob):
            with pytest.raises(RecordingNotFound, match="no blob"):
                read(key)
    assert alice.is_action_snapshot(keys_of(mine)["dom"]) and not alice.is_action_snapshot(keys_of(theirs)["dom"])
    assert not alice.is_action_snapshot(keys_of(mine)["resource"])
    # A blob both use is visible to both.
    shared = store.start(name="bob-2", owner="bob")
    shared.record_action("navigate", dom_snapshot="<html><p>alice-1</p></html>")
    shared.complete()
    store.flush()
    assert store.for_owner(user_id="bob").blob(keys_of(mine)["dom"]) == b"<html><p>alice-1</p></html>"


def test_timeline_events_resources_and_sources_go_through_the_scoped_get(two: Any) -> None:
    store, mine, theirs = two
    alice = store.for_owner(user_id="alice")
    found = alice.get(mine.id)
    assert [e["text"] for e in found.events()] == ["alice-1"]
    assert found.timeline() == mine.timeline() and found.resources() == mine.resources()
    assert found.sources() == mine.sources() and found.refresh().name == "alice-1"
    store.delete(mine.id)
    with pytest.raises(RecordingNotFound):
        found.refresh()


def test_stats_count_only_the_owners_rows(two: Any) -> None:
    store, mine, theirs = two
    assert store.stats()["recordings by status"] == [{"status": "completed", "recordings": 2, "actions": 2}]
    stats = store.for_owner(user_id="alice").stats()
    assert stats["recordings by status"] == [{"status": "completed", "recordings": 1, "actions": 1}]
    assert store.stats()["page errors and failed requests"][0]["recordings"] == 2  # with events
    assert stats["page errors and failed requests"][0]["recordings"] == 1
    assert store.for_owner(user_id="carol").stats()["recordings by status"] == []


def test_prune_deletes_only_the_owners_old_recordings(two: Any, store_target: str) -> None:
    store, mine, theirs = two
    engines.execute(store_target, "UPDATE recordings SET started_at = ?", (engines.iso_days_ago(40),))
    assert store.for_owner(user_id="alice").prune(timedelta(days=30))[0] == 1
    assert [r.id for r in store.list()] == [theirs.id]
    assert store.blob(keys_of(theirs)["screenshot"])


def test_vacuum_is_refused_on_a_scoped_store(two: Any) -> None:
    store, _, _ = two
    with pytest.raises(RecorderError, match="whole database"):
        store.for_owner(user_id="alice").vacuum()


def test_start_cannot_leave_the_scope(two: Any) -> None:
    store, mine, theirs = two
    acme = store.for_owner(account_id="acme")
    assert acme.start(name="x").owner.account_id == "acme"
    # A user of the scoped account is fine; the account is filled in.
    started = acme.start(name="y", owner="u7")
    assert (started.owner.user_id, started.owner.account_id) == ("u7", "acme")
    with pytest.raises(ValueError, match="cannot start a recording for owner user u7 of account other"):
        acme.start(owner={"user_id": "u7", "account_id": "other"})
    alice = store.for_owner(user_id="alice")
    with pytest.raises(ValueError, match="scoped to owner user alice"):
        alice.start(owner="bob")
    with pytest.raises(ValueError, match="scoped"):
        alice.start_user_session(owner="bob")
    with pytest.raises(RecordingNotFound):
        alice.start(parent_id=theirs.id)
    assert alice.start(parent_id=mine.id).parent_id == mine.id
    assert {r.owner.user_id for r in store.list() if r.name not in ("x", "y")} <= {"alice", "bob"}


def test_for_owner_needs_an_owner_and_views_only_narrow(two: Any) -> None:
    store, _, _ = two
    with pytest.raises(ValueError, match="a view of no one"):
        store.for_owner()
    acme = store.for_owner(account_id="acme")
    assert acme.for_owner(user_id="u1").owner.account_id == "acme"
    with pytest.raises(ValueError, match="cannot see"):
        acme.for_owner(account_id="other")
    with pytest.raises(ValueError, match="cannot see"):
        store.for_owner(user_id="alice").for_owner(user_id="bob")


def test_restore_under_a_scope_stores_the_recording_as_the_scopes_owner(two: Any) -> None:
    store, mine, theirs = two
    cassette = export_json(theirs)  # claims bob
    alice = store.for_owner(user_id="alice")
    copied = import_json(alice, cassette)
    assert copied.owner.user_id == "alice" and store.get(copied.id).owner.user_id == "alice"
    assert alice.get(copied.id).timeline()[0]["dom_snapshot_key"] == keys_of(theirs)["dom"]
    # Within the scope, the cassette's owner is kept where the scope leaves it open.
    cassette["recording"]["owner"] = {"user_id": "u2", "account_id": "acme"}
    kept = import_json(store.for_owner(account_id="acme"), cassette)
    assert (kept.owner.user_id, kept.owner.account_id) == ("u2", "acme")
    cassette["recording"]["owner"] = {"user_id": "u2", "account_id": "other"}
    moved = import_json(store.for_owner(account_id="acme"), cassette)
    assert (moved.owner.user_id, moved.owner.account_id) == (None, "acme")
    # Without a scope the cassette's owner stays.
    assert import_json(store, cassette).owner.account_id == "other"


def test_restore_under_a_scope_cannot_claim_another_owners_screenshot_by_its_key(two: Any) -> None:
    store, mine, theirs = two
    their_shot = keys_of(theirs)["screenshot"]
    cassette = export_json(mine)
    action = cassette["timeline"][0]
    forged = action["screenshot_key"]
    cassette["blobs"][their_shot] = cassette["blobs"].pop(forged)  # alice's bytes under bob's key
    action["screenshot_key"] = their_shot
    alice = store.for_owner(user_id="alice")
    copied = import_json(alice, cassette)
    key = copied.timeline()[0]["screenshot_key"]
    assert key != their_shot and alice.blob_info(key)["media_type"] == "image/jpeg"
    with pytest.raises(RecordingNotFound):
        alice.blob(their_shot)
    # The owner's own key (a blob its recordings use) is taken as it is.
    again = import_json(alice, export_json(mine))
    assert again.timeline()[0]["screenshot_key"] == keys_of(mine)["screenshot"]


def test_push_from_a_scoped_store_copies_only_the_owners(two: Any, tmp_path: Any) -> None:
    store, mine, theirs = two
    with RecordingStore(tmp_path / "dest.db") as dest:
        result = push(store.for_owner(user_id="alice"), dest)
        assert [item["id"] for item in result.pushed] == [mine.id]
        assert [r.name for r in dest.list()] == ["alice-1"]
        with pytest.raises(RecordingNotFound):
            push(store.for_owner(user_id="alice"), dest, ids=[theirs.id])
        # Into a scoped destination: recordings arrive as that owner's.
        result = push(store.for_owner(user_id="bob"), dest.for_owner(user_id="bob"))
        assert [r.owner.user_id for r in dest.list()] == ["bob", "alice"]


def test_the_async_store_scopes_blobs_too(two: Any, store_target: str, run_async: Any) -> None:
    store, mine, theirs = two

    async def read() -> None:
        async with AsyncRecordingStore(store_target) as full:
            alice = full.for_owner(user_id="alice")
            assert [r.id for r in await alice.list()] == [mine.id]
            found = await alice.get(mine.id)
            assert await alice.blob(keys_of(mine)["dom"]) == b"<html><p>alice-1</p></html>"
            assert (await alice.blob_info(keys_of(mine)["screenshot"]))["media_type"] == "image/jpeg"
            for key in keys_of(theirs).values():
                with pytest.raises(RecordingNotFound):
                    await alice.blob(key)
                with pytest.raises(RecordingNotFound):
                    await alice.blob_info(key)
            with pytest.raises(RecordingNotFound):
                await alice.get(theirs.id)
            with pytest.raises(RecordingNotFound):
                await alice.get_by_uid(theirs.uid)
            assert (await found.refresh()).name == "alice-1"
            with pytest.raises(ValueError):
                full.for_owner()

    run_async(read())


def test_blob_keys_are_content_hashes_here() -> None:
    # The restore rule above relies on it: a key that is its bytes' hash reveals nothing.
    assert blob_key(b"x") == blob_key(b"x") != blob_key(b"y")
