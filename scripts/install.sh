#!/usr/bin/env bash
# Install everything recorder needs on a fresh Debian machine: Chromium from apt (Playwright's
# own browser download is not needed), the PostgreSQL server binaries from apt (the tests start
# throwaway clusters with them; see tests/postgres.py), then this package with its test and
# postgres extras. Idempotent: apt is only touched when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
if ! command -v chromium >/dev/null 2>&1 && ! ls ~/.cache/ms-playwright/chromium-* >/dev/null 2>&1; then
    missing+=(chromium)
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".[test,postgres]"
python3 -c "import recorder, playwright, zstandard, aiosqlite, psycopg, psycopg_pool"
