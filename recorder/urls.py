"""URLs as replay and diff compare them: the same document written another way is the same.

A recorded URL may hold ``[redacted]`` where a typed secret was cut out of it; compared,
it stands for anything within one part of the URL.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit, urlunsplit

from .model import REDACTED

# The password of a URL's userinfo (scheme://user:password@host), anywhere in a text.
# (The userinfo ends at the authority's last @, as browsers and urlsplit read it: a user
# name or password may hold one.)
_USERINFO_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#]*:)([^\s/?#]*)(@)")
# password=... in a URL's query or libpq's keyword/value form (where it may be quoted)
_PASSWORD_PARAMETER = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#]+)", re.IGNORECASE)
# The start of libpq's keyword/value connection string ("host=db password=... dbname=x").
_KEYWORD_FORM = re.compile(r"\s*(host|hostaddr|port|dbname|user|password|service|sslmode)\s*=", re.IGNORECASE)


def is_libpq_keyword_form(text: str) -> bool:
    """Whether ``text`` is a libpq keyword/value connection string (not a URL, not a path)."""
    return bool(_KEYWORD_FORM.match(text))


def url_passwords(text: str) -> list[str]:
    """The passwords the URLs in ``text`` carry, as written and decoded: their userinfo's
    (``http://user:pw@host/``) and ``password=`` parameters' (in a query, or in libpq's
    keyword/value form)."""
    found = []
    for match in _USERINFO_PASSWORD.finditer(text):
        found += [match[2], unquote(match[2])]
    for match in _PASSWORD_PARAMETER.finditer(text):
        found += [match[2], unquote_plus(match[2])]
    return [password for password in dict.fromkeys(found) if password]


def without_passwords(text: str, replacement: str = REDACTED) -> str:
    """``text`` (a URL, a command-line argument, a message) with the password of each URL in
    it replaced where it stands (``url_passwords``), and nowhere else."""
    text = _USERINFO_PASSWORD.sub(lambda m: m[1] + (replacement if m[2] else "") + m[3], text)
    return _PASSWORD_PARAMETER.sub(lambda m: m[1] + replacement, text)


def origin(url: str) -> str:
    """``scheme://host:port`` of an absolute URL, lower-cased ("" for a relative one, a
    pattern, ``about:blank`` or a ``data:`` URL)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", "")) if parts.scheme and parts.netloc else ""


def url_pattern(url: str) -> str | re.Pattern[str]:
    """A recorded URL to wait for: as is, or with each redacted secret matching anything."""
    if REDACTED not in url:
        return url
    return re.compile("^" + ".+?".join(re.escape(part) for part in url.split(REDACTED)) + "$")


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalized_url(url: str) -> tuple[str, str, str, tuple[tuple[str, str], ...], str]:
    """A URL's parts as compared: scheme and host lower-cased, the default port dropped, the
    path without a trailing slash, the query's parameters in order, an empty fragment or
    ``#/`` as none."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    fragment = "" if parts.fragment in ("", "/", "!/") else parts.fragment
    return scheme, host, path, query, fragment


def _same(expected: str, actual: str) -> bool:
    """Equal, where each redacted secret in ``expected`` stands for anything."""
    if REDACTED not in expected:
        return expected == actual
    # a secret in a URL is one encoded part of it: no separator of a URL's parts in it
    return re.fullmatch("[^&#?]*?".join(re.escape(part) for part in expected.split(REDACTED)), actual) is not None


def compare_urls(expected: str, actual: str) -> tuple[str, str]:
    """``(verdict, what differs)``: ``same`` (perhaps in another form: a trailing slash, a
    default port, ``#/``, the query's order), ``noted`` (only the query or fragment differs:
    the same document) or ``diverged`` (another scheme, host or path: another document)."""
    if _same(expected, actual):
        return "same", ""
    want, have = normalized_url(expected), normalized_url(actual)
    for name, ours, theirs in (("scheme", want[0], have[0]), ("host", want[1], have[1]), ("path", want[2], have[2])):
        if not _same(ours, theirs):
            return "diverged", name
    query_same = len(want[3]) == len(have[3]) and all(
        _same(k1, k2) and _same(v1, v2) for (k1, v1), (k2, v2) in zip(want[3], have[3]))
    if not query_same and REDACTED in urlsplit(expected).query:  # a secret's place in the order is not known
        query_same = _same(urlsplit(expected).query, urlsplit(actual).query)
    differs = [name for name, same in (("query", query_same), ("fragment", _same(want[4], have[4]))) if not same]
    if differs:
        return "noted", " and ".join(differs)
    return "same", "written differently (trailing slash, default port, empty fragment or parameter order)"
