#!/usr/bin/env bash
# Benchmark: what the station's page costs a listener's device while it plays.
#
# Renders the demo station into a temporary folder, serves it with `lofiever
# preview` on 127.0.0.1 and plays its page (tests/browser/play.mjs) in each
# engine the tests drive: Chromium, Firefox ESR and WebKitGTK, all rendering in
# software as a phone or an old laptop without a GPU would. For each, it sums the
# CPU time of every process the browser started (from /proc) over SECONDS of
# playback, from 12 s after the browser started (the page loaded and playing),
# and prints it as a share of one core. The baseline, measured in the same run,
# is the same browser holding an empty page for as long: the difference is what
# the page and its music cost. Exit code 0 when every run completed (the figures
# are for people to read, not a gate; the page tests fail on the known cause of
# a busy page, a CSS animation that runs while the music plays).
#
#   usage: ci/bench-page-cpu.sh [SECONDS]       (default 10)
#   env:   LOFIEVER_BIN   the binary to use (default: cargo build, dev profile)
#          BROWSERS       e.g. "chromium webkit" (default: all three)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_MEASURED="${1:-10}"
BROWSERS="${BROWSERS:-chromium firefox webkit}"
BROWSER_DIR="$ROOT/tests/browser"

log() { printf 'bench-page-cpu: %s\n' "$*" >&2; }
die() { printf 'bench-page-cpu: error: %s\n' "$*" >&2; exit 1; }

[ -d "$BROWSER_DIR/node_modules/playwright-core" ] || die "tests/browser/node_modules is missing: run bash ci/setup.sh"

# shellcheck source=ci/lofiever-bin.sh
. "$ROOT/ci/lofiever-bin.sh"
lofiever_bin dev

bench_workdir /tmp/lofiever-bench-cpu.XXXXXX

mkdir -p "$WORK/pipeline"
cat >"$WORK/pipeline/station.toml" <<'EOF'
[station]
name = "Bench FM"
seed = 11

[stream]
bitrates_kbps = [96]
opus_complexity = 0

[player]
dashjs_url = "vendor/dashjs/dash.all.min.js"
shaka_url = "vendor/shaka/shaka-player.compiled.js"
EOF
# The preview serves the player libraries from the station root's tests/browser.
ln -s "$ROOT/tests" "$WORK/tests"
# Two runs an engine (the page, then an empty page), each about SECONDS + 40 s.
MINUTES=$(( 5 + (SECONDS_MEASURED + 40) * 2 * $(echo "$BROWSERS" | wc -w) / 60 ))
log "rendering $MINUTES minutes of the demo station"
(cd "$WORK" && "$LOFIEVER" demo --station pipeline/station.toml --minutes "$MINUTES" --no-serve --quiet)

start_preview
# The baseline: a page with nothing on it, from the same host.
printf '<!doctype html><title>empty</title>\n' >"$WORK/out/empty.html"

# Each measurement runs `node play.mjs ARGS...` and takes the CPU (share of one
# core) of its descendants over SECONDS_MEASURED, from 12 s after it started. On
# the empty page play.mjs waits for a play button until its timeout, which keeps
# the browser open for the measurement.
python3 - "$PORT" "$SECONDS_MEASURED" "$BROWSER_DIR" $BROWSERS <<'EOF'
import os, subprocess, sys, time

port, seconds, browser_dir = sys.argv[1], float(sys.argv[2]), sys.argv[3]
browsers = sys.argv[4:]
tick = os.sysconf("SC_CLK_TCK")

def cpu_of_descendants(root):
    procs = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            procs.append((int(d), int(rest[1]), int(rest[11]) + int(rest[12])))
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid, _ in procs:
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(t for pid, _, t in procs if pid in tree and pid != root) / tick

def measure(args):
    p = subprocess.Popen(["node", os.path.join(browser_dir, "play.mjs"), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(12)
    a, t0 = cpu_of_descendants(p.pid), time.monotonic()
    time.sleep(seconds)
    b, t1 = cpu_of_descendants(p.pid), time.monotonic()
    out, _ = p.communicate()
    return (b - a) / (t1 - t0), p.returncode == 0, out

url = f"http://127.0.0.1:{port}/index.html"
rows, failed = [], False
for name in browsers:
    page, ok, out = measure(["--url", url, "--browser", name, "--seconds", str(int(seconds + 20)), "--timeout", "120"])
    if not ok:
        failed = True
        print(f"bench-page-cpu: {name}: the page did not play: {out.strip()[-400:]}", file=sys.stderr)
    empty, _, _ = measure(["--url", f"http://127.0.0.1:{port}/empty.html", "--browser", name,
                           "--seconds", "1", "--timeout", str(int(seconds + 14))])
    rows.append((name, page, empty))

print(f"Page CPU while playing ({seconds:.0f} s, software rendering), share of one core")
print(f"{'engine':10} {'playing page':>13} {'empty page':>11} {'the page costs':>15}")
for name, page, empty in rows:
    print(f"{name:10} {page * 100:12.0f}% {empty * 100:10.0f}% {max(0.0, page - empty) * 100:14.0f}%")
sys.exit(1 if failed else 0)
EOF
