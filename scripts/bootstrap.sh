#!/usr/bin/env bash
# Install what `make run` and `make test` need and is missing: uv, the Python environment
# (from uv.lock), Node/npm and the front-end packages (from package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

apt_install() {
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  if [ ! -f /tmp/.mutuelle-apt-updated ]; then $SUDO apt-get update -qq && touch /tmp/.mutuelle-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v uv >/dev/null 2>&1; then
  echo "== installing uv"
  python3 -m pip install --user --quiet uv 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages uv 2>/dev/null \
    || { python3 -m venv .tools 2>/dev/null || { apt_install python3-venv && python3 -m venv .tools; }; \
         .tools/bin/pip install --quiet uv; }
  export PATH="$HOME/.local/bin:$PWD/.tools/bin:$PATH"
fi

echo "== Python environment (uv sync --frozen)"
uv sync --frozen --all-groups --quiet

if ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js and npm"
  apt_install nodejs npm
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== front-end packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/build-assets.sh
