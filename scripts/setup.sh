#!/usr/bin/env bash
# Create or update .venv in the repo root from the committed uv.lock. Idempotent; the Makefile only calls it
# when pyproject.toml or uv.lock is newer than the last successful sync.
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

# Compile the bytecode up front only where Python may not cache it itself (PYTHONDONTWRITEBYTECODE set, as on this
# project's CI machines): there every process would compile mlflow, moto, ... from source again. Elsewhere Python
# caches what each import compiles, which costs far less than compiling the whole venv (~40 s on 2 cores).
COMPILE=()
if [[ -n "${PYTHONDONTWRITEBYTECODE:-}" ]]; then COMPILE=(--compile-bytecode); fi

# --frozen: install exactly what uv.lock says; a lock out of date with pyproject.toml is an error to fix in Git.
"${UV[@]}" sync --frozen --quiet "${COMPILE[@]}"

# tools whose pins clash with the project's (see scripts/tools/README.md), each in its own venv
for lock in scripts/tools/*.lock.txt; do
  name=$(basename "$lock" .lock.txt)
  [[ -x ".venv-tools/$name/bin/python" ]] || "${UV[@]}" venv --quiet --python 3.11 ".venv-tools/$name"
  "${UV[@]}" pip sync --quiet "${COMPILE[@]}" --python ".venv-tools/$name/bin/python" "$lock"
done
touch .venv/.synced
