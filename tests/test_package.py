"""The package as a user's type checker sees it (recorder ships ``py.typed``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
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


def test_recorder_imports_without_pytest() -> None:
    """An agent service records pages with no test runner installed: pytest is an extra."""
    code = ("import sys; sys.modules['pytest'] = None; sys.modules['_pytest'] = None\n"
            "import recorder, recorder.cli, recorder.exchange, recorder.replay, recorder.takeover\n"
            "from recorder import record, RecordingStore, AsyncRecordingStore, push\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_pytest_is_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    assert not any(dependency.startswith("pytest") for dependency in project["dependencies"])
    for extra in ("pytest", "sync", "asyncio"):
        assert any(dependency.startswith("pytest>=") for dependency in project["optional-dependencies"][extra])
