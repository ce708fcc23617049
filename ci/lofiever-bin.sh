# Sourced by the bench scripts: sets LOFIEVER to the binary to measure, and
# helps them make a temporary station and serve it.
#
# lofiever_bin PROFILE: LOFIEVER_BIN, when set, is used as it is; otherwise the
# binary is built in PROFILE (release or dev). Needs ROOT and log/die.
lofiever_bin() {
  local profile="$1" dir
  if [ -n "${LOFIEVER_BIN:-}" ]; then
    LOFIEVER="$LOFIEVER_BIN"
  else
    log "cargo build --profile $profile"
    (cd "$ROOT" && cargo build --locked --quiet --profile "$profile")
    dir="$profile"
    [ "$profile" = dev ] && dir=debug
    LOFIEVER="${CARGO_TARGET_DIR:-$ROOT/target}/$dir/lofiever"
  fi
  [ -x "$LOFIEVER" ] || die "$LOFIEVER is not an executable"
  LOFIEVER="$(realpath "$LOFIEVER")"
}

# A temporary station folder, WORK (made from the template $1), removed on exit
# with the preview server started by start_preview, if any.
bench_workdir() {
  WORK="$(mktemp -d "$1")"
  PREVIEW_PID=""
  trap 'if [ -n "$PREVIEW_PID" ]; then kill "$PREVIEW_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
}

# Serves the station in WORK (pipeline/station.toml) with `lofiever preview` on a
# free port of 127.0.0.1; sets PORT and PREVIEW_PID once it answers.
start_preview() {
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  (cd "$WORK" && exec "$LOFIEVER" preview --station pipeline/station.toml --port "$PORT" --quiet >/dev/null 2>"$WORK/preview.log") &
  PREVIEW_PID=$!
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/clock.txt" && break
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/clock.txt" || die "the preview did not start: $(cat "$WORK/preview.log")"
}
