#!/usr/bin/env bash
# Installs what digitize needs on a Debian machine: system packages (only those missing),
# a virtualenv in .venv and the package. Safe to run again.
#   scripts/setup.sh          what the product needs to run (the demo)
#   scripts/setup.sh --test   also what the tests need (browser, servers, HSM, fonts)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}

PACKAGES=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-osd tesseract-ocr-eng
          poppler-utils qpdf fonts-dejavu-core python3-venv)
EXTRAS="scale"
if [ "$MODE" = "--test" ]; then
  PACKAGES+=(softhsm2 opensc
             fonts-liberation2 fonts-noto-core  # these two: varied bench pages
             chromium  # the counter page's browser test (Playwright drives it)
             postgresql postgresql-contrib redis-server)  # scaled-mode tests (tests/scale)
  EXTRAS="test,scale"
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.digitize-installed-${EXTRAS/,/-}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
fi
