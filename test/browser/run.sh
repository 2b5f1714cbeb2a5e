#!/usr/bin/env bash
# Browser suite: builds the dashboard (npm run build), then drives it in Debian's chromium with
# playwright-core against the real broker (test/browser/*.test.ts). Run: npm run test:browser.
# Installs chromium with apt-get if /usr/bin/chromium is missing; playwright never downloads a
# browser. UPDATE_SCREENSHOTS=1 writes the screenshots to docs/screenshots/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHROMIUM=/usr/bin/chromium

log() { printf '%s\n' "$*" >&2; }

ensure_chromium() {
  [[ -x "$CHROMIUM" ]] && return 0
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { log "chromium missing and not root"; return 1; }
    sudo=(sudo -n)
  fi
  log "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 "${sudo[@]}" apt-get update -qq </dev/null >&2 || return 1
  timeout 600 "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium \
    fonts-dejavu-core </dev/null >&2 || return 1
  [[ -x "$CHROMIUM" ]]
}

ensure_chromium || { log "cannot install chromium"; exit 1; }
cd "$ROOT"
npm run build
exec "$ROOT/node_modules/.bin/node" --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec \
  'test/browser/**/*.test.ts'
