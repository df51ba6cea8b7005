#!/usr/bin/env bash
# From a fresh clone: set everything up and run diffil's main job (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate
diffil quickstart "$@"
