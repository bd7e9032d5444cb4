#!/usr/bin/env bash
# Create or update .venv from the committed uv.lock (the platform's parts and every other package, pinned with
# their hashes). Idempotent; the Makefile calls it only when pyproject.toml or uv.lock changed. Installs uv with pip
# when it is missing, as the platform's own setup does.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "setup: installing uv ${UV_VERSION} with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
  UV=(python3 -m uv)
fi

# --locked: exactly what uv.lock says; a lock out of date with pyproject.toml is an error (run `uv lock`, commit it).
# uv draws its own progress bars on a terminal; elsewhere (CI) one line says what is going on.
unset VIRTUAL_ENV
[[ -t 2 ]] || echo "setup: installing the locked environment into .venv (a minute on a cold cache, seconds after)" >&2
"${UV[@]}" sync --locked $([[ -t 2 ]] || echo --quiet)
touch .venv/.synced
