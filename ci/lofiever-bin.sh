# Sourced by the bench scripts: sets LOFIEVER to the binary to measure.
# LOFIEVER_BIN, when set, is used as it is; otherwise the binary is built in
# the profile given as $1 (release or dev). Needs ROOT and log/die.
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
