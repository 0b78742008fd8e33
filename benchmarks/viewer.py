"""How fast the viewer opens a huge recording, and how big its self-contained file gets.

    python benchmarks/viewer.py                 # 5,000 actions
    python benchmarks/viewer.py --actions 20000

Builds a recording of N actions (small distinct screenshots, DOM deltas) with the store
alone, then measures in Chromium the first contentful paint of the server page (blobs
loaded lazily) and of the self-contained file, and the size of that file.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore, launch_options  # noqa: E402
from recorder.viewer import render, serve_in_thread  # noqa: E402


def screenshot(i: int) -> bytes:
    image = Image.new("RGB", (800, 450), "white")
    ImageDraw.Draw(image).text((20, 20 + (i % 40) * 10), f"step {i}", fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def first_paint_ms(page, url: str) -> float:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.wait_for_selector("#timeline .row")
    return page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "big.db"
        with RecordingStore(db) as store:
            recording = store.start(name="big", metadata={"viewport": {"width": 1280, "height": 720}})
            started = time.perf_counter()
            for i in range(args.actions):
                recording.record_action("click", selector=f'locator("#row-{i}")', screenshot=screenshot(i),
                                        dom_snapshot=f"<html><body><p>row {i}</p>{'<li>x</li>' * 200}</body></html>")
            recording.complete()
            store.flush()
            print(f"recorded {args.actions} actions in {time.perf_counter() - started:.1f} s")
            page_html = render(store, store.get(recording.id))
            file = Path(tmp) / "big.html"
            file.write_text(page_html)
            url, server = serve_in_thread(store)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**launch_options())
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                served = first_paint_ms(page, f"{url}/recording/{recording.id}")
                embedded = first_paint_ms(page, file.as_uri())
                browser.close()
            server.shutdown()
        print(f"--serve first contentful paint: {served:.0f} ms (goal < 1000)")
        print(f"self-contained file: {file.stat().st_size / 1e6:.1f} MB, "
              f"{file.stat().st_size / args.actions / 1000:.1f} KB per action, first paint {embedded:.0f} ms")


if __name__ == "__main__":
    main()
