"""The package as a user's type checker sees it (recorder ships ``py.typed``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import recorder

ROOT = Path(__file__).parent.parent


def test_the_package_type_checks() -> None:
    # mypy comes with the test extra (pip install -e '.[test]', as scripts/install.sh does)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--disallow-untyped-defs", "--disallow-incomplete-defs",
         "--no-incremental", "recorder"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_names_exist_and_are_documented() -> None:
    assert (Path(recorder.__file__).parent / "py.typed").exists()
    for name in recorder.__all__:
        value = getattr(recorder, name)
        if callable(value) and not isinstance(value, str):
            assert value.__doc__, f"recorder.{name} has no docstring"
