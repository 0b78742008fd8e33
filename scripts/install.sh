#!/usr/bin/env bash
# Install everything recorder needs on a fresh Debian machine: Chromium from apt (Playwright's
# own browser download is not needed), then this package with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && ! ls ~/.cache/ms-playwright/chromium-* >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".[test]"
python3 -c "import recorder, playwright, zstandard" 
