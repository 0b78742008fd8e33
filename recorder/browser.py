"""Find a Chromium to launch, so nobody has to pass a path.

Playwright's own Chromium is used where ``playwright install`` put it; otherwise a system
Chromium (Debian's ``/usr/bin/chromium`` and friends). As root, Chromium needs
``--no-sandbox``.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without these, Chromium keeps trying to reach Google's servers, which a closed network
# refuses many times a second.
QUIET_ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run"]


def chromium_executable() -> str | None:
    """The Chromium to launch: None means Playwright's own (it is installed)."""
    override = os.environ.get("RECORDER_CHROMIUM")
    if override:
        return override
    bundled = _bundled_chromium()
    if bundled and os.path.exists(bundled):
        return None
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _bundled_chromium() -> str | None:
    """Where Playwright's own Chromium would be, without starting Playwright."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    if not os.path.isdir(root):
        return None
    for entry in sorted(os.listdir(root), reverse=True):
        if entry.startswith("chromium-"):
            for sub in ("chrome-linux64/chrome", "chrome-linux/chrome", "chrome-mac/Chromium.app"):
                path = os.path.join(root, entry, sub)
                if os.path.exists(path):
                    return path
    return None


def launch_options(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch()`` that work on this machine.

        browser = p.chromium.launch(**launch_options(headless=False))
    """
    options: dict[str, Any] = {"args": list(QUIET_ARGS)}
    executable = chromium_executable()
    if executable:
        options["executable_path"] = executable
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options["chromium_sandbox"] = False
        options["args"].append("--no-sandbox")
    extra_args = overrides.pop("args", [])
    options["args"] = list(dict.fromkeys([*options["args"], *extra_args]))  # applying it twice changes nothing
    options.update(overrides)
    return options
