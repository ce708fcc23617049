#!/usr/bin/env bash
# Benchmark: upload a day's worth of segments (43,200 small objects, 2-second
# segments of one 64 kb/s rendition) to a local SeaweedFS S3 server with
# `lofiever publish`, and the same files with `aws s3 sync` (awscli from PyPI),
# then print objects per second for both and the ratio. Also times the no-op
# re-run of each (everything already there).
#
# Two rounds, both reported, each into fresh buckets:
#   1. each tool at its own default (lofiever 32 parallel uploads, awscli 10):
#      what a user gets without tuning either;
#   2. both at the same concurrency (LOFIEVER_BENCH_CONCURRENCY, default 32):
#      what the tools do with the same number of connections.
#
# Needs `weed` (bash ci/setup.sh) and a release build; installs awscli with pip
# if it is missing. Everything runs on 127.0.0.1 and is removed afterwards; the
# server is stopped by PID.
#
#   usage: ci/bench-publish.sh [OBJECTS]      (default 43200)
#   env:   LOFIEVER_BIN                the binary to time (default: a release build)
#          LOFIEVER_BENCH_CONCURRENCY  the concurrency of round 2 (default 32)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OBJECTS="${1:-43200}"
CONCURRENCY="${LOFIEVER_BENCH_CONCURRENCY:-32}"
LOFIEVER_DEFAULT=32 # publish.concurrency's default (src/station/publish.rs)
AWS_DEFAULT=10      # awscli's s3.max_concurrent_requests default
KEY=lofiever-bench-key
SECRET=lofiever-bench-secret

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

command -v weed >/dev/null 2>&1 || die "weed is missing: run bash ci/setup.sh"
if ! command -v aws >/dev/null 2>&1; then
  log "pip install awscli"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check \
    --no-input --root-user-action=ignore awscli
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
  command -v aws >/dev/null 2>&1 || die "aws is not on PATH after pip install awscli"
fi

# shellcheck source=ci/lofiever-bin.sh
. "$ROOT/ci/lofiever-bin.sh"
lofiever_bin release

WORK="$(mktemp -d /tmp/lofiever-bench.XXXXXX)"
WEED_PID=""
cleanup() {
  if [ -n "$WEED_PID" ]; then
    kill "$WEED_PID" 2>/dev/null || true
    wait "$WEED_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Eight free ports on 127.0.0.1 (held together so they differ).
read -r -a P < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
ENDPOINT="http://127.0.0.1:${P[6]}"

mkdir -p "$WORK/weed" "$WORK/station/pipeline" "$WORK/station/out/64k"
cat >"$WORK/s3.json" <<EOF
{"identities":[{"name":"bench","credentials":[{"accessKey":"$KEY","secretKey":"$SECRET"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
log "starting SeaweedFS on $ENDPOINT"
weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$WORK/weed" \
  -master.port="${P[0]}" -master.port.grpc="${P[1]}" \
  -volume.port="${P[2]}" -volume.port.grpc="${P[3]}" \
  -filer -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" \
  -s3 -s3.port="${P[6]}" -s3.port.grpc="${P[7]}" -s3.port.iceberg=0 -s3.port.lance=0 \
  -s3.config="$WORK/s3.json" -master.volumeSizeLimitMB=256 -volume.max=0 \
  >"$WORK/weed.log" 2>&1 &
WEED_PID=$!

export AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_CONFIG_FILE="$WORK/aws-config"
: >"$AWS_CONFIG_FILE"
AWS=(aws --endpoint-url "$ENDPOINT")

for _ in $(seq 1 240); do
  if "${AWS[@]}" s3api create-bucket --bucket bench-ready >/dev/null 2>&1 &&
    echo ok | "${AWS[@]}" s3 cp - s3://bench-ready/ping >/dev/null 2>&1; then
    break
  fi
  kill -0 "$WEED_PID" 2>/dev/null || die "weed exited; see its log: $(tail -5 "$WORK/weed.log")"
  sleep 0.5
done
log "writing $OBJECTS segment-sized files (14-18 kB, random)"
python3 - "$WORK/station/out/64k" "$OBJECTS" <<'EOF'
import os, random, sys
folder, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
for i in range(n):
    with open(os.path.join(folder, f"{i}.m4s"), "wb") as f:
        f.write(os.urandom(rng.randint(14_000, 18_000)))
EOF
BYTES=$(du -sb "$WORK/station/out" | cut -f1)

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$1" "$2"; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
count() { "${AWS[@]}" s3 ls --recursive "s3://$1/radio/" | wc -l; }

# One round: lofiever at $2 parallel uploads and aws s3 sync at $3, into
# fresh buckets named after round $1; prints both figures and the ratio.
round() {
  local name=$1 ours_c=$2 aws_c=$3
  local ours_bucket="bench-lofiever-$name" aws_bucket="bench-awscli-$name"
  "${AWS[@]}" s3api create-bucket --bucket "$ours_bucket" >/dev/null
  "${AWS[@]}" s3api create-bucket --bucket "$aws_bucket" >/dev/null
  cat >"$WORK/station/pipeline/station.toml" <<EOF
[publish]
target = "s3://$ours_bucket/radio"
endpoint = "$ENDPOINT"
region = "us-east-1"
path_style = true
concurrency = $ours_c
keep_minutes = 0
EOF
  printf '[default]\ns3 =\n  max_concurrent_requests = %s\n' "$aws_c" >"$AWS_CONFIG_FILE"

  local t0 t1 t2 t3 t4 t5
  log "round $name: lofiever publish (concurrency $ours_c)"
  t0=$(now)
  (cd "$WORK/station" && "$LOFIEVER" --quiet publish)
  t1=$(now)
  (cd "$WORK/station" && "$LOFIEVER" --quiet publish)
  t2=$(now)
  log "round $name: aws s3 sync (max_concurrent_requests $aws_c)"
  t3=$(now)
  "${AWS[@]}" s3 sync --only-show-errors "$WORK/station/out" "s3://$aws_bucket/radio"
  t4=$(now)
  "${AWS[@]}" s3 sync --only-show-errors "$WORK/station/out" "s3://$aws_bucket/radio"
  t5=$(now)

  local n_ours n_aws
  n_ours=$(count "$ours_bucket")
  n_aws=$(count "$aws_bucket")
  [ "$n_ours" -eq "$OBJECTS" ] || die "lofiever left $n_ours of $OBJECTS objects"
  [ "$n_aws" -eq "$OBJECTS" ] || die "aws s3 sync left $n_aws of $OBJECTS objects"

  local ours_s ours_noop aws_s aws_noop ratio
  ours_s=$(secs "$t0" "$t1")
  ours_noop=$(secs "$t1" "$t2")
  aws_s=$(secs "$t3" "$t4")
  aws_noop=$(secs "$t4" "$t5")
  ratio=$(python3 -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.2f}')" "$ours_s" "$aws_s")
  echo "round $name:"
  echo "  lofiever publish, concurrency $ours_c: ${ours_s} s, $(rate "$OBJECTS" "$ours_s") objects/s (re-run, nothing to do: ${ours_noop} s)"
  echo "  aws s3 sync, max_concurrent_requests $aws_c: ${aws_s} s, $(rate "$OBJECTS" "$aws_s") objects/s (re-run, nothing to do: ${aws_noop} s)"
  echo "  ratio: ${ratio}x"
}

echo "objects: $OBJECTS ($((BYTES / 1000000)) MB) to SeaweedFS $(weed version 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1, $(nproc) cores"
round defaults "$LOFIEVER_DEFAULT" "$AWS_DEFAULT"
round equal "$CONCURRENCY" "$CONCURRENCY"
