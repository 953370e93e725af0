#!/usr/bin/env bash
# The test suite: set up what the tests need, then the fast tests and the slow ones (real
# Tesseract, signing with a local test PKI, browser, PostgreSQL, Redis and SeaweedFS
# servers that the tests start on 127.0.0.1 themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/python -m pytest -q
.venv/bin/python -m pytest -q -m slow
