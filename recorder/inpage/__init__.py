"""The JavaScript recorder runs inside pages, kept in files of its own.

``world.js`` is the library of recorder's questions (element facts, the secret check, the
DOM snapshot, mask boxes, page state), evaluated once per document in recorder's isolated
world; ``engine.js`` wraps the same library as a Playwright selector engine that runs in
Playwright's utility world, where the elements an action's locator finds are at hand.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from importlib.resources import files
from urllib.parse import quote

WORLD_NAME = "__recorder__"
# The selector engine's name: `locator >> recorder-target=...` (see engine.js).
TARGET_ENGINE = "recorder-target"


@cache
def world_source() -> str:
    """The library, as one JavaScript expression."""
    return files(__package__).joinpath("world.js").read_text(encoding="utf-8")


@cache
def engine_source() -> str:
    """The selector engine, as one JavaScript expression (the library inside)."""
    return files(__package__).joinpath("engine.js").read_text(encoding="utf-8").replace("__WORLD__", world_source())


def call(function: str, *arguments: object) -> str:
    """A JavaScript expression calling ``function`` of the library installed in a world."""
    return f"globalThis.{WORLD_NAME}.{function}({', '.join(json.dumps(a) for a in arguments)})"


def install() -> str:
    """The expression that installs the library in a world (once per document)."""
    return f"globalThis.{WORLD_NAME} = globalThis.{WORLD_NAME} || {world_source()}; true"


def main_world_function(function: str) -> str:
    """A function for ``page.evaluate`` where no isolated world can be had (not Chromium)."""
    return f"(args) => ({world_source()}).{function}(...args)"


# The selector that yields engine.js's answer for "no element": `null`.
NO_TARGET = f"{TARGET_ENGINE}=none"


def target_selector(redact: list[str], previous: dict[str, Any] | None = None) -> str:
    """The selector part that, after an action's locator, yields what engine.js tells of its
    element (and, given ``previous``, of the state of the element at that place: world.js
    stateAt)."""
    asked: dict[str, Any] = {"redact": redact, **({"previous": previous} if previous else {})}
    return f"{TARGET_ENGINE}={quote(json.dumps(asked), safe='')}"
