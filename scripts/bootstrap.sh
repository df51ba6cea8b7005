#!/usr/bin/env bash
# Create (or reuse) the virtualenv .venv and install diffil into it, editable.
#   bash scripts/bootstrap.sh [EXTRAS]     e.g. EXTRAS=test
# PyTorch is installed first with an exact version, so pip never swaps it for another build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "diffil: error: $("$python" --version 2>&1) is too old; install Python 3.11 or newer" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
# --no-compile: pip would byte-compile all ~19,000 installed modules (93 s of CPU by compileall on a
# 2-core dev host); Python compiles the ~2,000 that diffil and its tests import on first use.
pip_install() { python -m pip install --disable-pip-version-check --no-compile -q "$@"; }
echo "==> installing torch==2.13.0"
pip_install torch==2.13.0
echo "==> installing diffil${extras:+[$extras]}"
pip_install -e ".${extras:+[$extras]}"
