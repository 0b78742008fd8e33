"""``recorder diff A B`` and the compare view of any two recordings, on real Chromium recordings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect

from recorder import RecordingStore, record
from recorder.cli import main
from recorder.diff import align, diff_recordings, visible_text
from recorder.viewer import serve_in_thread
from tests.test_viewer import IMAGE_LOADED, violations


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def flow(context: Any, server: str, db_path: Path, name: str = "Ada", *, break_hover: bool = False) -> int:
    """Record the same four steps on app.html: open it, type a name, hover a button, save.
    With ``break_hover`` the button is gone first (not a recorded step), so the hover errors."""
    page = context.new_page()
    with record(page, db=db_path, name="the flow") as page:
        page.goto(server + "/app.html")
        page.get_by_label("Name").fill(name)
        if break_hover:
            page.evaluate("document.getElementById('hover-target').remove()")
        try:
            # (400 ms only where it is to fail: a loaded machine may take longer to hover)
            page.locator("#hover-target").hover(timeout=400 if break_hover else 5000)
        except Exception:
            pass
        page.get_by_role("button", name="Save").click()
    page.close()
    return page.recording.id


@pytest.fixture
def three(context, server: str, db_path: Path) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Three recordings of the flow: "ada", "ada again" (the same), "bob" (another name typed)."""
    return {"ada": flow(context, server, db_path), "ada again": flow(context, server, db_path),
            "bob": flow(context, server, db_path, "Bob")}


def test_diff_points_at_the_step_that_typed_another_value(three: dict[str, int], db_path: Path) -> None:
    code, out, err = invoke("diff", str(three["ada"]), str(three["bob"]), "--db", str(db_path))
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "first difference at step 2 (A) / 2 (B): value 'Ada' → 'Bob'"
    marked = [line for line in out.splitlines() if line.startswith(">")]
    assert len(marked) == 1 and "'Ada'" in marked[0] and "'Bob'" in marked[0]
    code, out, _ = invoke("diff", str(three["ada"]), str(three["bob"]), "--db", str(db_path), "--json")
    report = json.loads(out)
    assert report["first_difference"] == {"index": 1, "a": 2, "b": 2, "kinds": ["value"]}
    assert [(p["a"]["sequence"], p["b"]["sequence"]) for p in report["alignment"]] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    # After Save the page says "submitted Bob": the text of the last step differs too.
    assert any(d["kind"] == "text" and "'Ada' → 'Bob'" in d["detail"] for d in report["alignment"][3]["differences"])


def test_two_identical_flows_have_no_differences(three: dict[str, int], db_path: Path) -> None:
    code, out, _ = invoke("diff", str(three["ada"]), str(three["ada again"]), "--db", str(db_path))
    assert code == 0 and out.strip().splitlines()[-1] == "no differences (4 steps aligned)"
    assert not any(line.startswith((">", "*")) for line in out.splitlines())
    report = json.loads(invoke("diff", str(three["ada"]), str(three["ada again"]), "--db", str(db_path), "--json")[1])
    assert report["same"] and report["first_difference"] is None
    assert all(p["screenshot_difference"] is not None for p in report["alignment"])


def test_diff_points_at_a_step_that_errored_in_one_of_them(context, server: str, db_path: Path,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    passed = flow(context, server, db_path)
    failed = flow(context, server, db_path, break_hover=True)
    other_db = tmp_path / "other.db"
    failed_elsewhere = flow(context, server, other_db, break_hover=True)
    for args in (["--db", str(db_path), str(passed), str(failed)],
                 ["--db", str(db_path), "--db-b", str(other_db), str(passed), str(failed_elsewhere)]):
        code, out, err = invoke("diff", *args)
        assert code == 0, err
        summary = out.strip().splitlines()[-1]
        # The button is gone, so the page's text lacks it too.
        assert summary == ("first difference at step 3 (A) / 3 (B): outcome ok → error 'Locator.hover: Timeout 400ms"
                           " exceeded.'; page text - 'hovered'"), summary


def test_unknown_ids_are_one_line_errors(three: dict[str, int], db_path: Path, tmp_path: Path) -> None:
    for args in (["diff", str(three["ada"]), "999"], ["diff", "998", str(three["ada"])],
                 ["view", str(three["ada"]), "--compare", "999", "--no-open", "-o", str(tmp_path / "x.html")]):
        code, out, err = invoke(*args, "--db", str(db_path))
        assert code == 1 and err.count("\n") == 1 and "no recording with id 99" in err and "Traceback" not in out + err
    assert not (tmp_path / "x.html").exists()


def check_compare_view(viewer: Page, a: int, b: int) -> None:
    """Both sides shown, the differing step marked, selected and side by side."""
    expect(viewer.locator("#diff-summary")).to_have_text("first difference at step 2 (A) / 2 (B): value 'Ada' → 'Bob'")
    expect(viewer.locator("#view")).to_have_class(re.compile(r"\bcompare\b"))
    assert viewer.locator("#timeline .row .seq").all_inner_texts() == ["1", "2", "3", "4"]
    assert viewer.locator("#timeline .row .other").count() == 4  # B's step beside each of A's
    first = viewer.locator(".row.first-difference")
    expect(first).to_have_count(1)
    expect(first.locator(".seq")).to_have_text("2")
    expect(first.locator(".other")).to_contain_text("#2")
    expect(first.locator(".other")).to_contain_text("Bob")
    expect(first.locator(".differences")).to_have_text("value 'Ada' → 'Bob'")
    assert first.get_attribute("data-diff") == "value"
    expect(viewer.locator(".row.selected .seq")).to_have_text("2")
    expect(viewer.locator("#original-caption")).to_have_text(f"B: recording {b} #2 type")
    viewer.wait_for_function(IMAGE_LOADED, arg="original-shot")
    viewer.wait_for_function(IMAGE_LOADED, arg="shot")
    assert viewer.evaluate("document.getElementById('original-shot').naturalWidth") > 0
    assert viewer.locator("#shot").is_visible() and viewer.locator("#original-shot").is_visible()
    # 4: the page text after Save. (3, the hover, may differ by its screenshot alone: which frame
    # a loaded machine paints for it varies, and the typed name shows in it.)
    differs = viewer.locator(".row.differs .seq").all_inner_texts()
    assert {"2", "4"} <= set(differs) <= {"2", "3", "4"}, differs


def test_the_compare_view_shows_both_recordings_at_their_first_difference(three: dict[str, int], db_path: Path,  # type: ignore[no-untyped-def]
                                                                          tmp_path: Path, context) -> None:
    target = tmp_path / "compare.html"
    code, _, err = invoke("view", str(three["ada"]), "--compare", str(three["bob"]), "--db", str(db_path),
                          "--no-open", "-o", str(target))
    assert code == 0, err
    viewer = context.new_page()
    refused = violations(viewer)
    viewer.goto(target.as_uri())
    check_compare_view(viewer, three["ada"], three["bob"])
    viewer.keyboard.press("ArrowRight")
    expect(viewer.locator("#original-caption")).to_have_text(f"B: recording {three['bob']} #3 hover")
    viewer.keyboard.press("c")  # side by side off, and on again
    expect(viewer.locator("#view")).not_to_have_class(re.compile(r"\bcompare\b"))
    assert refused == []


def test_the_served_compare_view_and_steps_only_one_side_has(context, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    ada, bob = flow(context, server, db_path), flow(context, server, db_path, "Bob")
    page = context.new_page()  # Bob again, with a click on the list first: a step only this one has
    with record(page, db=db_path, name="the flow") as page:
        page.goto(server + "/app.html")
        page.locator("#list li").first.click()
        page.get_by_label("Name").fill("Ada")
    extra = page.recording.id
    with RecordingStore(db_path, readonly=True) as store:
        result = diff_recordings(store.get(ada), store.get(extra))
        assert result.summary() == "first difference at step - (A) / 2 (B): only in B: click locator(\"#list li\").first"
        assert [(p.a and p.a["sequence"], p.b and p.b["sequence"]) for p in result.pairs] == [
            (1, 1), (None, 2), (2, 3), (3, None), (4, None)]
        base, httpd = serve_in_thread(store)
        try:
            viewer = context.new_page()
            refused = violations(viewer)
            viewer.goto(f"{base}/compare/{ada}/{bob}")
            check_compare_view(viewer, ada, bob)
            viewer.goto(f"{base}/compare/{ada}/{extra}")
            only_b = viewer.locator(".row.only-b")
            expect(only_b).to_have_count(1)
            expect(only_b).to_have_class(re.compile(r"\bfirst-difference\b"))
            expect(only_b.locator(".other")).to_contain_text("#2 click")
            # The rows in order: A's 1, B's extra step, A's 2, 3, 4.
            texts = viewer.locator("#rows > .row .seq").all_inner_texts()
            assert texts == ["1", "-", "2", "3", "4"]
            expect(viewer.locator(".row.selected .seq")).to_have_text("1")  # the A step before it
            assert viewer.request.get(f"{base}/compare/{ada}/999").status == 404
            assert refused == []
        finally:
            httpd.shutdown()
            httpd.server_close()


def step(sequence: int, type_: str, selector: str | None = None, value: str | None = None,
         url: str = "http://127.0.0.1:1/app.html") -> dict[str, Any]:
    return {"sequence": sequence, "type": type_, "selector": selector, "value": value, "url": url, "status": "ok",
            "error": None, "screenshot_key": None, "dom_snapshot_key": None, "metadata": {}}


def test_alignment_matches_navigations_by_path_and_pairs_replaced_steps() -> None:
    a = [step(1, "navigate", value="http://127.0.0.1:1/app.html"), step(2, "click", "#a"), step(3, "type", "#b", "x")]
    b = [step(1, "navigate", value="http://localhost:2/app.html", url="http://localhost:2/app.html"),
         step(2, "click", "#other"), step(3, "type", "#b", "y"), step(4, "click", "#c")]
    pairs = align(a, b)
    assert [(p.a and p.a["sequence"], p.b and p.b["sequence"]) for p in pairs] == [(1, 1), (2, 2), (3, 3), (None, 4)]


def test_visible_text_leaves_out_what_a_page_does_not_show() -> None:
    snapshot = ("<html><head><title>T</title><style>p{}</style></head><body><p>Hello <b>there</b></p>"
                "<script>var x = 1</script><div hidden>secret <span>more</span></div><input value=v><br>end</body></html>")
    assert visible_text(snapshot) == "Hello there end"


def test_a_screenshot_painted_at_another_moment_of_the_same_page_is_a_note(context, server: str,  # type: ignore[no-untyped-def]
                                                                          db_path: Path, tmp_path: Path) -> None:
    """The pulse page's DOM never changes, its background does: a step's screenshot depends
    on when the browser painted it, which is no difference between two runs. A page that
    really is painted otherwise (its DOM says so) still differs."""
    def pulse(at_ms: int, *, repaint: bool = False) -> int:
        page = context.new_page()
        with record(page, db=db_path, name="pulse") as page:
            page.goto(server + "/pulse.html")
            # The pulse held at one moment of its cycle, not waited for: on a slow machine a
            # wait can end in the other half of the cycle. (No change to the DOM.)
            page.evaluate("t => document.getAnimations().forEach(a => { a.pause(); a.currentTime = t; })", at_ms)
            if repaint:
                page.evaluate("document.body.style.cssText = 'animation: none; background: #fff'")
            page.locator("#go").click()
        page.close()
        return page.recording.id

    early, late, repainted = pulse(500), pulse(3000), pulse(500, repaint=True)
    with RecordingStore(db_path, readonly=True) as store:
        noted = diff_recordings(store.get(early), store.get(late))
        (_, click) = noted.pairs
        assert click.screenshot_difference is not None and click.screenshot_difference > 0.5
        assert noted.same and click.differences == [], noted.format()
        assert click.notes and "painted at another moment" in click.notes[0]
        assert noted.format().splitlines()[-3].startswith("~  2")
        differs = diff_recordings(store.get(early), store.get(repainted))
        assert differs.summary().startswith("first difference at step 2 (A) / 2 (B): screenshot differs in"), \
            differs.format()
    code, out, _ = invoke("diff", str(early), str(late), "--db", str(db_path), "--json")
    assert code == 0 and json.loads(out)["alignment"][1]["notes"] == click.notes
    target = tmp_path / "compare.html"
    code, _, err = invoke("view", str(early), "--compare", str(late), "--db", str(db_path), "--no-open", "-o", str(target))
    assert code == 0, err
    viewer = context.new_page()
    viewer.goto(target.as_uri())
    expect(viewer.locator("#diff-summary")).to_have_text("no differences (2 steps aligned)")
    # (the first step too, when a loaded machine painted its frame late)
    expect(viewer.locator(".row.noted .differences.noted").last).to_have_text(click.notes[0])
    assert viewer.locator(".row.differs").count() == 0


def test_urls_written_another_way_are_the_same_place(context, server: str, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same document by another URL form (the query's order, an empty `#/`) is no
    difference: it was one, and misaligned the navigations as two different steps."""
    recordings = []
    for address in ("/app.html?a=1&b=2#/", "/app.html?b=2&a=1"):
        page = context.new_page()
        with record(page, db=db_path) as page:
            page.goto(server + address)
            page.get_by_label("Name").fill("Ada")
        page.close()
        recordings.append(page.recording.id)
    # (screenshots left out: app.html's frame may be painted a moment later in one of them)
    code, out, err = invoke("diff", *map(str, recordings), "--db", str(db_path), "--json", "--no-screenshots")
    assert code == 0, err
    report = json.loads(out)
    assert report["first_difference"] is None, out
