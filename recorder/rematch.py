"""Finding a recorded element again when its recorded locator no longer finds it. Pure logic.

In the manner of the Similo locator-repair methods (Nass, Alégroth, Feldt et al.): every
candidate element on the page is compared with everything recorded about the target, one
attribute at a time, and the similarities are summed with weights (the attributes that
identify an element best, its id, name, test id, tag and texts, weigh most). The best
candidate is taken only when it is similar enough (``THRESHOLD``) and clearly more similar
than the runner-up (``MARGIN``): a weak or ambiguous match is reported, never acted on.

Unlike Similo, a candidate that is another element is never taken for a named target on
its place and look alone: when the recorded element had a name or text, a candidate whose
own is unlike it, and names something the recorded page already showed, must share an
identifier (id, name attribute, test id) to be taken. A removed "Completed" filter link is
not replaced by its neighbour "Active", which has the same tag, role, path shape and size;
a button reworded "Continue" to "Next step" is still found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

THRESHOLD = 0.55  # the least weighted similarity (0..1) a re-match is taken at
MARGIN = 0.08  # and by how much it must beat the runner-up
# An element the recorded locator still finds is taken as the recorded one when at least
# this similar; below, it is kept unless another beats it clearly (``better_than``).
SURE = 0.9

# attribute -> (weight, how compared). Similo's weights: 1.5 for what names an element,
# 0.5 for what describes its place or look.
WEIGHTS: dict[str, tuple[float, str]] = {
    "tag": (1.5, "equal"),
    "id": (1.5, "text"),
    "name_attribute": (1.5, "text"),
    "test_id": (1.5, "text"),
    "accessible_name": (1.5, "text"),
    "text": (1.5, "text"),
    "label": (1.5, "text"),
    "neighbour_text": (1.5, "text"),
    "placeholder": (1.0, "text"),
    "role": (1.0, "equal"),
    "type": (0.5, "equal"),
    "classes": (0.5, "words"),
    "href": (0.5, "text"),
    "css_path": (0.5, "text"),
    "location": (0.5, "location"),
    "size": (0.5, "size"),
}


@dataclass
class Scored:
    index: int  # among the candidates, in document order
    score: float
    matched: list[str] = field(default_factory=list)  # the attributes that (nearly) agree
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        info = self.info
        return {"score": round(self.score, 3), "tag": info.get("tag"), "role": info.get("role"),
                "name": info.get("accessible_name") or info.get("text"), "id": info.get("id"),
                "css_path": info.get("css_path"), "matched": self.matched}


def _text(a: str, b: str) -> float:
    a, b = a.strip().lower(), b.strip().lower()
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b).ratio()


def _words(a: str, b: str) -> float:
    left, right = set(a.split()), set(b.split())
    return len(left & right) / len(left | right) if left | right else 1.0


def _location(recorded: dict[str, float], box: dict[str, float]) -> float:
    """1 at the same centre, falling to 0 at 200 CSS px away."""
    dx = (recorded["x"] + recorded["width"] / 2) - (box["x"] + box["width"] / 2)
    dy = (recorded["y"] + recorded["height"] / 2) - (box["y"] + box["height"] / 2)
    return max(0.0, 1 - (dx * dx + dy * dy) ** 0.5 / 200)


def _size(recorded: dict[str, float], box: dict[str, float]) -> float:
    """The smaller area over the larger, times the like for the aspect (Similo's area and shape)."""
    a, b = recorded["width"] * recorded["height"], box["width"] * box["height"]
    if not a or not b:
        return 1.0 if a == b else 0.0
    ra, rb = recorded["width"] / recorded["height"], box["width"] / box["height"]
    return (min(a, b) / max(a, b)) * (min(ra, rb) / max(ra, rb))


def similarity(target: dict[str, Any], box: dict[str, float] | None, candidate: dict[str, Any]) -> tuple[float, list[str]]:
    """The weighted similarity (0..1) of a candidate to what was recorded, and what agreed.

    Only what was recorded counts: an attribute the target had and the candidate lacks
    scores 0, one the target lacked is left out of the sum.
    """
    total = earned = 0.0
    matched: list[str] = []
    for name, (weight, how) in WEIGHTS.items():
        if how in ("location", "size"):
            theirs = candidate.get("bounding_box")
            if not box or not theirs or not box.get("width"):
                continue
            value = _location(box, theirs) if how == "location" else _size(box, theirs)
        else:
            ours = target.get(name)
            if ours in (None, ""):
                continue
            theirs = candidate.get(name)
            if theirs in (None, ""):
                value = 0.0
            elif how == "equal":
                value = 1.0 if str(ours).lower() == str(theirs).lower() else 0.0
            elif how == "words":
                value = _words(str(ours), str(theirs))
            else:
                value = _text(str(ours), str(theirs))
        total += weight
        earned += weight * value
        if value >= 0.9:
            matched.append(name)
    return (earned / total if total else 0.0), matched


# The recorded page's text, lower case, asked for only when a name needs checking against it.
PageText = Callable[[], str]


def no_page_text() -> str:
    return ""


IDENTIFIERS = ("id", "name_attribute", "test_id")
NAMED_ALIKE = 0.5  # the least similarity of two names (or texts) that may name one element


def _name(info: dict[str, Any]) -> str:
    return str(info.get("accessible_name") or info.get("text") or "").strip().lower()


def _alike(ours: str, theirs: str) -> bool:
    """Whether two names (or texts) may name one thing: one holds the other, or they are
    similar enough."""
    return bool(theirs) and (theirs in ours or ours in theirs or _text(ours, theirs) >= NAMED_ALIKE)


# Elements whose name says what they do, so that another name is another element; a status
# line, a cell or a heading may say something else now and still be the one recorded.
NAMED_BY_PURPOSE = frozenset({"button", "link", "menuitem", "tab", "checkbox", "radio", "switch", "option"})


def _around(info: dict[str, Any]) -> str:
    """The element's neighbouring text without its own ("beta Delete" -> "beta"): rows of
    one list differ there, not in the button they each have."""
    text, own = str(info.get("neighbour_text") or "").lower(), _name(info)
    return " ".join((text.replace(own, " ") if own else text).split())


def unlike_found(target: dict[str, Any], found: dict[str, Any], positional: bool = False,
                 later: tuple[dict[str, Any], ...] = (), page_text: PageText = no_page_text) -> str | None:
    """Why the one element the recorded selector still finds is not the recorded one: a
    button or link named otherwise than it was before or ``later`` in the recording (an id
    moved to another button; a "pending" button that said "ready" after its click is
    itself), or, under a ``positional`` selector (``li:nth-child(2)``), one among other
    neighbours (the list's recorded row is gone: this is the next row's "Delete"); None
    when it may be."""
    ours, theirs = _name(target), _name(found)
    names = [name for name in (ours, *(_name(state) for state in later)) if name]
    if ours and target.get("role") in NAMED_BY_PURPOSE and not any(_alike(name, theirs) for name in names) \
            and _was_on_the_page(target, theirs, page_text):
        return f"named {theirs!r}, not {ours!r} (another element of the page when recorded)"
    if not positional:  # the neighbours of an element found by its id or name may change with the page
        return None
    ours, theirs = _around(target), _around(found)
    if ours and not _alike(ours, theirs):
        return f"next to {theirs!r}, not {ours!r}" if theirs else f"next to nothing, not {ours!r}"
    return None


def _was_on_the_page(target: dict[str, Any], name: str, page_text: PageText) -> bool:
    """Whether something so named was on the page, beside the recorded element or anywhere
    in ``page_text()`` (the recorded page's text as the action began, asked only here: it
    is read from a DOM snapshot), when it was recorded: then an element so named now is
    that other thing, not the recorded one renamed."""
    if not name:
        return False
    as_words = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")  # "go" is not in "google"
    return bool(as_words.search(str(target.get("neighbour_text") or "").lower()) or as_words.search(page_text()))


def named_otherwise(target: dict[str, Any], scored: Scored, page_text: PageText = no_page_text) -> str | None:
    """Why ``scored`` cannot be the recorded element: named unlike it, with no identifier in
    common, and so named it was on the recorded page already (the "Active" filter beside a
    removed "Completed"); None when it may be (a button reworded, "Continue" to "Next
    step", re-matched on the rest)."""
    ours, theirs = _name(target), _name(scored.info)
    if not ours or any(name in scored.matched for name in IDENTIFIERS) or _alike(ours, theirs) \
            or not _was_on_the_page(target, theirs, page_text):
        return None
    return f"named {theirs!r}, not {ours!r} (another element of the page when recorded)"


@dataclass
class Decision:
    chosen: Scored | None
    best: list[Scored]  # the best few, best first
    why: str


def decide(target: dict[str, Any], box: dict[str, float] | None, candidates: list[dict[str, Any]],
           threshold: float = THRESHOLD, margin: float = MARGIN, *, page_text: PageText = no_page_text) -> Decision:
    """Score every visible candidate; take the best only above ``threshold`` and ``margin``
    ahead of the runner-up."""
    scored = sorted((Scored(i, *similarity(target, box, c), info=c) for i, c in enumerate(candidates)
                     if c.get("visible", True)), key=lambda s: -s.score)
    best = scored[:3]
    if not scored:
        return Decision(None, best, "no element on the page to compare")
    eligible = [s for s in scored if named_otherwise(target, s, page_text) is None]
    if not eligible or eligible[0].score < threshold <= scored[0].score:
        likest = scored[0]
        return Decision(None, best, f"no element is like the recorded one: the most similar ({likest.score:.2f}, "
                                    f"{likest.info.get('tag')} {likest.info.get('css_path') or ''}) is "
                                    f"{named_otherwise(target, likest, page_text)}, with no id, name or test id "
                                    f"in common")
    scored = eligible
    first = scored[0]
    second = scored[1].score if len(scored) > 1 else 0.0
    if first.score < threshold:
        return Decision(None, best, f"no element is like the recorded one (best similarity {first.score:.2f}, "
                                    f"needed {threshold:.2f})")
    if first.score - second < margin:
        return Decision(None, best, f"ambiguous: {sum(1 for s in scored if first.score - s.score < margin)} elements "
                                    f"are about as similar to the recorded one ({first.score:.2f} and {second:.2f})")
    return Decision(first, best, f"similarity {first.score:.2f} (runner-up {second:.2f}), "
                                 f"matched on {', '.join(first.matched) or 'nothing exactly'}")


def better_than(found: dict[str, Any], target: dict[str, Any], box: dict[str, float] | None,
                candidates: list[dict[str, Any]], positional: bool = False,
                later: tuple[dict[str, Any], ...] = (),
                page_text: PageText = no_page_text) -> tuple[Decision, float] | None:
    """Where the recorded locator still finds one element (``found``), but another candidate is
    clearly more like the recorded one (a list reordered under a positional selector, say):
    the decision for that other, and the found element's similarity. None when the found
    element is like enough, or nothing beats it by ``MARGIN`` as a clear re-match. (An
    element ``unlike_found`` is beaten by any clear re-match: it is not the recorded one.)"""
    found_score, _ = similarity(target, box, found)
    unlike = unlike_found(target, found, positional, later, page_text) is not None
    if found_score >= SURE and not unlike:
        return None
    decision = decide(target, box, candidates, page_text=page_text)
    chosen = decision.chosen
    if chosen is None or chosen.info.get("css_path") == found.get("css_path") \
            or (chosen.score - found_score < MARGIN and not unlike):
        return None
    return decision, found_score
