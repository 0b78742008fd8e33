"""Fixtures that wrap pytest-playwright's, registered as a plugin of their own (named
``recorder-playwright``) by recorder/pytest_plugin.py once every installed plugin is
loaded, so that they override pytest-playwright's fixtures of the same name.

Module-level functions, not methods: pytest deprecates session fixtures defined as
instance methods.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from .browser import launch_options


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any], browser_name: str) -> dict[str, Any]:
    """pytest-playwright launches Playwright's own Chromium, which may not be installed
    (`playwright install` cannot download everywhere): launch a system one then, so
    existing suites run as they are. Nothing changes where Playwright's own is there."""
    if browser_name != "chromium":
        return browser_type_launch_args
    return launch_options(**browser_type_launch_args)


@pytest.fixture(scope="session", autouse=True)
def delete_output_dir(request: pytest.FixtureRequest) -> None:
    """pytest-playwright empties its ``--output`` folder (``test-results/``, where the
    recordings database is by default) when each session's first test starts. Under
    pytest-xdist every worker is a session: a worker starting late deleted what the others
    had already recorded. A worker leaves it alone: the controller emptied it once,
    before starting any worker (``empty_output_dir``)."""
    if hasattr(request.config, "workerinput"):
        return
    request.getfixturevalue("delete_output_dir")  # pytest-playwright's own


def empty_output_dir(config: pytest.Config) -> None:
    """What pytest-playwright's ``delete_output_dir`` does, done by the xdist controller."""
    output_dir = config.getoption("--output", None)
    if not output_dir or not os.path.exists(output_dir):
        return
    try:
        shutil.rmtree(output_dir)
    except (FileNotFoundError, PermissionError):
        pass
    except OSError:  # a mounted folder: empty it instead (as pytest-playwright does)
        for entry in os.listdir(output_dir):
            shutil.rmtree(os.path.join(output_dir, entry), ignore_errors=True)
