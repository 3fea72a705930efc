#!/usr/bin/env bash
# Builds the UI into ui/dist when dist has no index.html or any source is newer
# than it; installs node_modules with `npm install` when they are missing or older
# than package-lock.json. `make ui` runs this; FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  echo "ui: npm is not installed; install Node.js 20.19+ and npm to build the web UI" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` (which follows the lock file) rather than `npm ci`: vite's
  # Windows-only optional dependency is absent from the lock file, and npm ci
  # refuses a lock file that lacks any optional dependency.
  npm install --no-audit --no-fund
fi

stale=${FORCE:-}
if [ ! -f dist/index.html ]; then
  stale=1
elif [ -n "$(find src public index.html package.json package-lock.json vite.config.ts tsconfig.json -newer dist/index.html -print -quit)" ]; then
  stale=1
fi

if [ -n "$stale" ]; then
  npm run build
else
  echo "ui: dist is up to date"
fi
