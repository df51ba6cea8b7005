#!/usr/bin/env bash
# From a fresh clone: set up the test environment, lint, build the docs, run the fast test suite.
# Long tests are marked `slow` and excluded; run them with: pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test,docs
# shellcheck disable=SC1091
source .venv/bin/activate
export MUJOCO_GL="${MUJOCO_GL:-egl}"
# tests/test_bench.py opens the benchmark report in headless Chromium (Debian's `chromium`).
# Where apt-get can install it, the test must run (it skips only where it cannot be installed).
if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
  export DIFFIL_REQUIRE_CHROMIUM=1
  if ! command -v chromium >/dev/null; then
    echo "==> installing chromium (for the report test)"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo -n"
    $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq \
      chromium >/dev/null || echo "warning: could not install chromium" >&2
  fi
fi
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
# Two pytest-xdist workers (DIFFIL_TEST_WORKERS): each test uses one torch thread
# (tests/conftest.py), so one process leaves the second CI core idle. Serial it took 10.5 min
# here, with two workers 6.8 min. Work stealing keeps the minute-long tests from ending last.
# The 15 slowest tests are listed at the end: CI must stay within 15 minutes on 2 cores.
python -m pytest -q -n "${DIFFIL_TEST_WORKERS:-2}" --dist worksteal --durations=15 "$@"
