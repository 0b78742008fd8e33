"""The report of a run (``recorder report``, ``pytest --record-report PATH``): one HTML file
listing every test of a pytest session, its outcome, duration and failure message, with
the run's header, filterable by outcome; and beside it, in ``<stem>-files/``, the viewer of
each kept recording, linked relatively, so the folder works offline (a CI artifact).

The page is ``viewer/assets/report.html`` filled with its style sheet, script and the run
as JSON (no HTML is built here); its policy allows its one script and one style sheet by
their sha256 hashes, as the viewer's does.
"""

from __future__ import annotations

import functools
import html
import warnings
from pathlib import Path
from typing import Any

from . import files
from .errors import RecorderError
from .store import Recording, RecorderWarning, RecordingStore, Run
from .viewer.page import _fill, _script_json, asset, source_hash

REPORT_POLICY = ("default-src 'none'; script-src {script}; style-src {style}; img-src data:; base-uri 'none'; "
                 "form-action 'none'; frame-src 'none'")
OUTCOMES = ("failed", "error", "flaky", "passed", "skipped")


@functools.lru_cache(maxsize=None)
def report_policy() -> str:
    return REPORT_POLICY.format(script=source_hash(asset("report.js")), style=source_hash(asset("report.css")))


def find_run(store: RecordingStore, run_id: str | None) -> Run:
    """The run asked for (by id or its start), else the latest; a one-line error when there is none."""
    if run_id is not None:
        return store.get_run(run_id)
    run = store.last_run()
    if run is not None:
        return run
    if store.list(limit=1):
        raise RecorderError(f"no runs in {store.location}: its recordings were not made by pytest (a run is a "
                            "pytest session: pytest --record on); recorder list shows them, recorder view ID one")
    raise RecorderError(f"no runs in {store.location}: it holds no recordings; record a pytest session with "
                        "pytest --record on")


def files_dir(output: Path) -> Path:
    """Where the viewers of a report go: ``report-files/`` beside ``report.html``."""
    return output.with_name(output.stem + "-files")


def report_data(store: RecordingStore, run: Run, recordings: list[Recording],
                viewer_href: dict[int, str]) -> dict[str, Any]:
    """The run's header and its tests, one per node id, each with its recorded attempts."""
    by_test: dict[str, list[Recording]] = {}
    for recording in recordings:
        by_test.setdefault(str(recording.user_metadata.get("nodeid") or recording.name), []).append(recording)
    stored = {row["nodeid"]: row for row in store.run_tests(run.id)}
    tests = []
    for nodeid in sorted(set(stored) | set(by_test)):
        attempts = sorted(by_test.get(nodeid, []), key=lambda r: (int(r.user_metadata.get("attempt") or 1), r.id))
        row = stored.get(nodeid)
        if row is None:  # a run stored before schema 8: what its recordings say
            last = attempts[-1]
            outcome = last.user_metadata.get("outcome") or ("failed" if last.status == "failed" else "passed")
            row = {"outcome": outcome, "attempts": len(attempts), "message": next(
                       (r.error for r in reversed(attempts) if r.error), None),
                   "duration_ms": sum(r.duration_ms or 0 for r in attempts) or None,
                   "file": last.user_metadata.get("file"), "line": last.user_metadata.get("line")}
        tests.append({
            "nodeid": nodeid, "outcome": row["outcome"], "attempts": row["attempts"],
            "duration_ms": row["duration_ms"], "message": row["message"], "file": row["file"], "line": row["line"],
            "recordings": [{
                "id": r.id, "attempt": int(r.user_metadata.get("attempt") or 1),
                "outcome": r.user_metadata.get("outcome") or r.status, "status": r.status, "error": r.error,
                "duration_ms": r.duration_ms, "actions": r.action_count, "href": viewer_href.get(r.id),
            } for r in attempts],
        })
    header = run.to_dict()
    header["host"] = run.metadata.get("host")
    header.pop("metadata", None)
    return {"run": header, "tests": tests, "outcomes": OUTCOMES, "database": store.location,
            "from_recordings_only": bool(tests) and not stored}


def write_report(store: RecordingStore, run: Run, output: Path) -> tuple[Path, int]:
    """Write the report of ``run`` to ``output`` and each kept recording's viewer beside it;
    return the report's path and how many tests it lists."""
    from .viewer import render

    output = Path(output)
    recordings = store.list(run_id=run.id)
    hrefs: dict[int, str] = {}
    if recordings:
        folder = files_dir(output)
        folder.mkdir(parents=True, exist_ok=True)
        for recording in recordings:
            name = f"recording-{recording.id}.html"
            try:
                page = render(store, recording)
            except RecorderError as exc:  # too big for one file: the report goes on without its viewer
                warnings.warn(f"recorder: the report links no viewer for recording {recording.id}: {exc}",
                              RecorderWarning, stacklevel=2)
                continue
            files.write(folder / name, page)
            hrefs[recording.id] = f"{folder.name}/{name}"
    data = report_data(store, run, recordings, hrefs)
    title = html.escape(f"recorder report · run {run.id[:12]}")
    page = _fill(asset("report.html"), CSP=report_policy(), TITLE=title, STYLE=asset("report.css"),
                 DATA=_script_json(data), SCRIPT=asset("report.js"))
    output.parent.mkdir(parents=True, exist_ok=True)
    files.write(output, page)
    return output, len(data["tests"])
