"""Exporting recordings (JSON cassette, pytest file) and importing them back."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recorder import RecordingStore
from recorder.cli import main
from recorder.exchange import export_pytest
from tests.test_replay import SECRET, recorded, shop  # noqa: F401 - fixtures

pytest_plugins = ["pytester"]


def without_ids(timeline: list[dict]) -> list[dict]:
    return [{k: v for k, v in action.items() if k != "id"} for action in timeline]


def test_json_export_round_trips_through_import(recorded: int, db_path: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "flow.json"
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "-o", str(cassette)])
    assert result.exit_code == 0, result.output
    other = tmp_path / "other.db"
    result = CliRunner().invoke(main, ["import", str(cassette), "--db", str(other)])
    assert result.exit_code == 0 and "imported as recording 1 (checkout" in result.stdout
    with RecordingStore(db_path) as original, RecordingStore(other) as copy:
        before, after = original.get(recorded), copy.get(1)
        assert without_ids(after.timeline()) == without_ids(before.timeline())
        assert (after.name, after.status, after.started_at) == (before.name, before.status, before.started_at)
        action = after.timeline()[1]
        assert copy.blob(action["dom_snapshot_key"]) == original.blob(action["dom_snapshot_key"])
        assert copy.blob(action["screenshot_key"])[:3] == b"\xff\xd8\xff"
    assert SECRET not in cassette.read_text()


def test_json_export_without_blobs(recorded: int, db_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "--no-blobs"])
    cassette = json.loads(result.stdout)
    assert "blobs" not in cassette and len(cassette["timeline"]) == 8


def test_importing_something_else_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "har"}')
    result = CliRunner().invoke(main, ["import", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "cannot import" in result.stderr and "not a recorder cassette" in result.stderr


def test_exported_pytest_file_passes_against_the_same_app(recorded: int, db_path: Path, pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "--format", "pytest"])
    source = result.stdout
    assert 'page.get_by_label("Name").fill("Ada")' in source
    assert 'page.locator("#password").fill(os.environ["RECORDER_SECRET_PASSWORD"])' in source
    assert "expect(page).to_have_url(" in source and SECRET not in source
    pytester.makeconftest(
        "import pytest\nfrom recorder import launch_options\n"
        "@pytest.fixture(scope='session')\n"
        "def browser_type_launch_args(browser_type_launch_args):\n"
        "    return launch_options(**browser_type_launch_args)\n"
    )
    pytester.makepyfile(test_exported=source)
    monkeypatch.setenv("RECORDER_SECRET_PASSWORD", SECRET)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_trace_export_opens_in_playwrights_trace_viewer(recorded: int, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        context) -> None:
    trace = tmp_path / "trace.zip"
    result = CliRunner().invoke(main, ["export", str(recorded), "--db", str(db_path), "--format", "playwright-trace",
                                       "-o", str(trace)])
    assert result.exit_code == 0, result.output
    viewer = subprocess.Popen([sys.executable, "-m", "playwright", "show-trace", "--host", "127.0.0.1", "--port", "0",
                               str(trace)], stdout=subprocess.PIPE, text=True, env={**os.environ, "BROWSER": "none"})
    try:
        assert viewer.stdout is not None
        line = ""
        while "Listening on" not in line:
            line = viewer.stdout.readline()
            assert line, "show-trace exited without serving"
        page = context.new_page()
        page.goto(line.split("Listening on", 1)[1].strip())
        actions = page.locator(".action-title")
        actions.first.wait_for(timeout=15_000)
        titles = actions.all_inner_texts()
        assert len(titles) == 8
        assert any('get_by_label("Name")' in title for title in titles)
        page.get_by_text('get_by_role("button", name="Confirm")').first.click()
        page.get_by_role("tab", name="After").click()
        snapshot = page.frame_locator("iframe.snapshot-visible").locator("h1")
        assert snapshot.inner_text() == "Confirm your order"  # the DOM snapshot renders
    finally:
        viewer.terminate()
        viewer.wait(timeout=10)


def test_recorded_text_never_becomes_code_in_the_pytest_export(db_path: Path, tmp_path: Path) -> None:
    """A recording name closed the docstring, and selectors and values went in raw: a
    page (or a cassette) could make the exported test run anything."""
    marker = tmp_path / "PWNED"
    payload = f'__import__("pathlib").Path({str(marker)!r}).touch()'
    with RecordingStore(db_path) as store:
        recording = store.start(name=f'"""; {payload} #\\\\ C:\\\\xfiles')
        recording.record_action("navigate", value="http://127.0.0.1/", url="http://127.0.0.1/",
                                metadata={"api": "Page.goto"})
        recording.record_action("click", selector=f'locator("x"); {payload}; page.locator("y")',
                                metadata={"api": "Locator.click"})
        recording.record_action("select", selector='locator("#s")', value=f"[{payload}]",
                                metadata={"api": "Locator.select_option"})
        recording.record_action("click", value=f"1, {payload}", metadata={"api": "Mouse.click"})
        recording.record_action("key_press", value="Enter", metadata={"api": f"Keyboard.press({payload}) or page.keyboard.up"})
        recording.record_action("type", selector='locator("#q")', value=f'"; {payload}; "',
                                metadata={"api": "Locator.fill"})
        recording.complete()
        source = export_pytest(store.get(recording.id))
    tree = ast.parse(source)  # it is valid Python ...
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not any("__import__" in call or "touch" in call for call in calls), calls  # ... that calls nothing of theirs
    assert 'page.locator("#q").fill(' in source and "could not be exported safely" in source
    exec(compile(tree, "exported.py", "exec"), {})  # defining the test runs nothing
    assert not marker.exists()
