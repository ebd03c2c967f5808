#!/usr/bin/env bash
# Installs what Spaces needs and is missing, then returns. Idempotent: a second run does nothing.
#   bootstrap.sh start  — node modules; Janus (for voice)
#   bootstrap.sh test   — node modules; PostgreSQL server, Janus, Chromium, coturn (for the suites)
#   bootstrap.sh bench  — as test
# As root it installs Debian packages itself; otherwise it says what to run.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-start}"

say() { printf '\033[1m[spaces]\033[0m %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))."
  say "On Debian/Ubuntu: install nodejs 20+ (e.g. from your distribution or nodejs.org), then run this again."
  exit 1
fi

# pnpm itself: turbo runs package scripts through it, so it must be on PATH.
if ! command -v pnpm >/dev/null 2>&1; then
  say "pnpm not found; installing pnpm@10 with npm."
  if ! npm install -g pnpm@10.34.9 >/dev/null 2>&1; then
    say "Could not install pnpm globally. Run: corepack enable pnpm   (or: npm install -g pnpm@10), then run this again."
    exit 1
  fi
fi

# Node modules: install when missing or when the lockfile changed since the last install.
stamp=node_modules/.spaces-lock-hash
want=$(sha256sum pnpm-lock.yaml 2>/dev/null | cut -d' ' -f1 || echo none)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "Installing node modules (pnpm install --frozen-lockfile)..."
  pnpm install --frozen-lockfile --reporter=silent
  echo "$want" > "$stamp"
fi

# Debian packages the mode needs, by the command that proves each is there.
need=()
have_pg_server() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
case "$mode" in
  test|bench)
    have_pg_server || need+=(postgresql)
    command -v janus >/dev/null 2>&1 || [ -x /usr/bin/janus ] || need+=(janus)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    # The TURN suite (tests/src/netns/turn.test.ts) runs its own coturn.
    command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ] || need+=(coturn)
    # The WebRTC and browser suites make a network namespace with ip (iproute2).
    command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
    ;;
  start)
    command -v janus >/dev/null 2>&1 || [ -x /usr/bin/janus ] || need+=(janus)
    ;;
esac

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts a system PostgreSQL, Janus and coturn on install; Spaces runs its own.
    for svc in postgresql janus coturn; do
      if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
      service "$svc" stop >/dev/null 2>&1 || true
    done
  else
    say "Missing system packages: ${need[*]}"
    say "Install them as root:  sudo apt-get install -y ${need[*]}"
    if [ "$mode" = start ]; then
      say "Continuing without them: voice needs janus."
    else
      exit 1
    fi
  fi
fi
