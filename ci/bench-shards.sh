#!/usr/bin/env bash
# Benchmark: what sharding costs. Renders the same window of the demo
# station (the built-in configuration, demo catalog) once unsharded
# (`lofiever render`) and sharded with N = 1, 2 and 4 (`lofiever plan`, N
# shard processes at once, each in its own work folder as on N machines,
# then `lofiever render --finish`), each into a fresh folder target, and
# prints for each the wall time and the total CPU seconds (user + system,
# summed over every process of the variant), with the ratio to unsharded.
# Then checks every variant's target is byte-identical to the unsharded one.
#
# Shards run at once on this machine, so the wall time shows the split's
# cost here, not the speed-up of N machines (that is the unsharded wall
# time / N plus plan and finish).
#
#   usage: ci/bench-shards.sh [MINUTES]   (default 30: the window ahead of now)
#   env:   LOFIEVER_BIN   the binary to time (default: a release build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${1:-30}"
NOW=2026-03-01T12:00:00Z

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=ci/lofiever-bin.sh
. "$ROOT/ci/lofiever-bin.sh"
lofiever_bin release
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package time)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lofiever-bench-shards.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export LOFIEVER_NOW="$NOW" RUST_LOG=warn

# A station root whose config is the built-in one with a folder target.
station_root() { # DIR TARGET
  mkdir -p "$1/pipeline"
  printf '[publish]\ntarget = "%s"\n' "$2" >"$1/pipeline/station.toml"
}

# The demo catalog, synthesised and analysed once; every root copies it.
log "synthesising and analysing the demo catalog"
station_root "$WORK/template" "$WORK/template-site"
(cd "$WORK/template" && "$LOFIEVER" --quiet demo --no-serve --minutes 1 >/dev/null)
rm -rf "$WORK/template/out" "$WORK/template-site"

fresh_root() { # NAME TARGET
  mkdir -p "$WORK/$1"
  cp -r "$WORK/template/catalog" "$WORK/$1/"
  station_root "$WORK/$1" "$2"
}

# timed TIMES-FILE DIR ARGS...: runs lofiever in DIR, appending "wall user sys".
timed() {
  local out="$1" dir="$2"
  shift 2
  (cd "$dir" && /usr/bin/time -a -o "$out" -f "%e %U %S" "$LOFIEVER" --quiet "$@" >/dev/null)
}

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
cpu_of() { awk '{ s += $2 + $3 } END { printf "%.1f", s }' "$1"; }

log "unsharded: lofiever render --minutes $MINUTES"
fresh_root unsharded "$WORK/site-unsharded"
T0=$(date +%s.%N)
timed "$WORK/unsharded.times" "$WORK/unsharded" render --minutes "$MINUTES"
WALL_U=$(since "$T0")
CPU_U=$(cpu_of "$WORK/unsharded.times")

declare -A WALL CPU
for N in 1 2 4; do
  log "sharded, N = $N: plan, $N shards at once, finish"
  site="$WORK/site-$N"
  fresh_root "plan-$N" "$site"
  for i in $(seq 1 "$N"); do fresh_root "shard-$N-$i" "$site"; done
  times="$WORK/sharded-$N.times"
  T0=$(date +%s.%N)
  timed "$times" "$WORK/plan-$N" plan --minutes "$MINUTES"
  pids=()
  for i in $(seq 1 "$N"); do
    timed "$times" "$WORK/shard-$N-$i" render --shard "$i/$N" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "a shard of N = $N failed"; done
  timed "$times" "$WORK/plan-$N" render --finish
  WALL[$N]=$(since "$T0")
  CPU[$N]=$(cpu_of "$times")
  # Byte-identical to the unsharded target (dot-files: none expected, ignored).
  diff -r -x '.*' "$WORK/site-unsharded" "$site" >/dev/null \
    || die "N = $N: the target differs from the unsharded one"
done

printf '\nbench-shards: %s min ahead (+ the 10 min seek-back), demo station, %s\n' \
  "$MINUTES" "$("$LOFIEVER" --version)"
printf '%-12s %10s %12s %14s\n' variant wall_s cpu_s cpu_vs_unsharded
printf '%-12s %10.1f %12s %14s\n' unsharded "$WALL_U" "$CPU_U" "1.000"
for N in 1 2 4; do
  printf '%-12s %10.1f %12s %14s\n' "N = $N" "${WALL[$N]}" "${CPU[$N]}" \
    "$(awk -v a="${CPU[$N]}" -v b="$CPU_U" 'BEGIN { printf "%.3f", a / b }')"
done
printf 'every sharded target byte-identical to the unsharded one: yes\n'
