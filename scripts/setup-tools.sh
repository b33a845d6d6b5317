#!/usr/bin/env bash
# Finds or builds the real services Slipway runs against in dev and tests:
#   temporal         — Temporal CLI dev server (embeds the Web UI)
#   slipway-ferretdb — FerretDB (SQLite backend) via our own launcher, unless a
#                      mongod is on PATH or SLIPWAY_MONGODB_URI is set.
#   chromium         — Debian's, for the release board's browser tests and bench
#                      (installed with apt-get when root or sudo allows; never a
#                      downloaded browser). Without it those tests say SKIPPED.
# Built binaries live in a per-user cache keyed by version, so fresh clones
# (and CI's clean clone) reuse them; .slipway/tools/ holds links into it.
set -euo pipefail

TEMPORAL_CLI_VERSION=v1.5.1
FERRETDB_VERSION=v1.24.2

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.slipway/tools"
cache="${SLIPWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway}/tools"
mkdir -p "$tools" "$cache"

log() { printf 'setup-tools: %s\n' "$*" >&2; }
die() { printf 'setup-tools: %s\n' "$*" >&2; exit 1; }

need_go() {
  command -v go >/dev/null 2>&1 && return 0
  die "$1 is not installed and Go is missing, so it cannot be built.
  Install one of:
    - Go >= 1.25 (https://go.dev/dl) and run 'npm run setup' again, or
    - $2
  or run the production-shaped stack with Docker: 'docker compose up'."
}

# Serialise concurrent setups (two test runs, npm start + npm test).
exec 9>"$cache/.lock"
flock 9

# --- Temporal CLI dev server -------------------------------------------------
temporal_bin=""
if [ -n "${SLIPWAY_TEMPORAL_BIN:-}" ]; then
  temporal_bin="$SLIPWAY_TEMPORAL_BIN"
elif command -v temporal >/dev/null 2>&1; then
  temporal_bin="$(command -v temporal)"
else
  dir="$cache/temporal-$TEMPORAL_CLI_VERSION"
  if [ ! -x "$dir/temporal" ]; then
    need_go "The Temporal CLI" "the 'temporal' binary on PATH (https://docs.temporal.io/cli)"
    log "building temporal $TEMPORAL_CLI_VERSION with go install (first time only; several minutes on 2 cores)"
    tmp="$(mktemp -d "$cache/.build-temporal.XXXXXX")"
    start=$(date +%s)
    GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" \
      || { rm -rf "$tmp"; die "go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION failed (see above)"; }
    mkdir -p "$dir" && mv "$tmp/temporal" "$dir/temporal" && rm -rf "$tmp"
    log "built temporal in $(( $(date +%s) - start ))s -> $dir/temporal"
  fi
  temporal_bin="$dir/temporal"
fi
ln -sfn "$temporal_bin" "$tools/temporal"

# --- Registry database ---------------------------------------------------------
# (Links are replaced, never removed first: a stack of this checkout may be running.)
if [ -n "${SLIPWAY_MONGODB_URI:-}" ]; then
  log "SLIPWAY_MONGODB_URI is set; using that MongoDB, nothing to build"
elif command -v mongod >/dev/null 2>&1; then
  ln -sfn "$(command -v mongod)" "$tools/mongod"
  rm -f "$tools/slipway-ferretdb"
else
  rm -f "$tools/mongod"
  launcher="$root/tools/ferretdb-launcher"
  # Key by FerretDB version and the launcher's own source and patch, so an edit rebuilds.
  key="$(cat "$launcher/main.go" "$launcher/go.mod" "$launcher/go.sum" "$launcher/patch-ferretdb.sh" | sha256sum | cut -c1-12)"
  dir="$cache/ferretdb-$FERRETDB_VERSION-$key"
  if [ ! -x "$dir/slipway-ferretdb" ]; then
    need_go "MongoDB" "a MongoDB server ('mongod' on PATH), or set SLIPWAY_MONGODB_URI"
    log "building FerretDB $FERRETDB_VERSION launcher (first time only; a few minutes on 2 cores)"
    tmp="$(mktemp -d "$cache/.build-ferretdb.XXXXXX")"
    start=$(date +%s)
    # Build against a patched copy of FerretDB's source (see patch-ferretdb.sh), through a
    # temporary go.mod with a replace directive; the checked-in go.mod stays as it is.
    (cd "$launcher" && GOFLAGS=-buildvcs=false go mod download github.com/FerretDB/FerretDB \
      && cp -r "$(GOFLAGS=-buildvcs=false go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" "$tmp/FerretDB" \
      && chmod -R u+w "$tmp/FerretDB" \
      && bash "$launcher/patch-ferretdb.sh" "$tmp/FerretDB" \
      && cp go.mod go.sum "$tmp/" \
      && printf '\nreplace github.com/FerretDB/FerretDB => %s\n' "$tmp/FerretDB" >> "$tmp/go.mod" \
      && GOFLAGS=-buildvcs=false go build -modfile="$tmp/go.mod" -o "$tmp/slipway-ferretdb" .) \
      || { rm -rf "$tmp"; die "building the FerretDB launcher in tools/ferretdb-launcher failed (see above)"; }
    mkdir -p "$dir" && mv "$tmp/slipway-ferretdb" "$dir/slipway-ferretdb" && rm -rf "$tmp"
    log "built slipway-ferretdb in $(( $(date +%s) - start ))s -> $dir/slipway-ferretdb"
  fi
  ln -sfn "$dir/slipway-ferretdb" "$tools/slipway-ferretdb"
fi

# --- Chromium for the board's browser tests --------------------------------------
if [ -n "${SLIPWAY_CHROMIUM:-}" ]; then
  [ -x "$SLIPWAY_CHROMIUM" ] || log "SLIPWAY_CHROMIUM=$SLIPWAY_CHROMIUM is not executable: the board's browser tests will be skipped"
elif [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
  :
elif command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo -n"
  log "installing Debian's chromium with apt-get (for the release board's browser tests)"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium \
    || log "apt-get install chromium failed: the board's browser tests will be skipped (see above)"
else
  log "no Chromium: the release board's browser tests will be skipped. Install Debian's with
    sudo apt-get install chromium
  (or point SLIPWAY_CHROMIUM at a Chromium binary) and run the tests again."
fi
log "tools ready in $tools"
