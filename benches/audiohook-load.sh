#!/usr/bin/env bash
# AudioHook ingest load test: `hark stream` (the load generator) against `hark serve`, both
# release builds on 127.0.0.1, sharing this machine's cores as Genesys' own measurement did.
#
#   benches/audiohook-load.sh [SESSIONS...]        e.g. benches/audiohook-load.sh 500 1000 2000
#   RECORD=1 benches/audiohook-load.sh 500 1000   # every call also recorded (stereo WAV, fsync/s)
#   UNDER_TEST=/tmp/hark-before benches/audiohook-load.sh 1000   # another build as the server
#
# Each run starts a fresh server, ramps SESSIONS stereo PCMU sessions (200 ms frames, real-time
# pace) at RATE per second, streams DURATION of audio each, and prints one table row:
# sessions, failed, late frames (> one frame behind), max lateness, open p99, server CPU per
# session-second, and server memory per concurrent session (peak RSS minus idle RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100}
DURATION=${DURATION:-60s}
sessions=("${@:-500 1000}")
[ $# -gt 0 ] && sessions=("$@")
ulimit -n 65536 2>/dev/null || true
cargo build --release -q -p hark
bin=target/release/hark
# UNDER_TEST=path/to/hark serves with another build (e.g. the previous commit's) while this
# build generates the load, for before/after figures from one run.
under_test=${UNDER_TEST:-$bin}
tick=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

printf '| sessions | failed | late frames | max lateness ms | open p99 ms | server CPU µs per session-second | server RSS KiB per session |\n'
printf '|---|---|---|---|---|---|---|\n'
for n in "${sessions[@]}"; do
  dir=$(mktemp -d)
  port=$((20000 + RANDOM % 20000))
  if [ "${RECORD:-0}" = 1 ]; then printf '[recording]\npolicy = "every"\n' > "$dir/hark.toml"; else : > "$dir/hark.toml"; fi
  "$under_test" serve --config "$dir/hark.toml" --listen "127.0.0.1:$port" --data-dir "$dir/data" --log-level warn >"$dir/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q . "$dir/data/credentials.toml" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  idle_rss=$(rss_kib "$pid")
  cpu0=$(cpu_ticks "$pid")
  peak=$idle_rss
  ( while kill -0 "$pid" 2>/dev/null; do rss_kib "$pid" >> "$dir/rss"; sleep 1; done ) &
  sampler=$!
  "$bin" stream "ws://127.0.0.1:$port/audiohook/ws" --data-dir "$dir/data" \
      --sessions "$n" --rate "$RATE" --duration "$DURATION" --json > "$dir/summary.json" || true
  cpu1=$(cpu_ticks "$pid")
  # /metrics needs the admin token of this instance's data directory.
  token=$(awk -F'"' '/^\[admin\]/{a=1} a && /^token/ {print $2; exit}' "$dir/data/credentials.toml")
  metrics() { curl -s -H "Authorization: Bearer $token" "127.0.0.1:$port/metrics"; }
  kill "$sampler" 2>/dev/null || true
  # Recorders finish after their calls; wait (bounded) until none is active.
  for _ in $(seq 300); do
    [ "$(metrics | awk '/^hark_recording_active / {print $2}')" = 0 ] && break
    sleep 0.1
  done
  dropped=$(metrics | awk '/^hark_recording_dropped_blocks_total/ {print $2}')
  recorded=$(metrics | awk '/^hark_recording_recorded_seconds_total/ {print $2}')
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  peak=$(sort -n "$dir/rss" | tail -1)
  python3 - "$dir/summary.json" "$n" "$DURATION" "$cpu0" "$cpu1" "$tick" "$idle_rss" "$peak" "${dropped:-0}" "${recorded:-0}" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2]); dur = float(sys.argv[3].rstrip('s'))
cpu = (int(sys.argv[5]) - int(sys.argv[4])) / int(sys.argv[6])
per_session_second_us = cpu / (n * dur) * 1e6
rss_per_session = (int(sys.argv[8]) - int(sys.argv[7])) / n
row = f"| {n} | {s['failed']} | {s['late_frames']} | {s['max_lateness_ms']:.1f} | {s['open_latency_ms'][1]:.2f} | {per_session_second_us:.1f} | {rss_per_session:.1f} |"
recorded = float(sys.argv[10])
if recorded > 0:
    row += f" recorded {recorded/60:.1f} min, {cpu / (recorded / 60) * 1000:.1f} ms CPU per recorded minute, {sys.argv[9]} blocks dropped |"
print(row)
PY
  rm -rf "$dir"
done
