"""The ``recorder`` command: list, show and extract what was recorded.

    recorder list                      # recordings in ./recordings.db (or $RECORDER_DB)
    recorder show 3                    # the timeline of recording 3
    recorder show 3 --json             # the same as JSON
    recorder blob <key> -o shot.jpg    # one stored screenshot or DOM snapshot
    recorder migrate old.db            # upgrade a database made by an older recorder

Reading commands (list, show, view, export, stats, blob, replay, and push's source) open
the database read-only: they never write to it, never migrate it and never mark its
recordings interrupted. Only writers migrate (recording, import, push --to, prune,
vacuum, replay --record) and ``recorder migrate``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from . import files
from .errors import RecorderError
from .model import as_utc
from .storage import is_server_url
from .store import STATUSES, RecordingStore, default_db

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
F = TypeVar("F", bound=Callable[..., Any])


def db_option(function: F) -> F:
    return click.option(
        "--db", "db", default=None, metavar="PATH|URL",
        help="Recordings database: a SQLite file or a postgresql:// URL. Default: $RECORDER_DB, else"
             " ./recordings.db.",
    )(function)


# SQLite integers are 64-bit: larger ids or counts are refused as bad input, not crashes.
SQL_INT_MAX = 2**63 - 1
RECORDING_ID = click.IntRange(0, SQL_INT_MAX)
COUNT = click.IntRange(1, SQL_INT_MAX)
SEQUENCE = click.IntRange(0, SQL_INT_MAX)


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(function)


def open_store(db: str | None, *, readonly: bool = True) -> RecordingStore:
    """Open an existing database, read-only unless told (a reading command writes nothing:
    no migration, no recording marked interrupted, no -wal/-shm beside a closed file)."""
    target = db if db is not None else default_db()
    if is_server_url(target):
        return RecordingStore(target, readonly=readonly)
    path = Path(target)
    if not path.exists():
        raise RecorderError(f"no recordings database at {path}; record something first or pass --db PATH")
    if path.is_file() and path.stat().st_size == 0:  # SQLite would take it as a new database and write to it
        raise RecorderError(f"{path} is an empty file, not a recordings database")
    return RecordingStore(path, readonly=readonly)


def friendly_errors(function: F) -> F:
    """Show recorder's errors as one line and exit 1, without a traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
            sys.stdout.flush()  # here, where a reader that went away is caught, not at exit
            return result
        except RecorderError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except BrokenPipeError:
            # The reader stopped reading (`recorder show 1 | head`): stop quietly, as cat does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a writer a pipe stopped
        except OSError as exc:  # a file that cannot be read or written (a missing directory), a port in use
            click.echo(f"error: {exc.filename}: {exc.strerror or exc}" if exc.filename
                       else f"error: {exc.strerror or exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="recorder")
def main() -> None:
    """See, keep and replay what a Playwright browser did.

    Recordings live in a SQLite file (default ./recordings.db, or $RECORDER_DB), or in a
    PostgreSQL database (--db postgresql://...); query their tables with plain SQL.
    """


@main.command("list")
@db_option
@json_option
@click.option("--status", type=click.Choice(STATUSES), help="Only recordings with this status.")
@click.option("--limit", type=COUNT, default=None, help="At most this many, newest first.")
@click.option("--owner", "owner_user", default=None, help="Only recordings of this user id.")
@click.option("--account", "owner_account", default=None, help="Only recordings of this account id.")
@friendly_errors
def list_command(db: str | None, as_json: bool, status: str | None, limit: int | None,
                 owner_user: str | None, owner_account: str | None) -> None:
    """List recordings, newest first.

    \b
    Examples:
      recorder list
      recorder list --status failed --db test-results/recordings.db
      recorder list --owner 42 --account acme
      recorder list --json | jq '.[].name'
    """
    with open_store(db) as full_store:
        scoped = owner_user is not None or owner_account is not None
        store = full_store.for_owner(owner_user, owner_account) if scoped else full_store
        recordings = store.list(status=status, limit=limit)
        if as_json:
            click.echo(json.dumps([r.to_dict() for r in recordings], indent=2, ensure_ascii=False))
            return
        if not recordings:
            which = f"{status} recordings" if status else "recordings"
            click.echo(f"no {which} in {store.location}" + (" for that owner" if scoped else ""))
            return
        rows = [
            (str(r.id), r.name, r.status, str(r.action_count), _duration(r.duration_ms), r.started_at[:19].replace("T", " "))
            for r in recordings
        ]
        _table(("ID", "NAME", "STATUS", "ACTIONS", "DURATION", "STARTED (UTC)"), rows)


@main.command("show")
@click.argument("recording_id", type=RECORDING_ID)
@db_option
@json_option
@click.option("--after", "after_sequence", type=SEQUENCE, default=None, help="Only actions after this sequence number.")
@click.option("--limit", type=COUNT, default=None, help="At most this many actions.")
@click.option("--include-storage-state", is_flag=True,
              help="--json: include the cookie and localStorage values a takeover stored (keep_storage_state=True).")
@friendly_errors
def show_command(recording_id: int, db: str | None, as_json: bool, after_sequence: int | None,
                 limit: int | None, include_storage_state: bool) -> None:
    """Show one recording and its timeline of actions.

    \b
    Examples:
      recorder show 3
      recorder show 3 --after 100 --limit 50     # one page of a long recording
      recorder show 3 --json > recording-3.json
    """
    if include_storage_state and not as_json:
        raise click.BadParameter("the table never shows storage values; add --json",
                                 param_hint="--include-storage-state")
    with open_store(db) as store:
        recording = store.get(recording_id)
        timeline = recording.timeline(after_sequence=after_sequence, limit=limit)
        if as_json:
            shown = {action["sequence"] for action in timeline}
            events = [event for event in recording.events()
                      if event["action_sequence"] in shown or (after_sequence is None and limit is None)]
            timeline = _storage_state_shown(timeline, include_storage_state)
            click.echo(json.dumps({**recording.to_dict(), "timeline": timeline, "events": events},
                                  indent=2, ensure_ascii=False))
            return
        counts = recording.event_counts()
        click.echo(f"Recording {recording.id}: {recording.name}")
        click.echo(f"  status:   {recording.status}" + (f" ({recording.error})" if recording.error else ""))
        click.echo(f"  started:  {recording.started_at}   duration: {_duration(recording.duration_ms)}")
        click.echo(f"  actions:  {recording.action_count}   database: {store.location}")
        for key, value in recording.user_metadata.items():
            click.echo(f"  {key}: {value}")
        click.echo("")
        if not timeline:
            click.echo("no actions recorded" if not recording.action_count else
                       f"no actions after sequence {after_sequence}" if after_sequence is not None else "no actions")
            return
        rows = []
        before = counts.get(None)
        if before and after_sequence is None:
            click.echo(f"before the first action: {_event_summary(before) or 'nothing'}\n")
        for action in timeline:
            meta = action["metadata"]
            value = "[redacted]" if meta.get("redacted") else _clip(action["value"] or "", 30)
            target = action["selector"] or (action["url"] if action["type"] == "navigate" else "") or ""
            outcome = action["status"] if action["status"] == "ok" else f"ERROR {_clip(action['error'] or '', 60)}"
            rows.append((
                str(action["sequence"]), f"{action['timestamp_ms'] / 1000:.3f}s", _duration(action["duration_ms"]),
                action["type"], _clip(meta.get("api", ""), 22), _clip(target, 50), value, outcome,
                ("S" if action["screenshot_key"] else "-") + ("D" if action["dom_snapshot_key"] else "-"),
                _event_summary(counts.get(action["sequence"])),
            ))
        _table(("SEQ", "AT", "TOOK", "TYPE", "API", "TARGET", "VALUE", "OUTCOME", "SNAP", "EVENTS"), rows)
        click.echo("\nSNAP: S = screenshot stored, D = DOM snapshot stored; `recorder show ID --json` lists their keys.")
        click.echo("EVENTS: console messages, page errors and failed requests during the action (or after it,"
                   " before the next); `--json` lists them all.")


@main.command("blob")
@click.argument("key")
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="File to write the bytes to ('-' for standard output).")
@friendly_errors
def blob_command(key: str, db: str | None, output: str) -> None:
    """Write one stored screenshot or DOM snapshot to a file.

    \b
    Examples:
      recorder blob 3f2a...c9 -o after-click.jpg
      recorder blob 81be...07 -o - | less
    """
    with open_store(db) as store:
        info = store.blob_info(key)
        data = store.blob(key)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    files.write(output, data)
    click.echo(f"wrote {len(data):,} bytes ({info['media_type']}) to {output}", err=True)


@main.command("view")
@click.argument("recording_id", type=RECORDING_ID, required=False)
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default: recording-<ID>.html here).")
@click.option("--no-open", is_flag=True, help="Do not open the file in a browser.")
@click.option("--serve", is_flag=True, help="Serve every recording on http://127.0.0.1:PORT/ instead.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="--serve: port on 127.0.0.1 (default: a free one).")
@click.option("--max-actions", type=COUNT, default=None, help="Only the first N actions (for huge recordings).")
@click.option("--only-errors", is_flag=True, help="Only the actions that failed.")
@click.option("--compare", "compare_id", type=RECORDING_ID, default=None, metavar="B",
              help="Side by side with recording B, steps aligned, opening at their first difference.")
@click.option("--db-b", "db_b", default=None, metavar="PATH|URL", help="--compare: B's database, if not --db's.")
@friendly_errors
def view_command(recording_id: int | None, db: str | None, output: Path | None, no_open: bool, serve: bool,
                 port: int, max_actions: int | None, only_errors: bool, compare_id: int | None,
                 db_b: str | None) -> None:
    """Look at a recording in a browser, step by step.

    Writes one self-contained HTML file (screenshots, DOM snapshots and the stylesheets,
    images and fonts they use inside; works from file://, no network) and opens it.
    Without ID, the newest recording. Arrow keys step, Space plays, D toggles
    screenshot / DOM (the page as it looked, styled, at the recorded viewport size).

    \b
    Examples:
      recorder view
      recorder view 3 --db test-results/recordings.db
      recorder view 3 -o failure.html --no-open
      recorder view --serve            # browse all recordings on http://127.0.0.1:PORT
      recorder view 3 --serve          # the same, opening recording 3
      recorder view 7 --compare 8      # 7 and 8 side by side, at their first difference
      recorder view 7 --compare 8 --serve   # the same, served: /compare/7/8
    """
    import webbrowser

    from . import viewer

    if compare_id is not None and recording_id is None:
        raise click.BadParameter("--compare B needs a recording A to compare: recorder view A --compare B",
                                 param_hint="--compare")
    if db_b is not None and compare_id is None:
        raise click.BadParameter("--db-b is B's database: use it with --compare B", param_hint="--db-b")
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(db))
        if serve:
            if output is not None:
                raise click.BadParameter("--serve writes no file; leave out -o", param_hint="-o")
            if db_b is not None:
                raise click.BadParameter("--serve shows one database; compare across two without --serve",
                                         param_hint="--db-b")
            if recording_id is not None:
                store.get(recording_id)  # an unknown id is an error now, not a 404 later
            if compare_id is not None:
                store.get(compare_id)
            def ready(server: Any) -> None:
                url = f"http://127.0.0.1:{server.server_address[1]}/"
                click.echo(f"serving {store.location} on {url}  (Ctrl-C to stop)")
                if compare_id is not None:
                    url += f"compare/{recording_id}/{compare_id}"
                    click.echo(f"recording {recording_id} vs {compare_id}: {url}")
                elif recording_id is not None:
                    url += f"recording/{recording_id}"
                    click.echo(f"recording {recording_id}: {url}")
                if not no_open:
                    webbrowser.open(url)

            viewer.serve(store, port, ready=ready)
            return
        if recording_id is None:
            newest = store.list(limit=1)
            if not newest:
                raise RecorderError(f"no recordings in {store.location}; record one first")
            recording = newest[0]
        else:
            recording = store.get(recording_id)
        other = None
        if compare_id is not None:
            other = (stack.enter_context(open_store(db_b)) if db_b is not None else store).get(compare_id)
        click.echo(f"rendering recording {recording.id} ({recording.action_count} actions)"
                   + ("" if other is None else f" vs {other.id} ({other.action_count} actions)") + " ...", err=True)
        page = viewer.render(store, recording, max_actions=max_actions, only_errors=only_errors, compare=other)
    default_name = f"recording-{recording.id}.html" if other is None else f"compare-{recording.id}-{other.id}.html"
    target = output or Path(default_name)
    files.write(target, page)
    click.echo(str(target.resolve()))
    if not no_open:
        webbrowser.open(target.resolve().as_uri())


@main.command("diff")
@click.argument("recording_a", type=RECORDING_ID, metavar="A")
@click.argument("recording_b", type=RECORDING_ID, metavar="B")
@db_option
@click.option("--db-b", "db_b", default=None, metavar="PATH|URL", help="B's database, if not --db's.")
@json_option
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Share of pixels that must differ for screenshots to differ (default 0.02).")
@click.option("--no-screenshots", is_flag=True, help="Do not compare screenshots.")
@friendly_errors
def diff_command(recording_a: int, recording_b: int, db: str | None, db_b: str | None, as_json: bool,
                 threshold: float | None, no_screenshots: bool) -> None:
    """Compare two recordings step by step: where do they first differ, and how?

    Steps are aligned by type and target (navigations by URL path), then compared: the
    selector, the value, the URL, the outcome, the page's visible text (DOM snapshots) and
    the screenshot (share of differing pixels). Exits 0 whether or not they differ.

    \b
    Examples:
      recorder diff 7 8                        # a flaky test's failed and passed attempts
      recorder diff 7 3 --db-b main.db         # B from another database
      recorder diff 7 8 --json > diff.json     # the full alignment
    """
    from .diff import DEFAULT_THRESHOLD, diff_recordings

    with contextlib.ExitStack() as stack:
        store_a = stack.enter_context(open_store(db))
        store_b = stack.enter_context(open_store(db_b)) if db_b is not None else store_a
        a, b = store_a.get(recording_a), store_b.get(recording_b)
        result = diff_recordings(a, b, threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                                 screenshots=not no_screenshots)
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if as_json else result.format())


@main.command("replay")
@click.argument("recording_id", type=RECORDING_ID)
@db_option
@json_option
@click.option("--base-url", default=None, callback=lambda ctx, param, value: _origin(value),
              help="Replay against another deployment: recorded URLs move to this origin (http:// or https://).")
@click.option("--headed", is_flag=True, help="Show the browser.")
@click.option("--slow-mo", type=click.IntRange(0, 600_000), default=0, help="Milliseconds to wait between browser operations.")
@click.option("--secret", "secrets", multiple=True, metavar="NAME",
              help="A redacted field's value, read from $RECORDER_SECRET_<NAME>, else asked for on standard input "
                   "(repeatable). NAME=VALUE works but shows the value to ps and your shell history.")
@click.option("--compare-screenshots", is_flag=True, help="Also compare each step's screenshot with the recording.")
@click.option("--threshold", type=float, default=0.05, show_default=True,
              help="Mean pixel difference (0..1) above which a screenshot diverges.")
@click.option("--timeout", "timeout_ms", type=click.IntRange(1, 3_600_000), default=5000, show_default=True,
              help="Milliseconds to look for each step's element.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the first divergence's screenshots go (default: replay-<ID>/).")
@click.option("--record", "record_replay", is_flag=True,
              help="Record the replay as a new recording (metadata.replay_of = ID).")
@friendly_errors
def replay_command(recording_id: int, db: str | None, as_json: bool, base_url: str | None, headed: bool,
                   slow_mo: int, secrets: tuple[str, ...], compare_screenshots: bool, threshold: float,
                   timeout_ms: int, report_dir: Path | None, record_replay: bool) -> None:
    """Re-run a recording in Chromium and report, step by step, where it diverges.

    Each element is found again by its recorded selector or, when the app changed, by a
    fallback (role and name, text, label, placeholder, test id, CSS path, position).
    Exit code 0 when every step replays, 1 otherwise.

    Values typed into password and redacted fields were never recorded: `--secret NAME`
    reads one from $RECORDER_SECRET_<NAME> (upper-cased, other characters `_`), else from
    standard input (a hidden prompt on a terminal, else one line per --secret, in order).

    \b
    Examples:
      recorder replay 3
      recorder replay 3 --headed --slow-mo 300
      recorder replay 3 --base-url http://127.0.0.1:9000 --json
      recorder replay 3 --secret password --record          # asks for it
      RECORDER_SECRET_PASSWORD=... recorder replay 3
      pass show app/ada | recorder replay 3 --secret password
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from .browser import launch_options
    from .instrument import record
    from .replay import replay

    with open_store(db, readonly=not record_replay) as store:
        recording = store.get(recording_id)
        values = _secret_values(secrets, recording) if secrets else {}
        viewport: Any = recording.user_metadata.get("viewport") or {"width": 1280, "height": 720}
        with sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(**launch_options(headless=not headed, slow_mo=slow_mo))
            except PlaywrightError as exc:  # no display for --headed, no browser at all
                reason = str(exc).split("\n")[0].removeprefix("BrowserType.launch: ")
                if headed and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
                    reason += " (--headed needs a display, and $DISPLAY is not set)"
                raise RecorderError(f"cannot start Chromium: {reason}") from None
            page = browser.new_page(viewport=viewport)
            options: dict[str, Any] = dict(base_url=base_url, secrets=values, compare_screenshots=compare_screenshots,
                           report_dir=report_dir or Path(f"replay-{recording_id}"), find_timeout_ms=timeout_ms,
                           on_step=_replay_progress() if sys.stderr.isatty() else None)
            if record_replay:
                recorder = record(page, store=store, name=f"replay_of_{recording_id}",
                                  metadata={"replay_of": recording_id, "base_url": base_url})
                with recorder as page:
                    for value in values.values():  # a redacted field need not be a password field now
                        recorder.add_secret(value)
                    report = replay(recording, page, **options, screenshot_threshold=threshold)
                click.echo(f"replay recorded as recording {page.recording.id}", err=True)
            else:
                report = replay(recording, page, **options, screenshot_threshold=threshold)
            browser.close()
    click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json else report.format())
    sys.exit(0 if report.ok else 1)


def _secret_values(items: tuple[str, ...], recording: Any) -> dict[str, str]:
    """``--secret`` as {field name: value}: NAME reads $RECORDER_SECRET_<NAME>, else standard
    input; NAME=VALUE is taken with a warning. A name the recording does not ask for, and an
    empty value, are errors."""
    from .replay import secret_env_var, secret_names

    wanted = secret_names(recording.timeline())
    values: dict[str, str] = {}
    for item in items:
        given, sep, value = item.partition("=")
        if not given:
            raise click.BadParameter(f"{item!r} has no name: give --secret NAME", param_hint="--secret")
        variable = secret_env_var(given)
        name = next((n for n in wanted if secret_env_var(n) == variable), None)
        if name is None:
            known = ", ".join(wanted) if wanted else "none: nothing secret was typed in it"
            raise click.BadParameter(f"recording {recording.id} has no secret field {given!r} "
                                     f"(its secret fields: {known})", param_hint="--secret")
        if sep:
            click.echo(f"warning: --secret {given}=VALUE puts the value in the process list (ps) and your shell "
                       f"history; set {variable} or give --secret {given} and type it when asked", err=True)
            where = "on the command line"
        elif os.environ.get(variable) is not None:
            value, where = os.environ[variable], f"in ${variable}"
        else:
            value, where = _read_secret(name, variable), "on standard input"
        if not value:
            raise click.BadParameter(f"the value of secret {given!r} {where} is empty", param_hint="--secret")
        values[name] = value
    return values


def _read_secret(name: str, variable: str) -> str:
    """One secret from standard input: a prompt that does not echo on a terminal, else one line."""
    stdin = click.get_text_stream("stdin")
    if stdin.isatty():
        return str(click.prompt(f"value of secret {name!r}", hide_input=True, default="", show_default=False,
                                err=True))
    line = stdin.readline()
    if not line:
        raise click.BadParameter(f"no value for secret {name!r}: {variable} is not set and standard input has ended",
                                 param_hint="--secret")
    return line.rstrip("\r\n")


def _replay_progress() -> Callable[[Any, int], None]:
    """A one-line progress display on a terminal: `step 12/40  click  ok`."""
    done = 0

    def show(step: Any, total: int) -> None:
        nonlocal done
        done += 1
        line = f"replaying: step {done}/{total}  {step.type}  {step.status}"
        click.echo(f"\r{line:<60}", err=True, nl=done == total)

    return show


@main.command("export")
@click.argument("recording_id", type=RECORDING_ID)
@db_option
@click.option("--format", "format_", type=click.Choice(["json", "pytest", "playwright-trace"]), default="json",
              show_default=True, help="json: a cassette `recorder import` reads back; pytest: a runnable "
              "pytest-playwright test; playwright-trace: a trace.zip for `playwright show-trace` (needs -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="File to write (default: standard output).")
@click.option("--no-blobs", is_flag=True, help="json: leave out the bytes of the screenshots, DOM snapshots and "
              "page resources (the resources are still listed).")
@click.option("--include-storage-state", is_flag=True,
              help="json: include the cookie and localStorage values a takeover stored (keep_storage_state=True).")
@friendly_errors
def export_command(recording_id: int, db: str | None, format_: str, output: str, no_blobs: bool,
                   include_storage_state: bool) -> None:
    """Export a recording: a portable JSON cassette, a pytest file, or a Playwright trace.

    \b
    Examples:
      recorder export 3 --format json -o flow.json
      recorder export 3 --format json --no-blobs | jq .timeline
      recorder export 3 --format pytest -o test_flow.py && pytest test_flow.py
      recorder export 3 --format playwright-trace -o trace.zip && playwright show-trace trace.zip
    """
    from .exchange import export_json, export_pytest, export_trace

    if format_ == "playwright-trace" and output == "-":
        raise click.BadParameter("a trace is a zip file: give -o trace.zip", param_hint="-o")
    if include_storage_state and format_ != "json":
        raise click.BadParameter(f"the {format_} export never carries storage state; only --format json does",
                                 param_hint="--include-storage-state")
    with open_store(db) as store:
        recording = store.get(recording_id)
        if format_ == "playwright-trace":
            export_trace(recording, output)
            click.echo(f"wrote a Playwright trace of recording {recording_id} to {output}; "
                       f"open it with: playwright show-trace {output}", err=True)
            return
        if format_ == "json":
            cassette = export_json(recording, blobs=not no_blobs, storage_state=include_storage_state)
            _storage_state_shown(cassette["timeline"], include_storage_state)
            text = json.dumps(cassette, indent=1, ensure_ascii=False)
        else:
            text = export_pytest(recording)
    if output == "-":
        click.echo(text)
    else:
        files.write(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"wrote {format_} export of recording {recording_id} to {output}", err=True)


@main.command("import")
@click.argument("cassette", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@db_option
@click.option("--keep-storage-state", is_flag=True,
              help="Store the cookie and localStorage values the cassette carries (left out by default).")
@friendly_errors
def import_command(cassette: str, db: str | None, keep_storage_state: bool) -> None:
    """Import a JSON cassette made by `recorder export` as a new recording.

    The database is created if it does not exist. Cookie and localStorage values in the
    cassette (an export with --include-storage-state) are left out unless
    --keep-storage-state.

    \b
    Example:
      recorder import flow.json --db other.db
    """
    from .exchange import import_json

    target = db if db is not None else default_db()
    path = None if is_server_url(target) else Path(target)
    created = path is not None and not path.exists()
    with click.open_file(cassette, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
            with RecordingStore(target) as store:
                recording = import_json(store, data, storage_state=keep_storage_state)
        except (ValueError, KeyError, TypeError, RecorderError) as exc:
            if created and path is not None:  # a refused import leaves no empty database behind
                for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    leftover.unlink(missing_ok=True)
            raise RecorderError(f"cannot import {cassette}: {exc}") from None
    click.echo(f"imported as recording {recording.id} ({recording.name}, {recording.action_count} actions)"
               f" into {store.location}")


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` -> a timedelta (a positive whole number of units)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    match = re.fullmatch(r"([0-9]{1,7})([mhdw])", text)
    if not match or int(match.group(1)) == 0:
        # A zero or negative age would prune every recording: refused, never guessed at.
        raise click.BadParameter(f"{text!r} is not an age like 30d, 12h, 90m or 2w (a positive whole number, "
                                 "at most 7 digits)", param_hint="--older-than")
    return timedelta(**{units[match.group(2)]: int(match.group(1))})


def parse_since(text: str) -> datetime:
    """An age (``2d``: started in the last two days) or an ISO-8601 date or time."""
    if re.fullmatch(r"[0-9]{1,7}[mhdw]", text):
        return datetime.now(timezone.utc) - parse_age(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither an age like 2d, 12h, 90m, 1w nor an ISO-8601 date or time",
                                 param_hint="--since") from None
    return as_utc(moment)


@main.command("push")
@click.argument("source", metavar="SRC")
@click.option("--to", "destination", required=True, metavar="PATH|URL",
              help="The store to copy into: a postgresql:// URL or a SQLite file (created if missing).")
@click.option("--since", default=None, metavar="AGE|DATE",
              help="Only recordings started since then: an age like 2d, 12h, or an ISO date like 2026-11-01.")
@click.option("--id", "ids", type=RECORDING_ID, multiple=True, help="Only this recording of SRC (repeatable).")
@json_option
@friendly_errors
def push_command(source: str, destination: str, since: str | None, ids: tuple[int, ...], as_json: bool) -> None:
    """Copy recordings from SRC to another store, with their screenshots, snapshots,
    resources, events and sources.

    Each recording keeps its uid, so one pushed twice is stored once: run it again after a
    retried CI job and only what is new is copied. Recordings still being recorded are
    skipped. One that cannot be copied is named with the reason, the others are pushed, and
    the exit status is 1.

    \b
    Examples:
      recorder push test-results/recordings.db --to postgresql://ci@db.internal/recordings
      recorder push recordings.db --to postgresql://... --since 2d --json
      recorder push recordings.db --to archive.db --id 12
    """
    from .push import push

    moment = parse_since(since) if since else None
    show = _push_progress() if sys.stderr.isatty() and not as_json else None
    with open_store(source) as src:
        src.list(limit=1)  # the source reads (a damaged one fails here) before the destination is made
        with RecordingStore(destination) as dst:
            result = push(src, dst, since=moment, ids=list(ids) or None, progress=show)
            where = dst.location
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        for item in result.pushed:
            click.echo(f"pushed {item['id']} ({item['name']}, {item['actions']} actions) as recording {item['new_id']}")
        for item in result.skipped:
            click.echo(f"skipped {item['id']} ({item['name']}): {item['reason']}")
        for item in result.failed:
            click.echo(f"could not push {item['id']} ({item['name']}): {item['reason']}", err=True)
        click.echo(f"{len(result.pushed)} pushed, {len(result.skipped)} skipped"
                   + (f", {len(result.failed)} failed" if result.failed else "") + f", into {where}")
    if result.failed:
        sys.exit(1)


def _push_progress() -> Callable[[int, int, Any], None]:
    """A one-line progress display on a terminal: `pushing 3/10  checkout_flow`."""

    def show(done: int, total: int, recording: Any) -> None:
        line = f"pushing {min(done + 1, total)}/{total}  {recording.name}" if done < total else f"pushed {total}/{total}"
        click.echo(f"\r{line[:78]:<78}", err=True, nl=done == total)

    return show


@main.command("prune")
@click.option("--older-than", "older_than", required=True, help="Age like 30d, 12h, 90m, 2w.")
@click.option("--keep-failed", is_flag=True, help="Keep failed and interrupted recordings whatever their age.")
@db_option
@friendly_errors
def prune_command(older_than: str, keep_failed: bool, db: str | None) -> None:
    """Delete recordings older than an age, with the blobs only they used.

    Recordings still being recorded are never deleted.

    \b
    Examples:
      recorder prune --older-than 30d
      recorder prune --older-than 7d --keep-failed --db test-results/recordings.db
    """
    age = parse_age(older_than)
    with open_store(db, readonly=False) as store:
        recordings, blobs_freed = store.prune(age, keep_failed=keep_failed)
    click.echo(f"deleted {recordings} recordings and {blobs_freed} blobs older than {older_than} from {store.location}")


@main.command("vacuum")
@db_option
@friendly_errors
def vacuum_command(db: str | None) -> None:
    """Delete blobs no recording uses and compact the database file.

    \b
    Example:
      recorder vacuum --db test-results/recordings.db
    """
    with open_store(db, readonly=False) as store:
        click.echo(f"compacting {store.location} ...", err=True)
        deleted, before, after = store.vacuum()
    click.echo(f"deleted {deleted} unused blobs; {store.location}: {before:,} -> {after:,} bytes"
               + (" (PostgreSQL's VACUUM makes freed space reusable; it does not give it back to the"
                  " system)" if is_server_url(store.location) else ""))


@main.command("migrate")
@click.argument("database", metavar="[DB]", required=False)
@db_option
@friendly_errors
def migrate_command(database: str | None, db: str | None) -> None:
    """Upgrade a database made by an older recorder to this recorder's schema, in place.

    Reading commands (list, show, view, export, stats, blob, replay) never change a
    database, so they refuse one with an older schema and say to run this. Recording into
    a database (and import, push --to, prune, vacuum) migrates it too. A SQLite file must
    exist; an empty PostgreSQL database gets recorder's tables. Prints the schema version
    before and after. DB is a SQLite file or a postgresql:// URL (default: --db, else
    $RECORDER_DB, else ./recordings.db).

    \b
    Examples:
      recorder migrate test-results/recordings.db
      recorder migrate postgresql://ci@db.internal/recordings
    """
    from .storage import open_engine

    if database is not None and db is not None and database != db:
        raise click.BadParameter("give the database once: as DB or as --db", param_hint="DB")
    engine = open_engine(database or db or default_db())
    before, after = engine.migrate()
    if before == after:
        click.echo(f"{engine.location} is already at schema version {after}; nothing to do")
    else:
        click.echo(f"migrated {engine.location}: schema version {before} -> {after}")


@main.command("stats")
@db_option
@json_option
@click.option("--flaky", is_flag=True, help="Tests whose outcome differs between attempts or across runs.")
@click.option("--slowest", is_flag=True, help="Actions by selector, slowest on average first, across runs.")
@click.option("--runs", "last_runs", type=COUNT, default=None, help="--flaky, --slowest: over the last N runs only.")
@friendly_errors
def stats_command(db: str | None, as_json: bool, flaky: bool, slowest: bool, last_runs: int | None) -> None:
    """Numbers over every recording: by status, slowest action types, failing selectors,
    page errors and failed requests; or, asked, flaky tests and slowest selectors.

    Each table is one plain SQL query over the tables the README describes. A test is
    flaky when it failed then passed on a rerun (pytest-rerunfailures) in one run, or
    passed in one run and failed in another.

    \b
    Examples:
      recorder stats --db test-results/recordings.db
      recorder stats --flaky --runs 20 --db recordings/tests.db
      recorder stats --slowest --json
    """
    if last_runs is not None and not (flaky or slowest):
        raise click.UsageError("--runs goes with --flaky or --slowest")
    with open_store(db) as store:
        if flaky or slowest:
            results = {}
            if flaky:
                results["flaky tests"] = store.flaky_tests(runs=last_runs)
            if slowest:
                results["slowest selectors"] = store.slowest_selectors(runs=last_runs)
        else:
            results = store.stats()
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for title, rows in results.items():
        click.echo(f"{title}:")
        if not rows:
            click.echo("  (none)\n")
            continue
        headers = tuple(rows[0])
        _table(headers, [tuple(_clip("" if v is None else str(v), 80) for v in row.values()) for row in rows])
        click.echo("")


@main.command("runs")
@click.argument("run_id", required=False)
@db_option
@json_option
@click.option("--limit", type=COUNT, default=20, show_default=True, help="At most this many, newest first.")
@friendly_errors
def runs_command(run_id: str | None, db: str | None, as_json: bool, limit: int) -> None:
    """The pytest sessions recorded (runs), newest first; or one run, by its id (or the
    start of it), with its recordings.

    \b
    Examples:
      recorder runs --db recordings/tests.db
      recorder runs 3f2a9c --db recordings/tests.db
    """
    with open_store(db) as store:
        if run_id is not None:
            run = store.get_run(run_id)
            recordings = store.list(run_id=run.id)
            if as_json:
                click.echo(json.dumps({**run.to_dict(), "recording_ids": [r.id for r in recordings]}, indent=2))
                return
            for key, value in run.to_dict().items():
                if value not in (None, {}, ""):
                    click.echo(f"{key + ':':<14}{value}")
            for recording in recordings:
                meta = recording.user_metadata
                click.echo(f"  {recording.id:>6} {meta.get('outcome') or recording.status:<8} {recording.name}")
            return
        runs = store.runs(limit=limit)
    if as_json:
        click.echo(json.dumps([run.to_dict() for run in runs], indent=2))
        return
    if not runs:
        click.echo("no runs: record a pytest session (pytest --record on) to have one")
        return
    headers = ("run", "started", "passed", "failed", "flaky", "skipped", "errors", "workers", "recordings",
               "branch", "commit", "ci")
    _table(headers, [(run.id[:12], run.started_at[:19], str(run.passed), str(run.failed), str(run.flaky),
                      str(run.skipped), str(run.errors), str(run.workers), str(run.recordings),
                      run.git_branch or "", (run.git_commit or "")[:10], run.ci_build_url or run.ci_name or "")
                     for run in runs])


@main.command("report")
@click.option("--run", "run_id", default=None, metavar="ID", help="The run (its id, or the start of it).")
@click.option("--last", is_flag=True, help="The latest run (the default).")
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="The report's file; each recording's viewer goes to <stem>-files/ beside it.")
@click.option("--open", "open_it", is_flag=True, help="Open the report in a browser.")
@friendly_errors
def report_command(run_id: str | None, last: bool, db: str | None, output: Path, open_it: bool) -> None:
    """The report of a run (a pytest session): every test with its outcome (passed,
    failed, flaky, skipped), duration and failure message, filterable by outcome, each kept
    recording's viewer linked. One folder that works offline: keep it as a CI artifact.

    \b
    Examples:
      recorder report --last --db test-results/recordings.db -o report.html
      recorder report --run 3f2a9c --db test-results/recordings.db -o out/report.html
    """
    import webbrowser

    from .report import find_run, write_report

    if run_id is not None and last:
        raise click.BadParameter("give --run ID or --last, not both", param_hint="--last")
    with open_store(db) as store:
        run = find_run(store, run_id)
        path, tests = write_report(store, run, output)
    click.echo(f"{path.resolve()}  (run {run.id[:12]}, {tests} test{'' if tests == 1 else 's'})")
    if open_it:
        webbrowser.open(path.resolve().as_uri())


def _storage_state_shown(timeline: list[dict[str, Any]], include: bool) -> list[dict[str, Any]]:
    """The timeline as shown: without stored cookie and localStorage values unless ``include``,
    and then with a warning on stderr when there are some."""
    from .page_state import holds_storage_values, without_storage_values

    if not include:
        return without_storage_values(timeline)
    if holds_storage_values(timeline):
        click.echo("warning: this output includes the cookie and localStorage values a takeover stored "
                   "(--include-storage-state): they can log anyone in as that user; keep it as private as a password",
                   err=True)
    return timeline


def _event_summary(counts: dict[str, int] | None) -> str:
    """"2 msgs, 1 error, 1 failed req" (nothing when there was nothing)."""
    if not counts:
        return ""
    parts = [(counts["messages"], "msg", "msgs"), (counts["errors"], "error", "errors"),
             (counts["failed_requests"], "failed req", "failed reqs")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{ms} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _origin(value: str | None) -> str | None:
    """--base-url as given, checked to be an http(s) origin before any browser starts (a
    typo was a replay of every step waiting out its timeout)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL, e.g. http://127.0.0.1:9000",
                                 param_hint="--base-url")
    return value


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    """A table cell on one line: a name with a newline in it must not break the table."""
    return _CONTROL.sub(lambda m: "\\n" if m[0] == "\n" else " " if m[0] == "\t" else f"\\x{ord(m[0]):02x}", text)


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    rows = [tuple(_one_line(cell) for cell in row) for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
