#!/usr/bin/env bash
# Benchmark: how closely listeners of the station's own page hear the same moment,
# measured the long way (the test suite runs short versions with generous bounds).
#
# Renders a small station (the demo catalog, two renditions) into a temporary
# folder, serves it with `lofiever preview` on 127.0.0.1, and plays its page in
# Debian's Chromium with dash.js and Shaka Player listeners (tests/browser/
# listeners.mjs), in these scenarios:
#
#   right    6 listeners, every device clock right
#   wrong    7 listeners whose device clocks are wrong by 0, -700, +400, +2500,
#            -300, +300, -900 ms (an init script shifts Date per page; the host's
#            Date header stays true)
#   proxy    the same 7, through a proxy delaying each way by 25-125 ms
#            (round trips of 50-250 ms with jitter)
#   cached   1 listener whose every answer carries `Age: 30` and a 30 s old Date
#   engines  4 listeners in three engines: Chromium with dash.js and Shaka,
#            Firefox ESR and WebKitGTK with dash.js (issue 13's targets; its HLS
#            listeners need a complete UTC day of programme, which the test
#            engines::six renders)
#
# Listeners join 3 s apart (2 s in engines, as in that test); positions are
# sampled every 50 ms for 60 s after 10 s of settling. It then runs the clock
# simulation (tests/browser/clock-sim.mjs: the page's clock against simulated
# networks, in virtual time, 500 runs a scenario, seed 2; the design was tuned
# on seed 1). It prints the figures beside the targets of issues 12 and 13 and
# says for each whether it holds; exit code 0 when the runs completed (the
# figures are for people to read, not a gate).
#
#   usage: ci/bench-sync.sh [SECONDS]           (default 60)
#   env:   LOFIEVER_BIN   the binary to use (default: cargo build, dev profile)
#          SCENARIOS      e.g. "wrong proxy" (default: all five)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_MEASURED="${1:-60}"
SCENARIOS="${SCENARIOS:-right wrong proxy cached engines}"
BROWSER="$ROOT/tests/browser"

log() { printf 'bench-sync: %s\n' "$*" >&2; }
die() { printf 'bench-sync: error: %s\n' "$*" >&2; exit 1; }

[ -x /usr/bin/chromium ] || die "Chromium is missing: run bash ci/setup.sh"
[ -d "$BROWSER/node_modules/playwright-core" ] || die "tests/browser/node_modules is missing: run bash ci/setup.sh"

# shellcheck source=ci/lofiever-bin.sh
. "$ROOT/ci/lofiever-bin.sh"
lofiever_bin dev

bench_workdir /tmp/lofiever-bench-sync.XXXXXX

# The station: the test suite's sync station (two renditions, a fast encoder, an
# epoch over a year back so media time is past 2^32 ms).
mkdir -p "$WORK/pipeline"
cat >"$WORK/pipeline/station.toml" <<'EOF'
[station]
name = "Sync FM"
epoch = "2025-01-01T00:00:00Z"
seed = 11

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64, 96]
opus_complexity = 0

[audio]
crossfade_ms = 3000

[player]
dashjs_url = "vendor/dashjs/dash.all.min.js"
shaka_url = "vendor/shaka/shaka-player.compiled.js"
target_latency_ms = 6000
EOF
# The preview serves the player libraries from the station root's tests/browser.
ln -s "$ROOT/tests" "$WORK/tests"

# Enough programme for every scenario (each takes about two minutes).
MINUTES=$(( 10 + 3 * (SECONDS_MEASURED + 60) / 60 ))
log "rendering $MINUTES minutes of the demo station"
(cd "$WORK" && "$LOFIEVER" demo --station pipeline/station.toml --minutes "$MINUTES" --no-serve --quiet)

start_preview
URL="http://127.0.0.1:$PORT/index.html"

WRONG="0,-700,400,2500,-300,300,-900"
PLAYERS7="dashjs,shaka,dashjs,shaka,dashjs,shaka,dashjs"
run() { # name, args...
  local name="$1"; shift
  log "scenario $name"
  # Raised priority, as in the test suite: the figures are about the players, not
  # about an audio renderer starved by other processes.
  nice -n -10 node "$BROWSER/listeners.mjs" --url "$URL" --stagger 3 --warmup 10 \
    --sample-ms 50 --timeout 600 "$@" >"$WORK/$name.json" 2>"$WORK/$name.log" \
    || log "scenario $name did not complete: $(tail -c 400 "$WORK/$name.json")"
}
for s in $SCENARIOS; do
  case "$s" in
    right) run right --players dashjs,shaka,dashjs,shaka,dashjs,shaka --seconds "$SECONDS_MEASURED" ;;
    wrong) run wrong --players "$PLAYERS7" --clock-offsets "$WRONG" --seconds "$SECONDS_MEASURED" ;;
    proxy) run proxy --players "$PLAYERS7" --clock-offsets "$WRONG" --delay-ms 25:125 --seconds "$SECONDS_MEASURED" ;;
    cached) run cached --players dashjs --cached-age 30 --seconds 10 ;;
    engines) run engines --players dashjs,shaka,firefox:dashjs,webkit:dashjs --stagger 2 --seconds "$SECONDS_MEASURED" ;;
    *) die "unknown scenario $s" ;;
  esac
done

log "clock simulation (500 runs a scenario, seed 2)"
node "$BROWSER/clock-sim.mjs" --runs 500 --seed 2 >"$WORK/sim.json"

python3 - "$WORK" "$SCENARIOS" <<'EOF'
import json, os, sys
work, scenarios = sys.argv[1], sys.argv[2].split()

def load(name):
    p = os.path.join(work, name + ".json")
    try:
        with open(p) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception as e:
        return {"ok": False, "error": f"{p}: {e}"}

def verdict(ok):
    return "holds" if ok else "MISSED"

targets = {"right": 25.0, "wrong": 30.0, "proxy": 40.0, "engines": 40.0}
# Each listener's latency error p95 must stay within this (issue 12 for "wrong",
# issue 13's +-20 ms for "engines").
listener_targets = {"wrong": 15.0, "engines": 20.0}
print("Sync: listeners of the page (Chromium with dash.js and Shaka; Firefox and WebKitGTK")
print("in \"engines\"), skew = max - min of")
print("their programme positions at one instant; latency error = |true latency - target|")
print()
print(f"{'scenario':8} {'listeners':>9} {'skew p50':>9} {'p95':>7} {'max':>7}  {'target':>12}  {'worst listener |lat err| p95':>28}  stalls errors")
for s in scenarios:
    if s == "cached":
        continue
    d = load(s)
    if not d.get("ok"):
        print(f"{s:8} did not complete: {d.get('error', '')[:200]}")
        continue
    sk = d["skew_ms"]["all"]
    ls = d["listeners"]
    worst = max((l["abs_latency_error_ms"]["p95"] or 0) for l in ls)
    stalls = sum(l["stalls_measured"] for l in ls)
    errors = sum(len(l["unexpected_errors"]) + len(l["unexpected_http"]) for l in ls)
    t = targets[s]
    lt = listener_targets.get(s)
    lat_note = f"(<= {lt:g}: {verdict(worst <= lt)})" if lt is not None else ""
    print(f"{s:8} {len(ls):>9} {sk['p50']:>9} {sk['p95']:>7} {sk['max']:>7}  p95 <= {t:<4} {verdict(sk['p95'] <= t):6}  {worst:>10} ms {lat_note:>16}  {stalls:>6} {errors:>6}")
    for l in ls:
        c = l.get("clock") or {}
        off = c.get("offsetMs")
        est_err = (off + l["clock_wrong_by_ms"]) if off is not None else None
        print(f"           #{l['index']} {l['browser']:8} {l['engine']:6} clock {l['clock_wrong_by_ms']:+6} ms: measured to "
              f"{est_err:+6.1f} ms (stated +-{c.get('errorMs', float('nan')):.1f}, rtt {c.get('rttMs')} ms), "
              f"|lat err| p50/p95 {l['abs_latency_error_ms']['p50']}/{l['abs_latency_error_ms']['p95']} ms, "
              f"on target {l.get('on_target_after_s')} s after its first sound; says: {l['sync']}")
if "cached" in scenarios:
    d = load("cached")
    if d.get("ok"):
        l = d["listeners"][0]
        c = l.get("clock") or {}
        ok = c.get("state") != "ok" and "in sync" not in l["sync"]
        print(f"cached   the page refused the cached Date: {verdict(ok)} (clock {c.get('state')}, problem {c.get('problem')}); says: {l['sync']}")
    else:
        print(f"cached   did not complete: {d.get('error', '')[:200]}")

print()
sim = load("sim")
print("Clock simulation (virtual time, 500 runs a scenario, seed 2): |measured - true offset| p50/p95/max ms,")
print("and runs whose true offset lay outside the stated error (must be 0)")
for name, s in sim.get("scenarios", {}).items():
    cells = []
    for t in ("1.2s", "5s", "30s"):
        a = s["at"][t]
        if a["err_p50"] is None:
            cells.append(f"{t}: no estimate ({', '.join(a['problems']) or '-'})")
        else:
            cells.append(f"{t}: {a['err_p50']}/{a['err_p95']}/{a['err_max']} (stated p50 {a['stated_p50']})")
    miss = sum(s["at"][t]["not_contained"] for t in s["at"])
    print(f"  {name:10} " + "; ".join(cells) + f"; outside {miss}; {s['requests_per_minute_p50']} requests in the first minute")
EOF
