"""Turn Playwright's internal selector strings into the Python locator a person would write.

``internal:role=button[name="Save"i] >> nth=0`` becomes
``get_by_role("button", name="Save").first``. Pure string work, no browser.
"""

from __future__ import annotations

import json
import re

_ROLE = re.compile(r"^([\w-]+)(.*)$", re.S)
_ATTR = re.compile(r'\[([\w-]+)=("(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/[a-z]*|[^\]]+)([is]?)\]')
_ATTR_METHODS = {"placeholder": "get_by_placeholder", "alt": "get_by_alt_text", "title": "get_by_title"}


def split_selector(selector: str) -> list[str]:
    """Split on top-level ``>>``, leaving quoted strings and brackets intact."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(selector):
        char = selector[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 0 and selector.startswith(">>", i):
            parts.append(selector[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(selector[start:].strip())
    return [part for part in parts if part]


def _text_arguments(body: str) -> str:
    """``"Save"i`` -> ``"Save"``; ``"Save"s`` -> ``"Save", exact=True``; ``/re/i`` -> re.compile."""
    body = body.strip()
    if body.startswith("/"):
        end = body.rfind("/")
        flags = ", re.IGNORECASE" if "i" in body[end + 1:] else ""
        return f're.compile({json.dumps(body[1:end])}{flags})'
    exact = body.endswith('"s')
    if body[-1:] in ("i", "s") and body[-2:-1] == '"':
        body = body[:-1]
    try:
        text = json.loads(body)
    except ValueError:
        text = body.strip('"')
    return json.dumps(text, ensure_ascii=False) + (", exact=True" if exact else "")


def _attr_value(raw: str, flag: str) -> str:
    return _text_arguments(raw + flag)


def _role(body: str) -> str:
    match = _ROLE.match(body)
    if not match:
        return f"get_by_role({json.dumps(body)})"
    role, rest = match.groups()
    args = [json.dumps(role)]
    for name, raw, flag in _ATTR.findall(rest):
        if name == "name":
            text = _attr_value(raw, flag)
            args.append(f"name={text.replace(', exact=True', '')}")
            if text.endswith(", exact=True"):
                args.append("exact=True")
        else:
            python_name = name.replace("-", "_")
            value = raw.strip('"')
            args.append(f"{python_name}={'True' if value == 'true' else 'False' if value == 'false' else value}")
    return f"get_by_role({', '.join(args)})"


def _part(part: str) -> str:
    name, _, body = part.partition("=")
    if not _ or " " in name or "[" in name:
        return f"locator({json.dumps(part, ensure_ascii=False)})"
    if name == "internal:role":
        return _role(body)
    if name == "internal:text":
        return f"get_by_text({_text_arguments(body)})"
    if name == "internal:label":
        return f"get_by_label({_text_arguments(body)})"
    if name == "internal:testid":
        match = _ATTR.search(body)
        return f"get_by_test_id({_attr_value(match.group(2), 's').split(', exact')[0]})" if match else part
    if name == "internal:attr":
        match = _ATTR.search(body)
        if match and match.group(1) in _ATTR_METHODS:
            return f"{_ATTR_METHODS[match.group(1)]}({_attr_value(match.group(2), match.group(3))})"
    if name == "nth":
        return {"0": "first", "-1": "last"}.get(body, f"nth({body})")
    if name == "internal:has-text":
        return f"filter(has_text={_text_arguments(body)})"
    if name == "internal:has-not-text":
        return f"filter(has_not_text={_text_arguments(body)})"
    if name in ("internal:has", "internal:has-not", "internal:and", "internal:or", "internal:chain"):
        try:
            inner = readable_selector(json.loads(body))
        except ValueError:
            inner = body
        keyword = {"internal:has": "filter(has=", "internal:has-not": "filter(has_not=",
                   "internal:and": "and_(", "internal:or": "or_(", "internal:chain": "locator("}[name]
        return f"{keyword}{inner})"
    if name == "internal:control" and body == "enter-frame":
        return "content_frame"
    return f"locator({json.dumps(part, ensure_ascii=False)})"


def readable_selector(selector: str) -> str:
    """The Python locator chain for a Playwright selector, relative to the page.

    >>> readable_selector('internal:role=button[name="Save"i]')
    'get_by_role("button", name="Save")'
    >>> readable_selector('#list li >> nth=-1')
    'locator("#list li").last'
    """
    pieces: list[str] = []
    for part in split_selector(selector):
        piece = _part(part)
        if piece == "content_frame" and pieces and pieces[-1].startswith("locator("):
            pieces[-1] = "frame_locator(" + pieces[-1][len("locator("):]
        else:
            pieces.append(piece)
    return ".".join(pieces)
