#!/usr/bin/env bash
# The main job on the bundled samples: set up what is missing, generate samples, make a
# development signing key, run the watcher once over a sample inbox, print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/digitize demo "$@"
