#!/usr/bin/env bash
# From a fresh clone: set up the test environment, lint, and run the fast test suite.
# Long tests are marked `slow` and excluded; run them with: pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
# shellcheck disable=SC1091
source .venv/bin/activate
export MUJOCO_GL="${MUJOCO_GL:-egl}"
echo "==> ruff"
ruff check src tests benchmarks
echo "==> pytest"
python -m pytest -q "$@"
