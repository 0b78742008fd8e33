"""The recording model's plain parts: who a recording belongs to, what it is called,
which action types exist. No database, no browser.

Follows ActiveAgent's Dashboard ``SessionRecording``: a recording may belong to an
agent run or a sandbox session, and to an owner (a user and/or an account); a person
taking over from an agent gets a *user session* of their own.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# The seed system's action vocabulary. `record_action` accepts exactly these; the README
# maps each intercepted Playwright call onto one of them.
ACTION_TYPES = (
    "navigate", "click", "type", "scroll", "snapshot", "select", "hover", "drag", "file_upload",
    "dialog", "evaluate", "wait", "form_fill", "key_press", "focus", "submit", "handoff",
    "user_action", "completion",
)

USER_SESSION_PREFIX = "user_takeover_"


# What stands where a secret was cut out of anything stored (a typed value echoed in a URL,
# a credential header's value).
REDACTED = "[redacted]"


def as_utc(moment: datetime) -> datetime:
    """A time in UTC; one without a zone is taken to be in UTC already."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_time(text: Any) -> str:
    """An ISO-8601 time as recorder stores times: in UTC (``as_utc``), to the millisecond, so
    that times compare as text in SQL."""
    if not isinstance(text, str):
        raise TypeError(f"{text!r} is not a string")
    return as_utc(datetime.fromisoformat(text)).isoformat(timespec="milliseconds")


def check_action_type(action_type: str) -> str:
    if action_type not in ACTION_TYPES:
        raise ValueError(f"unknown action type {action_type!r}; valid types: {', '.join(ACTION_TYPES)}")
    return action_type


@dataclass(frozen=True)
class AgentRun:
    """The agent run a recording belongs to: its id and the agent's name."""

    id: str
    agent_name: str | None = None


@dataclass(frozen=True)
class SandboxSession:
    """The sandbox session a recording belongs to: its id and its template's name."""

    id: str
    template_name: str | None = None


@dataclass(frozen=True)
class Owner:
    """Who may see a recording: a user, an account, or both."""

    user_id: str | None = None
    account_id: str | None = None

    def __post_init__(self) -> None:
        if self.user_id is None and self.account_id is None:
            raise ValueError("an owner needs a user_id, an account_id, or both")


def _reference(value: Any, cls: type, name_keys: tuple[str, ...]) -> Any:
    """Accept the dataclass itself or a dict such as ``{"id": 7, "agent_name": "shopper"}``."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, dict):
        if "id" not in value:
            raise ValueError(f"{cls.__name__} needs an 'id', got keys {sorted(value)}")
        name = next((value[key] for key in name_keys if value.get(key) is not None), None)
        return cls(str(value["id"]), None if name is None else str(name))
    raise TypeError(f"expected {cls.__name__} or a dict, not {type(value).__name__}")


def as_agent_run(value: Any) -> AgentRun | None:
    return _reference(value, AgentRun, ("agent_name", "agent", "name"))


def as_sandbox_session(value: Any) -> SandboxSession | None:
    return _reference(value, SandboxSession, ("template_name", "agent_template", "template", "name"))


def as_owner(value: Any) -> Owner | None:
    if value is None or isinstance(value, Owner):
        return value
    if isinstance(value, dict):
        user, account = value.get("user_id"), value.get("account_id")
        return Owner(None if user is None else str(user), None if account is None else str(account))
    return Owner(user_id=str(value))  # a bare id is a user id


def parameterize(text: str) -> str:
    """Rails' ``parameterize``: ASCII lowercase, runs of anything else to ``-``, trimmed.

    >>> parameterize("Café Shopper 2.0!")
    'cafe-shopper-2-0'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    dashed = re.sub(r"[^a-z0-9_-]+", "-", ascii_text.lower())
    return re.sub(r"-{2,}", "-", dashed).strip("-")


def generate_name(agent_run: AgentRun | None, sandbox_session: SandboxSession | None, now: datetime) -> str:
    """``<agent or template name, parameterized, or "session">_<YYYYmmdd_HHMMSS>``."""
    prefix = ""
    if agent_run is not None and agent_run.agent_name:
        prefix = parameterize(agent_run.agent_name)
    elif sandbox_session is not None and sandbox_session.template_name:
        prefix = parameterize(sandbox_session.template_name)
    return f"{prefix or 'session'}_{now.strftime('%Y%m%d_%H%M%S')}"


def user_session_name(now: datetime) -> str:
    return f"{USER_SESSION_PREFIX}{now.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(4)}"


def is_demo_name(name: str | None) -> bool:
    return bool(name) and (name.startswith("lander_") or name == "demo")  # type: ignore[union-attr]


def is_user_session_name(name: str | None) -> bool:
    return bool(name) and name.startswith(USER_SESSION_PREFIX)  # type: ignore[union-attr]
