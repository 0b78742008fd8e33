"""The least any recorder living in the test's own process pays per action, beside recorder
and Playwright tracing: what part of tracing's added time is left for the work itself.

    python3 benchmarks/floor.py                    # shop page, 100 actions x 4 rounds (~5 minutes)
    python3 benchmarks/floor.py --pages table,shop --rounds 2

Playwright's tracing runs inside Playwright's driver: its screencast frames and network
events never leave that process. A recorder in the test's process (recorder is one: a
library wrapped around the user's Page) must have each screenshot frame and each network
event cross the driver's pipe into Python, whatever it then does with them. This script
times those deliveries alone, doing nothing with what arrives, on benchmarks/overhead.py's
pages and session (same server, same fill/click loop, same 1280x720 context):

  bare      plain Playwright
  frames    a CDP session of the page with Chromium's screencast on (JPEG, recorder's
            quality, scaled to fit 800x800 as recorder's default), each frame acknowledged
            from Python and dropped: the least a screenshot per action costs
  events    a CDP session with the Network domain on and a console listener, every event
            dropped: the least recording console and network (issue #12) costs
  both      frames and events together: the floor under recorder's screenshots + events,
            before any DOM snapshot, element lookup or storage
  recorder  record(page, db=...) with its defaults (screenshots, DOM snapshots with their
            resources, events)
  tracing   context.tracing.start(screenshots=True, snapshots=True)
  tracing-no-shots
            context.tracing.start(screenshots=False, snapshots=True): tracing minus this is
            what tracing's own screenshots (the same screencast, kept inside the driver) cost

Printed per page: each mode's added ms/action and added CPU ms/action (this process,
Playwright's driver and the browser; median over rounds of mode - bare of the same round),
each as a share of tracing's; the goal of benchmarks/overhead.py is recorder <= 0.25 x
tracing in time. The last lines set that goal beside what a screenshot per action costs
by itself: tracing's own screenshots, and the frames mode.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Error, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import PAGES, TIME_GOAL, VIEWPORT, BenchPage, session, site_served  # noqa: E402

from recorder import launch_options, record  # noqa: E402

MODES = ["bare", "frames", "events", "both", "recorder", "tracing", "tracing-no-shots"]
QUALITY = 60  # recorder's screencast JPEG quality (_core.SCREENCAST_QUALITY)
FIT = 800  # recorder's default screenshot_size: frames scaled to fit 800x800


def deliver_frames(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)

    def acknowledge(frame: dict[str, Any]) -> None:
        try:
            cdp.send("Page.screencastFrameAck", {"sessionId": frame["sessionId"]})
        except Error:
            pass  # a frame that came as the session's context closed

    cdp.on("Page.screencastFrame", acknowledge)
    scale = min(1.0, FIT / VIEWPORT["width"], FIT / VIEWPORT["height"])
    cdp.send("Page.enable")
    cdp.send("Page.startScreencast", {"format": "jpeg", "quality": QUALITY, "everyNthFrame": 1,
                                      "maxWidth": round(VIEWPORT["width"] * scale),
                                      "maxHeight": round(VIEWPORT["height"] * scale)})


def deliver_events(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    drop: Callable[[Any], None] = lambda event: None  # noqa: E731
    for name in ("Network.requestWillBeSent", "Network.responseReceived", "Network.loadingFinished",
                 "Network.loadingFailed", "Network.dataReceived"):
        cdp.on(name, drop)
    cdp.send("Network.enable")
    page.on("console", drop)
    page.on("pageerror", drop)


def run_mode(mode: str, browser: Browser, bench: BenchPage, url: str, actions: int, rundir: Path,
             offset: int) -> tuple[float, float | None]:
    """ms and CPU ms (None where /proc is not there to read) per timed action of one session
    in a fresh context."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        if mode in ("frames", "both"):
            deliver_frames(page)
        if mode in ("events", "both"):
            deliver_events(page)
        if mode == "recorder":
            with record(page, db=rundir / f"{mode}-{offset}.db") as recorded:
                seconds, cpu = session(recorded, bench, url, actions, offset)
        elif mode.startswith("tracing"):
            context.tracing.start(screenshots=mode == "tracing", snapshots=True)
            seconds, cpu = session(page, bench, url, actions, offset)
            context.tracing.stop(path=rundir / f"{mode}-{offset}.zip")
        else:
            seconds, cpu = session(page, bench, url, actions, offset)
    finally:
        context.close()
    return seconds * 1000 / actions, (cpu * 1000 / actions if cpu is not None else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time what reaches a recorder in the test's process (screencast frames, network and "
                    "console events, doing nothing with them) beside recorder and Playwright tracing.",
        epilog="Run from the project root: python3 benchmarks/floor.py  (about 5 minutes)")
    parser.add_argument("--actions", type=int, default=100, help="timed actions per session (default 100)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of every mode, rotating order (default 4)")
    parser.add_argument("--pages", default="shop", help=f"comma-separated pages: {', '.join(PAGES)} (default shop)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.pages.split(",") if name.strip()]
    if not names or any(name not in PAGES for name in names):
        parser.error(f"--pages: choose from {', '.join(PAGES)}")
    if args.actions < 2 or args.rounds < 1:
        parser.error("--actions must be at least 2 and --rounds at least 1")

    added: dict[str, dict[str, list[float]]] = {}
    added_cpu: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
        workdir = Path(tmp)
        with site_served(workdir) as (base, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options())
            for name in names:
                bench, url = PAGES[name], base + PAGES[name].path
                run_mode("bare", browser, bench, url, 10, workdir, 0)  # first context, page load, JIT
                added[name] = {mode: [] for mode in MODES if mode != "bare"}
                added_cpu[name] = {mode: [] for mode in MODES if mode != "bare"}
                for round_ in range(args.rounds):
                    order = MODES[round_ % len(MODES):] + MODES[:round_ % len(MODES)]
                    runs = {mode: run_mode(mode, browser, bench, url, args.actions, workdir, round_ * 11)
                            for mode in order}
                    for mode in added[name]:
                        added[name][mode].append(runs[mode][0] - runs["bare"][0])
                        mode_cpu, bare_cpu = runs[mode][1], runs["bare"][1]
                        if mode_cpu is not None and bare_cpu is not None:
                            added_cpu[name][mode].append(mode_cpu - bare_cpu)
                    print(f"{name:<6} round {round_ + 1}/{args.rounds}: "
                          + "  ".join(f"{mode} {runs[mode][0]:.1f}" for mode in MODES) + " ms/action",
                          file=sys.stderr)
            browser.close()

    for name in names:
        medians = {mode: statistics.median(values) for mode, values in added[name].items()}
        cpu = {mode: statistics.median(values) for mode, values in added_cpu[name].items()
               if len(values) == args.rounds}
        tracing = medians["tracing"]
        print(f"\npage '{name}': {args.actions} timed actions x {args.rounds} rounds; added ms/action and "
              f"added CPU ms/action, medians over rounds of (mode - bare of the same round)")
        print(f"{'mode':<17} {'added ms':>9} {'x tracing':>10} {'added CPU':>10} {'x tracing':>10}  rounds (ms)")
        for mode, value in medians.items():
            rounds = " ".join(f"{v:.1f}" for v in added[name][mode])
            print(f"{mode:<17} {value:9.1f} {_share(value, tracing):>10} "
                  f"{(f'{cpu[mode]:.1f}' if mode in cpu else '-'):>10} "
                  f"{_share(cpu.get(mode), cpu.get('tracing')):>10}  {rounds}")
        if tracing > 0:
            allowed = TIME_GOAL * tracing
            print(f"goal: recorder <= {TIME_GOAL:.2f} x tracing = {allowed:.1f} ms/action; frames and events "
                  f"alone take {medians['both']:.1f} of them ({medians['both'] / allowed:.0%})")
            shots = medians["tracing"] - medians["tracing-no-shots"]
            line = (f"a screenshot per action by itself: tracing's own screenshots (tracing - tracing-no-shots) "
                    f"{shots:.1f} ms ({_share(shots, tracing)} x tracing)")
            if "tracing" in cpu and "tracing-no-shots" in cpu:
                line += f", {cpu['tracing'] - cpu['tracing-no-shots']:.1f} CPU ms " \
                        f"({_share(cpu['tracing'] - cpu['tracing-no-shots'], cpu['tracing'])} x tracing)"
            if "frames" in cpu:
                line += f"; frames alone {cpu['frames']:.1f} CPU ms ({_share(cpu['frames'], cpu.get('tracing'))})"
            print(line)
    return 0


def _share(value: float | None, of: float | None) -> str:
    return f"{value / of:.2f}" if value is not None and of else "n/a"


if __name__ == "__main__":
    sys.exit(main())
