"""The PostgreSQL the tests run against (tests/postgres.py, the ``postgres_server`` and
``postgres_url`` fixtures): a real server, a fresh empty database per test, dropped after it,
and a clear message, never a skip, when there is no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests import postgres

ROOT = Path(__file__).parent.parent


def tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    return [row[0] for row in rows]


def test_the_server_answers(postgres_server: str) -> None:
    with psycopg.connect(postgres_server) as conn:
        version = conn.execute("SELECT version()").fetchone()
        assert version is not None and version[0].startswith("PostgreSQL ")
        assert conn.info.server_version >= 120000
    if not os.environ.get(postgres.URL_ENV):
        assert postgres_server.startswith(f"postgresql://{postgres.SUPERUSER}@127.0.0.1:")


SEEN: list[str] = []


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_a_fresh_empty_database(postgres_server: str, postgres_url: str, turn: int) -> None:
    # Both turns create the same table: the second would find the first's if they shared a database.
    name = postgres_url.rsplit("/", 1)[1]
    assert name.startswith("test_") and name not in SEEN
    with psycopg.connect(postgres_url) as conn:
        assert conn.info.dbname == name
        assert tables(conn) == []
        conn.execute("CREATE TABLE recordings (id bigserial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO recordings (name) VALUES (%s)", (f"turn {turn}",))
        conn.commit()
        assert conn.execute("SELECT name FROM recordings").fetchall() == [(f"turn {turn}",)]
    # The databases of the tests before this one (in this process) are gone.
    with psycopg.connect(postgres_server) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert name in existing
    assert not existing & set(SEEN)
    SEEN.append(name)


def test_a_database_is_dropped_even_with_connections_left_open(postgres_server: str) -> None:
    url = postgres.create_database(postgres_server)
    leaked = psycopg.connect(url)  # what a test whose engine forgot to close its pool leaves
    leaked.execute("CREATE TABLE t (x int)")
    leaked.commit()
    postgres.drop_database(postgres_server, url)
    with pytest.raises(psycopg.OperationalError):
        leaked.execute("SELECT 1")
    leaked.close()
    with psycopg.connect(postgres_server) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.rsplit("/", 1)[1],)).fetchone() is None
    with pytest.raises(ValueError):
        postgres.drop_database(postgres_server, postgres_server)  # never the server's own databases


def test_missing_binaries_say_why_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(postgres.PostgresUnavailable) as raised:
        postgres.start_cluster(bindir=tmp_path / "no-postgres-here")
    message = str(raised.value)
    assert str(tmp_path / "no-postgres-here") in message
    assert "initdb" in message and "pg_ctl" in message
    assert "bash scripts/install.sh" in message and postgres.URL_ENV in message


def test_an_unreachable_server_url_says_why_and_how_to_fix() -> None:
    url = f"postgresql://nobody@127.0.0.1:{postgres.free_port()}/postgres"  # nothing listens there
    with pytest.raises(postgres.PostgresUnavailable) as raised:
        postgres.check_server(url, timeout=5)
    message = str(raised.value)
    assert url in message and "bash scripts/install.sh" in message
    with pytest.raises(postgres.PostgresUnavailable, match="not a postgresql:// URL"):
        postgres.check_server("mysql://127.0.0.1/x")


def test_the_fixture_fails_rather_than_skips_without_binaries(tmp_path: Path) -> None:
    # A pytest run of its own, where no PostgreSQL can be found: the test using the fixture
    # must error with the message, not be skipped.
    (tmp_path / "test_needs_pg.py").write_text("def test_needs_pg(postgres_url):\n    pass\n")
    (tmp_path / "conftest.py").write_text("from tests.conftest import postgres_server, postgres_url  # noqa: F401\n")
    env = {k: v for k, v in os.environ.items() if k not in (postgres.URL_ENV, postgres.BINDIR_ENV)}
    env[postgres.BINDIR_ENV] = str(tmp_path / "empty-bindir")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:playwright",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_needs_pg.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "1 error" in out and "skipped" not in out, out
    assert "bash scripts/install.sh" in out and postgres.BINDIR_ENV in out, out
