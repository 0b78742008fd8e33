"""What recording costs per action, side by side with bare Playwright and Playwright tracing.

    python3 benchmarks/overhead.py                       # both pages, 120 actions x 3 rounds
    python3 benchmarks/overhead.py --quick               # 30 actions x 1 round: a smoke run, a minute or so
    python3 benchmarks/overhead.py --actions 200 --rounds 5 --pages shop
    python3 benchmarks/overhead.py --breakdown           # + recorder without screenshots / DOM / resources
    python3 benchmarks/overhead.py --json                # machine-readable results (--save PATH: as well)

One process, one run. Two pages are served by http.server on 127.0.0.1 (port 0, in a
thread):

  table  1,500 table rows (a text input, a Save button and a status cell the button
         updates, per row) and one inline <style>: a big DOM and nothing to fetch.
  shop   120 product cards under a stylesheet that @imports another and has url()
         background images, a logo and six product photos (<img>); each card has a
         quantity field and an "Add" button whose click logs to the console, fetch()es
         JSON from the same server and writes the answer into the card. Resources,
         console and network, so that both sides have them to capture.

The same scripted session runs in a fresh browser context (1280x720) per mode:

  bare      plain Playwright (sync API)
  recorder  inside `with record(page, db=..., screenshots=True, dom=True) as page:`
            (DOM snapshots with the stylesheets and images they use: the resources table)
  tracing   context.tracing.start(screenshots=True, snapshots=True, sources=False)
            ... stop(path=trace.zip): its snapshots keep resources and the network log
            (--tracing-sources: sources=True, as pytest-playwright's --tracing does;
            recorder keeps no source files, so the default compares like with like)

The session: goto, a few warm-up actions, then N timed actions alternating `fill` of a
field and `click` of a button, on rows or cards spread over the whole page, so nearly
every action scrolls. Only the action loop is timed; the time spent in record()'s exit
and in tracing.stop() is reported separately. After the loop, the last clicked row or card
must show what was filled into it (on the shop page, once the server answered).

--breakdown adds recorder modes that leave one capture out, to show where its time goes:
  recorder-no-screenshots  record(..., screenshots=False)
  recorder-no-dom          record(..., dom=False)  (no DOM snapshots, so no resources)
  recorder-no-resources    DOM snapshots, but no stylesheets/images kept (the benchmark
                           stubs recorder.resources.ResourceKeeper.keep; pages with resources)
  recorder-no-events       record(..., events=False): no console messages, page errors
                           or requests recorded (what event capture costs)
  recorder-no-capture      record(..., screenshots=False, dom=False): the hooks, the
                           element lookup and the store alone

Stored bytes: for tracing the trace.zip; for recorder the database files as record() left
them (the file and its -wal, once the store is closed), with a compacted copy's size
(VACUUM INTO) and an empty database's reported alongside, the blob breakdown (screenshot
tiles and manifests, DOM snapshots, page resources) and the table sizes. Bytes per action divide by every action
of the session (goto and warm-up included), which both recorder and tracing captured.

Modes run in rotating order over several rounds on the same browser and the medians are
reported; "added" is the median over rounds of (mode - bare of the same round), because
absolute times on a shared 2-core machine are noise and the ratios are what to read.
Goals: recorder's added ms/action <= 0.25 x tracing's, its bytes/action <= 0.2 x.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder import RecordingStore, launch_options, record  # noqa: E402

VIEWPORT = {"width": 1280, "height": 720}
WARM_UP = 6  # untimed actions after goto, before the timed loop
TIME_GOAL = 0.25
BYTES_GOAL = 0.2
BREAKDOWN_MODES = ["recorder-no-screenshots", "recorder-no-dom", "recorder-no-resources", "recorder-no-events",
                   "recorder-no-capture"]


# -- the pages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchPage:
    """One page of the benchmark and the fill/click session played on it."""

    name: str
    path: str  # under the server's root
    items: int  # rows or cards
    stride: int  # items between consecutive targets: spread over the page, nearly every action scrolls
    field: str  # id prefix of the field filled (id = prefix + item)
    button: str  # id prefix of the button clicked
    status: str  # id prefix of the element the click writes into
    done: str  # what that element says once the click did its work, {value} the value filled
    has_resources: bool
    describe: str

    def value(self, k: int) -> str:
        return f"value {k}" if self.name == "table" else str(k % 97 + 1)

    def target(self, k: int, offset: int) -> int:
        """Item of action k: fill item i then click item i, the next pair ``stride`` items further on."""
        return (offset + (k // 2) * self.stride) % self.items


TABLE = BenchPage("table", "table.html", items=1500, stride=263, field="in", button="b", status="s",
                  done="saved: {value}", has_resources=False,
                  describe="1,500 table rows, inline <style>, nothing fetched")
SHOP = BenchPage("shop", "shop/index.html", items=120, stride=37, field="qty", button="add", status="st",
                 done="in cart: {value}", has_resources=True,
                 describe="120 cards; stylesheet with @import and url() images, 8 images; "
                          "clicks log to the console and fetch() JSON")
PAGES = {page.name: page for page in (TABLE, SHOP)}


def table_page(rows: int = TABLE.items) -> str:
    body = "\n".join(
        f"<tr><td>{i}</td><td>Item number {i}</td>"
        f"<td><input id='in{i}' aria-label='Row {i} value'></td>"
        f"<td><button id='b{i}' data-row='{i}'>Save</button></td>"
        f"<td id='s{i}' class='status'>idle</td></tr>"
        for i in range(rows)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Table of {rows} rows</title>
<style>
  body {{ font: 14px sans-serif; margin: 16px; }}
  table {{ border-collapse: collapse; }}
  td {{ border: 1px solid #ccc; padding: 2px 8px; }}
  .status {{ min-width: 140px; color: #555; }}
  .status.done {{ color: #080; font-weight: bold; }}
</style></head>
<body><h1>{rows} rows</h1>
<table><tbody>
{body}
</tbody></table>
<script>
  document.querySelector('tbody').addEventListener('click', (event) => {{
    const button = event.target.closest('button[data-row]');
    if (!button) return;
    const row = button.dataset.row;
    const status = document.getElementById('s' + row);
    status.textContent = 'saved: ' + document.getElementById('in' + row).value;
    status.className = 'status done';
  }});
</script>
</body></html>
"""


PRODUCT_PHOTOS = 6


def shop_files(cards: int = SHOP.items) -> dict[str, bytes]:
    """The shop page and its resources, path -> bytes (images drawn with a fixed seed)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(1234)

    def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
        out = io.BytesIO()
        image.save(out, kind, **options)
        return out.getvalue()

    def photo(index: int) -> bytes:
        # A product shot: a soft gradient, a few shapes, a little grain; ~15-20 KB as JPEG.
        width, height = 480, 300
        base = [rng.randrange(60, 200) for _ in range(3)]
        image = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(image)
        for y in range(height):
            draw.line([(0, y), (width, y)], fill=tuple(min(255, c + y * 55 // height) for c in base))
        for _ in range(7):
            x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(20, 90)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
        draw.text((16, height - 28), f"product photo {index}", fill="white")
        image = image.filter(ImageFilter.GaussianBlur(1.2))
        grain = Image.effect_noise((width, height), 18).convert("RGB")
        return encoded(Image.blend(image, grain, 0.08), "JPEG", quality=80)

    logo = Image.new("RGBA", (180, 48), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rounded_rectangle([0, 0, 179, 47], radius=10, fill=(20, 60, 160, 255))
    ImageDraw.Draw(logo).text((16, 16), "BENCH SHOP", fill="white")
    tile = Image.new("RGB", (32, 32), (246, 244, 238))
    ImageDraw.Draw(tile).line([(0, 31), (31, 0)], fill=(232, 228, 218))
    badge = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    ImageDraw.Draw(badge).ellipse([1, 1, 18, 18], fill=(200, 40, 120, 255))

    main_css = """@import "theme.css";
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 sans-serif; color: #222; background: url("../img/tile.png") repeat; }
header { position: sticky; top: 0; z-index: 2; display: flex; align-items: center; gap: 24px;
         padding: 10px 24px; background: rgb(250, 250, 252); border-bottom: 1px solid #ddd; }
header nav a { margin-right: 16px; color: #1a3ca0; text-decoration: none; }
.cart { margin-left: auto; padding-left: 26px; background: url("../img/badge.png") no-repeat left center; }
main { display: grid; grid-template-columns: repeat(4, 1fr); gap: 16px; padding: 16px 24px; }
.card { background: white; border: 1px solid #ddd; border-radius: 8px; padding: 12px; }
.card img { display: block; width: 100%; height: auto; border-radius: 4px; }
.card h2 { font-size: 16px; margin: 8px 0 4px; }
.card .price { margin: 0 0 8px; }
.card input { width: 64px; }
.status { margin: 8px 0 0; min-height: 20px; color: #666; }
footer { padding: 24px; color: #666; }
"""
    theme_css = """:root { --accent: rgb(200, 40, 120); }
.card button { background: var(--accent); color: white; border: 0; border-radius: 4px; padding: 4px 10px; }
.status.done { color: #080; font-weight: bold; padding-left: 24px;
               background: url("../img/badge.png") no-repeat left center; }
.price { color: var(--accent); font-weight: bold; }
"""
    card_html = "\n".join(
        f"""<article class="card" id="card{i}">
  <img src="../img/product-{i % PRODUCT_PHOTOS}.jpg" alt="Product {i}" width="480" height="300">
  <h2>Product {i}</h2>
  <p class="price">{(i * 37) % 90 + 9}.{(i * 13) % 100:02d} EUR</p>
  <p class="blurb">A fine thing, number {i}, in stock and ready to ship.</p>
  <label>Quantity <input id="qty{i}" inputmode="numeric" aria-label="Quantity of product {i}"></label>
  <button id="add{i}" data-item="{i}">Add</button>
  <p id="st{i}" class="status">not in cart</p>
</article>"""
        for i in range(cards)
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Bench shop</title>
<link rel="stylesheet" href="../css/main.css">
</head>
<body>
<header><img src="../img/logo.png" alt="Bench shop" width="180" height="48">
  <nav><a href="#">New</a><a href="#">Popular</a><a href="#">Offers</a></nav>
  <span class="cart">Cart: <b id="count">0</b> items</span></header>
<main>
{card_html}
</main>
<footer>Bench shop: {cards} products</footer>
<script>
  document.querySelector('main').addEventListener('click', async (event) => {{
    const button = event.target.closest('button[data-item]');
    if (!button) return;
    const item = button.dataset.item;
    const qty = document.getElementById('qty' + item).value;
    console.log('add to cart', item, qty);
    const response = await fetch('/api/cart?item=' + item + '&qty=' + encodeURIComponent(qty));
    const cart = await response.json();
    console.log('cart now', cart.count, 'items, total', cart.total);
    const status = document.getElementById('st' + item);
    status.textContent = 'in cart: ' + cart.line.qty;
    status.className = 'status done';
    document.getElementById('count').textContent = cart.count;
  }});
</script>
</body></html>
"""
    files = {
        "shop/index.html": page.encode(),
        "css/main.css": main_css.encode(),
        "css/theme.css": theme_css.encode(),
        "img/logo.png": encoded(logo, "PNG"),
        "img/tile.png": encoded(tile, "PNG"),
        "img/badge.png": encoded(badge, "PNG"),
    }
    for index in range(PRODUCT_PHOTOS):
        files[f"img/product-{index}.jpg"] = photo(index)
    return files


def write_site(root: Path) -> dict[str, int]:
    """Write every page and resource under ``root``; bytes of the shop's resources by path."""
    (root / TABLE.path).write_text(table_page(), encoding="utf-8")
    sizes = {}
    for path, data in shop_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
        if not path.endswith(".html"):
            sizes[path] = len(data)
    return sizes


class Cart:
    """The shop's server side: /api/cart?item=I&qty=Q answers the cart as JSON."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: dict[int, int] = {}
        self.requests = 0

    def add(self, query: str) -> bytes:
        params = parse_qs(query)
        item = int(params.get("item", ["0"])[0])
        try:
            qty = int(params.get("qty", ["1"])[0])
        except ValueError:
            qty = 1
        with self.lock:
            self.requests += 1
            self.lines[item] = qty
            lines = [{"item": i, "qty": q, "price": round((i * 37) % 90 + 9 + ((i * 13) % 100) / 100, 2)}
                     for i, q in sorted(self.lines.items())[-10:]]
            answer = {
                "line": {"item": item, "qty": qty, "name": f"Product {item}"},
                "count": sum(self.lines.values()),
                "total": round(sum(line["qty"] * line["price"] for line in lines), 2),
                "recent": lines,
                "request": self.requests,
            }
        return json.dumps(answer).encode()


def serve(directory: Path, cart: Cart) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            if url.path != "/api/cart":
                super().do_GET()
                return
            body = cart.add(url.query)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
    return server


@contextlib.contextmanager
def site_served(workdir: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """Every page and resource written under ``workdir/site`` and served: the base URL, and
    the bytes of the shop's resources by path."""
    site = workdir / "site"
    site.mkdir()
    resource_bytes = write_site(site)
    server = serve(site, Cart())
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", resource_bytes
    finally:
        server.shutdown()


# -- the scripted session ------------------------------------------------------------------


def step(page: Page, bench: BenchPage, k: int, offset: int) -> None:
    item = bench.target(k, offset)
    if k % 2 == 0:
        page.locator(f"#{bench.field}{item}").fill(bench.value(k))
    else:
        page.locator(f"#{bench.button}{item}").click()


def session(page: Page, bench: BenchPage, url: str, actions: int, offset: int) -> tuple[float, float | None]:
    """goto, warm-up, then the timed loop; returns the seconds the timed loop took, and the
    CPU seconds this process and its children (Playwright's driver, the browser) spent in it."""
    page.goto(url)
    for k in range(WARM_UP):
        step(page, bench, k, offset + 7)  # other items than the timed ones
    cpu = tree_cpu_seconds()
    started = time.perf_counter()
    for k in range(actions):
        step(page, bench, k, offset)
    seconds = time.perf_counter() - started
    cpu_after = tree_cpu_seconds()
    return seconds, (cpu_after - cpu if cpu is not None and cpu_after is not None else None)


def tree_cpu_seconds() -> float | None:
    """CPU seconds (user + system) used so far by this process and every live descendant
    (Linux /proc; None elsewhere). Less sensitive than wall time to other work on the machine."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, cpu seconds)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(children.get(pid, []))
    return total


def check_page(page: Page, bench: BenchPage, actions: int, offset: int) -> bool:
    """The last clicked item's status says what was filled into it: the clicks really ran
    (on the shop page, the fetch() too)."""
    last_click = actions - 1 if actions % 2 == 0 else actions - 2
    if last_click < 1:
        return True
    status = page.locator(f"#{bench.status}{bench.target(last_click, offset)}")
    expected = bench.done.format(value=bench.value(last_click - 1))
    try:
        status.filter(has_text=expected).wait_for(timeout=5000)
    except Exception:
        pass
    return status.text_content() == expected


def session_actions(actions: int) -> int:
    """Actions of one session as a recording counts them: goto, warm-up and timed."""
    return 1 + WARM_UP + actions


# -- one run of one mode -------------------------------------------------------------------


@contextlib.contextmanager
def resources_left_out() -> Iterator[None]:
    """recorder keeps no stylesheets/images/fonts for a while (the no-resources breakdown mode)."""
    from recorder import resources

    keeper = resources.ResourceKeeper
    original = keeper.keep

    def keep_nothing(self: Any, *args: Any, **kwargs: Any) -> Any:
        return
        yield  # a generator, like the flow it stands in for

    keeper.keep = keep_nothing  # type: ignore[method-assign]
    try:
        yield
    finally:
        keeper.keep = original  # type: ignore[method-assign]


def can_leave_out_resources() -> bool:
    try:
        from recorder import resources

        return callable(getattr(resources.ResourceKeeper, "keep", None))
    except ImportError:
        return False


def run_mode(mode: str, browser: Browser, bench: BenchPage, url: str, actions: int, rundir: Path, offset: int,
             tracing_sources: bool = False) -> dict[str, Any]:
    rundir.mkdir(parents=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    result: dict[str, Any] = {"mode": mode}
    try:
        if mode == "bare":
            result["action_seconds"], result["cpu_seconds"] = session(page, bench, url, actions, offset)
        elif mode == "tracing":
            began = time.perf_counter()
            context.tracing.start(screenshots=True, snapshots=True, sources=tracing_sources)
            result["start_seconds"] = time.perf_counter() - began
            result["action_seconds"], result["cpu_seconds"] = session(page, bench, url, actions, offset)
            trace = rundir / "trace.zip"
            began = time.perf_counter()
            context.tracing.stop(path=trace)
            result["finish_seconds"] = time.perf_counter() - began
            result["bytes"] = trace.stat().st_size
            result["trace"] = trace_breakdown(trace)
        else:  # recorder and its breakdown modes
            db = rundir / "recordings.db"
            screenshots = mode not in ("recorder-no-screenshots", "recorder-no-capture")
            dom = mode not in ("recorder-no-dom", "recorder-no-capture")
            with contextlib.ExitStack() as stack:
                if mode == "recorder-no-resources":
                    stack.enter_context(resources_left_out())
                began = time.perf_counter()
                with record(page, db=db, name=f"overhead {bench.name} {mode}", screenshots=screenshots,
                            dom=dom, events=mode != "recorder-no-events") as page:
                    result["start_seconds"] = time.perf_counter() - began
                    result["action_seconds"], result["cpu_seconds"] = session(page, bench, url, actions, offset)
                    began = time.perf_counter()
                result["finish_seconds"] = time.perf_counter() - began  # record() exit: detach, flush, close
            result.update(database_breakdown(db, rundir / "compact.db"))
            result["bytes"] = result["db_files_bytes"]  # what record() left on disk, as a user finds it
        result["page_ok"] = check_page(page, bench, actions, offset)
    finally:
        context.close()
    result["load_average"] = os.getloadavg()[0]  # others' work on the machine shows here
    return result


# What a blob is, from its key, media type and whether the resources table names it.
_BLOB_KIND = (
    "CASE WHEN b.key LIKE 'tile:%' THEN 'screenshot tiles (webp)'"
    " WHEN b.media_type = 'application/vnd.recorder.tiles' THEN 'screenshot manifests'"
    " WHEN b.key IN (SELECT blob_key FROM resources) THEN 'page resources (' || b.media_type || ')'"
    " WHEN b.media_type LIKE 'text/html%' THEN 'dom snapshots'"
    " ELSE b.media_type END"
)


def database_breakdown(db: Path, compact: Path) -> dict[str, Any]:
    """Sizes of a closed recordings database: files as left, compacted, per table, per blob kind."""
    files_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpointed_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
        conn.execute(f"VACUUM INTO '{compact}'")
        counts = conn.execute(
            "SELECT count(*), count(screenshot_key), count(dom_snapshot_key),"
            " count(CASE WHEN screenshot_key IS NOT NULL AND dom_snapshot_key IS NOT NULL THEN 1 END)"
            " FROM actions"
        ).fetchone()
        by_type = dict(conn.execute("SELECT type, count(*) FROM actions GROUP BY type").fetchall())
        has_resources = bool(conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'resources'").fetchone())
        kind = _BLOB_KIND if has_resources else _BLOB_KIND.replace(
            " WHEN b.key IN (SELECT blob_key FROM resources) THEN 'page resources (' || b.media_type || ')'", "")
        blob_kinds = {
            name: {"count": count, "stored_bytes": stored, "original_bytes": original}
            for name, count, stored, original in conn.execute(
                f"SELECT {kind}, count(*), sum(b.stored_size), sum(b.size) FROM blobs b GROUP BY 1").fetchall()
        }
        dom_codecs = dict(conn.execute(
            f"SELECT b.codec, count(*) FROM blobs b WHERE {kind} = 'dom snapshots' GROUP BY 1").fetchall())
        resources = conn.execute(
            "SELECT count(*), coalesce(sum(size), 0), count(DISTINCT blob_key) FROM resources").fetchone() \
            if has_resources else (0, 0, 0)
        action_text = conn.execute(
            "SELECT sum(length(metadata)), sum(coalesce(length(selector), 0) + coalesce(length(value), 0)"
            " + coalesce(length(url), 0)) FROM actions"
        ).fetchone()
    with sqlite3.connect(compact) as conn:
        # Each table and index on its own (blobs' TEXT PRIMARY KEY is an index of its own).
        tables = dict(conn.execute(
            "SELECT CASE WHEN m.type = 'index' THEN m.tbl_name || ' index ' || d.name ELSE d.name END,"
            " sum(d.pgsize) FROM dbstat d LEFT JOIN sqlite_schema m ON m.name = d.name"
            " GROUP BY d.name ORDER BY 2 DESC"
        ).fetchall())
    return {
        "db_files_bytes": files_bytes,
        "db_checkpointed_bytes": checkpointed_bytes,
        "db_compact_bytes": compact.stat().st_size,
        "recorded_actions": counts[0], "with_screenshot": counts[1], "with_dom": counts[2], "with_both": counts[3],
        "actions_by_type": by_type,
        "blob_kinds": blob_kinds,
        "dom_codecs": dom_codecs,
        "resources": {"urls": resources[0], "bytes": resources[1], "blobs": resources[2]},
        "blob_stored_bytes": sum(entry["stored_bytes"] for entry in blob_kinds.values()),
        "action_metadata_bytes": action_text[0] or 0, "action_text_bytes": action_text[1] or 0,
        "table_bytes": tables,  # pages of each table and index, after VACUUM
    }


def trace_breakdown(trace: Path) -> dict[str, Any]:
    """Compressed bytes of a trace.zip by kind of entry."""
    kinds: dict[str, dict[str, int]] = {}
    with zipfile.ZipFile(trace) as archive:
        for info in archive.infolist():
            name = info.filename
            if name.endswith((".jpeg", ".jpg")) and "page@" in name:  # resources/page@...-<time>.jpeg
                kind = "screencast frames (jpeg)"
            elif name.startswith("resources/src@"):
                kind = "source files"
            elif name.startswith("resources/"):
                suffix = name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else "(no extension)"
                kind = f"resources .{suffix}" if not suffix.startswith("(") else f"resources {suffix}"
            elif name.endswith(".trace"):
                kind = "trace events + DOM snapshots"
            elif name.endswith(".network"):
                kind = "network log"
            elif name.endswith(".stacks"):
                kind = "call stacks"
            else:
                kind = "other"
            entry = kinds.setdefault(kind, {"count": 0, "stored_bytes": 0, "original_bytes": 0})
            entry["count"] += 1
            entry["stored_bytes"] += info.compress_size
            entry["original_bytes"] += info.file_size
    return kinds


def code_version() -> str:
    """The last commit that changed recorder/, and whether recorder/ differs from it now
    (other people's edits in a shared working tree)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h", "--", "recorder"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "recorder"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{commit}" + (f" + uncommitted changes to {len(changed)} file(s) under recorder/" if changed else "")


def empty_database_bytes(workdir: Path) -> int:
    path = workdir / "empty.db"
    RecordingStore(path).close()
    compact = workdir / "empty-compact.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"VACUUM INTO '{compact}'")
    return compact.stat().st_size


# -- the run and its report ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure ms and bytes per action of bare Playwright, recorder and Playwright tracing "
                    "on the same session, side by side in one process, on a 1,500-row table page and on a "
                    "shop page with a stylesheet, images, console logs and fetch() calls.",
        epilog="Run from the project root: python3 benchmarks/overhead.py  (about 5 minutes; "
               "--breakdown about twice that; --quick about a minute)",
    )
    parser.add_argument("--actions", type=int, default=None,
                        help="timed actions per run (default 120, 30 with --quick; at least 2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of every mode, rotating order (default 3, 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 30 actions x 1 round unless given")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help=f"comma-separated pages to run (default {','.join(PAGES)})")
    parser.add_argument("--breakdown", action="store_true",
                        help="also run recorder without screenshots, without DOM snapshots, without resources "
                             "and without either capture")
    parser.add_argument("--tracing-sources", action="store_true",
                        help="tracing.start(sources=True), as pytest-playwright's --tracing does "
                             "(default sources=False: recorder keeps no source files)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--save", metavar="PATH", help="also write the JSON results to PATH")
    args = parser.parse_args(argv)
    args.actions = args.actions if args.actions is not None else (30 if args.quick else 120)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if args.actions < 2 or args.rounds < 1:
        parser.error("--actions must be at least 2 and --rounds at least 1")
    names = [name.strip() for name in args.pages.split(",") if name.strip()]
    unknown = [name for name in names if name not in PAGES]
    if unknown or not names:
        parser.error(f"--pages: unknown page {', '.join(unknown) or '(none)'}; choose from {', '.join(PAGES)}")

    results: dict[str, Any] = {}
    version = code_version()
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        workdir = Path(tmp)
        with site_served(workdir) as (base, resource_bytes), sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            for name in names:
                bench = PAGES[name]
                modes = ["bare", "recorder", "tracing"]
                if args.breakdown:
                    modes += [mode for mode in BREAKDOWN_MODES if mode != "recorder-no-resources"
                              or (bench.has_resources and can_leave_out_resources())]
                runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
                url = base + bench.path
                # A throwaway run first: the browser's first context, page load and JIT.
                run_mode("bare", browser, bench, url, 10, workdir / name / "warm-up", 0)
                for round_ in range(args.rounds):
                    order = modes[round_ % len(modes):] + modes[:round_ % len(modes)]
                    for mode in order:
                        result = run_mode(mode, browser, bench, url, args.actions,
                                          workdir / name / f"{round_}-{mode}", round_ * 11,
                                          tracing_sources=args.tracing_sources)
                        result["round"] = round_
                        runs[mode].append(result)
                        print(f"{name:<6} round {round_ + 1}/{args.rounds} {mode:<24} "
                              f"{result['action_seconds'] * 1000 / args.actions:7.1f} ms/action  "
                              f"(load average {result['load_average']:.1f})", file=sys.stderr)
                results[name] = {"runs": runs}
            browser.close()
        empty = empty_database_bytes(workdir)
    for name in names:
        results[name]["summary"] = summarise(results[name]["runs"], args.actions, empty)
    document = {"recorder_code": version, "actions": args.actions, "rounds": args.rounds,
                "tracing_sources": args.tracing_sources,
                "resource_files_bytes": resource_bytes,
                "pages": {name: {"describe": PAGES[name].describe, **results[name]} for name in names}}
    if args.save:
        Path(args.save).write_text(json.dumps(document, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        for name in names:
            print_page_report(PAGES[name], results[name]["summary"], args)
        print_summary(names, results, args)
        print(f"recorder code measured: {version}")
    return 0


def summarise(runs: dict[str, list[dict[str, Any]]], actions: int, empty_db: int) -> dict[str, Any]:
    per_session = session_actions(actions)
    ms = {mode: [run["action_seconds"] * 1000 / actions for run in results] for mode, results in runs.items()}
    added = {mode: statistics.median(m - b for m, b in zip(ms[mode], ms["bare"])) for mode in runs if mode != "bare"}
    cpu = {mode: [run["cpu_seconds"] * 1000 / actions for run in results if run.get("cpu_seconds") is not None]
           for mode, results in runs.items()}
    if all(len(cpu[mode]) == len(runs[mode]) for mode in runs):
        added_cpu: dict[str, float] = {
            mode: statistics.median(c - b for c, b in zip(cpu[mode], cpu["bare"])) for mode in runs if mode != "bare"}
    else:
        cpu, added_cpu = {}, {}

    def median_of(mode: str, key: str) -> float | None:
        values = [run[key] for run in runs[mode] if key in run]
        return statistics.median(values) if values else None

    bytes_per_action = {mode: median_of(mode, "bytes") / per_session for mode in runs if median_of(mode, "bytes")}
    finish = {mode: median_of(mode, "finish_seconds") for mode in runs if mode != "bare"}
    start = {mode: median_of(mode, "start_seconds") for mode in runs if mode != "bare"}
    # The exit/stop time spread over the timed actions, for those who count it.
    added_with_finish = {mode: added[mode] + (finish[mode] or 0) * 1000 / actions for mode in added}

    def ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 else None

    time_ratio = ratio(added["recorder"], added["tracing"])
    cpu_ratio = ratio(added_cpu["recorder"], added_cpu["tracing"]) if added_cpu else None
    loads = [run.get("load_average", 0.0) for results in runs.values() for run in results]
    bytes_ratio = ratio(bytes_per_action["recorder"], bytes_per_action["tracing"])
    # The recorder run whose bytes are the median, for the breakdown.
    recorder_runs = sorted(runs["recorder"], key=lambda run: run["bytes"])
    typical = recorder_runs[len(recorder_runs) // 2]
    typical_trace = sorted(runs["tracing"], key=lambda run: run["bytes"])[len(runs["tracing"]) // 2]
    return {
        "session_actions": per_session,
        "ms_per_action": {mode: statistics.median(values) for mode, values in ms.items()},
        "ms_per_action_runs": ms,
        "added_ms_per_action": added,
        "added_ms_per_action_with_finish": added_with_finish,
        "start_seconds": start,
        "finish_seconds": finish,
        "bytes_per_action": bytes_per_action,
        "time_ratio": time_ratio, "time_goal": TIME_GOAL,
        "time_goal_met": time_ratio is not None and time_ratio <= TIME_GOAL,
        "cpu_ms_per_action": {mode: statistics.median(values) for mode, values in cpu.items()},
        "added_cpu_ms_per_action": added_cpu,
        "cpu_ratio": cpu_ratio,
        "time_ratio_with_finish": ratio(added_with_finish["recorder"], added_with_finish["tracing"]),
        "bytes_ratio": bytes_ratio, "bytes_goal": BYTES_GOAL,
        "bytes_goal_met": bytes_ratio is not None and bytes_ratio <= BYTES_GOAL,
        "empty_database_bytes": empty_db,
        "bytes_ratio_without_empty_db": ratio(
            (median_of("recorder", "bytes") - empty_db) / per_session, bytes_per_action["tracing"]),
        "bytes_ratio_compacted": ratio(
            median_of("recorder", "db_compact_bytes") / per_session, bytes_per_action["tracing"]),
        "load_average": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
        "all_pages_ok": all(run["page_ok"] for results in runs.values() for run in results),
        "pages_not_ok": [f"{run['mode']} round {run['round'] + 1}" for results in runs.values()
                         for run in results if not run["page_ok"]],
        "recorder": {key: typical[key] for key in (
            "db_files_bytes", "db_checkpointed_bytes", "db_compact_bytes", "recorded_actions", "with_screenshot",
            "with_dom", "with_both", "actions_by_type", "blob_kinds", "dom_codecs", "resources",
            "blob_stored_bytes", "action_metadata_bytes", "action_text_bytes", "table_bytes")},
        "trace": {"bytes": typical_trace["bytes"], "entries": typical_trace["trace"]},
    }


def _goal(value: float | None, limit: float, met: bool) -> str:
    if value is None:
        return "n/a (tracing added nothing)"
    return f"{value:.3f}  (goal <= {limit:.2f}: {'MET' if met else 'NOT MET'})"


def print_page_report(bench: BenchPage, summary: dict[str, Any], args: argparse.Namespace) -> None:
    ms, added, size = summary["ms_per_action"], summary["added_ms_per_action"], summary["bytes_per_action"]
    per_session = summary["session_actions"]
    title = f"page '{bench.name}': {bench.describe}"
    print(f"\n{title}\n{'=' * len(title)}")
    print(f"{args.actions} timed actions x {args.rounds} rounds "
          f"(session = goto + {WARM_UP} warm-up + {args.actions} = {per_session} actions); medians\n")
    cpu = summary["added_cpu_ms_per_action"]
    header = (f"{'mode':<24} {'ms/action':>9} {'added ms/action':>15} {'added CPU ms':>12} {'bytes/action':>12} "
              f"{'start s':>7} {'exit/stop s':>11}  runs ms/action")
    print(header)
    print("-" * len(header))
    for mode in ms:
        bytes_text = f"{size[mode]:>12,.0f}" if mode in size else f"{'-':>12}"
        start, finish = summary["start_seconds"].get(mode), summary["finish_seconds"].get(mode)
        runs_text = " ".join(f"{value:.1f}" for value in summary["ms_per_action_runs"][mode])
        print(f"{mode:<24} {ms[mode]:>9.1f} {(f'{added[mode]:.1f}' if mode in added else '-'):>15} "
              f"{(f'{cpu[mode]:.1f}' if mode in cpu else '-'):>12} {bytes_text} "
              f"{(f'{start:.2f}' if start is not None else '-'):>7} "
              f"{(f'{finish:.2f}' if finish is not None else '-'):>11}"
              f"  {runs_text}")
    load = summary["load_average"]
    print("\n(added = median over rounds of mode minus bare in the same round; added CPU ms = the same for the"
          " CPU time of this process, Playwright's driver and the browser; recorder bytes = the database"
          " files as record() left them; tracing bytes = trace.zip)")
    print(f"(1-minute load average after the runs: median {load['median']:.1f}, {load['min']:.1f}-{load['max']:.1f}"
          f" on {os.cpu_count()} cores: above that, other work shared the machine)\n")
    print(f"recorder added time / tracing added time = "
          f"{_goal(summary['time_ratio'], TIME_GOAL, summary['time_goal_met'])}")
    print(f"recorder bytes / trace.zip bytes         = "
          f"{_goal(summary['bytes_ratio'], BYTES_GOAL, summary['bytes_goal_met'])}")
    if summary["cpu_ratio"] is not None:
        print(f"  the same in CPU time (this process, the driver and the browser; less sensitive to other work "
              f"on the machine): {summary['cpu_ratio']:.2f}")
    with_finish = summary["time_ratio_with_finish"]
    if with_finish is not None:
        print(f"  time ratio counting exit/stop spread over the actions: {with_finish:.2f}")
    print(f"  bytes ratio without the empty database ({summary['empty_database_bytes']:,} bytes): "
          f"{summary['bytes_ratio_without_empty_db']:.3f}; of a compacted copy (VACUUM INTO): "
          f"{summary['bytes_ratio_compacted']:.3f}")
    if not summary["all_pages_ok"]:
        print("\nWARNING: the last clicked item did not show the filled value in: "
              + ", ".join(summary["pages_not_ok"]))

    if "recorder-no-capture" in added or "recorder-no-dom" in added:
        print("\nwhere recorder's added time per action goes (differences of medians: rough, they share noise)")
        print(f"  {'':<62} {'wall ms':>7} {'CPU ms':>7}")
        parts = []

        def part(label: str, mode: str, minus: str | None = None) -> None:
            if mode not in added or (minus is not None and minus not in added):
                return
            wall = added[mode] - (added[minus] if minus else 0.0)
            cpu_ms = (cpu[mode] - (cpu[minus] if minus else 0.0)) if mode in cpu and (minus is None or minus in cpu) \
                else None
            parts.append((label, wall, cpu_ms))

        part("hooks, element lookup, store (recorder-no-capture)", "recorder-no-capture")
        part("DOM snapshots incl. resources (recorder - recorder-no-dom)", "recorder", "recorder-no-dom")
        part("  of which keeping resources (recorder - recorder-no-resources)", "recorder", "recorder-no-resources")
        part("screenshots (recorder - recorder-no-screenshots)", "recorder", "recorder-no-screenshots")
        part("console, errors, requests (recorder - recorder-no-events)", "recorder", "recorder-no-events")
        part("recorder, all of it", "recorder")
        for label, wall, cpu_ms in parts:
            print(f"  {label:<62} {wall:7.1f} {(f'{cpu_ms:.1f}' if cpu_ms is not None else '-'):>7}")

    rec = summary["recorder"]
    print(f"\nrecorder database (median run): {rec['recorded_actions']} actions recorded "
          f"({', '.join(f'{t} {n}' for t, n in sorted(rec['actions_by_type'].items()))}), expected {per_session}")
    print(f"  with a screenshot: {rec['with_screenshot']}/{rec['recorded_actions']}, "
          f"with a DOM snapshot: {rec['with_dom']}/{rec['recorded_actions']}, "
          f"with both: {rec['with_both']}/{rec['recorded_actions']}")
    print(f"  files after close {rec['db_files_bytes']:,} bytes, checkpointed {rec['db_checkpointed_bytes']:,}; "
          f"compacted {rec['db_compact_bytes']:,} bytes; blobs stored_size total {rec['blob_stored_bytes']:,} bytes")
    res = rec["resources"]
    print(f"  resources table: {res['urls']} URLs, {res['bytes']:,} bytes as received, {res['blobs']} distinct blobs")
    print(f"  {'blob kind':<34} {'count':>6} {'stored bytes':>13} {'per action':>11} {'original bytes':>15}")
    for kind, entry in sorted(rec["blob_kinds"].items(), key=lambda item: -item[1]["stored_bytes"]):
        print(f"  {kind:<34} {entry['count']:>6} {entry['stored_bytes']:>13,} "
              f"{entry['stored_bytes'] / per_session:>11,.0f} {entry['original_bytes']:>15,}")
    print(f"  DOM snapshot codecs: {', '.join(f'{c} {n}' for c, n in sorted(rec['dom_codecs'].items()))}")
    print("  pages after VACUUM: " + ", ".join(f"{name} {value:,}" for name, value in rec["table_bytes"].items()))
    print(f"  actions' metadata JSON {rec['action_metadata_bytes']:,} bytes, selector/value/url text "
          f"{rec['action_text_bytes']:,} bytes")

    trace = summary["trace"]
    print(f"\ntrace.zip (median run): {trace['bytes']:,} bytes")
    print(f"  {'entry kind':<34} {'count':>6} {'zipped bytes':>13} {'per action':>11} {'unzipped bytes':>15}")
    for kind, entry in sorted(trace["entries"].items(), key=lambda item: -item[1]["stored_bytes"]):
        print(f"  {kind:<34} {entry['count']:>6} {entry['stored_bytes']:>13,} "
              f"{entry['stored_bytes'] / per_session:>11,.0f} {entry['original_bytes']:>15,}")


def print_summary(names: list[str], results: dict[str, Any], args: argparse.Namespace) -> None:
    title = (f"summary: {args.actions} timed actions x {args.rounds} rounds, medians; "
             f"tracing sources={'True' if args.tracing_sources else 'False'}")
    print(f"\n{title}\n{'=' * len(title)}")
    header = (f"{'page':<6} {'bare ms':>8} {'recorder +ms':>12} {'tracing +ms':>11} {'time ratio':>10} "
              f"{'CPU ratio':>9} {'recorder B':>10} {'trace.zip B':>11} {'bytes ratio':>11}  (per action)")
    print(header)
    print("-" * len(header))
    for name in names:
        summary = results[name]["summary"]
        ms, added, size = summary["ms_per_action"], summary["added_ms_per_action"], summary["bytes_per_action"]
        time_ratio, bytes_ratio, cpu_ratio = summary["time_ratio"], summary["bytes_ratio"], summary["cpu_ratio"]
        print(f"{name:<6} {ms['bare']:>8.1f} {added['recorder']:>12.1f} {added['tracing']:>11.1f} "
              f"{(f'{time_ratio:.2f}' if time_ratio is not None else 'n/a'):>10} "
              f"{(f'{cpu_ratio:.2f}' if cpu_ratio is not None else 'n/a'):>9} "
              f"{size['recorder']:>10,.0f} {size['tracing']:>11,.0f} "
              f"{(f'{bytes_ratio:.3f}' if bytes_ratio is not None else 'n/a'):>11}")
    print(f"\ngoals: time ratio <= {TIME_GOAL}, bytes ratio <= {BYTES_GOAL}; "
          + "; ".join(f"{name}: time {'MET' if results[name]['summary']['time_goal_met'] else 'NOT MET'}, "
                      f"bytes {'MET' if results[name]['summary']['bytes_goal_met'] else 'NOT MET'}"
                      for name in names))


if __name__ == "__main__":
    sys.exit(main())
