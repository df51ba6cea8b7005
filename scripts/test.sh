#!/usr/bin/env bash
# From a fresh clone: set up the test environment, lint, build the docs, run the fast test suite.
# Long tests are marked `slow` and excluded; run them with: pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test,docs
# shellcheck disable=SC1091
source .venv/bin/activate
export MUJOCO_GL="${MUJOCO_GL:-egl}"
echo "==> ruff"
ruff check src tests benchmarks docs
echo "==> mkdocs build --strict"
# Not `-q`: mkdocs --quiet hides warnings from --strict too (mkdocs issue #4126), so the output
# is kept and shown only when the build fails (a broken link, a missing page, a bad docstring).
if ! docs_log=$(NO_MKDOCS_2_WARNING=1 mkdocs build --strict 2>&1); then
  grep -v '^INFO' <<<"$docs_log" >&2
  exit 1
fi
echo "==> pytest"
python -m pytest -q "$@"
