#!/usr/bin/env bash
# The nightly job: render and publish what the station needs ahead, then
# check the runway (and the next stretch of the published stream). Run by
# ci/github/nightly.yml; runs the same from cron or any other CI, from a
# clone of the repository.
#
# Environment (all optional except credentials for an s3:// target):
#   LOFIEVER_TARGET        where to publish, e.g. s3://my-radio/live; overrides
#                          publish.target of the station config
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN, AWS_REGION,
#   AWS_ENDPOINT_URL)      credentials and store, the standard AWS chain; never
#                          printed
#   LOFIEVER_STATION       the station config (default pipeline/station.toml)
#   LOFIEVER_NIGHTLY_ARGS  how far to render (default "--days 2"; "--hours 1"
#                          for a trial run)
#   LOFIEVER_MIN_RUNWAY    fail when less than this is ready afterwards
#                          (default 24h; e.g. 30m with --hours 1)
#   LOFIEVER_VERIFY_UNTIL  then verify the published stream up to this
#                          (default now+1h; empty skips the check). Keep it
#                          inside what the run renders (now+30m with
#                          --hours 1): segments past the horizon are missing
#   LOFIEVER_BIN           run this lofiever binary instead of building one
#
# Exit code: 0 when all went well; otherwise the failing step's: render or
# verify 1, status 2 when the runway is below LOFIEVER_MIN_RUNWAY.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STARTED=$SECONDS
log() { printf '[nightly %s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "FAILED: $1"; exit "${2:-1}"; }

read -r -a RENDER_ARGS <<<"${LOFIEVER_NIGHTLY_ARGS:---days 2}"
MIN_RUNWAY="${LOFIEVER_MIN_RUNWAY:-24h}"
VERIFY_UNTIL="${LOFIEVER_VERIFY_UNTIL-now+1h}"
STATION_ARGS=()
if [ -n "${LOFIEVER_STATION:-}" ]; then
  STATION_ARGS=(--station "$LOFIEVER_STATION")
fi

# ---- set-up: only what the job needs (a Rust toolchain, cmake for libopus) --
if [ -n "${LOFIEVER_BIN:-}" ]; then
  BIN="$LOFIEVER_BIN"
  [ -x "$BIN" ] || die "LOFIEVER_BIN=$BIN is not an executable"
else
  command -v cargo >/dev/null 2>&1 || die "cargo is not installed: install a Rust toolchain (rustup)"
  if ! command -v cmake >/dev/null 2>&1; then
    log "cmake is missing (the bundled libopus build needs it); installing it"
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends cmake \
      || die "cannot install cmake; install it and run again"
  fi
  log "building lofiever (cargo build --release --locked)"
  cargo build --release --locked
  BIN="$ROOT/target/release/lofiever"
fi
log "$("$BIN" --version)"
if [ -n "${LOFIEVER_TARGET:-}" ]; then
  log "target: $LOFIEVER_TARGET (from LOFIEVER_TARGET)"
else
  log "target: publish.target of the station config (LOFIEVER_TARGET is not set)"
fi
if [ -n "${AWS_ACCESS_KEY_ID:-}" ]; then
  log "credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment"
fi

# ---- render: analyze, schedule, render the missing segments, publish --------
log "render ${RENDER_ARGS[*]}"
step=$SECONDS
"$BIN" "${STATION_ARGS[@]}" render "${RENDER_ARGS[@]}" \
  || die "lofiever render failed (exit $?); the next run finishes what is missing"
log "render done in $((SECONDS - step)) s"

# ---- status: the runway must be at least MIN_RUNWAY ---------------------------
log "status --min-runway $MIN_RUNWAY"
set +e
"$BIN" "${STATION_ARGS[@]}" status --min-runway "$MIN_RUNWAY"
code=$?
set -e
case $code in
  0) log "runway OK (at least $MIN_RUNWAY)" ;;
  2) die "the runway is below $MIN_RUNWAY (see the status line above)" 2 ;;
  *) die "lofiever status failed (exit $code)" "$code" ;;
esac

# ---- verify: the next stretch of the published stream, as a player sees it --
if [ -n "$VERIFY_UNTIL" ]; then
  log "verify --until $VERIFY_UNTIL"
  step=$SECONDS
  "$BIN" "${STATION_ARGS[@]}" verify --until "$VERIFY_UNTIL" \
    || die "lofiever verify found problems (listed above)"
  log "verify done in $((SECONDS - step)) s"
fi

log "nightly job OK in $((SECONDS - STARTED)) s"
